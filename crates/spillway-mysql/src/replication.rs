//! Streaming: binlog events read as a replica, turned into change events; progress is
//! committed per transaction, with the row index inside the transaction for restarts in
//! its middle.

use crate::catalog::read_raw_table;
use crate::config::{Flavor, MysqlConfig};
use crate::decode::compressed;
use crate::decode::event::{
    event_type_name, strip_valid_crc32, EventHeader, Rotate, MARIADB_GTID_EVENT,
};
use crate::decode::gtid::{Gtid, GtidSet};
use crate::decode::mariadb_events::{gtid_flags, GtidEvent};
use crate::decode::rows::{self, Change, RowContext, RowsError, RowsEvent, RowsKind};
use crate::decode::table_map::{TableMap, TABLE_MAP_EVENT};
use crate::error::MysqlError;
use crate::history::{Entry, SchemaHistory};
use crate::position::{file_sequence, BinlogPosition};
use crate::schema::{self, CapturedTable};
use crate::schema_change::{dropped_table_change, SchemaRecords, TableChangeKind};
use crate::source_info::{now_us, source_info, SnapshotMarker, SourceFields};
use crate::table::TableId;
use futures_util::StreamExt;
use mysql_async::binlog::events::{Event, EventData};
use mysql_async::prelude::Queryable;
use spillway_core::emit::Emitter;
use spillway_core::schema::ConnectSchema;
use spillway_core::{ChangeEvent, Offset, Op, Position, SourceContext};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// Events per batch before it is handed over without waiting for a transaction's end.
/// How often transactions without captured changes move the committed position.
const IDLE_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// The rows events of MySQL 5.1's pre-GA binlogs (PRE_GA_WRITE/UPDATE/DELETE_ROWS): rows in
/// a form this reader does not decode, so an error rather than a skip.
const PRE_GA_ROWS_EVENTS: std::ops::RangeInclusive<u8> = 20..=22;

struct Transaction {
    /// Binlog position of the transaction's first event.
    start: u64,
    gtid: Option<Gtid>,
    /// `gtid` as the source block of each change names it.
    gtid_text: Option<String>,
    rows: u64,
    emitted: u64,
    ts_us: i64,
    thread: Option<u64>,
    server_id: u32,
    /// A statement that commits by itself (DDL); `false` for a MariaDB transaction that
    /// continues after its statement (`CREATE TABLE ... SELECT` and its rows).
    standalone: bool,
}

/// Where streaming starts and what it starts with.
pub struct StreamStart {
    pub at: BinlogPosition,
    /// Events at or before this position were committed before the restart.
    pub resume: Option<Position>,
    /// Table definitions as of `at`.
    pub history: SchemaHistory,
}

/// Reads the binlog and emits events.
pub struct Streamer<'a> {
    pub config: &'a MysqlConfig,
    /// A SQL connection for reading table definitions.
    pub catalog: mysql_async::Conn,
    pub source_schema: Arc<ConnectSchema>,
    /// Batches events and schema-change records for the pipeline.
    emitter: Emitter,
    pub shutdown: watch::Receiver<bool>,
    /// Events at or before this position were committed before the restart.
    pub resume: Option<Position>,
    /// Where reading starts, and then where it is.
    pub at: BinlogPosition,
    /// The server is MariaDB.
    pub mariadb: bool,
    history: SchemaHistory,
    schema_records: SchemaRecords,
    /// Table maps of the current statements, by table id.
    maps: HashMap<u64, TableMap>,
    tables: HashMap<TableId, Option<CapturedTable>>,
    txn: Option<Transaction>,
    last_idle_checkpoint: std::time::Instant,
}

impl<'a> Streamer<'a> {
    pub fn new(
        config: &'a MysqlConfig,
        catalog: mysql_async::Conn,
        source_schema: Arc<ConnectSchema>,
        ctx: &SourceContext,
        start: StreamStart,
        mariadb: bool,
    ) -> Self {
        let StreamStart {
            at,
            resume,
            history,
        } = start;
        let schema_records = SchemaRecords::new(config, &source_schema);
        Streamer {
            config,
            catalog,
            source_schema,
            emitter: Emitter::new(ctx.batches.clone()).forward_checkpoints_only(),
            shutdown: ctx.shutdown.clone(),
            resume,
            at,
            mariadb,
            history,
            schema_records,
            maps: HashMap::new(),
            tables: HashMap::new(),
            txn: None,
            last_idle_checkpoint: std::time::Instant::now(),
        }
    }

    /// Streams until shutdown or an error.
    pub async fn run(&mut self, stream: &mut mysql_async::BinlogStream) -> Result<(), MysqlError> {
        let mut shutdown = self.shutdown.clone();
        let every = self
            .config
            .common
            .heartbeat
            .interval
            .unwrap_or(std::time::Duration::from_secs(3600));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                event = stream.next() => {
                    let Some(event) = event else {
                        return Err(MysqlError::Binlog {
                            detail: "the server ended the binlog stream".to_string(),
                            transient: true,
                        });
                    };
                    let event = event.map_err(binlog_error)?;
                    self.handle(&event).await?;
                }
                _ = heartbeat.tick(), if self.config.common.heartbeat.interval.is_some() => {
                    self.heartbeat().await?;
                }
                _ = shutdown.changed() => {}
            }
        }
        self.flush(None).await
    }

    async fn handle(&mut self, event: &Event) -> Result<(), MysqlError> {
        let header = event.header();
        let end = u64::from(header.log_pos());
        let start = end.saturating_sub(u64::from(header.event_size()));
        let ts_us = i64::from(header.timestamp()) * 1_000_000;
        if header.event_type_raw() == MARIADB_GTID_EVENT {
            let gtid = GtidEvent::decode(event.data()).map_err(|e| MysqlError::Binlog {
                detail: format!(
                    "cannot decode a MariaDB GTID event at {}:{start}: {e}",
                    self.at.file
                ),
                transient: false,
            })?;
            self.begin(
                start,
                Some(Gtid::Mariadb(gtid.gtid(header.server_id()))),
                ts_us,
                None,
                header.server_id(),
            );
            if let Some(txn) = self.txn.as_mut() {
                txn.standalone = gtid.flags2 & gtid_flags::FL_STANDALONE != 0;
            }
            return Ok(());
        }
        let event_type = header.event_type_raw();
        if event_type == TABLE_MAP_EVENT {
            let map = TableMap::decode(event.data()).map_err(|e| MysqlError::Binlog {
                detail: format!("cannot decode a table map at {}:{start}: {e}", self.at.file),
                transient: false,
            })?;
            self.maps.insert(map.table_id, map);
            self.at.pos = end.max(self.at.pos);
            return Ok(());
        }
        // Compressed events go the way of the plain ones they carry.
        if rows::MARIADB_COMPRESSED_ROWS_EVENTS.contains(&event_type) {
            let (plain, body) = compressed::mariadb_rows(event_type, event.data())
                .map_err(|e| self.undecodable(event_type, start, e))?;
            self.rows(plain, &body, start).await?;
            self.at.pos = end.max(self.at.pos);
            return Ok(());
        }
        if event_type == compressed::QUERY_COMPRESSED_EVENT {
            let q = compressed::query(event_type, event.data())
                .map_err(|e| self.undecodable(event_type, start, e))?;
            self.query(
                &q.sql,
                &q.schema,
                q.thread_id,
                start,
                end,
                ts_us,
                header.server_id(),
            )
            .await?;
            self.at.pos = end.max(self.at.pos);
            return Ok(());
        }
        if event_type == compressed::TRANSACTION_PAYLOAD_EVENT {
            self.payload(event.data(), start, end, ts_us).await?;
            self.at.pos = end.max(self.at.pos);
            return Ok(());
        }
        if rows::is_rows_event(event_type).is_some() {
            self.rows(event_type, event.data(), start).await?;
            self.at.pos = end.max(self.at.pos);
            return Ok(());
        }
        if PRE_GA_ROWS_EVENTS.contains(&event_type) {
            return Err(MysqlError::Binlog {
                detail: format!(
                    "{} (type {event_type}) at {}:{start} carries rows in a form this reader does not decode",
                    event_type_name(event_type),
                    self.at.file
                ),
                transient: false,
            });
        }
        let data = event.read_data().map_err(|e| MysqlError::Binlog {
            detail: format!(
                "cannot decode a binlog event at {}:{start}: {e}",
                self.at.file
            ),
            transient: false,
        })?;
        match data {
            Some(EventData::RotateEvent(_)) => {
                // The first (artificial) rotate comes before the format description, so its
                // checksum may still be in the body: decode it from the checked bytes.
                let raw_header = EventHeader::from(header);
                let body = strip_valid_crc32(&raw_header, event.data());
                let rotate = Rotate::decode(body).map_err(|e| MysqlError::Binlog {
                    detail: format!("cannot decode a rotate event: {e}"),
                    transient: false,
                })?;
                if rotate.next_file != self.at.file {
                    debug!(file = %rotate.next_file, "binlog rotated");
                }
                self.at.file = rotate.next_file;
                self.at.pos = rotate.position;
                return Ok(());
            }
            Some(EventData::GtidEvent(g)) => {
                self.begin(
                    start,
                    Some(Gtid::Mysql {
                        uuid: g.sid(),
                        gno: g.gno(),
                    }),
                    ts_us,
                    None,
                    header.server_id(),
                );
            }
            Some(EventData::QueryEvent(q)) => {
                let sql = q.query().into_owned();
                let db = q.schema().into_owned();
                self.query(
                    &sql,
                    &db,
                    q.thread_id(),
                    start,
                    end,
                    ts_us,
                    header.server_id(),
                )
                .await?;
            }
            Some(EventData::XidEvent(_)) => self.commit(end).await?,
            _ => {}
        }
        self.at.pos = end.max(self.at.pos);
        Ok(())
    }

    /// A compressed event that cannot be decoded: an error naming its type and position.
    fn undecodable(
        &self,
        event_type: u8,
        start: u64,
        e: compressed::CompressedError,
    ) -> MysqlError {
        MysqlError::Binlog {
            detail: format!(
                "cannot decode {} (type {event_type}) at {}:{start}: {e}",
                event_type_name(event_type),
                self.at.file
            ),
            transient: false,
        }
    }

    /// A QUERY event: BEGIN, COMMIT, TRUNCATE or another statement (DDL).
    #[allow(clippy::too_many_arguments)]
    async fn query(
        &mut self,
        sql: &str,
        db: &str,
        thread: u32,
        start: u64,
        end: u64,
        ts_us: i64,
        server_id: u32,
    ) -> Result<(), MysqlError> {
        let trimmed = sql.trim();
        if trimmed.eq_ignore_ascii_case("BEGIN") {
            if let Some(txn) = self.txn.as_mut() {
                txn.thread = Some(u64::from(thread));
            } else {
                self.begin(start, None, ts_us, Some(u64::from(thread)), server_id);
            }
        } else if trimmed.eq_ignore_ascii_case("COMMIT") {
            self.commit(end).await?;
        } else if let Some(id) = crate::ddl::truncated_table(sql, db) {
            self.truncate(&id, start, ts_us, server_id, u64::from(thread))
                .await?;
            self.commit(end).await?;
        } else {
            self.statement(sql, db, start, end, ts_us, server_id)
                .await?;
        }
        Ok(())
    }

    /// MySQL 8's TRANSACTION_PAYLOAD_EVENT: the transaction's events, decompressed one at a
    /// time and handled as if they stood in the binlog at the payload's place.
    async fn payload(
        &mut self,
        body: &[u8],
        start: u64,
        end: u64,
        ts_us: i64,
    ) -> Result<(), MysqlError> {
        let payload_type = compressed::TRANSACTION_PAYLOAD_EVENT;
        let mut events = compressed::payload_events(body)
            .map_err(|e| self.undecodable(payload_type, start, e))?;
        loop {
            let inner = match events.next_event() {
                Ok(Some(inner)) => inner,
                Ok(None) => break,
                Err(e) => return Err(self.undecodable(payload_type, start, e)),
            };
            let t = inner.event_type;
            if t == TABLE_MAP_EVENT {
                let map = TableMap::decode(&inner.body).map_err(|e| MysqlError::Binlog {
                    detail: format!(
                        "cannot decode a table map in the transaction payload at {}:{start}: {e}",
                        self.at.file
                    ),
                    transient: false,
                })?;
                self.maps.insert(map.table_id, map);
            } else if rows::is_rows_event(t).is_some() {
                self.rows(t, &inner.body, start).await?;
            } else if t == compressed::QUERY_EVENT {
                let q = compressed::query(t, &inner.body)
                    .map_err(|e| self.undecodable(payload_type, start, e))?;
                self.query(
                    &q.sql,
                    &q.schema,
                    q.thread_id,
                    start,
                    end,
                    ts_us,
                    inner.server_id,
                )
                .await?;
            } else if t == compressed::XID_EVENT {
                self.commit(end).await?;
            } else if PRE_GA_ROWS_EVENTS.contains(&t) {
                return Err(self.undecodable(
                    payload_type,
                    start,
                    compressed::CompressedError::Invalid {
                        what: "transaction payload",
                        detail: format!("it holds {} (type {t})", event_type_name(t)),
                    },
                ));
            }
        }
        Ok(())
    }

    fn begin(
        &mut self,
        start: u64,
        gtid: Option<Gtid>,
        ts_us: i64,
        thread: Option<u64>,
        server_id: u32,
    ) {
        self.txn = Some(Transaction {
            start,
            gtid_text: gtid.map(|g| g.to_string()),
            gtid,
            rows: 0,
            emitted: 0,
            ts_us,
            thread,
            server_id,
            standalone: true,
        });
    }

    /// Closes the open transaction at `end` (the position after its last event).
    async fn commit(&mut self, end: u64) -> Result<(), MysqlError> {
        let txn = self.txn.take();
        // Table maps are sent again with every statement that needs them.
        self.maps.clear();
        if let Some(gtid) = txn.as_ref().and_then(|t| t.gtid) {
            self.at.gtid.get_or_insert_with(GtidSet::default).add(&gtid);
        }
        self.at.pos = end;
        // A transaction with captured changes (or a schema change record) is a checkpoint;
        // others move the position at most once a second, so a binlog busy with other
        // databases is not re-read after a restart (nor lost to purging).
        let captured = txn.is_some_and(|t| t.emitted > 0) || self.emitter.has_records();
        if captured || self.last_idle_checkpoint.elapsed() >= IDLE_CHECKPOINT_EVERY {
            self.last_idle_checkpoint = std::time::Instant::now();
            let checkpoint = self.at.checkpoint();
            self.flush(Some(checkpoint)).await?;
        }
        Ok(())
    }

    /// `TRUNCATE TABLE` of a captured table: Debezium's truncate event (`op: t`, no key,
    /// no row), which the pipeline drops unless `skipped.operations` lets it through.
    async fn truncate(
        &mut self,
        id: &TableId,
        start: u64,
        ts_us: i64,
        server_id: u32,
        thread: u64,
    ) -> Result<(), MysqlError> {
        let Some(schema) = self.table(id).await?.map(|t| t.schema.clone()) else {
            return Ok(());
        };
        if self.txn.is_none() {
            self.begin(start, None, ts_us, Some(thread), server_id);
        }
        // Debezium names no thread for a statement outside BEGIN ... COMMIT.
        let nothing = Change {
            before: None,
            after: None,
        };
        self.push_change(&schema, Op::Truncate, nothing, start, 0, false)
    }

    /// Queues the change of one row (or, for a truncate, of a table) of the open
    /// transaction, found at `start` as row `row` of its event, unless the committed offset
    /// already covers it. `in_transaction`: the source names the transaction's thread.
    fn push_change(
        &mut self,
        schema: &Arc<spillway_core::TableSchema>,
        op: Op,
        change: Change,
        start: u64,
        row: u32,
        in_transaction: bool,
    ) -> Result<(), MysqlError> {
        let file_seq = file_sequence(&self.at.file);
        let Some(txn) = self.txn.as_mut() else {
            return Err(MysqlError::Binlog {
                detail: format!("a change at {}:{start} outside a transaction", self.at.file),
                transient: false,
            });
        };
        let position = Position::stream(file_seq, txn.start, txn.rows);
        txn.rows += 1;
        if self.resume.is_some_and(|r| position <= r) {
            return Ok(());
        }
        txn.emitted += 1;
        let source = source_info(
            &self.source_schema,
            SourceFields {
                connector: self.config.flavor.connector_name(),
                server_name: &self.config.common.topic_prefix,
                db: &schema.database,
                table: Some(&schema.table),
                ts_us: txn.ts_us,
                snapshot: SnapshotMarker::False,
                server_id: txn.server_id,
                // Debezium's MySQL connector ignores MariaDB's GTIDs; its MariaDB
                // connector reports them.
                gtid: txn
                    .gtid_text
                    .as_deref()
                    .filter(|g| self.config.flavor == Flavor::Mariadb || g.contains(':')),
                file: &self.at.file,
                pos: start,
                row,
                thread: txn.thread.filter(|_| in_transaction),
            },
        );
        self.emitter.queue(ChangeEvent {
            table: schema.clone(),
            op,
            before: change.before,
            after: change.after,
            source,
            position,
            ts_us: now_us(),
        });
        Ok(())
    }

    /// A statement other than BEGIN/COMMIT: DDL (or a statement-based change the preflight
    /// rules out). The definitions of the tables it changes are read from the server, kept
    /// in the schema history and, with `include.schema.changes`, sent as schema-change
    /// records; then the statement's end is a checkpoint like a transaction's.
    async fn statement(
        &mut self,
        sql: &str,
        session_db: &str,
        start: u64,
        end: u64,
        ts_us: i64,
        server_id: u32,
    ) -> Result<(), MysqlError> {
        let trimmed = sql.trim();
        let Some(ddl) = crate::ddl::classify(trimmed, session_db) else {
            // Not a table definition change; tables it names are read again to be safe.
            self.tables
                .retain(|id, _| !(id.database == session_db && mentions(trimmed, &id.table)));
            debug!(database = %session_db, statement = %truncate(trimmed, 200), "statement without schema change");
            return self.commit(end).await;
        };
        if self.config.common.containers.matches(session_db)
            || ddl
                .records
                .iter()
                .any(|r| self.config.common.containers.matches(&r.database))
        {
            info!(database = %session_db, statement = %truncate(trimmed, 200), "schema change");
        }
        let dropped_ids: Vec<TableId> = ddl
            .records
            .iter()
            .flat_map(|r| &r.changes)
            .filter(|(kind, _)| *kind == TableChangeKind::Drop)
            .map(|(_, id)| id.clone())
            .collect();
        let mut raws = Vec::new();
        let mut dropped = Vec::new();
        // Definitions are kept for captured databases, and for the others only when their
        // schema changes are sent (as Debezium's default does).
        let keep = |db: &str| {
            !schema::is_system_database(db)
                && (self.config.common.containers.matches(db)
                    || (self.config.include_schema_changes
                        && !self.config.only_captured_databases_ddl))
        };
        for id in &ddl.touched {
            self.tables.remove(id);
            if !keep(&id.database) {
                continue;
            }
            let raw = if dropped_ids.contains(id) {
                None
            } else {
                read_raw_table(&mut self.catalog, &id.database, &id.table, self.mariadb).await?
            };
            match raw {
                Some(raw) => raws.push(raw),
                None => dropped.push((id.database.clone(), id.table.clone())),
            }
        }
        if let Some(db) = &ddl.dropped_database {
            self.tables.retain(|id, _| &id.database != db);
            dropped.extend(
                self.history
                    .tables_of(db)
                    .map(|id| (id.database.clone(), id.table.clone())),
            );
        }
        if !raws.is_empty() || !dropped.is_empty() {
            self.history.record(Entry {
                position: BinlogPosition {
                    file: self.at.file.clone(),
                    pos: end,
                    gtid: None,
                },
                ddl: trimmed.to_string(),
                tables: raws.clone(),
                dropped,
            })?;
        }
        if self.config.include_schema_changes {
            for record in &ddl.records {
                if schema::is_system_database(&record.database)
                    || (self.config.only_captured_databases_ddl
                        && !self.config.common.containers.matches(&record.database))
                {
                    continue;
                }
                let changes = record
                    .changes
                    .iter()
                    .filter_map(|(kind, id)| match kind {
                        TableChangeKind::Drop => {
                            Some(dropped_table_change(&id.database, &id.table))
                        }
                        _ => raws
                            .iter()
                            .find(|r| r.database == id.database && r.table == id.table)
                            .map(|raw| self.schema_records.change(*kind, raw)),
                    })
                    .collect();
                let source = source_info(
                    &self.source_schema,
                    SourceFields {
                        connector: self.config.flavor.connector_name(),
                        server_name: &self.config.common.topic_prefix,
                        db: &record.database,
                        table: record.source_table.as_deref(),
                        ts_us,
                        snapshot: SnapshotMarker::False,
                        server_id,
                        gtid: None,
                        file: &self.at.file,
                        pos: start,
                        row: 0,
                        thread: None,
                    },
                );
                let r = self
                    .schema_records
                    .record(source, &record.database, &record.ddl, changes);
                self.emitter.push_record(r);
            }
        }
        // `CREATE TABLE ... SELECT` goes on with the rows it inserts (MariaDB marks such a
        // transaction as not standalone; MySQL ends the statement with START TRANSACTION).
        let continues = self.txn.as_ref().is_some_and(|t| !t.standalone)
            || trimmed.to_ascii_uppercase().ends_with("START TRANSACTION");
        if continues {
            return self.flush(None).await;
        }
        self.commit(end).await
    }

    async fn table(&mut self, id: &TableId) -> Result<Option<&CapturedTable>, MysqlError> {
        if !self.tables.contains_key(id) {
            let captured = if schema::table_selected(self.config, &id.database, &id.table) {
                // The definition as of this place in the binlog if the history has it,
                // else the server's current one.
                let raw = match self.history.table(id) {
                    Some(raw) => raw.clone(),
                    None => read_raw_table(&mut self.catalog, &id.database, &id.table, self.mariadb)
                        .await?
                        .ok_or_else(|| MysqlError::Binlog {
                            detail: format!(
                                "rows of {id} at {}:{} but the table no longer exists and the schema history does not have it",
                                self.at.file, self.at.pos
                            ),
                            transient: false,
                        })?,
                };
                Some(schema::captured_table(self.config, &raw)?)
            } else {
                None
            };
            self.tables.insert(id.clone(), captured);
        }
        Ok(self.tables.get(id).and_then(Option::as_ref))
    }

    /// A rows event: its rows are decoded with the table's definition when the table is
    /// captured, and counted otherwise (row indexes count every row of the transaction).
    async fn rows(&mut self, event_type: u8, body: &[u8], start: u64) -> Result<(), MysqlError> {
        let file = self.at.file.clone();
        let binlog = |e: RowsError| MysqlError::Binlog {
            detail: format!("cannot decode a rows event at {file}:{start}: {e}"),
            transient: false,
        };
        let event = RowsEvent::decode(event_type, body).map_err(binlog)?;
        let Some(map) = self.maps.get(&event.table_id) else {
            return Err(MysqlError::Binlog {
                detail: format!(
                    "rows event at {}:{start} for table id {} without its table map",
                    self.at.file, event.table_id
                ),
                transient: false,
            });
        };
        let id = TableId {
            database: map.database.clone(),
            table: map.table.clone(),
        };
        if self.table(&id).await?.is_none() {
            // Not captured, but its rows still count for positions inside the transaction.
            let n = event
                .count_rows(&self.maps[&event.table_id])
                .map_err(binlog)?;
            if let Some(txn) = self.txn.as_mut() {
                txn.rows += n as u64;
            }
            return Ok(());
        }
        self.fit_table(&id, event.table_id, start).await?;
        let op = match event.kind {
            RowsKind::Insert => Op::Create,
            RowsKind::Update => Op::Update,
            RowsKind::Delete => Op::Delete,
        };
        let (schema, decoded) = {
            let map = &self.maps[&event.table_id];
            let Some(Some(table)) = self.tables.get(&id) else {
                return Ok(());
            };
            let ctx = RowContext {
                map,
                decoders: &table.decoders,
                options: &self.config.types,
            };
            let decoded: Vec<Change> = event
                .changes(ctx)
                .and_then(|changes| changes.collect())
                .map_err(|e| MysqlError::Decode {
                    table: id.to_string(),
                    column: match &e {
                        RowsError::Column { column, .. } => column.clone(),
                        _ => "?".to_string(),
                    },
                    position: format!("{}:{start}", self.at.file),
                    detail: e.to_string(),
                })?;
            (table.schema.clone(), decoded)
        };
        for (row_in_event, change) in decoded.into_iter().enumerate() {
            self.push_change(&schema, op, change, start, row_in_event as u32, true)?;
            if self.emitter.is_full() {
                self.flush(None).await?;
            }
        }
        Ok(())
    }

    /// Makes sure the captured definition of `id` has the layout of the rows' table map.
    /// A definition from the history or the cache that does not fit (the binlog being read
    /// was written before a later ALTER) is replaced by the server's current one, and when
    /// that does not fit either, by one built from the table map's own column metadata.
    async fn fit_table(
        &mut self,
        id: &TableId,
        table_id: u64,
        start: u64,
    ) -> Result<(), MysqlError> {
        let fits =
            |s: &Self| matches!(s.tables.get(id), Some(Some(t)) if t.fits(&s.maps[&table_id]));
        if fits(self) {
            return Ok(());
        }
        let current =
            read_raw_table(&mut self.catalog, &id.database, &id.table, self.mariadb).await?;
        if let Some(raw) = &current {
            self.tables
                .insert(id.clone(), Some(schema::captured_table(self.config, raw)?));
            if fits(self) {
                return Ok(());
            }
        }
        let map = &self.maps[&table_id];
        let built = schema::captured_from_map(self.config, map, current.as_ref()).map_err(|detail| {
            MysqlError::Decode {
                table: id.to_string(),
                column: "?".to_string(),
                position: format!("{}:{start}", self.at.file),
                detail: format!(
                    "the table's definition differs from the one these rows were written with, and {detail}"
                ),
            }
        })?;
        info!(table = %id, position = %format!("{}:{start}", self.at.file), "rows written before a later change of the table: decoded with the binlog's column metadata");
        self.tables.insert(id.clone(), Some(built));
        Ok(())
    }

    /// Runs `heartbeat.action.query` and emits a heartbeat record; between transactions it
    /// also carries the position read so far, so offsets move while captured tables idle.
    async fn heartbeat(&mut self) -> Result<(), MysqlError> {
        if let Some(query) = &self.config.common.heartbeat.action_query {
            if let Err(error) = self.catalog.query_drop(query.as_str()).await {
                warn!(%error, "heartbeat.action.query failed");
            }
        }
        let checkpoint = self.txn.is_none().then(|| self.at.checkpoint());
        let common = &self.config.common;
        let heartbeat = common.heartbeat.record(&common.topic_prefix);
        self.emitter
            .heartbeat(heartbeat, checkpoint)
            .await
            .map_err(|_| pipeline_gone())
    }

    async fn flush(&mut self, checkpoint: Option<Offset>) -> Result<(), MysqlError> {
        self.emitter
            .flush(checkpoint)
            .await
            .map_err(|_| pipeline_gone())
    }
}

/// The pipeline took no more batches (it failed or shut down; its error is reported).
fn pipeline_gone() -> MysqlError {
    MysqlError::Binlog {
        detail: "the pipeline stopped accepting events".to_string(),
        transient: false,
    }
}

fn mentions(sql: &str, table: &str) -> bool {
    sql.to_ascii_lowercase()
        .contains(&table.to_ascii_lowercase())
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Classifies an error of the binlog connection.
pub fn binlog_error(error: mysql_async::Error) -> MysqlError {
    match &error {
        // MariaDB's ER_SLAVE_SAME_ID (MySQL says it with 1236): a replica with this
        // connector's server id connected after it, and the server dropped this one.
        mysql_async::Error::Server(e)
            if e.code == 4052 || e.message.contains("same server_uuid/server_id") =>
        {
            MysqlError::preflight(
                format!("the server dropped this connector's binlog stream: {}", e.message),
                "another replica (or connector) uses the same server id: give each one its own database.server.id",
            )
        }
        mysql_async::Error::Server(e) if e.code == 1236 => MysqlError::Purged {
            position: e.message.clone(),
        },
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => MysqlError::Binlog {
            detail: error.to_string(),
            transient: true,
        },
        _ => MysqlError::Binlog {
            detail: error.to_string(),
            transient: false,
        },
    }
}
