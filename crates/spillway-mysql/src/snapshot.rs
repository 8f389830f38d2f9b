//! The initial snapshot: the captured tables read inside one consistent snapshot whose
//! binlog position is known exactly, so streaming continues right after it.
//!
//! MariaDB reports that position lock-free for `START TRANSACTION WITH CONSISTENT SNAPSHOT`
//! (`Binlog_snapshot_file` / `Binlog_snapshot_position`). MySQL needs a brief global read
//! lock while the transaction starts and the position is read (`snapshot.locking.mode`).

use crate::config::{LockingMode, MysqlConfig};
use crate::decode::gtid::GtidSet;
use crate::error::MysqlError;
use crate::position::{file_sequence, BinlogPosition};
use crate::schema::CapturedTable;
use crate::source_info::{now_us, source_info, SnapshotMarker, SourceFields};
use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use spillway_core::schema::ConnectSchema;
use spillway_core::{ChangeEvent, Op, Position, Row, SourceBatch};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tracing::info;

/// Rows per batch handed to the pipeline.
const BATCH: usize = 1024;

/// Where the snapshot's transaction sees the binlog.
pub async fn start(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
    is_mariadb: bool,
) -> Result<BinlogPosition, MysqlError> {
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(|e| MysqlError::query("setting the snapshot isolation level", e))?;
    if is_mariadb {
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await
            .map_err(|e| MysqlError::query("starting the snapshot transaction", e))?;
        let rows: Vec<(String, String)> = conn
            .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            .await
            .map_err(|e| MysqlError::query("reading the snapshot's binlog position", e))?;
        let get = |k: &str| {
            rows.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let file = get("Binlog_snapshot_file");
        let pos: u64 = get("Binlog_snapshot_position").parse().unwrap_or(0);
        if file.is_empty() || pos == 0 {
            return Err(MysqlError::preflight(
                "the server did not report the snapshot's binlog position",
                "check that the binary log is enabled (log_bin)",
            ));
        }
        let gtid = mariadb_gtid_at(conn, &file, pos).await?;
        return Ok(BinlogPosition {
            file,
            pos,
            gtid: gtid.map(|g| GtidSet::read(&g)),
        });
    }
    let lock = config.locking_mode != LockingMode::None;
    if lock {
        conn.query_drop("FLUSH TABLES WITH READ LOCK")
            .await
            .map_err(|e| {
                MysqlError::query(
                    "taking the global read lock (needs RELOAD; or set snapshot.locking.mode=none)",
                    e,
                )
            })?;
    }
    let result = async {
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await
            .map_err(|e| MysqlError::query("starting the snapshot transaction", e))?;
        server_position(conn, false).await
    }
    .await;
    if lock {
        conn.query_drop("UNLOCK TABLES")
            .await
            .map_err(|e| MysqlError::query("releasing the global read lock", e))?;
    }
    result
}

/// How the snapshot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    Completed { rows: u64 },
    Interrupted,
}

/// Reads every table inside the started snapshot and emits `op: r` events, with Debezium's
/// snapshot markers (first, true, last_in_data_collection, ..., last).
#[allow(clippy::too_many_arguments)]
pub async fn read_tables(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
    at: &BinlogPosition,
    tables: &[CapturedTable],
    source_schema: &Arc<ConnectSchema>,
    batches: &mpsc::Sender<SourceBatch>,
    shutdown: &watch::Receiver<bool>,
) -> Result<SnapshotOutcome, MysqlError> {
    // Debezium stamps snapshot rows with the read time in whole seconds.
    let started_us = now_us() / 1_000_000 * 1_000_000;
    let file_seq = file_sequence(&at.file);
    let mut events: Vec<ChangeEvent> = Vec::with_capacity(BATCH);
    let mut pending: Option<(usize, Row, bool)> = None;
    let mut rows = 0u64;
    let mut emitted_any = false;
    let connector = config.flavor.connector_name();
    let mut emit = |table: usize,
                    row: Row,
                    first_in_table: bool,
                    last_in_table: bool,
                    last: bool,
                    events: &mut Vec<ChangeEvent>| {
        let schema = &tables[table].schema;
        let marker = SnapshotMarker::for_row(!emitted_any, first_in_table, last_in_table, last);
        emitted_any = true;
        rows += 1;
        events.push(ChangeEvent {
            table: schema.clone(),
            op: Op::Read,
            before: None,
            after: Some(row),
            source: source_info(
                source_schema,
                SourceFields {
                    connector,
                    server_name: &config.common.topic_prefix,
                    db: &schema.database,
                    table: Some(&schema.table),
                    ts_us: started_us,
                    snapshot: marker,
                    server_id: 0,
                    gtid: None,
                    file: &at.file,
                    pos: at.pos,
                    row: 0,
                    thread: None,
                },
            ),
            position: Position::snapshot(file_seq, rows),
            ts_us: now_us(),
        });
    };
    for (index, table) in tables.iter().enumerate() {
        let columns: Vec<String> = table
            .schema
            .columns
            .iter()
            .map(|c| format!("`{}`", c.name.replace('`', "``")))
            .collect();
        let sql = format!(
            "SELECT {} FROM `{}`.`{}`",
            columns.join(", "),
            table.id.database.replace('`', "``"),
            table.id.table.replace('`', "``")
        );
        info!(table = %table.id, "snapshot of table started");
        let estimated: Option<u64> = conn
            .exec_first(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&table.id.database, &table.id.table),
            )
            .await
            .ok()
            .flatten();
        let progress = spillway_core::metrics::snapshot_table(
            &config.common.name,
            &table.id.to_string(),
            estimated,
        );
        let decoders: Vec<_> = table.decoders.iter().filter(|d| d.included).collect();
        let mut first_in_table = true;
        let mut stream = conn
            .exec_stream::<mysql_async::Row, _, _>(sql.as_str(), ())
            .await
            .map_err(|e| MysqlError::query(format!("reading {}", table.id), e))?;
        while let Some(row) = stream.next().await {
            let row = row.map_err(|e| MysqlError::query(format!("reading {}", table.id), e))?;
            let raw = row.unwrap();
            let mut values = Vec::with_capacity(raw.len());
            for ((value, decoder), column) in raw.iter().zip(&decoders).zip(&table.schema.columns) {
                values.push(
                    decoder
                        .ty
                        .decode(value, &config.types, false)
                        .map_err(|e| MysqlError::Decode {
                            table: table.id.to_string(),
                            column: column.name.clone(),
                            position: "snapshot".to_string(),
                            detail: e.0,
                        })?,
                );
            }
            if let Some((t, r, f)) = pending.take() {
                emit(t, r, f, t != index, false, &mut events);
            }
            pending = Some((index, Row(values), first_in_table));
            first_in_table = false;
            progress.add(1);
            if events.len() >= BATCH {
                send(batches, &mut events, None).await?;
                if *shutdown.borrow() {
                    return Ok(SnapshotOutcome::Interrupted);
                }
            }
        }
        drop(stream);
        progress.finish();
        info!(table = %table.id, rows = progress.rows(), "snapshot of table done");
    }
    if let Some((t, r, f)) = pending.take() {
        emit(t, r, f, true, true, &mut events);
    }
    send(batches, &mut events, None).await?;
    conn.query_drop("COMMIT")
        .await
        .map_err(|e| MysqlError::query("ending the snapshot transaction", e))?;
    Ok(SnapshotOutcome::Completed { rows })
}

/// The server's current binlog position, with its GTID position.
pub async fn server_position(
    conn: &mut mysql_async::Conn,
    is_mariadb: bool,
) -> Result<BinlogPosition, MysqlError> {
    let row: Option<mysql_async::Row> = match conn.query_first("SHOW BINARY LOG STATUS").await {
        Ok(row) => row,
        Err(_) => conn
            .query_first("SHOW MASTER STATUS")
            .await
            .map_err(|e| MysqlError::query("reading the binlog position", e))?,
    };
    let row = row.ok_or_else(|| {
        MysqlError::preflight(
            "the server reports no binlog position",
            "enable the binary log (log_bin)",
        )
    })?;
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or(4);
    let gtid = if is_mariadb {
        mariadb_gtid_at(conn, &file, pos).await?
    } else {
        // MySQL's fifth column, Executed_Gtid_Set (empty without GTIDs).
        row.get::<Option<String>, _>(4)
            .flatten()
            .filter(|g| !g.is_empty())
    };
    Ok(BinlogPosition {
        file,
        pos,
        gtid: gtid.map(|g| GtidSet::read(&g)),
    })
}

/// MariaDB's GTID position at a binlog place.
async fn mariadb_gtid_at(
    conn: &mut mysql_async::Conn,
    file: &str,
    pos: u64,
) -> Result<Option<String>, MysqlError> {
    let gtid: Option<String> = conn
        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file, pos))
        .await
        .map_err(|e| MysqlError::query("reading the GTID position", e))?
        .flatten();
    Ok(gtid.filter(|g| !g.is_empty()))
}

/// Hands `events` and an optional checkpoint to the pipeline.
pub(crate) async fn send(
    batches: &mpsc::Sender<SourceBatch>,
    events: &mut Vec<ChangeEvent>,
    checkpoint: Option<spillway_core::Offset>,
) -> Result<(), MysqlError> {
    if events.is_empty() && checkpoint.is_none() {
        return Ok(());
    }
    batches
        .send(SourceBatch {
            records: Vec::new(),
            events: std::mem::take(events),
            heartbeat: None,
            checkpoint,
        })
        .await
        .map_err(|_| MysqlError::Binlog {
            detail: "the pipeline stopped accepting events".to_string(),
            transient: false,
        })
}
