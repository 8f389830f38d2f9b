//! `spillway tail --follow` in another process than the writer: it is woken by appends
//! (inotify on the log's directories), or polls when told to, and misses nothing either way.

mod support;

use spillway_core::{Ack, Record, StreamWriter};
use spillway_streams::{LogOptions, LogWriter};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a step may take before the test gives up: a guard against hanging, not a
/// measure (the latency is measured by bench/'s `tail-latency`).
const HANG: Duration = Duration::from_secs(60);

const TOPIC: &str = "app.public.follow";

fn record(topic: &str, i: usize) -> Record {
    Record {
        topic: Arc::from(topic),
        key: None,
        value: Some(format!("{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(100)).into_bytes()),
        headers: Vec::new(),
        timestamp_ms: 1_700_000_000_000,
    }
}

async fn append(writer: &mut LogWriter, records: Vec<Record>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    writer.send(records, Ack::new(0, tx)).await.expect("send");
    rx.recv().await.expect("ack").result.expect("written");
}

/// `spillway tail TOPIC --follow --from-beginning --max MAX`, its lines sent on a channel.
fn follow(data: &Path, watch: &str, max: usize) -> (Child, mpsc::Receiver<serde_json::Value>) {
    let mut child = Command::new(support::binary())
        .args(["tail", TOPIC, "--data-dir"])
        .arg(data)
        .args(["--follow", "--from-beginning", "--max", &max.to_string()])
        .env("SPILLWAY_LOG_WATCH", watch)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start spillway tail");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let doc = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if tx.send(doc).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Whether the process has an inotify descriptor open.
fn has_inotify(pid: u32) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| target.to_string_lossy().contains("inotify"))
    })
}

fn next_line(rx: &mpsc::Receiver<serde_json::Value>, what: &str) -> serde_json::Value {
    rx.recv_timeout(HANG)
        .unwrap_or_else(|e| panic!("no line for {what}: {e}"))
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + HANG;
    loop {
        if let Some(status) = child.try_wait().expect("wait for tail") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("spillway tail did not stop after its --max records");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A reader started before its topic exists sees the topic appear, each append, the records
/// of new segments after rolls, and, over many small appends, every record exactly once and
/// in order; `watch` is the value of `SPILLWAY_LOG_WATCH` (`poll` forces polling).
fn follows_appends(watch: &str) {
    let dir = support::scratch("tail-follow");
    let total = 1_200;
    let (mut child, rx) = follow(dir.path(), watch, total);
    if watch == "poll" {
        assert!(
            !has_inotify(child.id()),
            "SPILLWAY_LOG_WATCH=poll makes tail poll"
        );
    } else {
        // Watching from before the topic exists: wait until the descriptor is there.
        let deadline = Instant::now() + HANG;
        while !has_inotify(child.id()) {
            assert!(
                Instant::now() < deadline,
                "tail --follow never watched the log"
            );
            assert!(child.try_wait().unwrap().is_none(), "tail stopped");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut seen = Vec::new();
    runtime.block_on(async {
        // Small segments, so that the records roll over many of them.
        let mut writer = LogWriter::open(
            dir.path(),
            LogOptions {
                default_partitions: 1,
                segment_bytes: 4096,
                ..LogOptions::default()
            },
        )
        .expect("open log");
        // Another topic first: the reader's topic does not exist yet.
        append(&mut writer, vec![record("app.public.other", 0)]).await;
        // The topic appears; each append is seen before the next is written.
        let mut i = 0;
        for batch in [1, 2, 40, 1] {
            let records: Vec<Record> = (i..i + batch).map(|n| record(TOPIC, n)).collect();
            append(&mut writer, records).await;
            for _ in 0..batch {
                seen.push(next_line(&rx, &format!("record {i}")));
            }
            i += batch;
        }
        // Then many appends without waiting for the reader, one or a few records each.
        while i < total {
            let batch = (1 + i % 3).min(total - i);
            let records: Vec<Record> = (i..i + batch).map(|n| record(TOPIC, n)).collect();
            append(&mut writer, records).await;
            i += batch;
        }
    });
    while seen.len() < total {
        seen.push(next_line(&rx, &format!("record {}", seen.len())));
    }
    let status = wait_exit(&mut child);
    assert!(status.success(), "tail exited with {status}");
    assert!(rx.recv_timeout(HANG).is_err(), "nothing past --max");

    let values: Vec<u64> = seen
        .iter()
        .map(|line| line["value"]["i"].as_u64().expect("value.i"))
        .collect();
    let offsets: Vec<u64> = seen
        .iter()
        .map(|line| line["offset"].as_u64().expect("offset"))
        .collect();
    let expected: Vec<u64> = (0..total as u64).collect();
    assert_eq!(values, expected, "every record once, in order");
    assert_eq!(offsets, expected);
    let segments = std::fs::read_dir(dir.path().join("topics").join(TOPIC).join("0"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .count();
    assert!(segments > 10, "the records span many segments: {segments}");
}

#[test]
fn tail_follow_is_woken_by_appends_in_another_process() {
    follows_appends("inotify");
}

#[test]
fn tail_follow_polls_when_watching_is_turned_off() {
    follows_appends("poll");
}
