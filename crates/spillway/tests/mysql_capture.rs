//! Capture from a real MariaDB binlog into the embedded log: operations, keys, DDL,
//! snapshot consistency, restarts (also inside a large transaction) and bad input.

mod support;

use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use support::mariadb::MyDb;
use support::{read_topic, wait_for_log, wait_for_records, Spillway};

const WAIT: Duration = Duration::from_secs(60);

fn start(db: &MyDb, dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> Spillway {
    let spillway = Spillway::start(&db.connector(extra), &dir.path().join("data"));
    wait_for_log(&spillway, "streaming changes", WAIT);
    spillway
}

#[test]
fn inserts_updates_deletes_and_key_changes_become_debezium_events() {
    let db = MyDb::create("myops");
    db.sql("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, qty INT)");
    db.sql("INSERT INTO items VALUES (1, 'a', 10)");
    let dir = support::scratch("myops");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO items VALUES (2, 'b', NULL)");
    db.sql("UPDATE items SET qty = 11 WHERE id = 1");
    db.sql("DELETE FROM items WHERE id = 2");
    db.sql("UPDATE items SET id = 3 WHERE id = 1");
    let recs = wait_for_records(&sw, &db.topic("items"), 8, WAIT);
    let ops: Vec<Option<&str>> = recs.iter().map(|r| r.op()).collect();
    assert_eq!(
        ops,
        vec![
            Some("r"),
            Some("c"),
            Some("u"),
            Some("d"),
            None,
            Some("d"),
            None,
            Some("c")
        ]
    );
    assert_eq!(recs[0].after(), &json!({"id": 1, "name": "a", "qty": 10}));
    assert_eq!(
        recs[2].before(),
        &json!({"id": 1, "name": "a", "qty": 10}),
        "FULL row image"
    );
    assert_eq!(recs[2].after()["qty"], json!(11));
    assert_eq!(recs[5].header("__debezium.newkey"), Some(r#"{"id":3}"#));
    assert_eq!(recs[7].header("__debezium.oldkey"), Some(r#"{"id":1}"#));
    let source = &recs[1].payload().unwrap()["source"];
    assert_eq!(source["connector"], json!("mysql"));
    assert_eq!(source["db"], json!(db.name));
    assert_eq!(source["table"], json!("items"));
    assert!(
        source["file"].as_str().unwrap().starts_with("mysql-bin."),
        "{source}"
    );
    assert!(source["pos"].as_i64().unwrap() > 4);
    // Like Debezium's MySQL connector, the MySQL class does not report MariaDB GTIDs.
    assert_eq!(source["gtid"], json!(null), "{source}");
    assert_eq!(source["row"], json!(0));
    assert!(sw.stop().success());
}

#[test]
fn the_mariadb_connector_class_reports_mariadb() {
    let db = MyDb::create("myflavor");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let dir = support::scratch("myflavor");
    let mut sw = start(
        &db,
        &dir,
        &[(
            "connector.class",
            "io.debezium.connector.mariadb.MariaDbConnector",
        )],
    );
    db.sql("INSERT INTO t VALUES (1)");
    let recs = wait_for_records(&sw, &db.topic("t"), 1, WAIT);
    let source = &recs[0].payload().unwrap()["source"];
    assert_eq!(source["connector"], json!("mariadb"));
    assert!(
        source["gtid"].as_str().unwrap().starts_with("0-"),
        "{source}"
    );
    assert!(sw.stop().success());
}

#[test]
fn columns_added_mid_stream_appear_from_the_next_event() {
    let db = MyDb::create("myddl");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))");
    let dir = support::scratch("myddl");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (1, 'x')");
    db.sql("ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7");
    db.sql("INSERT INTO t VALUES (2, 'y', 8)");
    db.sql("ALTER TABLE t DROP COLUMN a");
    db.sql("INSERT INTO t VALUES (3, 9)");
    let recs = wait_for_records(&sw, &db.topic("t"), 3, WAIT);
    assert_eq!(recs[0].after(), &json!({"id": 1, "a": "x"}));
    assert_eq!(recs[1].after(), &json!({"id": 2, "a": "y", "b": 8}));
    assert_eq!(recs[2].after(), &json!({"id": 3, "b": 9}));
    assert!(sw.stop().success());
}

#[test]
fn snapshot_then_binlog_misses_nothing_and_doubles_nothing_under_concurrent_writes() {
    let db = MyDb::create("mysnap");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)");
    db.sql("INSERT INTO t SELECT seq, 0 FROM seq_1_to_20000");
    let dir = support::scratch("mysnap");
    let name = db.name.clone();
    let writer = std::thread::spawn(move || {
        for i in 1..=60 {
            support::mariadb::sql(
                &name,
                &format!("INSERT INTO t VALUES ({}, {i})", 100_000 + i),
            );
            support::mariadb::sql(&name, &format!("UPDATE t SET v = {i} WHERE id = {i}"));
        }
    });
    let mut sw = Spillway::start(&db.connector(&[]), &dir.path().join("data"));
    writer.join().expect("writer thread");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let recs = read_topic(&sw.data_dir, &db.topic("t"));
        let mut state: HashMap<i64, i64> = HashMap::new();
        let mut seen: HashMap<(i64, i64), usize> = HashMap::new();
        for r in &recs {
            if let Some(p) = r.payload() {
                let (id, v) = (
                    p["after"]["id"].as_i64().unwrap(),
                    p["after"]["v"].as_i64().unwrap(),
                );
                state.insert(id, v);
                *seen.entry((id, v)).or_default() += 1;
            }
        }
        let source: HashMap<i64, i64> = db
            .sql("SELECT id, v FROM t")
            .lines()
            .map(|l| {
                let (a, b) = l.split_once('\t').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        if state == source {
            let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
            assert!(doubled.is_empty(), "events seen twice: {doubled:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stream never converged: {} records; log:\n{}",
            recs.len(),
            sw.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(sw.stop().success());
}

#[test]
fn restart_resumes_from_the_committed_position() {
    let db = MyDb::create("myrestart");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    db.sql("INSERT INTO t VALUES (1), (2)");
    let dir = support::scratch("myrestart");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (3)");
    wait_for_records(&sw, &db.topic("t"), 3, WAIT);
    assert!(sw.stop().success());
    db.sql("INSERT INTO t VALUES (4)");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (5)");
    wait_for_records(&sw, &db.topic("t"), 5, WAIT);
    assert!(sw.stop().success());
    let ids: Vec<i64> = read_topic(&sw.data_dir, &db.topic("t"))
        .iter()
        .map(|r| r.key_payload().unwrap()["id"].as_i64().unwrap())
        .collect();
    // Nothing is sent twice after a clean stop.
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
}

/// Rewrites the stored binlog place of a stopped connector.
fn edit_offset_state(
    dir: &tempfile::TempDir,
    db: &MyDb,
    edit: impl FnOnce(&mut serde_json::Value),
) {
    let path = dir
        .path()
        .join("data")
        .join("offsets")
        .join(format!("{}.json", db.name));
    let mut offset: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut offset["state"]);
    // As an operator's alter does: the offsets file and the log's commit journal, where a
    // connector writing to the embedded log resumes from.
    use spillway_core::OffsetStore;
    let data = dir.path().join("data");
    let file = spillway_streams::FileOffsetStore::open(&data, &db.name).unwrap();
    let offset: spillway_core::Offset = serde_json::from_value(offset).unwrap();
    spillway_streams::LogOffsetStore::stopped(file, &data, &db.name)
        .replace(Some(&offset))
        .unwrap();
}

#[test]
fn restarts_resume_by_gtid_without_the_file_and_by_file_without_the_gtid() {
    let db = MyDb::create("mygtid");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    db.sql("INSERT INTO t VALUES (1)");
    let dir = support::scratch("mygtid");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (2)");
    wait_for_records(&sw, &db.topic("t"), 2, WAIT);
    assert!(sw.stop().success());

    // A file the server never had: only the GTID position can find the place.
    edit_offset_state(&dir, &db, |state| {
        assert!(
            state["gtid"].as_str().is_some_and(|g| g.contains('-')),
            "MariaDB positions carry the GTID list: {state}"
        );
        state["file"] = json!("mysql-bin.999999");
        state["pos"] = json!(4);
    });
    db.sql("INSERT INTO t VALUES (3)");
    let mut sw = start(&db, &dir, &[]);
    assert!(sw.logs().contains("by=gtid"), "{}", sw.logs());
    db.sql("INSERT INTO t VALUES (4)");
    wait_for_records(&sw, &db.topic("t"), 4, WAIT);
    assert!(sw.stop().success());

    // Without a GTID position the stored file and position are used.
    edit_offset_state(&dir, &db, |state| {
        assert_ne!(state["file"], json!("mysql-bin.999999"), "{state}");
        state.as_object_mut().unwrap().remove("gtid");
    });
    db.sql("INSERT INTO t VALUES (5)");
    let mut sw = start(&db, &dir, &[]);
    assert!(sw.logs().contains("file and position"), "{}", sw.logs());
    db.sql("INSERT INTO t VALUES (6)");
    wait_for_records(&sw, &db.topic("t"), 6, WAIT);
    assert!(sw.stop().success());
    let ids: Vec<i64> = read_topic(&sw.data_dir, &db.topic("t"))
        .iter()
        .map(|r| r.key_payload().unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_kill_inside_a_large_transaction_resumes_after_the_committed_rows() {
    let db = MyDb::create("mybigtx");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(100))");
    let dir = support::scratch("mybigtx");
    let mut sw = start(&db, &dir, &[]);
    // One transaction of 100,000 rows.
    db.sql("INSERT INTO t SELECT seq, REPEAT('x', 100) FROM seq_1_to_100000");
    // Kill once part of it is committed: the offset then points inside the transaction.
    let offsets = sw.data_dir.join(format!("offsets/{}.json", db.name));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let committed: serde_json::Value = std::fs::read_to_string(&offsets)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let row = committed["position"]["row"].as_u64().unwrap_or(0);
        if committed["position"]["phase"] == json!("stream") && row > 5_000 && row < u64::MAX {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no commit inside the transaction seen; offsets: {committed}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    sw.kill9();
    let before = read_topic(&sw.data_dir, &db.topic("t")).len();
    let mut sw = Spillway::start(&db.connector(&[]), &dir.path().join("data"));
    let recs = wait_for_records(&sw, &db.topic("t"), 100_000, Duration::from_secs(120));
    assert!(sw.stop().success());
    let mut count: HashMap<i64, usize> = HashMap::new();
    for r in &recs {
        *count
            .entry(r.key_payload().unwrap()["id"].as_i64().unwrap())
            .or_default() += 1;
    }
    assert_eq!(
        count.len(),
        100_000,
        "every row of the transaction is in the log"
    );
    let duplicates: usize = count.values().map(|n| n - 1).sum();
    assert!(
        duplicates < before,
        "a restart in the middle of the transaction must skip the rows already committed: {duplicates} duplicates, {before} records were in the log at the kill"
    );
    println!("records at kill: {before}, duplicates after restart: {duplicates}");
}

#[test]
fn no_data_mode_keeps_changes_made_while_stopped_before_the_first_capture() {
    let db = MyDb::create("mynodata");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let dir = support::scratch("mynodata");
    let mut sw = start(&db, &dir, &[("snapshot.mode", "no_data")]);
    assert!(sw.stop().success());
    db.sql("INSERT INTO t VALUES (1)");
    let mut sw = start(&db, &dir, &[("snapshot.mode", "no_data")]);
    let recs = wait_for_records(&sw, &db.topic("t"), 1, WAIT);
    assert_eq!(recs[0].op(), Some("c"));
    assert!(sw.stop().success());
}

#[test]
fn heartbeats_are_written_run_the_action_query_and_move_the_offset() {
    let db = MyDb::create("myheartbeat");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE beats (at DATETIME(6))");
    // A heartbeat table the connector's user may write, as its documentation asks for.
    db.sql(&format!(
        "GRANT INSERT ON {}.beats TO 'spillway'@'%'",
        db.name
    ));
    let dir = support::scratch("myheartbeat");
    let query = format!("INSERT INTO {}.beats VALUES (NOW(6))", db.name);
    let mut sw = start(
        &db,
        &dir,
        &[
            ("table.include.list", &format!("{}.t", db.name)),
            ("heartbeat.interval.ms", "200"),
            ("heartbeat.action.query", &query),
        ],
    );
    let topic = format!("__debezium-heartbeat.{}", db.name);
    let recs = wait_for_records(&sw, &topic, 4, WAIT);
    assert_eq!(recs[0].key_payload(), Some(&json!({"serverName": db.name})));
    assert_eq!(
        recs[0].key.as_ref().unwrap()["schema"]["name"],
        json!("io.debezium.connector.common.ServerNameKey")
    );
    assert!(recs[0].payload().unwrap()["ts_ms"].as_i64().unwrap() > 0);
    assert!(db.sql("SELECT count(*) FROM beats").parse::<i64>().unwrap() >= 2);
    assert!(read_topic(&sw.data_dir, &db.topic("beats")).is_empty());
    // Only the action query writes near the captured database; once a few more heartbeats
    // have passed, the stored place is at or after the server's position of now.
    let seq = |g: &str| -> u64 { g.rsplit('-').next().unwrap().trim().parse().unwrap() };
    let server = seq(&db.sql("SELECT @@gtid_binlog_pos"));
    wait_for_records(&sw, &topic, recs.len() + 8, WAIT);
    assert!(sw.stop().success());
    let offset: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("data")
                .join("offsets")
                .join(format!("{}.json", db.name)),
        )
        .unwrap(),
    )
    .unwrap();
    let stored = offset["state"]["gtid"].as_str().unwrap().to_string();
    assert!(
        seq(&stored) >= server,
        "stored GTID {stored} is behind the server's position {server} of before the last heartbeats"
    );
}

#[test]
fn a_restart_after_alters_decodes_each_row_with_the_definition_it_was_written_with() {
    let db = MyDb::create("myhistory");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))");
    let dir = support::scratch("myhistory");
    let mut sw = start(&db, &dir, &[]);
    db.sql("INSERT INTO t VALUES (1, 'x')");
    wait_for_records(&sw, &db.topic("t"), 1, WAIT);
    assert!(sw.stop().success());
    let history = dir
        .path()
        .join("data")
        .join("state")
        .join(&db.name)
        .join("schema-history.jsonl");
    assert!(
        std::fs::read_to_string(&history)
            .unwrap()
            .contains("\"snapshot\""),
        "the snapshot's definitions are in {}",
        history.display()
    );

    // While stopped: rows of four shapes, the table changed between them.
    db.sql("INSERT INTO t VALUES (2, 'old')");
    db.sql("ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7");
    db.sql("INSERT INTO t VALUES (3, 'added', 8)");
    db.sql("ALTER TABLE t DROP COLUMN a");
    db.sql("INSERT INTO t VALUES (4, 9)");
    db.sql("ALTER TABLE t RENAME COLUMN b TO c, MODIFY COLUMN id BIGINT");
    db.sql("INSERT INTO t VALUES (5, 10)");

    let mut sw = start(&db, &dir, &[]);
    let recs = wait_for_records(&sw, &db.topic("t"), 5, WAIT);
    assert!(sw.stop().success(), "{}", sw.logs());
    let afters: Vec<&serde_json::Value> = recs.iter().map(|r| r.after()).collect();
    assert_eq!(
        afters,
        vec![
            &json!({"id": 1, "a": "x"}),
            &json!({"id": 2, "a": "old"}),
            &json!({"id": 3, "a": "added", "b": 8}),
            &json!({"id": 4, "b": 9}),
            &json!({"id": 5, "c": 10}),
        ]
    );
    // Rows 3 and 4 were written before a later ALTER: neither the history (which has the
    // shape after each ALTER as the server reported it when read) nor the server had their
    // layout, so their table maps' own metadata described them.
    assert!(
        sw.logs()
            .contains("decoded with the binlog's column metadata"),
        "{}",
        sw.logs()
    );
    // The schema changes were recorded, and history and topic both saw all three.
    let text = std::fs::read_to_string(&history).unwrap();
    let ours = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| {
            e["ddl"].as_str().unwrap().starts_with("ALTER TABLE t")
                && e["tables"][0]["database"] == json!(db.name)
        })
        .count();
    assert_eq!(ours, 3, "{text}");
    let ddl: Vec<String> = read_topic(&sw.data_dir, &db.name)
        .iter()
        .filter_map(|r| r.payload().cloned())
        // By default every database's DDL is recorded (as Debezium does): only this one's.
        .filter(|p| p["databaseName"] == json!(db.name))
        .map(|p| p["ddl"].as_str().unwrap_or("").to_string())
        .filter(|d| d.starts_with("ALTER"))
        .collect();
    assert_eq!(ddl.len(), 3, "{ddl:?}");
}

#[test]
fn compressed_binlog_events_are_captured_like_plain_ones() {
    let server = support::mariadb::ScratchServer::start(
        "compress",
        &[
            "--log-bin=mysql-bin",
            "--server-id=7",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL",
            "--log-bin-compress=ON",
            "--log-bin-compress-min-len=10",
        ],
    );
    server.sql("CREATE TABLE app.c (id INT PRIMARY KEY, body TEXT)");
    let dir = support::scratch("mycompress");
    let mut config = server.connector();
    config["skipped.operations"] = json!("none");
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    let long = |c: char| c.to_string().repeat(600);
    server.sql(&format!(
        "INSERT INTO app.c VALUES (1, '{a}'), (2, '{b}');
         UPDATE app.c SET body = '{c}' WHERE id = 1;
         DELETE FROM app.c WHERE id = 2;
         ALTER TABLE app.c ADD COLUMN extra INT NOT NULL DEFAULT 5;
         INSERT INTO app.c VALUES (3, '{d}', 9);
         TRUNCATE TABLE app.c;",
        a = long('a'),
        b = long('b'),
        c = long('c'),
        d = long('d')
    ));
    // The binlog really holds compressed events of both kinds.
    let events = server.sql("SHOW BINLOG EVENTS IN 'mysql-bin.000001'");
    assert!(
        events.contains("Write_rows_compressed") && events.contains("Query_compressed"),
        "{events}"
    );
    let records = wait_for_records(&sw, "scratch.app.c", 7, WAIT);
    let seen: Vec<(Option<&str>, Option<i64>, Option<String>)> = records
        .iter()
        .map(|r| match r.op() {
            None => (None, None, None),
            op => {
                let row = if op == Some("d") {
                    r.before()
                } else {
                    r.after()
                };
                (
                    op,
                    row["id"].as_i64(),
                    row["body"].as_str().map(|b| b.chars().take(3).collect()),
                )
            }
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some("c"), Some(1), Some("aaa".to_string())),
            (Some("c"), Some(2), Some("bbb".to_string())),
            (Some("u"), Some(1), Some("ccc".to_string())),
            (Some("d"), Some(2), Some("bbb".to_string())),
            (None, None, None),
            (Some("c"), Some(3), Some("ddd".to_string())),
            (Some("t"), None, None),
        ],
        "{records:?}"
    );
    assert_eq!(records[5].after()["extra"], json!(9));
    assert_eq!(records[0].after()["body"].as_str().unwrap().len(), 600);
    assert!(sw.stop().success(), "{}", sw.logs());
}
