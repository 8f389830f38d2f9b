//! SQLite as a projection's table store: one file in WAL mode, so any SQLite client reads it
//! while the projection writes.
//!
//! SQLite types by affinity: integers `INTEGER` (declared `SMALLINT`, `INTEGER`, `BIGINT`),
//! floats `REAL`/`DOUBLE`, booleans `BOOLEAN` (0 or 1), decimals of up to 15 digits
//! `DECIMAL(p,s)` (numeric affinity keeps them exactly as REAL or INTEGER) and longer ones
//! `TEXT` (exact digits), dates, times and timestamps ISO-8601 text (`DATE`, `TIME`,
//! `TIMESTAMP` as `YYYY-MM-DD HH:MM:SS.ffffff`, which SQLite's date functions read;
//! `TIMESTAMPTZ` with the offset as the source wrote it), bytes `BLOB`, JSON, arrays and
//! other structs JSON text (`JSON`), durations microseconds (`INTERVAL`).
//!
//! Commits use `synchronous=NORMAL`: a commit survives the process being killed; a power
//! loss may take the last commits, rows and offsets together, which the projection then
//! applies again from the stream.

use super::{create_table_sql, quote, TableInfo, Target, TargetError};
use crate::batch::{Batch, Entry};
use crate::cell::Cell;
use crate::config::InsertMode;
use crate::shape::{Column, ColumnType};
use crate::target::{chunks, date_text, time_text, timestamp_text, write_groups};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql, TransactionBehavior};
use spillway_core::TopicPartition;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Bound parameters per statement, at most (SQLite's default limit is 32766).
const MAX_PARAMS: usize = 32_000;
/// Rows per multi-row statement, at most; smaller remainders go in power-of-two chunks so
/// few distinct statements are prepared.
const MAX_ROWS: usize = 256;

/// A SQLite file a projection writes.
pub struct SqliteTarget {
    conn: Connection,
    path: PathBuf,
    offsets_table: String,
}

impl SqliteTarget {
    /// Opens (creating when missing) the database file at `path`.
    pub fn open(path: &Path, offsets_table: &str) -> Result<SqliteTarget, TargetError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                TargetError::Refused(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
        .map_err(|e| {
            TargetError::Refused(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| sqlite_error(path, "configure", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| sqlite_error(path, "switch to WAL mode", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sqlite_error(path, "configure", e))?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(SqliteTarget {
            conn,
            path: path.to_path_buf(),
            offsets_table: offsets_table.to_string(),
        })
    }

    fn error(&self, action: &str, e: rusqlite::Error) -> TargetError {
        sqlite_error(&self.path, action, e)
    }
}

fn sqlite_error(path: &Path, action: &str, e: rusqlite::Error) -> TargetError {
    let message = format!("SQLite {}: cannot {action}: {e}", path.display());
    match e.sqlite_error_code() {
        Some(
            rusqlite::ErrorCode::DatabaseBusy
            | rusqlite::ErrorCode::DatabaseLocked
            | rusqlite::ErrorCode::SystemIoFailure
            | rusqlite::ErrorCode::DiskFull,
        ) => TargetError::Unavailable(message),
        _ => TargetError::Refused(message),
    }
}

/// Runs blocking SQLite work on a runtime thread that may block.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// The SQLite type of a column.
pub fn sqlite_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Int16 => "SMALLINT".into(),
        ColumnType::Int32 => "INTEGER".into(),
        ColumnType::Int64 => "BIGINT".into(),
        ColumnType::Float32 => "REAL".into(),
        ColumnType::Float64 => "DOUBLE".into(),
        ColumnType::Boolean => "BOOLEAN".into(),
        ColumnType::Text | ColumnType::Xml => "TEXT".into(),
        ColumnType::Bytes => "BLOB".into(),
        ColumnType::Decimal {
            precision: Some(p),
            scale,
        } if *p <= 15 => format!("DECIMAL({p},{scale})"),
        ColumnType::Decimal { .. } | ColumnType::VariableDecimal => "TEXT".into(),
        ColumnType::Date => "DATE".into(),
        ColumnType::Time { .. } => "TIME".into(),
        ColumnType::Timestamp { .. } => "TIMESTAMP".into(),
        ColumnType::ZonedTimestamp => "TIMESTAMPTZ".into(),
        ColumnType::ZonedTime => "TIMETZ".into(),
        ColumnType::Interval => "INTERVAL".into(),
        ColumnType::Json | ColumnType::Array(_) | ColumnType::Document => "JSON".into(),
        ColumnType::Uuid => "UUID".into(),
    }
}

/// A cell bound as SQLite stores it for its column type.
struct Bind<'a>(&'a ColumnType, &'a Cell);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.1 {
            Cell::Null | Cell::Unavailable => ToSqlOutput::Borrowed(ValueRef::Null),
            Cell::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Cell::Int(i) => match self.0 {
                ColumnType::Date => ToSqlOutput::from(date_text(*i)),
                ColumnType::Time { .. } => ToSqlOutput::from(time_text(*i)),
                ColumnType::Timestamp { .. } => ToSqlOutput::from(timestamp_text(*i)),
                _ => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            },
            // SQLite stores NaN as NULL: keep it as text.
            Cell::Float(f) if f.is_nan() => ToSqlOutput::Borrowed(ValueRef::Text(b"NaN")),
            Cell::Float(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Cell::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Cell::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Cell::Array(items) => {
                let item = match self.0 {
                    ColumnType::Array(item) => item.as_ref(),
                    other => other,
                };
                ToSqlOutput::from(json_array(item, items).to_string())
            }
        })
    }
}

/// An array as JSON, elements as SQLite would show them.
fn json_array(item: &ColumnType, cells: &[Cell]) -> serde_json::Value {
    use base64::Engine;
    serde_json::Value::Array(
        cells
            .iter()
            .map(|c| match c {
                Cell::Null | Cell::Unavailable => serde_json::Value::Null,
                Cell::Bool(b) => (*b).into(),
                Cell::Int(i) => match item {
                    ColumnType::Date => date_text(*i).into(),
                    ColumnType::Time { .. } => time_text(*i).into(),
                    ColumnType::Timestamp { .. } => timestamp_text(*i).into(),
                    _ => (*i).into(),
                },
                Cell::Float(f) => serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .unwrap_or_else(|| f.to_string().into()),
                Cell::Text(s) => s.as_str().into(),
                Cell::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b).into(),
                Cell::Array(inner) => json_array(item, inner),
            })
            .collect(),
    )
}

fn placeholders(rows: usize, per_row: usize) -> String {
    let row = format!("({})", vec!["?"; per_row].join(","));
    vec![row; rows].join(",")
}

fn write_sql(
    table: &str,
    columns: &[&Column],
    key: &[String],
    mode: InsertMode,
    rows: usize,
) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        quote(table),
        names.join(","),
        placeholders(rows, columns.len())
    );
    if mode == InsertMode::Upsert && !key.is_empty() {
        let keys: Vec<String> = key.iter().map(|k| quote(k)).collect();
        let sets: Vec<String> = columns
            .iter()
            .filter(|c| !key.contains(&c.name))
            .map(|c| format!("{0}=excluded.{0}", quote(&c.name)))
            .collect();
        if sets.is_empty() {
            sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", keys.join(",")));
        } else {
            sql.push_str(&format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                keys.join(","),
                sets.join(",")
            ));
        }
    }
    sql
}

impl Target for SqliteTarget {
    async fn load_offsets(
        &mut self,
        connector: &str,
    ) -> Result<HashMap<TopicPartition, u64>, TargetError> {
        blocking(|| {
            self.conn
                .execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS {} (connector TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (connector, topic, partition))",
                    quote(&self.offsets_table)
                ))
                .map_err(|e| self.error("create the offsets table", e))?;
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT topic, partition, next_offset FROM {} WHERE connector = ?1",
                    quote(&self.offsets_table)
                ))
                .map_err(|e| self.error("read offsets", e))?;
            let rows = stmt
                .query_map([connector], |row| {
                    Ok((
                        TopicPartition::new(row.get::<_, String>(0)?, row.get::<_, u32>(1)?),
                        row.get::<_, i64>(2)?.max(0) as u64,
                    ))
                })
                .map_err(|e| sqlite_error(&self.path, "read offsets", e))?;
            rows.collect::<Result<HashMap<_, _>, _>>()
                .map_err(|e| sqlite_error(&self.path, "read offsets", e))
        })
    }

    async fn describe(&mut self, table: &str) -> Result<Option<TableInfo>, TargetError> {
        blocking(|| {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid")
                .map_err(|e| self.error("read the catalog", e))?;
            let rows: Vec<(String, String, i64)> = stmt
                .query_map([table], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .and_then(|rows| rows.collect())
                .map_err(|e| sqlite_error(&self.path, "read the catalog", e))?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut key: Vec<(i64, String)> = rows
                .iter()
                .filter(|(_, _, pk)| *pk > 0)
                .map(|(n, _, pk)| (*pk, n.clone()))
                .collect();
            key.sort();
            Ok(Some(TableInfo {
                columns: rows.into_iter().map(|(n, t, _)| (n, t)).collect(),
                key: key.into_iter().map(|(_, n)| n).collect(),
            }))
        })
    }

    async fn create_table(
        &mut self,
        table: &str,
        columns: &[Column],
        key: &[String],
    ) -> Result<(), TargetError> {
        let sql = create_table_sql(table, columns, key, sqlite_type);
        blocking(|| self.conn.execute_batch(&sql))
            .map_err(|e| self.error(&format!("create table {table:?}"), e))
    }

    async fn add_columns(&mut self, table: &str, columns: &[Column]) -> Result<(), TargetError> {
        blocking(|| {
            for c in columns {
                self.conn
                    .execute_batch(&format!(
                        "ALTER TABLE {} ADD COLUMN {} {}",
                        quote(table),
                        quote(&c.name),
                        sqlite_type(&c.ty)
                    ))
                    .map_err(|e| {
                        self.error(&format!("add column {:?} to table {table:?}", c.name), e)
                    })?;
            }
            Ok(())
        })
    }

    async fn apply(
        &mut self,
        batch: &Batch,
        mode: InsertMode,
        tables: &HashMap<String, TableInfo>,
        connector: &str,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<(), TargetError> {
        let path = self.path.clone();
        let offsets_table = self.offsets_table.clone();
        blocking(|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sqlite_error(&path, "begin a transaction", e))?;
            for (table, changes) in batch.tables() {
                if !tables.contains_key(table) {
                    // Only deletes of a table that does not exist: nothing to delete.
                    continue;
                }
                let fail = |action: &str, e: rusqlite::Error| {
                    sqlite_error(&path, &format!("{action} table {table:?}"), e)
                };
                if changes.truncate {
                    tx.execute(&format!("DELETE FROM {}", quote(table)), [])
                        .map_err(|e| fail("truncate", e))?;
                }
                let key: Vec<String> = changes.key_columns.iter().map(|c| c.name.clone()).collect();
                // Deletes.
                let deleted: Vec<&Entry> = changes.entries().iter().filter(|e| e.delete).collect();
                if !deleted.is_empty() && !key.is_empty() {
                    let per_row = key.len();
                    let mut rest = deleted.as_slice();
                    for size in chunks(deleted.len(), (MAX_PARAMS / per_row).clamp(1, MAX_ROWS)) {
                        let (now, later) = rest.split_at(size);
                        rest = later;
                        let target = if per_row == 1 {
                            quote(&key[0])
                        } else {
                            format!(
                                "({})",
                                key.iter().map(|k| quote(k)).collect::<Vec<_>>().join(",")
                            )
                        };
                        let values = if per_row == 1 {
                            vec!["?"; size].join(",")
                        } else {
                            format!("VALUES {}", placeholders(size, per_row))
                        };
                        let sql =
                            format!("DELETE FROM {} WHERE {target} IN ({values})", quote(table));
                        let mut stmt = tx
                            .prepare_cached(&sql)
                            .map_err(|e| fail("delete from", e))?;
                        let mut i = 1;
                        for entry in now {
                            for (c, cell) in changes.key_columns.iter().zip(&entry.key) {
                                stmt.raw_bind_parameter(i, Bind(&c.ty, cell))
                                    .map_err(|e| fail("delete from", e))?;
                                i += 1;
                            }
                        }
                        stmt.raw_execute().map_err(|e| fail("delete from", e))?;
                    }
                }
                // Writes.
                for group in write_groups(changes.entries()) {
                    let (present, columns, rows) = (group.present, group.columns, group.rows);
                    let cols: Vec<&Column> = present.iter().map(|i| &columns[*i]).collect();
                    if mode == InsertMode::Update {
                        update_rows(&tx, table, &cols, &present, &key, &rows)
                            .map_err(|e| fail("update", e))?;
                        continue;
                    }
                    let mut rest = rows.as_slice();
                    let max_rows = (MAX_PARAMS / cols.len().max(1)).clamp(1, MAX_ROWS);
                    for size in chunks(rows.len(), max_rows) {
                        let (now, later) = rest.split_at(size);
                        rest = later;
                        let sql = write_sql(table, &cols, &key, mode, size);
                        let mut stmt = tx.prepare_cached(&sql).map_err(|e| fail("write to", e))?;
                        let mut i = 1;
                        for cells in now {
                            for (j, c) in present.iter().zip(&cols) {
                                stmt.raw_bind_parameter(i, Bind(&c.ty, &cells[*j]))
                                    .map_err(|e| fail("write to", e))?;
                                i += 1;
                            }
                        }
                        stmt.raw_execute().map_err(|e| fail("write to", e))?;
                    }
                }
                for (columns, cells) in changes.unkeyed() {
                    let cols: Vec<&Column> = columns.iter().collect();
                    let sql = write_sql(table, &cols, &[], InsertMode::Insert, 1);
                    let mut stmt = tx
                        .prepare_cached(&sql)
                        .map_err(|e| fail("insert into", e))?;
                    for (i, (c, cell)) in cols.iter().zip(cells).enumerate() {
                        stmt.raw_bind_parameter(i + 1, Bind(&c.ty, cell))
                            .map_err(|e| fail("insert into", e))?;
                    }
                    stmt.raw_execute().map_err(|e| fail("insert into", e))?;
                }
            }
            {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO {} (connector, topic, partition, next_offset) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (connector, topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                        quote(&offsets_table)
                    ))
                    .map_err(|e| sqlite_error(&path, "store offsets", e))?;
                for (tp, next) in offsets {
                    stmt.execute(rusqlite::params![
                        connector,
                        tp.topic,
                        tp.partition,
                        *next as i64
                    ])
                    .map_err(|e| sqlite_error(&path, "store offsets", e))?;
                }
            }
            tx.commit().map_err(|e| sqlite_error(&path, "commit", e))
        })
    }

    async fn alter_offsets(
        &mut self,
        connector: &str,
        offsets: &[(TopicPartition, Option<u64>)],
    ) -> Result<(), TargetError> {
        self.load_offsets(connector).await?;
        let table = quote(&self.offsets_table);
        let path = self.path.clone();
        blocking(|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sqlite_error(&path, "begin", e))?;
            for (tp, offset) in offsets {
                let done = match offset {
                    Some(next) => tx.execute(
                        &format!("INSERT INTO {table} (connector, topic, partition, next_offset) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (connector, topic, partition) DO UPDATE SET next_offset = excluded.next_offset"),
                        rusqlite::params![connector, tp.topic, tp.partition, *next as i64],
                    ),
                    None => tx.execute(
                        &format!("DELETE FROM {table} WHERE connector = ?1 AND topic = ?2 AND partition = ?3"),
                        rusqlite::params![connector, tp.topic, tp.partition],
                    ),
                };
                done.map_err(|e| sqlite_error(&path, "alter offsets", e))?;
            }
            tx.commit().map_err(|e| sqlite_error(&path, "commit", e))
        })
    }

    fn sql_type(&self, ty: &ColumnType) -> String {
        sqlite_type(ty)
    }
}

/// `insert.mode=update`: one UPDATE per row, by key.
fn update_rows(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    cols: &[&Column],
    present: &[usize],
    key: &[String],
    rows: &[&Vec<Cell>],
) -> rusqlite::Result<()> {
    let sets: Vec<(usize, &Column)> = present
        .iter()
        .zip(cols)
        .filter(|(_, c)| !key.contains(&c.name))
        .map(|(i, c)| (*i, *c))
        .collect();
    let wheres: Vec<(usize, &Column)> = present
        .iter()
        .zip(cols)
        .filter(|(_, c)| key.contains(&c.name))
        .map(|(i, c)| (*i, *c))
        .collect();
    if sets.is_empty() || wheres.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE {} SET {} WHERE {}",
        quote(table),
        sets.iter()
            .map(|(_, c)| format!("{}=?", quote(&c.name)))
            .collect::<Vec<_>>()
            .join(","),
        wheres
            .iter()
            .map(|(_, c)| format!("{}=?", quote(&c.name)))
            .collect::<Vec<_>>()
            .join(" AND ")
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    for cells in rows {
        for (i, (j, c)) in (1..).zip(sets.iter().chain(&wheres)) {
            stmt.raw_bind_parameter(i, Bind(&c.ty, &cells[*j]))?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn an_operator_moves_and_forgets_offsets_of_one_connector() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut target = SqliteTarget::open(&path, "offs").unwrap();
        let tp = |t: &str, p: u32| TopicPartition::new(t, p);
        target
            .alter_offsets("a", &[(tp("x", 0), Some(10)), (tp("x", 1), Some(20))])
            .await
            .unwrap();
        target
            .alter_offsets("b", &[(tp("x", 0), Some(5))])
            .await
            .unwrap();
        target
            .alter_offsets("a", &[(tp("x", 0), Some(3)), (tp("x", 1), None)])
            .await
            .unwrap();
        let mut reopened = SqliteTarget::open(&path, "offs").unwrap();
        let a = reopened.load_offsets("a").await.unwrap();
        assert_eq!(a, HashMap::from([(tp("x", 0), 3)]));
        let b = reopened.load_offsets("b").await.unwrap();
        assert_eq!(b, HashMap::from([(tp("x", 0), 5)]));
    }
}
