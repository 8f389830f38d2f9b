//! The core of spillway: the event model, the source and stream contracts, and the
//! pipeline between them.
//!
//! Data flows one way and progress flows back:
//!
//! 1. A [`Source`] reads a database log and emits [`SourceBatch`]es of [`ChangeEvent`]s,
//!    each with a [`Position`] in the log.
//! 2. The [`pipeline`] routes each event to its table's topic, builds the key from the
//!    primary key and encodes key and value with an [`EventEncoder`] into [`Record`]s.
//! 3. A [`StreamWriter`] appends the records and acknowledges each batch once durable.
//! 4. An [`AckTracker`] turns acknowledgements, in whatever order they come, into the
//!    highest checkpoint below which everything is durable; the [`OffsetStore`] commits it
//!    and the source may then release its log up to there.
//!
//! A crash anywhere re-sends some events and loses none: at-least-once. This crate does no
//! database or file I/O; sources, formats and streams live in their own crates.

pub mod ack;
pub mod blocking;
pub mod check;
pub mod config;
pub mod connector;
pub mod convert;
pub mod emit;
pub mod error;
pub mod event;
pub mod filter;
pub mod metrics;
pub mod offsets;
pub mod pipeline;
pub mod position;
pub mod properties;
pub mod providers;
pub mod record;
pub mod schema;
pub mod secret;
pub mod source;
pub mod state;
pub mod stream;
pub mod topic_creation;
pub mod value;

pub use ack::AckTracker;
pub use check::{Check, CheckStatus};
pub use config::{ConfigError, ConfigMap, Secret};
pub use error::{Classify, ErrorClass};
pub use event::{ChangeEvent, Op, SnapshotMarker, SourceInfo};
pub use filter::NameFilter;
pub use offsets::{Offset, OffsetStore, OffsetStoreError};
pub use pipeline::{EncodeError, EventEncoder, PipelineError, PipelineOptions, PipelineStats};
pub use position::{Phase, Position};
pub use record::{Header, Record};
pub use schema::{Column, ConnectSchema, ConnectType, Field, TableSchema};
pub use source::{Heartbeat, Source, SourceBatch, SourceContext, StructRecord};
pub use stream::{
    Ack, AckReport, Checkpoint, StreamError, StreamReader, StreamRecord, StreamWriter,
    TopicPartition,
};
pub use value::{Row, Value};
