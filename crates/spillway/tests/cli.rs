//! The `tail` and `topics` commands: the output contract other tools script against.

mod support;

use serde_json::{json, Value};
use spillway_core::{Ack, Header, Record, StreamWriter};
use spillway_streams::{Compression, LogOptions, LogWriter};
use std::process::Command;
use std::sync::Arc;

fn spillway(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(support::binary())
        .args(args)
        .output()
        .expect("run spillway");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes records straight into a log, as a capture would.
fn write_log(dir: &std::path::Path, records: Vec<Record>) {
    write_log_with(
        dir,
        records,
        LogOptions {
            default_partitions: 2,
            ..LogOptions::default()
        },
    );
}

fn write_log_with(dir: &std::path::Path, records: Vec<Record>, options: LogOptions) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut writer = LogWriter::open(dir, options).expect("open log");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        writer.send(records, Ack::new(0, tx)).await.expect("send");
        writer.flush().await.expect("flush");
        rx.recv().await.expect("ack").result.expect("written");
    });
}

fn record(key: Option<&str>, value: Option<&str>, headers: Vec<Header>) -> Record {
    Record {
        topic: Arc::from("app.public.t"),
        key: key.map(|k| k.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers,
        timestamp_ms: 1_700_000_000_000,
    }
}

#[test]
fn topics_and_tail_print_the_documented_json() {
    let dir = support::scratch("cli");
    let data = dir.path().to_str().unwrap().to_string();
    write_log(
        dir.path(),
        vec![
            record(
                Some(r#"{"id":1}"#),
                Some(r#"{"op":"c","n":1.0E10}"#),
                vec![Header {
                    key: "h".to_string(),
                    value: Some(b"v".to_vec()),
                }],
            ),
            record(Some(r#"{"id":1}"#), None, vec![]),
            record(Some(r#"{"id":2}"#), Some(r#"{"op":"c"}"#), vec![]),
        ],
    );
    let (code, out, err) = spillway(&["topics", "--data-dir", &data, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let topics: Value = serde_json::from_str(&out).expect("topics --format json is JSON");
    let total: u64 = topics
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["topic"], json!("app.public.t"));
            p["end_offset"].as_u64().unwrap() - p["start_offset"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(topics.as_array().unwrap().len(), 2, "two partitions: {out}");
    assert_eq!(total, 3);

    let (code, out, err) = spillway(&["tail", "app.public.t", "--data-dir", &data]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    let first = lines
        .iter()
        .find(|l| l["headers"]["h"] == json!("v"))
        .expect("the record with a header");
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "topic",
            "partition",
            "offset",
            "timestamp",
            "headers",
            "key",
            "value"
        ]
    );
    assert_eq!(first["key"], json!({"id": 1}));
    assert_eq!(first["value"]["op"], json!("c"));
    assert_eq!(first["timestamp"], json!(1_700_000_000_000i64));
    let tombstone = lines
        .iter()
        .find(|l| l["value"].is_null())
        .expect("tombstone");
    assert_eq!(tombstone["key"], json!({"id": 1}));
    assert_eq!(
        tombstone["partition"], first["partition"],
        "same key, same partition"
    );

    let (code, out, _) = spillway(&["tail", "app.public.t", "--data-dir", &data, "--max", "1"]);
    assert_eq!((code, out.lines().count()), (0, 1));
    let partition = first["partition"].to_string();
    let (code, out, _) = spillway(&[
        "tail",
        "app.public.t",
        "--data-dir",
        &data,
        "--partition",
        &partition,
    ]);
    assert_eq!(code, 0);
    let expected = lines
        .iter()
        .filter(|l| l["partition"] == first["partition"])
        .count();
    assert_eq!(
        out.lines().count(),
        expected,
        "records of one partition: {out}"
    );
    assert!(
        out.contains(r#""value":{"op":"c","n":1.0E10}"#),
        "documents are printed as written: {out}"
    );
    let (code, out, _) = spillway(&[
        "tail",
        "app.public.t",
        "--data-dir",
        &data,
        "--follow",
        "--from-beginning",
        "--timeout",
        "0.5",
    ]);
    assert_eq!((code, out.lines().count()), (0, 3));
}

#[test]
fn tail_of_a_missing_topic_is_an_error() {
    let dir = support::scratch("cli-missing");
    let data = dir.path().to_str().unwrap().to_string();
    let (code, _, err) = spillway(&["tail", "nope", "--data-dir", &data]);
    assert_eq!(code, 1);
    assert!(err.contains("topic \"nope\" does not exist"), "{err}");
}

#[test]
fn completions_and_man_pages_come_from_the_cli_definition() {
    let (code, bash, stderr) = spillway(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(bash.contains("complete -F"), "{bash}");
    for word in ["tail", "connector", "--data-dir", "--from-beginning"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    for shell in ["zsh", "fish"] {
        let (code, script, stderr) = spillway(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains("topics"), "{shell}: {script}");
    }
    let (code, _, stderr) = spillway(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tcsh"), "{stderr}");

    let (code, page, stderr) = spillway(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        page.starts_with(".ie") || page.contains(".TH spillway"),
        "{page}"
    );
    assert!(page.contains("connector"), "{page}");

    let dir = support::scratch("manpages");
    let out = dir.path().join("man1");
    let (code, _, stderr) = spillway(&["man", "--dir", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    for page in [
        "spillway.1",
        "spillway-run.1",
        "spillway-tail.1",
        "spillway-connector-create.1",
    ] {
        let path = out.join(page);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}: {text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{page}");
    }
    let run = std::fs::read_to_string(out.join("spillway-run.1")).unwrap();
    assert!(run.contains("data\\-dir"), "{run}");
}

/// CRC-32 (IEEE), as the log's frames carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A record framed as the log wrote them before record batches (format version 1): length,
/// CRC, version, offset, timestamp, key, value, no headers.
fn v1_frame(offset: u64, key: &str, value: &str) -> Vec<u8> {
    let mut content = vec![1u8];
    content.extend_from_slice(&offset.to_le_bytes());
    content.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
    for field in [key, value] {
        content.extend_from_slice(&(field.len() as i32).to_le_bytes());
        content.extend_from_slice(field.as_bytes());
    }
    content.extend_from_slice(&0u32.to_le_bytes());
    let mut frame = ((content.len() + 4) as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&crc32(&content).to_le_bytes());
    frame.extend_from_slice(&content);
    frame
}

#[test]
fn tail_reads_old_records_then_compressed_batches_appended_to_the_same_segment() {
    for (codec, code) in [(Compression::Zstd, 2u8), (Compression::Lz4, 1)] {
        let dir = support::scratch("cli");
        let data = dir.path().to_str().unwrap().to_string();
        // A log written before record batches: three records, no durable offset file.
        let partition = dir.path().join("topics/app.public.t/0");
        std::fs::create_dir_all(&partition).unwrap();
        std::fs::write(
            dir.path().join("topics/app.public.t/topic.json"),
            r#"{"partitions":1}"#,
        )
        .unwrap();
        let mut old = Vec::new();
        for i in 0..3 {
            old.extend(v1_frame(
                i,
                &format!(r#"{{"id":{i}}}"#),
                &format!(r#"{{"op":"c","id":{i}}}"#),
            ));
        }
        let segment = partition.join("00000000000000000000.log");
        std::fs::write(&segment, &old).unwrap();

        let value = |i: u64| format!(r#"{{"op":"u","id":{i},"name":"the same name again"}}"#);
        let records = (3..60)
            .map(|i| record(None, Some(&value(i)), vec![]))
            .collect();
        write_log_with(
            dir.path(),
            records,
            LogOptions {
                default_partitions: 1,
                compression: codec,
                ..LogOptions::default()
            },
        );
        // The new records went into one compressed batch frame after the old ones.
        let bytes = std::fs::read(&segment).unwrap();
        assert_eq!(bytes[..old.len()], old[..]);
        assert_eq!(bytes[old.len() + 8], 2, "{codec:?}: a batch frame");
        assert_eq!(bytes[old.len() + 17], code, "{codec:?}: its codec");
        assert!(bytes.len() - old.len() < 57 * 30, "{codec:?}: compressed");

        let (code, out, err) = spillway(&["tail", "app.public.t", "--data-dir", &data]);
        assert_eq!(code, 0, "{err}");
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(lines.len(), 60, "{codec:?}: {out}");
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line["offset"], json!(i), "{codec:?}");
            assert_eq!(line["value"]["id"], json!(i), "{codec:?}");
        }
        assert_eq!(lines[2]["key"], json!({"id": 2}));
        assert_eq!(lines[59]["value"]["op"], json!("u"));
    }
}

#[test]
fn topics_alter_changes_configs_and_refuses_unknown_keys_and_bad_values() {
    let dir = support::scratch("cli-alter");
    let data = dir.path().to_str().unwrap().to_string();
    write_log(
        dir.path(),
        vec![record(Some(r#"{"id":1}"#), Some(r#"{"op":"c"}"#), vec![])],
    );
    // A topic.json from before topic configs: every record is kept.
    let meta = dir.path().join("topics/app.public.t/topic.json");
    std::fs::write(&meta, r#"{"partitions":2}"#).unwrap();
    let config_of = |out: &str| -> Value {
        let topics: Value = serde_json::from_str(out).expect("json");
        topics[0]["config"].clone()
    };
    let (code, out, err) = spillway(&["topics", "--data-dir", &data, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let config = config_of(&out);
    assert_eq!(config["retention.ms"], json!("-1"), "{out}");
    assert_eq!(config["cleanup.policy"], json!("delete"), "{out}");

    let (code, out, err) = spillway(&[
        "topics",
        "--data-dir",
        &data,
        "--alter",
        "app.public.t",
        "--config",
        "retention.ms=86400000",
        "--config",
        "cleanup.policy=compact,delete",
        "--config",
        "compression.type=zstd",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("retention.ms=86400000"), "{out}");
    let (code, out, err) = spillway(&["topics", "--data-dir", &data, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let config = config_of(&out);
    assert_eq!(config["retention.ms"], json!("86400000"), "{out}");
    assert_eq!(config["cleanup.policy"], json!("compact,delete"), "{out}");
    assert_eq!(config["compression.type"], json!("zstd"), "{out}");
    assert_eq!(config["retention.bytes"], json!("-1"), "{out}");
    let (code, out, _) = spillway(&["topics", "--data-dir", &data]);
    assert_eq!(code, 0);
    assert!(
        out.contains("app.public.t: cleanup.policy=compact,delete retention.ms=86400000"),
        "{out}"
    );

    for (setting, named) in [
        ("retention.mss=1", "retention.mss"),
        ("retention.ms=soon", "retention.ms"),
        ("cleanup.policy=forever", "cleanup.policy"),
        ("compression.type=gzip", "compression.type"),
        ("segment.bytes=10", "segment.bytes"),
        ("retention.ms", "retention.ms"),
    ] {
        let (code, _, err) = spillway(&[
            "topics",
            "--data-dir",
            &data,
            "--alter",
            "app.public.t",
            "--config",
            "retention.ms=1000",
            "--config",
            setting,
        ]);
        assert_eq!(code, 2, "{setting}: {err}");
        assert!(err.contains(named), "{setting}: {err}");
    }
    // Nothing of a refused change was written.
    let (_, out, _) = spillway(&["topics", "--data-dir", &data, "--format", "json"]);
    assert_eq!(config_of(&out)["retention.ms"], json!("86400000"), "{out}");
    let (code, _, err) = spillway(&[
        "topics",
        "--data-dir",
        &data,
        "--alter",
        "no.such.topic",
        "--config",
        "retention.ms=1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no.such.topic"), "{err}");
    let (code, _, err) = spillway(&["topics", "--data-dir", &data, "--alter", "app.public.t"]);
    assert_eq!(code, 2, "--alter without --config: {err}");

    // A damaged or crafted topic.json is an error naming the file and the field.
    for (text, field) in [
        (
            r#"{"partitions":2,"config":{"retention.ms":"x"}}"#,
            "config.retention.ms",
        ),
        (
            r#"{"partitions":2,"config":{"no.such":"1"}}"#,
            "config.no.such",
        ),
        (r#"{"partitions":2,"config":[]}"#, "config"),
        (r#"{"partitions":"two"}"#, "partitions"),
        (r#"{"partitions":0}"#, "partitions"),
        ("\u{0}garbage", "not JSON"),
    ] {
        std::fs::write(&meta, text).unwrap();
        let (code, _, err) = spillway(&["topics", "--data-dir", &data]);
        assert_eq!(code, 1, "{text}: {err}");
        assert!(
            err.contains("topic.json") && err.contains(field),
            "{text}: {err}"
        );
    }
}

#[test]
fn tail_from_an_offset_below_the_log_start_says_so_and_starts_there() {
    let dir = support::scratch("cli-below-start");
    let data = dir.path().to_str().unwrap().to_string();
    let rules = spillway_core::ConfigMap::from_pairs([
        ("topic.creation.default.retention.bytes", "4096"),
        ("topic.creation.default.segment.bytes", "1024"),
        ("topic.creation.default.compression.type", "none"),
    ]);
    let rules = Arc::new(spillway_streams::TopicRules::from_config(&rules).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut writer = LogWriter::open(dir.path(), LogOptions::default())
            .unwrap()
            .with_topic_rules(rules);
        for i in 0..200 {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let value = format!(r#"{{"i":{i},"pad":"{}"}}"#, "p".repeat(100));
            writer
                .send(vec![record(None, Some(&value), vec![])], Ack::new(i, tx))
                .await
                .unwrap();
            rx.recv().await.unwrap().result.unwrap();
        }
        // The cleaner deletes the oldest segments; wait (bounded) until it has.
        let reader = spillway_streams::LogReader::open(dir.path()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while reader
            .partition_info("app.public.t", 0)
            .unwrap()
            .start_offset
            == 0
        {
            assert!(std::time::Instant::now() < deadline, "retention never ran");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    let reader = spillway_streams::LogReader::open(dir.path()).unwrap();
    let start = reader
        .partition_info("app.public.t", 0)
        .unwrap()
        .start_offset;
    let (code, out, err) = spillway(&[
        "tail",
        "app.public.t",
        "--data-dir",
        &data,
        "--from",
        "0",
        "--max",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("below the log start"), "{err}");
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(line["offset"], json!(start), "{out}");
}
