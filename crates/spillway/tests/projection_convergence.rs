//! Projections converge under load while both processes die: an application keeps
//! committing pgbench-style updates, inserts and deletes to PostgreSQL (and, in the second
//! test, MariaDB) while the capturing process and the projecting process are each killed
//! with SIGKILL over and over. After the writers stop and the pipeline catches up:
//!
//! - the PostgreSQL and the SQLite projection (upserts by key) equal the source table row
//!   for row, every column;
//! - an event-log projection (`insert.mode=insert`, no key: one row per change record)
//!   holds exactly as many rows as the stream has change records: no batch applied twice,
//!   none skipped, though the projector died mid-batch many times.
//!
//! Figures go to stdout (`cargo nextest run -p spillway --test projection_convergence
//! --no-capture`).

mod support;

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::mariadb::MyDb;
use support::projection::{projection, rows, wait_until};
use support::{read_topic, scratch, wait_for_log, Spillway, TestDb};

/// Rows the table starts with.
const INITIAL: i64 = 3000;
/// How long the writers write while processes die.
const WRITE_FOR: Duration = Duration::from_secs(25);
/// Writer tasks.
const WRITERS: usize = 3;

/// One transaction of the workload, as SQL both servers take.
fn transaction(rng: &mut u64, next_id: &AtomicI64) -> (Vec<String>, bool) {
    let mut draw = |n: u64| {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng % n
    };
    let mut statements = Vec::new();
    for _ in 0..=draw(3) {
        let aid = 1 + draw(next_id.load(Ordering::Relaxed) as u64) as i64;
        match draw(100) {
            0..=69 => statements.push(format!(
                "UPDATE accounts SET abalance = abalance + {}, filler = 'u{}' WHERE aid = {aid}",
                draw(2001) as i64 - 1000,
                draw(1_000_000)
            )),
            70..=84 => {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                statements.push(format!(
                    "INSERT INTO accounts (aid, bid, abalance, filler) VALUES ({id}, {}, 0, 'new {id}')",
                    id % 10
                ));
            }
            _ => statements.push(format!("DELETE FROM accounts WHERE aid = {aid}")),
        }
    }
    let commit = draw(20) != 0;
    (statements, commit)
}

const SCHEMA: &str = "CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler varchar(40) NOT NULL)";

/// What a run measured.
#[derive(Default)]
struct Figures {
    transactions: AtomicU64,
    rolled_back: AtomicU64,
}

/// Kills and restarts the two processes in turn until `stop`; returns the kill counts.
fn kill_loop(
    source: &mut Spillway,
    projector: &mut Spillway,
    restart: &dyn Fn(bool) -> Spillway,
    stop: &AtomicBool,
) -> (u32, u32) {
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    let (mut source_kills, mut projector_kills) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(300 + rng % 900));
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Both now and then, else one of them.
        match rng % 5 {
            0 => {
                source.kill9();
                projector.kill9();
                source_kills += 1;
                projector_kills += 1;
                *source = restart(true);
                *projector = restart(false);
            }
            1 | 2 => {
                source.kill9();
                source_kills += 1;
                *source = restart(true);
            }
            _ => {
                projector.kill9();
                projector_kills += 1;
                *projector = restart(false);
            }
        }
    }
    (source_kills, projector_kills)
}

/// Both processes, started over the same data directory.
struct Pipeline {
    data: PathBuf,
    source_config: Value,
    projector_config: Value,
    port: u16,
}

impl Pipeline {
    fn start(&self, source: bool) -> Spillway {
        if source {
            Spillway::start(&self.source_config, &self.data)
        } else {
            let listen = format!("127.0.0.1:{}", self.port);
            Spillway::start_with(&self.projector_config, &self.data, &["--listen", &listen])
        }
    }
}

/// The three projections of the source's `accounts` topic.
fn projections(topic: &str, target_url: &str) -> Value {
    let topics = regex_escape(topic);
    json!([
        projection(
            "state-pg",
            &topics,
            &[
                ("connection.url", target_url),
                ("table.name.format", "accounts")
            ]
        ),
        projection("state-lite", &topics, &[("table.name.format", "accounts")]),
        projection(
            "events",
            &topics,
            &[
                ("table.name.format", "events"),
                ("insert.mode", "insert"),
                ("primary.key.mode", "none"),
                ("delete.enabled", "false"),
            ],
        ),
    ])
}

fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

/// Runs the workload with `write` while processes die, then checks convergence.
/// `source_rows` lists the source table as `aid|bid|abalance|filler` lines by aid.
async fn converge<W, F>(
    label: &str,
    pipeline: Pipeline,
    topic: &str,
    target: &TestDb,
    mut connect: impl FnMut() -> F,
    source_rows: impl Fn() -> Vec<String>,
) where
    F: std::future::Future<Output = W>,
    W: Writer + Send + 'static,
{
    let mut source = pipeline.start(true);
    let mut projector = pipeline.start(false);
    wait_for_log(&source, "streaming", Duration::from_secs(60));
    // The kills start once the initial snapshot is committed. A kill while its records are
    // still being written makes the next start take a new snapshot (PostgreSQL: from a new
    // slot; MySQL/MariaDB: at a new binlog position), and a row deleted between the two
    // snapshots then has no delete event, so downstream keeps it. That gap (a snapshot that
    // starts over instead of resuming) is written down in ARCHITECTURE.md.
    let offsets = pipeline.data.join("offsets");
    wait_until(
        Duration::from_secs(60),
        "the initial snapshot committed",
        || {
            std::fs::read_dir(&offsets)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| std::fs::read(entry.path()).ok())
                .filter_map(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .any(|offset| offset["position"]["phase"] == "stream")
        },
        || source.logs(),
    );
    let next_id = Arc::new(AtomicI64::new(INITIAL + 1));
    let figures = Arc::new(Figures::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut writer = connect().await;
        let (next_id, figures) = (next_id.clone(), figures.clone());
        writers.push(tokio::spawn(async move {
            let mut rng = 0x2545_f491_4f6c_dd1d_u64.wrapping_mul(w as u64 + 1);
            let started = Instant::now();
            while started.elapsed() < WRITE_FOR {
                let (statements, commit) = transaction(&mut rng, &next_id);
                writer.run(&statements, commit).await;
                figures.transactions.fetch_add(1, Ordering::Relaxed);
                if !commit {
                    figures.rolled_back.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    let killer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let restart = |source: bool| pipeline.start(source);
            let kills = kill_loop(&mut source, &mut projector, &restart, &stop);
            (kills, source, projector, pipeline)
        })
    };
    for w in writers {
        w.await.expect("writer task");
    }
    stop.store(true, Ordering::Relaxed);
    let ((source_kills, projector_kills), source, mut projector, pipeline) =
        killer.join().expect("killer thread");
    let catch_up = Instant::now();
    let expected = source_rows();
    let pg_rows = || {
        support::psql(
            &target.name,
            "SELECT aid, bid, abalance, filler FROM accounts ORDER BY aid",
        )
        .lines()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    let lite_rows = || {
        support::projection::try_rows(
            &pipeline.data,
            "state-lite",
            "SELECT aid, bid, abalance, filler FROM accounts ORDER BY aid",
        )
        .unwrap_or_default()
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect::<Vec<_>>()
    };
    wait_until(
        Duration::from_secs(120),
        "the projections equal to the source",
        || pg_rows() == expected && lite_rows() == expected,
        || {
            let (pg, lite) = (pg_rows(), lite_rows());
            let first_diff = |got: &[String]| {
                expected
                    .iter()
                    .zip(got)
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("source {a} / projection {b}"))
            };
            // Keep the evidence: the data directory (log, offsets, SQLite projections) and
            // the rows, outside the scratch directory that the panic removes.
            let keep = std::env::temp_dir().join(format!(
                "spillway-convergence-failure-{}-{}",
                label.replace(' ', "-"),
                std::process::id()
            ));
            let _ = std::process::Command::new("cp")
                .arg("-a")
                .arg(&pipeline.data)
                .arg(&keep)
                .status();
            std::fs::write(keep.join("expected-rows.txt"), expected.join("\n")).ok();
            std::fs::write(keep.join("pg-rows.txt"), pg.join("\n")).ok();
            format!(
                "kept in {}\nsource {} rows, pg {} rows ({:?}), sqlite {} rows ({:?})\nprojector log:\n{}\ncapture log:\n{}",
                keep.display(),
                expected.len(),
                pg.len(),
                first_diff(&pg),
                lite.len(),
                first_diff(&lite),
                projector.logs(),
                source.logs()
            )
        },
    );
    let caught_up = catch_up.elapsed();
    // Exactly once: one event row per change record of the stream.
    let records = read_topic(&pipeline.data, topic);
    let changes = records
        .iter()
        .filter(|r| matches!(r.op(), Some("c" | "r" | "u")))
        .count();
    let events = || rows(&pipeline.data, "events", "SELECT count(*) FROM events")[0][0].as_u64();
    wait_until(
        Duration::from_secs(60),
        "the event projection holding every change record",
        || events() >= Some(changes as u64),
        || format!("{:?} event rows, {changes} change records", events()),
    );
    assert_eq!(
        events(),
        Some(changes as u64),
        "the event projection applied some record twice"
    );
    println!(
        "{label}: {} transactions ({} rolled back), {} rows at the end, {} records in the stream ({changes} changes), \
         source killed {source_kills} times, projector killed {projector_kills} times, \
         projections equal to the source {:.1} s after the writers stopped",
        figures.transactions.load(Ordering::Relaxed),
        figures.rolled_back.load(Ordering::Relaxed),
        expected.len(),
        records.len(),
        caught_up.as_secs_f64(),
    );
    assert!(
        source_kills >= 8 && projector_kills >= 8,
        "too few kills: {source_kills} and {projector_kills}"
    );
    let logs = projector.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(projector.stop().success(), "{logs}");
    drop(source);
}

/// A writer's connection.
trait Writer {
    fn run(
        &mut self,
        statements: &[String],
        commit: bool,
    ) -> impl std::future::Future<Output = ()> + Send;
}

struct Pg(tokio_postgres::Client);

impl Writer for Pg {
    async fn run(&mut self, statements: &[String], commit: bool) {
        let end = if commit { "COMMIT" } else { "ROLLBACK" };
        let sql = format!("BEGIN; {}; {end}", statements.join("; "));
        self.0
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

struct My(mysql_async::Conn);

impl Writer for My {
    async fn run(&mut self, statements: &[String], commit: bool) {
        self.0.query_drop("BEGIN").await.expect("BEGIN");
        for s in statements {
            self.0
                .query_drop(s)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        let end = if commit { "COMMIT" } else { "ROLLBACK" };
        self.0.query_drop(end).await.expect(end);
    }
}

fn pipeline(dir: &Path, source_config: Value, topic: &str, target_url: &str) -> Pipeline {
    Pipeline {
        data: dir.join("data"),
        source_config,
        projector_config: projections(topic, target_url),
        port: support::free_port(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_projections_equal_the_source_after_both_processes_are_killed_in_a_loop() {
    let db = TestDb::create("convpg");
    let target = TestDb::create("convpgt");
    db.sql(&format!(
        "{SCHEMA}; INSERT INTO accounts SELECT i, i % 10, 0, 'initial ' || i FROM generate_series(1, {INITIAL}) i"
    ));
    let dir = scratch("convpg");
    let topic = db.topic("accounts");
    let url = format!("postgresql://postgres@127.0.0.1:5432/{}", target.name);
    let p = pipeline(dir.path(), db.connector(&[]), &topic, &url);
    let name = db.name.clone();
    converge(
        "postgres convergence",
        p,
        &topic,
        &target,
        || {
            let name = name.clone();
            async move { Pg(support::connect(&name).await) }
        },
        || {
            db.sql("SELECT aid, bid, abalance, filler FROM accounts ORDER BY aid")
                .lines()
                .map(str::to_string)
                .collect()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_projections_equal_the_source_after_both_processes_are_killed_in_a_loop() {
    let my = MyDb::create("convmy");
    let target = TestDb::create("convmyt");
    my.sql(&format!(
        "{SCHEMA}; INSERT INTO accounts SELECT seq, seq % 10, 0, CONCAT('initial ', seq) FROM seq_1_to_{INITIAL}"
    ));
    let dir = scratch("convmy");
    let topic = my.topic("accounts");
    let url = format!("postgresql://postgres@127.0.0.1:5432/{}", target.name);
    let p = pipeline(dir.path(), my.connector(&[]), &topic, &url);
    let name = my.name.clone();
    converge(
        "mariadb convergence",
        p,
        &topic,
        &target,
        || {
            let name = name.clone();
            async move { My(support::mariadb::connect(&name).await) }
        },
        || {
            my.sql("SELECT aid, bid, abalance, filler FROM accounts ORDER BY aid")
                .lines()
                .map(|l| l.replace('\t', "|"))
                .collect()
        },
    )
    .await;
}
