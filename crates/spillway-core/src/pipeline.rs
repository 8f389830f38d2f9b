//! The pipeline: source batches in, encoded records to the stream writer, ordered
//! acknowledgements back, offsets committed.
//!
//! ```text
//!  source ──SourceBatch──> [route, key, encode] ──records──> stream writer
//!    ▲                                                            │ ack (any order)
//!    └──── committed offset <── offset store <── AckTracker <─────┘
//! ```
//!
//! The channel from the source is bounded, so a slow stream slows capture rather than
//! growing memory. Every `flush_interval` and on shutdown the pipeline stores the checkpoint
//! of the last batch below which every batch is durable, then publishes it so the source
//! can release its log up to there.

use crate::ack::AckTracker;
use crate::error::ErrorClass;
use crate::event::{ChangeEvent, Op};
use crate::metrics as metrics_names;
use crate::offsets::{Offset, OffsetStore, OffsetStoreError};
use crate::record::{Header, Record};
use crate::schema::TableSchema;
use crate::source::{Heartbeat, SourceBatch, StructRecord};
use crate::stream::{Ack, AckReport, Checkpoint, StreamError, StreamWriter};
use crate::value::Row;
use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// Default for `offset.flush.interval.ms`.
pub const DEFAULT_OFFSET_FLUSH_INTERVAL: Duration = Duration::from_millis(1000);
/// Header on the delete half of a primary-key change, holding the new key.
pub const NEW_KEY_HEADER: &str = "__debezium.newkey";
/// Header on the create half of a primary-key change, holding the old key.
pub const OLD_KEY_HEADER: &str = "__debezium.oldkey";

/// Error while encoding an event; names the table and, where known, the column.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode event of table {table}{}: {message}", column.as_ref().map(|c| format!(", column {c}")).unwrap_or_default())]
pub struct EncodeError {
    pub table: String,
    pub column: Option<String>,
    pub message: String,
    /// Whether the same event may encode later (a schema registry that did not answer, or
    /// refused a schema until an operator changes its compatibility level).
    pub class: ErrorClass,
}

impl EncodeError {
    pub fn new(table: impl Into<String>, column: Option<String>, message: String) -> Self {
        EncodeError {
            table: table.into(),
            column,
            message,
            class: ErrorClass::Definite,
        }
    }
}

/// Turns events into key and value documents (JSON, Avro, ...).
pub trait EventEncoder: Send {
    /// The key document for `row`, or `None` when the table has no primary key.
    fn key(&mut self, table: &TableSchema, row: &Row) -> Result<Option<Vec<u8>>, EncodeError>;
    /// The value document (the Debezium envelope) for `event`.
    fn value(&mut self, event: &ChangeEvent) -> Result<Vec<u8>, EncodeError>;
    /// The key as carried in the primary-key-change headers.
    fn key_header(&mut self, table: &TableSchema, row: &Row) -> Result<Vec<u8>, EncodeError>;
    /// Key and value of a heartbeat record.
    fn heartbeat(&mut self, heartbeat: &Heartbeat) -> Result<(Vec<u8>, Vec<u8>), EncodeError>;
    /// Key and value of a record given as Connect structs.
    fn struct_record(&mut self, record: &StructRecord) -> Result<(Vec<u8>, Vec<u8>), EncodeError>;
}

/// Error that stops the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Offsets(#[from] OffsetStoreError),
}

/// Pipeline settings taken from the connector config.
#[derive(Clone, Debug)]
pub struct PipelineOptions {
    /// `tombstones.on.delete`.
    pub tombstones_on_delete: bool,
    /// `skipped.operations`.
    pub skipped_operations: HashSet<OpCode>,
    /// `offset.flush.interval.ms`.
    pub flush_interval: Duration,
    /// Headers added to every record after its own (Debezium's context headers).
    pub extra_headers: Vec<Header>,
    /// With a connector name, every change record also carries where its change sits in
    /// the source's log ([`CONNECTOR_HEADER`], [`POSITION_HEADER`]), so a consumer can drop
    /// the duplicates at-least-once delivery allows after a crash.
    pub position_headers: Option<String>,
    /// The connector's name, as metrics label their series.
    pub connector: String,
}

impl PipelineOptions {
    /// Whether events of operation `op` are left out (`skipped.operations`). The set holds
    /// a few codes at most: comparing them beats hashing the code for every event.
    pub fn skips(&self, op: &str) -> bool {
        self.skipped_operations.iter().any(|&skipped| skipped == op)
    }
}

/// Header naming the connector whose position [`POSITION_HEADER`] gives.
pub const CONNECTOR_HEADER: &str = "spillway.connector";
/// Header with the change's position in the source's log (`phase:log/sub:row`): ordered per
/// connector, the same for every record of one change.
pub const POSITION_HEADER: &str = "spillway.position";

/// An operation code as a hashable value.
pub type OpCode = &'static str;

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            tombstones_on_delete: true,
            skipped_operations: [Op::Truncate.code()].into_iter().collect(),
            flush_interval: DEFAULT_OFFSET_FLUSH_INTERVAL,
            extra_headers: Vec::new(),
            position_headers: None,
            connector: String::new(),
        }
    }
}

/// Counters a finished pipeline reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PipelineStats {
    pub events: u64,
    pub records: u64,
    pub commits: u64,
}

/// Builds the records for one event: the event itself, a tombstone after a delete, and the
/// delete + tombstone + create triple for a primary-key change.
pub fn records_for(
    event: &ChangeEvent,
    encoder: &mut dyn EventEncoder,
    options: &PipelineOptions,
    timestamp_ms: i64,
    out: &mut Vec<Record>,
) -> Result<(), EncodeError> {
    if options.skips(event.op.code()) {
        return Ok(());
    }
    let table = &event.table;
    let record = |key: Option<Vec<u8>>, value: Option<Vec<u8>>, mut headers: Vec<Header>| {
        headers.extend(options.extra_headers.iter().cloned());
        if let Some(connector) = &options.position_headers {
            headers.push(Header {
                key: CONNECTOR_HEADER.to_string(),
                value: Some(connector.as_bytes().to_vec()),
            });
            headers.push(Header {
                key: POSITION_HEADER.to_string(),
                value: Some(event.position.to_string().into_bytes()),
            });
        }
        Record {
            topic: table.topic.clone(),
            key,
            value,
            headers,
            timestamp_ms,
        }
    };
    match event.op {
        Op::Update if table.has_key() => {
            if let (Some(before), Some(after)) = (&event.before, &event.after) {
                if key_changed(table, before, after) {
                    let old_key = encoder.key(table, before)?;
                    let new_key_header = encoder.key_header(table, after)?;
                    let old_key_header = encoder.key_header(table, before)?;
                    let delete = ChangeEvent {
                        op: Op::Delete,
                        after: None,
                        ..event.clone()
                    };
                    let create = ChangeEvent {
                        op: Op::Create,
                        before: None,
                        ..event.clone()
                    };
                    out.push(record(
                        old_key.clone(),
                        Some(encoder.value(&delete)?),
                        vec![Header {
                            key: NEW_KEY_HEADER.to_string(),
                            value: Some(new_key_header.clone()),
                        }],
                    ));
                    if options.tombstones_on_delete {
                        let header = Header {
                            key: NEW_KEY_HEADER.to_string(),
                            value: Some(new_key_header.clone()),
                        };
                        out.push(record(old_key, None, vec![header]));
                    }
                    out.push(record(
                        encoder.key(table, after)?,
                        Some(encoder.value(&create)?),
                        vec![Header {
                            key: OLD_KEY_HEADER.to_string(),
                            value: Some(old_key_header),
                        }],
                    ));
                    return Ok(());
                }
            }
            let key = match event.key_row() {
                Some(row) => encoder.key(table, row)?,
                None => None,
            };
            out.push(record(key, Some(encoder.value(event)?), Vec::new()));
        }
        Op::Delete => {
            let key = match event.key_row() {
                Some(row) => encoder.key(table, row)?,
                None => None,
            };
            out.push(record(key.clone(), Some(encoder.value(event)?), Vec::new()));
            // Debezium writes the tombstone even for a table without a key.
            if options.tombstones_on_delete {
                out.push(record(key, None, Vec::new()));
            }
        }
        _ => {
            let key = match event.key_row() {
                Some(row) => encoder.key(table, row)?,
                None => None,
            };
            out.push(record(key, Some(encoder.value(event)?), Vec::new()));
        }
    }
    Ok(())
}

fn key_changed(table: &TableSchema, before: &Row, after: &Row) -> bool {
    table.key.iter().any(|&i| {
        match (before.0.get(i), after.0.get(i)) {
            // An old row without key values (replica identity nothing) cannot show a change.
            (Some(crate::Value::Null), _) => false,
            (Some(old), Some(new)) => old != new,
            _ => false,
        }
    })
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs the pipeline until the source closes its channel, then flushes the writer and
/// commits the final offset.
pub async fn run<W, S>(
    mut batches: mpsc::Receiver<SourceBatch>,
    mut encoder: Box<dyn EventEncoder>,
    mut writer: W,
    mut store: S,
    committed: watch::Sender<Option<Offset>>,
    options: PipelineOptions,
) -> Result<PipelineStats, PipelineError>
where
    W: StreamWriter,
    S: OffsetStore + 'static,
{
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<AckReport>();
    let mut tracker = AckTracker::new();
    let mut stats = PipelineStats::default();
    let mut last_committed: Option<Offset> = committed.borrow().clone();
    let mut last_state: Option<serde_json::Value> =
        last_committed.as_ref().and_then(|o| o.state.clone());
    let mut tick = tokio::time::interval(options.flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut records = Vec::new();
    let mut source_open = true;
    let mut meter = Meter::new(&options.connector);
    // Each batch carries its checkpoint under the connector's name, for a stream that keeps
    // positions with the records.
    let producer: Option<Arc<str>> =
        (!options.connector.is_empty()).then(|| Arc::from(options.connector.as_str()));

    let result: Result<(), PipelineError> = async {
        loop {
            tokio::select! {
                biased;
                Some(report) = ack_rx.recv() => {
                    report.result?;
                    tracker.ack(report.seq);
                    meter.acked(report.seq);
                }
                batch = batches.recv(), if source_open => {
                    let Some(batch) = batch else {
                        source_open = false;
                        break;
                    };
                    meter.queue.set(batches.len() as f64);
                    let ts = now_ms();
                    for record in &batch.records {
                        let (key, value) = encoder.struct_record(record)?;
                        records.push(Record {
                            topic: record.topic.clone(),
                            key: Some(key),
                            value: Some(value),
                            headers: options.extra_headers.clone(),
                            timestamp_ms: record.ts_ms,
                        });
                    }
                    for event in &batch.events {
                        records_for(event, encoder.as_mut(), &options, ts, &mut records)?;
                    }
                    if let Some(heartbeat) = &batch.heartbeat {
                        let (key, value) = encoder.heartbeat(heartbeat)?;
                        records.push(Record {
                            topic: heartbeat.topic.clone(),
                            key: Some(key),
                            value: Some(value),
                            headers: Vec::new(),
                            timestamp_ms: ts,
                        });
                    }
                    stats.events += batch.events.len() as u64;
                    stats.records += records.len() as u64;
                    let checkpoint = match batch.checkpoint {
                        Some(offset) => {
                            if offset.state.is_some() {
                                last_state = offset.state.clone();
                            }
                            Some(Offset { state: offset.state.or_else(|| last_state.clone()), ..offset })
                        }
                        None => batch.events.last().map(|e| Offset {
                            position: e.position,
                            state: last_state.clone(),
                        }),
                    };
                    let carried = producer.clone().zip(checkpoint.clone());
                    let seq = tracker.register(checkpoint);
                    meter.sent(seq, &batch.events, &records, &options);
                    let mut ack = Ack::new(seq, ack_tx.clone());
                    if let Some((producer, offset)) = carried {
                        ack = ack.with_checkpoint(Checkpoint { producer, offset });
                    }
                    writer.send(std::mem::take(&mut records), ack).await?;
                }
                _ = tick.tick() => {
                    commit(&mut store, &tracker, &mut last_committed, &committed, &mut stats, &meter).await?;
                }
            }
        }
        Ok(())
    }
    .await;

    // Drain: whatever was sent is either acknowledged or failed before the final commit. A
    // batch that fails here still stops progress at it, and is reported like one that
    // failed while running (a writer's flush need not report it).
    let flushed = writer.flush().await;
    drop(ack_tx);
    let mut failed_in_drain: Option<StreamError> = None;
    while let Some(report) = ack_rx.recv().await {
        match report.result {
            Ok(()) => {
                tracker.ack(report.seq);
                meter.acked(report.seq);
            }
            Err(error) => {
                failed_in_drain.get_or_insert(error);
            }
        }
    }
    commit(
        &mut store,
        &tracker,
        &mut last_committed,
        &committed,
        &mut stats,
        &meter,
    )
    .await?;
    result?;
    flushed?;
    if let Some(error) = failed_in_drain {
        return Err(error.into());
    }
    Ok(stats)
}

async fn commit<S: OffsetStore + 'static>(
    store: &mut S,
    tracker: &AckTracker,
    last: &mut Option<Offset>,
    committed: &watch::Sender<Option<Offset>>,
    stats: &mut PipelineStats,
    meter: &Meter,
) -> Result<(), OffsetStoreError> {
    let Some(offset) = tracker.committable() else {
        return Ok(());
    };
    if last.as_ref() == Some(offset) {
        return Ok(());
    }
    if let Some(previous) = last.as_ref() {
        if offset.position < previous.position {
            return Ok(());
        }
    }
    store.commit(offset)?;
    stats.commits += 1;
    meter.commits.increment(1);
    meter.position.set(offset.position.log as f64);
    *last = Some(offset.clone());
    committed.send_replace(Some(offset.clone()));
    Ok(())
}

/// What one batch sent holds, until it is acknowledged.
struct BatchMeta {
    /// Events per topic and operation.
    counts: Vec<(Arc<str>, OpCode, u64)>,
    records: u64,
    bytes: u64,
    /// Commit time in the database of its first streamed change, ms since the epoch.
    commit_ms: Option<i64>,
}

/// The pipeline's metrics: counted when the stream acknowledges a batch.
struct Meter {
    connector: String,
    pending: HashMap<u64, BatchMeta>,
    events: HashMap<(Arc<str>, OpCode), Counter>,
    records: Counter,
    bytes: Counter,
    lag: Histogram,
    position: Gauge,
    commits: Counter,
    queue: Gauge,
}

impl Meter {
    fn new(connector: &str) -> Meter {
        let label = || [("connector", connector.to_string())];
        Meter {
            connector: connector.to_string(),
            pending: HashMap::new(),
            events: HashMap::new(),
            records: counter!(metrics_names::RECORDS, &label()),
            bytes: counter!(metrics_names::BYTES, &label()),
            lag: histogram!(metrics_names::LAG, &label()),
            position: gauge!(metrics_names::POSITION, &label()),
            commits: counter!(metrics_names::COMMITS, &label()),
            queue: gauge!(metrics_names::QUEUE, &label()),
        }
    }

    fn sent(
        &mut self,
        seq: u64,
        events: &[ChangeEvent],
        records: &[Record],
        options: &PipelineOptions,
    ) {
        let mut counts: Vec<(Arc<str>, OpCode, u64)> = Vec::new();
        let mut commit_ms = None;
        for event in events {
            let op = event.op.code();
            if options.skips(op) {
                continue;
            }
            if commit_ms.is_none() && event.op != Op::Read {
                commit_ms = source_ts_ms(event);
            }
            match counts.last_mut() {
                Some((topic, o, n)) if *o == op && Arc::ptr_eq(topic, &event.table.topic) => {
                    *n += 1
                }
                _ => counts.push((event.table.topic.clone(), op, 1)),
            }
        }
        self.pending.insert(
            seq,
            BatchMeta {
                counts,
                records: records.len() as u64,
                bytes: records.iter().map(|r| r.size_hint() as u64).sum(),
                commit_ms,
            },
        );
    }

    fn acked(&mut self, seq: u64) {
        let Some(meta) = self.pending.remove(&seq) else {
            return;
        };
        for (topic, op, n) in meta.counts {
            let connector = &self.connector;
            self.events
                .entry((topic.clone(), op))
                .or_insert_with(|| {
                    counter!(metrics_names::EVENTS, "connector" => connector.clone(), "topic" => topic.to_string(), "op" => op)
                })
                .increment(n);
        }
        self.records.increment(meta.records);
        self.bytes.increment(meta.bytes);
        if let Some(ms) = meta.commit_ms {
            self.lag.record((now_ms() - ms).max(0) as f64 / 1000.0);
        }
    }
}

/// The `ts_ms` of an event's source block: when the database committed the change.
fn source_ts_ms(event: &ChangeEvent) -> Option<i64> {
    let i = event
        .source
        .schema
        .fields()
        .iter()
        .position(|f| f.name == "ts_ms")?;
    match event.source.values.get(i)? {
        crate::Value::Int(ms) => Some(*ms),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
