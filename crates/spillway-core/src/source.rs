//! The source contract: how a source hands events to the pipeline and learns what is durable.

use crate::event::ChangeEvent;
use crate::offsets::Offset;
use crate::schema::ConnectSchema;
use crate::value::Value;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Events a source emits together, in order, plus an optional checkpoint after them.
///
/// When `checkpoint` is `None`, the batch is committable at the position of its last event.
/// A batch may carry only a checkpoint (a transaction's end, or an idle log's end position).
#[derive(Debug, Default)]
pub struct SourceBatch {
    /// Records written before the events, as they are (schema-change events).
    pub records: Vec<StructRecord>,
    pub events: Vec<ChangeEvent>,
    /// A heartbeat record to write after the events (`heartbeat.interval.ms`).
    pub heartbeat: Option<Heartbeat>,
    pub checkpoint: Option<Offset>,
}

/// A record whose key and value are Connect structs, encoded with their schemas in the
/// stream's format: the connector's schema-change events.
#[derive(Clone, Debug, PartialEq)]
pub struct StructRecord {
    pub topic: Arc<str>,
    pub key_schema: Arc<ConnectSchema>,
    pub key: Value,
    pub value_schema: Arc<ConnectSchema>,
    pub value: Value,
    /// When the source saw it, milliseconds since the epoch (the record's timestamp).
    pub ts_ms: i64,
}

/// A record on the connector's heartbeat topic, showing it is alive and letting offsets move
/// while the captured tables are idle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// `<topic.heartbeat.prefix>.<topic.prefix>`.
    pub topic: Arc<str>,
    /// The logical server name (`topic.prefix`), the record's key.
    pub server_name: String,
    /// When it was emitted, milliseconds since the epoch.
    pub ts_ms: i64,
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
    /// Where the source keeps its own durable state beside the offsets (the MySQL schema
    /// history); `None` keeps such state in memory only.
    pub state: Option<std::sync::Arc<dyn crate::state::StateStore>>,
}

pub use crate::error::ErrorClass;

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
