//! A writer process killed with SIGKILL while appending, and a reader in another process.
//!
//! The test re-runs its own binary as the writer: with `CHILD_ENV` set, the test body writes
//! to the log until it is killed, printing `acked <n>` once the first `n` records are
//! acknowledged.

mod common;

use common::{record, Acks};
use spillway_core::Record;
use spillway_streams::{LogOptions, LogReader, LogWriter};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SPILLWAY_STREAMS_CRASH_CHILD_DIR";
const TEST_NAME: &str = "a_writer_killed_mid_write_recovers_with_every_acknowledged_record";

fn value_for(offset: u64) -> String {
    // Sizes vary so that some batches take more than one page and can be cut by the kill.
    let pad = (offset * 7919 % 3000) as usize;
    format!("{offset}:{}", "x".repeat(pad))
}

fn options() -> LogOptions {
    LogOptions {
        default_partitions: 1,
        segment_bytes: 4 * 1024 * 1024,
        ..LogOptions::default()
    }
}

fn child_writer(dir: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut writer = LogWriter::open(dir, options()).unwrap();
        let mut acks = Acks::new();
        let mut next = 0u64;
        let stdout = std::io::stdout();
        loop {
            let size = 1 + next % 61;
            let batch: Vec<Record> = (next..next + size)
                .map(|i| record("crash", None, Some(&value_for(i))))
                .collect();
            next += size;
            acks.write(&mut writer, batch).await.unwrap();
            let mut out = stdout.lock();
            writeln!(out, "acked {next}").unwrap();
            out.flush().unwrap();
        }
    });
}

/// Kills the child writer even when the test fails early.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_writer_killed_mid_write_recovers_with_every_acknowledged_record() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child_writer(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let acked = Arc::new(AtomicU64::new(0));
    let stdout = child.0.stdout.take().unwrap();
    let progress = Arc::clone(&acked);
    let watcher = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("acked ") {
                progress.store(n.trim().parse().unwrap(), Ordering::SeqCst);
            }
        }
    });

    // Follow the log from this process while the child writes.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut reader = None;
    let mut next = 0u64;
    while acked.load(Ordering::SeqCst) < 20_000 {
        assert!(
            Instant::now() < deadline,
            "the child writer made no progress"
        );
        if reader.is_none() && dir.path().join("topics/crash/topic.json").exists() {
            reader = Some(LogReader::open(dir.path()).unwrap());
        }
        match &reader {
            Some(reader) => {
                for r in reader.read("crash", 0, next, 500).unwrap() {
                    assert_eq!(r.offset, next);
                    assert_eq!(r.value, Some(value_for(next).into_bytes()));
                    next += 1;
                }
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    watcher.join().unwrap();
    let acked = acked.load(Ordering::SeqCst);
    assert!(next > 0, "the reader saw nothing while the writer ran");

    // Recovery keeps every acknowledged record and the log continues after the last intact one.
    let mut writer = LogWriter::open(dir.path(), options()).unwrap();
    let end = LogReader::open(dir.path())
        .unwrap()
        .partition_info("crash", 0)
        .unwrap()
        .end_offset;
    assert!(
        end >= acked,
        "{acked} records were acked but only {end} survived"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        Acks::new()
            .write(
                &mut writer,
                vec![record("crash", None, Some(&value_for(end)))],
            )
            .await
            .unwrap();
    });
    drop(writer);
    let all = LogReader::open(dir.path())
        .unwrap()
        .read("crash", 0, 0, usize::MAX)
        .unwrap();
    assert_eq!(all.len() as u64, end + 1);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.offset, i as u64);
        assert_eq!(r.value, Some(value_for(i as u64).into_bytes()));
    }
}
