//! The same binlog captured by Debezium 3.x's MySQL connector (on MariaDB, through the
//! harness's JDBC shim) and by spillway must give the same key and value documents and
//! headers, after removing only processing timestamps, `version`, the run id header and,
//! for snapshot rows, the snapshot's own binlog position and time.
//!
//! Not compared yet: the schema-change events Debezium writes to the `<topic.prefix>`
//! topic (spillway does not produce them yet).

mod support;

use std::time::Duration;
use support::compat::{
    by_topic, debezium_records, differences, finish_debezium, split_case, start_debezium,
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

#[test]
fn spillway_events_match_debezium_mysql_events_for_the_same_binlog() {
    let db = MyDb::create("mydbz");
    let mut stream_sql = String::new();
    for case in CASES {
        let (pre, stream) = split_case("mysql/", case);
        db.sql(&pre);
        stream_sql.push_str(&stream);
    }
    let dir = support::scratch("mydbz");
    let config = db.connector(&[("topic.prefix", "ref"), ("database.server.id", "5800")]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", Duration::from_secs(60));

    let props = dir.path().join("debezium.properties");
    std::fs::write(
        &props,
        format!(
            "connector.class=io.debezium.connector.mysql.MySqlConnector\n\
             database.hostname=127.0.0.1\ndatabase.port=3306\ndatabase.user=spillway\n\
             database.password=spillway\ndatabase.server.id=5801\n\
             database.jdbc.driver=MariaDbCompatDriver\ndatabase.protocol=jdbc:mariadb-compat\n\
             database.include.list={db}\ntopic.prefix=ref\n\
             schema.history.internal.store.only.captured.databases.ddl=true\n",
            db = db.name
        ),
    )
    .expect("write properties");
    let out = dir.path().join("debezium.jsonl");
    let debezium = start_debezium(dir.path(), &props, &out);
    db.sql(&stream_sql);
    finish_debezium(debezium, dir.path());

    let mut reference = by_topic(debezium_records(&out), SNAPSHOT_POSITION);
    reference.remove("ref");
    let expected_records: usize = reference.values().map(Vec::len).sum();
    assert!(
        expected_records > 30,
        "Debezium produced only {expected_records} row records"
    );
    let mine = wait_for_spillway(&sw.data_dir, &reference, SNAPSHOT_POSITION);
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
