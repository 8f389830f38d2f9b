//! Read-only SQL against a projection's database, with a row limit and a timeout: what
//! `spillway query` prints and `POST /query` answers.
//!
//! SQLite is opened read-only and only statements SQLite itself calls read-only run;
//! PostgreSQL runs the query as a cursor in a `READ ONLY` transaction with a
//! `statement_timeout`, so a write, even one hidden in a function, is refused by the server.

use crate::config::TargetUrl;
use crate::target::postgres::pg_error;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rusqlite::types::ValueRef;
use rusqlite::OpenFlags;
use serde_json::Value as Json;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// Limits of one query.
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    /// Rows returned at most; more make the result `truncated`.
    pub max_rows: usize,
    pub timeout: Duration,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_rows: 10_000,
            timeout: Duration::from_secs(30),
        }
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
    /// More rows than the limit exist.
    pub truncated: bool,
}

/// Why a query did not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement would change something: this path only reads.
    #[error("only read-only queries are allowed here; the projection is written by its connector alone ({0})")]
    NotReadOnly(String),
    /// The SQL is not valid (or names what does not exist).
    #[error("{0}")]
    Invalid(String),
    #[error("the query ran longer than its timeout of {0:?} and was cancelled")]
    Timeout(Duration),
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
    let sql = sql.trim().trim_end_matches(';').trim_end();
    if sql.is_empty() {
        return Err(QueryError::Invalid("the query is empty".to_string()));
    }
    match url {
        TargetUrl::Sqlite(path) => {
            let path = path.clone();
            let sql = sql.to_string();
            tokio::task::spawn_blocking(move || sqlite_query(&path, &sql, limits))
                .await
                .map_err(|e| QueryError::Unavailable(format!("the query task failed: {e}")))?
        }
        TargetUrl::Postgres(pg) => postgres_query(pg, sql, limits).await,
    }
}

fn sqlite_query(path: &Path, sql: &str, limits: QueryLimits) -> Result<QueryResult, QueryError> {
    if !path.exists() {
        return Err(QueryError::Unavailable(format!(
            "the projection database {} does not exist (has the projection run yet?)",
            path.display()
        )));
    }
    let mut conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| QueryError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    let _ = conn.busy_timeout(limits.timeout);
    let _ = conn.pragma_update(None, "query_only", true);
    let deadline = Instant::now() + limits.timeout;
    conn.progress_handler(10_000, Some(move || Instant::now() >= deadline))
        .map_err(|e| QueryError::Unavailable(format!("cannot set the query's timeout: {e}")))?;
    let mut stmt = conn.prepare(sql).map_err(|e| match e {
        rusqlite::Error::MultipleStatement => {
            QueryError::Invalid("one statement at a time, please".to_string())
        }
        other => QueryError::Invalid(format!("SQLite: {other}")),
    })?;
    if !stmt.readonly() {
        return Err(QueryError::NotReadOnly(format!(
            "SQLite does not consider {:?} read-only",
            sql.split_whitespace().next().unwrap_or("")
        )));
    }
    let columns: Vec<ResultColumn> = stmt
        .columns()
        .map(|c| ResultColumn {
            name: c.name().to_string(),
            ty: c.decl_type().map(str::to_string),
        })
        .collect();
    let booleans: Vec<bool> = columns
        .iter()
        .map(|c| {
            c.ty.as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("boolean"))
        })
        .collect();
    let mut rows = Vec::new();
    let mut truncated = false;
    let mut query = stmt.query([]).map_err(|e| sqlite_failure(e, limits))?;
    loop {
        let row = match query.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(sqlite_failure(e, limits)),
        };
        if rows.len() == limits.max_rows {
            truncated = true;
            break;
        }
        let mut values = Vec::with_capacity(columns.len());
        for (i, boolean) in booleans.iter().enumerate() {
            let value = row.get_ref(i).map_err(|e| sqlite_failure(e, limits))?;
            values.push(match value {
                ValueRef::Null => Json::Null,
                ValueRef::Integer(n) if *boolean => Json::Bool(n != 0),
                ValueRef::Integer(n) => Json::from(n),
                ValueRef::Real(f) => serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .unwrap_or_else(|| Json::from(f.to_string())),
                ValueRef::Text(t) => Json::from(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Json::from(STANDARD.encode(b)),
            });
        }
        rows.push(values);
    }
    Ok(QueryResult {
        columns,
        rows,
        truncated,
    })
}

fn sqlite_failure(e: rusqlite::Error, limits: QueryLimits) -> QueryError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::OperationInterrupted) => QueryError::Timeout(limits.timeout),
        Some(rusqlite::ErrorCode::ReadOnly) => QueryError::NotReadOnly(e.to_string()),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            QueryError::Unavailable(format!("SQLite: {e}"))
        }
        _ => QueryError::Invalid(format!("SQLite: {e}")),
    }
}

/// The first keyword of a statement, past comments and parentheses.
fn first_keyword(sql: &str) -> String {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix('(') {
            rest = after.trim_start();
        } else {
            break;
        }
    }
    rest.split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

async fn postgres_query(
    target: &crate::config::PostgresTarget,
    sql: &str,
    limits: QueryLimits,
) -> Result<QueryResult, QueryError> {
    let keyword = first_keyword(sql);
    if !matches!(keyword.as_str(), "SELECT" | "WITH" | "VALUES" | "TABLE") {
        return Err(QueryError::NotReadOnly(format!(
            "{keyword} is not a query; SELECT, WITH, VALUES and TABLE are"
        )));
    }
    let unavailable = |action: &str, e: &tokio_postgres::Error| {
        QueryError::Unavailable(pg_error(&target.display, action, e).to_string())
    };
    let (client, connection) = target
        .config
        .connect(NoTls)
        .await
        .map_err(|e| unavailable("connect", &e))?;
    let task = tokio::spawn(connection);
    let result = async {
        let failure = |e: tokio_postgres::Error| match e.as_db_error().map(|d| d.code().code()) {
            Some("57014") => QueryError::Timeout(limits.timeout),
            Some("25006") => QueryError::NotReadOnly(
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_default(),
            ),
            Some(_) => QueryError::Invalid(format!(
                "PostgreSQL: {}",
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_default()
            )),
            None => QueryError::Unavailable(format!("PostgreSQL {}: {e}", target.display)),
        };
        client
            .batch_execute(&format!(
                "SET TIME ZONE 'UTC'; SET statement_timeout = {}; BEGIN READ ONLY",
                limits.timeout.as_millis().max(1)
            ))
            .await
            .map_err(failure)?;
        let statement = client.prepare(sql).await.map_err(failure)?;
        let columns: Vec<(String, Type)> = statement
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().clone()))
            .collect();
        client
            .batch_execute(&format!(
                "DECLARE spillway_query NO SCROLL CURSOR FOR {sql}"
            ))
            .await
            .map_err(failure)?;
        let messages = client
            .simple_query(&format!(
                "FETCH {} FROM spillway_query",
                limits.max_rows + 1
            ))
            .await
            .map_err(failure)?;
        let mut rows = Vec::new();
        for message in messages {
            if let SimpleQueryMessage::Row(row) = message {
                let values = columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, ty))| match row.get(i) {
                        None => Json::Null,
                        Some(text) => pg_json(ty, text),
                    })
                    .collect();
                rows.push(values);
            }
        }
        let truncated = rows.len() > limits.max_rows;
        rows.truncate(limits.max_rows);
        let _ = client.batch_execute("ROLLBACK").await;
        Ok(QueryResult {
            columns: columns
                .into_iter()
                .map(|(name, ty)| ResultColumn {
                    name,
                    ty: Some(ty.name().to_string()),
                })
                .collect(),
            rows,
            truncated,
        })
    }
    .await;
    drop(client);
    let _ = task.await;
    result
}

/// A PostgreSQL text value as JSON: numbers and booleans as such, JSON as JSON, the rest
/// as text.
fn pg_json(ty: &Type, text: &str) -> Json {
    match *ty {
        Type::BOOL => Json::Bool(text == "t"),
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => text
            .parse::<i64>()
            .map(Json::from)
            .unwrap_or_else(|_| Json::from(text)),
        Type::FLOAT4 | Type::FLOAT8 => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .unwrap_or_else(|| Json::from(text)),
        Type::JSON | Type::JSONB => serde_json::from_str(text).unwrap_or_else(|_| Json::from(text)),
        _ => Json::from(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_keyword_skips_comments_and_parentheses() {
        assert_eq!(first_keyword("  -- hi\n /* x */ (select 1)"), "SELECT");
        assert_eq!(first_keyword("delete from t"), "DELETE");
        assert_eq!(
            first_keyword("WITH a AS (SELECT 1) SELECT * FROM a"),
            "WITH"
        );
    }

    #[test]
    fn sqlite_queries_read_and_refuse_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, ok BOOLEAN, name TEXT, data BLOB);
             INSERT INTO t VALUES (1, 1, 'a', x'00ff'), (2, 0, NULL, NULL), (3, 1, 'c', NULL);",
        )
        .unwrap();
        drop(conn);
        let limits = QueryLimits {
            max_rows: 2,
            timeout: Duration::from_secs(5),
        };
        let r = sqlite_query(&path, "SELECT * FROM t ORDER BY id", limits).unwrap();
        assert_eq!(r.columns[1].ty.as_deref(), Some("BOOLEAN"));
        assert_eq!(
            r.rows[0],
            vec![
                Json::from(1),
                Json::Bool(true),
                Json::from("a"),
                Json::from("AP8=")
            ]
        );
        assert!(r.truncated);
        let e = sqlite_query(&path, "DELETE FROM t", limits).unwrap_err();
        assert!(matches!(e, QueryError::NotReadOnly(_)), "{e}");
        let e = sqlite_query(&path, "SELECT * FROM t; DELETE FROM t", limits).unwrap_err();
        assert!(e.to_string().contains("one statement"), "{e}");
        let e = sqlite_query(&path, "SELEC 1", limits).unwrap_err();
        assert!(matches!(e, QueryError::Invalid(_)), "{e}");
        let slow = QueryLimits {
            max_rows: 1,
            timeout: Duration::from_millis(100),
        };
        let e = sqlite_query(
            &path,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            slow,
        )
        .unwrap_err();
        assert!(matches!(e, QueryError::Timeout(_)), "{e}");
    }
}
