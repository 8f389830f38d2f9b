//! The MySQL/MariaDB source: decides between snapshot and streaming, then runs them.

use crate::catalog::{self, read_raw_table};
use crate::config::{MysqlConfig, SnapshotMode};
use crate::connection;
use crate::error::MysqlError;
use crate::history::{Entry, SchemaHistory};
use crate::position::BinlogPosition;
use crate::preflight;
use crate::replication::{binlog_error, StreamStart, Streamer};
use crate::schema;
use crate::schema_change::{self, SchemaRecords, TableChangeKind};
use crate::snapshot::{self, SnapshotOutcome};
use crate::source_info::source_schema;
use crate::source_info::{now_us, source_info, SnapshotMarker, SourceFields};
use crate::table::{RawTable, TableId};
use mysql_async::prelude::Queryable;
use spillway_core::schema::ConnectSchema;
use spillway_core::{Phase, Source, SourceBatch, SourceContext, StructRecord, Value};
use std::collections::BTreeSet;
use tracing::{info, warn};

/// Captures changes of a MySQL or MariaDB server.
pub struct MysqlSource {
    config: MysqlConfig,
}

impl MysqlSource {
    pub fn new(config: MysqlConfig) -> Self {
        MysqlSource { config }
    }

    async fn run_inner(self, ctx: SourceContext) -> Result<(), MysqlError> {
        let config = &self.config;
        let mut conn = connection::connect(config).await?;
        let facts = preflight::check_server(&mut conn, config).await?;
        let all = catalog::list_tables(&mut conn).await?;
        let selected = schema::select(config, &all);
        preflight::check_selection(config, &selected, &all)?;
        let mut tables = Vec::with_capacity(selected.len());
        for id in &selected {
            tables.push(schema::load_table(&mut conn, config, id, facts.is_mariadb).await?);
        }
        let source_schema = source_schema(config.flavor.connector_name());

        let stream_offset = ctx
            .resume
            .clone()
            .filter(|o| o.position.phase == Phase::Stream);
        let saved = stream_offset.as_ref().and_then(BinlogPosition::from_offset);
        let available = binlog_files(&mut conn).await?;
        let saved_usable = saved.as_ref().is_some_and(|p| available.contains(&p.file));
        let need_snapshot = config
            .common
            .snapshot_mode
            .takes_snapshot(saved.is_some(), saved_usable);
        if config.common.snapshot_mode == SnapshotMode::InitialOnly && saved.is_some() {
            info!("snapshot already completed and snapshot.mode is initial_only; nothing to do");
            return Ok(());
        }
        preflight::require(&[preflight::position_check(
            config,
            saved.as_ref(),
            &available,
            &facts,
        )])?;
        let mut resume = stream_offset.as_ref().map(|o| o.position);
        let mut resumed = false;
        // The schema history as of the place streaming resumes from (a new snapshot, or a
        // first start without one, starts it afresh).
        let history_upto = saved.as_ref().filter(|_| !need_snapshot);
        let mut history = match &ctx.state {
            Some(store) => {
                let log =
                    store
                        .open(crate::history::LOG_NAME)
                        .map_err(|detail| MysqlError::History {
                            path: crate::history::LOG_NAME.to_string(),
                            detail,
                        })?;
                SchemaHistory::open(log, history_upto)?
            }
            None => SchemaHistory::in_memory(),
        };
        // A snapshot starts at its consistent position, a first start without one at the
        // server's current position; either way the schema is recorded there first (as
        // Debezium's no_data snapshot also does) and the history starts afresh.
        let fresh = if need_snapshot {
            Some(snapshot::start(&mut conn, config, facts.is_mariadb).await?)
        } else if saved.is_none() {
            Some(snapshot::server_position(&mut conn, facts.is_mariadb).await?)
        } else {
            None
        };
        if let Some(at) = &fresh {
            let (raws, records) = schema_snapshot(
                &mut conn,
                config,
                &facts,
                &all,
                &selected,
                at,
                &source_schema,
            )
            .await?;
            history.reset(Entry {
                position: at.clone(),
                ddl: "snapshot".to_string(),
                tables: raws,
                dropped: Vec::new(),
            })?;
            send_records(&ctx.batches, records).await?;
        }
        let start = match fresh {
            Some(at) if need_snapshot => {
                // The definitions of the snapshot's own moment.
                tables = selected
                    .iter()
                    .filter_map(|id| history.table(id))
                    .map(|raw| schema::captured_table(config, raw))
                    .collect::<Result<_, _>>()?;
                info!(position = %at, tables = tables.len(), "snapshot started");
                let outcome = snapshot::read_tables(
                    &mut conn,
                    config,
                    &at,
                    &tables,
                    &source_schema,
                    &ctx.batches,
                    &ctx.shutdown,
                )
                .await?;
                match outcome {
                    SnapshotOutcome::Interrupted => {
                        info!("snapshot interrupted by shutdown; it starts again on the next run");
                        return Ok(());
                    }
                    SnapshotOutcome::Completed { rows } => info!(rows, "snapshot completed"),
                }
                snapshot::send(&ctx.batches, &mut Vec::new(), Some(at.checkpoint())).await?;
                if config.common.snapshot_mode == SnapshotMode::InitialOnly {
                    return Ok(());
                }
                resume = None;
                at
            }
            // Nothing to resume from: store the start at once, so changes made while
            // stopped before the first captured change are not skipped on the next start.
            Some(at) => {
                snapshot::send(&ctx.batches, &mut Vec::new(), Some(at.checkpoint())).await?;
                at
            }
            None => {
                let Some(saved) = saved else {
                    return Err(MysqlError::Binlog {
                        detail: "no position to start streaming from".to_string(),
                        transient: false,
                    });
                };
                // With GTIDs the server finds the place itself, also when the file is gone
                // (a failover to another server); it reports a purged position as such.
                if !saved_usable && !gtid_resume(&saved, &facts) {
                    return Err(MysqlError::Purged {
                        position: saved.to_string(),
                    });
                }
                resumed = true;
                if history.is_empty() {
                    warn!("the schema history is empty: rows are decoded with the tables' current definitions");
                }
                saved
            }
        };

        let by_gtid = resumed && gtid_resume(&start, &facts);
        info!(
            position = %start,
            server_id = config.server_id,
            by = %if by_gtid { "gtid" } else { "file and position" },
            "streaming changes"
        );
        let watcher = tokio::spawn(watch_binlog_files(config.clone(), ctx.committed.clone()));
        let _watcher = AbortOnDrop(watcher);
        let binlog_conn = connection::connect(config).await?;
        let mut stream = open_binlog(binlog_conn, config, &facts, &start, by_gtid).await?;
        let mut streamer = Streamer::new(
            config,
            conn,
            source_schema,
            &ctx,
            StreamStart {
                at: start,
                resume,
                history,
            },
            facts.is_mariadb,
        );
        streamer.run(&mut stream).await
    }
}

/// Reads the definitions whose history is kept (every table of a captured database, or
/// only the captured tables with `schema.history.internal.store.only.captured.tables.ddl`)
/// and makes the schema-change records Debezium's snapshot writes before its rows: the
/// server's character set, a `DROP TABLE IF EXISTS` per table, then per database `DROP
/// DATABASE IF EXISTS`, `CREATE DATABASE`, `USE` and each table's `SHOW CREATE TABLE`.
async fn schema_snapshot(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
    facts: &preflight::ServerFacts,
    all: &[TableId],
    selected: &[TableId],
    at: &BinlogPosition,
    source_schema: &std::sync::Arc<ConnectSchema>,
) -> Result<(Vec<RawTable>, Vec<StructRecord>), MysqlError> {
    let databases: BTreeSet<&str> = selected
        .iter()
        .map(|t| t.database.as_str())
        .chain(
            all.iter()
                .filter(|t| {
                    !config.common.containers.is_empty()
                        && config.common.containers.matches(&t.database)
                })
                .map(|t| t.database.as_str()),
        )
        .collect();
    let kept: Vec<&TableId> = all
        .iter()
        .filter(|t| databases.contains(t.database.as_str()))
        .filter(|t| !config.only_captured_tables_ddl || selected.contains(t))
        .collect();
    let mut raws = Vec::with_capacity(kept.len());
    for id in &kept {
        if let Some(raw) = read_raw_table(conn, &id.database, &id.table, facts.is_mariadb).await? {
            raws.push(raw);
        }
    }
    let mut records = Vec::new();
    if !config.include_schema_changes {
        return Ok((raws, records));
    }
    let maker = SchemaRecords::new(config, source_schema);
    let mut record = |db: &str, table: Option<&str>, ddl: String, changes: Vec<Value>| {
        let source = source_info(
            source_schema,
            SourceFields {
                connector: config.flavor.connector_name(),
                server_name: &config.common.topic_prefix,
                db,
                table,
                ts_us: now_us(),
                snapshot: SnapshotMarker::True,
                server_id: 0,
                gtid: None,
                file: &at.file,
                pos: at.pos,
                row: 0,
                thread: None,
            },
        );
        records.push(maker.record(source, db, &ddl, changes));
    };
    let (charset, collation) = catalog::read_server_locale(conn).await?;
    record(
        "",
        None,
        schema_change::set_server_locale_ddl(&charset, &collation),
        Vec::new(),
    );
    for raw in &raws {
        record(
            &raw.database,
            Some(&raw.table),
            schema_change::drop_table_if_exists_ddl(&raw.database, &raw.table),
            vec![schema_change::dropped_table_change(
                &raw.database,
                &raw.table,
            )],
        );
    }
    for db in &databases {
        let (charset, collation) = catalog::read_database_locale(conn, db)
            .await?
            .unwrap_or_default();
        record(
            db,
            None,
            schema_change::drop_database_if_exists_ddl(db),
            Vec::new(),
        );
        record(
            db,
            None,
            schema_change::create_database_ddl(db, charset.as_deref(), collation.as_deref()),
            Vec::new(),
        );
        record(db, None, schema_change::use_database_ddl(db), Vec::new());
        for raw in raws.iter().filter(|r| r.database == *db) {
            let Some(ddl) = catalog::show_create_table(conn, db, &raw.table).await? else {
                continue;
            };
            let change = maker.change(TableChangeKind::Create, raw);
            record(db, Some(&raw.table), ddl, vec![change]);
        }
    }
    Ok((raws, records))
}

/// Hands schema-change records to the pipeline.
async fn send_records(
    batches: &tokio::sync::mpsc::Sender<SourceBatch>,
    records: Vec<StructRecord>,
) -> Result<(), MysqlError> {
    if records.is_empty() {
        return Ok(());
    }
    batches
        .send(SourceBatch {
            records,
            ..SourceBatch::default()
        })
        .await
        .map_err(|_| MysqlError::Binlog {
            detail: "the pipeline stopped accepting events".to_string(),
            transient: false,
        })
}

/// Whether reading can resume from the GTID position kept with `at`: MariaDB always has
/// GTIDs, MySQL when `gtid_mode` is on.
pub(crate) fn gtid_resume(at: &BinlogPosition, facts: &preflight::ServerFacts) -> bool {
    match &at.gtid {
        Some(g) if facts.is_mariadb => g.mariadb().is_ok(),
        Some(g) if facts.mysql_gtid => g.mysql().is_ok(),
        _ => false,
    }
}

/// Asks the server for its binlog from `start`: after the transactions of its GTID
/// position when `by_gtid`, otherwise from its file and position.
async fn open_binlog(
    mut conn: mysql_async::Conn,
    config: &MysqlConfig,
    facts: &preflight::ServerFacts,
    start: &BinlogPosition,
    by_gtid: bool,
) -> Result<mysql_async::BinlogStream, MysqlError> {
    if facts.is_mariadb {
        // Without this MariaDB sends its GTID events only as dummies.
        conn.query_drop("SET @mariadb_slave_capability = 4")
            .await
            .map_err(|e| MysqlError::query("announcing MariaDB replica capabilities", e))?;
    }
    let gtid = start
        .gtid
        .as_ref()
        .map(|g| g.to_string())
        .unwrap_or_default();
    let request = mysql_async::BinlogStreamRequest::new(config.server_id);
    let request = if !by_gtid {
        request
            .with_filename(start.file.as_bytes())
            .with_pos(start.pos)
    } else if facts.is_mariadb {
        // A replica's GTID connect: the server starts after the last transaction of each
        // domain in the list (the dump request names no file), and reports a position it
        // no longer has instead of guessing.
        conn.exec_drop(
            "SET @slave_connect_state = ?, @slave_gtid_strict_mode = 0, @slave_gtid_ignore_duplicates = 0",
            (&gtid,),
        )
        .await
        .map_err(|e| MysqlError::query("setting the GTID position to read from", e))?;
        request
    } else {
        let set = match &start.gtid {
            Some(g) => g.mysql(),
            None => gtid.parse(),
        };
        let set = set.map_err(|e| MysqlError::Binlog {
            detail: format!("the stored GTID set {gtid:?} cannot be read: {e}"),
            transient: false,
        })?;
        request.with_gtid().with_gtid_set(set.to_sids())
    };
    conn.get_binlog_stream(request).await.map_err(binlog_error)
}

/// How often the binlog files ahead of the connector are counted.
const FILES_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Ends a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts, for as long as streaming runs, the binlog files the server has after the one
/// of the committed position ([`BINLOG_BEHIND`](spillway_core::metrics::BINLOG_BEHIND)).
async fn watch_binlog_files(
    config: MysqlConfig,
    committed: tokio::sync::watch::Receiver<Option<spillway_core::Offset>>,
) {
    let gauge = metrics::gauge!(spillway_core::metrics::BINLOG_BEHIND, "connector" => config.common.name.clone());
    loop {
        let ours = committed
            .borrow()
            .as_ref()
            .and_then(crate::position::BinlogPosition::from_offset)
            .map(|p| crate::position::file_sequence(&p.file));
        if let (Some(ours), Ok(mut conn)) = (ours, connection::connect(&config).await) {
            if let Ok(files) = binlog_files(&mut conn).await {
                let newest = files
                    .iter()
                    .map(|f| crate::position::file_sequence(f))
                    .max()
                    .unwrap_or(ours);
                gauge.set(newest.saturating_sub(ours) as f64);
            }
            let _ = conn.disconnect().await;
        }
        tokio::time::sleep(FILES_WATCH_INTERVAL).await;
    }
}

/// The binlog files the server still has.
pub(crate) async fn binlog_files(conn: &mut mysql_async::Conn) -> Result<Vec<String>, MysqlError> {
    let rows: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|e| MysqlError::query("listing binary logs", e))?;
    Ok(rows.iter().filter_map(|r| r.get::<String, _>(0)).collect())
}

impl Source for MysqlSource {
    type Error = MysqlError;

    async fn run(self, ctx: SourceContext) -> Result<(), MysqlError> {
        self.run_inner(ctx).await
    }
}
