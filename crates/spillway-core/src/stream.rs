//! The stream-writer contract.

use crate::record::Record;
use std::future::Future;
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

/// A handle the writer resolves once a batch is durable (or failed).
#[derive(Debug)]
pub struct Ack {
    seq: u64,
    tx: mpsc::UnboundedSender<AckReport>,
}

impl Ack {
    /// Creates an acknowledgement handle for batch `seq` reporting to `tx`.
    pub fn new(seq: u64, tx: mpsc::UnboundedSender<AckReport>) -> Self {
        Ack { seq, tx }
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
