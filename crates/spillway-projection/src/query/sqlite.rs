//! Queries against a SQLite projection.
//!
//! The file is opened read-only with `query_only` on; only statements SQLite itself calls
//! read-only run. An authorizer refuses `ATTACH` (which would open any file the process
//! can read), pragmas beyond the ones that describe tables, and the functions that reach
//! outside the database (`load_extension`, `fts3_tokenizer`, the shell's file functions).
//! SQLite's length limit is the answer's cell limit, so no value larger than that is ever
//! built, and a progress handler enforces the timeout.

use super::{Answer, QueryError, QueryLimits, QueryResult, ResultColumn};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::OpenFlags;
use serde_json::Value as Json;
use std::path::Path;
use std::time::Instant;

/// Pragmas a query may read: the ones that describe tables and indexes.
const READ_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "collation_list",
    "function_list",
    "pragma_list",
];

/// Functions that reach beyond the database file.
const DENIED_FUNCTIONS: &[&str] = &[
    "load_extension",
    "fts3_tokenizer",
    "readfile",
    "writefile",
    "edit",
    "sqlite_dbpage",
];

/// What a query may do. Writes pass here so that the read-only check below refuses them
/// with its clearer message (the connection is read-only besides); what a read-only
/// statement could still reach beyond the file is denied.
fn authorize(context: AuthContext<'_>) -> Authorization {
    match context.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } | AuthAction::Unknown { .. } => {
            Authorization::Deny
        }
        AuthAction::Function { function_name }
            if DENIED_FUNCTIONS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(function_name)) =>
        {
            Authorization::Deny
        }
        AuthAction::Pragma { pragma_name, .. }
            if !READ_PRAGMAS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(pragma_name)) =>
        {
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }
}

/// Runs `sql` against the SQLite file at `path`.
pub fn query(path: &Path, sql: &str, limits: QueryLimits) -> Result<QueryResult, QueryError> {
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
    let setup = |e: rusqlite::Error| {
        QueryError::Unavailable(format!("cannot set up the query's limits: {e}"))
    };
    let _ = conn.busy_timeout(limits.timeout);
    conn.pragma_update(None, "query_only", true)
        .map_err(setup)?;
    let cell_limit = i32::try_from(limits.max_cell_bytes).unwrap_or(i32::MAX);
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, cell_limit)
        .map_err(setup)?;
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)
        .map_err(setup)?;
    conn.authorizer(Some(authorize)).map_err(setup)?;
    let deadline = Instant::now() + limits.timeout;
    conn.progress_handler(10_000, Some(move || Instant::now() >= deadline))
        .map_err(setup)?;
    let mut stmt = conn.prepare(sql).map_err(|e| match e {
        rusqlite::Error::MultipleStatement => {
            QueryError::Invalid("one statement at a time, please".to_string())
        }
        other if other.sqlite_error_code() == Some(rusqlite::ErrorCode::AuthorizationForStatementDenied) => {
            QueryError::Forbidden(format!(
                "SQLite: {other}: queries here may only read the projection's tables (no ATTACH, no pragmas that change or reveal more, no extensions)"
            ))
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
    let mut answer = Answer::new(limits);
    let mut rows = stmt.query([]).map_err(|e| failure(e, limits))?;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(failure(e, limits)),
        };
        if !answer.wants_more() {
            break;
        }
        let mut values = Vec::with_capacity(columns.len());
        let mut bytes = 0usize;
        for (i, boolean) in booleans.iter().enumerate() {
            let value = row.get_ref(i).map_err(|e| failure(e, limits))?;
            let (json, size) = match value {
                ValueRef::Null => (Json::Null, 4),
                ValueRef::Integer(n) if *boolean => (Json::Bool(n != 0), 5),
                ValueRef::Integer(n) => (Json::from(n), 20),
                ValueRef::Real(f) => (
                    serde_json::Number::from_f64(f)
                        .map(Json::Number)
                        .unwrap_or_else(|| Json::from(f.to_string())),
                    24,
                ),
                ValueRef::Text(t) => {
                    answer.cell(&columns[i].name, t.len())?;
                    (Json::from(String::from_utf8_lossy(t).into_owned()), t.len())
                }
                ValueRef::Blob(b) => {
                    // Base64 makes four bytes of every three.
                    let shown = b.len().div_ceil(3) * 4;
                    answer.cell(&columns[i].name, shown)?;
                    (Json::from(STANDARD.encode(b)), shown)
                }
            };
            bytes += size;
            values.push(json);
        }
        answer.push(values, bytes);
    }
    Ok(answer.finish(columns))
}

fn failure(e: rusqlite::Error, limits: QueryLimits) -> QueryError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::OperationInterrupted) => QueryError::Timeout(limits.timeout),
        Some(rusqlite::ErrorCode::ReadOnly) => QueryError::NotReadOnly(e.to_string()),
        Some(rusqlite::ErrorCode::TooBig) => QueryError::TooLarge {
            column: "(a value the query computes or reads)".to_string(),
            bytes: limits.max_cell_bytes.saturating_add(1),
            limit: limits.max_cell_bytes,
        },
        Some(rusqlite::ErrorCode::AuthorizationForStatementDenied) => {
            QueryError::Forbidden(format!("SQLite: {e}"))
        }
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            QueryError::Unavailable(format!("SQLite: {e}"))
        }
        _ => QueryError::Invalid(format!("SQLite: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn database() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, ok BOOLEAN, name TEXT, data BLOB);
             INSERT INTO t VALUES (1, 1, 'a', x'00ff'), (2, 0, NULL, NULL), (3, 1, 'c', NULL);",
        )
        .unwrap();
        (dir, path)
    }

    #[test]
    fn sqlite_queries_read_and_refuse_writes() {
        let (_dir, path) = database();
        let limits = QueryLimits::new(2, Duration::from_secs(5));
        let r = query(&path, "SELECT * FROM t ORDER BY id", limits).unwrap();
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
        let e = query(&path, "DELETE FROM t", limits).unwrap_err();
        assert!(
            matches!(e, QueryError::NotReadOnly(_) | QueryError::Forbidden(_)),
            "{e}"
        );
        let e = query(&path, "SELECT * FROM t; SELECT 1", limits).unwrap_err();
        assert!(e.to_string().contains("one statement"), "{e}");
        let e = query(&path, "SELECT * FROM t; DELETE FROM t", limits).unwrap_err();
        assert!(
            matches!(e, QueryError::Invalid(_) | QueryError::Forbidden(_)),
            "{e}"
        );
        let e = query(&path, "SELEC 1", limits).unwrap_err();
        assert!(matches!(e, QueryError::Invalid(_)), "{e}");
        let slow = QueryLimits::new(1, Duration::from_millis(100));
        let e = query(
            &path,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            slow,
        )
        .unwrap_err();
        assert!(matches!(e, QueryError::Timeout(_)), "{e}");
    }

    #[test]
    fn attach_pragmas_and_extensions_are_refused() {
        let (dir, path) = database();
        let other = dir.path().join("other.db");
        rusqlite::Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE secret (x TEXT); INSERT INTO secret VALUES ('s')")
            .unwrap();
        let limits = QueryLimits::default();
        for sql in [
            format!("ATTACH DATABASE '{}' AS o", other.display()),
            "PRAGMA database_list".to_string(),
            "PRAGMA journal_mode = DELETE".to_string(),
            "SELECT load_extension('x')".to_string(),
            "SELECT * FROM pragma_database_list".to_string(),
        ] {
            let e = query(&path, &sql, limits).unwrap_err();
            assert!(
                matches!(
                    e,
                    QueryError::Forbidden(_) | QueryError::NotReadOnly(_) | QueryError::Invalid(_)
                ),
                "{sql}: {e}"
            );
        }
        let ok = query(&path, "PRAGMA table_info(t)", limits).unwrap();
        assert_eq!(ok.rows.len(), 4);
    }

    #[test]
    fn answers_are_capped_in_bytes() {
        let (_dir, path) = database();
        let small = QueryLimits {
            max_cell_bytes: 1000,
            max_bytes: 3000,
            ..QueryLimits::default()
        };
        // A value larger than a cell may be is never built.
        let e = query(&path, "SELECT randomblob(1000000000)", small).unwrap_err();
        assert!(matches!(e, QueryError::TooLarge { .. }), "{e}");
        let e = query(&path, "SELECT zeroblob(2000)", small).unwrap_err();
        assert!(matches!(e, QueryError::TooLarge { .. }), "{e}");
        // Rows beyond the answer's bytes are left out, and the answer says so.
        let r = query(
            &path,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100) SELECT x, printf('%.500c', 'y') FROM c",
            small,
        )
        .unwrap();
        assert!(r.truncated);
        assert!(r.rows.len() >= 5 && r.rows.len() < 10, "{}", r.rows.len());
    }
}
