//! Retention and compaction by the cleaner of an open log, on the real log on disk.
//!
//! Nothing here asserts how fast the cleaner is: each test waits (bounded, polling) for the
//! state the cleaner must reach, then checks it exactly.
//!
//! The crash test re-runs its own binary as the writer: with `CHILD_ENV` set, the test body
//! writes a compacted topic and waits; the cleaner aborts the process at the failpoint
//! `SPILLWAY_FAILPOINT` names.

mod common;

use common::Acks;
use spillway_core::{ConfigMap, Record};
use spillway_streams::{
    alter_topic, topic_config, verify, LogError, LogOptions, LogReader, LogWriter, StoredRecord,
    TopicRules,
};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest wait for the cleaner to reach a state.
const PATIENCE: Duration = Duration::from_secs(120);

const CHILD_ENV: &str = "SPILLWAY_STREAMS_CLEANER_CHILD_DIR";
const CRASH_TEST: &str = "a_compaction_killed_at_either_side_of_its_rename_leaves_a_readable_log";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rules(pairs: &[(&str, &str)]) -> Arc<TopicRules> {
    let config = ConfigMap::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)));
    Arc::new(TopicRules::from_config(&config).unwrap())
}

fn open(dir: &Path, rules: &Arc<TopicRules>) -> LogWriter {
    let options = LogOptions {
        default_partitions: 1,
        segment_bytes: 16 * 1024,
        ..LogOptions::default()
    };
    LogWriter::open(dir, options)
        .unwrap()
        .with_topic_rules(Arc::clone(rules))
}

fn keyed(topic: &str, key: &str, value: Option<&str>, timestamp_ms: i64) -> Record {
    Record {
        topic: Arc::from(topic),
        key: Some(key.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Vec::new(),
        timestamp_ms,
    }
}

/// Bytes of the segment files of a partition.
fn partition_bytes(dir: &Path, topic: &str) -> u64 {
    std::fs::read_dir(dir.join("topics").join(topic).join("0"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

/// Every record of partition 0, from its start.
fn read_all(reader: &LogReader, topic: &str) -> Result<Vec<StoredRecord>, LogError> {
    let start = reader.partition_info(topic, 0)?.start_offset;
    let mut out: Vec<StoredRecord> = Vec::new();
    let mut next = start;
    loop {
        let batch = reader.read(topic, 0, next, 10_000)?;
        let Some(last) = batch.last() else {
            return Ok(out);
        };
        next = last.offset + 1;
        out.extend(batch);
    }
}

/// Waits until `done` holds, failing with `what` after [`PATIENCE`].
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_retention_keeps_the_partition_bounded_and_exactly_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let retention = 64 * 1024;
    let segment = 16 * 1024;
    let rules = rules(&[
        ("topic.creation.default.retention.bytes", "65536"),
        ("topic.creation.default.retention.ms", "-1"),
        ("topic.creation.default.segment.bytes", "16384"),
        ("topic.creation.default.compression.type", "none"),
    ]);
    let mut writer = open(dir.path(), &rules);
    let mut acks = Acks::new();
    let value = |i: u64| format!("{i:08}:{}", "v".repeat(1000));
    let total = 4096u64; // about 4 MiB
    let mut largest = 0;
    for chunk in 0..total / 16 {
        let batch = (chunk * 16..chunk * 16 + 16)
            .map(|i| keyed("sized", &format!("k{i}"), Some(&value(i)), now_ms()))
            .collect();
        acks.write(&mut writer, batch).await.unwrap();
        largest = largest.max(partition_bytes(dir.path(), "sized"));
    }
    let bound = retention + segment + 2048;
    let reader = LogReader::open(dir.path()).unwrap();
    wait_for("the cleaner brings the partition within its bound", || {
        partition_bytes(dir.path(), "sized") <= bound
            && reader.partition_info("sized", 0).unwrap().start_offset > 0
    });
    let info = reader.partition_info("sized", 0).unwrap();
    let size = partition_bytes(dir.path(), "sized");
    eprintln!(
        "size retention: {total} records ({} KiB) written; largest partition seen while writing {} KiB; after cleaning {} KiB (bound {} KiB), log start {}",
        total * 1017 / 1024,
        largest / 1024,
        size / 1024,
        bound / 1024,
        info.start_offset
    );
    assert!(
        size >= retention,
        "Kafka's rule keeps at least retention.bytes: {size}"
    );
    assert!(info.start_offset > 0);
    assert_eq!(info.end_offset, total);
    let records = read_all(&reader, "sized").unwrap();
    let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (info.start_offset..total).collect::<Vec<_>>());
    for r in &records {
        assert_eq!(r.value.as_deref(), Some(value(r.offset).as_bytes()));
    }
    match reader.read("sized", 0, 0, 10) {
        Err(LogError::BelowStart { offset, start, .. }) => {
            assert_eq!((offset, start), (0, info.start_offset));
        }
        other => panic!("expected BelowStart, got {other:?}"),
    }
    drop(writer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_retention_deletes_the_segments_whose_records_are_all_older() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(&[
        ("topic.creation.default.retention.ms", "3600000"),
        ("topic.creation.default.segment.bytes", "4096"),
    ]);
    let mut writer = open(dir.path(), &rules);
    let mut acks = Acks::new();
    let old = now_ms() - 2 * 3600 * 1000;
    let value = |i: u64| format!("{i:06}:{}", "t".repeat(300));
    let old_count = 400u64;
    for i in 0..old_count + 200 {
        let ts = if i < old_count { old } else { now_ms() };
        let record = keyed("timed", &format!("k{i}"), Some(&value(i)), ts);
        acks.write(&mut writer, vec![record]).await.unwrap();
    }
    let reader = LogReader::open(dir.path()).unwrap();
    let segment_of = |offset: u64| -> u64 {
        let mut bases: Vec<u64> = std::fs::read_dir(dir.path().join("topics/timed/0"))
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        bases.sort();
        bases[bases.partition_point(|&b| b <= offset) - 1]
    };
    // Every segment holding only old records goes; the one holding the first new record
    // stays, so the log starts at its base.
    wait_for("the old segments are deleted", || {
        let start = reader.partition_info("timed", 0).unwrap().start_offset;
        start > 0 && start == segment_of(old_count)
    });
    let info = reader.partition_info("timed", 0).unwrap();
    eprintln!(
        "time retention: {} records written, {old_count} of them 2 hours old with retention.ms 1 hour; log start now {}",
        old_count + 200,
        info.start_offset
    );
    let records = read_all(&reader, "timed").unwrap();
    let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (info.start_offset..old_count + 200).collect::<Vec<_>>()
    );
    for r in &records {
        assert_eq!(r.value.as_deref(), Some(value(r.offset).as_bytes()));
    }
    drop(writer);
}

/// The records the compaction tests write, in offset order, stamped `now`: 200 keys updated 30 times,
/// 20 of them then deleted with tombstones two days old (past `delete.retention.ms`), 20
/// with fresh tombstones, then records with unique keys enough to close the segments
/// holding all of that.
fn compaction_records(now: i64) -> Vec<Record> {
    let mut out = Vec::new();
    let pad = "c".repeat(40);
    for round in 0..30 {
        for k in 0..200 {
            let value = format!("k{k}:{round}:{pad}");
            out.push(keyed("kv", &format!("k{k}"), Some(&value), now));
        }
    }
    for k in 0..20 {
        out.push(keyed(
            "kv",
            &format!("k{k}"),
            None,
            now - 2 * 24 * 3600 * 1000,
        ));
    }
    for k in 20..40 {
        out.push(keyed("kv", &format!("k{k}"), None, now));
    }
    for i in 0..300 {
        let value = format!("tail{i}:{pad}");
        out.push(keyed("kv", &format!("tail{i}"), Some(&value), now));
    }
    out
}

/// What a compacted partition must hold once every closed segment is compacted: the last
/// record of each key among the closed segments, at its offset, but no expired tombstone. `active_base` is the base of
/// the active segment, whose records all stay.
fn compacted_view(records: &[Record], active_base: u64) -> BTreeMap<u64, Record> {
    // The active segment's records supersede nothing yet.
    let closed = records.len().min(active_base as usize);
    let mut last: HashMap<&[u8], u64> = HashMap::new();
    for (offset, r) in records[..closed].iter().enumerate() {
        last.insert(r.key.as_deref().unwrap(), offset as u64);
    }
    let limit = now_ms() - 24 * 3600 * 1000;
    records
        .iter()
        .enumerate()
        .filter(|(offset, r)| {
            let offset = *offset as u64;
            offset >= active_base
                || (last[r.key.as_deref().unwrap()] == offset
                    && (r.value.is_some() || r.timestamp_ms >= limit))
        })
        .map(|(offset, r)| (offset as u64, r.clone()))
        .collect()
}

fn same(stored: &StoredRecord, written: &Record) -> bool {
    stored.key == written.key
        && stored.value == written.value
        && stored.timestamp_ms == written.timestamp_ms
}

fn active_base(dir: &Path, topic: &str) -> u64 {
    std::fs::read_dir(dir.join("topics").join(topic).join("0"))
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".log")?.parse().ok()
        })
        .max()
        .unwrap()
}

/// Waits until the partition holds exactly the compacted view of `written`.
fn wait_compacted(dir: &Path, written: &[Record]) -> Vec<StoredRecord> {
    let reader = LogReader::open(dir).unwrap();
    let mut last = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let expected = compacted_view(written, active_base(dir, "kv"));
        last = read_all(&reader, "kv").unwrap_or(last);
        let matches = last.len() == expected.len()
            && last
                .iter()
                .zip(&expected)
                .all(|(s, (o, w))| s.offset == *o && same(s, w));
        if matches {
            return last;
        }
        if Instant::now() >= deadline {
            let extra: Vec<u64> = last
                .iter()
                .map(|r| r.offset)
                .filter(|o| !expected.contains_key(o))
                .collect();
            let have: std::collections::HashSet<u64> = last.iter().map(|r| r.offset).collect();
            let missing: Vec<u64> = expected
                .keys()
                .filter(|o| !have.contains(o))
                .copied()
                .collect();
            panic!(
                "the partition never held exactly the compacted records: {} records, {} expected; extra {extra:?}, missing {missing:?}, active base {}",
                last.len(),
                expected.len(),
                active_base(dir, "kv")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_the_last_record_of_each_key_at_its_offset_under_concurrent_reads() {
    let dir = tempfile::tempdir().unwrap();
    // Compaction waits (min.compaction.lag.ms) until everything is written and counted.
    let rules = rules(&[
        ("topic.creation.default.cleanup.policy", "compact"),
        ("topic.creation.default.segment.bytes", "8192"),
        ("topic.creation.default.min.compaction.lag.ms", "3600000"),
    ]);
    let written = Arc::new(compaction_records(now_ms()));
    let mut writer = open(dir.path(), &rules);
    let mut acks = Acks::new();
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // A reader reading the partition over and over, checking every record it gets.
    let reading = {
        let (dir, written, acked, stop) = (
            dir.path().to_path_buf(),
            Arc::clone(&written),
            Arc::clone(&acked),
            Arc::clone(&stop),
        );
        std::thread::spawn(move || {
            let reader = LogReader::open(&dir).unwrap();
            let mut passes = 0u64;
            let mut seen = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let floor = acked.load(Ordering::SeqCst);
                let records = match read_all(&reader, "kv") {
                    Err(LogError::UnknownTopic { .. }) => continue,
                    other => other.unwrap(),
                };
                let mut previous = None;
                for r in &records {
                    assert!(
                        previous.is_none_or(|p| r.offset > p),
                        "offsets go back at {}",
                        r.offset
                    );
                    previous = Some(r.offset);
                    let w = &written[r.offset as usize];
                    assert!(
                        same(r, w),
                        "offset {} holds a record never written there",
                        r.offset
                    );
                }
                // Whatever was acknowledged before the pass, the last record of each key
                // among it is there.
                let mut last: HashMap<&[u8], u64> = HashMap::new();
                for (o, w) in written[..floor as usize].iter().enumerate() {
                    last.insert(w.key.as_deref().unwrap(), o as u64);
                }
                let have: std::collections::HashSet<u64> =
                    records.iter().map(|r| r.offset).collect();
                for (key, o) in last {
                    let w = &written[o as usize];
                    let expired = w.value.is_none() && w.timestamp_ms < now_ms() - 24 * 3600 * 1000;
                    assert!(
                        expired || have.contains(&o),
                        "the last record of {} (offset {o}) is missing",
                        String::from_utf8_lossy(key)
                    );
                }
                passes += 1;
                seen += records.len() as u64;
            }
            (passes, seen)
        })
    };
    for chunk in written.chunks(50) {
        acks.write(&mut writer, chunk.to_vec()).await.unwrap();
        acked.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
    let before_records = written.len();
    let before_bytes = partition_bytes(dir.path(), "kv");
    // Let compaction run, while the reader goes on.
    let config = alter_topic(
        dir.path(),
        "kv",
        &[("min.compaction.lag.ms".to_string(), "0".to_string())],
    )
    .unwrap();
    assert_eq!(config.min_compaction_lag_ms, 0);
    let kept = wait_compacted(dir.path(), &written);
    let after_bytes = partition_bytes(dir.path(), "kv");
    stop.store(true, Ordering::SeqCst);
    let (passes, seen) = reading.join().expect("the reader found a bad record");
    eprintln!(
        "compaction: {before_records} records in {before_bytes} bytes before, {} records in {after_bytes} bytes after; the concurrent reader made {passes} passes over {seen} records",
        kept.len()
    );
    assert!(kept.len() < before_records / 10);
    assert!(after_bytes < before_bytes);
    // No expired tombstone is left; the fresh ones are.
    let tombstones: Vec<&[u8]> = kept
        .iter()
        .filter(|r| r.value.is_none())
        .map(|r| r.key.as_deref().unwrap())
        .collect();
    assert_eq!(tombstones.len(), 20);
    assert!(tombstones
        .iter()
        .all(|k| (20..40).any(|i| *k == format!("k{i}").as_bytes())));
    // The first segment stays, so the log start does not move.
    let reader = LogReader::open(dir.path()).unwrap();
    assert_eq!(reader.partition_info("kv", 0).unwrap().start_offset, 0);
    assert!(verify(dir.path()).unwrap().iter().all(|c| !c.is_damaged()));
    drop(writer);
    assert_eq!(
        topic_config(dir.path(), "kv")
            .unwrap()
            .cleanup_policy
            .name(),
        "compact"
    );
}

const CHILD_NOW: &str = "SPILLWAY_STREAMS_CLEANER_CHILD_NOW";

fn child_writer(dir: &Path) {
    let now: i64 = std::env::var(CHILD_NOW).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let rules = rules(&[
            ("topic.creation.default.cleanup.policy", "compact"),
            ("topic.creation.default.segment.bytes", "8192"),
        ]);
        let mut writer = open(dir, &rules);
        let mut acks = Acks::new();
        let written = compaction_records(now);
        let mut done = 0;
        for chunk in written.chunks(50) {
            acks.write(&mut writer, chunk.to_vec()).await.unwrap();
            done += chunk.len();
            let mut out = std::io::stdout().lock();
            writeln!(out, "acked {done}").unwrap();
            out.flush().unwrap();
        }
        // The cleaner aborts the process at its failpoint.
        tokio::time::sleep(Duration::from_secs(600)).await;
    });
}

#[test]
fn a_compaction_killed_at_either_side_of_its_rename_leaves_a_readable_log() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child_writer(Path::new(&dir));
        return;
    }
    for failpoint in ["compaction-before-rename", "compaction-after-rename"] {
        let dir = tempfile::tempdir().unwrap();
        let now = now_ms();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([CRASH_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env(CHILD_NOW, now.to_string())
            .env("SPILLWAY_FAILPOINT", failpoint)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut acked = 0usize;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("acked ") {
                acked = n.parse().unwrap();
            }
        }
        // The output ends when the process dies; it must have died at the failpoint.
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the child never reached {failpoint}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success(), "{failpoint}: {status:?}");
        let partition = dir.path().join("topics/kv/0");
        let leftovers = |p: &Path| {
            std::fs::read_dir(p)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".cleaned")
                })
                .count()
        };
        let left = leftovers(&partition);
        if failpoint == "compaction-before-rename" {
            assert_eq!(left, 1, "the aborted compaction left its file");
        }
        // The log holds every acknowledged record, and may hold a few more whose
        // acknowledgement the child did not get to print.
        let reader = LogReader::open(dir.path()).unwrap();
        let end = reader.partition_info("kv", 0).unwrap().end_offset as usize;
        assert!(
            end >= acked,
            "{failpoint}: {acked} acknowledged, the log ends at {end}"
        );
        let written = compaction_records(now);
        let written = &written[..end];
        // Readable as it is, and nothing that should be kept is lost.
        let records = read_all(&reader, "kv").unwrap();
        let mut previous = None;
        for r in &records {
            assert!(previous.is_none_or(|p| r.offset > p));
            previous = Some(r.offset);
            assert!(same(r, &written[r.offset as usize]));
        }
        let view = compacted_view(written, u64::MAX);
        let have: std::collections::HashSet<u64> = records.iter().map(|r| r.offset).collect();
        for (offset, w) in &view {
            assert!(
                have.contains(offset),
                "{failpoint}: the last record of {:?} (offset {offset}) was lost",
                String::from_utf8_lossy(w.key.as_deref().unwrap())
            );
        }
        assert!(verify(dir.path()).unwrap().iter().all(|c| !c.is_damaged()));
        // A writer opening the log removes the leftover; its cleaner finishes the job.
        // With compaction off, so that what the cleaner writes is not mistaken for it.
        let off = [
            ("cleanup.policy".to_string(), "delete".to_string()),
            ("retention.ms".to_string(), "-1".to_string()),
        ];
        alter_topic(dir.path(), "kv", &off).unwrap();
        let writer = open(dir.path(), &rules(&[]));
        assert_eq!(leftovers(&partition), 0);
        let on = [("cleanup.policy".to_string(), "compact".to_string())];
        alter_topic(dir.path(), "kv", &on).unwrap();
        // Records written but not yet durable when the child died are kept by the writer
        // that opens after it.
        let end = reader.partition_info("kv", 0).unwrap().end_offset as usize;
        let written = compaction_records(now);
        let kept = wait_compacted(dir.path(), &written[..end]);
        eprintln!(
            "{failpoint}: {acked} records acknowledged, {} read after the crash, {} after compaction resumed ({left} leftover file removed)",
            records.len(),
            kept.len()
        );
        drop(writer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_below_the_log_start_goes_on_from_it_or_is_told_so() {
    use spillway_core::{StreamReader, TopicPartition};
    use spillway_streams::{LogConsumer, OffsetReset};
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(&[
        ("topic.creation.default.retention.bytes", "4096"),
        ("topic.creation.default.segment.bytes", "1024"),
        ("topic.creation.default.retention.ms", "-1"),
    ]);
    let mut writer = open(dir.path(), &rules);
    let mut acks = Acks::new();
    for i in 0..200 {
        let value = format!("{i}:{}", "b".repeat(100));
        let record = keyed("gone", &format!("k{i}"), Some(&value), now_ms());
        acks.write(&mut writer, vec![record]).await.unwrap();
    }
    let reader = LogReader::open(dir.path()).unwrap();
    wait_for("retention moves the log start", || {
        reader.partition_info("gone", 0).unwrap().start_offset > 0
    });
    let start = reader.partition_info("gone", 0).unwrap().start_offset;
    let tp = TopicPartition::new("gone", 0);
    let mut consumer = LogConsumer::open(dir.path()).unwrap();
    consumer.assign(&[(tp.clone(), 0)]).unwrap();
    let got = consumer.poll(10, Duration::ZERO).await.unwrap();
    assert_eq!(got.first().map(|r| r.offset), Some(start));
    let mut strict = LogConsumer::open(dir.path())
        .unwrap()
        .with_offset_reset(OffsetReset::None);
    strict.assign(&[(tp, 0)]).unwrap();
    let error = strict
        .poll(10, Duration::ZERO)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("below the start of the log") && error.contains(&start.to_string()),
        "{error}"
    );
    drop(writer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_writer_takes_up_altered_configs_and_rolls_on_segment_ms() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(dir.path(), &rules(&[]));
    let mut acks = Acks::new();
    let segments = || {
        std::fs::read_dir(dir.path().join("topics/aged/0"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".log")
            })
            .count()
    };
    let mut written = 0u64;
    for _ in 0..10 {
        let record = keyed("aged", "k", Some(&format!("v{written}")), now_ms());
        acks.write(&mut writer, vec![record]).await.unwrap();
        written += 1;
    }
    assert_eq!(segments(), 1);
    // Every record now goes to a new segment, once the writer has read the change.
    alter_topic(
        dir.path(),
        "aged",
        &[("segment.ms".to_string(), "1".to_string())],
    )
    .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while segments() < 3 {
        assert!(
            Instant::now() < deadline,
            "the writer never rolled on segment.ms"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        let record = keyed("aged", "k", Some(&format!("v{written}")), now_ms());
        acks.write(&mut writer, vec![record]).await.unwrap();
        written += 1;
    }
    let reader = LogReader::open(dir.path()).unwrap();
    let records = read_all(&reader, "aged").unwrap();
    let values: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(
        values,
        (0..written).map(|i| format!("v{i}")).collect::<Vec<_>>()
    );
    drop(writer);
}

#[tokio::test]
async fn a_crafted_topic_json_stops_the_writer_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(dir.path(), &rules(&[]));
    let mut acks = Acks::new();
    let record = keyed("crafted", "k", Some("v"), now_ms());
    acks.write(&mut writer, vec![record]).await.unwrap();
    drop(writer);
    let meta = dir.path().join("topics/crafted/topic.json");
    let stored = std::fs::read_to_string(&meta).unwrap();
    assert!(stored.contains(r#""retention.ms":"604800000""#), "{stored}");
    for (text, field) in [
        (
            r#"{"partitions":1,"config":{"segment.bytes":"1"}}"#,
            "config.segment.bytes",
        ),
        (
            r#"{"partitions":1,"config":{"cleanup.policy":true}}"#,
            "config.cleanup.policy",
        ),
        (r#"{"partitions":-1}"#, "partitions"),
    ] {
        std::fs::write(&meta, text).unwrap();
        let error = LogWriter::open(dir.path(), LogOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&meta.display().to_string()) && error.contains(field),
            "{text}: {error}"
        );
    }
    // An old file with only the partition count opens, and keeps every record.
    std::fs::write(&meta, r#"{"partitions":1}"#).unwrap();
    drop(LogWriter::open(dir.path(), LogOptions::default()).unwrap());
    assert_eq!(
        topic_config(dir.path(), "crafted").unwrap().retention_ms,
        None
    );
}

#[tokio::test]
async fn a_topic_s_compression_type_overrides_the_writer_s() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(&[
        ("topic.creation.groups", "plain"),
        ("topic.creation.plain.include", "plain"),
        ("topic.creation.plain.compression.type", "none"),
    ]);
    let mut writer = open(dir.path(), &rules);
    let mut acks = Acks::new();
    let value = "z".repeat(4000);
    for topic in ["plain", "packed"] {
        let record = keyed(topic, "k", Some(&value), now_ms());
        acks.write(&mut writer, vec![record]).await.unwrap();
    }
    drop(writer);
    let segment = |topic: &str| {
        std::fs::read(
            dir.path()
                .join(format!("topics/{topic}/0/00000000000000000000.log")),
        )
        .unwrap()
    };
    let raw = |bytes: &[u8]| bytes.windows(value.len()).any(|w| w == value.as_bytes());
    // `none` for the group's topic; the writer's lz4 (`producer`) for the other.
    assert!(raw(&segment("plain")));
    assert!(!raw(&segment("packed")) && segment("packed").len() < 1000);
    let reader = LogReader::open(dir.path()).unwrap();
    for topic in ["plain", "packed"] {
        let records = reader.read(topic, 0, 0, 10).unwrap();
        assert_eq!(records[0].value.as_deref(), Some(value.as_bytes()));
    }
    assert_eq!(
        topic_config(dir.path(), "plain")
            .unwrap()
            .entries()
            .last()
            .unwrap()
            .1,
        "none"
    );
}
