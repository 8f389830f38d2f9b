//! Offsets: the committed progress of a source.

use crate::position::Position;
use serde::{Deserialize, Serialize};

/// Durable progress: every event at or before `position` is in the stream.
///
/// `state` holds what a source needs besides the position to resume (a binlog source keeps
/// its GTID set there); it is opaque to everything else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offset {
    pub position: Position,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
}

impl Offset {
    /// An offset with no source state.
    pub fn new(position: Position) -> Self {
        Offset {
            position,
            state: None,
        }
    }
}

/// Error from an offset store.
#[derive(Debug, thiserror::Error)]
pub enum OffsetStoreError {
    #[error("could not {action} offsets at {path}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("offsets at {path} are not readable: {detail}")]
    Corrupt { path: String, detail: String },
}

/// Where a connector's offsets are kept.
///
/// `commit` must be atomic and durable when it returns, and must ignore an offset whose
/// position is before the one already stored.
pub trait OffsetStore: Send {
    /// The last committed offset, if any.
    fn load(&mut self) -> Result<Option<Offset>, OffsetStoreError>;
    /// Stores `offset` durably, unless it would move progress backwards.
    fn commit(&mut self, offset: &Offset) -> Result<(), OffsetStoreError>;
    /// What an operator asks of a stopped connector (Kafka Connect's alter and reset of
    /// offsets): stores `offset` in place of the stored one, also when it is before it, or
    /// removes the stored offset (`None`) so the connector starts as new. Atomic and
    /// durable when it returns.
    fn replace(&mut self, offset: Option<&Offset>) -> Result<(), OffsetStoreError>;
}

impl OffsetStore for Box<dyn OffsetStore> {
    fn load(&mut self) -> Result<Option<Offset>, OffsetStoreError> {
        (**self).load()
    }

    fn commit(&mut self, offset: &Offset) -> Result<(), OffsetStoreError> {
        (**self).commit(offset)
    }

    fn replace(&mut self, offset: Option<&Offset>) -> Result<(), OffsetStoreError> {
        (**self).replace(offset)
    }
}
