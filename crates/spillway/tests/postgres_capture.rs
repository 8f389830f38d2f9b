//! Capture from a real PostgreSQL into the embedded log: every operation, keys, tombstones,
//! TOAST, schema changes, snapshot consistency and restarts.

mod support;

use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use support::{read_topic, wait_for_log, wait_for_records, Spillway, TestDb};

const WAIT: Duration = Duration::from_secs(60);

fn start(db: &TestDb, dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> Spillway {
    let spillway = Spillway::start(&db.connector(extra), &dir.path().join("data"));
    wait_for_log(&spillway, "streaming changes", WAIT);
    spillway
}

#[test]
fn insert_update_delete_become_c_u_d_events_with_tombstones() {
    let db = TestDb::create("ops");
    db.sql("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int)");
    let dir = support::scratch("ops");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO items VALUES (1, 'a', 10), (2, 'b', NULL)");
    db.sql("UPDATE items SET qty = 11 WHERE id = 1");
    db.sql("DELETE FROM items WHERE id = 2");
    let recs = wait_for_records(&sw, &db.topic("items"), 5, WAIT);
    let ops: Vec<Option<&str>> = recs.iter().map(|r| r.op()).collect();
    assert_eq!(ops, vec![Some("c"), Some("c"), Some("u"), Some("d"), None]);
    assert_eq!(recs[0].key_payload(), Some(&json!({"id": 1})));
    assert_eq!(recs[0].after(), &json!({"id": 1, "name": "a", "qty": 10}));
    assert_eq!(recs[1].after(), &json!({"id": 2, "name": "b", "qty": null}));
    assert_eq!(recs[2].after()["qty"], json!(11));
    assert_eq!(
        recs[2].before(),
        &json!(null),
        "default replica identity sends no old row"
    );
    assert_eq!(recs[3].before()["id"], json!(2));
    assert_eq!(recs[3].after(), &json!(null));
    assert_eq!(
        recs[4].key_payload(),
        Some(&json!({"id": 2})),
        "tombstone keeps the key"
    );
    assert!(recs[4].value.is_none());
    let source = &recs[0].payload().unwrap()["source"];
    assert_eq!(source["connector"], json!("postgresql"));
    assert_eq!(source["db"], json!(db.name));
    assert_eq!(source["schema"], json!("public"));
    assert_eq!(source["table"], json!("items"));
    assert_eq!(source["snapshot"], json!("false"));
    assert!(source["lsn"].as_i64().unwrap() > 0);
    assert!(source["txId"].as_i64().unwrap() > 0);
    assert!(recs.iter().all(|r| r.partition == 0));
    assert!(sw.stop().success());
}

#[test]
fn update_of_primary_key_emits_delete_then_tombstone_then_create_with_key_headers() {
    let db = TestDb::create("pkchange");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let dir = support::scratch("pkchange");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (1, 'x')");
    db.sql("UPDATE t SET id = 2 WHERE id = 1");
    let recs = wait_for_records(&sw, &db.topic("t"), 4, WAIT);
    assert_eq!(recs[1].op(), Some("d"));
    assert_eq!(recs[1].key_payload(), Some(&json!({"id": 1})));
    assert_eq!(recs[1].header("__debezium.newkey"), Some(r#"{"id":2}"#));
    assert!(recs[2].value.is_none(), "tombstone for the old key");
    assert_eq!(recs[2].key_payload(), Some(&json!({"id": 1})));
    assert_eq!(recs[3].op(), Some("c"));
    assert_eq!(recs[3].key_payload(), Some(&json!({"id": 2})));
    assert_eq!(recs[3].after(), &json!({"id": 2, "v": "x"}));
    assert_eq!(recs[3].header("__debezium.oldkey"), Some(r#"{"id":1}"#));
    assert!(sw.stop().success());
}

#[test]
fn truncate_is_skipped_by_default_and_emitted_when_asked() {
    let db = TestDb::create("trunc");
    db.sql("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)");
    let dir_default = support::scratch("trunc-default");
    let mut sw = start(&db, &dir_default, &[]);
    db.sql("INSERT INTO a VALUES (1); TRUNCATE a; INSERT INTO a VALUES (2)");
    let recs = wait_for_records(&sw, &db.topic("a"), 2, WAIT);
    assert!(sw.stop().success());
    let recs_after = read_topic(&sw.data_dir, &db.topic("a"));
    assert_eq!(recs_after.len(), 2, "{recs:?}");
    assert!(recs_after.iter().all(|r| r.op() == Some("c")));

    let db2 = TestDb::create("trunc2");
    db2.sql("CREATE TABLE a (id int PRIMARY KEY)");
    let dir = support::scratch("trunc-none");
    let mut sw = start(&db2, &dir, &[("skipped.operations", "none")]);
    db2.sql("INSERT INTO a VALUES (1); TRUNCATE a; INSERT INTO a VALUES (2)");
    let recs = wait_for_records(&sw, &db2.topic("a"), 3, WAIT);
    assert_eq!(recs[1].op(), Some("t"));
    assert!(recs[1].key.is_none(), "a truncate has no key");
    assert_eq!(recs[1].before(), &json!(null));
    assert_eq!(recs[1].after(), &json!(null));
    assert_eq!(recs[2].op(), Some("c"));
    assert!(sw.stop().success());
}

#[test]
fn unchanged_toast_value_becomes_the_placeholder() {
    let db = TestDb::create("toast");
    db.sql("CREATE TABLE docs (id int PRIMARY KEY, body text, n int)");
    db.sql("ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL");
    let dir = support::scratch("toast");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO docs SELECT 1, string_agg(md5(i::text), '') , 0 FROM generate_series(1, 500) i");
    db.sql("UPDATE docs SET n = 1 WHERE id = 1");
    let recs = wait_for_records(&sw, &db.topic("docs"), 2, WAIT);
    assert_eq!(recs[0].after()["body"].as_str().unwrap().len(), 16_000);
    assert_eq!(
        recs[1].after()["body"],
        json!("__debezium_unavailable_value")
    );
    assert_eq!(recs[1].after()["n"], json!(1));
    assert!(sw.stop().success());
}

#[test]
fn replica_identity_full_puts_the_old_row_in_before() {
    let db = TestDb::create("full");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v text); ALTER TABLE t REPLICA IDENTITY FULL");
    let dir = support::scratch("full");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (1, 'old'); UPDATE t SET v = 'new'; DELETE FROM t");
    let recs = wait_for_records(&sw, &db.topic("t"), 4, WAIT);
    assert_eq!(recs[1].op(), Some("u"));
    assert_eq!(recs[1].before(), &json!({"id": 1, "v": "old"}));
    assert_eq!(recs[1].after(), &json!({"id": 1, "v": "new"}));
    assert_eq!(recs[2].before(), &json!({"id": 1, "v": "new"}));
    assert!(sw.stop().success());
}

#[test]
fn added_and_dropped_columns_take_effect_from_the_next_event() {
    let db = TestDb::create("ddl");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, a text)");
    let dir = support::scratch("ddl");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (1, 'x')");
    db.sql("ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 7");
    db.sql("INSERT INTO t VALUES (2, 'y', 8)");
    db.sql("ALTER TABLE t DROP COLUMN a");
    db.sql("INSERT INTO t VALUES (3, 9)");
    let recs = wait_for_records(&sw, &db.topic("t"), 3, WAIT);
    assert_eq!(recs[0].after(), &json!({"id": 1, "a": "x"}));
    assert_eq!(recs[1].after(), &json!({"id": 2, "a": "y", "b": 8}));
    assert_eq!(recs[2].after(), &json!({"id": 3, "b": 9}));
    let fields = |r: &support::Rec| -> Vec<String> {
        r.value.as_ref().unwrap()["schema"]["fields"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(fields(&recs[0]), vec!["id", "a"]);
    assert_eq!(fields(&recs[1]), vec!["id", "a", "b"]);
    assert_eq!(fields(&recs[2]), vec!["id", "b"]);
    assert!(sw.stop().success());
}

#[test]
fn table_without_primary_key_gets_null_keys() {
    let db = TestDb::create("nokey");
    db.sql("CREATE TABLE logs (msg text); ALTER TABLE logs REPLICA IDENTITY FULL");
    let dir = support::scratch("nokey");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO logs VALUES ('a'); UPDATE logs SET msg = 'b'; DELETE FROM logs");
    let recs = wait_for_records(&sw, &db.topic("logs"), 4, WAIT);
    assert!(recs.iter().all(|r| r.key.is_none()), "{recs:?}");
    assert_eq!(
        recs.iter().map(|r| r.op()).collect::<Vec<_>>(),
        vec![Some("c"), Some("u"), Some("d"), None],
        "a tombstone with a null key follows the delete, as Debezium writes it"
    );
    assert_eq!(recs[2].before(), &json!({"msg": "b"}));
    assert!(sw.stop().success());
}

#[test]
fn tombstones_can_be_turned_off() {
    let db = TestDb::create("notomb");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let dir = support::scratch("notomb");
    let mut sw = start(&db, &dir, &[("tombstones.on.delete", "false")]);
    db.sql("INSERT INTO t VALUES (1); DELETE FROM t; INSERT INTO t VALUES (2)");
    let recs = wait_for_records(&sw, &db.topic("t"), 3, WAIT);
    let ops: Vec<_> = recs.iter().map(|r| r.op()).collect();
    assert_eq!(ops, vec![Some("c"), Some("d"), Some("c")]);
    assert!(sw.stop().success());
}

#[test]
fn schemaless_json_has_no_schema_envelope() {
    let db = TestDb::create("schemaless");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let dir = support::scratch("schemaless");
    let mut sw = start(&db, &dir, &[("output.data.format", "JSON")]);
    db.sql("INSERT INTO t VALUES (1, 'x')");
    let recs = wait_for_records(&sw, &db.topic("t"), 1, WAIT);
    assert_eq!(recs[0].key, Some(json!({"id": 1})));
    let value = recs[0].value.as_ref().unwrap();
    assert!(value.get("schema").is_none());
    assert_eq!(value["after"], json!({"id": 1, "v": "x"}));
    assert_eq!(value["op"], json!("c"));
    assert!(sw.stop().success());
}

#[test]
fn snapshot_then_streaming_misses_nothing_and_doubles_nothing_under_concurrent_writes() {
    let db = TestDb::create("snapcons");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)");
    db.sql("INSERT INTO t SELECT i, 0 FROM generate_series(1, 20000) i");
    let dir = support::scratch("snapcons");
    let name = db.name.clone();
    let writer = std::thread::spawn(move || {
        // Each statement commits on its own while the snapshot runs.
        for i in 1..=60 {
            support::psql(
                &name,
                &format!("INSERT INTO t VALUES ({}, {i})", 100_000 + i),
            );
            support::psql(&name, &format!("UPDATE t SET v = {i} WHERE id = {i}"));
        }
    });
    let mut sw = Spillway::start(&db.connector(&[]), &dir.path().join("data"));
    writer.join().expect("writer thread");
    let expected_final = db.sql("SELECT count(*) FROM t").parse::<usize>().unwrap();
    assert_eq!(expected_final, 20_060);
    // Fold the stream into a table and compare with the source.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let recs = read_topic(&sw.data_dir, &db.topic("t"));
        let mut state: HashMap<i64, i64> = HashMap::new();
        let mut seen: HashMap<(i64, i64), usize> = HashMap::new();
        for r in &recs {
            if let Some(p) = r.payload() {
                let after = &p["after"];
                let (id, v) = (after["id"].as_i64().unwrap(), after["v"].as_i64().unwrap());
                state.insert(id, v);
                *seen.entry((id, v)).or_default() += 1;
            }
        }
        let source: HashMap<i64, i64> = db
            .sql("SELECT id || ',' || v FROM t")
            .lines()
            .map(|l| {
                let (a, b) = l.split_once(',').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        if state == source {
            let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
            assert!(doubled.is_empty(), "events seen twice: {doubled:?}");
            let snapshot_rows = recs.iter().filter(|r| r.op() == Some("r")).count();
            assert!(snapshot_rows >= 20_000, "snapshot rows {snapshot_rows}");
            // Changes committed before the snapshot point are inside snapshot rows, those
            // after it are events: either way each (id, v) state appears exactly once.
            assert!(recs.len() <= 20_000 + 120, "{} records", recs.len());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stream never converged to the table: {} records; log:\n{}",
            recs.len(),
            sw.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let recs = read_topic(&sw.data_dir, &db.topic("t"));
    let markers: Vec<&str> = recs
        .iter()
        .filter(|r| r.op() == Some("r"))
        .map(|r| r.payload().unwrap()["source"]["snapshot"].as_str().unwrap())
        .collect();
    assert_eq!(markers.first(), Some(&"first"));
    assert_eq!(markers.last(), Some(&"last"));
    assert!(sw.stop().success());
}

#[test]
fn restart_resumes_from_the_committed_position() {
    let db = TestDb::create("restart");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    db.sql("INSERT INTO t VALUES (1), (2)");
    let dir = support::scratch("restart");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (3)");
    wait_for_records(&sw, &db.topic("t"), 3, WAIT);
    assert!(sw.stop().success(), "SIGTERM exits 0");
    db.sql("INSERT INTO t VALUES (4); UPDATE t SET id = 5 WHERE id = 4");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (6)");
    let recs = wait_for_records(&sw, &db.topic("t"), 8, WAIT);
    assert!(sw.stop().success());
    let recs_final = read_topic(&sw.data_dir, &db.topic("t"));
    let ops: Vec<_> = recs_final
        .iter()
        .map(|r| (r.op(), r.key_payload().cloned()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (Some("r"), Some(json!({"id": 1}))),
            (Some("r"), Some(json!({"id": 2}))),
            (Some("c"), Some(json!({"id": 3}))),
            (Some("c"), Some(json!({"id": 4}))),
            (Some("d"), Some(json!({"id": 4}))),
            (None, Some(json!({"id": 4}))),
            (Some("c"), Some(json!({"id": 5}))),
            (Some("c"), Some(json!({"id": 6}))),
        ],
        "after a clean stop nothing is re-sent and the snapshot is not taken again ({} records first)",
        recs.len()
    );
}

#[test]
fn idle_captured_table_does_not_hold_wal_while_other_tables_are_busy() {
    let db = TestDb::create("idle");
    db.sql("CREATE TABLE quiet (id int PRIMARY KEY); CREATE TABLE busy (id serial PRIMARY KEY, v text)");
    let dir = support::scratch("idle");
    let mut sw = start(
        &db,
        &dir,
        &[
            ("table.include.list", "public.quiet"),
            ("status.update.interval.ms", "200"),
        ],
    );
    let slot_lsn = || {
        db.sql(&format!(
            "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{}'",
            db.name
        ))
        .parse::<f64>()
        .unwrap()
    };
    let before = slot_lsn();
    db.sql("INSERT INTO busy (v) SELECT md5(i::text) FROM generate_series(1, 5000) i");
    let target = db
        .sql("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        .parse::<f64>()
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while slot_lsn() < target {
        assert!(
            std::time::Instant::now() < deadline,
            "slot stayed at {} (was {before}), WAL is at {target}; log:\n{}",
            slot_lsn(),
            sw.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(read_topic(&sw.data_dir, &db.topic("busy")).is_empty());
    assert!(sw.stop().success());
}

#[test]
fn heartbeats_are_written_and_run_the_action_query() {
    let db = TestDb::create("heartbeat");
    db.sql("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE beats (at timestamptz)");
    let dir = support::scratch("heartbeat");
    let mut sw = start(
        &db,
        &dir,
        &[
            ("table.include.list", "public.t"),
            ("heartbeat.interval.ms", "200"),
            ("heartbeat.action.query", "INSERT INTO beats VALUES (now())"),
        ],
    );
    let topic = format!("__debezium-heartbeat.{}", db.name);
    let recs = wait_for_records(&sw, &topic, 3, WAIT);
    assert_eq!(recs[0].key_payload(), Some(&json!({"serverName": db.name})));
    assert_eq!(
        recs[0].key.as_ref().unwrap()["schema"]["name"],
        json!("io.debezium.connector.common.ServerNameKey")
    );
    assert!(recs[0].payload().unwrap()["ts_ms"].as_i64().unwrap() > 0);
    assert!(db.sql("SELECT count(*) FROM beats").parse::<i64>().unwrap() >= 2);
    assert!(read_topic(&sw.data_dir, &db.topic("beats")).is_empty());
    assert!(sw.stop().success());
}

#[test]
fn keys_are_spread_over_partitions_as_kafka_would() {
    let db = TestDb::create("partitions");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v int)");
    let dir = support::scratch("partitions");
    let mut sw = start(&db, &dir, &[("topic.creation.default.partitions", "3")]);
    db.sql("INSERT INTO t SELECT i, 0 FROM generate_series(1, 30) i");
    db.sql("UPDATE t SET v = 1");
    let recs = wait_for_records(&sw, &db.topic("t"), 60, WAIT);
    let mut partitions_by_key: HashMap<String, std::collections::HashSet<u32>> = HashMap::new();
    for r in &recs {
        let key = r.key.as_ref().unwrap();
        let bytes = serde_json::to_vec(key).unwrap();
        assert_eq!(
            r.partition,
            spillway_core::record::partition_for_key(&bytes, 3),
            "record of key {key} is not where murmur2 puts it"
        );
        partitions_by_key
            .entry(key.to_string())
            .or_default()
            .insert(r.partition);
    }
    assert!(partitions_by_key.values().all(|p| p.len() == 1));
    let used: std::collections::HashSet<u32> = recs.iter().map(|r| r.partition).collect();
    assert_eq!(used.len(), 3, "30 keys use all 3 partitions");
    assert!(sw.stop().success());
}
