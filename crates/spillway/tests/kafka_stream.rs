//! Kafka as the stream: changes captured from PostgreSQL and MariaDB are produced to a real
//! Kafka-protocol broker (tansu, started by scripts/setup.sh on 127.0.0.1:9092) and read
//! back with librdkafka's consumer: keys, murmur2 partitions, per-key order, tombstones and
//! headers; and a topic that may not be created is a clear error.

mod support;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use support::kafka::{wait_for_kafka_records, Broker, BROKER};
use support::mariadb::MyDb;
use support::{wait_for_log, Rec, Spillway, TestDb};

const WAIT: Duration = Duration::from_secs(60);

/// Reads `topic` from the beginning until `n` records are there; exactly `n`.
fn consume(topic: &str, n: usize) -> Vec<Rec> {
    let records = wait_for_kafka_records(BROKER, topic, n, WAIT);
    assert_eq!(records.len(), n, "records read from {topic}: {records:#?}");
    records
}

/// Checks partitions against Kafka's default partitioner and returns the `op`s per key in
/// the order consumed.
fn ops_by_key(records: &[Rec], partitions: u32) -> HashMap<String, Vec<String>> {
    let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
    for r in records {
        let key = r.key.as_ref().expect("every record is keyed");
        let bytes = serde_json::to_vec(key).unwrap();
        assert_eq!(
            r.partition,
            spillway_core::record::partition_for_key(&bytes, partitions),
            "record of key {key} is not where Java's murmur2 puts it"
        );
        let op = match &r.value {
            None => "tombstone".to_string(),
            Some(v) => v["op"].as_str().unwrap().to_string(),
        };
        by_key.entry(key.to_string()).or_default().push(op);
    }
    by_key
}

#[test]
fn postgres_changes_arrive_in_kafka_keyed_partitioned_and_in_order() {
    let db = TestDb::create("kafkapg");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    db.sql("INSERT INTO t SELECT i, 'snap' FROM generate_series(1, 10) i");
    let dir = support::scratch("kafkapg");
    let config = db.connector(&[
        ("kafka.bootstrap.servers", BROKER),
        ("topic.creation.default.partitions", "3"),
        ("topic.creation.default.replication.factor", "1"),
        ("value.converter.schemas.enable", "false"),
        ("key.converter.schemas.enable", "false"),
    ]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql("INSERT INTO t SELECT i, 'new' FROM generate_series(11, 30) i");
    db.sql("UPDATE t SET v = 'updated' WHERE id <= 15");
    db.sql("DELETE FROM t WHERE id > 25");
    // 10 reads, 20 creates, 15 updates, 5 deletes and their 5 tombstones.
    let records = consume(&db.topic("t"), 55);
    assert!(sw.stop().success(), "{}", sw.logs());
    let by_key = ops_by_key(&records, 3);
    assert_eq!(by_key.len(), 30);
    assert_eq!(by_key[r#"{"id":1}"#], vec!["r", "u"]);
    assert_eq!(by_key[r#"{"id":12}"#], vec!["c", "u"]);
    assert_eq!(by_key[r#"{"id":30}"#], vec!["c", "d", "tombstone"]);
    let update = records
        .iter()
        .find(|r| r.value.as_ref().is_some_and(|v| v["op"] == "u"))
        .unwrap();
    assert_eq!(
        update.value.as_ref().unwrap()["after"]["v"],
        json!("updated")
    );
    assert_eq!(
        update.header("__debezium.context.connectorLogicalName"),
        Some(db.name.as_str())
    );
    // Where each change sits in the source's log, for consumers that drop redeliveries.
    assert_eq!(update.header("spillway.connector"), Some(db.name.as_str()));
    assert!(
        update
            .header("spillway.position")
            .is_some_and(|p| p.starts_with("stream:")),
        "{:?}",
        update.headers
    );
    let read = records
        .iter()
        .find(|r| r.value.as_ref().is_some_and(|v| v["op"] == "r"))
        .unwrap();
    assert!(read
        .header("spillway.position")
        .is_some_and(|p| p.starts_with("snapshot:")));
    assert!(sw.logs().contains("created Kafka topic"), "{}", sw.logs());
}

#[test]
fn mariadb_changes_and_schema_changes_arrive_in_kafka() {
    let db = MyDb::create("kafkamy");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))");
    let dir = support::scratch("kafkamy");
    let config = db.connector(&[
        ("kafka.bootstrap.servers", BROKER),
        ("topic.creation.default.replication.factor", "1"),
        (
            "schema.history.internal.store.only.captured.databases.ddl",
            "true",
        ),
    ]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
    db.sql("ALTER TABLE t ADD COLUMN w INT DEFAULT 5");
    db.sql("UPDATE t SET v = 'c', w = 6 WHERE id = 1");
    let rows = consume(&db.topic("t"), 3);
    let ddl = consume(&db.name, 7);
    assert!(sw.stop().success(), "{}", sw.logs());
    assert_eq!(
        rows[2].value.as_ref().unwrap()["payload"]["after"],
        json!({"id": 1, "v": "c", "w": 6})
    );
    let last = ddl.last().unwrap().value.as_ref().unwrap();
    assert_eq!(
        last["payload"]["ddl"],
        json!("ALTER TABLE t ADD COLUMN w INT DEFAULT 5")
    );
}

#[test]
fn a_missing_topic_that_may_not_be_created_stops_with_its_name() {
    let db = TestDb::create("kafkanocreate");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    db.sql("INSERT INTO t VALUES (1)");
    let dir = support::scratch("kafkanocreate");
    let config = db.connector(&[
        ("kafka.bootstrap.servers", BROKER),
        ("topic.creation.enable", "false"),
    ]);
    let path = support::write_config(dir.path(), &config);
    let out = support::run_to_exit(&path, &dir.path().join("data"));
    support::assert_exit(
        &out,
        1,
        &[
            &format!("topic {} does not exist", db.topic("t")),
            "topic.creation.enable",
        ],
    );
}

/// The values of `topic` at `broker` once at least `n` are there (or two minutes passed).
fn consume_from(broker: &str, topic: &str, n: usize) -> Vec<Value> {
    wait_for_kafka_records(broker, topic, n, Duration::from_secs(120))
        .into_iter()
        .filter_map(|r| r.value)
        .collect()
}

#[test]
fn a_broker_outage_pauses_capture_and_loses_nothing() {
    let port = support::free_port();
    let broker = Broker::start(port);
    let db = TestDb::create("kafkaoutage");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let dir = support::scratch("kafkaoutage");
    let config = db.connector(&[
        ("kafka.bootstrap.servers", &broker.address()),
        ("topic.creation.default.replication.factor", "1"),
        ("value.converter.schemas.enable", "false"),
        // Deliveries give up after 3 s while the broker is away.
        ("kafka.message.timeout.ms", "3000"),
    ]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql("INSERT INTO t SELECT i FROM generate_series(1, 10) i");
    assert_eq!(
        consume_from(&broker.address(), &db.topic("t"), 10).len(),
        10
    );

    // The broker goes away (its in-memory topics with it) while changes are committed.
    drop(broker);
    db.sql("INSERT INTO t SELECT i FROM generate_series(11, 20) i");
    wait_for_log(&sw, "Kafka stream failed", WAIT);
    assert!(sw.is_running(), "a broker outage is retried, not fatal");

    // A new, empty broker on the same address: what was not acknowledged is sent again.
    let broker = Broker::start(port);
    let after = consume_from(&broker.address(), &db.topic("t"), 10);
    let ids: std::collections::BTreeSet<i64> = after
        .iter()
        .filter_map(|v| v["after"]["id"].as_i64())
        .collect();
    assert!(
        (11..=20).all(|i| ids.contains(&i)),
        "changes committed during the outage must arrive after it: got {ids:?}\n{}",
        sw.logs()
    );
    assert!(sw.stop().success(), "{}", sw.logs());
}

#[test]
fn unreachable_brokers_are_retried_with_the_reason_and_nothing_is_committed() {
    let db = TestDb::create("kafkaunreachable");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    db.sql("INSERT INTO t VALUES (1)");
    let dir = support::scratch("kafkaunreachable");
    // Nothing listens on port 1.
    let config = db.connector(&[("kafka.bootstrap.servers", "127.0.0.1:1")]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "Kafka stream failed", WAIT);
    assert!(
        sw.is_running(),
        "unreachable brokers are retried, not fatal"
    );
    let logs = sw.logs();
    assert!(logs.contains("cannot create topic"), "{logs}");
    assert!(sw.stop().success(), "{}", sw.logs());
    // Nothing was acknowledged, so no position past the snapshot was stored.
    let offsets = dir
        .path()
        .join("data")
        .join("offsets")
        .join(format!("{}.json", db.name));
    if let Ok(text) = std::fs::read_to_string(&offsets) {
        assert!(!text.contains("stream"), "an offset was committed: {text}");
    }
}

#[test]
fn offsets_kept_in_kafka_let_a_worker_without_the_data_directory_take_over() {
    let db = TestDb::create("kafkatakeover");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    db.sql("INSERT INTO t SELECT generate_series(1, 5)");
    let dir = support::scratch("kafkatakeover");
    let offsets_topic = format!("{}-offsets", db.name);
    let config = db.connector(&[
        ("kafka.bootstrap.servers", BROKER),
        ("offset.storage.topic", &offsets_topic),
    ]);
    let topic = db.topic("t");
    let mut first = Spillway::start(&config, &dir.path().join("one/data"));
    wait_for_log(&first, "streaming changes", WAIT);
    db.sql("INSERT INTO t SELECT generate_series(6, 10)");
    consume(&topic, 10);
    assert!(first.stop().success(), "{}", first.logs());

    // The committed offset is a compacted record keyed as Kafka Connect keys source offsets.
    let stored = support::kafka::read_kafka_topic(BROKER, &offsets_topic);
    let last = stored.last().expect("an offset record");
    assert_eq!(
        last.key.as_ref().unwrap(),
        &json!([db.name, {"server": db.name}])
    );
    assert_eq!(
        last.value.as_ref().unwrap()["position"]["phase"],
        json!("stream")
    );

    // Changes made while no worker runs, then a worker with an empty data directory.
    db.sql("INSERT INTO t SELECT generate_series(11, 15)");
    let mut second = Spillway::start(&config, &dir.path().join("two/data"));
    wait_for_log(&second, "resuming from committed offset", WAIT);
    wait_for_log(&second, "streaming changes", WAIT);
    db.sql("INSERT INTO t VALUES (16)");
    let records = consume(&topic, 16);
    assert!(second.stop().success(), "{}", second.logs());
    let ops: Vec<&str> = records.iter().filter_map(|r| r.op()).collect();
    assert_eq!(
        ops.iter().filter(|op| **op == "r").count(),
        5,
        "no second snapshot"
    );
    assert_eq!(ops.iter().filter(|op| **op == "c").count(), 11);
    assert!(
        !second.logs().contains("snapshot started"),
        "{}",
        second.logs()
    );
}

#[test]
fn the_mariadb_schema_history_kept_in_kafka_follows_the_connector_to_another_worker() {
    let db = MyDb::create("kafkahist");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))");
    let dir = support::scratch("kafkahist");
    let history_topic = format!("{}.history", db.name);
    let config = db.connector(&[
        ("kafka.bootstrap.servers", BROKER),
        ("offset.storage.topic", &format!("{}.offsets", db.name)),
        ("schema.history.internal.kafka.topic", &history_topic),
        ("schema.history.internal.kafka.bootstrap.servers", BROKER),
    ]);
    let topic = db.topic("t");
    let mut first = Spillway::start(&config, &dir.path().join("one/data"));
    wait_for_log(&first, "streaming changes", WAIT);
    db.sql("INSERT INTO t VALUES (1, 'a')");
    db.sql("ALTER TABLE t ADD COLUMN w INT DEFAULT 5");
    db.sql("INSERT INTO t VALUES (2, 'b', 6)");
    consume(&topic, 2);
    assert!(first.stop().success(), "{}", first.logs());
    let history = support::kafka::read_kafka_topic_raw(BROKER, &history_topic);
    assert!(
        history.len() >= 2,
        "the snapshot's definitions and the ALTER are in {history_topic}: {history:?}"
    );

    // While no worker runs: a row in the current shape, another ALTER, a row in the new one.
    db.sql("INSERT INTO t VALUES (3, 'c', 7)");
    db.sql("ALTER TABLE t DROP COLUMN v");
    db.sql("INSERT INTO t VALUES (4, 8)");
    let mut second = Spillway::start(&config, &dir.path().join("two/data"));
    wait_for_log(&second, "resuming from committed offset", WAIT);
    wait_for_log(&second, "schema history loaded", WAIT);
    let rows = consume(&topic, 4);
    assert!(second.stop().success(), "{}", second.logs());
    let after = |i: usize| rows[i].value.as_ref().unwrap()["payload"]["after"].clone();
    assert_eq!(after(2), json!({"id": 3, "v": "c", "w": 7}));
    assert_eq!(after(3), json!({"id": 4, "w": 8}));
    // The second worker recorded the DROP COLUMN after what the first one wrote (among
    // DDL of other databases, which the history records too, from tests running alongside).
    let first_entries = history.len();
    let history = support::kafka::read_kafka_topic_raw(BROKER, &history_topic);
    let added: Vec<String> = history[first_entries..]
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert!(
        added
            .iter()
            .any(|e| e.contains("DROP COLUMN v") && e.contains(&db.name)),
        "{added:?}"
    );
}

#[test]
fn batches_compressed_with_each_codec_reach_the_broker_and_read_back() {
    for codec in ["zstd", "gzip", "snappy", "none"] {
        let db = TestDb::create(&format!("kafkacodec{codec}"));
        db.sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
        db.sql("INSERT INTO t SELECT i, repeat('x', 200) FROM generate_series(1, 20) i");
        let dir = support::scratch(&format!("kafkacodec{codec}"));
        let config = db.connector(&[
            ("kafka.bootstrap.servers", BROKER),
            ("kafka.compression.type", codec),
            ("value.converter.schemas.enable", "false"),
            ("key.converter.schemas.enable", "false"),
        ]);
        let mut sw = Spillway::start(&config, &dir.path().join("data"));
        wait_for_log(&sw, "streaming changes", WAIT);
        db.sql("UPDATE t SET v = 'y' WHERE id <= 5");
        let records = consume(&db.topic("t"), 25);
        assert!(sw.stop().success(), "{codec}: {}", sw.logs());
        let updated = records
            .iter()
            .filter(|r| r.value.as_ref().is_some_and(|v| v["after"]["v"] == "y"))
            .count();
        assert_eq!(updated, 5, "{codec}");
    }
}

#[test]
fn topic_creation_groups_give_kafka_topics_their_partitions_and_configs() {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let db = TestDb::create("kafkagroups");
    db.sql("CREATE TABLE kv (id int PRIMARY KEY, v text); CREATE TABLE other (id int PRIMARY KEY)");
    db.sql("INSERT INTO kv VALUES (1, 'a'); INSERT INTO other VALUES (1)");
    let dir = support::scratch("kafkagroups");
    let include = format!("{}\\.public\\.kv", db.name);
    let config = db.connector(&[
        ("kafka.bootstrap.servers", BROKER),
        ("topic.creation.default.partitions", "3"),
        ("topic.creation.default.replication.factor", "1"),
        ("topic.creation.default.retention.ms", "3600000"),
        ("topic.creation.groups", "kv"),
        ("topic.creation.kv.include", &include),
        ("topic.creation.kv.partitions", "2"),
        ("topic.creation.kv.cleanup.policy", "compact"),
    ]);
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    consume(&db.topic("kv"), 1);
    consume(&db.topic("other"), 1);
    assert!(sw.stop().success(), "{}", sw.logs());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", BROKER)
        .create()
        .unwrap();
    let partitions = |topic: &str| -> usize {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap();
        metadata.topics()[0].partitions().len()
    };
    assert_eq!(partitions(&db.topic("kv")), 2, "the group's partitions");
    assert_eq!(partitions(&db.topic("other")), 3, "the default group's");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", BROKER)
        .create()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let kv = db.topic("kv");
    let other = db.topic("other");
    let described = runtime.block_on(admin.describe_configs(
        &[
            ResourceSpecifier::Topic(&kv),
            ResourceSpecifier::Topic(&other),
        ],
        &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
    ));
    let described = described.expect("describe configs");
    let value = |i: usize, key: &str| -> Option<String> {
        let resource = described[i].as_ref().ok()?;
        resource.get(key).and_then(|e| e.value.clone())
    };
    assert_eq!(value(0, "cleanup.policy").as_deref(), Some("compact"));
    assert_eq!(value(0, "retention.ms").as_deref(), Some("3600000"));
    assert_eq!(value(1, "retention.ms").as_deref(), Some("3600000"));
}
