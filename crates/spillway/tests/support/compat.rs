//! Comparing spillway's records with Debezium's for the same workload: running the
//! Debezium harness, reading both outputs, and normalizing away only what legitimately
//! differs between two connectors reading the same log.

use super::{read_topic, RawRec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A reference workload `compat/debezium/reference/<dir>/<name>.sql` split at its
/// `-- @stream` line: what runs before capture starts, and what runs while it streams.
pub fn split_case(dir: &str, name: &str) -> (String, String) {
    let path = repo_root().join(format!("compat/debezium/reference/{dir}{name}.sql"));
    let sql =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (pre, stream) = sql
        .split_once("\n-- @stream\n")
        .unwrap_or_else(|| panic!("{} has no -- @stream marker", path.display()));
    (pre.to_string(), stream.to_string())
}

/// One record as `(topic, key, value, headers)`.
pub type Doc = (
    String,
    Option<Value>,
    Option<Value>,
    BTreeMap<String, String>,
);

/// The records the Debezium harness wrote.
pub fn debezium_records(path: &Path) -> Vec<Doc> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("harness writes JSON lines");
            let headers = v["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let doc = |x: &Value| (!x.is_null()).then(|| x.clone());
            (
                v["topic"].as_str().unwrap().to_string(),
                doc(&v["key"]),
                doc(&v["value"]),
                headers,
            )
        })
        .collect()
}

/// The records spillway wrote to `topics`.
pub fn spillway_records(data_dir: &Path, topics: &[String]) -> Vec<Doc> {
    let mut out = Vec::new();
    for topic in topics {
        for r in read_topic(data_dir, topic) {
            let headers = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect();
            out.push((topic.clone(), r.key, r.value, headers));
        }
    }
    out
}

/// Removes processing timestamps, the version, the run id header, and from snapshot rows
/// the `snapshot_position` fields of the source block.
pub fn normalize(doc: &mut Doc, snapshot_position: &[&str]) {
    doc.3.retain(|k, _| k != "__debezium.context.runId");
    if let Some(value) = doc.2.as_mut() {
        let payload = if value.get("payload").is_some() {
            &mut value["payload"]
        } else {
            value
        };
        if let Some(p) = payload.as_object_mut() {
            for k in ["ts_ms", "ts_us", "ts_ns"] {
                p.remove(k);
            }
            if let Some(source) = p.get_mut("source").and_then(Value::as_object_mut) {
                for k in ["version", "ts_ms", "ts_us", "ts_ns"] {
                    source.remove(k);
                }
                let snapshot = source
                    .get("snapshot")
                    .and_then(Value::as_str)
                    .unwrap_or("false");
                if snapshot != "false" {
                    for k in snapshot_position {
                        source.remove(*k);
                    }
                }
            }
        }
    }
}

/// Normalized records grouped by topic, in log order.
pub fn by_topic(docs: Vec<Doc>, snapshot_position: &[&str]) -> BTreeMap<String, Vec<Doc>> {
    let mut map: BTreeMap<String, Vec<Doc>> = BTreeMap::new();
    for mut d in docs {
        normalize(&mut d, snapshot_position);
        map.entry(d.0.clone()).or_default().push(d);
    }
    map
}

/// Starts the Debezium harness with `props` and waits until it streams.
pub fn start_debezium(dir: &Path, props: &Path, out: &Path) -> Child {
    start_debezium_with(dir, props, out, &[])
}

/// [`start_debezium`] with more harness options (`--avro URL`, ...).
pub fn start_debezium_with(dir: &Path, props: &Path, out: &Path, extra: &[&str]) -> Child {
    let ready = dir.join("debezium.ready");
    let script = repo_root().join("scripts/debezium-capture.sh");
    assert!(script.exists(), "{} is missing", script.display());
    let log = std::fs::File::create(dir.join("debezium.log")).expect("log file");
    let mut child = Command::new("bash")
        .arg(&script)
        .arg("--props")
        .arg(props)
        .arg("--out")
        .arg(out)
        .arg("--ready-file")
        .arg(&ready)
        .args(["--idle-timeout", "8", "--timeout", "240"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the Debezium harness (run scripts/setup.sh first)");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready.exists() {
        if let Some(status) = child.try_wait().expect("poll debezium") {
            panic!(
                "Debezium exited with {status} before streaming; log:\n{}",
                std::fs::read_to_string(dir.join("debezium.log")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "Debezium did not start streaming within 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Waits for the harness to stop by itself (no record for its idle timeout).
pub fn finish_debezium(mut child: Child, dir: &Path) {
    let status = child.wait().expect("wait for debezium");
    assert!(
        status.success(),
        "Debezium harness failed ({status}); log:\n{}",
        std::fs::read_to_string(dir.join("debezium.log")).unwrap_or_default()
    );
}

/// Waits until spillway's topics hold as many records as Debezium's.
pub fn wait_for_spillway(
    data_dir: &Path,
    reference: &BTreeMap<String, Vec<Doc>>,
    snapshot_position: &[&str],
) -> BTreeMap<String, Vec<Doc>> {
    let expected: usize = reference.values().map(Vec::len).sum();
    let topics: Vec<String> = reference.keys().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mine = by_topic(spillway_records(data_dir, &topics), snapshot_position);
        let count: usize = mine.values().map(Vec::len).sum();
        if count >= expected || Instant::now() > deadline {
            return mine;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every difference between the two outputs, one message each.
pub fn differences(
    reference: &BTreeMap<String, Vec<Doc>>,
    mine: &BTreeMap<String, Vec<Doc>>,
) -> Vec<String> {
    let mut differences = Vec::new();
    for (topic, expected) in reference {
        let actual = mine.get(topic).cloned().unwrap_or_default();
        if actual.len() != expected.len() {
            differences.push(format!(
                "{topic}: Debezium wrote {} records, spillway {}",
                expected.len(),
                actual.len()
            ));
        }
        for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
            for (what, x, y) in [
                (
                    "key",
                    serde_json::to_string(&e.1).unwrap(),
                    serde_json::to_string(&a.1).unwrap(),
                ),
                (
                    "value",
                    serde_json::to_string(&e.2).unwrap(),
                    serde_json::to_string(&a.2).unwrap(),
                ),
                ("headers", format!("{:?}", e.3), format!("{:?}", a.3)),
            ] {
                if x != y {
                    differences.push(format!(
                        "{topic}[{i}] {what}:\n  debezium: {x}\n  spillway: {y}"
                    ));
                }
            }
        }
    }
    differences
}

/// Writes records as the harness's `--avro` mode does: key and value as base64 strings.
pub fn write_binary_lines(path: &Path, records: &[(String, RawRec)]) {
    use base64::Engine;
    let b64 = |b: &Option<Vec<u8>>| match b {
        Some(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        None => Value::Null,
    };
    let mut text = String::new();
    for (topic, r) in records {
        let headers: serde_json::Map<String, Value> = r
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone().unwrap_or_default())))
            .collect();
        let line = serde_json::json!({
            "topic": topic, "key": b64(&r.key), "value": b64(&r.value), "headers": headers
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).expect("write records");
}

/// Converts Avro records (lines as [`write_binary_lines`] writes them) to JsonConverter
/// documents through Confluent's own `AvroConverter`, reading schemas from `registry`.
pub fn avro_to_json(registry: &str, input: &Path, output: &Path) {
    let script = repo_root().join("scripts/debezium-capture.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args(["--avro-to-json", registry, "--in"])
        .arg(input)
        .arg("--out")
        .arg(output)
        .output()
        .expect("run the harness's avro-to-json");
    assert!(
        out.status.success(),
        "Confluent's AvroConverter could not read {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Debezium's `--avro` output read back through Confluent's `AvroConverter` as documents.
pub fn debezium_avro_docs(
    out: &Path,
    registry: &str,
    snapshot_position: &[&str],
) -> BTreeMap<String, Vec<Doc>> {
    let converted = out.with_extension("avro.json");
    avro_to_json(registry, out, &converted);
    by_topic(debezium_records(&converted), snapshot_position)
}

/// spillway's Avro records of the topics `reference` has, once as many are there, read
/// back through Confluent's `AvroConverter` as documents.
pub fn spillway_avro_docs(
    data_dir: &Path,
    reference: &BTreeMap<String, Vec<Doc>>,
    registry: &str,
    snapshot_position: &[&str],
) -> BTreeMap<String, Vec<Doc>> {
    let expected: usize = reference.values().map(Vec::len).sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    let records = loop {
        let records: Vec<(String, RawRec)> = reference
            .keys()
            .flat_map(|t| {
                super::read_topic_raw(data_dir, t)
                    .into_iter()
                    .map(move |r| (t.clone(), r))
            })
            .collect();
        if records.len() >= expected || Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let raw = data_dir.with_extension("avro.jsonl");
    let converted = data_dir.with_extension("avro.json");
    write_binary_lines(&raw, &records);
    avro_to_json(registry, &raw, &converted);
    by_topic(debezium_records(&converted), snapshot_position)
}

/// Every subject of the registry has one version: the schemas both sides registered are
/// the same text.
pub fn assert_one_version_per_subject(registry: &str) {
    let subjects = super::http_get_json(&format!("{registry}/subjects"));
    let subjects = subjects.as_array().expect("subject list");
    assert!(!subjects.is_empty(), "no subjects at {registry}");
    for subject in subjects {
        let subject = subject.as_str().unwrap();
        let versions = super::http_get_json(&format!("{registry}/subjects/{subject}/versions"));
        if versions != serde_json::json!([1]) {
            let schema = |v: &str| {
                super::http_get_json(&format!("{registry}/subjects/{subject}/versions/{v}"))
                    ["schema"]
                    .clone()
            };
            panic!(
                "subject {subject} has versions {versions}:\n  first: {}\n  latest: {}",
                schema("1"),
                schema("latest")
            );
        }
    }
}
