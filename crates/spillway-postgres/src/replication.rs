//! Streaming: pgoutput messages from the slot turned into change events, and progress
//! reported back to the server only as far as the pipeline has committed.

use crate::config::PostgresConfig;
use crate::error::PostgresError;
use crate::protocol::pgoutput::{Relation, TupleData, TupleValue};
use crate::protocol::{
    format_lsn, ConnError, LogicalMessage, ReplicationMessage, ReplicationStream,
};
use crate::schema::{self, CapturedTable, ColumnInfo, TypeResolver};
use crate::source_info::{source_info, SnapshotMarker, SourceFields};
use spillway_core::connector::now_us;
use spillway_core::emit::Emitter;
use spillway_core::schema::ConnectSchema;
use spillway_core::{ChangeEvent, Offset, Op, Phase, Position, Row, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::Client;
use tracing::{debug, info, warn};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;
/// How long shutdown waits for the pipeline to commit what was sent.
const SHUTDOWN_COMMIT_WAIT: Duration = Duration::from_secs(30);

/// The flush LSN the server may be told for a committed offset.
///
/// A transaction is skipped on restart when its commit record starts before the slot's
/// confirmed position. A finished transaction (`END_OF_TRANSACTION`) is confirmed one past
/// its commit LSN; one finished only partly is confirmed at its commit LSN, so the server
/// sends it again and the rows already committed are skipped by position.
pub fn flush_lsn(offset: &Offset) -> u64 {
    match offset.position.phase {
        Phase::Snapshot => 0,
        Phase::Stream if offset.position.is_end_of_transaction() => {
            offset.position.log.saturating_add(1)
        }
        Phase::Stream => offset.position.log,
    }
}

enum RelationState {
    Captured(CapturedTable),
    Ignored,
}

struct Transaction {
    final_lsn: u64,
    xid: u32,
    commit_time_us: i64,
    rows: u64,
    emitted: u64,
}

/// Turns the replication stream into events.
pub struct Streamer<'a> {
    pub config: &'a PostgresConfig,
    pub catalog: &'a Client,
    pub resolver: TypeResolver,
    pub source_schema: Arc<ConnectSchema>,
    pub emitter: Emitter,
    /// Events at or before this position were committed before the restart.
    pub resume: Option<Position>,
    pub committed: watch::Receiver<Option<Offset>>,
    pub shutdown: watch::Receiver<bool>,
    relations: HashMap<u32, RelationState>,
    txn: Option<Transaction>,
    last_commit_lsn: Option<u64>,
    /// Highest WAL position received.
    received: u64,
    /// Highest position the server says was fully sent while nothing of ours was pending.
    idle_lsn: u64,
    /// Last flush LSN reported to the server.
    reported: u64,
}

impl<'a> Streamer<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: &'a PostgresConfig,
        catalog: &'a Client,
        source_schema: Arc<ConnectSchema>,
        emitter: Emitter,
        resume: Option<Position>,
        committed: watch::Receiver<Option<Offset>>,
        shutdown: watch::Receiver<bool>,
        start_lsn: u64,
    ) -> Self {
        Streamer {
            config,
            catalog,
            resolver: TypeResolver::default(),
            source_schema,
            emitter,
            resume,
            committed,
            shutdown,
            relations: HashMap::new(),
            txn: None,
            last_commit_lsn: None,
            received: start_lsn,
            idle_lsn: 0,
            reported: start_lsn,
        }
    }

    /// Streams until shutdown or an error.
    pub async fn run(&mut self, stream: &mut ReplicationStream) -> Result<(), PostgresError> {
        let mut status = tokio::time::interval(self.config.status_interval);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let heartbeat_every = self
            .config
            .common
            .heartbeat
            .interval
            .unwrap_or(Duration::from_secs(3600));
        let mut heartbeat = tokio::time::interval_at(
            tokio::time::Instant::now() + heartbeat_every,
            heartbeat_every,
        );
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut committed = self.committed.clone();
        let mut shutdown = self.shutdown.clone();
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                message = stream.recv() => {
                    match message.map_err(replication_error)? {
                        None => {
                            return Err(PostgresError::Replication {
                                detail: "the server ended the replication stream".to_string(),
                                transient: true,
                            })
                        }
                        Some(ReplicationMessage::Keepalive { wal_end, reply_requested, .. }) => {
                            self.received = self.received.max(wal_end);
                            if self.txn.is_none() {
                                self.idle_lsn = self.idle_lsn.max(wal_end);
                            }
                            if reply_requested {
                                self.report(stream, false).await?;
                            }
                        }
                        Some(ReplicationMessage::XLogData { wal_start, data, .. }) => {
                            self.received = self.received.max(wal_start);
                            let message = LogicalMessage::decode(&data).map_err(|e| PostgresError::Replication {
                                detail: format!("cannot decode a pgoutput message at {}: {e}", format_lsn(wal_start)),
                                transient: false,
                            })?;
                            self.handle(message, wal_start).await?;
                        }
                    }
                }
                _ = status.tick() => self.report(stream, false).await?,
                changed = committed.changed() => {
                    if changed.is_ok() {
                        self.report(stream, false).await?;
                    }
                }
                _ = heartbeat.tick(), if self.config.common.heartbeat.interval.is_some() => {
                    self.heartbeat().await?;
                }
                _ = shutdown.changed() => {}
            }
        }
        self.finish(stream).await
    }

    /// Hands over what is collected and waits (bounded) for the pipeline to commit it,
    /// then reports the final flush position.
    async fn finish(&mut self, stream: &mut ReplicationStream) -> Result<(), PostgresError> {
        self.emitter.flush(None).await.ok();
        let target = self.emitter.last_sent();
        let mut committed = self.committed.clone();
        let wait = async {
            loop {
                let done = match (&target, committed.borrow().as_ref()) {
                    (None, _) => true,
                    (Some(t), Some(c)) => c.position >= *t,
                    (Some(_), None) => false,
                };
                if done || committed.changed().await.is_err() {
                    break;
                }
            }
        };
        if tokio::time::timeout(SHUTDOWN_COMMIT_WAIT, wait)
            .await
            .is_err()
        {
            warn!("pipeline did not commit everything before shutdown; the rest is sent again on restart");
        }
        self.report(stream, false).await
    }

    /// Runs `heartbeat.action.query` and emits a heartbeat record; while no transaction is
    /// open and everything received is handled, the heartbeat also carries the position up
    /// to which the server's WAL was read, so offsets move on idle tables.
    async fn heartbeat(&mut self) -> Result<(), PostgresError> {
        if let Some(query) = &self.config.common.heartbeat.action_query {
            if let Err(error) = self.catalog.batch_execute(query).await {
                warn!(%error, "heartbeat.action.query failed");
            }
        }
        let checkpoint = if self.txn.is_none() && !self.emitter.has_pending() && self.idle_lsn > 0 {
            let mark = Position::stream(self.idle_lsn - 1, 0, Position::END_OF_TRANSACTION);
            (self.emitter.last_sent().is_none_or(|sent| mark > sent)).then(|| Offset::new(mark))
        } else {
            None
        };
        let heartbeat = self
            .config
            .common
            .heartbeat
            .record(&self.config.common.topic_prefix);
        self.emitter
            .heartbeat(heartbeat, checkpoint)
            .await
            .map_err(|_| pipeline_gone())
    }

    /// Sends a standby status update with the committed flush position.
    async fn report(
        &mut self,
        stream: &mut ReplicationStream,
        reply: bool,
    ) -> Result<(), PostgresError> {
        let committed = self.committed.borrow().clone();
        let mut flush = committed.as_ref().map(flush_lsn).unwrap_or(0);
        // Nothing in flight: everything the server sent up to `idle_lsn` is either
        // committed or not captured, so the slot may move there.
        let all_committed = match (self.emitter.last_sent(), committed.as_ref()) {
            (None, _) => true,
            (Some(sent), Some(c)) => c.position >= sent,
            (Some(_), None) => false,
        };
        if self.txn.is_none() && !self.emitter.has_pending() && all_committed {
            flush = flush.max(self.idle_lsn);
        }
        if flush > self.reported {
            debug!(flush = %format_lsn(flush), "confirming flushed position");
        }
        self.reported = self.reported.max(flush);
        let write = self.received.max(self.reported);
        stream
            .send_status(write, self.reported, self.reported, reply)
            .await
            .map_err(replication_error)
    }

    async fn handle(
        &mut self,
        message: LogicalMessage,
        wal_start: u64,
    ) -> Result<(), PostgresError> {
        match message {
            LogicalMessage::Begin(begin) => {
                self.txn = Some(Transaction {
                    final_lsn: begin.final_lsn,
                    xid: begin.xid,
                    commit_time_us: begin.commit_time_us + PG_EPOCH_OFFSET_US,
                    rows: 0,
                    emitted: 0,
                });
            }
            LogicalMessage::Commit(commit) => {
                let txn = self.txn.take();
                // Debezium's `sequence` starts with the previous transaction's end LSN.
                self.last_commit_lsn = Some(commit.end_lsn);
                match txn {
                    Some(t) if t.emitted > 0 => {
                        let mark =
                            Position::stream(commit.commit_lsn, 0, Position::END_OF_TRANSACTION);
                        self.emitter
                            .flush(Some(Offset::new(mark)))
                            .await
                            .map_err(|_| pipeline_gone())?;
                    }
                    _ => {
                        // Nothing captured in this transaction: it only moves the idle mark.
                        if !self.emitter.has_pending() {
                            self.idle_lsn = self.idle_lsn.max(commit.end_lsn);
                        }
                    }
                }
            }
            LogicalMessage::Relation(relation) => self.relation(relation).await?,
            LogicalMessage::Insert(insert) => {
                self.change(
                    insert.relation,
                    Op::Create,
                    None,
                    Some(insert.new),
                    wal_start,
                )
                .await?
            }
            LogicalMessage::Update(update) => {
                self.change(
                    update.relation,
                    Op::Update,
                    update.old,
                    Some(update.new),
                    wal_start,
                )
                .await?
            }
            LogicalMessage::Delete(delete) => {
                self.change(
                    delete.relation,
                    Op::Delete,
                    Some(delete.old),
                    None,
                    wal_start,
                )
                .await?
            }
            LogicalMessage::Truncate(truncate) => {
                for relation in truncate.relations {
                    self.change(relation, Op::Truncate, None, None, wal_start)
                        .await?;
                }
            }
            LogicalMessage::Origin(_) | LogicalMessage::Type(_) | LogicalMessage::Message(_) => {}
        }
        Ok(())
    }

    async fn relation(&mut self, relation: Relation) -> Result<(), PostgresError> {
        if !schema::table_selected(self.config, &relation.namespace, &relation.name) {
            self.relations.insert(relation.oid, RelationState::Ignored);
            return Ok(());
        }
        let catalog_columns = schema::table_columns(self.catalog, relation.oid).await?;
        let primary_key = schema::primary_key(self.catalog, relation.oid).await?;
        let columns: Vec<ColumnInfo> = relation
            .columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                type_oid: c.type_oid,
                type_modifier: c.type_modifier,
                not_null: catalog_columns
                    .iter()
                    .find(|cc| cc.name == c.name)
                    .is_some_and(|cc| cc.not_null),
                default_expr: catalog_columns
                    .iter()
                    .find(|cc| cc.name == c.name)
                    .and_then(|cc| cc.default_expr.clone()),
            })
            .collect();
        let mut table = schema::build_table(
            self.catalog,
            &mut self.resolver,
            self.config,
            &relation.namespace,
            &relation.name,
            &columns,
            &primary_key,
        )
        .await?;
        if let Some(RelationState::Captured(previous)) = self.relations.get(&relation.oid) {
            if *previous.schema == *table.schema {
                table.schema = previous.schema.clone();
            } else {
                info!(table = %table.schema.qualified_name(), "table schema changed");
            }
        }
        self.relations
            .insert(relation.oid, RelationState::Captured(table));
        Ok(())
    }

    async fn change(
        &mut self,
        relation: u32,
        op: Op,
        old: Option<TupleData>,
        new: Option<TupleData>,
        wal_start: u64,
    ) -> Result<(), PostgresError> {
        let Some(txn) = self.txn.as_mut() else {
            return Err(PostgresError::Replication {
                detail: format!("change at {} outside a transaction", format_lsn(wal_start)),
                transient: false,
            });
        };
        let position = Position::stream(txn.final_lsn, 0, txn.rows);
        txn.rows += 1;
        let table = match self.relations.get(&relation) {
            Some(RelationState::Captured(t)) => t,
            Some(RelationState::Ignored) => return Ok(()),
            None => {
                return Err(PostgresError::Replication {
                    detail: format!("change for relation {relation} before its Relation message"),
                    transient: false,
                })
            }
        };
        if self.resume.is_some_and(|r| position <= r) {
            return Ok(());
        }
        let decode = |tuple: &TupleData| decode_tuple(table, tuple, &self.config.types, wal_start);
        let before = old.as_ref().map(decode).transpose()?;
        let mut after = new.as_ref().map(decode).transpose()?;
        // With a full old row (REPLICA IDENTITY FULL), an unchanged TOAST value is known:
        // take it from the old row, as Debezium does.
        if let (Some(before), Some(after)) = (&before, after.as_mut()) {
            for (new_value, old_value) in after.0.iter_mut().zip(&before.0) {
                if matches!(new_value, Value::Unavailable)
                    && !matches!(old_value, Value::Unavailable)
                {
                    *new_value = old_value.clone();
                }
            }
        }
        let schema = &table.schema;
        let source = source_info(
            &self.source_schema,
            SourceFields {
                server_name: &self.config.common.topic_prefix,
                db: &self.config.dbname,
                schema: schema.schema.as_deref().unwrap_or_default(),
                table: &schema.table,
                ts_us: txn.commit_time_us,
                snapshot: SnapshotMarker::False,
                tx_id: Some(i64::from(txn.xid)),
                lsn: Some(wal_start),
                last_commit_lsn: self.last_commit_lsn,
            },
        );
        let event = ChangeEvent {
            table: schema.clone(),
            op,
            before,
            after,
            source,
            position,
            ts_us: now_us(),
        };
        txn.emitted += 1;
        self.emitter.push(event).await.map_err(|_| pipeline_gone())
    }
}

/// Decodes a tuple into a row of the captured (included) columns.
fn decode_tuple(
    table: &CapturedTable,
    tuple: &TupleData,
    options: &crate::config::TypeOptions,
    lsn: u64,
) -> Result<Row, PostgresError> {
    let schema = &table.schema;
    let mut values = Vec::with_capacity(schema.columns.len());
    let mut column = schema.columns.iter();
    for (decoder, value) in table.decoders.iter().zip(&tuple.columns) {
        if !decoder.included {
            continue;
        }
        let (name, required) = column.next().map_or(("?", false), |c| {
            (
                c.name.as_str(),
                !c.schema.optional && c.schema.default.is_none(),
            )
        });
        values.push(match value {
            // A required column without a value (a non-key column of a key-only old row)
            // carries the type's fallback, as Debezium's converters give it; one with a
            // default is written with its default by the format.
            TupleValue::Null if required => {
                schema::fallback_value(&decoder.pg_type, options).unwrap_or(Value::Null)
            }
            TupleValue::Null => Value::Null,
            TupleValue::UnchangedToast => Value::Unavailable,
            TupleValue::Text(text) => {
                decoder
                    .pg_type
                    .decode_text(text, options)
                    .map_err(|e| PostgresError::Decode {
                        table: schema.qualified_name(),
                        column: name.to_string(),
                        position: format_lsn(lsn),
                        detail: e.message,
                    })?
            }
            TupleValue::Binary(_) => {
                return Err(PostgresError::Decode {
                    table: schema.qualified_name(),
                    column: name.to_string(),
                    position: format_lsn(lsn),
                    detail: "binary tuple values were not requested".to_string(),
                })
            }
        });
    }
    if values.len() != schema.columns.len() {
        return Err(PostgresError::Decode {
            table: schema.qualified_name(),
            column: "?".to_string(),
            position: format_lsn(lsn),
            detail: format!(
                "tuple has {} columns, the relation {}",
                tuple.columns.len(),
                table.decoders.len()
            ),
        });
    }
    Ok(Row(values))
}

fn pipeline_gone() -> PostgresError {
    PostgresError::Replication {
        detail: "the pipeline stopped accepting events".to_string(),
        transient: false,
    }
}

/// Classifies a replication connection error.
pub fn replication_error(error: ConnError) -> PostgresError {
    let transient = matches!(error, ConnError::Io { .. } | ConnError::Timeout { .. });
    let detail = match &error {
        ConnError::Server {
            code,
            message,
            detail,
            hint,
        } => {
            let mut s = format!("{message} (SQLSTATE {code})");
            if let Some(d) = detail {
                s.push_str(&format!("; {d}"));
            }
            if let Some(h) = hint {
                s.push_str(&format!("\nhint: {h}"));
            }
            s
        }
        other => {
            let mut s = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(e) = source {
                s.push_str(&format!(": {e}"));
                source = e.source();
            }
            s
        }
    };
    PostgresError::Replication { detail, transient }
}
