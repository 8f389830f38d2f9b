//! Projections against the real servers: changes captured from PostgreSQL and MariaDB,
//! folded into SQLite and PostgreSQL tables with typed columns, queried back with
//! `spillway query` and `POST /query`.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::mariadb::MyDb;
use support::projection::{http_post_json, projection, query_output, rows, try_rows, wait_until};
use support::{psql, scratch, wait_for_log, Spillway, TestDb};

const WAIT: Duration = Duration::from_secs(60);

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// Every column type of the fixture table, as SQLite declares it and as a query reads it.
const PG_TABLE: &str = "CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(10,2),
    big numeric(30,5), price float8, qty smallint, flag boolean, created timestamptz,
    at timestamp, d date, tm time, data jsonb, tags text[], raw bytea, uid uuid);
    CREATE TABLE t2 (id int PRIMARY KEY, v text)";
const PG_ROW: &str = "INSERT INTO t VALUES (1, 'a', 12.34, 123456789012345678901234.56789, 1.5, 7,
    true, '2024-05-06 07:08:09.123456+00', '2024-05-06 07:08:09.5', '2024-01-02',
    '10:11:12.5', '{\"k\": [1, 2]}', ARRAY['x', 'y z'], '\\x00ff',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')";

#[test]
fn postgres_changes_fold_into_sqlite_with_typed_columns_and_answer_queries() {
    let db = TestDb::create("projsqlite");
    db.sql(PG_TABLE);
    db.sql(PG_ROW);
    db.sql("INSERT INTO t (id, name) SELECT i, 'n' || i FROM generate_series(2, 5) i");
    let dir = scratch("projsqlite");
    let data = dir.path().join("data");
    let port = support::free_port();
    let source = db.connector(&[("skipped.operations", "none")]);
    let proj = projection(
        "proj",
        &format!("{}\\.public\\..*", db.name),
        &[("truncate.enabled", "true")],
    );
    let mut sw = Spillway::start_with(
        &json!([source, proj]),
        &data,
        &["--listen", &format!("127.0.0.1:{port}")],
    );
    wait_for_log(&sw, "streaming changes", WAIT);
    let table = format!("{}_public_t", db.name);
    let table2 = format!("{}_public_t2", db.name);
    db.sql("INSERT INTO t (id, name) VALUES (6, 'six')");
    db.sql("UPDATE t SET name = 'changed', amount = -0.05 WHERE id = 1");
    db.sql("DELETE FROM t WHERE id = 2");
    db.sql("UPDATE t SET id = 30 WHERE id = 3");
    db.sql("ALTER TABLE t ADD COLUMN note text");
    db.sql("UPDATE t SET note = 'hello' WHERE id = 4");
    db.sql("INSERT INTO t2 VALUES (1, 'a'), (2, 'b')");
    db.sql("TRUNCATE t2");
    db.sql("INSERT INTO t2 VALUES (3, 'c')");

    let ids = format!("SELECT id FROM {table} ORDER BY id");
    let note = format!("SELECT note FROM {table} WHERE id = 4");
    let t2 = format!("SELECT id, v FROM {table2} ORDER BY id");
    wait_until(
        WAIT,
        "the projection catching up",
        || {
            try_rows(&data, "proj", &note) == Some(vec![vec![s("hello")]])
                && try_rows(&data, "proj", &t2) == Some(vec![vec![json!(3), s("c")]])
                && try_rows(&data, "proj", &ids).is_some_and(|r| r.len() == 5)
        },
        || sw.logs(),
    );
    assert_eq!(
        rows(&data, "proj", &ids),
        [1, 4, 5, 6, 30].map(|i| vec![json!(i)]).to_vec(),
        "deleted row 2 gone, row 3 moved to 30"
    );

    // Declared types, the added column last.
    let types = rows(
        &data,
        "proj",
        &format!("SELECT name, type, pk FROM pragma_table_info('{table}') ORDER BY cid"),
    );
    let declared: Vec<(String, String)> = types
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("id", "INTEGER"),
        ("name", "TEXT"),
        ("amount", "DECIMAL(10,2)"),
        ("big", "TEXT"),
        ("price", "DOUBLE"),
        ("qty", "SMALLINT"),
        ("flag", "BOOLEAN"),
        ("created", "TIMESTAMPTZ"),
        ("at", "TIMESTAMP"),
        ("d", "DATE"),
        ("tm", "TIME"),
        ("data", "JSON"),
        ("tags", "JSON"),
        ("raw", "BLOB"),
        ("uid", "UUID"),
        ("note", "TEXT"),
    ];
    assert_eq!(
        declared,
        want.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(types[0][2], json!(1), "id is the primary key");

    // Values as written, through the CLI.
    let row = rows(
        &data,
        "proj",
        &format!("SELECT * FROM {table} WHERE id = 1"),
    );
    assert_eq!(
        row[0],
        vec![
            json!(1),
            s("changed"),
            json!(-0.05),
            s("123456789012345678901234.56789"),
            json!(1.5),
            json!(7),
            json!(true),
            s("2024-05-06T07:08:09.123456Z"),
            s("2024-05-06 07:08:09.5"),
            s("2024-01-02"),
            s("10:11:12.5"),
            s("{\"k\": [1, 2]}"),
            s("[\"x\",\"y z\"]"),
            s("AP8="),
            s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            Value::Null,
        ]
    );
    // SQLite's own functions read the stored forms.
    let computed = rows(
        &data,
        "proj",
        &format!(
            "SELECT date(d, '+1 day'), json_extract(data, '$.k[1]'), json_array_length(tags), length(raw) FROM {table} WHERE id = 1"
        ),
    );
    assert_eq!(
        computed[0],
        vec![s("2024-01-03"), json!(2), json!(2), json!(2)]
    );

    // The HTTP API answers the same, refuses writes and bad SQL with their reasons.
    let url = format!("http://127.0.0.1:{port}/query");
    let (status, body) = http_post_json(
        &url,
        &json!({"sql": format!("SELECT id, name FROM {table} ORDER BY id"), "limit": 2}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["columns"][1], json!({"name": "name", "type": "TEXT"}));
    assert_eq!(body["rows"], json!([[1, "changed"], [4, "n4"]]));
    assert_eq!(body["truncated"], json!(true));
    let (status, body) = http_post_json(&url, &json!({"sql": format!("DELETE FROM {table}")}));
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("read-only"),
        "{body}"
    );
    let (status, body) = http_post_json(&url, &json!({"sql": "SELEC 1"}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("syntax error"),
        "{body}"
    );
    let (status, body) = http_post_json(&url, &json!({"sql": "SELECT 1", "projection": "nope"}));
    assert_eq!(status, 404, "{body}");
    assert!(body["message"].as_str().unwrap().contains("proj"), "{body}");

    // The CLI refuses the same, exit 2 with the reason.
    for (sql, needle) in [
        (format!("UPDATE {table} SET name = 'x'"), "read-only"),
        ("SELECT * FROM no_such_table".to_string(), "no such table"),
        (format!("SELECT 1; DELETE FROM {table}"), "one statement"),
    ] {
        let out = query_output(&data, &["--projection", "proj"], &sql);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sql}: {err}");
        assert!(err.contains(needle), "{sql}: {err}");
    }
    let out = query_output(&data, &["--projection", "nope"], "SELECT 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("known: ") && err.contains("proj"), "{err}");

    // The SQLite file is readable by another SQLite client while the projection writes.
    let file = data.join("projections/proj.db");
    let out = query_output(
        &data,
        &["--url", &format!("sqlite:{}", file.display())],
        &format!("SELECT count(*) FROM {table}"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert!(sw.stop().success(), "{}", sw.logs());
    assert!(!sw.logs().contains("panicked"));
}

/// The target database for a PostgreSQL projection, dropped with the test.
fn pg_target(tag: &str) -> (TestDb, String) {
    let target = TestDb::create(tag);
    let url = format!("postgresql://postgres@127.0.0.1:5432/{}", target.name);
    (target, url)
}

#[test]
fn postgres_changes_fold_into_a_postgres_table_equal_to_the_source() {
    let db = TestDb::create("projpg");
    let (target, url) = pg_target("projpgt");
    db.sql(PG_TABLE);
    db.sql(PG_ROW);
    db.sql("INSERT INTO t (id, name, tags) SELECT i, 'n' || i, ARRAY[NULL, 'q\"uote'] FROM generate_series(2, 50) i");
    // A TOASTed column that updates of other columns leave out of the WAL.
    db.sql(
        "ALTER TABLE t ADD COLUMN long text; ALTER TABLE t ALTER COLUMN long SET STORAGE EXTERNAL",
    );
    db.sql("UPDATE t SET long = repeat('x', 5000) || id WHERE id <= 5");
    let dir = scratch("projpg");
    let data = dir.path().join("data");
    let source = db.connector(&[]);
    let proj = projection(
        "proj",
        &format!("{}\\.public\\.t", db.name),
        &[
            ("connection.url", &url),
            ("table.name.format", "copy_${topic}"),
        ],
    );
    let mut sw = Spillway::start(&json!([source, proj]), &data);
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql("UPDATE t SET name = 'changed', amount = 99999999.99, tags = '{}' WHERE id = 1");
    db.sql("BEGIN; UPDATE t SET long = repeat('y', 6000) WHERE id = 4; UPDATE t SET name = 'four' WHERE id = 4; COMMIT");
    db.sql("DELETE FROM t WHERE id BETWEEN 10 AND 19");
    db.sql("UPDATE t SET id = 1000 WHERE id = 3");
    db.sql("INSERT INTO t (id, name, created, d) VALUES (2000, 'late', '1999-12-31 23:59:59.999999+00', '0044-03-15')");
    let copy = format!("copy_{}_public_t", db.name);
    let columns =
        "id, name, amount, big, price, qty, flag, created, at, d, tm, data, tags, raw, uid";
    let source_rows = || db.sql(&format!("SELECT {columns} FROM t ORDER BY id"));
    let target_rows = || {
        support::psql(
            &target.name,
            &format!("SELECT {columns} FROM \"{copy}\" ORDER BY id"),
        )
    };
    wait_until(
        WAIT,
        "the PostgreSQL projection equal to the source",
        || {
            target.sql(&format!(
                "SELECT count(*) FROM pg_tables WHERE tablename = '{copy}'"
            )) == "1"
                && target_rows() == source_rows()
        },
        || {
            format!(
                "source:\n{}\ntarget:\n{}\nlog:\n{}",
                source_rows(),
                target.sql(&format!("SELECT * FROM \"{copy}\" ORDER BY id")),
                sw.logs()
            )
        },
    );
    let types = target.sql(&format!(
        "SELECT string_agg(column_name || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
         FROM information_schema.columns c JOIN pg_attribute a
           ON a.attrelid = '\"{copy}\"'::regclass AND a.attname = c.column_name
         WHERE c.table_name = '{copy}'"
    ));
    assert_eq!(
        types,
        "id integer, name text, amount numeric(10,2), big numeric(30,5), price double precision, \
         qty smallint, flag boolean, created timestamp with time zone, at timestamp(6) without time zone, \
         d date, tm time(6) without time zone, data jsonb, tags text[], raw bytea, uid uuid, long text"
    );
    // The unchanged TOAST values kept what the table had, not the placeholder.
    assert_eq!(
        target.sql(&format!(
            "SELECT count(*) FROM \"{copy}\" WHERE long LIKE '%unavailable%'"
        )),
        "0"
    );
    // Offsets sit beside the rows, per partition.
    let offsets =
        target.sql("SELECT connector, topic, partition, next_offset > 0 FROM spillway_offsets");
    assert_eq!(offsets, format!("proj|{}|0|t", db.topic("t")));
    assert!(sw.stop().success(), "{}", sw.logs());
}

#[test]
fn a_projection_fed_from_a_compacted_topic_equals_the_source_table() {
    let db = TestDb::create("projcompact");
    let (target, url) = pg_target("projcompactt");
    db.sql("CREATE TABLE kv (id int PRIMARY KEY, v text)");
    db.sql("INSERT INTO kv SELECT i, 'v' || i FROM generate_series(1, 100) i");
    let dir = scratch("projcompact");
    let data = dir.path().join("data");
    let source = db.connector(&[
        ("topic.creation.default.cleanup.policy", "compact"),
        ("topic.creation.default.segment.bytes", "16384"),
        ("topic.creation.default.delete.retention.ms", "0"),
    ]);
    // Capture first, alone, until compaction has thinned the topic out.
    let mut sw = Spillway::start(&json!([source.clone()]), &data);
    wait_for_log(&sw, "streaming changes", WAIT);
    for round in 0..5 {
        db.sql(&format!("UPDATE kv SET v = 'r{round}-' || id"));
    }
    db.sql("DELETE FROM kv WHERE id BETWEEN 40 AND 59");
    db.sql("UPDATE kv SET v = 'last' WHERE id = 7");
    // Rows enough after the changes to close the segments holding them.
    db.sql("CREATE TABLE filler (id int PRIMARY KEY, pad text)");
    db.sql("INSERT INTO filler SELECT i, repeat('f', 200) FROM generate_series(1, 10) i");
    db.sql("INSERT INTO kv SELECT i, 'late' || i FROM generate_series(1000, 1100) i");
    let topic = db.topic("kv");
    let reader = spillway_streams::LogReader::open(&data).unwrap();
    let count = |reader: &spillway_streams::LogReader| -> (u64, u64) {
        let Ok(info) = reader.partition_info(&topic, 0) else {
            return (0, 0);
        };
        let mut n = 0;
        let mut next = info.start_offset;
        while let Ok(batch) = reader.read(&topic, 0, next, 10_000) {
            let Some(last) = batch.last() else { break };
            next = last.offset + 1;
            n += batch.len() as u64;
        }
        (n, info.end_offset)
    };
    wait_until(
        WAIT,
        "compaction thinning the topic out",
        || {
            let (records, end) = count(&reader);
            end >= 100 + 500 + 40 + 1 + 101 && records < end / 2
        },
        || format!("{:?}\n{}", count(&reader), sw.logs()),
    );
    let (records, end) = count(&reader);
    assert!(sw.stop().success(), "{}", sw.logs());
    eprintln!("compacted topic: {records} records left of offsets 0..{end}");

    // A projection started on the compacted topic rebuilds the table.
    let proj = projection(
        "proj",
        &format!("{}\\.public\\.kv", db.name),
        &[
            ("connection.url", &url),
            ("table.name.format", "copy_${topic}"),
        ],
    );
    let mut sw = Spillway::start(&json!([source, proj]), &data);
    let copy = format!("copy_{}_public_kv", db.name);
    let source_rows = || db.sql("SELECT id, v FROM kv ORDER BY id");
    let target_rows = || {
        support::psql(
            &target.name,
            &format!("SELECT id, v FROM \"{copy}\" ORDER BY id"),
        )
    };
    wait_until(
        WAIT,
        "the projection of the compacted topic equal to the source",
        || {
            target.sql(&format!(
                "SELECT count(*) FROM pg_tables WHERE tablename = '{copy}'"
            )) == "1"
                && target_rows() == source_rows()
        },
        || {
            format!(
                "source:\n{}\ntarget:\n{}\nlog:\n{}",
                source_rows(),
                target_rows(),
                sw.logs()
            )
        },
    );
    assert_eq!(db.sql("SELECT count(*) FROM kv"), "181");
    assert!(sw.stop().success(), "{}", sw.logs());
}

#[test]
fn a_projection_behind_the_log_start_warns_and_goes_on_from_it() {
    let db = TestDb::create("projbehind");
    let (target, url) = pg_target("projbehindt");
    db.sql("CREATE TABLE kv (id int PRIMARY KEY, v text)");
    db.sql("INSERT INTO kv SELECT i, 'v' || i FROM generate_series(1, 10) i");
    let dir = scratch("projbehind");
    let data = dir.path().join("data");
    let source = db.connector(&[
        ("topic.creation.default.retention.bytes", "20000"),
        ("topic.creation.default.segment.bytes", "4096"),
    ]);
    let proj = projection(
        "proj",
        &format!("{}\\.public\\.kv", db.name),
        &[
            ("connection.url", &url),
            ("table.name.format", "copy_${topic}"),
        ],
    );
    let copy = format!("copy_{}_public_kv", db.name);
    let count = || {
        let exists = target.sql(&format!(
            "SELECT count(*) FROM pg_tables WHERE tablename = '{copy}'"
        ));
        if exists != "1" {
            return "no table".to_string();
        }
        support::psql(&target.name, &format!("SELECT count(*) FROM \"{copy}\""))
    };
    let mut sw = Spillway::start(&json!([source.clone(), proj.clone()]), &data);
    wait_until(
        WAIT,
        "the projection of the first rows",
        || count() == "10",
        || sw.logs(),
    );
    assert!(sw.stop().success(), "{}", sw.logs());
    let committed: u64 = target
        .sql("SELECT next_offset FROM spillway_offsets")
        .parse()
        .unwrap();

    // The projection is away while retention deletes what it has not read.
    let mut sw = Spillway::start(&json!([source.clone()]), &data);
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql("INSERT INTO kv SELECT i, repeat('p', 300) FROM generate_series(11, 200) i");
    let topic = db.topic("kv");
    let reader = spillway_streams::LogReader::open(&data).unwrap();
    wait_until(
        WAIT,
        "retention moving the log start past the projection",
        || reader.partition_info(&topic, 0).unwrap().start_offset > committed,
        || sw.logs(),
    );
    let start = reader.partition_info(&topic, 0).unwrap().start_offset;
    assert!(sw.stop().success(), "{}", sw.logs());

    let mut sw = Spillway::start(&json!([source, proj]), &data);
    wait_until(
        WAIT,
        "the projection going on from the log start",
        || {
            support::psql(
                &target.name,
                &format!("SELECT count(*) FROM \"{copy}\" WHERE id = 200"),
            ) == "1"
        },
        || sw.logs(),
    );
    let logs = sw.logs();
    assert!(logs.contains("below the log start"), "{logs}");
    // What retention deleted never reached the table (the log start may have moved on
    // since it was read); the rows from the log start did.
    let rows: u64 = count().parse().unwrap();
    assert!(
        rows > 10 && rows <= 10 + (200 - start),
        "{rows} rows, log start {start}"
    );
    eprintln!("projection behind the log start: {rows} rows of 200 after the log start moved from {committed} to {start} or past");
    assert!(sw.stop().success(), "{}", sw.logs());
}

#[test]
fn mariadb_changes_fold_into_sqlite_and_postgres_tables() {
    let my = MyDb::create("projmy");
    let (target, url) = pg_target("projmyt");
    my.sql(
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(12,3),
           qty BIGINT UNSIGNED, ok TINYINT(1), made DATETIME(3), day DATE, at TIMESTAMP(6) NULL,
           t TIME(1), doc JSON, raw VARBINARY(8), kind ENUM('a','b'), f DOUBLE);
         INSERT INTO items VALUES (1, 'one', 1234.5, 18446744073709551615, 1,
           '2024-02-29 12:34:56.789', '2024-03-01', '2024-03-01 01:02:03.000004', '01:02:03.5',
           '{\"a\": 1}', 0x00ff, 'b', 2.5)",
    );
    let dir = scratch("projmy");
    let data = dir.path().join("data");
    let topics = format!("{}\\.{}\\..*", my.name, my.name);
    let source = my.connector(&[("bigint.unsigned.handling.mode", "precise")]);
    let lite = projection("lite", &topics, &[]);
    let pg = projection("pg", &topics, &[("connection.url", &url)]);
    let mut sw = Spillway::start(&json!([source, lite, pg]), &data);
    wait_for_log(&sw, "streaming", WAIT);
    my.sql("INSERT INTO items (id, name) VALUES (2, 'two'), (3, 'three')");
    my.sql("UPDATE items SET name = 'uno', price = -0.001 WHERE id = 1");
    my.sql("DELETE FROM items WHERE id = 2");
    my.sql("UPDATE items SET id = 33 WHERE id = 3");
    let table = format!("{}_{}_items", my.name, my.name);
    let ids = format!("SELECT id FROM {table} ORDER BY id");
    wait_until(
        WAIT,
        "both MariaDB projections catching up",
        || {
            try_rows(&data, "lite", &ids) == Some(vec![vec![json!(1)], vec![json!(33)]])
                && target.sql(&format!("SELECT to_regclass('{table}') IS NOT NULL")) == "t"
                && target.sql(&format!(
                    "SELECT string_agg(id::text, ',' ORDER BY id) FROM {table}"
                )) == "1,33"
        },
        || sw.logs(),
    );
    let row = rows(
        &data,
        "lite",
        &format!("SELECT * FROM {table} WHERE id = 1"),
    );
    assert_eq!(
        row[0],
        vec![
            json!(1),
            s("uno"),
            json!(-0.001),
            s("18446744073709551615"),
            json!(1),
            s("2024-02-29 12:34:56.789"),
            s("2024-03-01"),
            s("2024-03-01T01:02:03.000004Z"),
            s("01:02:03.5"),
            s("{\"a\": 1}"),
            s("AP8="),
            s("b"),
            json!(2.5),
        ]
    );
    let pg_row = target.sql(&format!(
        "SELECT id, name, price, qty, ok, made, day, at AT TIME ZONE 'UTC', t, doc, raw, kind, f FROM {table} WHERE id = 1"
    ));
    assert_eq!(
        pg_row,
        "1|uno|-0.001|18446744073709551615|1|2024-02-29 12:34:56.789|2024-03-01|2024-03-01 01:02:03.000004|01:02:03.5|{\"a\": 1}|\\x00ff|b|2.5"
    );
    // MariaDB's JSON is LONGTEXT to the binlog, so a string (as Debezium has it).
    let types = target.sql(&format!(
        "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = '{table}'::regclass AND attnum > 0"
    ));
    assert_eq!(
        types,
        "integer, text, numeric(12,3), numeric(20,0), smallint, timestamp(3) without time zone, date, \
         timestamp with time zone, time(6) without time zone, text, bytea, text, double precision"
    );
    assert!(sw.stop().success(), "{}", sw.logs());
}

#[test]
fn a_table_whose_column_conflicts_with_the_records_stops_the_projection_naming_it() {
    let db = TestDb::create("projconflict");
    let (target, url) = pg_target("projconflictt");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a')");
    let table = format!("{}_public_t", db.name);
    target.sql(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, name integer)"
    ));
    let dir = scratch("projconflict");
    let data = dir.path().join("data");
    let proj = projection(
        "proj",
        &format!("{}\\.public\\.t", db.name),
        &[("connection.url", &url)],
    );
    let mut sw = Spillway::start(&json!([db.connector(&[]), proj]), &data);
    let status = sw.wait_exit(WAIT);
    let logs = sw.logs();
    assert_eq!(status.code(), Some(1), "{logs}");
    assert!(
        logs.contains(&format!("column \"name\" of table \"{table}\" is integer")),
        "{logs}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
    // Nothing was applied, and no offset stored past the refused record.
    assert_eq!(target.sql(&format!("SELECT count(*) FROM {table}")), "0");
    assert_eq!(target.sql("SELECT count(*) FROM spillway_offsets"), "0");
}

#[test]
fn records_without_schemas_and_topics_that_do_not_exist_are_reported() {
    let db = TestDb::create("projschemaless");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a')");
    let dir = scratch("projschemaless");
    let data = dir.path().join("data");
    // A projection waiting for a topic nobody writes names it.
    let waiting = json!({"name": "waiting", "config": {
        "connector.class": "projection", "topics": "no.such.topic"}});
    let source = db.connector(&[("output.data.format", "JSON")]);
    let proj = projection("proj", &format!("{}\\.public\\.t", db.name), &[]);
    let mut sw = Spillway::start(&json!([source, proj, waiting]), &data);
    let status = sw.wait_exit(WAIT);
    let logs = sw.logs();
    assert_eq!(status.code(), Some(1), "{logs}");
    assert!(logs.contains("JSON without an embedded schema"), "{logs}");
    assert!(
        logs.contains(&format!("record {}-0 offset 0", db.topic("t"))),
        "{logs}"
    );
    assert!(
        logs.contains("projection topic does not exist (yet)") && logs.contains("no.such.topic"),
        "{logs}"
    );
    // Bad projection configs name their key, exit 2.
    for (config, needle) in [
        (
            json!({"name": "p", "config": {"connector.class": "projection"}}),
            "topics",
        ),
        (
            json!({"name": "p", "config": {"connector.class": "projection", "topics": "a", "connection.url": "oracle:x"}}),
            "connection.url",
        ),
        (
            json!({"name": "p", "config": {"connector.class": "projection", "topics": "a", "insert.mode": "merge"}}),
            "insert.mode",
        ),
    ] {
        let path = support::write_config(dir.path(), &config);
        let out = support::run_to_exit(&path, &data);
        support::assert_exit(&out, 2, &[needle]);
    }
    let _ = psql("postgres", "SELECT 1");
}

#[test]
fn avro_read_from_kafka_folds_into_the_same_table_as_json_from_the_embedded_log() {
    let db = TestDb::create("projavro");
    db.sql(PG_TABLE);
    db.sql(PG_ROW);
    db.sql("INSERT INTO t (id, name, amount) SELECT i, 'n' || i, i / 3.0 FROM generate_series(2, 40) i");
    let dir = scratch("projavro");
    let data = dir.path().join("data");
    let registry = format!("127.0.0.1:{}", support::free_port());
    let mut to_kafka = db.connector(&[
        ("slot.name", &format!("{}_k", db.name)),
        ("publication.name", &format!("{}_kpub", db.name)),
        ("kafka.bootstrap.servers", support::kafka::BROKER),
        ("topic.creation.default.partitions", "3"),
        ("output.data.format", "AVRO"),
        ("schema.registry.embedded.listen", &registry),
    ]);
    to_kafka["name"] = json!(format!("{}_k", db.name));
    let to_log = db.connector(&[]);
    let topics = format!("{}\\.public\\.t", db.name);
    let from_kafka = projection(
        "fromkafka",
        &topics,
        &[
            ("kafka.bootstrap.servers", support::kafka::BROKER),
            ("table.name.format", "t"),
        ],
    );
    let from_log = projection("fromlog", &topics, &[("table.name.format", "t")]);
    let mut sw = Spillway::start(&json!([to_kafka, to_log, from_kafka, from_log]), &data);
    wait_for_log(&sw, "reading from Kafka", WAIT);
    db.sql("UPDATE t SET name = 'changed', amount = -1 WHERE id = 1");
    db.sql("DELETE FROM t WHERE id BETWEEN 10 AND 20");
    db.sql("UPDATE t SET id = 100 WHERE id = 2");
    db.sql("INSERT INTO t (id, name) VALUES (200, 'last')");
    let all = "SELECT * FROM t ORDER BY id";
    let last = "SELECT name FROM t WHERE id = 200";
    wait_until(
        WAIT,
        "both projections catching up",
        || {
            let done = |p: &str| try_rows(&data, p, last) == Some(vec![vec![s("last")]]);
            done("fromkafka")
                && done("fromlog")
                && try_rows(&data, "fromkafka", all) == try_rows(&data, "fromlog", all)
        },
        || {
            format!(
                "kafka: {:?}\nlog: {:?}\n{}",
                try_rows(&data, "fromkafka", all),
                try_rows(&data, "fromlog", all),
                sw.logs()
            )
        },
    );
    let rows_kafka = rows(&data, "fromkafka", all);
    assert_eq!(rows_kafka.len(), 40 - 11 + 1);
    assert_eq!(rows_kafka[0][1], s("changed"));
    let types = "SELECT name, type, pk FROM pragma_table_info('t') ORDER BY cid";
    assert_eq!(
        rows(&data, "fromkafka", types),
        rows(&data, "fromlog", types)
    );
    assert!(sw.stop().success(), "{}", sw.logs());
}

/// Runs `f` on a runtime of its own (the tests here are plain threads).
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

#[test]
fn queries_of_a_postgres_projection_cannot_signal_replicate_or_read_files_even_as_a_superuser() {
    use spillway_projection::query::postgres::Session;
    use spillway_projection::{QueryLimits, TargetUrl};
    let db = TestDb::create("projrole");
    let (target, url) = pg_target("projrolet");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, name text)");
    db.sql("INSERT INTO t VALUES (1, 'a')");
    let dir = scratch("projrole");
    let data = dir.path().join("data");
    let name = format!("rolep{}", std::process::id());
    let proj = projection(
        &name,
        &format!("{}\\.public\\.t", db.name),
        &[("connection.url", &url)],
    );
    let port = support::free_port();
    let mut sw = Spillway::start_with(
        &json!([db.connector(&[]), proj]),
        &data,
        &["--listen", &format!("127.0.0.1:{port}")],
    );
    wait_for_log(&sw, "streaming changes", WAIT);
    let table = format!("{}_public_t", db.name);
    let count = format!("SELECT count(*) FROM \"{table}\"");
    wait_until(
        WAIT,
        "the row in the projection",
        || try_rows(&data, &name, &count) == Some(vec![vec![json!(1)]]),
        || sw.logs(),
    );
    let walsender = || {
        psql(
            "postgres",
            &format!(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{}' AND active",
                db.name
            ),
        )
    };
    let pid = walsender();
    assert!(!pid.is_empty(), "the capture's walsender");
    let evil_slot = format!("evil_{}", std::process::id());
    let attempts = [
        format!("SELECT pg_terminate_backend({pid})"),
        format!("SELECT pg_create_logical_replication_slot('{evil_slot}', 'pgoutput')"),
        "SELECT pg_read_file('/etc/hostname')".to_string(),
        "SELECT * FROM pg_ls_dir('.')".to_string(),
    ];
    // The API and the CLI refuse them before they reach the server.
    for sql in &attempts {
        let (status, body) = http_post_json(
            &format!("http://127.0.0.1:{port}/query"),
            &json!({ "sql": sql }),
        );
        assert_eq!(status, 403, "{sql}: {body}");
        let out = query_output(&data, &["--projection", &name], sql);
        assert_eq!(out.status.code(), Some(2), "{sql}: {out:?}");
    }
    // Beneath that check, the role queries run as may do none of it either, although the
    // projection's URL names a superuser.
    let TargetUrl::Postgres(mut pg) = TargetUrl::parse(&url, None, None).unwrap() else {
        panic!("a PostgreSQL target")
    };
    pg.query_role = Some(spillway_projection::config::default_query_role(&name));
    let run_raw = |sql: String| {
        let pg = pg.clone();
        block_on(async move {
            let session = Session::open(&pg, QueryLimits::default())
                .await
                .unwrap_or_else(|e| panic!("a query session: {e}"));
            session.client.simple_query(&sql).await.map(|_| ())
        })
    };
    for sql in attempts.iter().cloned().chain([
        format!("DELETE FROM \"{table}\""),
        "SELECT count(*) FROM pg_authid".to_string(),
    ]) {
        let e = run_raw(sql.clone()).expect_err(&sql);
        let code = e.as_db_error().map(|d| d.code().code().to_string());
        assert!(
            matches!(code.as_deref(), Some("42501" | "25006")),
            "{sql}: {e:?}"
        );
    }
    run_raw(count.clone()).expect("the query role reads the projection's table");
    assert_eq!(walsender(), pid, "the capture's walsender was signalled");
    assert_eq!(
        psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{evil_slot}'")
        ),
        "0"
    );
    assert!(sw.is_running(), "{}", sw.logs());
    db.sql("INSERT INTO t VALUES (2, 'b')");
    wait_until(
        WAIT,
        "capture going on",
        || try_rows(&data, &name, &count) == Some(vec![vec![json!(2)]]),
        || sw.logs(),
    );
    // A URL given straight to `spillway query` must not be a superuser's either.
    let out = query_output(&data, &["--url", &url], "SELECT 1");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("superuser"));
    assert!(sw.stop().success(), "{}", sw.logs());
    drop(target);
    drop_role(&spillway_projection::config::default_query_role(&name));
}

/// Drops a query role a test's projection created (once the databases it was granted
/// privileges in are gone).
fn drop_role(role: &str) {
    psql("postgres", &format!("DROP ROLE IF EXISTS \"{role}\""));
}

#[test]
fn a_query_role_that_could_do_more_than_read_stops_the_projection() {
    let (_target, url) = pg_target("projsuperrole");
    let dir = scratch("projsuperrole");
    let data = dir.path().join("data");
    let proj = projection(
        "superrole",
        "nothing\\..*",
        &[
            ("connection.url", &url),
            ("spillway.query.role", "postgres"),
        ],
    );
    let mut sw = Spillway::start(&proj, &data);
    let status = sw.wait_exit(WAIT);
    assert_eq!(status.code(), Some(1), "{}", sw.logs());
    assert!(
        sw.logs().contains("spillway.query.role") && sw.logs().contains("superuser"),
        "{}",
        sw.logs()
    );
}

#[test]
fn postgres_projections_started_together_on_one_database_all_start() {
    for round in 0..3 {
        let (target, url) = pg_target(&format!("projrace{round}"));
        let dir = scratch(&format!("projrace{round}"));
        let mut runs: Vec<Spillway> = (0..3)
            .map(|i| {
                let proj = projection(
                    &format!("race{round}x{i}p{}", std::process::id()),
                    "nothing\\..*",
                    &[("connection.url", &url)],
                );
                Spillway::start(&proj, &dir.path().join(format!("data{i}")))
            })
            .collect();
        for sw in &runs {
            wait_for_log(sw, "projection resuming from the offsets", WAIT);
        }
        for sw in &mut runs {
            assert!(sw.is_running(), "round {round}: {}", sw.logs());
            assert!(sw.stop().success(), "round {round}: {}", sw.logs());
        }
        assert_eq!(
            target.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'spillway_offsets'"),
            "1"
        );
        drop(target);
        for i in 0..3 {
            drop_role(&spillway_projection::config::default_query_role(&format!(
                "race{round}x{i}p{}",
                std::process::id()
            )));
        }
    }
}

#[test]
fn a_projection_whose_user_may_not_create_its_query_role_runs_and_queries_say_what_to_do() {
    let db = TestDb::create("projnorole");
    let target = TestDb::create("projnorolet");
    // The projection's user owns its database but may not create roles.
    target.sql(&format!(
        "ALTER DATABASE {} OWNER TO spillway; ALTER SCHEMA public OWNER TO spillway",
        target.name
    ));
    let url = format!("postgresql://spillway@127.0.0.1:5432/{}", target.name);
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    db.sql("INSERT INTO t VALUES (1), (2)");
    let dir = scratch("projnorole");
    let data = dir.path().join("data");
    let name = format!("norole{}", std::process::id());
    let role = spillway_projection::config::default_query_role(&name);
    drop_role(&role);
    let configs = json!([
        db.connector(&[]),
        projection(
            &name,
            &format!("{}\\.public\\.t", db.name),
            &[("connection.url", &url)]
        ),
    ]);
    let mut sw = Spillway::start(&configs, &data);
    wait_for_log(&sw, "its query role does not exist", WAIT);
    let copy = format!("{}_public_t", db.name);
    wait_until(
        WAIT,
        "the rows in the projection",
        || {
            target.sql(&format!(
                "SELECT count(*) FROM pg_tables WHERE tablename = '{copy}'"
            )) == "1"
                && target.sql(&format!("SELECT count(*) FROM \"{copy}\"")) == "2"
        },
        || sw.logs(),
    );
    let count = format!("SELECT count(*) FROM \"{copy}\"");
    let out = query_output(&data, &["--projection", &name], &count);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&role) && err.contains("spillway.query.role"),
        "{err}"
    );
    assert!(sw.stop().success(), "{}", sw.logs());

    // Once an administrator made the role, the projection grants it its tables.
    psql(
        "postgres",
        &format!("CREATE ROLE \"{role}\" NOLOGIN; GRANT \"{role}\" TO spillway"),
    );
    let mut sw = Spillway::start(&configs, &data);
    wait_for_log(&sw, "projection resuming from the offsets", WAIT);
    db.sql("INSERT INTO t VALUES (3)");
    wait_until(
        WAIT,
        "the query answering through the role",
        || try_rows(&data, &name, &count) == Some(vec![vec![json!(3)]]),
        || sw.logs(),
    );
    assert!(sw.stop().success(), "{}", sw.logs());
    drop(target);
    drop_role(&role);
}
