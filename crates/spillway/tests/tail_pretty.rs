//! `spillway tail --pretty` against real captures of the compat workloads' `all_types`
//! tables (compat/debezium/reference): every logical type decodes to the value the workload
//! inserted (decimals as exact JSON numbers, dates, times and timestamps as ISO 8601,
//! intervals as ISO 8601 durations, bit strings as bits, bytes as hex or base64), every
//! other value is printed as the connector wrote it, Avro records decode as their JSON
//! twins do, and `--pretty=table` prints one line per change.

mod support;

use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::compat::split_case;
use support::mariadb::MyDb;
use support::{read_topic, read_topic_raw, wait_for_log, Spillway, TestDb};

const WAIT: Duration = Duration::from_secs(60);

/// `spillway tail TOPIC --data-dir DATA ARGS…`'s standard output.
fn tail(data: &Path, topic: &str, args: &[&str]) -> String {
    let out = Command::new(support::binary())
        .args(["tail", topic, "--data-dir"])
        .arg(data)
        .args(args)
        .output()
        .expect("run spillway tail");
    assert!(
        out.status.success(),
        "spillway tail {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tail prints UTF-8")
}

/// Waits until the topic holds `n` records.
fn wait_for_count(sw: &Spillway, topic: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    while read_topic_raw(&sw.data_dir, topic).len() < n {
        assert!(
            Instant::now() < deadline,
            "{topic} holds {} of {n} records; log:\n{}",
            read_topic_raw(&sw.data_dir, topic).len(),
            sw.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A printed record: its line as printed, and parsed.
struct Line {
    text: String,
    json: Value,
}

fn lines(text: &str) -> Vec<Line> {
    text.lines()
        .map(|l| Line {
            text: l.to_string(),
            json: serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")),
        })
        .collect()
}

/// The printed record of the change `op` to the row with key `id`.
fn find<'a>(lines: &'a [Line], op: &str, id: i64) -> &'a Line {
    lines
        .iter()
        .find(|l| l.json["value"]["op"] == op && l.json["key"]["id"] == id)
        .unwrap_or_else(|| panic!("no {op} record of id {id}"))
}

/// Checks a decoded row against the row as the connector wrote it: columns in `decoded` have
/// those values, columns in `exact` are these exact JSON numbers in the printed line, and
/// every other column is printed as it was written.
fn check_row(line: &Line, side: &str, raw: &Value, decoded: &Value, exact: &[(&str, &str)]) {
    let pretty = line.json["value"][side]
        .as_object()
        .unwrap_or_else(|| panic!("no {side} in {}", line.text));
    let raw = raw.as_object().expect("raw row");
    assert_eq!(
        pretty.keys().collect::<Vec<_>>(),
        raw.keys().collect::<Vec<_>>(),
        "the columns, in order"
    );
    for (column, value) in pretty {
        if let Some((_, text)) = exact.iter().find(|(c, _)| c == column) {
            let needle = format!("\"{column}\":{text}");
            assert!(
                line.text.contains(&format!("{needle},"))
                    || line.text.contains(&format!("{needle}}}")),
                "{column} is not printed as {text}: {}",
                line.text
            );
        } else if let Some(expected) = decoded.get(column) {
            assert_eq!(value, expected, "{column} decoded");
        } else {
            assert_eq!(value, &raw[column], "{column} printed as it was written");
        }
    }
}

/// The row as the connector wrote it (the payload of its schema envelope).
fn raw_row(data: &Path, topic: &str, op: &str, id: i64, side: &str) -> Value {
    let records = read_topic(data, topic);
    let record = records
        .iter()
        .find(|r| r.op() == Some(op) && r.key_payload().is_some_and(|k| k["id"] == id))
        .unwrap_or_else(|| panic!("no {op} record of id {id}"));
    record.payload().unwrap()[side].clone()
}

fn without(value: &Value, columns: &[&str]) -> Value {
    let mut map: Map<String, Value> = value.as_object().cloned().unwrap_or_default();
    for c in columns {
        map.remove(*c);
    }
    Value::Object(map)
}

#[test]
fn postgres_types_of_the_compat_workload_decode_to_what_was_inserted() {
    let db = TestDb::create("tailpretty");
    let (pre, stream) = split_case("", "all_types");
    db.sql(&pre);
    let dir = support::scratch("tailpretty");
    let include = ("table.include.list", "public.all_types");
    let json_sw = Spillway::start(&db.connector(&[include]), &dir.path().join("json/data"));
    // The same table in Avro, through the embedded registry: its own slot and publication.
    let avro_slot = format!("{}_avro", db.name);
    let avro_publication = format!("{}_avro_pub", db.name);
    let listen = format!("127.0.0.1:{}", support::free_port());
    let avro_config = db.connector(&[
        include,
        ("slot.name", &avro_slot),
        ("publication.name", &avro_publication),
        ("output.data.format", "AVRO"),
        ("schema.registry.embedded.listen", &listen),
    ]);
    let mut avro_sw = Spillway::start(&avro_config, &dir.path().join("avro/data"));
    wait_for_log(&json_sw, "streaming changes", WAIT);
    wait_for_log(&avro_sw, "streaming changes", WAIT);
    db.sql(&stream);
    // Rows 1 and 2 (snapshot), rows 3 and 4, the update of 3, the delete of 2 and its
    // tombstone.
    let topic = db.topic("all_types");
    wait_for_count(&json_sw, &topic, 7);
    wait_for_count(&avro_sw, &topic, 7);
    assert!(avro_sw.stop().success(), "{}", avro_sw.logs());
    let data = &json_sw.data_dir;

    let printed = lines(&tail(data, &topic, &["--pretty"]));
    assert_eq!(printed.len(), 7);
    let row1 = find(&printed, "r", 1);
    assert_eq!(row1.json["key"], json!({"id": 1}));
    assert_eq!(row1.json["topic"], json!(topic));
    check_row(
        row1,
        "after",
        &raw_row(data, &topic, "r", 1, "after"),
        &json!({
            "c_bytea": "0001ff",
            "c_date": "2024-02-29",
            "c_time": "23:59:59.999999",
            "c_time3": "12:34:56.789",
            "c_timetz": "07:04:56.789Z",
            "c_timestamp": "2024-03-10T12:34:56.789012",
            "c_timestamp3": "2024-03-10T12:34:56.789",
            "c_timestamptz": "2024-03-10T10:34:56.789012Z",
            // '1 year 2 mons 3 days 04:05:06.789', months of 30.4375 days as Debezium counts.
            "c_interval": "P429DT7H5M6.789S",
            "c_bit": "101",
            "c_varbit": "1101011",
            "c_point": {"x": 1.5, "y": -2.25,
                "wkb": "0101000000000000000000f83f00000000000002c0", "srid": null},
        }),
        &[
            ("c_numeric_10_2", "12345678.91"),
            ("c_numeric", "3.14159265358979323846264338327950288"),
            ("c_money", "1234.56"),
        ],
    );
    let row3_decoded = json!({
        "c_bytea": "",
        "c_date": "1969-07-20",
        "c_time": "00:00:00",
        "c_time3": "00:00:00.001",
        "c_timetz": "08:00:00Z",
        "c_timestamp": "1969-07-20T20:17:40.5",
        "c_timestamp3": "1900-01-01T00:00:00.001",
        "c_timestamptz": "1969-07-21T00:17:40.123456Z",
        "c_interval": "-P1DT1S",
        "c_bit": "000",
        "c_varbit": "1000000001",
        "c_point": {"x": 0.0, "y": 0.0,
            "wkb": "010100000000000000000000000000000000000000", "srid": null},
    });
    let row3_exact = [
        ("c_numeric_10_2", "-0.01"),
        ("c_numeric", "100"),
        ("c_money", "-0.01"),
    ];
    check_row(
        find(&printed, "c", 3),
        "after",
        &raw_row(data, &topic, "c", 3, "after"),
        &row3_decoded,
        &row3_exact,
    );
    // Both images of the update decode; the delete's before image is the NULL row.
    let update = find(&printed, "u", 3);
    check_row(
        update,
        "after",
        &raw_row(data, &topic, "u", 3, "after"),
        &row3_decoded,
        &row3_exact,
    );
    let delete = find(&printed, "d", 2);
    assert_eq!(delete.json["value"]["after"], Value::Null);
    assert_eq!(delete.json["value"]["before"]["c_date"], Value::Null);
    // The rest of the envelope as it was written: source block, op, processing times.
    let raw_update = read_topic(data, &topic)
        .into_iter()
        .find(|r| r.op() == Some("u"))
        .unwrap();
    for field in ["source", "op", "ts_ms", "ts_us", "transaction"] {
        assert_eq!(
            update.json["value"][field],
            raw_update.payload().unwrap()[field],
            "{field}"
        );
    }
    assert_eq!(printed[6].json["value"], Value::Null, "the tombstone");
    assert_eq!(printed[6].json["key"], json!({"id": 2}));
    // Special values (infinity, NaN) print without failing.
    let special = find(&printed, "c", 4);
    assert_eq!(special.json["value"]["after"]["c_text"], json!("special"));
    assert_eq!(
        special.json["value"]["after"]["c_timestamptz"],
        json!("infinity")
    );

    // --bytes base64: bytes as the converter writes them; bit strings stay bit strings.
    let base64 = lines(&tail(data, &topic, &["--pretty", "--bytes", "base64"]));
    let after = &find(&base64, "r", 1).json["value"]["after"];
    assert_eq!(after["c_bytea"], json!("AAH/"));
    assert_eq!(after["c_bit"], json!("101"));
    assert_eq!(
        after["c_point"]["wkb"],
        json!("AQEAAAAAAAAAAAD4PwAAAAAAAALA")
    );

    // --pretty=table: offset, time, op, key and row (before for the delete).
    let table = tail(data, &topic, &["--pretty=table"]);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.splitn(5, "  ").collect()).collect();
    assert_eq!(rows.len(), 7, "{table}");
    let ops: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(ops, ["r", "r", "c", "c", "u", "d", "-"], "{table}");
    let offsets: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(offsets, ["0", "1", "2", "3", "4", "5", "6"]);
    assert!(
        rows.iter().all(|r| r[1].len() == 24 && r[1].ends_with('Z')),
        "{table}"
    );
    assert_eq!(rows[0][3], r#"{"id":1}"#);
    let row: Value = serde_json::from_str(rows[0][4]).unwrap();
    assert_eq!(row, printed[0].json["value"]["after"]);
    assert!(rows[0][4].contains(r#""c_numeric":3.14159265358979323846264338327950288,"#));
    let deleted: Value = serde_json::from_str(rows[5][4]).unwrap();
    assert_eq!(deleted, delete.json["value"]["before"]);
    assert_eq!((rows[6][3], rows[6][4]), (r#"{"id":2}"#, "tombstone"));
    // Without --pretty, the records are as the connector wrote them.
    let plain = lines(&tail(data, &topic, &[]));
    assert!(plain[0].json["value"]["schema"].is_object());

    // Avro: decoded through the writer schemas of the embedded registry, the same rows.
    let avro_printed = lines(&tail(&avro_sw.data_dir, &topic, &["--pretty"]));
    assert_eq!(avro_printed.len(), 7);
    assert!(avro_printed[0]
        .text
        .contains(r#""c_numeric":3.14159265358979323846264338327950288,"#));
    for (avro, json) in avro_printed.iter().zip(&printed) {
        assert_eq!(avro.json["key"], json.json["key"]);
        assert_eq!(avro.json["value"]["op"], json.json["value"]["op"]);
        // Avro's float is printed through f32, and has no NaN or infinities in JSON.
        let floats = ["c_real", "c_double"];
        for side in ["before", "after"] {
            assert_eq!(
                without(&avro.json["value"][side], &floats),
                without(&json.json["value"][side], &floats),
                "{side} of {}",
                json.text
            );
        }
    }
    let avro_row1 = &find(&avro_printed, "r", 1).json["value"]["after"];
    assert_eq!(avro_row1["c_real"], json!(1.5));
    assert_eq!(
        avro_row1["c_double"],
        find(&printed, "r", 1).json["value"]["after"]["c_double"]
    );
}

#[test]
fn mariadb_types_of_the_compat_workload_decode_to_what_was_inserted() {
    let db = MyDb::create("tailpretty");
    let (pre, stream) = split_case("mysql/", "all_types");
    db.sql(&pre);
    let dir = support::scratch("mytailpretty");
    let sw = Spillway::start(&db.connector(&[]), &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql(&stream);
    // Rows 1-4 (snapshot), 11-14 (binlog), the update of 11, the delete of 12 and its
    // tombstone.
    let topic = db.topic("all_types");
    wait_for_count(&sw, &topic, 11);
    let data = &sw.data_dir;
    let printed = lines(&tail(data, &topic, &["--pretty"]));
    assert_eq!(printed.len(), 11);

    let row1_decoded = json!({
        "c_bit10": "1010000011",
        "c_binary": "0001ff00",
        "c_varbinary": "00ff10",
        "c_blob": "deadbeef00",
        "c_date": "2024-02-29",
        "c_time": "13:45:56",
        "c_time3": "13:45:56.123",
        "c_time6": "13:45:56.123456",
        "c_datetime": "2024-02-29T13:45:56",
        "c_datetime3": "2024-02-29T13:45:56.123",
        "c_datetime6": "2024-02-29T13:45:56.123456",
    });
    let row1_exact = [
        ("c_decimal_10_2", "12345678.91"),
        ("c_decimal_30_10", "12345678901234567890.0123456789"),
    ];
    let row2_decoded = json!({
        "c_bit10": "0000000001",
        "c_binary": "00000000",
        "c_varbinary": "",
        "c_blob": "",
        "c_date": "1000-01-01",
        "c_time": "-838:59:59",
        "c_time3": "-00:00:01.5",
        "c_time6": "838:59:59",
        "c_datetime": "1000-01-01T00:00:00",
        "c_datetime3": "9999-12-31T23:59:59.999",
        "c_datetime6": "1970-01-01T00:00:00.000001",
    });
    let row2_exact = [
        ("c_decimal_10_2", "-99999999.99"),
        ("c_decimal_30_10", "-0.0000000001"),
    ];
    // Read by the snapshot, and the same values from the binlog.
    for (op, offset) in [("r", 0), ("c", 10)] {
        check_row(
            find(&printed, op, 1 + offset),
            "after",
            &raw_row(data, &topic, op, 1 + offset, "after"),
            &row1_decoded,
            &row1_exact,
        );
        check_row(
            find(&printed, op, 2 + offset),
            "after",
            &raw_row(data, &topic, op, 2 + offset, "after"),
            &row2_decoded,
            &row2_exact,
        );
        let row4 = &find(&printed, op, 4 + offset).json["value"]["after"];
        assert_eq!(row4["c_time3"], json!("-12:34:56.789"));
        assert_eq!(row4["c_time6"], json!("-100:00:00.000001"));
        assert_eq!(row4["c_date"], Value::Null, "a zero date");
    }
    let update = find(&printed, "u", 11);
    assert_eq!(
        update.json["value"]["before"]["c_bit10"],
        json!("1010000011")
    );
    assert_eq!(
        update.json["value"]["after"]["c_bit10"],
        json!("1111111111")
    );
    assert_eq!(
        update.json["value"]["after"]["c_datetime6"],
        json!("2000-01-01T00:00:00.5")
    );
    assert!(
        update.text.contains(r#""c_decimal_10_2":0.05,"#),
        "{}",
        update.text
    );
    check_row(
        find(&printed, "d", 12),
        "before",
        &raw_row(data, &topic, "d", 12, "before"),
        &row2_decoded,
        &row2_exact,
    );

    let table = tail(data, &topic, &["--pretty=table"]);
    let ops: Vec<&str> = table
        .lines()
        .map(|l| l.split("  ").nth(2).unwrap_or_default())
        .collect();
    assert_eq!(
        ops,
        ["r", "r", "r", "r", "c", "c", "c", "c", "u", "d", "-"],
        "{table}"
    );
    assert!(table.lines().last().unwrap().ends_with("  tombstone"));
}
