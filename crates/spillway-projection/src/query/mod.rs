//! Read-only SQL against a projection's database, with limits on rows, bytes and time:
//! what `spillway query` prints and `POST /query` answers.
//!
//! A query can only read, and only the projection's tables:
//!
//! - SQLite ([`sqlite`]) is opened read-only, `ATTACH` is impossible, an authorizer lets
//!   through reads and side-effect-free functions only, and SQLite's own length limit caps
//!   every value (`randomblob(1e9)` fails instead of allocating a gigabyte).
//! - PostgreSQL ([`postgres`]) runs the query in a `READ ONLY` transaction with a
//!   `statement_timeout`, as the projection's query role (`SET ROLE`, a role that may only
//!   `SELECT` the projection's tables; never a superuser or a role with `REPLICATION`),
//!   after [`guard`] checked that every function it calls is on an allow-list.
//!
//! Answers hold at most [`QueryLimits::max_rows`] rows and [`QueryLimits::max_bytes`] bytes
//! of cells (`truncated` says more exist); a cell larger than
//! [`QueryLimits::max_cell_bytes`] fails the query naming its column.

pub mod guard;
pub mod postgres;
pub mod sqlite;

use crate::config::TargetUrl;
use serde_json::Value as Json;
use std::time::Duration;

/// Most rows an answer may be asked to hold.
pub const MAX_ROWS: usize = 1_000_000;
/// Longest timeout a query may be given: one hour.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Default cap on one cell of an answer: 16 MiB.
pub const DEFAULT_MAX_CELL_BYTES: usize = 16 << 20;
/// Default cap on the cells of a whole answer: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// Limits of one query.
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    /// Rows returned at most (1 to [`MAX_ROWS`]); more make the result `truncated`.
    pub max_rows: usize,
    /// How long the query may run (1 ms to [`MAX_TIMEOUT`]).
    pub timeout: Duration,
    /// Bytes one cell may hold; a larger one fails the query.
    pub max_cell_bytes: usize,
    /// Bytes the cells of the answer may hold in all; rows past it are left out and the
    /// result is `truncated`.
    pub max_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_rows: 10_000,
            timeout: Duration::from_secs(30),
            max_cell_bytes: DEFAULT_MAX_CELL_BYTES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl QueryLimits {
    /// Limits with these rows and timeout and the default byte caps.
    pub fn new(max_rows: usize, timeout: Duration) -> QueryLimits {
        QueryLimits {
            max_rows,
            timeout,
            ..QueryLimits::default()
        }
    }

    /// Refuses limits out of range (never a silent zero-row answer or a timer panic).
    pub fn validate(&self) -> Result<(), QueryError> {
        if self.max_rows == 0 || self.max_rows > MAX_ROWS {
            return Err(QueryError::Invalid(format!(
                "the row limit must be between 1 and {MAX_ROWS}, not {}",
                self.max_rows
            )));
        }
        if self.timeout < Duration::from_millis(1) || self.timeout > MAX_TIMEOUT {
            return Err(QueryError::Invalid(format!(
                "the timeout must be between 1 ms and {} s, not {:?}",
                MAX_TIMEOUT.as_secs(),
                self.timeout
            )));
        }
        if self.max_cell_bytes == 0 || self.max_bytes == 0 {
            return Err(QueryError::Invalid(
                "the byte limits of an answer must be at least 1".to_string(),
            ));
        }
        Ok(())
    }
}

/// A column of a result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ResultColumn {
    pub name: String,
    /// The declared or server type, when known.
    #[serde(rename = "type")]
    pub ty: Option<String>,
}

/// The rows of a query.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct QueryResult {
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<Json>>,
    /// More rows than the limits let through exist.
    pub truncated: bool,
}

/// Why a query did not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement would change something: this path only reads.
    #[error("only read-only queries are allowed here; the projection is written by its connector alone ({0})")]
    NotReadOnly(String),
    /// The statement reaches beyond reading the projection (a function not on the
    /// allow-list, a role that could do more than read).
    #[error("{0}")]
    Forbidden(String),
    /// The SQL is not valid (or names what does not exist), or a limit is out of range.
    #[error("{0}")]
    Invalid(String),
    #[error("the query ran longer than its timeout of {0:?} and was cancelled")]
    Timeout(Duration),
    /// The answer would hold a cell larger than the limit.
    #[error("column {column:?} holds a value of {bytes} bytes, more than the {limit} bytes an answer's cell may hold; select less of it (substr, length)")]
    TooLarge {
        column: String,
        bytes: usize,
        limit: usize,
    },
    /// The database is not there or not reachable.
    #[error("{0}")]
    Unavailable(String),
}

/// Runs `sql` against the projection database at `url`.
pub async fn run_query(
    url: &TargetUrl,
    sql: &str,
    limits: QueryLimits,
) -> Result<QueryResult, QueryError> {
    limits.validate()?;
    let sql = sql.trim().trim_end_matches(';').trim_end();
    if sql.is_empty() {
        return Err(QueryError::Invalid("the query is empty".to_string()));
    }
    match url {
        TargetUrl::Sqlite(path) => {
            let path = path.clone();
            let sql = sql.to_string();
            tokio::task::spawn_blocking(move || sqlite::query(&path, &sql, limits))
                .await
                .map_err(|e| QueryError::Unavailable(format!("the query task failed: {e}")))?
        }
        TargetUrl::Postgres(pg) => postgres::query(pg, sql, limits).await,
    }
}

/// Rows gathered within the limits.
struct Answer {
    limits: QueryLimits,
    rows: Vec<Vec<Json>>,
    /// Bytes of the cells taken so far.
    bytes: usize,
    /// A row was left out: the answer holds all it may.
    full: bool,
    truncated: bool,
}

impl Answer {
    fn new(limits: QueryLimits) -> Answer {
        Answer {
            limits,
            rows: Vec::new(),
            bytes: 0,
            full: false,
            truncated: false,
        }
    }

    /// Called with another row at hand: whether it may be taken. Once not, the answer is
    /// truncated.
    fn wants_more(&mut self) -> bool {
        if self.full || self.rows.len() >= self.limits.max_rows {
            self.truncated = true;
            return false;
        }
        true
    }

    /// Checks one cell's size against the cell limit; returns it for [`Answer::push`].
    fn cell(&self, column: &str, bytes: usize) -> Result<usize, QueryError> {
        if bytes > self.limits.max_cell_bytes {
            return Err(QueryError::TooLarge {
                column: column.to_string(),
                bytes,
                limit: self.limits.max_cell_bytes,
            });
        }
        Ok(bytes)
    }

    /// Adds a row of `bytes` bytes of cells; a row that would take the answer past its byte
    /// limit is left out (unless it is the first) and the answer is then full.
    fn push(&mut self, row: Vec<Json>, bytes: usize) {
        let total = self.bytes.saturating_add(bytes);
        if total > self.limits.max_bytes && !self.rows.is_empty() {
            self.full = true;
            self.truncated = true;
            return;
        }
        self.bytes = total;
        self.rows.push(row);
    }

    fn finish(self, columns: Vec<ResultColumn>) -> QueryResult {
        QueryResult {
            columns,
            rows: self.rows,
            truncated: self.truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_out_of_range_are_refused() {
        for limits in [
            QueryLimits::new(0, Duration::from_secs(1)),
            QueryLimits::new(usize::MAX, Duration::from_secs(1)),
            QueryLimits::new(1, Duration::ZERO),
            QueryLimits::new(1, Duration::from_secs(3_000_000)),
        ] {
            assert!(limits.validate().is_err(), "{limits:?}");
        }
        assert!(QueryLimits::default().validate().is_ok());
    }
}
