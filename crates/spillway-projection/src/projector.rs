//! The projector: reads the topics of a projection from a stream, folds each poll's records
//! into a batch, makes sure the tables fit (creating and evolving them), and applies the
//! batch with the next offsets in one transaction of the target.
//!
//! ```text
//!  stream ──poll──> decode ──> fold (latest per key) ──> target: BEGIN; rows; offsets; COMMIT
//!     ▲                                                           │
//!     └──────── assign from the offsets the target holds <────────┘ (at start)
//! ```
//!
//! Exactly once into the table: the offsets are read back from the target when the
//! projector starts, and only a committed transaction moves them, with its rows.

use crate::batch::Batch;
use crate::cell::Cell;
use crate::config::{InsertMode, PrimaryKeyMode, ProjectionConfig, SchemaEvolution};
use crate::decode::{Change, Decoder, Fields};
use crate::shape::Column;
use crate::target::{check_table, TableInfo, Target, TargetError};
use spillway_core::{StreamError, StreamReader, StreamRecord, TopicPartition};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// How long a poll waits for records before the projector looks at shutdown and topics.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// How often the stream's topics are listed again, for new topics and partitions.
const DISCOVER_EVERY: Duration = Duration::from_secs(2);

/// Why a projector stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// A record that cannot be projected; nothing after it was applied.
    #[error("projection {connector}: record {topic}-{partition} offset {offset}: {reason}")]
    Record {
        connector: String,
        topic: String,
        partition: u32,
        offset: u64,
        reason: String,
        /// Transient when it may decode later (its schema registry did not answer).
        class: spillway_core::ErrorClass,
    },
    /// The target refused a batch or a table does not fit its records.
    #[error("projection {connector}: {source} (batch of {topics})")]
    Target {
        connector: String,
        topics: String,
        #[source]
        source: TargetError,
    },
    /// The stream could not be read.
    #[error("projection {connector}: {source}")]
    Stream {
        connector: String,
        #[source]
        source: StreamError,
    },
}

impl spillway_core::Classify for ProjectionError {
    fn class(&self) -> spillway_core::ErrorClass {
        match self {
            // A record whose schema registry did not answer may decode later.
            ProjectionError::Record { class, .. } => *class,
            ProjectionError::Target { source, .. } => source.class(),
            ProjectionError::Stream { source, .. } => source.class(),
        }
    }
}

/// The key of a row: its columns and values.
struct RowKey {
    columns: Vec<Column>,
    cells: Vec<Cell>,
}

/// Counts of a projector's run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectorStats {
    pub records: u64,
    pub batches: u64,
    pub tables_created: u64,
}

/// Folds topics of a stream into tables of a target.
pub struct Projector<R: StreamReader, T: Target> {
    config: ProjectionConfig,
    reader: R,
    target: T,
    decoder: Decoder,
    /// Where each assigned partition stands: the next offset to apply.
    positions: BTreeMap<TopicPartition, u64>,
    /// Offsets committed before this run (for partitions not yet assigned).
    committed: HashMap<TopicPartition, u64>,
    /// Tables as the target has them.
    tables: HashMap<String, TableInfo>,
    /// (table, row shape) pairs already checked against the table.
    checked: HashSet<(String, usize)>,
    /// Listed topics not (yet) in the stream, warned about once.
    missing: HashSet<String>,
    /// Topics whose skipped records were logged.
    skipped: HashSet<(String, &'static str)>,
    stream: String,
    stats: ProjectorStats,
}

impl<R: StreamReader, T: Target> Projector<R, T> {
    /// A projector of `config`'s topics read by `reader` (described as `stream` in
    /// messages) into `target`.
    pub fn new(
        config: ProjectionConfig,
        reader: R,
        target: T,
        decoder: Decoder,
        stream: impl Into<String>,
    ) -> Self {
        Projector {
            config,
            reader,
            target,
            decoder,
            positions: BTreeMap::new(),
            committed: HashMap::new(),
            tables: HashMap::new(),
            checked: HashSet::new(),
            missing: HashSet::new(),
            skipped: HashSet::new(),
            stream: stream.into(),
            stats: ProjectorStats::default(),
        }
    }

    fn target_error(&self, source: TargetError, topics: &str) -> ProjectionError {
        ProjectionError::Target {
            connector: self.config.name.clone(),
            topics: topics.to_string(),
            source,
        }
    }

    fn stream_error(&self, source: StreamError) -> ProjectionError {
        ProjectionError::Stream {
            connector: self.config.name.clone(),
            source,
        }
    }

    /// Runs until `shutdown` turns true (after the batch in hand is committed) or an error.
    pub async fn run(
        mut self,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<ProjectorStats, ProjectionError> {
        self.committed = self
            .target
            .load_offsets(&self.config.name)
            .await
            .map_err(|e| self.target_error(e, "offsets"))?;
        info!(
            connector = %self.config.name,
            topics = %self.config.topics.describe(),
            partitions = self.committed.len(),
            "projection resuming from the offsets stored in the target"
        );
        let mut discovered = Instant::now() - DISCOVER_EVERY;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if discovered.elapsed() >= DISCOVER_EVERY {
                self.discover().await?;
                discovered = Instant::now();
            }
            let poll = self.reader.poll(self.config.batch_size, POLL_WAIT);
            let records = tokio::select! {
                r = poll => r.map_err(|e| self.stream_error(e))?,
                _ = shutdown.changed() => break,
            };
            if !records.is_empty() {
                self.apply(records).await?;
            }
        }
        info!(
            connector = %self.config.name,
            records = self.stats.records,
            batches = self.stats.batches,
            "projection stopped"
        );
        Ok(self.stats)
    }

    /// Assigns every partition of the projection's topics, new ones from their stored
    /// offset or the start.
    async fn discover(&mut self) -> Result<(), ProjectionError> {
        let topics = self
            .reader
            .topics()
            .await
            .map_err(|e| self.stream_error(e))?;
        let mut changed = false;
        for (topic, partitions) in &topics {
            if !self.config.topics.matches(topic) || self.config.topics.skips_internal(topic) {
                continue;
            }
            for partition in 0..*partitions {
                let tp = TopicPartition::new(topic.clone(), partition);
                if !self.positions.contains_key(&tp) {
                    let from = self.committed.get(&tp).copied().unwrap_or(0);
                    debug!(connector = %self.config.name, partition = %tp, from, "projection reads a partition");
                    self.positions.insert(tp, from);
                    changed = true;
                }
            }
        }
        if let crate::config::Topics::List(names) = &self.config.topics {
            for name in names {
                if !topics.iter().any(|(t, _)| t == name) && self.missing.insert(name.clone()) {
                    let existing: Vec<&str> = topics
                        .iter()
                        .map(|(t, _)| t.as_str())
                        .filter(|t| !t.starts_with("__") && !t.starts_with("spillway-"))
                        .take(20)
                        .collect();
                    warn!(
                        connector = %self.config.name,
                        topic = %name,
                        stream = %self.stream,
                        existing = %existing.join(", "),
                        "projection topic does not exist (yet); waiting for it to appear (check topics)"
                    );
                }
            }
        }
        if changed {
            let positions: Vec<(TopicPartition, u64)> = self
                .positions
                .iter()
                .map(|(tp, o)| (tp.clone(), *o))
                .collect();
            self.reader
                .assign(&positions)
                .map_err(|e| self.stream_error(e))?;
        }
        Ok(())
    }

    fn record_error(&self, record: &StreamRecord, reason: impl Into<String>) -> ProjectionError {
        ProjectionError::Record {
            connector: self.config.name.clone(),
            topic: record.topic.to_string(),
            partition: record.partition,
            offset: record.offset,
            reason: reason.into(),
            class: spillway_core::ErrorClass::Definite,
        }
    }

    /// The key of a row change, as the primary key mode takes it.
    fn key_of(&self, key: Option<&Fields>, row: Option<&Fields>) -> Result<Option<RowKey>, String> {
        let pick = |fields: &Fields, names: &[String], what: &str| -> Result<RowKey, String> {
            if names.is_empty() {
                return Ok(RowKey {
                    columns: fields.columns.to_vec(),
                    cells: fields.cells.clone(),
                });
            }
            let mut columns = Vec::with_capacity(names.len());
            let mut cells = Vec::with_capacity(names.len());
            for name in names {
                let i = fields
                    .columns
                    .iter()
                    .position(|c| &c.name == name)
                    .ok_or_else(|| format!("primary.key.fields names {name:?}, which the record's {what} does not have"))?;
                columns.push(fields.columns[i].clone());
                cells.push(fields.cells[i].clone());
            }
            Ok(RowKey { columns, cells })
        };
        match &self.config.primary_key {
            PrimaryKeyMode::None => Ok(None),
            PrimaryKeyMode::RecordKey(names) => match key {
                Some(k) => pick(k, names, "key").map(Some),
                None => Err("the record has no key, and primary.key.mode=record_key takes the row's key from it (a source table without a primary key? set primary.key.mode=record_value with primary.key.fields, or none with insert.mode=insert)".to_string()),
            },
            PrimaryKeyMode::RecordValue(names) => match row {
                Some(r) => pick(r, names, "row").map(Some),
                None => Err("a delete without its \"before\" row, and primary.key.mode=record_value takes the key from it".to_string()),
            },
        }
    }

    async fn apply(&mut self, records: Vec<StreamRecord>) -> Result<(), ProjectionError> {
        let mut batch = Batch::default();
        let mut advanced: BTreeMap<TopicPartition, u64> = BTreeMap::new();
        // Row shapes written per table, to check against the table before applying.
        let mut shapes: Vec<(String, Arc<[Column]>, Vec<String>)> = Vec::new();
        let mut topics: BTreeMap<Arc<str>, ()> = BTreeMap::new();
        for record in &records {
            let tp = TopicPartition::new(record.topic.to_string(), record.partition);
            let Some(next) = self.positions.get(&tp).copied() else {
                continue;
            };
            if record.offset < next {
                continue;
            }
            topics.insert(record.topic.clone(), ());
            let change = self.decoder.decode(record).map_err(|e| {
                let mut error = self.record_error(record, e.reason);
                if let ProjectionError::Record { class, .. } = &mut error {
                    *class = e.class;
                }
                error
            })?;
            let table = self.config.table_for(&record.topic);
            match change {
                Change::Write { key, after } => {
                    let keyed = self
                        .key_of(key.as_ref(), Some(&after))
                        .map_err(|e| self.record_error(record, e))?;
                    match keyed {
                        None => {
                            if !shapes
                                .iter()
                                .any(|(t, c, _)| *t == table && Arc::ptr_eq(c, &after.columns))
                            {
                                shapes.push((table.clone(), after.columns.clone(), Vec::new()));
                            }
                            batch
                                .table(&table, &[])
                                .insert_unkeyed(after.columns, after.cells);
                        }
                        Some(RowKey {
                            columns: key_columns,
                            cells: key_cells,
                        }) => {
                            let names: Vec<String> =
                                key_columns.iter().map(|c| c.name.clone()).collect();
                            if let Some(missing) = names
                                .iter()
                                .find(|n| !after.columns.iter().any(|c| &c.name == *n))
                            {
                                return Err(self.record_error(
                                    record,
                                    format!("the key field {missing:?} is not a field of the row, so it cannot be the table's primary key"),
                                ));
                            }
                            if !shapes
                                .iter()
                                .any(|(t, c, _)| *t == table && Arc::ptr_eq(c, &after.columns))
                            {
                                shapes.push((table.clone(), after.columns.clone(), names));
                            }
                            batch.table(&table, &key_columns).write(
                                key_cells,
                                after.columns,
                                after.cells,
                            );
                        }
                    }
                }
                Change::Delete { key, before } => {
                    if self.config.delete_enabled {
                        let keyed = self
                            .key_of(key.as_ref(), before.as_ref())
                            .map_err(|e| self.record_error(record, e))?;
                        if let Some(RowKey {
                            columns: key_columns,
                            cells: key_cells,
                        }) = keyed
                        {
                            batch.table(&table, &key_columns).delete(key_cells);
                        }
                    }
                }
                Change::Tombstone { key } => {
                    // After a `d` event it deletes nothing more; for flat records it is the
                    // delete itself.
                    if self.config.delete_enabled
                        && matches!(self.config.primary_key, PrimaryKeyMode::RecordKey(_))
                    {
                        if let Ok(Some(RowKey {
                            columns: key_columns,
                            cells: key_cells,
                        })) = self.key_of(key.as_ref(), None)
                        {
                            batch.table(&table, &key_columns).delete(key_cells);
                        }
                    }
                }
                Change::Truncate => {
                    if self.config.truncate_enabled {
                        batch.table(&table, &[]).truncate();
                    } else {
                        self.note_skip(&record.topic, "truncate (truncate.enabled=false)");
                    }
                }
                Change::Skip(reason) => self.note_skip(&record.topic, reason),
            }
            advanced.insert(tp, record.offset + 1);
        }
        if advanced.is_empty() {
            return Ok(());
        }
        let topic_list = topics
            .keys()
            .map(|t| t.as_ref())
            .collect::<Vec<_>>()
            .join(", ");
        for (table, columns, key) in shapes {
            self.ensure_table(&table, &columns, &key)
                .await
                .map_err(|e| self.target_error(e, &topic_list))?;
        }
        // Tables that only see deletes or truncates: the target applies changes only to
        // tables it knows, so every existing one is looked up (a missing one has nothing
        // to delete or truncate); a delete's key must be the table's.
        for (table, changes) in batch.tables() {
            if changes.is_empty() || self.tables.contains_key(table) {
                continue;
            }
            if let Some(info) = self
                .target
                .describe(table)
                .await
                .map_err(|e| self.target_error(e, &topic_list))?
            {
                if !changes.key_columns.is_empty() {
                    let key: Vec<String> =
                        changes.key_columns.iter().map(|c| c.name.clone()).collect();
                    check_table(table, &info, &changes.key_columns, &key, true)
                        .map_err(|e| self.target_error(e, &topic_list))?;
                }
                self.tables.insert(table.to_string(), info);
            }
        }
        let offsets: Vec<(TopicPartition, u64)> =
            advanced.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
        self.target
            .apply(
                &batch,
                self.config.insert_mode,
                &self.tables,
                &self.config.name,
                &offsets,
            )
            .await
            .map_err(|e| self.target_error(e, &topic_list))?;
        for (tp, next) in &advanced {
            self.positions.insert(tp.clone(), *next);
        }
        self.reader.processed(&offsets);
        let labels = [("connector", self.config.name.clone())];
        metrics::counter!(spillway_core::metrics::PROJECTION_RECORDS, &labels)
            .increment(records.len() as u64);
        if let Some(newest) = records.iter().map(|r| r.timestamp_ms).max() {
            let lag = (spillway_core::pipeline::now_ms() - newest).max(0) as f64 / 1000.0;
            metrics::gauge!(spillway_core::metrics::PROJECTION_LAG, &labels).set(lag);
        }
        self.stats.records += records.len() as u64;
        self.stats.batches += 1;
        Ok(())
    }

    fn note_skip(&mut self, topic: &str, reason: &'static str) {
        if self.skipped.insert((topic.to_string(), reason)) {
            info!(connector = %self.config.name, topic, what = reason, "projection skips records that change no row");
        }
    }

    /// Makes the table fit rows of `columns` keyed by `key`: creates it, or adds the
    /// columns it lacks, as `schema.evolution` allows; checks types and the key.
    async fn ensure_table(
        &mut self,
        table: &str,
        columns: &Arc<[Column]>,
        key: &[String],
    ) -> Result<(), TargetError> {
        let id = (
            table.to_string(),
            Arc::as_ptr(columns) as *const () as usize,
        );
        if self.checked.contains(&id) {
            return Ok(());
        }
        let evolve = self.config.schema_evolution == SchemaEvolution::Basic;
        let needs_key = self.config.insert_mode != InsertMode::Insert || self.config.delete_enabled;
        let info = match self.tables.get(table) {
            Some(info) => info.clone(),
            None => match self.target.describe(table).await? {
                Some(info) => info,
                None if evolve => {
                    self.target.create_table(table, columns, key).await?;
                    self.stats.tables_created += 1;
                    let info = self.target.describe(table).await?.ok_or_else(|| {
                        TargetError::Refused(format!("table {table:?} was created but cannot be found"))
                    })?;
                    info!(
                        connector = %self.config.name,
                        table,
                        columns = %info.columns.iter().map(|(n, t)| format!("{n} {t}")).collect::<Vec<_>>().join(", "),
                        key = %key.join(", "),
                        "projection created a table"
                    );
                    info
                }
                None => {
                    return Err(TargetError::Conflict(format!(
                        "table {table:?} does not exist and schema.evolution=none does not create it: create it, or set schema.evolution=basic"
                    )))
                }
            },
        };
        let missing = check_table(table, &info, columns, key, needs_key)?;
        let info = if missing.is_empty() {
            info
        } else if evolve {
            self.target.add_columns(table, &missing).await?;
            info!(
                connector = %self.config.name,
                table,
                columns = %missing.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
                "projection added columns"
            );
            self.target.describe(table).await?.unwrap_or(info)
        } else {
            return Err(TargetError::Conflict(format!(
                "table {table:?} has no column {} that records carry, and schema.evolution=none does not add it: add the column, or set schema.evolution=basic",
                missing.iter().map(|c| format!("{:?}", c.name)).collect::<Vec<_>>().join(", ")
            )));
        };
        self.tables.insert(table.to_string(), info);
        self.checked.insert(id);
        Ok(())
    }
}
