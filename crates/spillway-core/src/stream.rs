//! The stream-writer contract.

use crate::offsets::Offset;
use crate::record::{Header, Record};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Error from a stream writer.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("stream i/o failed while {action}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stream rejected the batch: {0}")]
    Rejected(String),
    #[error("stream writer stopped")]
    Closed,
    /// The stream cannot take records now (brokers unreachable, deliveries timed out);
    /// retrying later from the committed offset may succeed.
    #[error("stream unavailable: {0}")]
    Unavailable(String),
}

/// The outcome of one batch, reported by the writer to the pipeline.
#[derive(Debug)]
pub struct AckReport {
    pub seq: u64,
    pub result: Result<(), StreamError>,
}

/// Where a producer's source stands once a batch is written. A stream that keeps it with
/// the records, in the same commit (the embedded log), gives it back after a crash, so the
/// source resumes right after the last record written: nothing twice.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The producer: the connector's name.
    pub producer: Arc<str>,
    /// The offset to resume from once the batch is durable.
    pub offset: Offset,
}

/// A handle the writer resolves once a batch is durable (or failed).
#[derive(Debug)]
pub struct Ack {
    seq: u64,
    tx: mpsc::UnboundedSender<AckReport>,
    checkpoint: Option<Checkpoint>,
}

impl Ack {
    /// Creates an acknowledgement handle for batch `seq` reporting to `tx`.
    pub fn new(seq: u64, tx: mpsc::UnboundedSender<AckReport>) -> Self {
        Ack {
            seq,
            tx,
            checkpoint: None,
        }
    }

    /// The same handle carrying where the producer's source stands after this batch.
    pub fn with_checkpoint(mut self, checkpoint: Checkpoint) -> Self {
        self.checkpoint = Some(checkpoint);
        self
    }

    /// The checkpoint this batch carries, if any.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoint.as_ref()
    }

    /// Reports the batch's outcome. A dropped pipeline is not an error for the writer.
    pub fn resolve(self, result: Result<(), StreamError>) {
        let _ = self.tx.send(AckReport {
            seq: self.seq,
            result,
        });
    }
}

/// Appends records to an event stream.
///
/// Contract: records of one batch, and batches in the order they are sent, keep their order
/// per partition. `send` may wait (backpressure) but must not wait for durability; the
/// writer resolves `ack` once every record of the batch is durable. A failed batch is
/// resolved with an error and progress never moves past it. Duplicates after a crash are
/// allowed (at-least-once); losses are not.
pub trait StreamWriter: Send {
    /// Hands a batch to the stream.
    fn send(
        &mut self,
        batch: Vec<Record>,
        ack: Ack,
    ) -> impl Future<Output = Result<(), StreamError>> + Send;

    /// Waits until every batch sent so far is resolved.
    fn flush(&mut self) -> impl Future<Output = Result<(), StreamError>> + Send;
}

/// One partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    /// Partition `partition` of `topic`.
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A record read back from a stream, with the place it holds there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRecord {
    pub topic: Arc<str>,
    pub partition: u32,
    pub offset: u64,
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    pub headers: Vec<Header>,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// Reads records back from an event stream, as a consumer with manually assigned
/// partitions and offsets (the reader keeps no committed position of its own: whoever
/// consumes stores where it stands, with what it did with the records).
///
/// Contract: `poll` returns the records of each assigned partition in offset order, from the
/// assigned offset on, each once; records of different partitions may interleave.
pub trait StreamReader: Send {
    /// The topics the stream holds now, each with its number of partitions.
    fn topics(&mut self) -> impl Future<Output = Result<Vec<(String, u32)>, StreamError>> + Send;

    /// Reads these partitions from these offsets on (the offset of the next record to
    /// read), in place of what was assigned before.
    fn assign(&mut self, positions: &[(TopicPartition, u64)]) -> Result<(), StreamError>;

    /// Up to `max` records, waiting up to `wait` when none is there yet.
    fn poll(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<StreamRecord>, StreamError>> + Send;

    /// Tells the stream that the consumer has durably processed everything before these
    /// offsets (Kafka commits them for the consumer group, for lag monitoring). Progress is
    /// not kept by the stream: the default does nothing.
    fn processed(&mut self, positions: &[(TopicPartition, u64)]) {
        let _ = positions;
    }
}
