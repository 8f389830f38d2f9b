//! `pg-capture`: how fast spillway captures PostgreSQL changes, next to the limit on the same
//! machine in the same run.
//!
//! One database (`spillway_bench`, dropped and created afresh) gets one slot per reader, all
//! created before any change, then `--rows` row changes (half inserts, half updates, in
//! transactions of `--batch` rows). Every reader then catches up on the same WAL, alone on
//! the machine:
//!
//! * the server alone decoding with pgoutput (`pg_logical_slot_get_binary_changes`);
//! * `pg_recvlogical` with pgoutput (the reference of the ratio column: the server decodes,
//!   the client discards) and with test_decoding (text), up to the WAL end (`--endpos`);
//! * spillway into its embedded log, schemaless JSON and JSON with schemas;
//! * Debezium 3.x through `scripts/debezium-capture.sh`, when it is there.
//!
//! Then latency, after a warm-up: single-row transactions at `--latency-rate` per second for
//! `--latency-secs`, commit-return to durable-in-the-log for spillway (read back with
//! [`LogReader`]), commit-return to the line printed by `spillway tail --follow` in another
//! process (woken by the log's watcher, and polling with `SPILLWAY_LOG_WATCH=poll`), and
//! commit-return to the line on `pg_recvlogical`'s stdout (test_decoding). `--latency-only`
//! skips the load and the throughput phases.
//!
//! Needs `spillway` built in release mode next to this program
//! (`cargo build --release -p spillway -p spillway-bench`). See `bench/README.md`.

use anyhow::{anyhow, ensure, Context, Result};
use clap::Parser;
use serde_json::{json, Value};
use spillway_bench::capture::{
    exit_code, print_header, print_rows, run_to_end, with_cpu, Bench, CommonArgs, Proc,
    SpillwayConnector, Throughput, FORMATS,
};
use spillway_bench::postgres::{load, DropDatabase, Load, Pg, BENCH_ROWS};
use spillway_streams::LogReader;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

const DB: &str = "spillway_bench";
const PUBLICATION: &str = "spillway_bench_pub";
const SLOT_PGOUTPUT: &str = "bench_pgoutput";
const SLOT_TEST_DECODING: &str = "bench_test_decoding";
const SLOT_SQL: &str = "bench_sql_pgoutput";
const SLOT_DEBEZIUM: &str = "bench_debezium";
const TABLES: &str = "public.bench_rows,public.bench_latency";

#[derive(Parser, Clone)]
#[command(about = "Capture benchmark: spillway next to pg_recvlogical and Debezium")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Single-row transactions per second in the latency phases.
    #[arg(long, default_value_t = 1_000)]
    latency_rate: u64,
    /// Seconds each latency phase writes; 0 skips them.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Connections the latency writer spreads its transactions over.
    #[arg(long, default_value_t = 4)]
    latency_connections: u64,
    /// Only the latency phases: no load, no throughput, no Debezium.
    #[arg(long)]
    latency_only: bool,
    /// The pg_recvlogical binary.
    #[arg(long, default_value = "pg_recvlogical")]
    pg_recvlogical: PathBuf,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 5432)]
    port: u16,
    #[arg(long, default_value = "postgres")]
    user: String,
}

fn main() -> ExitCode {
    exit_code("pg-capture", run(Args::parse()))
}

/// One latency measurement.
struct Latency {
    tool: String,
    sent: usize,
    seen: usize,
    rate: f64,
    /// Milliseconds, sorted.
    ms: Vec<f64>,
}

fn run(args: Args) -> Result<()> {
    let bench = Bench::new("pg-capture", &args.common)?;
    let (spillway, work, timeout) = (&bench.spillway, bench.work.path(), bench.timeout);
    let step = |what: &str| bench.step(what);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let pg = Pg {
        host: args.host.clone(),
        port: args.port,
        user: args.user.clone(),
    };

    // Cleanup runs however this function ends.
    let _cleanup = DropDatabase {
        pg: pg.clone(),
        db: DB.to_string(),
    };
    step("setting up database, publication and slots");
    let db = runtime.block_on(setup(&pg))?;

    // Spillway creates its own slot: one short run per format before the load, with
    // snapshot.mode=no_data, leaves the slot (and its offsets) at the current WAL end.
    let mut connectors = Vec::new();
    let formats = if args.latency_only {
        &FORMATS[..1]
    } else {
        &FORMATS[..]
    };
    let mut plans: Vec<(String, &str, Option<&str>, Option<&String>)> = formats
        .iter()
        .map(|(name, label, format)| (name.to_string(), *label, *format, None))
        .collect();
    if let (Some(broker), false) = (&args.common.kafka, args.latency_only) {
        for (suffix, label, format) in [
            ("json", "JSON (schemaless)", "JSON"),
            ("avro", "Avro (registry)", "AVRO"),
        ] {
            // Names of their own per run: the broker may keep an earlier run's topics.
            let name = format!("bench_kafka_{suffix}_{}", std::process::id());
            plans.push((name, label, Some(format), Some(broker)));
        }
    }
    for (name, label, format, kafka) in plans {
        let mut config = json!({
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": pg.host,
            "database.port": pg.port.to_string(),
            "database.user": pg.user,
            "database.dbname": DB,
            "slot.name": format!("{name}_slot"),
            "publication.name": PUBLICATION,
            "publication.autocreate.mode": "disabled",
            "table.include.list": TABLES,
            "snapshot.mode": "no_data",
        });
        if let Some(broker) = kafka {
            config["kafka.bootstrap.servers"] = json!(broker);
            config["topic.creation.default.replication.factor"] = json!("1");
            config["offset.storage.topic"] = json!(format!("{name}.offsets"));
        }
        let c = SpillwayConnector::new(work, &name, label, config, format)?;
        step(&format!("spillway {label}: creating its slot"));
        let mut p = c.start(spillway)?;
        p.wait_for_log("streaming changes", Duration::from_secs(60))?;
        p.stop_ok(timeout)?;
        connectors.push(c);
    }
    let debezium = if args.latency_only {
        Err("not measured (--latency-only)".to_string())
    } else {
        bench.debezium(
            |suffix| {
                format!(
                    "connector.class=io.debezium.connector.postgresql.PostgresConnector\n\
                 database.hostname={}\ndatabase.port={}\ndatabase.user={}\ndatabase.password=\n\
                 database.dbname={DB}\ntopic.prefix=bench_debezium\nplugin.name=pgoutput\n\
                 slot.name={SLOT_DEBEZIUM}{suffix}\npublication.name={PUBLICATION}\n\
                 publication.autocreate.mode=disabled\nsnapshot.mode=no_data\n\
                 table.include.list={TABLES}\n",
                    pg.host, pg.port, pg.user
                )
            },
            &[],
        )
    };

    let mut results = Vec::new();
    let mut debezium_note = None;
    let mut loaded = None;
    if !args.latency_only {
        step(&format!(
            "load: {} row changes in transactions of {}",
            args.common.rows, args.common.batch
        ));
        let load = runtime.block_on(load(&db, args.common.rows, args.common.batch))?;
        eprintln!(
            "  {:.1} s, {:.0} MB of WAL, end {}",
            load.secs,
            load.wal_bytes as f64 / 1e6,
            load.end_lsn
        );

        step("server-side decoding, pgoutput (pg_logical_slot_get_binary_changes)");
        results.push(runtime.block_on(sql_decoding(&db, args.common.rows, &load.end_lsn))?);
        step("pg_recvlogical, pgoutput");
        results.push(with_cpu(|| {
            recvlogical_throughput(&args, &pg, SLOT_PGOUTPUT, true, &load.end_lsn, timeout)
        })?);
        step("pg_recvlogical, test_decoding");
        results.push(with_cpu(|| {
            recvlogical_throughput(
                &args,
                &pg,
                SLOT_TEST_DECODING,
                false,
                &load.end_lsn,
                timeout,
            )
        })?);
        for c in &connectors {
            step(&format!("spillway {}", c.label));
            let topic = c.topic("public", "bench_rows");
            results.push(with_cpu(|| {
                c.catch_up(spillway, &topic, args.common.rows, timeout)
            })?);
        }
        debezium_note = bench.debezium_catch_up(&debezium, &mut results);
        loaded = Some(load);
    }

    let mut latencies = Vec::new();
    if args.latency_secs > 0 {
        step(&format!(
            "latency, spillway JSON (schemaless): {} transactions/s for {} s",
            args.latency_rate, args.latency_secs
        ));
        latencies.extend(spillway_latency(
            &args,
            &runtime,
            &pg,
            &connectors[0],
            spillway,
        )?);
        step(&format!(
            "latency, pg_recvlogical test_decoding: {} transactions/s for {} s",
            args.latency_rate, args.latency_secs
        ));
        latencies.push(recvlogical_latency(&args, &runtime, &pg, &db)?);
    }

    print_report(
        &args,
        loaded.as_ref(),
        &results,
        debezium_note.as_deref(),
        &latencies,
    );
    drop(db);
    Ok(())
}

/// The server decoding the WAL with pgoutput, no client: the floor under every reader.
async fn sql_decoding(db: &Client, rows: u64, end_lsn: &str) -> Result<Throughput> {
    let started = Instant::now();
    let messages: i64 = db
        .query_one(
            &format!(
                "SELECT count(*) FROM pg_logical_slot_get_binary_changes($1, $2::text::pg_lsn, NULL,
                   'proto_version', '1', 'publication_names', '{PUBLICATION}')"
            ),
            &[&SLOT_SQL, &end_lsn],
        )
        .await
        .context("decoding with pg_logical_slot_get_binary_changes")?
        .get(0);
    ensure!(
        messages as u64 >= rows,
        "server-side decoding returned {messages} messages for {rows} changes"
    );
    Ok(Throughput::new(
        "postgres",
        "pgoutput decoded in SQL, no client",
        rows,
        started.elapsed().as_secs_f64(),
    ))
}

// ---- database -------------------------------------------------------------------------

async fn setup(pg: &Pg) -> Result<Client> {
    DropDatabase {
        pg: pg.clone(),
        db: DB.to_string(),
    }
    .run()?;
    let admin = pg.connect("postgres").await?;
    let level: String = admin
        .query_one("SHOW wal_level", &[])
        .await
        .context("SHOW wal_level")?
        .get(0);
    ensure!(
        level == "logical",
        "wal_level is {level}; logical decoding needs wal_level=logical"
    );
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .await
        .context("CREATE DATABASE")?;
    let db = pg.connect(DB).await?;
    db.batch_execute(&format!(
        "{BENCH_ROWS};
         CREATE TABLE bench_latency (id bigint PRIMARY KEY, sent_at timestamptz NOT NULL DEFAULT now());
         CREATE PUBLICATION {PUBLICATION} FOR TABLE bench_rows, bench_latency;"
    ))
    .await
    .context("creating tables and publication")?;
    for (slot, plugin) in [
        (SLOT_PGOUTPUT, "pgoutput"),
        (SLOT_TEST_DECODING, "test_decoding"),
        (SLOT_SQL, "pgoutput"),
    ] {
        db.execute(
            "SELECT pg_create_logical_replication_slot($1, $2)",
            &[&slot, &plugin],
        )
        .await
        .with_context(|| format!("creating slot {slot}"))?;
    }
    Ok(db)
}

// ---- pg_recvlogical -------------------------------------------------------------------

fn recvlogical(args: &Args, pg: &Pg, slot: &str, pgoutput: bool) -> Command {
    let mut c = Command::new(&args.pg_recvlogical);
    c.args(["-h", &pg.host, "-p", &pg.port.to_string(), "-U", &pg.user])
        .args(["-d", DB, "-S", slot, "--start", "--no-loop", "-F", "0"]);
    if pgoutput {
        c.args(["-o", "proto_version=1", "-o"])
            .arg(format!("publication_names={PUBLICATION}"));
    }
    c
}

fn recvlogical_throughput(
    args: &Args,
    pg: &Pg,
    slot: &str,
    pgoutput: bool,
    end_lsn: &str,
    timeout: Duration,
) -> Result<Throughput> {
    let mut command = recvlogical(args, pg, slot, pgoutput);
    command
        .args(["-E", end_lsn, "-f", "/dev/null"])
        .stdout(Stdio::null());
    let (secs, peak) = run_to_end(&format!("pg_recvlogical on slot {slot}"), command, timeout)?;
    let format = if pgoutput {
        "pgoutput (binary) to /dev/null"
    } else {
        "test_decoding (text) to /dev/null"
    };
    Ok(Throughput {
        peak_rss_kb: peak,
        ..Throughput::new("pg_recvlogical", format, args.common.rows, secs)
    })
}

// ---- latency --------------------------------------------------------------------------

/// Arrival times by id, filled by a reader thread.
type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

/// Inserts ids `first..first + rate * secs` into bench_latency, one per transaction, at
/// `rate` per second over several connections; returns commit-return times by id.
async fn latency_writer(
    pg: &Pg,
    first: i64,
    rate: u64,
    secs: u64,
    connections: u64,
) -> Result<(HashMap<i64, Instant>, f64)> {
    let total = (rate * secs) as i64;
    let connections = connections.max(1) as i64;
    let period = Duration::from_secs_f64(connections as f64 / rate.max(1) as f64);
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = pg.connect(DB).await?;
        let statement = client
            .prepare("INSERT INTO bench_latency (id) VALUES ($1)")
            .await?;
        let offset = period.mul_f64(c as f64 / connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(started + offset, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut committed = Vec::new();
            let mut id = first + c;
            while id < first + total {
                tick.tick().await;
                client.execute(&statement, &[&id]).await?;
                committed.push((id, Instant::now()));
                id += connections;
            }
            Ok::<_, tokio_postgres::Error>(committed)
        }));
    }
    let mut all = HashMap::new();
    for t in tasks {
        let committed = t
            .await
            .map_err(|e| anyhow!("a latency writer failed: {e}"))?
            .context("a latency insert failed")?;
        all.extend(committed);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    Ok((all, rate))
}

/// Waits (bounded) until every id has arrived, then pairs commit and arrival times.
fn latencies(
    tool: &str,
    committed: &HashMap<i64, Instant>,
    arrivals: &Arrivals,
    rate: f64,
) -> Latency {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = {
            let a = arrivals.lock().unwrap_or_else(|e| e.into_inner());
            committed.keys().filter(|id| a.contains_key(id)).count()
        };
        if seen == committed.len() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let a = arrivals.lock().unwrap_or_else(|e| e.into_inner());
    let mut ms: Vec<f64> = committed
        .iter()
        .filter_map(|(id, at)| {
            a.get(id).map(|seen| {
                // An event may be in the log before the commit's reply reaches the client.
                if *seen >= *at {
                    seen.duration_since(*at).as_secs_f64() * 1e3
                } else {
                    -(at.duration_since(*seen).as_secs_f64() * 1e3)
                }
            })
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    Latency {
        tool: tool.to_string(),
        sent: committed.len(),
        seen: ms.len(),
        rate,
        ms,
    }
}

/// One second at the measured rate (ids from `first`), until all of it has arrived: the
/// reader has caught up with the WAL and is warm when the measurement starts.
fn warm_up(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    pg: &Pg,
    first: i64,
    arrivals: &Arrivals,
) -> Result<()> {
    let (committed, _) = runtime.block_on(latency_writer(
        pg,
        first,
        args.latency_rate,
        1,
        args.latency_connections,
    ))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing = {
            let a = arrivals.lock().unwrap_or_else(|e| e.into_inner());
            committed.keys().filter(|id| !a.contains_key(id)).count()
        };
        if missing == 0 {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{missing} of {} warm-up rows did not arrive within 60 s",
            committed.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The running connector's latency as seen by three readers of its log at once: this
/// process ([`LogReader`], polling every 0.5 ms), and `spillway tail --follow` in another
/// process, woken by the log's watcher and polling (`SPILLWAY_LOG_WATCH=poll`).
fn spillway_latency(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    pg: &Pg,
    connector: &SpillwayConnector,
    binary: &Path,
) -> Result<Vec<Latency>> {
    let mut p = connector.start(binary)?;
    p.wait_for_log("streaming changes", Duration::from_secs(60))?;
    runtime.block_on(wait_slot_active(pg, &format!("{}_slot", connector.name)))?;
    let topic = connector.topic("public", "bench_latency");
    let mut tails = Vec::new();
    for (label, watch) in [
        ("spillway tail --follow (watching)", "inotify"),
        ("spillway tail --follow (polling)", "poll"),
    ] {
        tails.push((
            label,
            TailFollower::start(binary, &connector.data_dir, &topic, watch)?,
        ));
    }

    let arrivals: Arrivals = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (arrivals, stop) = (Arc::clone(&arrivals), Arc::clone(&stop));
        let data_dir = connector.data_dir.clone();
        let topic = connector.topic("public", "bench_latency");
        std::thread::spawn(move || follow_log(&data_dir, &topic, &arrivals, &stop))
    };
    let result = warm_up(args, runtime, pg, -1_000_000, &arrivals).and_then(|()| {
        runtime.block_on(latency_writer(
            pg,
            1,
            args.latency_rate,
            args.latency_secs,
            args.latency_connections,
        ))
    });
    let (committed, rate) = match result {
        Ok(r) => r,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            return Err(e);
        }
    };
    let mut measured = vec![latencies(
        "spillway (JSON, durable in log)",
        &committed,
        &arrivals,
        rate,
    )];
    for (label, tail) in &tails {
        measured.push(latencies(label, &committed, &tail.arrivals, rate));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    for (_, tail) in tails {
        tail.stop()?;
    }
    p.stop_ok(Duration::from_secs(60))?;
    Ok(measured)
}

/// `spillway tail TOPIC --follow` in a process of its own, the arrival of each line stamped
/// by a thread of this one.
struct TailFollower {
    proc: Proc,
    arrivals: Arrivals,
    reader: std::thread::JoinHandle<()>,
}

impl TailFollower {
    /// `watch` is the value of `SPILLWAY_LOG_WATCH` (`poll` makes the tail poll).
    fn start(binary: &Path, data_dir: &Path, topic: &str, watch: &str) -> Result<TailFollower> {
        let mut command = Command::new(binary);
        command
            .args(["tail", topic, "--follow", "--from-beginning", "--data-dir"])
            .arg(data_dir)
            .env("SPILLWAY_LOG_WATCH", watch)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut proc = Proc::spawn("spillway tail", command, None)?;
        let stdout = proc
            .child
            .stdout
            .take()
            .context("spillway tail has no stdout")?;
        let arrivals: Arrivals = Arc::default();
        let reader = {
            let arrivals = Arc::clone(&arrivals);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let now = Instant::now();
                    let id = serde_json::from_str::<Value>(&line)
                        .ok()
                        .and_then(|l| l["key"]["id"].as_i64());
                    if let Some(id) = id {
                        let mut a = arrivals.lock().unwrap_or_else(|e| e.into_inner());
                        a.entry(id).or_insert(now);
                    }
                }
            })
        };
        Ok(TailFollower {
            proc,
            arrivals,
            reader,
        })
    }

    fn stop(mut self) -> Result<()> {
        self.proc.terminate(Duration::from_secs(30))?;
        let _ = self.reader.join();
        Ok(())
    }
}

/// Stamps the arrival of every record of `topic` (key `{"id": N}`) until `stop`.
fn follow_log(data_dir: &Path, topic: &str, arrivals: &Arrivals, stop: &AtomicBool) {
    let mut reader = None;
    let mut next: Vec<u64> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if reader.is_none() {
            reader = LogReader::open(data_dir).ok();
        }
        let mut got = false;
        if let Some(reader) = &reader {
            let partitions = reader.topics().unwrap_or_default();
            for p in partitions.iter().filter(|p| p.topic == topic) {
                let i = p.partition as usize;
                if next.len() <= i {
                    next.resize(i + 1, 0);
                }
                let Ok(records) = reader.read(topic, p.partition, next[i], 10_000) else {
                    continue;
                };
                let now = Instant::now();
                let Some(last) = records.last() else { continue };
                next[i] = last.offset + 1;
                got = true;
                let mut a = arrivals.lock().unwrap_or_else(|e| e.into_inner());
                for r in &records {
                    let id = r
                        .key
                        .as_deref()
                        .and_then(|k| serde_json::from_slice::<Value>(k).ok())
                        .and_then(|k| k.get("payload").unwrap_or(&k)["id"].as_i64());
                    if let Some(id) = id {
                        a.entry(id).or_insert(now);
                    }
                }
            }
        }
        if !got {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

async fn wait_slot_active(pg: &Pg, slot: &str) -> Result<()> {
    let client = pg.connect(DB).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let active: Option<bool> = client
            .query_opt(
                "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await?
            .map(|r| r.get(0));
        if active == Some(true) {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "slot {slot} is not in use 30 s after its reader started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn recvlogical_latency(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    pg: &Pg,
    db: &Client,
) -> Result<Latency> {
    // Skip what the slot has not read yet (the spillway phase's rows).
    runtime.block_on(db.execute(
        "SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())",
        &[&SLOT_TEST_DECODING],
    ))?;
    let mut command = recvlogical(args, pg, SLOT_TEST_DECODING, false);
    command
        .args(["-f", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut p = Proc::spawn("pg_recvlogical", command, None)?;
    let stdout = p
        .child
        .stdout
        .take()
        .context("pg_recvlogical has no stdout")?;
    let arrivals: Arrivals = Arc::default();
    let reader = {
        let arrivals = Arc::clone(&arrivals);
        std::thread::spawn(move || {
            // table public.bench_latency: INSERT: id[bigint]:17 sent_at[...]:'...'
            const PREFIX: &str = "table public.bench_latency: INSERT: id[bigint]:";
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let now = Instant::now();
                if let Some(rest) = line.strip_prefix(PREFIX) {
                    let digits = rest.split(' ').next().unwrap_or_default();
                    if let Ok(id) = digits.parse::<i64>() {
                        let mut a = arrivals.lock().unwrap_or_else(|e| e.into_inner());
                        a.entry(id).or_insert(now);
                    }
                }
            }
        })
    };
    runtime.block_on(wait_slot_active(pg, SLOT_TEST_DECODING))?;
    p.ensure_running()?;
    warm_up(args, runtime, pg, -2_000_000, &arrivals)?;
    let (committed, rate) = runtime.block_on(latency_writer(
        pg,
        10_000_000,
        args.latency_rate,
        args.latency_secs,
        args.latency_connections,
    ))?;
    let latency = latencies(
        "pg_recvlogical (test_decoding, on stdout)",
        &committed,
        &arrivals,
        rate,
    );
    p.terminate(Duration::from_secs(30))?;
    let _ = reader.join();
    Ok(latency)
}

// ---- report ---------------------------------------------------------------------------

fn print_report(
    args: &Args,
    load: Option<&Load>,
    results: &[Throughput],
    debezium_note: Option<&str>,
    latencies: &[Latency],
) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    if let Some(load) = load {
        println!(
        "capture of {} row changes ({} inserts, {} updates; {:.0} MB of WAL; loaded in {:.1} s), {} cores",
        args.common.rows,
        args.common.rows / 2,
        args.common.rows - args.common.rows / 2,
        load.wal_bytes as f64 / 1e6,
        load.secs,
        cores
    );
        let limit = results
            .iter()
            .find(|r| r.tool == "pg_recvlogical")
            .map(|r| r.events as f64 / r.secs);
        print_header();
        print_rows(results, limit);
        if let Some(note) = debezium_note {
            println!("{note}");
        }
        for r in results {
            if let Some(note) = &r.note {
                println!("note: {note}");
            }
        }
        println!(
            "events/s: changes / wall time from process start to the last change (durable for \
         spillway, written for Debezium); ratio: to pg_recvlogical with pgoutput; CPU s: the \
         client process (the server's walsender works for every reader alike)"
        );
    } else {
        println!("{cores} cores");
    }
    if !latencies.is_empty() {
        println!();
        println!(
            "latency, commit returned to event available: single-row transactions, {} s at {}/s each",
            args.latency_secs, args.latency_rate
        );
        println!(
            "{:<42} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "tool", "sent", "seen", "rate/s", "p50 ms", "p99 ms", "max ms"
        );
        for l in latencies {
            let pct = |q: f64| -> String {
                if l.ms.is_empty() {
                    return "-".to_string();
                }
                let i = ((l.ms.len() as f64 * q).ceil() as usize).clamp(1, l.ms.len()) - 1;
                format!("{:.2}", l.ms[i])
            };
            println!(
                "{:<42} {:>8} {:>8} {:>8.0} {:>8} {:>8} {:>8}",
                l.tool,
                l.sent,
                l.seen,
                l.rate,
                pct(0.50),
                pct(0.99),
                pct(1.0)
            );
        }
    }
}
