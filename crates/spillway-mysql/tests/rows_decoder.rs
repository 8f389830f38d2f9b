//! The row decoder (`spillway_mysql::decode`) against the local MariaDB (`scripts/setup.sh`:
//! binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL). Each test writes to
//! a database of its own, reads the binlog range it wrote back through mysql_async, and
//! decodes every rows event both with `rows` and with the old path (mysql_common's
//! `RowsEventData::rows` and `MyType::decode`), which must agree value for value under every
//! value option. TIME(1) and TIME(2), which the old path reads wrongly when negative with a
//! fraction, are checked against the values written instead.

use futures_util::StreamExt;
use mysql_async::binlog::events::{Event, EventData, TableMapEvent};
use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use spillway_core::{Row, Value};
use spillway_mysql::config::{
    BigintUnsignedMode, BinaryMode, DecimalMode, TimePrecisionMode, TypeOptions, ValueOptions,
};
use spillway_mysql::decode::column_type::{ColumnDecoder, MyType};
use spillway_mysql::decode::event::{strip_valid_crc32, EventHeader, Rotate};
use spillway_mysql::decode::rows::{is_rows_event, Change, RowContext, RowsEvent};
use spillway_mysql::decode::table_map::{TableMap, TABLE_MAP_EVENT};
use std::collections::HashMap;
use std::time::Duration;

/// ROTATE_EVENT.
const ROTATE_EVENT: u8 = 4;
/// How long one binlog event may take to arrive.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

fn opts() -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(3306)
        .user(Some("root"))
        .prefer_socket(false)
        .into()
}

async fn connect() -> mysql_async::Conn {
    let mut conn = mysql_async::Conn::new(opts())
        .await
        .expect("the local MariaDB must accept root on 127.0.0.1:3306 (scripts/setup.sh)");
    conn.query_drop("SET time_zone = '+00:00', NAMES utf8mb4")
        .await
        .expect("setting up the session");
    conn
}

/// A database owned by one test, dropped at the end (also when the test fails).
struct TestDb {
    name: String,
}

impl TestDb {
    async fn create(conn: &mut mysql_async::Conn, tag: &str) -> TestDb {
        let name = format!("spillway_rows_decoder_{tag}_{}", std::process::id());
        conn.query_drop(format!(
            "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"
        ))
        .await
        .expect("creating the test database");
        TestDb { name }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::process::Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-P", "3306", "-uroot", "-e"])
            .arg(format!("DROP DATABASE IF EXISTS {}", self.name))
            .output();
    }
}

async fn master_status(conn: &mut mysql_async::Conn) -> (String, u64) {
    let row: mysql_async::Row = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .expect("SHOW MASTER STATUS")
        .expect("the binlog must be on (scripts/setup.sh)");
    (row.get(0).expect("File"), row.get(1).expect("Position"))
}

/// The binlog events of `database` between two positions: the TABLE_MAP events, and the
/// rows events with mysql_common's table map for them.
struct Captured {
    events: Vec<(Event, Option<TableMapEvent<'static>>)>,
}

async fn capture(database: &str, from: &(String, u64), to: &(String, u64)) -> Captured {
    let mut conn = connect().await;
    conn.query_drop("SET @mariadb_slave_capability = 4")
        .await
        .expect("announcing MariaDB replica capabilities");
    let server_id = 900_000 + std::process::id() % 100_000;
    let request = mysql_async::BinlogStreamRequest::new(server_id)
        .with_filename(from.0.as_bytes())
        .with_pos(from.1);
    let mut stream = conn
        .get_binlog_stream(request)
        .await
        .expect("opening the binlog stream");
    let mut file = from.0.clone();
    let mut table_ids = std::collections::HashSet::new();
    let mut events = Vec::new();
    loop {
        let event = tokio::time::timeout(EVENT_TIMEOUT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no binlog event within {EVENT_TIMEOUT:?} before {to:?}"))
            .expect("the binlog stream ended early")
            .expect("reading a binlog event");
        let header = event.header();
        let event_type = header.event_type_raw();
        if event_type == ROTATE_EVENT {
            // The first, artificial, rotate may still carry its checksum.
            let raw = EventHeader::from(header);
            let rotate = Rotate::decode(strip_valid_crc32(&raw, event.data())).expect("ROTATE");
            file = rotate.next_file;
        }
        if event_type == TABLE_MAP_EVENT {
            let map = TableMap::decode(event.data()).expect("our TABLE_MAP decoder");
            if map.database == database {
                table_ids.insert(map.table_id);
                events.push((event.clone(), None));
            }
        } else if is_rows_event(event_type).is_some() {
            let rows = RowsEvent::decode(event_type, event.data()).expect("our rows decoder");
            if table_ids.contains(&rows.table_id) {
                let tme = stream.get_tme(rows.table_id).cloned();
                events.push((event.clone(), tme));
            }
        }
        if file == to.0 && u64::from(header.log_pos()) >= to.1 {
            break;
        }
    }
    Captured { events }
}

/// Every combination of the value options.
fn all_options() -> Vec<TypeOptions> {
    let mut all = Vec::new();
    for decimal in [
        DecimalMode::Precise,
        DecimalMode::Double,
        DecimalMode::String,
    ] {
        for bigint_unsigned in [BigintUnsignedMode::Long, BigintUnsignedMode::Precise] {
            for time_precision in [
                TimePrecisionMode::AdaptiveTimeMicroseconds,
                TimePrecisionMode::Connect,
            ] {
                all.push(TypeOptions {
                    values: ValueOptions {
                        decimal,
                        time_precision,
                        binary: BinaryMode::Bytes,
                    },
                    bigint_unsigned,
                });
            }
        }
    }
    all
}

fn default_options() -> TypeOptions {
    TypeOptions {
        values: ValueOptions {
            decimal: DecimalMode::Precise,
            time_precision: TimePrecisionMode::AdaptiveTimeMicroseconds,
            binary: BinaryMode::Bytes,
        },
        bigint_unsigned: BigintUnsignedMode::Long,
    }
}

/// A table's columns as `information_schema` has them, and their decoders; TIME(1) and
/// TIME(2), which `MyType::from_information_schema` refuses, are made by hand.
async fn columns(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
) -> (Vec<String>, Vec<String>, Vec<ColumnDecoder>) {
    type Facts = (
        String,
        String,
        String,
        Option<u64>,
        Option<u64>,
        Option<u64>,
        Option<String>,
        Option<u64>,
    );
    let rows: Vec<Facts> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE,
                    DATETIME_PRECISION, CHARACTER_SET_NAME, CHARACTER_OCTET_LENGTH
               FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
              ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .expect("reading the table's columns");
    let mut names = Vec::new();
    let mut column_types = Vec::new();
    let mut decoders = Vec::new();
    for (name, data_type, column_type, precision, scale, fsp, charset, octets) in rows {
        let ty = match MyType::from_information_schema(
            &data_type,
            &column_type,
            precision,
            scale,
            fsp,
            charset.as_deref(),
            octets,
        ) {
            Ok(ty) => ty,
            Err(_) if data_type == "time" => MyType::Time {
                fsp: fsp.unwrap_or(0) as u32,
            },
            Err(e) => panic!("{table}.{name}: {e}"),
        };
        names.push(name);
        column_types.push(column_type);
        decoders.push(ColumnDecoder { ty, included: true });
    }
    (names, column_types, decoders)
}

/// What the old path (`replication::decode_row`) gives for a row mysql_common decoded.
fn old_row(values: &[BinlogValue<'static>], decoders: &[ColumnDecoder], o: &TypeOptions) -> Row {
    assert_eq!(values.len(), decoders.len(), "the old path's column count");
    Row(values
        .iter()
        .zip(decoders)
        .map(|(v, d)| match v {
            BinlogValue::Value(v) => {
                d.ty.decode(v, o, true)
                    .unwrap_or_else(|e| panic!("the old path refused {v:?} as {:?}: {e}", d.ty))
            }
            BinlogValue::Jsonb(j) => Value::String(
                serde_json::Value::try_from(j.clone())
                    .expect("JSON")
                    .to_string(),
            ),
            BinlogValue::JsonDiff(_) => panic!("no partial JSON on MariaDB"),
        })
        .collect())
}

/// Decodes every captured rows event of `table` with our decoder, and (`with_old`) with
/// the old path: the changes in order, each as (ours, the old path's) per option set.
#[allow(clippy::type_complexity)]
fn decode_both(
    captured: &Captured,
    table: &str,
    decoders: &[ColumnDecoder],
    options: &TypeOptions,
    with_old: bool,
) -> Vec<(Change, Option<(Option<Row>, Option<Row>)>)> {
    let mut maps: HashMap<u64, TableMap> = HashMap::new();
    let mut out = Vec::new();
    for (event, tme) in &captured.events {
        let event_type = event.header().event_type_raw();
        if event_type == TABLE_MAP_EVENT {
            let map = TableMap::decode(event.data()).expect("TABLE_MAP");
            maps.insert(map.table_id, map);
            continue;
        }
        let rows = RowsEvent::decode(event_type, event.data()).expect("rows event");
        let map = &maps[&rows.table_id];
        if map.table != table {
            continue;
        }
        let ctx = RowContext {
            map,
            decoders,
            options,
        };
        let ours: Vec<Change> = rows
            .changes(ctx)
            .expect("the rows event fits its table map")
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("our decoder: {e}"));
        assert_eq!(rows.count_rows(map).expect("counting rows"), ours.len());
        if !with_old {
            out.extend(ours.into_iter().map(|c| (c, None)));
            continue;
        }
        let tme = tme.as_ref().expect("mysql_common's table map");
        let Ok(Some(EventData::RowsEvent(data))) = event.read_data() else {
            panic!("mysql_common does not read a rows event");
        };
        let old: Vec<(Option<Row>, Option<Row>)> = data
            .rows(tme)
            .map(|r| {
                let (before, after) = r.expect("the old path reads the row");
                let decode = |row: Option<mysql_async::binlog::row::BinlogRow>| {
                    row.map(|row| {
                        let values: Vec<BinlogValue<'static>> = row.unwrap();
                        old_row(&values, decoders, options)
                    })
                };
                (decode(before), decode(after))
            })
            .collect();
        assert_eq!(old.len(), ours.len(), "rows in the event");
        out.extend(ours.into_iter().zip(old.into_iter().map(Some)));
    }
    out
}

/// Micros of a `[-]H:MM:SS[.f]` literal.
fn time_micros(text: &str) -> i64 {
    let (negative, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    let parts: Vec<i64> = hms.split(':').map(|p| p.parse().expect("digits")).collect();
    let micros = ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1_000_000
        + format!("{frac:0<6}").parse::<i64>().expect("digits");
    if negative {
        -micros
    } else {
        micros
    }
}

/// TIME(1) and TIME(2) values of the rows of `all_types`, by id: the old path reads
/// negative ones with a fraction wrongly, so these are compared with what was written.
const TIME_1_2: &[(i64, Option<&str>, Option<&str>)] = &[
    (1, Some("-838:59:59.0"), Some("-01:00:00.00")),
    (2, Some("838:59:59.9"), Some("838:59:59.99")),
    (3, Some("00:00:00.1"), Some("00:00:00.01")),
    (4, None, None),
    (5, Some("12:34:56.7"), Some("-12:34:56.00")),
];

const ALL_TYPES: &str = "CREATE TABLE all_types (
    id INT PRIMARY KEY,
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
    mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
    bi BIGINT, biu BIGINT UNSIGNED, b1 TINYINT(1), bo BOOLEAN,
    fl FLOAT, db DOUBLE,
    dc DECIMAL(10,2), dc30 DECIMAL(30,10), dc0 DECIMAL(5,0), dcu DECIMAL(8,3) UNSIGNED,
    dc65 DECIMAL(65,30), dc38 DECIMAL(38,0),
    bt1 BIT(1), bt10 BIT(10), bt64 BIT(64),
    d DATE, t0 TIME, t1 TIME(1), t2 TIME(2), t3 TIME(3), t6 TIME(6),
    dt0 DATETIME, dt3 DATETIME(3), dt6 DATETIME(6),
    ts0 TIMESTAMP NULL DEFAULT NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL,
    ts6 TIMESTAMP(6) NULL DEFAULT NULL,
    y YEAR,
    vlat VARCHAR(20) CHARACTER SET latin1, vutf VARCHAR(300) CHARACTER SET utf8mb4,
    clat CHAR(5) CHARACTER SET latin1, cutf CHAR(100) CHARACTER SET utf8mb4,
    tx TEXT, mtx MEDIUMTEXT, ltx LONGTEXT CHARACTER SET latin1,
    bn BINARY(4), vb VARBINARY(10), bl BLOB, tbl TINYBLOB,
    e ENUM('a','b','c'), e2 ENUM(LABELS_300), s SET('x','y','z'), s64 SET(LABELS_64),
    j JSON
) DEFAULT CHARSET utf8mb4";

fn labels(n: usize) -> String {
    (1..=n)
        .map(|i| format!("'l{i}'"))
        .collect::<Vec<_>>()
        .join(",")
}

fn all_types_statements() -> Vec<String> {
    let max65 = format!("{}.{}", "9".repeat(35), "9".repeat(30));
    let rows = [
        // Minimums.
        format!(
            "(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
              -128, 0, -3.40282e38, -1.7976931348623157e308,
              -99999999.99, '-99999999999999999999.9999999999', -99999, 0, '-{max65}',
              '-99999999999999999999999999999999999999',
              b'0', b'0', 0, '1000-01-01', '-838:59:59', '-838:59:59.0', '-01:00:00.00',
              '-838:59:59.999', '-838:59:59.999999',
              '1000-01-01 00:00:00', '1000-01-01 00:00:00.000', '1000-01-01 00:00:00.000000',
              '1970-01-01 00:00:01', '1970-01-01 00:00:01.001', '1970-01-01 00:00:01.000001',
              1901, '', '', '', '', '', '', '', x'', '', '', '', 'a', 'l1', '', 'l1', '[]')"
        ),
        // Maximums, and text beyond one byte per character.
        format!(
            "(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
              9223372036854775807, 18446744073709551615, 127, 1, 3.40282e38,
              1.7976931348623157e308, 99999999.99, '99999999999999999999.9999999999', 99999,
              99999.999, '{max65}', '99999999999999999999999999999999999999',
              b'1', b'1111111111', 18446744073709551615,
              '9999-12-31', '838:59:59', '838:59:59.9', '838:59:59.99', '838:59:59.999',
              '838:59:59.999999', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999',
              '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '2038-01-19 03:14:07.999',
              '2038-01-19 03:14:07.999999', 2155, 'Ça va €', REPEAT('é😀', 100), 'abcde',
              REPEAT('ü', 100), 'text', REPEAT('m', 70000), 'ÿ latin1', x'DEADBEEF', x'00FF',
              x'0102', x'03', 'c', 'l300', 'x,y,z', '{all64}',
              '{{\"k\": [1, 2.5, \"s\", null, true], \"n\": {{\"a\": -1}}}}')",
            all64 = (1..=64)
                .map(|i| format!("l{i}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        // Zeros: the zero date, time, timestamp and year; tiny fractions.
        "(3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.0, -0.05, '0.0000000001', 0, 0.001,
          '-0.000000000000000000000000000001', 0, b'0', b'0000000001', 1,
          '0000-00-00', '00:00:00', '00:00:00.1', '00:00:00.01', '-00:00:00.001',
          '-00:00:00.000001', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000',
          '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000',
          '0000-00-00 00:00:00.000000', 0, ' ', ' x ', 'a ', ' b', '', '', '', x'00', x'00',
          x'', x'', 'b', 'l2', 'x', 'l64', 'null')"
            .to_string(),
        // NULLs.
        format!("(4{})", ", NULL".repeat(52)),
        // Everyday values.
        "(5, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, 1, 1, 1.5, 2.25, 1234.56,
          '12345678901234567890.0123456789', -42, 12.5, '3.14159', 42, b'1', b'1000000001',
          1234567890123, '2020-01-02', '12:34:56', '12:34:56.7', '-12:34:56.00', '12:34:56.789',
          '-12:34:56.789123', '2020-01-02 03:04:05', '2020-01-02 03:04:05.678',
          '2020-01-02 03:04:05.678901', '2020-09-13 12:26:40', '2020-09-13 12:26:40.123',
          '2020-09-13 12:26:40.123456', 2021, 'hello', 'héllo wörld', 'ab', 'çé', 'body',
          'medium', 'long', x'01', x'0203', x'040506', x'07', 'b', 'l150', 'y,z', 'l1,l33,l64',
          '{\"a\": 1, \"b\": [true, false]}')"
            .to_string(),
    ];
    vec![
        ALL_TYPES
            .replace("LABELS_300", &labels(300))
            .replace("LABELS_64", &labels(64)),
        format!("INSERT INTO all_types VALUES {}", rows.join(",\n")),
        "UPDATE all_types SET ti = ti - 1, vutf = 'changed', dc30 = -dc30, e = 'a', s = 'z',
                 biu = 18446744073709551614, j = '{\"changed\": true}', ts6 = NULL
          WHERE id IN (2, 5)"
            .to_string(),
        "UPDATE all_types SET d = NULL, bt64 = 0 WHERE id = 3".to_string(),
        "DELETE FROM all_types WHERE id IN (1, 4)".to_string(),
    ]
}

/// Server and binlog positions around `statements`, run in `db`.
async fn write(
    conn: &mut mysql_async::Conn,
    db: &TestDb,
    statements: &[String],
) -> ((String, u64), (String, u64)) {
    conn.query_drop(format!("USE {}", db.name))
        .await
        .expect("USE");
    let from = master_status(conn).await;
    for statement in statements {
        conn.query_drop(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let to = master_status(conn).await;
    (from, to)
}

#[tokio::test]
async fn every_captured_type_decodes_like_the_old_path_from_mariadbs_binlog() {
    let mut conn = connect().await;
    let db = TestDb::create(&mut conn, "types").await;
    let (from, to) = write(&mut conn, &db, &all_types_statements()).await;
    let (names, column_types, decoders) = columns(&mut conn, &db.name, "all_types").await;
    let captured = capture(&db.name, &from, &to).await;

    // The table map: names, signedness, collations, labels and key as the server has them.
    let (event, _) = captured
        .events
        .iter()
        .find(|(e, _)| e.header().event_type_raw() == TABLE_MAP_EVENT)
        .expect("a TABLE_MAP event");
    let map = TableMap::decode(event.data()).expect("TABLE_MAP");
    assert_eq!(
        (map.database.as_str(), map.table.as_str()),
        (db.name.as_str(), "all_types")
    );
    let map_names: Vec<&str> = map
        .columns
        .iter()
        .map(|c| c.name.as_deref().unwrap_or("?"))
        .collect();
    assert_eq!(map_names, names);
    for (column, column_type) in map.columns.iter().zip(&column_types) {
        // The binlog counts YEAR as an unsigned number; COLUMN_TYPE does not say so.
        if let (Some(unsigned), false) = (column.unsigned, column_type.starts_with("year")) {
            assert_eq!(unsigned, column_type.contains("unsigned"), "{column_type}");
        }
        if column_type.starts_with("enum") || column_type.starts_with("set") {
            assert_eq!(
                column.labels.as_deref(),
                Some(&spillway_mysql::decode::column_type::parse_labels(column_type)[..]),
                "{column_type}"
            );
        }
    }
    let column = |name: &str| names.iter().position(|n| n == name).expect("a column");
    assert_eq!(map.columns[column("biu")].unsigned, Some(true));
    assert_eq!(map.columns[column("bi")].unsigned, Some(false));
    assert_eq!(
        map.columns[column("vlat")].collation,
        Some(8),
        "latin1_swedish_ci"
    );
    assert_eq!(map.columns[column("vb")].collation, Some(63), "binary");
    assert_eq!(map.primary_key.len(), 1);
    assert_eq!(map.primary_key[0].column, 0);

    // Every change, under every option set: ours equals the old path's, but for TIME(1)
    // and TIME(2) (checked against what was written); the zero YEAR is counted below.
    let (t1, t2, y) = (column("t1"), column("t2"), column("y"));
    let mut zero_years = 0;
    for options in all_options() {
        let changes = decode_both(&captured, "all_types", &decoders, &options, true);
        // 5 inserts, 2 + 1 updates, 2 deletes.
        assert_eq!(changes.len(), 10);
        for (ours, old) in &changes {
            let (old_before, old_after) = old.as_ref().expect("the old path ran");
            for (mine, theirs) in [(&ours.before, old_before), (&ours.after, old_after)] {
                assert_eq!(mine.is_some(), theirs.is_some());
                let (Some(mine), Some(theirs)) = (mine, theirs) else {
                    continue;
                };
                let Value::Int(id) = mine.0[0] else {
                    panic!("the id: {:?}", mine.0[0]);
                };
                for (i, (a, b)) in mine.0.iter().zip(&theirs.0).enumerate() {
                    if i == t1 || i == t2 {
                        let (_, l1, l2) = TIME_1_2.iter().find(|r| r.0 == id).expect("a row");
                        let expected = match (if i == t1 { l1 } else { l2 }).map(time_micros) {
                            None => Value::Null,
                            Some(m)
                                if options.values.time_precision == TimePrecisionMode::Connect =>
                            {
                                Value::Int(m / 1000)
                            }
                            Some(m) => Value::Int(m),
                        };
                        assert_eq!(a, &expected, "row {id}, {}", names[i]);
                    } else if i == y && id == 3 {
                        // The zero year (the server says 0000) is 1900, as Debezium's
                        // binlog reader gives it.
                        assert_eq!((a, b), (&Value::Int(1900), &Value::Int(1900)));
                        zero_years += 1;
                    } else {
                        assert_eq!(a, b, "row {id}, column {} under {options:?}", names[i]);
                    }
                }
            }
        }
    }
    // Row 3's insert, and its update's before and after images.
    assert_eq!(zero_years, 3 * all_options().len());
    let year: Option<String> = conn
        .query_first("SELECT CAST(y AS CHAR) FROM all_types WHERE id = 3")
        .await
        .expect("reading the year");
    assert_eq!(year.as_deref(), Some("0000"));

    // A few values spelled out, so both paths agreeing is not both being wrong.
    let changes = decode_both(&captured, "all_types", &decoders, &default_options(), false);
    let max = changes[1].0.after.as_ref().expect("row 2");
    assert_eq!(max.0[column("biu")], Value::Int(-1));
    assert_eq!(max.0[column("miu")], Value::Int(16_777_215));
    assert_eq!(max.0[column("t6")], Value::Int(3_020_399_999_999));
    assert_eq!(
        max.0[column("ts6")],
        Value::String("2038-01-19T03:14:07.999999Z".into())
    );
    assert_eq!(max.0[column("dt3")], Value::Int(253_402_300_799_999));
    assert_eq!(max.0[column("bt10")], Value::Bytes(vec![0xFF, 0x03]));
    assert_eq!(
        max.0[column("bn")],
        Value::Bytes(vec![0xDE, 0xAD, 0xBE, 0xEF])
    );
    assert_eq!(max.0[column("e2")], Value::String("l300".into()));
    assert_eq!(max.0[column("cutf")], Value::String("ü".repeat(100)));
    assert_eq!(max.0[column("vutf")], Value::String("é😀".repeat(100)));
    let zeros = changes[2].0.after.as_ref().expect("row 3");
    for name in ["d", "dt0", "dt3", "dt6", "ts0", "ts3", "ts6"] {
        assert_eq!(zeros.0[column(name)], Value::Null, "{name}");
    }
    assert_eq!(zeros.0[column("bn")], Value::Bytes(vec![0, 0, 0, 0]));
    assert!(changes[3].0.after.as_ref().expect("row 4").0[1..]
        .iter()
        .all(Value::is_null));
}

#[tokio::test]
async fn negative_times_with_a_fraction_decode_at_every_precision() {
    let mut conn = connect().await;
    let db = TestDb::create(&mut conn, "times").await;
    let values: &[[&str; 6]] = &[
        [
            "-00:00:00.1",
            "-00:00:00.01",
            "-00:00:00.001",
            "-00:00:00.0001",
            "-00:00:00.00001",
            "-00:00:00.000001",
        ],
        [
            "-838:59:59.9",
            "-838:59:59.99",
            "-838:59:59.999",
            "-838:59:59.9999",
            "-838:59:59.99999",
            "-838:59:59.999999",
        ],
        [
            "-01:00:00.5",
            "-01:00:00.50",
            "-01:00:00.500",
            "-01:00:00.5000",
            "-01:00:00.50000",
            "-01:00:00.500000",
        ],
        [
            "-00:00:01.1",
            "-00:00:01.01",
            "-12:34:56.789",
            "-12:34:56.7891",
            "-12:34:56.78912",
            "-12:34:56.789123",
        ],
        [
            "00:00:00.1",
            "838:59:59.99",
            "00:00:00.001",
            "23:59:59.9999",
            "24:00:00.00001",
            "00:00:00.000001",
        ],
    ];
    let rows: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({}, '{}')", i + 1, v.join("', '")))
        .collect();
    let statements = [
        "CREATE TABLE negative_times (id INT PRIMARY KEY, t1 TIME(1), t2 TIME(2),
           t3 TIME(3), t4 TIME(4), t5 TIME(5), t6 TIME(6))"
            .to_string(),
        format!("INSERT INTO negative_times VALUES {}", rows.join(", ")),
        "UPDATE negative_times SET t1 = '-00:00:00.9', t2 = '-00:00:00.99' WHERE id = 1"
            .to_string(),
        "DELETE FROM negative_times WHERE id = 2".to_string(),
    ];
    let (from, to) = write(&mut conn, &db, &statements).await;
    // The server stores what was written.
    let stored: Vec<(i64, String, String, String, String, String, String)> = conn
        .query(
            "SELECT id, CAST(t1 AS CHAR), CAST(t2 AS CHAR), CAST(t3 AS CHAR), CAST(t4 AS CHAR),
                    CAST(t5 AS CHAR), CAST(t6 AS CHAR)
               FROM negative_times ORDER BY id",
        )
        .await
        .expect("reading the times back");
    assert_eq!(stored[0].1, "-00:00:00.9");
    assert_eq!((stored[1].0, stored[1].6.as_str()), (3, "-01:00:00.500000"));
    let (_, _, decoders) = columns(&mut conn, &db.name, "negative_times").await;
    let captured = capture(&db.name, &from, &to).await;
    let row = |id: i64, v: &[&str; 6]| {
        let mut values = vec![Value::Int(id)];
        values.extend(v.iter().map(|t| Value::Int(time_micros(t))));
        Row(values)
    };
    let changes: Vec<Change> = decode_both(
        &captured,
        "negative_times",
        &decoders,
        &default_options(),
        false,
    )
    .into_iter()
    .map(|(c, _)| c)
    .collect();
    let mut updated = values[0];
    updated[0] = "-00:00:00.9";
    updated[1] = "-00:00:00.99";
    let mut expected: Vec<Change> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Change {
            before: None,
            after: Some(row(i as i64 + 1, v)),
        })
        .collect();
    expected.push(Change {
        before: Some(row(1, &values[0])),
        after: Some(row(1, &updated)),
    });
    expected.push(Change {
        before: Some(row(2, &values[1])),
        after: None,
    });
    assert_eq!(changes, expected);
}

/// `cargo test --release -p spillway-mysql --test rows_decoder -- --ignored --nocapture`
#[tokio::test]
#[ignore]
async fn decoding_real_rows_is_faster_than_the_old_path() {
    let mut conn = connect().await;
    let db = TestDb::create(&mut conn, "speed").await;
    let mut statements = vec![
        "CREATE TABLE five (id INT PRIMARY KEY, name VARCHAR(100), at DATETIME,
           amount DECIMAL(10,2), ratio DOUBLE)"
            .to_string(),
    ];
    for batch in 0..20 {
        let rows: Vec<String> = (0..500)
            .map(|i| {
                let id = batch * 500 + i;
                format!("({id}, 'name {id}', '2024-05-06 07:08:09', {id}.25, {id}.5)")
            })
            .collect();
        statements.push(format!("INSERT INTO five VALUES {}", rows.join(",")));
    }
    let (from, to) = write(&mut conn, &db, &statements).await;
    let (_, _, decoders) = columns(&mut conn, &db.name, "five").await;
    let captured = capture(&db.name, &from, &to).await;
    let options = default_options();
    let mut maps = HashMap::new();
    let mut events = Vec::new();
    for (event, tme) in &captured.events {
        let t = event.header().event_type_raw();
        if t == TABLE_MAP_EVENT {
            let map = TableMap::decode(event.data()).expect("TABLE_MAP");
            maps.insert(map.table_id, map);
        } else {
            events.push((event, tme.as_ref().expect("a table map")));
        }
    }
    let rounds = 20;
    let start = std::time::Instant::now();
    let mut count = 0usize;
    for _ in 0..rounds {
        for (event, _) in &events {
            let rows =
                RowsEvent::decode(event.header().event_type_raw(), event.data()).expect("rows");
            let ctx = RowContext {
                map: &maps[&rows.table_id],
                decoders: &decoders,
                options: &options,
            };
            for change in rows.changes(ctx).expect("changes") {
                std::hint::black_box(change.expect("a row"));
                count += 1;
            }
        }
    }
    let ours = start.elapsed().as_nanos() as f64 / count as f64;
    let start = std::time::Instant::now();
    let mut old_count = 0usize;
    for _ in 0..rounds {
        for (event, tme) in &events {
            let Ok(Some(EventData::RowsEvent(data))) = event.read_data() else {
                panic!("a rows event");
            };
            for row in data.rows(tme) {
                let (_, after) = row.expect("a row");
                let values: Vec<BinlogValue<'static>> = after.expect("an insert").unwrap();
                std::hint::black_box(old_row(&values, &decoders, &options));
                old_count += 1;
            }
        }
    }
    let old = start.elapsed().as_nanos() as f64 / old_count as f64;
    assert_eq!(count, old_count);
    println!("{count} rows of 5 columns: rows.rs {ours:.0} ns/row, old path {old:.0} ns/row");
}
