//! Queries against a PostgreSQL projection.
//!
//! ```text
//!  guard::check (allow-listed functions only)
//!   └─ connect with the projection's settings
//!       └─ BEGIN READ ONLY; SET LOCAL ROLE <query role>; SET LOCAL statement_timeout
//!           └─ the role is checked: no superuser, no REPLICATION
//!               └─ DECLARE CURSOR; FETCH in chunks until the row or byte limit
//! ```
//!
//! The query role is the projection's `spillway.query.role`: a `NOLOGIN` role the
//! projection creates (where its user may) and grants `SELECT` on its tables. Even with a
//! superuser in the projection's URL, the query then cannot signal backends, create slots,
//! read server files or write anything. A URL given directly (`spillway query --url`) runs
//! as its own user, which must not be a superuser or have `REPLICATION` either.

use super::{guard, Answer, QueryError, QueryLimits, QueryResult, ResultColumn};
use crate::config::PostgresTarget;
use crate::target::postgres::pg_error;
use crate::target::quote;
use serde_json::Value as Json;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// Rows fetched from the cursor at a time.
const FETCH_CHUNK: usize = 500;

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

/// A connection in a read-only transaction, as the query role, with the query's timeout;
/// the connection task ends when the client is dropped.
pub struct Session {
    pub client: Client,
    connection: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Opens the session every query runs in.
    pub async fn open(target: &PostgresTarget, limits: QueryLimits) -> Result<Session, QueryError> {
        let (client, connection) = target.config.connect(NoTls).await.map_err(|e| {
            QueryError::Unavailable(pg_error(&target.display, "connect", &e).to_string())
        })?;
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let session = Session { client, connection };
        let failure = |e: tokio_postgres::Error| db_failure(target, limits, e);
        let role = match &target.query_role {
            Some(role) => format!("SET LOCAL ROLE {}; ", quote(role)),
            None => String::new(),
        };
        session
            .client
            .batch_execute(&format!(
                "SET TIME ZONE 'UTC'; BEGIN READ ONLY; {role}SET LOCAL statement_timeout = {}",
                limits.timeout.as_millis().max(1)
            ))
            .await
            .map_err(|e| match (&target.query_role, e.as_db_error()) {
                (Some(role), Some(db)) if matches!(db.code().code(), "22023" | "42704" | "42501") => {
                    QueryError::Invalid(format!(
                        "PostgreSQL {}: cannot run as the query role {role:?}: {} (the projection creates the role and grants it SELECT on its tables when it starts; has it run, and may its user create roles? else set spillway.query.role to a role its user is a member of)",
                        target.display,
                        db.message()
                    ))
                }
                _ => failure(e),
            })?;
        let row = session
            .client
            .query_one(
                "SELECT current_user::text, rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await
            .map_err(failure)?;
        let (name, superuser, replication, bypass): (String, bool, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if superuser || replication || bypass {
            return Err(QueryError::Forbidden(format!(
                "queries do not run as {name:?}: it is {}; {}",
                [
                    (superuser, "a superuser"),
                    (replication, "allowed REPLICATION"),
                    (bypass, "allowed BYPASSRLS")
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, what)| *what)
                .collect::<Vec<_>>()
                .join(" and "),
                match &target.query_role {
                    Some(_) => "set spillway.query.role to a role that may only read the projection's tables",
                    None => "query through the projection (--projection NAME), whose query role may only read its tables, or give a URL of a user that may only read",
                }
            )));
        }
        Ok(session)
    }

    async fn close(self) {
        let _ = self.client.batch_execute("ROLLBACK").await;
        drop(self.client);
        let _ = self.connection.await;
    }
}

fn db_failure(
    target: &PostgresTarget,
    limits: QueryLimits,
    e: tokio_postgres::Error,
) -> QueryError {
    let message = || {
        e.as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_default()
    };
    match e.as_db_error().map(|d| d.code().code()) {
        Some("57014") => QueryError::Timeout(limits.timeout),
        Some("25006") => QueryError::NotReadOnly(message()),
        Some("42501") => QueryError::Forbidden(format!(
            "PostgreSQL: {} (queries run as the projection's query role, which may only read its tables)",
            message()
        )),
        Some("54000") => QueryError::TooLarge {
            column: "(a value the query computes)".to_string(),
            bytes: limits.max_cell_bytes.saturating_add(1),
            limit: limits.max_cell_bytes,
        },
        Some(_) => QueryError::Invalid(format!("PostgreSQL: {}", message())),
        None => QueryError::Unavailable(format!("PostgreSQL {}: {e}", target.display)),
    }
}

/// Runs `sql` against the PostgreSQL projection `target`.
pub async fn query(
    target: &PostgresTarget,
    sql: &str,
    limits: QueryLimits,
) -> Result<QueryResult, QueryError> {
    let keyword = first_keyword(sql);
    if !matches!(keyword.as_str(), "SELECT" | "WITH" | "VALUES" | "TABLE") {
        return Err(QueryError::NotReadOnly(format!(
            "{keyword} is not a query; SELECT, WITH, VALUES and TABLE are"
        )));
    }
    guard::check(sql).map_err(|refusal| QueryError::Forbidden(refusal.0))?;
    let session = Session::open(target, limits).await?;
    let result = run(&session.client, target, sql, limits).await;
    session.close().await;
    result
}

async fn run(
    client: &Client,
    target: &PostgresTarget,
    sql: &str,
    limits: QueryLimits,
) -> Result<QueryResult, QueryError> {
    let failure = |e: tokio_postgres::Error| db_failure(target, limits, e);
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
    let mut answer = Answer::new(limits);
    'fetch: loop {
        let messages = client
            .simple_query(&format!("FETCH {FETCH_CHUNK} FROM spillway_query"))
            .await
            .map_err(failure)?;
        let mut fetched = 0;
        for message in messages {
            let SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            fetched += 1;
            if !answer.wants_more() {
                break 'fetch;
            }
            let mut values = Vec::with_capacity(columns.len());
            let mut bytes = 0usize;
            for (i, (name, ty)) in columns.iter().enumerate() {
                match row.try_get(i).ok().flatten() {
                    None => {
                        bytes += 4;
                        values.push(Json::Null);
                    }
                    Some(text) => {
                        bytes += answer.cell(name, text.len())?;
                        values.push(pg_json(ty, text));
                    }
                }
            }
            answer.push(values, bytes);
        }
        if fetched < FETCH_CHUNK {
            break;
        }
    }
    Ok(answer.finish(
        columns
            .into_iter()
            .map(|(name, ty)| ResultColumn {
                name,
                ty: Some(ty.name().to_string()),
            })
            .collect(),
    ))
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
}
