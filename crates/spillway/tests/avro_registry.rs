//! Avro with a schema registry against the real server: schema evolution registers new
//! versions; a schema the registry refuses stops capture without committing the change and
//! is retried until an operator allows it; a registry that does not answer and an embedded
//! registry that cannot listen are clear errors.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::{
    assert_exit, http_get_json, read_topic_raw, run_to_exit, wait_for_log, write_config, Spillway,
    TestDb,
};

const WAIT: Duration = Duration::from_secs(60);

/// The schema id in a record's Confluent wire-format header.
fn schema_id(bytes: &[u8]) -> u32 {
    assert_eq!(bytes[0], 0, "magic byte");
    u32::from_be_bytes(bytes[1..5].try_into().unwrap())
}

fn wait_for_count(sw: &Spillway, topic: &str, n: usize) -> Vec<support::RawRec> {
    let deadline = Instant::now() + WAIT;
    loop {
        let records = read_topic_raw(&sw.data_dir, topic);
        if records.len() >= n {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} holds {} of {n} records; log:\n{}",
            records.len(),
            sw.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn evolution_registers_versions_and_a_refused_schema_waits_for_the_operator() {
    let db = TestDb::create("avroevolve");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v int)");
    let dir = support::scratch("avroevolve");
    let port = support::free_port();
    let registry = format!("http://127.0.0.1:{port}");
    let config = db.connector(&[
        ("output.data.format", "AVRO"),
        (
            "schema.registry.embedded.listen",
            &format!("127.0.0.1:{port}"),
        ),
    ]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    let topic = db.topic("t");
    let subject = format!("{topic}-value");
    let versions =
        |registry: &str| http_get_json(&format!("{registry}/subjects/{subject}/versions"));

    db.sql("INSERT INTO t VALUES (1, 1)");
    wait_for_count(&sw, &topic, 1);
    // A new nullable column: a compatible schema, registered as version 2.
    db.sql("ALTER TABLE t ADD COLUMN note text");
    db.sql("INSERT INTO t VALUES (2, 2, 'n')");
    let records = wait_for_count(&sw, &topic, 2);
    assert_eq!(versions(&registry), json!([1, 2]));
    let v2 = http_get_json(&format!("{registry}/subjects/{subject}/versions/2"));
    assert_eq!(
        schema_id(records[1].value.as_ref().unwrap()),
        v2["id"].as_u64().unwrap() as u32
    );

    // int -> text cannot read the earlier data (BACKWARD): refused, nothing written, retried.
    db.sql("ALTER TABLE t ALTER COLUMN v TYPE text");
    db.sql("INSERT INTO t VALUES (3, 'three', NULL)");
    wait_for_log(&sw, "connector failed; retrying", WAIT);
    let logs = sw.logs();
    assert!(
        logs.contains("is incompatible with an earlier schema")
            && logs.contains(&subject)
            && logs.contains("PUT /config/"),
        "{logs}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(read_topic_raw(&sw.data_dir, &topic).len(), 2);
    assert_eq!(versions(&registry), json!([1, 2]));

    // The operator allows it; the refused change arrives, nothing before it again.
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    agent
        .put(&format!("{registry}/config/{subject}"))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .send(r#"{"compatibility": "NONE"}"#)
        .expect("PUT config");
    let records = wait_for_count(&sw, &topic, 3);
    assert_eq!(records.len(), 3, "no change delivered twice");
    assert_eq!(versions(&registry), json!([1, 2, 3]));
    let v3 = http_get_json(&format!("{registry}/subjects/{subject}/versions/3"));
    assert!(v3["schema"]
        .as_str()
        .unwrap()
        .contains("\"name\":\"v\",\"type\":[\"null\",\"string\"]"));
    assert_eq!(
        schema_id(records[2].value.as_ref().unwrap()),
        v3["id"].as_u64().unwrap() as u32
    );
    assert!(sw.stop().success(), "{}", sw.logs());

    // `spillway tail` prints Avro records decoded with the registry's schemas.
    let tail = std::process::Command::new(support::binary())
        .args(["tail", &topic, "--data-dir"])
        .arg(&sw.data_dir)
        .output()
        .expect("spillway tail");
    assert!(
        tail.status.success(),
        "{}",
        String::from_utf8_lossy(&tail.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(tail.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["key"], json!({"id": 1}));
    assert_eq!(lines[0]["value"]["after"], json!({"id": 1, "v": 1}));
    assert_eq!(
        lines[2]["value"]["after"],
        json!({"id": 3, "v": "three", "note": null})
    );
    assert_eq!(lines[2]["value"]["op"], json!("c"));
}

#[test]
fn an_unreachable_registry_is_a_clear_error_and_commits_nothing() {
    let db = TestDb::create("avronoreg");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    db.sql("INSERT INTO t VALUES (1)");
    let dir = support::scratch("avronoreg");
    let url = format!("http://127.0.0.1:{}", support::free_port());
    let config = db.connector(&[
        ("output.data.format", "AVRO"),
        ("schema.registry.url", &url),
    ]);
    let path = write_config(dir.path(), &config);
    let data = dir.path().join("data");
    let out = run_to_exit(&path, &data);
    assert_exit(
        &out,
        1,
        &[
            "schema registry unreachable",
            &url,
            "cannot register",
            "public.t",
        ],
    );
    assert!(read_topic_raw(&data, &db.topic("t")).is_empty());
    let offsets = data.join("offsets").join(format!("{}.json", db.name));
    assert!(
        !offsets.exists() || std::fs::read_to_string(&offsets).unwrap().trim().is_empty(),
        "an offset was committed: {}",
        std::fs::read_to_string(&offsets).unwrap_or_default()
    );
}

#[test]
fn an_embedded_registry_that_cannot_listen_names_its_key() {
    let db = TestDb::create("avrolisten");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let dir = support::scratch("avrolisten");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let config = db.connector(&[
        ("output.data.format", "AVRO"),
        ("schema.registry.embedded.listen", &listen),
    ]);
    let path = write_config(dir.path(), &config);
    let out = run_to_exit(&path, &dir.path().join("data"));
    assert_exit(&out, 2, &["schema.registry.embedded.listen", &listen]);
}

/// MariaDB's schema-change records (nested arrays of structs) and rows in Avro, read back
/// through Confluent's `AvroConverter`, equal what a second connector writes as JSON for the
/// same binlog.
#[test]
fn mariadb_schema_changes_in_avro_read_back_as_the_json_of_the_same_binlog() {
    use support::compat::{
        by_topic, differences, spillway_avro_docs, spillway_records, split_case, Doc,
    };
    let db = support::mariadb::MyDb::create("avroddl");
    let mut stream_sql = String::new();
    for case in ["ddl", "ddl_keys"] {
        let (pre, stream) = split_case("mysql/", case);
        db.sql(&pre);
        stream_sql.push_str(&stream);
    }
    let dir = support::scratch("avroddl");
    let port = support::free_port();
    let registry = format!("http://127.0.0.1:{port}");
    let common = [
        ("topic.prefix", "ref"),
        ("include.schema.changes", "true"),
        (
            "schema.history.internal.store.only.captured.databases.ddl",
            "true",
        ),
    ];
    let listen = format!("127.0.0.1:{port}");
    let mut avro_settings = common.to_vec();
    avro_settings.extend([
        ("database.server.id", "5820"),
        ("output.data.format", "AVRO"),
        ("schema.registry.embedded.listen", listen.as_str()),
    ]);
    let mut json_settings = common.to_vec();
    json_settings.push(("database.server.id", "5821"));
    let mut avro = Spillway::start(&db.connector(&avro_settings), &dir.path().join("avro/data"));
    let mut json_sw = Spillway::start(&db.connector(&json_settings), &dir.path().join("json/data"));
    wait_for_log(&avro, "streaming changes", WAIT);
    wait_for_log(&json_sw, "streaming changes", WAIT);
    // One statement at a time, each DDL read by both before the next runs (each describes a
    // table as the catalog has it when it reads the DDL).
    for statement in stream_sql
        .split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let before = (
            avro.logs().matches("schema change").count(),
            json_sw.logs().matches("schema change").count(),
        );
        db.sql(statement);
        let is_ddl = spillway_mysql::ddl::classify(statement, &db.name).is_some()
            && !statement.contains("IF NOT EXISTS");
        let deadline = Instant::now() + Duration::from_secs(30);
        while is_ddl
            && (avro.logs().matches("schema change").count() == before.0
                || json_sw.logs().matches("schema change").count() == before.1)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    let topics: Vec<String> = support::topics(&json_sw.data_dir);
    assert!(topics.iter().any(|t| t == "ref"), "{topics:?}");
    let snapshot_position = &["file", "pos"];
    let strip_key_version = |docs: std::collections::BTreeMap<String, Vec<Doc>>| {
        docs.into_iter()
            .map(|(t, docs)| {
                let docs = docs
                    .into_iter()
                    .map(|mut d| {
                        // The AvroConverter gives a schema without `connect.version` its
                        // subject version; row keys have none.
                        if let Some(s) = d.1.as_mut().and_then(|k| k["schema"].as_object_mut()) {
                            if s.get("name")
                                .and_then(|n| n.as_str())
                                .is_some_and(|n| n.ends_with(".Key"))
                            {
                                s.remove("version");
                            }
                        }
                        d
                    })
                    .collect();
                (t, docs)
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let from_json = strip_key_version(by_topic(
        spillway_records(&json_sw.data_dir, &topics),
        snapshot_position,
    ));
    let count: usize = from_json.values().map(Vec::len).sum();
    assert!(
        from_json["ref"].len() > 20,
        "{} schema changes",
        from_json["ref"].len()
    );
    let from_avro = strip_key_version(spillway_avro_docs(
        &avro.data_dir,
        &from_json,
        &registry,
        snapshot_position,
    ));
    assert!(avro.stop().success(), "{}", avro.logs());
    assert!(json_sw.stop().success());
    let differences = differences(&from_json, &from_avro);
    assert!(
        differences.is_empty(),
        "{} differences between the JSON and the Avro read back:\n{}",
        differences.len(),
        differences.join("\n")
    );
    println!("{count} records in {} topics identical", from_json.len());
}
