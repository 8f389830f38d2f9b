//! Kafka Connect's offsets and active topics on the worker, through a real HTTP client and
//! real servers: a stopped PostgreSQL source moved forward past a change (which is then
//! never captured), refused when asked to go back before what its slot confirmed, and
//! reset so it snapshots again; a MariaDB source moved back to an earlier binlog place,
//! which captures the changes after it again; a projection whose offsets moved back (or
//! reset) applies the stream again into emptied tables; running connectors, unknown ones
//! and bad bodies refused; the active topics listed, reset and kept across a restart;
//! and the `spillway connector offsets|topics` CLI.

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use support::mariadb::MyDb;
use support::projection::{projection, wait_until};
use support::worker::WorkerProcess;
use support::{binary, free_port, psql, read_topic, scratch, TestDb};

const WAIT: Duration = Duration::from_secs(60);
const STOP_FIRST: &str = "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/";

/// The `id` of each change record of `topic` with operation `op`, in order.
fn ids(data: &Path, topic: &str, op: &str) -> Vec<i64> {
    read_topic(data, topic)
        .iter()
        .filter(|r| r.op() == Some(op))
        .map(|r| r.after()["id"].as_i64().expect("an id"))
        .collect()
}

fn message(answer: &Value) -> String {
    answer["message"].as_str().unwrap_or_default().to_string()
}

/// `spillway connector ARGS --url` against the worker on `port`, `stdin` piped in.
fn cli(port: u16, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(binary())
        .arg("connector")
        .args(args)
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .env_remove("SPILLWAY_API_TOKEN")
        .env_remove("SPILLWAY_API_BASIC_AUTH")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run spillway connector");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write stdin");
    drop(input);
    child
        .wait_with_output()
        .expect("wait for spillway connector")
}

fn stop(w: &WorkerProcess, name: &str) {
    let (status, answer) = w.call("PUT", &format!("/connectors/{name}/stop"), None);
    assert_eq!(status, 204, "{answer}");
}

fn resume(w: &WorkerProcess, name: &str) {
    let (status, answer) = w.call("PUT", &format!("/connectors/{name}/resume"), None);
    assert_eq!(status, 202, "{answer}");
    w.wait_status(name, "RUNNING", |s| s["connector"]["state"] == "RUNNING");
}

/// The rows of a table of the target database; -1 while it cannot be read (not there yet).
fn count_rows(db: &str, table: &str) -> i64 {
    let out = Command::new("psql")
        .args(["-h", support::PG_HOST, "-p", &support::PG_PORT.to_string()])
        .args(["-U", support::PG_ADMIN, "-d", db, "-qAtc"])
        .arg(format!("SELECT count(*) FROM \"{table}\""))
        .output()
        .expect("run psql");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(-1)
}

/// The server's WAL position now, as a number.
fn wal_lsn(db: &TestDb) -> u64 {
    db.sql("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        .trim()
        .parse()
        .expect("an LSN")
}

#[test]
fn a_stopped_postgres_source_moves_forward_refuses_to_go_back_and_resets() {
    let db = TestDb::create("offpg");
    db.sql(
        "CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a'), (2, 'b')",
    );
    let dir = scratch("offpg");
    let data = dir.path().join("data");
    let port = free_port();
    let mut w = WorkerProcess::start(&data, port, &[]);
    let name = db.name.clone();
    let topic = db.topic("t");
    let path = format!("/connectors/{name}/offsets");
    let (status, created) = w.call("POST", "/connectors", Some(&db.connector(&[])));
    assert_eq!(status, 201, "{created}");
    wait_until(
        WAIT,
        "the snapshot",
        || ids(&data, &topic, "r").len() == 2,
        || w.logs(),
    );
    w.wait_status(&name, "RUNNING", |s| s["connector"]["state"] == "RUNNING");
    db.sql("INSERT INTO t VALUES (3, 'c')");
    wait_until(
        WAIT,
        "row 3",
        || ids(&data, &topic, "c") == [3],
        || w.logs(),
    );

    // The active topics: the table's topic, emptied by a reset and filled by new changes.
    let topics = |w: &WorkerProcess| {
        let (status, answer) = w.call("GET", &format!("/connectors/{name}/topics"), None);
        assert_eq!(status, 200, "{answer}");
        answer[&name]["topics"].clone()
    };
    assert_eq!(topics(&w), json!([topic]));
    let (status, answer) = w.call("PUT", &format!("/connectors/{name}/topics/reset"), None);
    assert_eq!((status, answer), (202, Value::Null));
    assert_eq!(topics(&w), json!([]));
    db.sql("INSERT INTO t VALUES (4, 'd')");
    wait_until(
        WAIT,
        "row 4",
        || ids(&data, &topic, "c") == [3, 4],
        || w.logs(),
    );
    wait_until(
        WAIT,
        "the topic listed again",
        || topics(&w) == json!([topic]),
        || w.logs(),
    );
    let (status, answer) = w.call("GET", "/connectors/nope/topics", None);
    assert_eq!(status, 404, "{answer}");
    let out = cli(port, &["topics", &name], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&topic));

    // Offsets change only on a stopped connector; an unknown one is not found.
    let (_, before) = w.call("GET", &path, None);
    assert_eq!(
        before["offsets"][0]["partition"],
        json!({"server": name}),
        "{before}"
    );
    let (status, answer) = w.call("PATCH", &path, Some(&before));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error_code"], json!(400));
    assert!(message(&answer).starts_with(STOP_FIRST), "{answer}");
    assert!(message(&answer).contains(&format!("/connectors/{name}/stop")));
    let (status, answer) = w.call("DELETE", &path, None);
    assert_eq!(status, 400, "{answer}");
    assert!(message(&answer).starts_with(STOP_FIRST), "{answer}");
    let (status, answer) = w.call("PATCH", "/connectors/nope/offsets", Some(&before));
    assert_eq!(
        (status, message(&answer)),
        (404, "Connector nope not found".into())
    );
    let (status, _) = w.call("DELETE", "/connectors/nope/offsets", None);
    assert_eq!(status, 404);
    let (status, _) = w.call("PUT", &format!("/connectors/{name}/pause"), None);
    assert_eq!(status, 202);
    let (status, answer) = w.call("DELETE", &path, None);
    assert_eq!(status, 400, "paused is not stopped: {answer}");

    stop(&w, &name);
    let (_, stopped) = w.call("GET", &path, None);
    let position = stopped["offsets"][0]["offset"]["position"].clone();
    assert_eq!(position["phase"], json!("stream"), "{stopped}");

    // Bodies are checked strictly, each refusal naming what is wrong.
    let with_offset =
        |offset: Value| json!({"offsets": [{"partition": {"server": name}, "offset": offset}]});
    let bad_bodies: Vec<(Value, &str)> = vec![
        (json!([]), "the body must be"),
        (
            json!({"offsets": []}),
            "Partitions / offsets need to be provided",
        ),
        (json!({"offsets": [], "extra": 1}), "unknown key `extra`"),
        (
            json!({"offsets": [{"partition": {"server": "elsewhere"}, "offset": null}]}),
            "\"elsewhere\" is not this connector's",
        ),
        (
            json!({"offsets": [{"partition": {"server": name, "db": "x"}, "offset": null}]}),
            "unknown key `db`",
        ),
        (
            json!({"offsets": [{"offset": null}]}),
            "partition cannot be null",
        ),
        (
            json!({"offsets": [{"partition": {"server": name}}]}),
            "no \"offset\"",
        ),
        (
            json!({"offsets": [{"partition": {"server": name}, "offset": null}, {"partition": {"server": name}, "offset": null}]}),
            "given twice",
        ),
        (
            with_offset(json!({"position": position, "lsn": 5})),
            "unknown key `lsn`",
        ),
        (
            with_offset(json!({"position": {"phase": "stream", "log": "x", "sub": 0, "row": 0}})),
            "position.log` must be a whole number",
        ),
        (
            with_offset(json!({"position": {"phase": "stream", "log": -1, "sub": 0, "row": 0}})),
            "position.log` must be a whole number",
        ),
        (
            with_offset(json!({"position": {"phase": "stream", "log": 5, "sub": 0}})),
            "position.row` is missing",
        ),
        (
            with_offset(json!({"position": {"phase": "later", "log": 5, "sub": 0, "row": 0}})),
            "phase` must be",
        ),
        (
            with_offset(json!({"position": {"phase": "stream", "log": 5, "sub": 1, "row": 0}})),
            "position.sub` is 0",
        ),
        (
            with_offset(json!({"position": position, "state": {"file": "x"}})),
            "keeps no state",
        ),
        (
            with_offset(
                json!({"position": {"phase": "stream", "log": u64::MAX - 1, "sub": 0, "row": 0}}),
            ),
            "past the server's WAL position",
        ),
    ];
    for (body, needle) in bad_bodies {
        let (status, answer) = w.call("PATCH", &path, Some(&body));
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(message(&answer).contains(needle), "{body}: {answer}");
    }
    let (status, answer) = w.call("PATCH", &path, None);
    assert_eq!(status, 400, "{answer}");

    // Back before what the slot confirmed: PostgreSQL would not send those changes again.
    let (status, answer) = w.call(
        "PATCH",
        &path,
        Some(&with_offset(json!({
            "position": {"phase": "stream", "log": 16, "sub": 0, "row": Value::from(u64::MAX)}
        }))),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        message(&answer).contains(&format!("replication slot {name:?} has confirmed")),
        "{answer}"
    );
    let (_, unchanged) = w.call("GET", &path, None);
    assert_eq!(unchanged, stopped, "a refused alter changed the offsets");
    // The offset as GET shows it goes back as it is (the slot may have confirmed past it:
    // nothing captured lies between).
    let (status, answer) = w.call("PATCH", &path, Some(&stopped));
    assert_eq!(status, 200, "{answer}");

    // Forward: row 5 is skipped, row 6 (after the new position) captured.
    db.sql("INSERT INTO t VALUES (5, 'skipped')");
    let after_5 = wal_lsn(&db);
    db.sql("INSERT INTO t VALUES (6, 'f')");
    let forward = json!({"position": {"phase": "stream", "log": after_5 - 1, "sub": 0, "row": Value::from(u64::MAX)}});
    let (status, answer) = w.call("PATCH", &path, Some(&with_offset(forward.clone())));
    assert_eq!(
        (status, answer.clone()),
        (
            200,
            json!({"message": "The offsets for this connector have been altered successfully"})
        ),
        "{answer}"
    );
    let (_, moved) = w.call("GET", &path, None);
    assert_eq!(moved["offsets"][0]["offset"], forward, "{moved}");
    resume(&w, &name);
    wait_until(
        WAIT,
        "row 6",
        || ids(&data, &topic, "c").contains(&6),
        || w.logs(),
    );
    assert_eq!(
        ids(&data, &topic, "c"),
        [3, 4, 6],
        "row 5 was before the new position"
    );

    // Reset: the connector starts as new and snapshots the table again.
    stop(&w, &name);
    let (status, answer) = w.call("DELETE", &path, None);
    assert_eq!(
        (status, answer.clone()),
        (
            200,
            json!({"message": "The offsets for this connector have been reset successfully"})
        ),
        "{answer}"
    );
    assert_eq!(w.call("GET", &path, None).1, json!({"offsets": []}));
    resume(&w, &name);
    wait_until(
        WAIT,
        "a second snapshot",
        || ids(&data, &topic, "r").len() == 2 + 6,
        || w.logs(),
    );
    let mut again = ids(&data, &topic, "r")[2..].to_vec();
    again.sort();
    assert_eq!(again, [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        w.logs().matches("snapshot started").count(),
        2,
        "{}",
        w.logs()
    );

    // The active topics survive a restart of the worker, and go with the connector.
    assert!(w.stop().success(), "{}", w.logs());
    let w = WorkerProcess::start(&data, port, &[]);
    assert_eq!(topics(&w), json!([topic]));
    let (status, _) = w.call("DELETE", &format!("/connectors/{name}"), None);
    assert_eq!(status, 204);
    let (status, _) = w.call("GET", &format!("/connectors/{name}/topics"), None);
    assert_eq!(status, 404);
    assert!(!data.join(format!("active-topics/{name}.json")).exists());
    assert!(!w.logs().contains("panicked"), "{}", w.logs());
}

#[test]
fn a_projection_moved_back_or_reset_applies_the_stream_again() {
    let db = TestDb::create("offproj");
    let target = TestDb::create("offprojt");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    let dir = scratch("offproj");
    let data = dir.path().join("data");
    let port = free_port();
    let w = WorkerProcess::start(&data, port, &[]);
    let topic = db.topic("t");
    let url = format!("postgresql://postgres@127.0.0.1:5432/{}", target.name);
    let sink = projection(
        "proj",
        &format!("{}\\.public\\.t", db.name),
        &[("connection.url", &url)],
    );
    for body in [db.connector(&[]), sink] {
        let (status, created) = w.call("POST", "/connectors", Some(&body));
        assert_eq!(status, 201, "{created}");
    }
    let table = format!("{}_public_t", db.name);
    let rows = || count_rows(&target.name, &table);
    wait_until(
        WAIT,
        "the projection holding the rows",
        || rows() == 3,
        || w.logs(),
    );
    let path = "/connectors/proj/offsets";
    wait_until(
        WAIT,
        "the projection's offsets",
        || w.call("GET", path, None).1["offsets"][0]["offset"]["kafka_offset"] == json!(3),
        || w.logs(),
    );
    let (_, topics) = w.call("GET", "/connectors/proj/topics", None);
    assert_eq!(topics, json!({"proj": {"topics": [topic]}}));

    let (status, answer) = w.call("DELETE", path, None);
    assert_eq!(status, 400, "{answer}");
    stop(&w, "proj");
    let partition = json!({"kafka_topic": topic, "kafka_partition": 0});
    let bad_bodies: Vec<(Value, &str)> = vec![
        (
            json!({"offsets": [{"partition": {"kafka_topic": "other.topic", "kafka_partition": 0}, "offset": {"kafka_offset": 0}}]}),
            "not a topic this projection reads",
        ),
        (
            json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0, "x": 1}, "offset": null}]}),
            "unknown key `x`",
        ),
        (
            json!({"offsets": [{"partition": {"kafka_topic": topic}, "offset": null}]}),
            "kafka_partition` is missing",
        ),
        (
            json!({"offsets": [{"partition": {"kafka_topic": 7, "kafka_partition": 0}, "offset": null}]}),
            "Kafka topic names must be valid strings",
        ),
        (
            json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": "zero"}, "offset": null}]}),
            "kafka_partition`: a Kafka partition must be a whole number",
        ),
        (
            json!({"offsets": [{"partition": partition, "offset": {"kafka_offset": -1}}]}),
            "kafka_offset`: an offset must be a whole number",
        ),
        (
            json!({"offsets": [{"partition": partition, "offset": {"offset": 1}}]}),
            "unknown key `offset`",
        ),
        (
            json!({"offsets": [{"partition": {"server": "x"}, "offset": null}]}),
            "unknown key `server`",
        ),
    ];
    for (body, needle) in bad_bodies {
        let (status, answer) = w.call("PATCH", path, Some(&body));
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(message(&answer).contains(needle), "{body}: {answer}");
    }

    // Back to offset 0 (the partition given as text, as Kafka Connect also takes it): the
    // emptied table fills again.
    psql(&target.name, &format!("DELETE FROM \"{table}\""));
    let body = json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": "0"}, "offset": {"kafka_offset": 0}}]});
    let (status, answer) = w.call("PATCH", path, Some(&body));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        message(&answer),
        "The offsets for this connector have been altered successfully"
    );
    let (_, moved) = w.call("GET", path, None);
    assert_eq!(
        moved,
        json!({"offsets": [{"partition": partition, "offset": {"kafka_offset": 0}}]})
    );
    resume(&w, "proj");
    wait_until(WAIT, "the rows applied again", || rows() == 3, || w.logs());

    // Reset with the CLI: the same, from the start of every partition.
    stop(&w, "proj");
    psql(&target.name, &format!("DELETE FROM \"{table}\""));
    let out = cli(port, &["offsets", "proj", "--reset"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("reset successfully"));
    assert_eq!(w.call("GET", path, None).1, json!({"offsets": []}));
    resume(&w, "proj");
    wait_until(
        WAIT,
        "the rows applied after the reset",
        || rows() == 3,
        || w.logs(),
    );

    // The CLI refuses a running connector with the worker's words (exit 2).
    let out = cli(
        port,
        &["offsets", "proj", "--alter", "-"],
        Some(&body.to_string()),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("STOPPED state"));
    let out = cli(port, &["topics", "proj", "--reset"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        w.call("GET", "/connectors/proj/topics", None).1,
        json!({"proj": {"topics": []}})
    );
}

#[test]
fn a_mariadb_source_moved_back_captures_the_changes_after_that_place_again() {
    let db = MyDb::create("offmy");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a')");
    let dir = scratch("offmy");
    let data = dir.path().join("data");
    let port = free_port();
    let w = WorkerProcess::start(&data, port, &[]);
    let name = db.name.clone();
    let topic = db.topic("t");
    let path = format!("/connectors/{name}/offsets");
    let (status, created) = w.call("POST", "/connectors", Some(&db.connector(&[])));
    assert_eq!(status, 201, "{created}");
    wait_until(
        WAIT,
        "the snapshot",
        || ids(&data, &topic, "r") == [1],
        || w.logs(),
    );
    db.sql("INSERT INTO t VALUES (2, 'b')");
    wait_until(
        WAIT,
        "row 2",
        || ids(&data, &topic, "c") == [2],
        || w.logs(),
    );
    // Where it stood once row 2 was committed: at the binlog place after row 2's event.
    let records = read_topic(&data, &topic);
    let source = &records.last().expect("row 2").payload().expect("a change")["source"];
    let row_2 = (
        source["file"].as_str().expect("a binlog file").to_string(),
        source["pos"].as_u64().expect("a binlog position"),
    );
    let mut earlier = Value::Null;
    wait_until(
        WAIT,
        "the offset after row 2",
        || {
            earlier = w.call("GET", &path, None).1;
            let state = &earlier["offsets"][0]["offset"]["state"];
            let at = (
                state["file"].as_str().unwrap_or_default().to_string(),
                state["pos"].as_u64().unwrap_or(0),
            );
            at > row_2
        },
        || format!("row 2 at {row_2:?}\n{}", w.logs()),
    );
    db.sql("INSERT INTO t VALUES (3, 'c')");
    db.sql("INSERT INTO t VALUES (4, 'd')");
    wait_until(
        WAIT,
        "rows 3 and 4",
        || ids(&data, &topic, "c") == [2, 3, 4],
        || w.logs(),
    );
    stop(&w, &name);

    // A position that does not lie at the state's place is refused.
    let mut mismatched = earlier.clone();
    mismatched["offsets"][0]["offset"]["position"]["sub"] = json!(1);
    let (status, answer) = w.call("PATCH", &path, Some(&mismatched));
    assert_eq!(status, 400, "{answer}");
    assert!(message(&answer).contains("does not match"), "{answer}");
    let mut bad_gtid = earlier.clone();
    bad_gtid["offsets"][0]["offset"]["state"]["gtid"] = json!("not a gtid");
    let (status, answer) = w.call("PATCH", &path, Some(&bad_gtid));
    assert_eq!(status, 400, "{answer}");
    assert!(message(&answer).contains("state.gtid"), "{answer}");

    // The earlier GET, as it was, through the CLI from standard input.
    let out = cli(
        port,
        &["offsets", &name, "--alter", "-"],
        Some(&earlier.to_string()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("altered successfully"));
    let (_, now) = w.call("GET", &path, None);
    assert_eq!(now, earlier);
    resume(&w, &name);
    wait_until(
        WAIT,
        "rows 3 and 4 again",
        || ids(&data, &topic, "c") == [2, 3, 4, 3, 4],
        || format!("{:?}\n{}", ids(&data, &topic, "c"), w.logs()),
    );
    db.sql("INSERT INTO t VALUES (5, 'e')");
    wait_until(
        WAIT,
        "row 5",
        || ids(&data, &topic, "c") == [2, 3, 4, 3, 4, 5],
        || w.logs(),
    );
    assert!(!w.logs().contains("panicked"), "{}", w.logs());
}

#[test]
fn offsets_kept_in_kafka_are_altered_and_reset_there() {
    let db = TestDb::create("offkafka");
    db.sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)");
    let broker = support::kafka::BROKER;
    let offsets_topic = format!("{}.offsets", db.name);
    let dir = scratch("offkafka");
    let data = dir.path().join("data");
    let w = WorkerProcess::start(&data, free_port(), &[]);
    let name = db.name.clone();
    let path = format!("/connectors/{name}/offsets");
    let source = db.connector(&[
        ("kafka.bootstrap.servers", broker),
        ("offset.storage.topic", &offsets_topic),
    ]);
    let (status, created) = w.call("POST", "/connectors", Some(&source));
    assert_eq!(status, 201, "{created}");
    let topic = db.topic("t");
    let snapshots = || {
        support::kafka::read_kafka_topic(broker, &topic)
            .iter()
            .filter(|r| r.op() == Some("r"))
            .count()
    };
    wait_until(
        WAIT,
        "the snapshot in Kafka",
        || snapshots() == 2,
        || w.logs(),
    );
    let mut stored = Value::Null;
    wait_until(
        WAIT,
        "a streaming offset",
        || {
            stored = w.call("GET", &path, None).1;
            stored["offsets"][0]["offset"]["position"]["phase"] == json!("stream")
        },
        || w.logs(),
    );
    stop(&w, &name);
    let (_, stopped) = w.call("GET", &path, None);
    assert_eq!(
        stopped["offsets"][0]["partition"],
        json!({"server": name}),
        "{stopped}"
    );

    // The same offset written back is a record of the offsets topic.
    let records = || support::kafka::read_kafka_topic_raw(broker, &offsets_topic).len();
    let before = records();
    let (status, answer) = w.call("PATCH", &path, Some(&stopped));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(w.call("GET", &path, None).1, stopped);
    assert_eq!(records(), before + 1);

    // A reset is a tombstone: nothing is read back, and the source snapshots again.
    let (status, answer) = w.call("DELETE", &path, None);
    assert_eq!(status, 200, "{answer}");
    let last = support::kafka::read_kafka_topic_raw(broker, &offsets_topic)
        .pop()
        .expect("the tombstone");
    assert!(last.value.is_none(), "not a tombstone: {:?}", last.value);
    assert_eq!(w.call("GET", &path, None).1, json!({"offsets": []}));
    resume(&w, &name);
    wait_until(
        WAIT,
        "a second snapshot in Kafka",
        || snapshots() == 4,
        || w.logs(),
    );
}
