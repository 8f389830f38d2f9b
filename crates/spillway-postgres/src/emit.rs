//! Hands events to the pipeline in batches.

use spillway_core::{ChangeEvent, Heartbeat, Offset, Position, SourceBatch};
use tokio::sync::mpsc;

/// Events per batch before it is handed over without waiting for a transaction's end.
pub const MAX_BATCH_EVENTS: usize = 1024;

/// The pipeline has gone away (it failed or shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline stopped accepting events")]
pub struct PipelineClosed;

/// Collects events and sends them as batches.
pub struct Emitter {
    tx: mpsc::Sender<SourceBatch>,
    events: Vec<ChangeEvent>,
    /// Position of the last event or checkpoint handed over.
    last_sent: Option<Position>,
}

impl Emitter {
    pub fn new(tx: mpsc::Sender<SourceBatch>) -> Self {
        Emitter {
            tx,
            events: Vec::with_capacity(MAX_BATCH_EVENTS),
            last_sent: None,
        }
    }

    /// Adds an event, sending the batch once it is full.
    pub async fn push(&mut self, event: ChangeEvent) -> Result<(), PipelineClosed> {
        self.events.push(event);
        if self.events.len() >= MAX_BATCH_EVENTS {
            self.flush(None).await?;
        }
        Ok(())
    }

    /// Sends what is collected, with an optional checkpoint after it.
    pub async fn flush(&mut self, checkpoint: Option<Offset>) -> Result<(), PipelineClosed> {
        self.send(None, checkpoint).await
    }

    /// Sends what is collected followed by a heartbeat record, with an optional checkpoint.
    pub async fn heartbeat(
        &mut self,
        heartbeat: Heartbeat,
        checkpoint: Option<Offset>,
    ) -> Result<(), PipelineClosed> {
        self.send(Some(heartbeat), checkpoint).await
    }

    async fn send(
        &mut self,
        heartbeat: Option<Heartbeat>,
        checkpoint: Option<Offset>,
    ) -> Result<(), PipelineClosed> {
        if self.events.is_empty() && checkpoint.is_none() && heartbeat.is_none() {
            return Ok(());
        }
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(MAX_BATCH_EVENTS));
        let last = checkpoint
            .as_ref()
            .map(|c| c.position)
            .or_else(|| events.last().map(|e| e.position));
        self.tx
            .send(SourceBatch {
                records: Vec::new(),
                events,
                heartbeat,
                checkpoint,
            })
            .await
            .map_err(|_| PipelineClosed)?;
        if last.is_some() {
            self.last_sent = last;
        }
        Ok(())
    }

    /// Whether events are collected but not yet sent.
    pub fn has_pending(&self) -> bool {
        !self.events.is_empty()
    }

    /// Position of the last event or checkpoint sent.
    pub fn last_sent(&self) -> Option<Position> {
        self.last_sent
    }
}
