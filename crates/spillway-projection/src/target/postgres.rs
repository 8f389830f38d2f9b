//! PostgreSQL as a projection's table store.
//!
//! Column types follow Debezium's JDBC sink for PostgreSQL: `smallint`, `integer`,
//! `bigint`, `real`, `double precision`, `boolean`, `text`, `bytea`, `numeric(p,s)`,
//! `date`, `time(p)`, `timestamp(p)`, `timestamptz`, `timetz`, `interval`, `jsonb` (JSON and
//! other structs), `uuid`, `xml` and arrays of these.
//!
//! A batch is one prepared statement per table and row shape: each column's values travel
//! as one text array (binary protocol), `unnest` turns the arrays back into rows and each
//! value is cast to the column's own type, so any number of rows costs one statement, one
//! plan, and the server parses each value once.

use super::{create_table_sql, quote, TableInfo, Target, TargetError};
use crate::batch::{Batch, Entry};
use crate::cell::Cell;
use crate::config::{InsertMode, PostgresTarget};
use crate::shape::{Column, ColumnType, Unit};
use crate::target::{time_text, timestamp_text, write_groups};
use spillway_core::TopicPartition;
use std::collections::HashMap;
use std::fmt::Write as _;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Statement};
use tracing::warn;

/// A PostgreSQL database a projection writes.
pub struct PostgresTargetClient {
    client: Client,
    display: String,
    offsets_table: String,
    /// The role queries run as, granted `SELECT` on every table the projection writes.
    query_role: Option<String>,
    /// Whether the query role exists and this user may grant it (else tables are not
    /// granted, and queries are refused with the reason until it is set up).
    query_grants: bool,
    statements: HashMap<String, Statement>,
}

/// The advisory lock (class, object) held while projections set up a database: creating
/// the offsets table and the query role, and granting, one projection at a time.
const SETUP_LOCK: (i32, i32) = (0x5350_4c57, 1);

/// Sorts a PostgreSQL error: connection trouble and conflicts between transactions are
/// worth a retry, the rest is a refusal.
pub fn pg_error(display: &str, action: &str, e: &tokio_postgres::Error) -> TargetError {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let mut message = format!(
                "PostgreSQL {display}: cannot {action}: {} (SQLSTATE {code})",
                db.message()
            );
            if let Some(detail) = db.detail() {
                let _ = write!(message, "; {detail}");
            }
            let transient = code.starts_with("08")
                || code.starts_with("53")
                || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01");
            if transient {
                TargetError::Unavailable(message)
            } else {
                TargetError::Refused(message)
            }
        }
        None => {
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                let _ = write!(detail, ": {s}");
                source = s.source();
            }
            TargetError::Unavailable(format!("PostgreSQL {display}: cannot {action}: {detail}"))
        }
    }
}

impl PostgresTargetClient {
    /// Connects to the target database.
    pub async fn connect(
        target: &PostgresTarget,
        offsets_table: &str,
    ) -> Result<Self, TargetError> {
        let (client, connection) = target
            .config
            .connect(NoTls)
            .await
            .map_err(|e| pg_error(&target.display, "connect", &e))?;
        let shown = target.display.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                warn!(%error, target = %shown, "projection target connection closed with an error");
            }
        });
        client
            .batch_execute("SET TIME ZONE 'UTC'")
            .await
            .map_err(|e| pg_error(&target.display, "set the session time zone", &e))?;
        Ok(PostgresTargetClient {
            client,
            display: target.display.clone(),
            offsets_table: offsets_table.to_string(),
            query_role: target.query_role.clone(),
            query_grants: false,
            statements: HashMap::new(),
        })
    }

    fn error(&self, action: &str, e: &tokio_postgres::Error) -> TargetError {
        pg_error(&self.display, action, e)
    }

    /// Creates the offsets table and the query role when missing, under an advisory lock
    /// so that projections starting together on one database do not race (concurrent
    /// `CREATE TABLE IF NOT EXISTS` and `GRANT` fail on the catalog's unique keys).
    async fn set_up(&mut self) -> Result<(), TargetError> {
        let table = quote(&self.offsets_table);
        let created = self
            .client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({}, {});
                 CREATE TABLE IF NOT EXISTS {table} (connector text NOT NULL, topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL, PRIMARY KEY (connector, topic, partition))",
                SETUP_LOCK.0, SETUP_LOCK.1
            ))
            .await;
        if let Err(e) = created {
            let _ = self.client.batch_execute("ROLLBACK").await;
            return Err(self.error("create the offsets table", &e));
        }
        let prepared = match self.query_role.clone() {
            Some(role) => self.prepare_query_role(&role).await,
            None => Ok(false),
        };
        let end = if prepared.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        let ended = self.client.batch_execute(end).await;
        self.query_grants = prepared?;
        ended.map_err(|e| self.error("create the offsets table", &e))?;
        if self.query_grants {
            let offsets = self.offsets_table.clone();
            self.grant_select(&offsets).await;
        }
        Ok(())
    }

    /// Runs `sql` inside a savepoint of the open transaction: a refusal (of a grant this
    /// user may not give) leaves the transaction usable.
    async fn attempt(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        match self
            .client
            .batch_execute(&format!(
                "SAVEPOINT spillway_attempt; {sql}; RELEASE SAVEPOINT spillway_attempt"
            ))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self
                    .client
                    .batch_execute("ROLLBACK TO SAVEPOINT spillway_attempt")
                    .await;
                Err(e)
            }
        }
    }

    /// Makes `role` a role that may only read: created `NOLOGIN` when missing (where this
    /// user may create roles), refused when it could do more, granted to this user (for
    /// `SET ROLE`) and given `USAGE` on the schema. Returns whether it is ready to be
    /// granted the projection's tables; where this user may not set it up, a warning says
    /// what to run, the projection goes on, and queries are refused until then.
    async fn prepare_query_role(&mut self, role: &str) -> Result<bool, TargetError> {
        let me = self
            .client
            .query_one(
                "SELECT current_user::text, rolsuper, rolcreaterole, current_schema()::text FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await
            .map_err(|e| self.error("read the projection user's role", &e))?;
        let (user, superuser, createrole, schema): (String, bool, bool, Option<String>) =
            (me.get(0), me.get(1), me.get(2), me.get(3));
        let quoted = quote(role);
        let refused =
            |what: String| TargetError::Refused(format!("PostgreSQL {}: {what}", self.display));
        let existing = self
            .client
            .query_opt(
                "SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1",
                &[&role],
            )
            .await
            .map_err(|e| self.error("look up the query role", &e))?;
        match existing {
            None if !(superuser || createrole) => {
                warn!(
                    role,
                    user = %user,
                    target = %self.display,
                    "queries of this projection are refused: its query role does not exist and its user may not create roles; as a superuser run CREATE ROLE {quoted} NOLOGIN; GRANT {quoted} TO {}; (or set spillway.query.role to a role that may only read, which the user is a member of)",
                    quote(&user)
                );
                return Ok(false);
            }
            None => {
                // Roles belong to the whole server, so a projection on another database may
                // create the same one meanwhile: that one is as good.
                let created = self
                    .attempt(&format!(
                        "CREATE ROLE {quoted} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
                    ))
                    .await;
                match created {
                    Ok(()) => {
                        tracing::info!(role, target = %self.display, "created the query role of the projection")
                    }
                    Err(e)
                        if matches!(
                            e.as_db_error().map(|d| d.code().code()),
                            Some("42710" | "23505")
                        ) => {}
                    Err(e) => {
                        return Err(self.error(&format!("create the query role {role:?}"), &e))
                    }
                }
            }
            Some(row) => {
                let (rolsuper, replication, bypass): (bool, bool, bool) =
                    (row.get(0), row.get(1), row.get(2));
                if rolsuper || replication || bypass {
                    return Err(refused(format!(
                        "spillway.query.role {role:?} is a superuser or may replicate or bypass row security; queries need a role that may only read the projection's tables"
                    )));
                }
            }
        }
        if !superuser {
            let member: bool = self
                .client
                .query_one("SELECT pg_has_role(current_user, $1, 'MEMBER')", &[&role])
                .await
                .map_err(|e| self.error("check membership in the query role", &e))?
                .get(0);
            if !member {
                if let Err(e) = self
                    .attempt(&format!("GRANT {quoted} TO {}", quote(&user)))
                    .await
                {
                    warn!(
                        role,
                        user = %user,
                        target = %self.display,
                        error = %self.error("grant the query role", &e),
                        "queries of this projection are refused: its user cannot take its query role; as a superuser run GRANT {quoted} TO {}",
                        quote(&user)
                    );
                    return Ok(false);
                }
            }
        }
        if let Some(schema) = schema {
            let usage: bool = self
                .client
                .query_one(
                    "SELECT has_schema_privilege($1, $2, 'USAGE')",
                    &[&role, &schema],
                )
                .await
                .map_err(|e| self.error("check the query role's schema privilege", &e))?
                .get(0);
            if !usage {
                if let Err(e) = self
                    .attempt(&format!(
                        "GRANT USAGE ON SCHEMA {} TO {quoted}",
                        quote(&schema)
                    ))
                    .await
                {
                    warn!(
                        role,
                        schema = %schema,
                        error = %self.error("grant the query role usage of the schema", &e),
                        "the query role cannot reach the projection's schema; queries of its tables will be refused"
                    );
                }
            }
        }
        Ok(true)
    }

    /// Grants the query role `SELECT` on `table` (a refusal is a warning: the projection
    /// goes on, queries of that table are refused).
    async fn grant_select(&mut self, table: &str) {
        let Some(role) = self.query_role.as_ref().filter(|_| self.query_grants) else {
            return;
        };
        let grant = format!("GRANT SELECT ON TABLE {} TO {}", quote(table), quote(role));
        if let Err(e) = self.client.batch_execute(&grant).await {
            warn!(
                table,
                role = %role,
                error = %self.error("grant the query role SELECT", &e),
                "the query role cannot read this table; queries of it will be refused"
            );
        }
    }
}

/// The PostgreSQL type of a column.
pub fn postgres_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Int16 => "smallint".into(),
        ColumnType::Int32 => "integer".into(),
        ColumnType::Int64 => "bigint".into(),
        ColumnType::Float32 => "real".into(),
        ColumnType::Float64 => "double precision".into(),
        ColumnType::Boolean => "boolean".into(),
        ColumnType::Text => "text".into(),
        ColumnType::Bytes => "bytea".into(),
        ColumnType::Decimal {
            precision: Some(p),
            scale,
        } if *p >= 1 && *p <= 1000 && scale <= p => format!("numeric({p},{scale})"),
        ColumnType::Decimal { .. } | ColumnType::VariableDecimal => "numeric".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time { unit: Unit::Millis } => "time(3)".into(),
        ColumnType::Time { .. } => "time(6)".into(),
        ColumnType::Timestamp { unit: Unit::Millis } => "timestamp(3)".into(),
        ColumnType::Timestamp { .. } => "timestamp(6)".into(),
        ColumnType::ZonedTimestamp => "timestamptz".into(),
        ColumnType::ZonedTime => "timetz".into(),
        ColumnType::Interval => "interval".into(),
        ColumnType::Json | ColumnType::Document => "jsonb".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Xml => "xml".into(),
        ColumnType::Array(item) => format!("{}[]", postgres_type(item)),
    }
}

/// Days since the epoch as PostgreSQL reads a date (`BC` for years before 1).
fn pg_date(days: i64) -> String {
    let (y, m, d) = spillway_core::convert::civil_from_days(days);
    if y >= 1 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{:04}-{m:02}-{d:02} BC", 1 - y)
    }
}

/// A cell as the text PostgreSQL's input function of the column type reads.
fn pg_text(ty: &ColumnType, cell: &Cell, column: &str) -> Result<Option<String>, String> {
    Ok(Some(match cell {
        Cell::Null | Cell::Unavailable => return Ok(None),
        Cell::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
        Cell::Int(i) => match ty {
            ColumnType::Date => pg_date(*i),
            ColumnType::Time { .. } => time_text(*i),
            ColumnType::Timestamp { .. } => {
                let day = spillway_core::convert::DAY_US;
                let (y, _, _) = spillway_core::convert::civil_from_days(i.div_euclid(day));
                if y >= 1 {
                    timestamp_text(*i)
                } else {
                    let text = timestamp_text(*i);
                    let (_, time) = text.split_at(text.find(' ').unwrap_or(0));
                    format!(
                        "{}{time} BC",
                        pg_date(i.div_euclid(day)).trim_end_matches(" BC")
                    )
                }
            }
            ColumnType::Interval => format!("{i} microseconds"),
            _ => itoa::Buffer::new().format(*i).to_string(),
        },
        Cell::Float(f) if f.is_nan() => "NaN".to_string(),
        Cell::Float(f) if f.is_infinite() => {
            (if *f > 0.0 { "Infinity" } else { "-Infinity" }).to_string()
        }
        Cell::Float(f) => ryu::Buffer::new().format_finite(*f).to_string(),
        Cell::Text(s) => {
            if s.contains('\0') {
                return Err(format!(
                    "the value of column {column:?} holds a NUL character, which PostgreSQL text cannot"
                ));
            }
            s.clone()
        }
        Cell::Bytes(b) => {
            let mut out = String::with_capacity(2 + b.len() * 2);
            out.push_str("\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            out
        }
        Cell::Array(items) => {
            let item = match ty {
                ColumnType::Array(item) => item.as_ref(),
                other => other,
            };
            let mut out = String::from("{");
            for (i, c) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match pg_text(item, c, column)? {
                    None => out.push_str("NULL"),
                    Some(text) => {
                        out.push('"');
                        for ch in text.chars() {
                            if ch == '"' || ch == '\\' {
                                out.push('\\');
                            }
                            out.push(ch);
                        }
                        out.push('"');
                    }
                }
            }
            out.push('}');
            out
        }
    }))
}

/// The type a column's text values are cast to: the table's declared type when it has the
/// column, except that character and bit types are cast without their length (an explicit
/// cast to `varchar(n)`, `char(n)` or `bit(n)` cuts a longer value silently; the insert's
/// own conversion refuses it instead).
fn cast(info: &TableInfo, column: &Column) -> String {
    let Some(declared) = info.column(&column.name) else {
        return postgres_type(&column.ty);
    };
    let array = if declared.ends_with("[]") { "[]" } else { "" };
    if declared.starts_with("character") {
        format!("text{array}")
    } else if declared.starts_with("bit") {
        format!("bit varying{array}")
    } else {
        declared.to_string()
    }
}

impl PostgresTargetClient {
    /// A statement taking `params` text arrays, prepared once.
    async fn statement(&mut self, sql: String, params: usize) -> Result<Statement, TargetError> {
        self.statement_typed(sql, &vec![Type::TEXT_ARRAY; params])
            .await
    }

    async fn statement_typed(
        &mut self,
        sql: String,
        types: &[Type],
    ) -> Result<Statement, TargetError> {
        if let Some(stmt) = self.statements.get(&sql) {
            return Ok(stmt.clone());
        }
        let stmt = self
            .client
            .prepare_typed(&sql, types)
            .await
            .map_err(|e| self.error("prepare a statement", &e))?;
        if self.statements.len() > 512 {
            self.statements.clear();
        }
        self.statements.insert(sql, stmt.clone());
        Ok(stmt)
    }
}

/// One statement of a batch: the statement, one text array per parameter, and what it
/// does (for messages).
type Step = (Statement, Vec<Vec<Option<String>>>, String);

/// `unnest($1::text[], …) AS u(c0, …)` for these columns, and the select list casting each
/// text to the column's type.
fn unnest(info: &TableInfo, columns: &[&Column]) -> (String, String) {
    let arrays: Vec<String> = (1..=columns.len())
        .map(|i| format!("${i}::text[]"))
        .collect();
    let names: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    let select: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("u.c{i}::{}", cast(info, c)))
        .collect();
    (
        format!("unnest({}) AS u({})", arrays.join(", "), names.join(", ")),
        select.join(", "),
    )
}

/// The statement writing rows of these columns, one text array per column, as `mode` asks;
/// `None` when there is nothing it could change.
fn write_sql(
    t: &str,
    info: &TableInfo,
    cols: &[&Column],
    key: &[String],
    mode: InsertMode,
) -> Option<String> {
    let (from, select) = unnest(info, cols);
    let names: Vec<String> = cols.iter().map(|c| quote(&c.name)).collect();
    let sets: Vec<&String> = names
        .iter()
        .zip(cols)
        .filter(|(_, c)| !key.contains(&c.name))
        .map(|(n, _)| n)
        .collect();
    let insert = format!(
        "INSERT INTO {t} ({}) SELECT {select} FROM {from}",
        names.join(",")
    );
    Some(match mode {
        InsertMode::Update => {
            if sets.is_empty() || key.is_empty() {
                return None;
            }
            format!(
                "UPDATE {t} SET {} FROM (SELECT {select} FROM {from}) AS v({}) WHERE {}",
                sets.iter()
                    .map(|n| format!("{n} = v.{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                names.join(","),
                key.iter()
                    .map(|k| format!("{t}.{0} = v.{0}", quote(k)))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            )
        }
        InsertMode::Upsert if !key.is_empty() => {
            let conflict = key.iter().map(|k| quote(k)).collect::<Vec<_>>().join(",");
            let action = if sets.is_empty() {
                "DO NOTHING".to_string()
            } else {
                format!(
                    "DO UPDATE SET {}",
                    sets.iter()
                        .map(|n| format!("{n} = EXCLUDED.{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!("{insert} ON CONFLICT ({conflict}) {action}")
        }
        InsertMode::Upsert | InsertMode::Insert => insert,
    })
}

impl Target for PostgresTargetClient {
    async fn load_offsets(
        &mut self,
        connector: &str,
    ) -> Result<HashMap<TopicPartition, u64>, TargetError> {
        self.set_up().await?;
        let table = quote(&self.offsets_table);
        let rows = self
            .client
            .query(
                &format!("SELECT topic, partition, next_offset FROM {table} WHERE connector = $1"),
                &[&connector],
            )
            .await
            .map_err(|e| self.error("read offsets", &e))?;
        rows.iter()
            .map(|r| -> Result<(TopicPartition, u64), tokio_postgres::Error> {
                Ok((
                    TopicPartition::new(r.try_get::<_, String>(0)?, r.try_get::<_, i32>(1)?.max(0) as u32),
                    r.try_get::<_, i64>(2)?.max(0) as u64,
                ))
            })
            .collect::<Result<HashMap<_, _>, _>>()
            .map_err(|e| {
                TargetError::Refused(format!(
                    "PostgreSQL {}: the offsets table {table} does not have the columns spillway writes (topic text, partition integer, next_offset bigint): {e}",
                    self.display
                ))
            })
    }

    async fn describe(&mut self, table: &str) -> Result<Option<TableInfo>, TargetError> {
        let name = quote(table);
        let columns = self
            .client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                &[&name],
            )
            .await
            .map_err(|e| self.error(&format!("read the catalog of table {table:?}"), &e))?;
        if columns.is_empty() {
            return Ok(None);
        }
        // A table made by an earlier run, or by hand: the query role may read it too.
        if let Some(role) = self.query_role.clone().filter(|_| self.query_grants) {
            let granted: bool = self
                .client
                .query_one(
                    "SELECT has_table_privilege($1, to_regclass($2), 'SELECT')",
                    &[&role, &name],
                )
                .await
                .map_err(|e| {
                    self.error(
                        &format!("check the query role's privilege on {table:?}"),
                        &e,
                    )
                })?
                .get(0);
            if !granted {
                self.grant_select(table).await;
            }
        }
        let key = self
            .client
            .query(
                "SELECT a.attname::text FROM pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n",
                &[&name],
            )
            .await
            .map_err(|e| self.error(&format!("read the primary key of table {table:?}"), &e))?;
        Ok(Some(TableInfo {
            columns: columns.iter().map(|r| (r.get(0), r.get(1))).collect(),
            key: key.iter().map(|r| r.get(0)).collect(),
        }))
    }

    async fn create_table(
        &mut self,
        table: &str,
        columns: &[Column],
        key: &[String],
    ) -> Result<(), TargetError> {
        self.client
            .batch_execute(&create_table_sql(table, columns, key, postgres_type))
            .await
            .map_err(|e| self.error(&format!("create table {table:?}"), &e))?;
        self.grant_select(table).await;
        Ok(())
    }

    async fn add_columns(&mut self, table: &str, columns: &[Column]) -> Result<(), TargetError> {
        let adds: Vec<String> = columns
            .iter()
            .map(|c| {
                format!(
                    "ADD COLUMN IF NOT EXISTS {} {}",
                    quote(&c.name),
                    postgres_type(&c.ty)
                )
            })
            .collect();
        self.client
            .batch_execute(&format!("ALTER TABLE {} {}", quote(table), adds.join(", ")))
            .await
            .map_err(|e| self.error(&format!("add columns to table {table:?}"), &e))
    }

    async fn apply(
        &mut self,
        batch: &Batch,
        mode: InsertMode,
        tables: &HashMap<String, TableInfo>,
        connector: &str,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<(), TargetError> {
        // Statements are prepared before the transaction opens (they outlive it).
        let mut work: Vec<Step> = Vec::new();
        for (table, changes) in batch.tables() {
            let Some(info) = tables.get(table) else {
                continue;
            };
            let t = quote(table);
            if changes.truncate {
                let stmt = self.statement(format!("TRUNCATE TABLE {t}"), 0).await?;
                work.push((stmt, Vec::new(), format!("truncate table {table:?}")));
            }
            let key: Vec<String> = changes.key_columns.iter().map(|c| c.name.clone()).collect();
            let deleted: Vec<&Entry> = changes.entries().iter().filter(|e| e.delete).collect();
            if !deleted.is_empty() && !key.is_empty() {
                let keys: Vec<&Column> = changes.key_columns.iter().collect();
                let (from, _) = unnest(info, &keys);
                let matches = keys
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{t}.{} = u.c{i}::{}", quote(&c.name), cast(info, c)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let sql = format!("DELETE FROM {t} USING {from} WHERE {matches}");
                let stmt = self.statement(sql, keys.len()).await?;
                let mut columns = vec![Vec::with_capacity(deleted.len()); keys.len()];
                for entry in &deleted {
                    for (i, (c, cell)) in changes.key_columns.iter().zip(&entry.key).enumerate() {
                        columns[i]
                            .push(pg_text(&c.ty, cell, &c.name).map_err(TargetError::Refused)?);
                    }
                }
                work.push((stmt, columns, format!("delete from table {table:?}")));
            }
            for group in write_groups(changes.entries()) {
                let cols: Vec<&Column> = group.present.iter().map(|i| &group.columns[*i]).collect();
                let Some(sql) = write_sql(&t, info, &cols, &key, mode) else {
                    continue;
                };
                let stmt = self.statement(sql, cols.len()).await?;
                let mut columns = vec![Vec::with_capacity(group.rows.len()); cols.len()];
                for cells in &group.rows {
                    for (i, (j, c)) in group.present.iter().zip(&cols).enumerate() {
                        columns[i].push(
                            pg_text(&c.ty, &cells[*j], &c.name).map_err(TargetError::Refused)?,
                        );
                    }
                }
                work.push((stmt, columns, format!("write to table {table:?}")));
            }
            for (columns, cells) in changes.unkeyed() {
                let cols: Vec<&Column> = columns.iter().collect();
                let Some(sql) = write_sql(&t, info, &cols, &[], InsertMode::Insert) else {
                    continue;
                };
                let stmt = self.statement(sql, cols.len()).await?;
                let values = cols
                    .iter()
                    .zip(cells)
                    .map(|(c, cell)| pg_text(&c.ty, cell, &c.name).map(|v| vec![v]))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(TargetError::Refused)?;
                work.push((stmt, values, format!("insert into table {table:?}")));
            }
        }
        let offsets_sql = format!(
            "INSERT INTO {} (connector, topic, partition, next_offset) SELECT $1::text, t, p::integer, o::bigint FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, p, o) ON CONFLICT (connector, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
            quote(&self.offsets_table)
        );
        let offsets_stmt = self
            .statement_typed(
                offsets_sql,
                &[
                    Type::TEXT,
                    Type::TEXT_ARRAY,
                    Type::TEXT_ARRAY,
                    Type::TEXT_ARRAY,
                ],
            )
            .await?;
        let topics: Vec<Option<String>> = offsets
            .iter()
            .map(|(tp, _)| Some(tp.topic.clone()))
            .collect();
        let partitions: Vec<Option<String>> = offsets
            .iter()
            .map(|(tp, _)| Some(tp.partition.to_string()))
            .collect();
        let nexts: Vec<Option<String>> = offsets.iter().map(|(_, o)| Some(o.to_string())).collect();
        let display = self.display.clone();
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| pg_error(&display, "begin a transaction", &e))?;
        for (stmt, arrays, action) in &work {
            tx.execute_raw(stmt, arrays.iter())
                .await
                .map_err(|e| pg_error(&display, action, &e))?;
        }
        tx.execute(&offsets_stmt, &[&connector, &topics, &partitions, &nexts])
            .await
            .map_err(|e| pg_error(&display, "store offsets", &e))?;
        tx.commit()
            .await
            .map_err(|e| pg_error(&display, "commit", &e))
    }

    async fn alter_offsets(
        &mut self,
        connector: &str,
        offsets: &[(TopicPartition, Option<u64>)],
    ) -> Result<(), TargetError> {
        self.set_up().await?;
        let table = quote(&self.offsets_table);
        let upsert = format!("INSERT INTO {table} (connector, topic, partition, next_offset) VALUES ($1, $2, $3, $4) ON CONFLICT (connector, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset");
        let delete =
            format!("DELETE FROM {table} WHERE connector = $1 AND topic = $2 AND partition = $3");
        let display = self.display.clone();
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| pg_error(&display, "begin a transaction", &e))?;
        for (tp, offset) in offsets {
            let partition = i32::try_from(tp.partition).map_err(|_| {
                TargetError::Refused(format!("partition {} is out of range", tp.partition))
            })?;
            let done = match offset {
                Some(next) => {
                    let next = i64::try_from(*next).map_err(|_| {
                        TargetError::Refused(format!("offset {next} is out of range"))
                    })?;
                    tx.execute(&upsert, &[&connector, &tp.topic, &partition, &next])
                        .await
                }
                None => {
                    tx.execute(&delete, &[&connector, &tp.topic, &partition])
                        .await
                }
            };
            done.map_err(|e| pg_error(&display, "alter offsets", &e))?;
        }
        tx.commit()
            .await
            .map_err(|e| pg_error(&display, "commit", &e))
    }

    fn sql_type(&self, ty: &ColumnType) -> String {
        postgres_type(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_postgresql_reads_them() {
        let t = |ty: ColumnType, cell: Cell| pg_text(&ty, &cell, "c").unwrap().unwrap();
        assert_eq!(t(ColumnType::Date, Cell::Int(-719_529)), "0002-12-31 BC");
        assert_eq!(t(ColumnType::Date, Cell::Int(19_000)), "2022-01-08");
        assert_eq!(
            t(
                ColumnType::Timestamp { unit: Unit::Micros },
                Cell::Int(1_500_000)
            ),
            "1970-01-01 00:00:01.5"
        );
        assert_eq!(t(ColumnType::Bytes, Cell::Bytes(vec![0, 255])), "\\x00ff");
        assert_eq!(
            t(ColumnType::Float64, Cell::Float(f64::NEG_INFINITY)),
            "-Infinity"
        );
        assert_eq!(
            t(
                ColumnType::Array(Box::new(ColumnType::Text)),
                Cell::Array(vec![Cell::Text("a\"b".into()), Cell::Null])
            ),
            "{\"a\\\"b\",NULL}"
        );
        assert!(pg_text(&ColumnType::Text, &Cell::Text("a\0".into()), "c").is_err());
        assert_eq!(
            postgres_type(&ColumnType::Array(Box::new(ColumnType::Decimal {
                precision: Some(10),
                scale: 2
            }))),
            "numeric(10,2)[]"
        );
    }
}
