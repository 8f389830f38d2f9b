//! Errors of the PostgreSQL source, each classified once.

pub use spillway_core::ErrorClass;

/// An error of the PostgreSQL source.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("cannot connect to PostgreSQL at {address}: {detail}")]
    Connect { address: String, detail: String },
    #[error("PostgreSQL refused the login of user {user:?}: {detail}")]
    Auth { user: String, detail: String },
    #[error("query failed while {context}: {detail}")]
    Query {
        context: &'static str,
        detail: String,
        #[source]
        source: Option<tokio_postgres::Error>,
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
    #[error("replication stream failed: {detail}")]
    Replication { detail: String, transient: bool },
    #[error("replication slot {slot:?} does not exist but committed offsets point into it; changes after {position} are no longer available\nhint: set snapshot.mode=when_needed to take a new snapshot, or delete the connector's offsets")]
    SlotMissing { slot: String, position: String },
}

impl PostgresError {
    /// Wraps a failed catalog or data query.
    pub fn query(context: &'static str, source: tokio_postgres::Error) -> Self {
        let detail = match source.as_db_error() {
            Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
            None => source.to_string(),
        };
        PostgresError::Query {
            context,
            detail,
            source: Some(source),
        }
    }

    /// A failed preflight check with a hint.
    pub fn preflight(message: impl Into<String>, hint: impl Into<String>) -> Self {
        PostgresError::Preflight {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// How the error should be handled.
    pub fn class(&self) -> ErrorClass {
        match self {
            PostgresError::Connect { .. } => ErrorClass::Transient,
            PostgresError::Replication { transient, .. } => {
                if *transient {
                    ErrorClass::Transient
                } else {
                    ErrorClass::Definite
                }
            }
            PostgresError::Query { source, .. } => match source {
                Some(e) if e.as_db_error().is_none() => ErrorClass::Transient,
                _ => ErrorClass::Definite,
            },
            PostgresError::Auth { .. }
            | PostgresError::Preflight { .. }
            | PostgresError::SlotMissing { .. } => ErrorClass::NeedsOperator,
            PostgresError::UnsupportedTypes { .. } | PostgresError::Decode { .. } => {
                ErrorClass::Definite
            }
        }
    }
}
