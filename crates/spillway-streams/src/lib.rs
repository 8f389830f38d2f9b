//! Event streams for spillway: the embedded log and the file offset store.
//!
//! # Design
//!
//! The embedded log is the default stream when no broker is configured: a Kafka-like,
//! append-only log in a data directory. Each topic has a fixed number of partitions, each
//! partition a directory of segment files named by the offset of their first record
//! (see [`config`] for the layout). [`LogWriter`] implements
//! [`StreamWriter`](spillway_core::StreamWriter): a dedicated OS thread appends batches and
//! commits them as a group (one `write_all` and one `fdatasync` per touched segment for all
//! the batches queued), acknowledging a batch only once it is on disk. [`LogReader`] reads
//! the log, also while a writer in another process appends to it.
//!
//! Records are framed by a small format of our own (see [`segment`] and [`batch`]): a
//! length, a CRC-32 and the fields, little-endian. The writer appends record batches: the
//! records one group commit brings to a partition, compressed together ([`Compression`]:
//! lz4 by default, zstd or none, `log.compression.type`), in one frame with its offsets,
//! timestamps and room for producer metadata; segments written before batches hold one
//! frame per record, and every reader reads both. Kafka's record batches also carry
//! producer ids, sequence numbers and varint deltas the log has no use for; a length
//! prefix and a checksum per frame are all that is needed to find frame boundaries, to read
//! while another process writes (an incomplete frame is simply not returned yet) and to
//! tell a torn tail after a crash from data. Only the last segment of a partition can have a
//! torn tail, because the writer syncs a segment before starting the next one, and only
//! past the partition's durable offset (see [`config`]), which the writer moves after each
//! group's fsync: [`LogWriter::open`] cuts such a tail and refuses any other damage
//! ([`LogError::Damaged`]), which readers report too. [`verify`] reads a whole log for
//! damage and [`repair`] keeps every readable record of a damaged one, never reusing an
//! offset.
//!
//! [`LogConsumer`] implements [`StreamReader`](spillway_core::StreamReader) on a
//! [`LogReader`]: it follows assigned partitions from given offsets, for projections.
//! Readers wait for new records with a [`LogWatcher`] (inotify on the log's directories,
//! polling where it cannot watch), so a record reaches a reader in another process as soon
//! as it is durable.
//!
//! Each group commit ends with an entry in the commit journal ([`journal`]): the end of
//! every partition it wrote and the checkpoint its producers' batches carried, fsynced
//! after the records and before the acknowledgements. At open, what lies past the
//! journal's ends was never committed and is cut, so the records and the producers'
//! positions always agree: a producer that resumes from its checkpoint writes nothing twice.
//!
//! [`FileOffsetStore`] implements [`OffsetStore`](spillway_core::OffsetStore) with one JSON
//! file per connector, replaced atomically on every commit; [`LogOffsetStore`] reads a
//! connector's position from the journal first.

#![warn(missing_docs)]

pub mod batch;
pub mod cleaner;
pub mod config;
mod consumer;
mod error;
pub mod failpoint;
pub mod journal;
mod offsets;
pub mod reader;
pub mod repair;
pub mod segment;
pub mod topic_config;
pub mod watch;
mod writer;

pub use batch::Compression;
pub use config::{
    alter_topic, decode_topic_meta, topic_config, validate_topic, LogOptions, DEFAULT_PARTITIONS,
    DEFAULT_SEGMENT_BYTES,
};
pub use consumer::{LogConsumer, OffsetReset};
pub use error::LogError;
pub use offsets::{FileOffsetStore, LogOffsetStore};
pub use reader::{LogReader, PartitionInfo};
pub use repair::{repair, verify, Damage, PartitionCheck};
pub use segment::{StoredRecord, MAX_RECORD_BYTES};
pub use topic_config::{CleanupPolicy, TopicConfig, TopicRules};
pub use watch::{LogWatcher, Wake};
pub use writer::{LogWriter, QUEUE_BATCHES, QUEUE_BYTES};
