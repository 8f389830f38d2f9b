//! The same binlog captured by Debezium 3.x's MySQL connector (on MariaDB, through the
//! harness's JDBC shim) and by spillway must give the same key and value documents and
//! headers, after removing only processing timestamps, `version`, the run id header and,
//! for snapshot rows, the snapshot's own binlog position and time.
//!
//! The schema-change records on the `<topic.prefix>` topic are compared by their own test,
//! which lets through only the attributes Debezium takes from its DDL parser where spillway
//! reads the server's catalog (listed at `parser_only_difference`).

mod support;

use std::time::Duration;
use support::compat::{
    assert_one_version_per_subject, by_topic, debezium_avro_docs, debezium_records, differences,
    finish_debezium, spillway_avro_docs, split_case, start_debezium, start_debezium_with,
    wait_for_spillway,
};
use support::mariadb::MyDb;
use support::{wait_for_log, Spillway};

/// Reference cases (compat/debezium/reference/mysql/*.sql).
const CASES: &[&str] = &[
    "all_types",
    "pk_change",
    "composite_key",
    "nokey",
    "not_null",
    "snapshot_markers",
];
/// Snapshot rows carry each connector's own snapshot position.
const SNAPSHOT_POSITION: &[&str] = &["file", "pos"];

/// Writes the properties of Debezium's MySQL connector on `db` (through the harness's JDBC
/// shim, topic prefix `ref`) with `extra` lines, and returns their path.
fn debezium_properties(
    dir: &std::path::Path,
    db: &MyDb,
    server_id: u32,
    extra: &[&str],
) -> std::path::PathBuf {
    let props = dir.join("debezium.properties");
    let mut text = format!(
        "connector.class=io.debezium.connector.mysql.MySqlConnector\n\
         database.hostname=127.0.0.1\ndatabase.port=3306\ndatabase.user=spillway\n\
         database.password=spillway\ndatabase.server.id={server_id}\n\
         database.jdbc.driver=MariaDbCompatDriver\ndatabase.protocol=jdbc:mariadb-compat\n\
         database.include.list={db}\ntopic.prefix=ref\n\
         schema.history.internal.store.only.captured.databases.ddl=true\n",
        db = db.name
    );
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&props, text).expect("write properties");
    props
}

#[test]
fn spillway_events_match_debezium_mysql_events_for_the_same_binlog() {
    compare_rows("mydbz", 5800, false, CASES, &[]);
}

/// `TRUNCATE TABLE` with `skipped.operations=none`: a truncate event each, as Debezium's.
#[test]
fn truncate_events_match_debezium_mysql_events_for_the_same_binlog() {
    compare_rows(
        "mydbztrunc",
        5820,
        false,
        &["truncate"],
        &[("skipped.operations", "none")],
    );
}

/// `binary.handling.mode=hex`: BINARY, VARBINARY and BLOB columns as text, in the
/// snapshot and the binlog, as Debezium's.
#[test]
fn binary_handling_mode_matches_debezium_mysql_for_the_same_binlog() {
    compare_rows(
        "mydbzbin",
        5830,
        false,
        &["all_types"],
        &[("binary.handling.mode", "hex")],
    );
}

/// The same with Avro: both register into spillway's embedded registry (Debezium through
/// Confluent's `AvroConverter`), every subject ends with one version, and both outputs read
/// back through the `AvroConverter` give the same documents.
#[test]
fn spillway_avro_matches_debezium_mysql_avro_for_the_same_binlog() {
    compare_rows("mydbzavro", 5810, true, CASES, &[]);
}

/// Captures `cases` with Debezium and spillway, both with `extra` settings, and compares.
fn compare_rows(tag: &str, server_id: u32, avro: bool, cases: &[&str], extra: &[(&str, &str)]) {
    let db = MyDb::create(tag);
    let mut stream_sql = String::new();
    for case in cases {
        let (pre, stream) = split_case("mysql/", case);
        db.sql(&pre);
        stream_sql.push_str(&stream);
    }
    let dir = support::scratch(tag);
    let port = support::free_port();
    let registry = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let id = server_id.to_string();
    let mut settings = vec![("topic.prefix", "ref"), ("database.server.id", id.as_str())];
    settings.extend_from_slice(extra);
    if avro {
        settings.push(("output.data.format", "AVRO"));
        settings.push(("schema.registry.embedded.listen", &listen));
    }
    let config = db.connector(&settings);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", Duration::from_secs(60));

    let lines: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let props = debezium_properties(dir.path(), &db, server_id + 1, &lines);
    let out = dir.path().join("debezium.jsonl");
    let extra: Vec<&str> = if avro {
        vec!["--avro", &registry]
    } else {
        vec![]
    };
    let debezium = start_debezium_with(dir.path(), &props, &out, &extra);
    db.sql(&stream_sql);
    finish_debezium(debezium, dir.path());

    let mut reference = if avro {
        debezium_avro_docs(&out, &registry, SNAPSHOT_POSITION)
    } else {
        by_topic(debezium_records(&out), SNAPSHOT_POSITION)
    };
    reference.remove("ref");
    let expected_records: usize = reference.values().map(Vec::len).sum();
    assert!(
        expected_records > 30 || cases.len() == 1,
        "Debezium produced only {expected_records} row records"
    );
    let mine = if avro {
        let mine = spillway_avro_docs(&sw.data_dir, &reference, &registry, SNAPSHOT_POSITION);
        assert_one_version_per_subject(&registry);
        mine
    } else {
        wait_for_spillway(&sw.data_dir, &reference, SNAPSHOT_POSITION)
    };
    assert!(sw.stop().success());
    let differences = differences(&reference, &mine);
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

/// Reference cases with DDL, run with `include.schema.changes=true`.
const DDL_CASES: &[&str] = &["ddl", "ddl_keys"];

/// Where Debezium's `tableChanges` come from its DDL parser and spillway's from the server's
/// catalog (compat/debezium/SCHEMA_CHANGES.md, "Where information_schema and Debezium
/// differ"), exactly two things differ, and only these are let through:
/// * a streamed `int`/`bigint` written without a display width: `length` null for Debezium,
///   the catalog's width (11, 20) for spillway;
/// * `MODIFY COLUMN id bigint` (no NOT NULL) on the primary key column `id`: Debezium's model
///   makes it optional, in `tableChanges` and in the row schemas (key included) from then on;
///   the server keeps it NOT NULL, and so does spillway.
///
/// Also let through: `source.table` of a multi-table `DROP TABLE`, where Debezium joins the
/// names in its hash set's order and spillway in the statement's (the same names).
fn parser_only_difference(difference: &str) -> bool {
    if let Some((_, rest)) = difference.split_once(".source.table: debezium ") {
        if let Some((theirs, ours)) = rest.split_once(" spillway ") {
            let names = |s: &str| {
                let mut v: Vec<String> =
                    s.trim_matches('"').split(',').map(str::to_string).collect();
                v.sort();
                v
            };
            return theirs.contains(',') && names(theirs) == names(ours);
        }
    }
    let width = difference.contains(".length: debezium null spillway ")
        && difference
            .rsplit(' ')
            .next()
            .is_some_and(|w| w == "11" || w == "20");
    let modified_key = difference.ends_with(".optional: debezium true spillway false")
        && (difference.contains(".columns[0].optional")
            || difference.contains(".fields[0].optional"))
        && (difference.starts_with("ref[") || difference.contains(".ddl["));
    width || modified_key
}

#[test]
fn schema_change_records_match_debezium_for_the_same_binlog() {
    let db = MyDb::create("myddldbz");
    let mut stream_sql = String::new();
    for case in DDL_CASES {
        let (pre, stream) = split_case("mysql/", case);
        db.sql(&pre);
        stream_sql.push_str(&stream);
    }
    let dir = support::scratch("myddldbz");
    let config = db.connector(&[
        ("topic.prefix", "ref"),
        ("database.server.id", "5802"),
        ("include.schema.changes", "true"),
        (
            "schema.history.internal.store.only.captured.databases.ddl",
            "true",
        ),
    ]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", Duration::from_secs(60));

    let props = debezium_properties(dir.path(), &db, 5803, &["include.schema.changes=true"]);
    let out = dir.path().join("debezium.jsonl");
    let debezium = start_debezium(dir.path(), &props, &out);
    // One statement at a time, each DDL read by spillway before the next runs: spillway
    // describes a table as the server's catalog has it when the DDL is read, so a reader
    // behind by several DDLs of one table sees the later definition (Debezium replays
    // its DDL parser instead); see compat/debezium/SCHEMA_CHANGES.md.
    for statement in stream_sql
        .split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let before = sw.logs().matches("schema change").count();
        db.sql(statement);
        let is_ddl = spillway_mysql::ddl::classify(statement, &db.name).is_some()
            && !statement.contains("IF NOT EXISTS");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while is_ddl
            && sw.logs().matches("schema change").count() == before
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    finish_debezium(debezium, dir.path());

    let reference = by_topic(debezium_records(&out), SNAPSHOT_POSITION);
    let schema_records = reference.get("ref").map_or(0, Vec::len);
    assert!(
        schema_records > 20,
        "Debezium wrote only {schema_records} schema-change records"
    );
    let mine = wait_for_spillway(&sw.data_dir, &reference, SNAPSHOT_POSITION);
    assert!(sw.stop().success(), "{}", sw.logs());
    let mut problems = Vec::new();
    for (topic, expected) in &reference {
        let actual = mine.get(topic).cloned().unwrap_or_default();
        if actual.len() != expected.len() {
            problems.push(format!(
                "{topic}: Debezium wrote {} records, spillway {}",
                expected.len(),
                actual.len()
            ));
        }
        for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
            let mut paths = Vec::new();
            let null = serde_json::Value::Null;
            let doc = |d: &Option<serde_json::Value>| d.clone().unwrap_or(null.clone());
            json_diff(
                &doc(&e.1),
                &doc(&a.1),
                &format!("{topic}[{i}].key"),
                &mut paths,
            );
            json_diff(
                &doc(&e.2),
                &doc(&a.2),
                &format!("{topic}[{i}].value"),
                &mut paths,
            );
            if e.3 != a.3 {
                paths.push(format!("{topic}[{i}].headers: {:?} vs {:?}", e.3, a.3));
            }
            problems.extend(paths);
        }
    }
    let (allowed, unexplained): (Vec<String>, Vec<String>) = problems
        .into_iter()
        .partition(|d| parser_only_difference(d));
    assert!(unexplained.is_empty(), "{unexplained:#?}");
    println!(
        "{schema_records} schema-change records and their rows identical to Debezium's but for {} documented parser-only attributes",
        allowed.len()
    );
}

/// The places where two JSON documents differ, with both values.
fn json_diff(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value as J;
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            for (k, v) in x {
                json_diff(v, y.get(k).unwrap_or(&J::Null), &format!("{path}.{k}"), out);
            }
            for (k, v) in y {
                if !x.contains_key(k) {
                    json_diff(&J::Null, v, &format!("{path}.{k}"), out);
                }
            }
        }
        (J::Array(x), J::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                json_diff(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: debezium {a} spillway {b}")),
        _ => {}
    }
}
