//! The kill -9 promise for the binlog source: spillway is killed with SIGKILL over and over
//! while an application keeps committing to MariaDB, and afterwards every committed change is
//! in the log, in order per key, and the log's last state of every key is the table's.
//!
//! Figures are printed to stdout (`cargo nextest run -p spillway --test mysql_crash_loop
//! --no-capture`). `CRASH_LOOP_SEED=N` repeats the writers' and the killer's choices (the
//! timing of the machine still varies).

#[path = "support/crash.rs"]
mod crash;
mod support;

use crash::{Database, Positions, Setup, INITIAL_ROWS};
use mysql_async::prelude::Queryable;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use support::mariadb::MyDb;

/// Binlog positions as one number: the file's sequence number above the offset in it.
const BINLOG: Positions = Positions {
    name: "binlog",
    of_snapshot: snapshot_position,
    show: show_position,
};

fn binlog_position(file: &str, pos: u64) -> u64 {
    let sequence: u64 = file
        .rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("binlog file {file:?} has no sequence number"));
    sequence << 32 | pos
}

/// Snapshot records carry the snapshot's binlog position in `source.file` and `source.pos`.
fn snapshot_position(source: &Value) -> Option<u64> {
    Some(binlog_position(
        source["file"].as_str()?,
        source["pos"].as_u64()?,
    ))
}

fn show_position(position: u64) -> String {
    format!("{:06}:{}", position >> 32, position & 0xffff_ffff)
}

#[test]
fn kill_9_in_a_loop_loses_no_binlog_change_and_keeps_per_key_order() {
    let db = MyDb::create("mycrash");
    db.sql(&format!(
        "CREATE TABLE accounts (id INT PRIMARY KEY, seq BIGINT NOT NULL, note TEXT);
         INSERT INTO accounts SELECT seq, 0, CONCAT('initial row ', seq, ' ', REPEAT('x', 40))
           FROM seq_1_to_{INITIAL_ROWS};"
    ));
    let scratch = support::scratch("mycrash");
    let setup = Setup {
        label: "mysql crash loop",
        config: db.connector(&[]),
        scratch: scratch.path().to_path_buf(),
        topic: db.topic("accounts"),
        positions: BINLOG,
        // The snapshot of INITIAL_ROWS takes about 0.2 s; its first records are in the log
        // after some 30 ms.
        snapshot_kill_ms: 200,
        kafka: None,
    };
    let name = db.name.as_str();
    let records = crash::kill_loop(&setup, move || My::connect(name));

    // What a compacting consumer ends with is the table.
    let logged = crash::final_state(&records);
    let table: HashMap<i64, i64> = db
        .sql("SELECT id, seq FROM accounts")
        .lines()
        .map(|l| {
            let (id, seq) = l.split_once('\t').expect("two columns");
            (
                id.parse().expect("an id"),
                seq.parse().expect("a seq value"),
            )
        })
        .collect();
    let ids: BTreeSet<i64> = table.keys().chain(logged.keys()).copied().collect();
    let differ: Vec<String> = ids
        .into_iter()
        .filter(|id| table.get(id) != logged.get(id))
        .map(|id| {
            format!(
                "id {id}: table {:?}, log {:?}",
                table.get(&id),
                logged.get(&id)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "the log's last state differs from the table for {} keys (None = absent):\n{}",
        differ.len(),
        differ[..differ.len().min(20)].join("\n")
    );
    println!(
        "mysql crash loop: the log's last state equals the table ({} rows)",
        table.len()
    );
}

/// A writer's connection, as root.
struct My(mysql_async::Conn);

impl My {
    async fn connect(db: &str) -> My {
        My(support::mariadb::connect(db).await)
    }

    /// Runs a statement and checks how many rows it changed.
    async fn change(&mut self, what: &str, sql: &str, id: i64, params: Option<i64>) {
        let result = match params {
            Some(p) => self.0.exec_drop(sql, (p, id)).await,
            None => self.0.exec_drop(sql, (id,)).await,
        };
        result.unwrap_or_else(|e| panic!("{what} of row {id}: {e}"));
        assert_eq!(
            self.0.affected_rows(),
            1,
            "{what} of row {id} changed {} rows",
            self.0.affected_rows()
        );
    }
}

impl Database for My {
    async fn begin(&mut self) {
        self.0.query_drop("START TRANSACTION").await.expect("BEGIN");
    }

    async fn commit(&mut self) {
        self.0.query_drop("COMMIT").await.expect("COMMIT");
    }

    async fn rollback(&mut self) {
        self.0.query_drop("ROLLBACK").await.expect("ROLLBACK");
    }

    async fn insert(&mut self, id: i64) {
        self.0
            .exec_drop(
                "INSERT INTO accounts (id, seq, note) VALUES (?, 0, ?)",
                (id, format!("inserted {id}")),
            )
            .await
            .unwrap_or_else(|e| panic!("insert of row {id}: {e}"));
    }

    async fn update(&mut self, id: i64, old: i64) {
        self.change(
            "update",
            "UPDATE accounts SET seq = seq + 1, note = 'updated' WHERE seq = ? AND id = ?",
            id,
            Some(old),
        )
        .await;
    }

    async fn update_to_roll_back(&mut self, id: i64) {
        self.change(
            "update to roll back",
            "UPDATE accounts SET seq = seq + 1000000000, note = 'rolled back' WHERE id = ?",
            id,
            None,
        )
        .await;
    }

    async fn delete(&mut self, id: i64) {
        self.change("delete", "DELETE FROM accounts WHERE id = ?", id, None)
            .await;
    }

    async fn position(&mut self) -> u64 {
        let row: Option<mysql_async::Row> = self
            .0
            .query_first("SHOW MASTER STATUS")
            .await
            .expect("SHOW MASTER STATUS");
        let row = row.expect("the binlog is enabled");
        let file: String = row.get(0).expect("the binlog file");
        let pos: u64 = row.get(1).expect("the binlog position");
        binlog_position(&file, pos)
    }
}
