//! The kill -9 promise: spillway is killed with SIGKILL over and over while an application
//! keeps committing, and afterwards every committed change is in the log, in order per key.
//!
//! Figures are printed to stdout (`cargo nextest run -p spillway --test crash_loop
//! --no-capture`). `CRASH_LOOP_SEED=N` repeats the writer's and the killer's choices (the
//! timing of the machine still varies).

#[path = "support/crash.rs"]
mod crash;
mod support;

use crash::{check, Change, Database, Positions, Setup, INITIAL_ROWS};
use serde_json::Value;
use support::{Rec, TestDb};
use tokio_postgres::Client;

/// WAL positions: snapshot records carry their consistent point in `source.lsn`.
const WAL: Positions = Positions {
    name: "WAL",
    of_snapshot: snapshot_lsn,
    show: show_lsn,
};

fn snapshot_lsn(source: &Value) -> Option<u64> {
    source["lsn"].as_u64()
}

fn show_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

#[test]
fn kill_9_in_a_loop_loses_no_committed_change_and_keeps_per_key_order() {
    let db = TestDb::create("crash");
    db.sql(&format!(
        "CREATE TABLE accounts (id int PRIMARY KEY, seq bigint NOT NULL, note text);
         INSERT INTO accounts SELECT g, 0, 'initial row ' || g || ' ' || repeat('x', 40)
           FROM generate_series(1, {INITIAL_ROWS}) g;"
    ));
    let scratch = support::scratch("crash");
    let setup = Setup {
        label: "crash loop",
        config: db.connector(&[("table.include.list", "public.accounts")]),
        scratch: scratch.path().to_path_buf(),
        topic: db.topic("accounts"),
        positions: WAL,
        snapshot_kill_ms: 40,
        kafka: None,
    };
    let db = &db;
    crash::kill_loop(&setup, move || async move { Pg(db.client().await) });
}

/// The same promise with Kafka (the tansu broker scripts/setup.sh starts) as the stream:
/// only what the broker acknowledged moves the slot, so every committed change is in the
/// topic after the kills, in order per key.
#[test]
fn kill_9_in_a_loop_with_kafka_as_the_stream_loses_no_committed_change() {
    let db = TestDb::create("crashkafka");
    db.sql(&format!(
        "CREATE TABLE accounts (id int PRIMARY KEY, seq bigint NOT NULL, note text);
         INSERT INTO accounts SELECT g, 0, 'initial row ' || g || ' ' || repeat('x', 40)
           FROM generate_series(1, {INITIAL_ROWS}) g;"
    ));
    let scratch = support::scratch("crashkafka");
    let setup = Setup {
        label: "kafka crash loop",
        config: db.connector(&[
            ("table.include.list", "public.accounts"),
            ("kafka.bootstrap.servers", support::kafka::BROKER),
            // One partition, as the checker reads the log in one order.
            ("topic.creation.default.partitions", "1"),
            ("topic.creation.default.replication.factor", "1"),
        ]),
        scratch: scratch.path().to_path_buf(),
        topic: db.topic("accounts"),
        positions: WAL,
        snapshot_kill_ms: 40,
        kafka: Some(support::kafka::BROKER.to_string()),
    };
    let db = &db;
    crash::kill_loop(&setup, move || async move { Pg(db.client().await) });
}

/// A writer's connection.
struct Pg(Client);

impl Database for Pg {
    async fn begin(&mut self) {
        self.0.batch_execute("BEGIN").await.expect("BEGIN");
    }

    async fn commit(&mut self) {
        self.0.batch_execute("COMMIT").await.expect("COMMIT");
    }

    async fn rollback(&mut self) {
        self.0.batch_execute("ROLLBACK").await.expect("ROLLBACK");
    }

    async fn insert(&mut self, id: i64) {
        self.0
            .execute(
                "INSERT INTO accounts (id, seq, note) VALUES ($1, 0, $2)",
                &[&(id as i32), &format!("inserted {id}")],
            )
            .await
            .expect("insert");
    }

    async fn update(&mut self, id: i64, old: i64) {
        let row = self
            .0
            .query_one(
                "UPDATE accounts SET seq = seq + 1, note = 'updated' WHERE id = $1 RETURNING seq",
                &[&(id as i32)],
            )
            .await
            .expect("update");
        let new: i64 = row.get(0);
        assert_eq!(new, old + 1, "row {id} has an unexpected seq");
    }

    async fn update_to_roll_back(&mut self, id: i64) {
        self.0
            .execute(
                "UPDATE accounts SET seq = seq + 1000000000, note = 'rolled back' WHERE id = $1",
                &[&(id as i32)],
            )
            .await
            .expect("update to roll back");
    }

    async fn delete(&mut self, id: i64) {
        let n = self
            .0
            .execute("DELETE FROM accounts WHERE id = $1", &[&(id as i32)])
            .await
            .expect("delete");
        assert_eq!(n, 1, "row {id} should have existed");
    }

    async fn position(&mut self) -> u64 {
        let row = self
            .0
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .await
            .expect("read the WAL position");
        parse_lsn(row.get(0))
    }
}

fn parse_lsn(text: &str) -> u64 {
    let (hi, lo) = text.split_once('/').expect("an LSN is X/Y");
    (u64::from_str_radix(hi, 16).expect("LSN high half") << 32)
        | u64::from_str_radix(lo, 16).expect("LSN low half")
}

/// The checker itself: it accepts redelivery and catches loss, reordering and phantoms.
#[test]
fn the_checker_accepts_redelivery_and_catches_loss_reordering_and_phantoms() {
    fn rec(id: i64, op: &str, seq: Option<i64>, snapshot: &str, lsn: u64) -> Rec {
        let value = (op != "tombstone").then(|| {
            let row = seq.map(|s| serde_json::json!({ "id": id, "seq": s, "note": "n" }));
            serde_json::json!({
                "op": op,
                "before": if op == "d" { serde_json::json!({ "id": id }) } else { Value::Null },
                "after": if op == "d" { Value::Null } else { row.unwrap_or(Value::Null) },
                "source": { "snapshot": snapshot, "lsn": lsn },
            })
        });
        Rec {
            partition: 0,
            offset: 0,
            key: Some(serde_json::json!({ "id": id })),
            value,
            headers: Vec::new(),
        }
    }
    let change = |id, value, at| Change {
        id,
        value,
        lo: at,
        hi: at + 10,
    };
    let committed = vec![
        change(1, Some(0), 0),
        change(2, Some(0), 0),
        change(1, Some(1), 200),
        change(2, None, 250),
        change(3, Some(0), 400),
        change(1, Some(2), 500),
        change(3, Some(1), 600),
    ];
    let snapshot = || {
        vec![
            rec(1, "r", Some(0), "first", 100),
            rec(2, "r", Some(0), "last", 100),
        ]
    };
    let stream = |events: &[(i64, &str, Option<i64>)]| {
        let mut log = snapshot();
        log.extend(
            events
                .iter()
                .map(|&(id, op, seq)| rec(id, op, seq, "false", 300)),
        );
        log
    };
    let good = [
        (1, "u", Some(1)),
        (2, "d", None),
        (2, "tombstone", None),
        (3, "c", Some(0)),
        // A crash: the last events are sent again.
        (1, "u", Some(1)),
        (2, "d", None),
        (2, "tombstone", None),
        (3, "c", Some(0)),
        (1, "u", Some(2)),
        (3, "u", Some(1)),
    ];
    let report = check(&committed, &stream(&good), &WAL);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(report.duplicates, 3);
    assert_eq!((report.found, report.required), (5, 5));

    let lost: Vec<_> = good
        .iter()
        .copied()
        .filter(|e| *e != (1, "u", Some(2)))
        .collect();
    let report = check(&committed, &stream(&lost), &WAL);
    assert!(
        report.problems.iter().any(|p| p.contains("missing")),
        "a lost change must be reported: {:#?}",
        report.problems
    );

    let mut reordered = good;
    reordered.swap(0, 8);
    let report = check(&committed, &stream(&reordered), &WAL);
    assert!(
        report.problems.iter().any(|p| p.contains("order broken")),
        "reordering must be reported: {:#?}",
        report.problems
    );

    let mut phantom = good.to_vec();
    phantom.push((1, "u", Some(1_000_000_002)));
    let report = check(&committed, &stream(&phantom), &WAL);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("never committed")),
        "a rolled-back value must be reported: {:#?}",
        report.problems
    );

    // A snapshot that read an old value, and one that missed a row.
    let log = vec![
        rec(1, "r", Some(0), "first", 300),
        rec(2, "r", Some(0), "last", 300),
    ];
    let report = check(&committed[..3], &log, &WAL);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("was committed before it")),
        "{:#?}",
        report.problems
    );
    // (A one-row snapshot: its only record is marked first.)
    let log = vec![rec(1, "r", Some(0), "first", 100)];
    let report = check(&committed[..2], &log, &WAL);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("did not read it")),
        "{:#?}",
        report.problems
    );
}
