//! The PostgreSQL side of logical replication, written directly on the wire protocol:
//!
//! - [`pgoutput`]: a pure decoder of the replication stream (CopyData payloads) and of the
//!   `pgoutput` plugin's logical messages, plus the Standby Status Update encoder;
//! - [`conn`]: a walsender connection (`replication=database`): startup, authentication
//!   (trust, cleartext, MD5, SCRAM-SHA-256), replication commands and the streaming
//!   [`ReplicationStream`];
//! - [`tls`]: `sslmode` (libpq's semantics) for this connection and the SQL sessions.

mod auth;
pub mod conn;
mod frame;
pub mod pgoutput;
pub mod tls;

#[cfg(test)]
mod tests;

pub use conn::{
    format_lsn, parse_lsn, BackendKey, ConnError, CreatedSlot, IdentifySystem, ParseLsnError,
    ReplicationConfig, ReplicationConnection, ReplicationStream,
};
pub use frame::decode_backend_stream;
pub use pgoutput::{
    DecodeError, LogicalMessage, ReplicationMessage, StandbyStatusUpdate, TupleData, TupleValue,
};
pub use tls::{
    cert_info, certificates_from_pem_bytes, private_key_from_pem_bytes, CertInfo, PemError,
    SslMode, TlsConfig, TlsError, TlsFiles, TlsSetupError, Verification,
};
