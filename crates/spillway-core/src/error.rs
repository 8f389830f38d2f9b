//! One taxonomy for every error that reaches the runner: sources, stream writers,
//! encoders and the schema registry, offset stores and projection targets each say which
//! of three classes an error is, and the runner decides what to do from the class alone.

use crate::offsets::OffsetStoreError;
use crate::pipeline::{EncodeError, PipelineError};
use crate::stream::StreamError;

/// What kind of failure an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// It may pass by itself (a server or broker away, a dropped connection): retried with
    /// backoff from the committed offset, and the status shows the retry.
    Transient,
    /// It comes back every time, tied to a record or the data (a value that cannot be
    /// decoded or encoded, a schema a target cannot take): the connector fails, naming the
    /// table and position.
    Definite,
    /// It passes once an operator acts (a privilege, a server setting, a purged log, a schema
    /// registry's compatibility level, a full disk): the connector says what fixes it. At
    /// start-up it fails with that hint; once records flowed it waits, retrying with
    /// backoff, so a fix made while it runs is picked up without a restart.
    NeedsOperator,
}

/// An error that knows its [`ErrorClass`].
pub trait Classify {
    fn class(&self) -> ErrorClass;
}

impl Classify for StreamError {
    fn class(&self) -> ErrorClass {
        match self {
            StreamError::Unavailable(_) => ErrorClass::Transient,
            // A disk that fails, fills up or refuses a file.
            StreamError::Io { .. } => ErrorClass::NeedsOperator,
            // The stream refused these records (too large, not allowed): they come back.
            StreamError::Rejected(_) => ErrorClass::Definite,
            // The writer stopped after an earlier failure, reported by itself.
            StreamError::Closed => ErrorClass::Definite,
        }
    }
}

impl Classify for OffsetStoreError {
    fn class(&self) -> ErrorClass {
        match self {
            OffsetStoreError::Io { .. } | OffsetStoreError::Corrupt { .. } => {
                ErrorClass::NeedsOperator
            }
        }
    }
}

impl Classify for EncodeError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

impl Classify for PipelineError {
    fn class(&self) -> ErrorClass {
        match self {
            PipelineError::Encode(e) => e.class(),
            PipelineError::Stream(e) => e.class(),
            PipelineError::Offsets(e) => e.class(),
        }
    }
}
