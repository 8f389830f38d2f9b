//! Helpers shared by the integration tests.
#![allow(dead_code)]

use spillway_core::{Ack, AckReport, Header, Record, StreamError, StreamWriter};
use spillway_streams::LogWriter;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A record with a UTF-8 key and value and no headers.
pub fn record(topic: &str, key: Option<&str>, value: Option<&str>) -> Record {
    Record {
        topic: Arc::from(topic),
        key: key.map(|k| k.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Vec::new(),
        timestamp_ms: 1_700_000_000_000,
    }
}

/// A header with a UTF-8 value.
pub fn header(key: &str, value: Option<&str>) -> Header {
    Header {
        key: key.to_string(),
        value: value.map(|v| v.as_bytes().to_vec()),
    }
}

/// Collects acknowledgements of the batches sent through it.
pub struct Acks {
    pub tx: mpsc::UnboundedSender<AckReport>,
    pub rx: mpsc::UnboundedReceiver<AckReport>,
    next: u64,
}

impl Acks {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Acks { tx, rx, next: 0 }
    }

    /// An ack handle for the next batch, with its sequence number.
    pub fn next(&mut self) -> (u64, Ack) {
        let seq = self.next;
        self.next += 1;
        (seq, Ack::new(seq, self.tx.clone()))
    }

    /// Sends a batch and waits for its acknowledgement.
    pub async fn write(
        &mut self,
        writer: &mut LogWriter,
        batch: Vec<Record>,
    ) -> Result<(), StreamError> {
        let (seq, ack) = self.next();
        writer.send(batch, ack).await?;
        let report = self.rx.recv().await.ok_or(StreamError::Closed)?;
        assert_eq!(report.seq, seq, "acks of a single writer come in order");
        report.result
    }
}
