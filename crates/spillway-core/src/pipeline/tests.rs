//! The pipeline without servers: test doubles of the encoder, the stream writer and the
//! offset store traits, a scripted order of acknowledgements, and checks of what was written
//! and what was committed.

use super::*;
use crate::event::SourceInfo;
use crate::position::Position;
use crate::schema::{Column, ConnectSchema, ConnectType};
use crate::value::Value;
use std::sync::Mutex;

/// Writes `op:<values>` as the value and `key:<values>` as the key, so a record shows which
/// change and which row it carries.
struct TextEncoder;

fn key_text(table: &TableSchema, row: &Row) -> Vec<u8> {
    let values: Vec<String> = table
        .key
        .iter()
        .map(|&i| format!("{:?}", row.0[i]))
        .collect();
    format!("key:{}", values.join(",")).into_bytes()
}

impl EventEncoder for TextEncoder {
    fn key(&mut self, table: &TableSchema, row: &Row) -> Result<Option<Vec<u8>>, EncodeError> {
        Ok(table.has_key().then(|| key_text(table, row)))
    }

    fn value(&mut self, event: &ChangeEvent) -> Result<Vec<u8>, EncodeError> {
        Ok(format!("{}:{:?}->{:?}", event.op.code(), event.before, event.after).into_bytes())
    }

    fn key_header(&mut self, table: &TableSchema, row: &Row) -> Result<Vec<u8>, EncodeError> {
        Ok(key_text(table, row))
    }

    fn heartbeat(&mut self, heartbeat: &Heartbeat) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        Ok((heartbeat.server_name.clone().into_bytes(), b"beat".to_vec()))
    }

    fn struct_record(&mut self, record: &StructRecord) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        Ok((
            b"struct".to_vec(),
            format!("{:?}", record.value).into_bytes(),
        ))
    }
}

/// What happens to a batch's acknowledgement.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Durable,
    Failed,
    /// Never resolved (its writer lost it): the batch never counts as durable.
    Lost,
}

/// When the writer resolves the acknowledgements it holds, and in which order.
#[derive(Clone, Debug)]
struct Script {
    /// After the batch with this index (0-based) is sent; `None`: on flush.
    resolve_after: Option<usize>,
    /// Batch indices in the order their outcome is reported.
    order: Vec<usize>,
    outcomes: Vec<Outcome>,
}

/// A stream writer keeping every batch it was given and resolving acknowledgements as its
/// script says.
struct ScriptedWriter {
    script: Script,
    held: Vec<Option<Ack>>,
    written: Arc<Mutex<Vec<Vec<Record>>>>,
}

impl ScriptedWriter {
    fn resolve_held(&mut self) {
        for &i in &self.script.order {
            let Some(ack) = self.held.get_mut(i).and_then(Option::take) else {
                continue;
            };
            match self.script.outcomes[i] {
                Outcome::Durable => ack.resolve(Ok(())),
                Outcome::Failed => ack.resolve(Err(StreamError::Rejected(format!("batch {i}")))),
                Outcome::Lost => drop(ack),
            }
        }
    }
}

impl StreamWriter for ScriptedWriter {
    async fn send(&mut self, batch: Vec<Record>, ack: Ack) -> Result<(), StreamError> {
        self.written.lock().expect("written").push(batch);
        self.held.push(Some(ack));
        if self.script.resolve_after == Some(self.held.len() - 1) {
            self.resolve_held();
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StreamError> {
        self.resolve_held();
        // Whatever the script did not mention is lost.
        self.held.clear();
        Ok(())
    }
}

/// An offset store keeping every commit in memory.
#[derive(Clone, Default)]
struct MemoryStore {
    commits: Arc<Mutex<Vec<Offset>>>,
}

impl OffsetStore for MemoryStore {
    fn load(&mut self) -> Result<Option<Offset>, OffsetStoreError> {
        Ok(self.commits.lock().expect("commits").last().cloned())
    }

    fn commit(&mut self, offset: &Offset) -> Result<(), OffsetStoreError> {
        self.commits.lock().expect("commits").push(offset.clone());
        Ok(())
    }

    fn replace(&mut self, offset: Option<&Offset>) -> Result<(), OffsetStoreError> {
        let mut commits = self.commits.lock().expect("commits");
        commits.clear();
        commits.extend(offset.cloned());
        Ok(())
    }
}

fn table(with_key: bool) -> Arc<TableSchema> {
    let column = |name: &str| Column {
        name: name.to_string(),
        schema: ConnectSchema::new(ConnectType::Int64),
        type_name: "int8".to_string(),
    };
    Arc::new(TableSchema {
        database: "db".to_string(),
        schema: Some("public".to_string()),
        table: "t".to_string(),
        columns: vec![column("id"), column("v")],
        key: if with_key { vec![0] } else { Vec::new() },
        topic: Arc::from("p.public.t"),
        schema_name: "p.public.t".to_string(),
    })
}

fn row(id: i64, v: i64) -> Row {
    Row(vec![Value::Int(id), Value::Int(v)])
}

fn event(
    table: &Arc<TableSchema>,
    op: Op,
    before: Option<Row>,
    after: Option<Row>,
    at: u64,
) -> ChangeEvent {
    ChangeEvent {
        table: table.clone(),
        op,
        before,
        after,
        source: SourceInfo {
            schema: Arc::new(ConnectSchema::new(ConnectType::Struct(Vec::new()))),
            values: Vec::new(),
        },
        position: Position::stream(at, 0, 0),
        ts_us: 0,
    }
}

/// Where batch `i` of [`run_batches`] is committable.
fn batch_end(i: usize) -> Offset {
    Offset::new(Position::stream(
        10 + i as u64,
        0,
        Position::END_OF_TRANSACTION,
    ))
}

struct Outcomes {
    result: Result<PipelineStats, PipelineError>,
    commits: Vec<Offset>,
    published: Option<Offset>,
    written: Vec<Vec<Record>>,
}

/// Runs the pipeline over `batches` one-insert transactions with the writer's `script`.
async fn run_batches(batches: usize, script: Script) -> Outcomes {
    let t = table(true);
    let (tx, rx) = mpsc::channel(batches + 1);
    for i in 0..batches {
        let at = 10 + i as u64;
        tx.send(SourceBatch {
            events: vec![event(&t, Op::Create, None, Some(row(i as i64, 0)), at)],
            checkpoint: Some(batch_end(i)),
            ..SourceBatch::default()
        })
        .await
        .expect("the pipeline's channel is open");
    }
    drop(tx);
    let written = Arc::new(Mutex::new(Vec::new()));
    let writer = ScriptedWriter {
        script,
        held: Vec::new(),
        written: written.clone(),
    };
    let store = MemoryStore::default();
    let (committed, published) = watch::channel(None);
    let options = PipelineOptions {
        flush_interval: Duration::from_millis(5),
        ..PipelineOptions::default()
    };
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        run(
            rx,
            Box::new(TextEncoder),
            writer,
            store.clone(),
            committed,
            options,
        ),
    )
    .await
    .expect("the pipeline finishes once its source closes");
    let commits = store.commits.lock().expect("commits").clone();
    let written = written.lock().expect("written").clone();
    let published = published.borrow().clone();
    Outcomes {
        result,
        commits,
        published,
        written,
    }
}

#[tokio::test]
async fn out_of_order_acks_commit_only_the_contiguous_prefix() {
    use Outcome::*;
    let out = run_batches(
        5,
        Script {
            resolve_after: None,
            order: vec![3, 2, 0, 4, 1],
            outcomes: vec![Durable, Lost, Durable, Durable, Durable],
        },
    )
    .await;
    let stats = out.result.expect("no batch failed");
    assert_eq!(out.written.len(), 5, "every batch reaches the writer");
    assert_eq!(
        out.commits,
        vec![batch_end(0)],
        "batches 2 to 4 are durable but batch 1 is not: only batch 0 may be committed"
    );
    assert_eq!(
        out.published,
        Some(batch_end(0)),
        "the source is told the same"
    );
    assert_eq!(stats.commits, 1);
}

#[tokio::test]
async fn acks_in_reverse_order_commit_the_last_batch_once_all_are_durable() {
    use Outcome::*;
    let out = run_batches(
        4,
        Script {
            resolve_after: Some(3),
            order: vec![3, 2, 1, 0],
            outcomes: vec![Durable; 4],
        },
    )
    .await;
    out.result.expect("no batch failed");
    assert_eq!(
        out.commits.last(),
        Some(&batch_end(3)),
        "every batch is durable, so the last one's checkpoint is committed"
    );
    assert!(
        out.commits.iter().all(|c| c == &batch_end(3)),
        "no checkpoint of a batch whose predecessors were pending is committed: {:?}",
        out.commits
    );
}

#[tokio::test]
async fn a_failed_batch_stops_the_pipeline_and_is_never_committed() {
    use Outcome::*;
    let out = run_batches(
        5,
        Script {
            // Batch 2 is durable before batch 1 fails; batch 0 is reported last.
            resolve_after: Some(2),
            order: vec![2, 1, 0],
            outcomes: vec![Durable, Failed, Durable, Durable, Durable],
        },
    )
    .await;
    match out.result {
        Err(PipelineError::Stream(StreamError::Rejected(message))) => {
            assert_eq!(message, "batch 1", "the failure reported is batch 1's")
        }
        other => panic!("a failed batch must stop the pipeline with its error, got {other:?}"),
    }
    assert_eq!(
        out.commits,
        vec![batch_end(0)],
        "only batch 0, before the failed one, may be committed"
    );
    assert!(
        out.commits
            .iter()
            .all(|c| c.position < batch_end(1).position),
        "nothing at or after the failed batch is committed"
    );
}

#[tokio::test]
async fn a_batch_failing_during_the_final_flush_is_reported_and_not_committed() {
    use Outcome::*;
    let out = run_batches(
        3,
        Script {
            resolve_after: None,
            order: vec![0, 1, 2],
            outcomes: vec![Durable, Failed, Durable],
        },
    )
    .await;
    assert!(
        matches!(
            out.result,
            Err(PipelineError::Stream(StreamError::Rejected(_)))
        ),
        "a delivery that failed while shutting down must not end as a clean stop: {:?}",
        out.result
    );
    assert_eq!(out.commits, vec![batch_end(0)]);
}

fn records_of(event: &ChangeEvent, tombstones_on_delete: bool) -> Vec<Record> {
    let options = PipelineOptions {
        tombstones_on_delete,
        ..PipelineOptions::default()
    };
    let mut out = Vec::new();
    records_for(event, &mut TextEncoder, &options, 0, &mut out).expect("the event encodes");
    out
}

fn header<'a>(record: &'a Record, key: &str) -> Option<&'a [u8]> {
    record
        .headers
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value.as_deref())
}

#[test]
fn update_of_primary_key_emits_delete_tombstone_then_create() {
    let t = table(true);
    let update = event(&t, Op::Update, Some(row(1, 5)), Some(row(2, 5)), 7);
    let records = records_of(&update, true);
    assert_eq!(records.len(), 3, "delete, tombstone, create: {records:?}");
    let (delete, tombstone, create) = (&records[0], &records[1], &records[2]);

    assert_eq!(delete.key.as_deref(), Some(&b"key:Int(1)"[..]));
    let delete_value =
        String::from_utf8(delete.value.clone().expect("a delete has a value")).expect("text");
    assert!(delete_value.starts_with("d:Some("), "{delete_value}");
    assert!(
        delete_value.ends_with("->None"),
        "a delete has no after: {delete_value}"
    );
    assert_eq!(header(delete, NEW_KEY_HEADER), Some(&b"key:Int(2)"[..]));

    assert_eq!(tombstone.key.as_deref(), Some(&b"key:Int(1)"[..]));
    assert_eq!(tombstone.value, None, "a tombstone has no value");

    assert_eq!(create.key.as_deref(), Some(&b"key:Int(2)"[..]));
    let create_value =
        String::from_utf8(create.value.clone().expect("a create has a value")).expect("text");
    assert!(
        create_value.starts_with("c:None->"),
        "a create has no before: {create_value}"
    );
    assert_eq!(header(create, OLD_KEY_HEADER), Some(&b"key:Int(1)"[..]));
    assert_eq!(header(create, NEW_KEY_HEADER), None);
}

#[test]
fn update_of_primary_key_without_tombstones_emits_delete_then_create() {
    let t = table(true);
    let update = event(&t, Op::Update, Some(row(1, 5)), Some(row(2, 5)), 7);
    let records = records_of(&update, false);
    assert_eq!(records.len(), 2, "delete, create: {records:?}");
    assert!(records.iter().all(|r| r.value.is_some()), "no tombstone");
    assert_eq!(records[0].key.as_deref(), Some(&b"key:Int(1)"[..]));
    assert_eq!(records[1].key.as_deref(), Some(&b"key:Int(2)"[..]));
}

#[test]
fn update_keeping_the_primary_key_emits_one_update() {
    let t = table(true);
    let update = event(&t, Op::Update, Some(row(1, 5)), Some(row(1, 6)), 7);
    let records = records_of(&update, true);
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0]
        .value
        .as_deref()
        .is_some_and(|v| v.starts_with(b"u:")));
    assert!(records[0].headers.is_empty());
}

#[test]
fn update_with_an_unknown_old_key_emits_one_update() {
    // Replica identity NOTHING: the old row's key is null, so no key change can be seen.
    let t = table(true);
    let before = Row(vec![Value::Null, Value::Null]);
    let update = event(&t, Op::Update, Some(before), Some(row(2, 5)), 7);
    let records = records_of(&update, true);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].key.as_deref(), Some(&b"key:Int(2)"[..]));
}

#[test]
fn delete_emits_delete_then_tombstone_when_tombstones_are_on() {
    let t = table(true);
    let delete = event(&t, Op::Delete, Some(row(3, 1)), None, 7);
    let records = records_of(&delete, true);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].key.as_deref(), Some(&b"key:Int(3)"[..]));
    assert!(records[0]
        .value
        .as_deref()
        .is_some_and(|v| v.starts_with(b"d:")));
    assert_eq!(records[1].key.as_deref(), Some(&b"key:Int(3)"[..]));
    assert_eq!(
        records[1].value, None,
        "the tombstone has the deleted key and no value"
    );
}

#[test]
fn delete_emits_no_tombstone_when_tombstones_are_off() {
    let t = table(true);
    let delete = event(&t, Op::Delete, Some(row(3, 1)), None, 7);
    let records = records_of(&delete, false);
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].value.is_some());
}

#[test]
fn delete_from_a_table_without_key_still_emits_a_tombstone() {
    let t = table(false);
    let delete = event(&t, Op::Delete, Some(row(3, 1)), None, 7);
    let records = records_of(&delete, true);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1].key, None);
    assert_eq!(records[1].value, None);
}

#[tokio::test]
async fn the_pipeline_writes_a_delete_and_its_tombstone_in_one_batch() {
    let t = table(true);
    let (tx, rx) = mpsc::channel(1);
    tx.send(SourceBatch {
        events: vec![event(&t, Op::Delete, Some(row(9, 1)), None, 3)],
        ..SourceBatch::default()
    })
    .await
    .expect("open");
    drop(tx);
    let written = Arc::new(Mutex::new(Vec::new()));
    let writer = ScriptedWriter {
        script: Script {
            resolve_after: Some(0),
            order: vec![0],
            outcomes: vec![Outcome::Durable],
        },
        held: Vec::new(),
        written: written.clone(),
    };
    let store = MemoryStore::default();
    let (committed, _published) = watch::channel(None);
    let stats = run(
        rx,
        Box::new(TextEncoder),
        writer,
        store.clone(),
        committed,
        PipelineOptions::default(),
    )
    .await
    .expect("runs");
    let written = written.lock().expect("written");
    assert_eq!(written.len(), 1);
    let values: Vec<bool> = written[0].iter().map(|r| r.value.is_some()).collect();
    assert_eq!(values, vec![true, false], "the delete, then its tombstone");
    assert_eq!(stats.records, 2);
    assert_eq!(
        store
            .commits
            .lock()
            .expect("commits")
            .last()
            .map(|o| o.position),
        Some(Position::stream(3, 0, 0)),
        "a batch without checkpoint is committable at its last event"
    );
}
