//! A walsender connection (`replication=database`): startup and authentication, the
//! replication commands spillway needs, and the CopyBoth stream of `START_REPLICATION`.
//!
//! The usual life of a connection:
//!
//! 1. [`ReplicationConnection::connect`], then [`identify_system`] to learn the server's
//!    WAL position.
//! 2. [`create_logical_slot`] with an exported snapshot when the slot is new, and copy the
//!    existing rows through another (normal) connection that imports the snapshot.
//! 3. [`start_replication`] turns the connection into a [`ReplicationStream`]: receive
//!    WAL messages with [`ReplicationStream::recv`] and report progress with
//!    [`ReplicationStream::send_status`].
//!
//! [`identify_system`]: ReplicationConnection::identify_system
//! [`create_logical_slot`]: ReplicationConnection::create_logical_slot
//! [`start_replication`]: ReplicationConnection::start_replication
//!
//! The parts: this file holds the errors, the configuration and the answers of commands;
//! `connection` the startup and the commands, `stream` the CopyBoth stream,
//! `framed` the buffered transport both read frames from, and `command` the text of
//! the commands.

use std::fmt;
use std::io;
use std::time::Duration;

use super::pgoutput::DecodeError;
use super::tls::{TlsConfig, TlsError};

mod command;
mod connection;
mod framed;
mod stream;

pub use command::start_replication_command;
pub use connection::ReplicationConnection;
pub(crate) use framed::Framed;
pub use stream::ReplicationStream;

/// Errors of a replication connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Reading or writing the socket failed, or the server closed it.
    #[error("i/o error while {context}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    /// An operation did not finish in time.
    #[error("timed out while {context}")]
    Timeout { context: &'static str },
    /// The server sent an ErrorResponse.
    #[error("server error {code}: {message}")]
    Server {
        /// SQLSTATE, e.g. `28P01` for a wrong password or `42704` for a missing slot.
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    /// Authentication failed on the client side (the server's own refusals are
    /// [`ConnError::Server`]).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The server sent something the protocol does not allow here.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A replication message could not be decoded.
    #[error("malformed replication message")]
    Decode(#[from] DecodeError),
    /// An argument cannot be expressed in the protocol (e.g. a name with a NUL byte).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The connection could not be secured as `sslmode` asks (see [`TlsError::hint`]).
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl ConnError {
    /// The SQLSTATE of a server error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ConnError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(super) fn io(context: &'static str) -> impl FnOnce(io::Error) -> ConnError {
        move |source| ConnError::Io { context, source }
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct ReplicationConfig {
    /// Host name or IP address.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Needed when the server asks for a password (cleartext, MD5 or SCRAM-SHA-256).
    pub password: Option<String>,
    /// The database whose changes are decoded.
    pub dbname: String,
    /// Shown in `pg_stat_replication` and `pg_stat_activity`; empty for none.
    pub application_name: String,
    /// Limit for TCP connect, authentication and startup together; zero for none.
    pub connect_timeout: Duration,
    /// The startup `options` parameter (command-line style settings such as
    /// `-c lock_timeout=0`); `None` to send none.
    pub options: Option<String>,
    /// `sslmode` and certificates; plain by default.
    pub tls: TlsConfig,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            host: "localhost".into(),
            port: 5432,
            user: "postgres".into(),
            password: None,
            dbname: "postgres".into(),
            application_name: "spillway".into(),
            connect_timeout: Duration::from_secs(10),
            options: None,
            tls: TlsConfig::disabled(),
        }
    }
}

impl fmt::Debug for ReplicationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicationConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("options", &self.options)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The server process and secret of a connection, for a CancelRequest or for finding the
/// walsender in `pg_stat_replication`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendKey {
    pub process_id: i32,
    pub secret_key: i32,
}

/// The answer to `IDENTIFY_SYSTEM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifySystem {
    /// The cluster's system identifier, as text (it does not fit an `i64` in every
    /// client; compare it as a string).
    pub systemid: String,
    /// Current timeline.
    pub timeline: u32,
    /// Current WAL flush position.
    pub xlogpos: u64,
    /// The connected database (always set on a `replication=database` connection).
    pub dbname: Option<String>,
}

/// The answer to `CREATE_REPLICATION_SLOT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSlot {
    pub slot_name: String,
    /// The slot's starting point: changes committed after it are streamed; everything
    /// before it is visible in the exported snapshot.
    pub consistent_point: u64,
    /// The exported snapshot, when one was requested. See
    /// [`ReplicationConnection::create_logical_slot`] for how long it is valid.
    pub snapshot_name: Option<String>,
}

/// An invalid textual LSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LSN {0:?}")]
pub struct ParseLsnError(pub String);

/// Parses the textual form of an LSN, `16/B374D848` (two hexadecimal numbers of at most
/// eight digits each).
pub fn parse_lsn(s: &str) -> Result<u64, ParseLsnError> {
    let err = || ParseLsnError(s.to_owned());
    let (hi, lo) = s.split_once('/').ok_or_else(err)?;
    let half = |p: &str| {
        if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        u32::from_str_radix(p, 16).map_err(|_| err())
    };
    Ok((u64::from(half(hi)?) << 32) | u64::from(half(lo)?))
}

/// Formats an LSN the way the server does, `16/B374D848`.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text() {
        assert_eq!(parse_lsn("16/B374D848").unwrap(), 0x16_B374_D848);
        assert_eq!(parse_lsn("0/0").unwrap(), 0);
        assert_eq!(parse_lsn("ffffffff/FFFFFFFF").unwrap(), u64::MAX);
        for bad in [
            "",
            "/",
            "1/",
            "/1",
            "1",
            "1/2/3",
            "g/0",
            "123456789/0",
            "+1/0",
            " 1/0",
        ] {
            assert!(parse_lsn(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(format_lsn(0), "0/0");
        for lsn in [0, 1, 0xFFFF_FFFF, 0x1_0000_0000, u64::MAX, 0x16_B374_D848] {
            assert_eq!(parse_lsn(&format_lsn(lsn)).unwrap(), lsn);
        }
        assert_eq!(parse_lsn("x").unwrap_err().to_string(), "invalid LSN \"x\"");
    }

    #[test]
    fn error_display() {
        let e = ConnError::Server {
            code: "42704".into(),
            message: "replication slot \"x\" does not exist".into(),
            detail: None,
            hint: None,
        };
        assert_eq!(
            e.to_string(),
            "server error 42704: replication slot \"x\" does not exist"
        );
        assert_eq!(e.code(), Some("42704"));
        let e = ConnError::Io {
            context: "connecting",
            source: io::ErrorKind::ConnectionRefused.into(),
        };
        assert_eq!(e.to_string(), "i/o error while connecting");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(e.code(), None);
    }

    #[test]
    fn config_debug_hides_password() {
        let cfg = ReplicationConfig {
            password: Some("hunter2".into()),
            ..ReplicationConfig::default()
        };
        let s = format!("{cfg:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("<redacted>"));
    }
}
