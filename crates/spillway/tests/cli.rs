//! The `tail` and `topics` commands: the output contract other tools script against.

mod support;

use serde_json::{json, Value};
use spillway_core::{Ack, Header, Record, StreamWriter};
use spillway_streams::{LogOptions, LogWriter};
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut writer = LogWriter::open(
            dir,
            LogOptions {
                default_partitions: 2,
                ..LogOptions::default()
            },
        )
        .expect("open log");
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
