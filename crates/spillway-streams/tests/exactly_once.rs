//! Exactly once into the log: a writer killed between the write, the fsync and the commit of
//! a group (failpoints stop it with SIGKILL exactly there) leaves a log whose records and
//! whose committed producer checkpoint agree: the records are exactly those up to the
//! checkpoint, once each, over every partition, so a producer resuming from it writes
//! nothing twice and loses nothing.
//!
//! The test re-runs its own binary as the writer, with `SPILLWAY_FAILPOINT` set.

mod common;

use common::record;
use spillway_core::{Ack, Checkpoint, Offset, Position, Record, StreamWriter};
use spillway_streams::{LogOptions, LogReader, LogWriter};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const CHILD_ENV: &str = "SPILLWAY_STREAMS_EXACTLY_ONCE_CHILD_DIR";
const TEST_NAME: &str =
    "a_writer_killed_at_each_step_of_a_commit_leaves_records_and_checkpoint_in_agreement";
const PRODUCER: &str = "producer";

fn options() -> LogOptions {
    LogOptions {
        default_partitions: 3,
        segment_bytes: 64 * 1024,
        ..LogOptions::default()
    }
}

/// Records `from..to`: values `v<i>` spread over the partitions by key.
fn batch(from: u64, to: u64) -> Vec<Record> {
    (from..to)
        .map(|i| {
            let key = format!("k{}", i % 11);
            record(
                "eo",
                Some(&key),
                Some(&format!("v{i}:{}", "x".repeat((i % 300) as usize))),
            )
        })
        .collect()
}

fn checkpoint(next: u64) -> Checkpoint {
    Checkpoint {
        producer: Arc::from(PRODUCER),
        offset: Offset::new(Position::stream(next, 0, 0)),
    }
}

/// Sends batches resuming from the committed checkpoint, several in flight, until killed.
fn child_writer(dir: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut writer = LogWriter::open(dir, options()).unwrap();
        let mut next = writer
            .committed_position(PRODUCER)
            .map_or(0, |o| o.position.log);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut seq = 0;
        loop {
            let size = 1 + next % 23;
            let ack = Ack::new(seq, tx.clone()).with_checkpoint(checkpoint(next + size));
            writer.send(batch(next, next + size), ack).await.unwrap();
            next += size;
            seq += 1;
            while let Ok(report) = rx.try_recv() {
                report.result.unwrap();
            }
        }
    });
}

/// Opens the log as a writer would after the crash and checks that it holds exactly the
/// values `v0..v<checkpoint>`; returns the checkpoint.
fn check_agreement(dir: &Path) -> u64 {
    let writer = LogWriter::open(dir, options()).unwrap();
    let committed = writer
        .committed_position(PRODUCER)
        .map_or(0, |o| o.position.log);
    drop(writer);
    let reader = LogReader::open(dir).unwrap();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for p in 0..3 {
        for r in reader.read("eo", p, 0, usize::MAX).unwrap_or_default() {
            let value = String::from_utf8(r.value.unwrap()).unwrap();
            let i: u64 = value[1..value.find(':').unwrap()].parse().unwrap();
            seen.insert(i);
            total += 1;
        }
    }
    assert_eq!(total, seen.len(), "a record was written twice");
    assert_eq!(
        seen,
        (0..committed).collect::<BTreeSet<_>>(),
        "the records in the log are exactly those up to the committed checkpoint {committed}"
    );
    committed
}

#[test]
fn a_writer_killed_at_each_step_of_a_commit_leaves_records_and_checkpoint_in_agreement() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child_writer(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut committed = 0;
    let mut kills = 0;
    for round in 0..4 {
        for point in ["log-after-write", "log-after-sync", "log-after-journal"] {
            let nth = 3 + (round * 7 + point.len()) % 17;
            let status = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, dir.path())
                .env("SPILLWAY_FAILPOINT", format!("{point}:{nth}"))
                .status()
                .unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(9),
                "the writer stopped at {point}:{nth}"
            );
            kills += 1;
            let now = check_agreement(dir.path());
            assert!(
                now >= committed,
                "the checkpoint went back from {committed} to {now}"
            );
            committed = now;
        }
    }
    println!("{kills} kills at the failpoints; {committed} records, each once");
}
