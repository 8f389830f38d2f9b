//! Errors of the MySQL/MariaDB source, each classified once.

pub use spillway_core::ErrorClass;

/// An error of the MySQL/MariaDB source.
#[derive(Debug, thiserror::Error)]
pub enum MysqlError {
    #[error("cannot connect to {flavor} at {address}: {detail}")]
    Connect {
        flavor: &'static str,
        address: String,
        detail: String,
    },
    #[error("the server refused the login of user {user:?}: {detail}")]
    Auth { user: String, detail: String },
    #[error("query failed while {context}: {detail}")]
    Query {
        context: String,
        detail: String,
        transient: bool,
    },
    #[error("{message}\nhint: {hint}")]
    Preflight { message: String, hint: String },
    #[error("table {table} has columns of unsupported types: {}", columns.join(", "))]
    UnsupportedTypes { table: String, columns: Vec<String> },
    #[error("cannot decode column {column} of table {table} at {position}: {detail}")]
    Decode {
        table: String,
        column: String,
        position: String,
        detail: String,
    },
    #[error("binlog stream failed: {detail}")]
    Binlog { detail: String, transient: bool },
    #[error("schema history {path}: {detail}")]
    History { path: String, detail: String },
    #[error("the binlog position {position} is no longer on the server (purged)\nhint: set snapshot.mode=when_needed to take a new snapshot, or delete the connector's offsets")]
    Purged { position: String },
}

impl MysqlError {
    /// Wraps a failed statement, classifying it by the driver's error kind.
    pub fn query(context: impl Into<String>, error: mysql_async::Error) -> Self {
        let transient = matches!(
            error,
            mysql_async::Error::Io(_) | mysql_async::Error::Driver(_)
        );
        let detail = match &error {
            mysql_async::Error::Server(s) => format!("{} (error {})", s.message, s.code),
            other => other.to_string(),
        };
        MysqlError::Query {
            context: context.into(),
            detail,
            transient,
        }
    }

    /// A failed preflight check with a hint.
    pub fn preflight(message: impl Into<String>, hint: impl Into<String>) -> Self {
        MysqlError::Preflight {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// How the error should be handled.
    pub fn class(&self) -> ErrorClass {
        match self {
            MysqlError::Connect { .. } => ErrorClass::Transient,
            MysqlError::Query { transient, .. } | MysqlError::Binlog { transient, .. } => {
                if *transient {
                    ErrorClass::Transient
                } else {
                    ErrorClass::Definite
                }
            }
            MysqlError::Auth { .. } | MysqlError::Preflight { .. } | MysqlError::Purged { .. } => {
                ErrorClass::NeedsOperator
            }
            MysqlError::UnsupportedTypes { .. }
            | MysqlError::Decode { .. }
            | MysqlError::History { .. } => ErrorClass::Definite,
        }
    }
}
