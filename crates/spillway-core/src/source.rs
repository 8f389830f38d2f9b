//! The source contract: how a source hands events to the pipeline and learns what is durable.

use crate::event::ChangeEvent;
use crate::offsets::Offset;
use std::future::Future;
use tokio::sync::{mpsc, watch};

/// Events a source emits together, in order, plus an optional checkpoint after them.
///
/// When `checkpoint` is `None`, the batch is committable at the position of its last event.
/// A batch may carry only a checkpoint (a transaction's end, or an idle log's end position).
#[derive(Debug, Default)]
pub struct SourceBatch {
    pub events: Vec<ChangeEvent>,
    pub checkpoint: Option<Offset>,
}

/// What a running source is given.
#[derive(Debug)]
pub struct SourceContext {
    /// Where batches go; bounded, so a slow stream slows the source down.
    pub batches: mpsc::Sender<SourceBatch>,
    /// The last committed offset; a source releases its log (a slot's flush LSN) only up to it.
    pub committed: watch::Receiver<Option<Offset>>,
    /// Becomes `true` when the source should stop; it returns after its last batch is sent.
    pub shutdown: watch::Receiver<bool>,
    /// The committed offset to resume from, if any.
    pub resume: Option<Offset>,
}

/// A source of change events.
///
/// Contract: events are emitted in log order with strictly increasing positions; after a
/// restart from `resume`, every event at or before it is skipped and every later one is
/// emitted. The source never releases log it has not seen committed.
pub trait Source: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs until shut down or failed.
    fn run(self, ctx: SourceContext) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
