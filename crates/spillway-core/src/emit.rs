//! Hands a source's events to the pipeline in batches: the one batching every source
//! uses.

use crate::offsets::Offset;
use crate::position::Position;
use crate::source::{Heartbeat, SourceBatch, StructRecord};
use crate::ChangeEvent;
use tokio::sync::mpsc;

/// Events per batch before it is handed over without waiting for a transaction's end.
pub const MAX_BATCH_EVENTS: usize = 1024;

/// The pipeline has gone away (it failed or shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline stopped accepting events")]
pub struct PipelineClosed;

/// Collects events (and schema-change records) and sends them as batches.
pub struct Emitter {
    tx: mpsc::Sender<SourceBatch>,
    events: Vec<ChangeEvent>,
    records: Vec<StructRecord>,
    /// Position of the last event or checkpoint handed over.
    last_sent: Option<Position>,
    /// Position of the last checkpoint handed over.
    last_checkpoint: Option<Position>,
    /// Whether a checkpoint that does not move past the last one is left out.
    forward_checkpoints_only: bool,
}

impl Emitter {
    pub fn new(tx: mpsc::Sender<SourceBatch>) -> Self {
        Emitter {
            tx,
            events: Vec::with_capacity(MAX_BATCH_EVENTS),
            records: Vec::new(),
            last_sent: None,
            last_checkpoint: None,
            forward_checkpoints_only: false,
        }
    }

    /// Leaves out checkpoints that do not move past the last one sent (a source that
    /// offers its read position on every heartbeat).
    pub fn forward_checkpoints_only(mut self) -> Self {
        self.forward_checkpoints_only = true;
        self
    }

    /// Adds an event without sending; the caller sends once [`Emitter::is_full`].
    pub fn queue(&mut self, event: ChangeEvent) {
        self.events.push(event);
    }

    /// Whether a batch's worth of events is waiting.
    pub fn is_full(&self) -> bool {
        self.events.len() >= MAX_BATCH_EVENTS
    }

    /// Whether schema-change records wait to be sent.
    pub fn has_records(&self) -> bool {
        !self.records.is_empty()
    }

    /// Adds a record written as it is before the next events (a schema change).
    pub fn push_record(&mut self, record: StructRecord) {
        self.records.push(record);
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
        let checkpoint = checkpoint.filter(|c| {
            !self.forward_checkpoints_only || self.last_checkpoint.is_none_or(|l| c.position > l)
        });
        if self.events.is_empty()
            && self.records.is_empty()
            && checkpoint.is_none()
            && heartbeat.is_none()
        {
            return Ok(());
        }
        if let Some(c) = &checkpoint {
            self.last_checkpoint = Some(c.position);
        }
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(MAX_BATCH_EVENTS));
        let last = checkpoint
            .as_ref()
            .map(|c| c.position)
            .or_else(|| events.last().map(|e| e.position));
        self.tx
            .send(SourceBatch {
                records: std::mem::take(&mut self.records),
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

    /// Whether events or records are collected but not yet sent.
    pub fn has_pending(&self) -> bool {
        !self.events.is_empty() || !self.records.is_empty()
    }

    /// Position of the last event or checkpoint sent.
    pub fn last_sent(&self) -> Option<Position> {
        self.last_sent
    }
}
