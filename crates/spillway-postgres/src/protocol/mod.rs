//! The PostgreSQL side of logical replication, written directly on the wire protocol:
//!
//! - [`pgoutput`]: a pure decoder of the replication stream (CopyData payloads) and of the
//!   `pgoutput` plugin's logical messages, plus the Standby Status Update encoder;
//! - [`conn`]: a walsender connection (`replication=database`): startup, authentication
//!   (trust, cleartext, MD5, SCRAM-SHA-256), replication commands and the streaming
//!   [`ReplicationStream`].

mod auth;
pub mod conn;
mod frame;
pub mod pgoutput;

#[cfg(test)]
mod tests;

pub use conn::{
    format_lsn, parse_lsn, BackendKey, ConnError, CreatedSlot, IdentifySystem, ParseLsnError,
    ReplicationConfig, ReplicationConnection, ReplicationStream,
};
pub use pgoutput::{
    DecodeError, LogicalMessage, ReplicationMessage, StandbyStatusUpdate, TupleData, TupleValue,
};
