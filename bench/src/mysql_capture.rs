//! `mysql-capture`: how fast spillway captures MariaDB binlog changes and snapshots a
//! table, next to the server's own tools on the same machine in the same run.
//!
//! One database (`spillway_bench_my`, dropped and created afresh) gets one table. Every
//! reader's start position is taken before any change: spillway's (one connector per
//! format) and Debezium's by running each once with `snapshot.mode=no_data` until it
//! streams. Then `--rows` row changes (half inserts, half updates, in transactions of
//! `--batch` rows) go into the binlog, and every reader catches up on that same stretch of
//! it, alone on the machine:
//!
//! * `mariadb-binlog --read-from-remote-server` from the start to the end position, raw
//!   (events as base64 `BINLOG` statements) and with the rows decoded (`-v`, the reference
//!   of the ratio column);
//! * spillway into its embedded log, schemaless JSON and JSON with schemas;
//! * Debezium 3.x's MySQL connector through `scripts/debezium-capture.sh`, when it can run.
//!
//! Then the table is topped up to `--rows` rows and read by spillway's snapshot
//! (`snapshot.mode=initial_only`), next to a plain `mariadb -e "SELECT * ..."`.
//!
//! Needs `spillway` built in release mode next to this program
//! (`cargo build --release -p spillway -p spillway-bench`). See `bench/README.md`.

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use serde_json::json;
use spillway_bench::capture::{
    exit_code, print_header, print_rows, run_to_end, with_cpu, Bench, CommonArgs,
    SpillwayConnector, Throughput, FORMATS,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const DB: &str = "spillway_bench_my";
const TABLE: &str = "bench_rows";
/// Replica server ids, one per binlog reader (`database.server.id`): spillway's connectors
/// count up from the first, Debezium's from the second.
const SERVER_IDS: (u32, u32) = (6301, 6311);

#[derive(Parser, Clone)]
#[command(about = "Capture benchmark: spillway next to mariadb-binlog, SELECT and Debezium")]
struct Args {
    /// (`--rows` is also the number of rows of the snapshot.)
    #[command(flatten)]
    common: CommonArgs,
    /// The mariadb-binlog binary.
    #[arg(long, default_value = "mariadb-binlog")]
    mariadb_binlog: PathBuf,
    /// The mariadb client binary.
    #[arg(long, default_value = "mariadb")]
    mariadb: PathBuf,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 3306)]
    port: u16,
    /// User (without password) for the load, `mariadb-binlog` and the SELECT.
    #[arg(long, default_value = "root")]
    user: String,
    /// User of the connectors (replication privileges).
    #[arg(long, default_value = "spillway")]
    cdc_user: String,
    #[arg(long, default_value = "spillway")]
    cdc_password: String,
}

fn main() -> ExitCode {
    exit_code("mysql-capture", run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let bench = Bench::new("mysql-capture", &args.common)?;
    let (spillway, work, timeout) = (&bench.spillway, bench.work.path(), bench.timeout);
    let (rows, batch) = (args.common.rows, args.common.batch);
    let step = |what: &str| bench.step(what);
    let db = Maria {
        client: args.mariadb.clone(),
        host: args.host.clone(),
        port: args.port,
        user: args.user.clone(),
    };

    // Cleanup runs however this function ends.
    let _cleanup = Cleanup { db: db.clone() };
    step("setting up the database");
    let version = setup(&db)?;

    let mut notes = Vec::new();
    let mut connectors = Vec::new();
    for (i, (name, label, format)) in FORMATS.into_iter().enumerate() {
        let config = connector_config(&args, SERVER_IDS.0 + i as u32, "no_data");
        let c = SpillwayConnector::new(work, name, label, config, format)?;
        step(&format!("spillway {label}: taking its start position"));
        notes.extend(take_start_position(&c, spillway, timeout)?);
        connectors.push(c);
    }
    if let Some(broker) = &args.common.kafka {
        for (i, (suffix, label, format)) in [
            ("json", "JSON (schemaless)", "JSON"),
            ("avro", "Avro (registry)", "AVRO"),
        ]
        .into_iter()
        .enumerate()
        {
            // Names of their own per run: the broker may keep an earlier run's topics.
            let name = format!("bench_kafka_{suffix}_{}", std::process::id());
            let mut config = connector_config(&args, SERVER_IDS.0 + 3 + i as u32, "no_data");
            config["kafka.bootstrap.servers"] = serde_json::Value::String(broker.clone());
            config["topic.creation.default.replication.factor"] = "1".into();
            config["offset.storage.topic"] = format!("{name}.offsets").into();
            config["schema.history.internal.kafka.topic"] = format!("{name}.history").into();
            let c = SpillwayConnector::new(work, &name, label, config, Some(format))?;
            step(&format!(
                "spillway {label} to Kafka: taking its start position"
            ));
            notes.extend(take_start_position(&c, spillway, timeout)?);
            connectors.push(c);
        }
    }
    let debezium = bench.debezium(
        |suffix| debezium_properties(&args, suffix),
        // The snapshot's schema changes: records, so the offsets get stored.
        &["include.schema.changes=true"],
    );

    let start = db.position()?;
    step(&format!(
        "load: {rows} row changes in transactions of {batch}, from {start}"
    ));
    let load = load(&db, rows, batch)?;
    let end = db.position()?;
    let binlog_bytes = db.bytes_between(&start, &end)?;
    eprintln!(
        "  {load:.1} s, {:.0} MB of binlog, end {end}",
        binlog_bytes as f64 / 1e6
    );

    let mut stream = Vec::new();
    for decode in [false, true] {
        step(&format!(
            "mariadb-binlog{}",
            if decode { " -v" } else { "" }
        ));
        stream.push(with_cpu(|| {
            binlog_throughput(&args, &db, &start, &end, decode, timeout)
        })?);
    }
    for c in &connectors {
        step(&format!("spillway {}", c.label));
        let topic = c.topic(DB, TABLE);
        stream.push(with_cpu(|| c.catch_up(spillway, &topic, rows, timeout))?);
    }
    notes.extend(bench.debezium_catch_up(&debezium, &mut stream));

    step(&format!("snapshot: topping the table up to {rows} rows"));
    insert_rows(&db, rows / 2 + 1, rows, batch)?;
    let mut snapshot = Vec::new();
    step("mariadb -e SELECT");
    snapshot.push(with_cpu(|| select_throughput(&db, rows, timeout))?);
    for (i, (name, label, format)) in FORMATS.into_iter().enumerate() {
        step(&format!("spillway snapshot, {label}"));
        let config = connector_config(&args, SERVER_IDS.0 + 5 + i as u32, "initial_only");
        let name = format!("{name}_snapshot");
        let c = SpillwayConnector::new(work, &name, label, config, format)?;
        let topic = c.topic(DB, TABLE);
        let mut r = with_cpu(|| c.catch_up(spillway, &topic, rows, timeout))?;
        r.format = format!("snapshot, {label}");
        snapshot.push(r);
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "capture of {rows} row changes ({} inserts, {} updates in transactions of {batch}; \
         {:.0} MB of binlog; loaded in {load:.1} s) and a snapshot of {rows} rows, \
         MariaDB {version}, {cores} cores",
        rows / 2,
        rows - rows / 2,
        binlog_bytes as f64 / 1e6,
    );
    let rate = |r: &Throughput| r.events as f64 / r.secs;
    print_header();
    // The references: the decoded mariadb-binlog run and the SELECT.
    print_rows(&stream, stream.get(1).map(rate));
    print_rows(&snapshot, snapshot.first().map(rate));
    for note in stream
        .iter()
        .chain(&snapshot)
        .filter_map(|r| r.note.as_ref())
        .chain(&notes)
    {
        println!("note: {note}");
    }
    println!(
        "events/s: rows / wall time from process start to the last row (durable for spillway, \
         written for Debezium); ratio: binlog readers to mariadb-binlog -v, snapshots to the \
         SELECT; CPU s: the client process (the server's binlog dump thread works for every \
         reader alike)"
    );
    Ok(())
}

/// The first line of a text, for an error message.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

// ---- database -------------------------------------------------------------------------

#[derive(Clone)]
struct Maria {
    client: PathBuf,
    host: String,
    port: u16,
    user: String,
}

/// A place in the binlog.
struct BinlogPosition {
    file: String,
    pos: u64,
}

impl std::fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

impl Maria {
    /// The client, connected as the admin user.
    fn command(&self) -> Command {
        let mut c = Command::new(&self.client);
        c.arg(format!("--host={}", self.host))
            .arg(format!("--port={}", self.port))
            .arg(format!("--user={}", self.user));
        c
    }

    /// Runs SQL (on stdin, so any length goes) and returns the tab-separated rows.
    fn sql(&self, sql: &str) -> Result<String> {
        let mut child = self
            .command()
            .args(["--batch", "--skip-column-names"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", self.client.display()))?;
        child
            .stdin
            .take()
            .context("the client has no stdin")?
            .write_all(sql.as_bytes())?;
        let out = child.wait_with_output()?;
        ensure!(
            out.status.success(),
            "mariadb failed on {:?}: {}",
            one_line(sql),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The end of the binlog now.
    fn position(&self) -> Result<BinlogPosition> {
        let status = self.sql("SHOW MASTER STATUS")?;
        let mut fields = status.split('\t');
        match (fields.next(), fields.next().and_then(|p| p.parse().ok())) {
            (Some(file), Some(pos)) if !file.is_empty() => Ok(BinlogPosition {
                file: file.to_string(),
                pos,
            }),
            _ => bail!("SHOW MASTER STATUS says {status:?}: is the binary log enabled (log_bin)?"),
        }
    }

    /// The binlog files from `start`'s to `end`'s, in order.
    fn files(&self, start: &BinlogPosition, end: &BinlogPosition) -> Result<Vec<(String, u64)>> {
        Ok(self
            .sql("SHOW BINARY LOGS")?
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((f.next()?.to_string(), f.next()?.parse().ok()?))
            })
            .filter(|(name, _)| *name >= start.file && *name <= end.file)
            .collect())
    }

    fn bytes_between(&self, start: &BinlogPosition, end: &BinlogPosition) -> Result<u64> {
        let files = self.files(start, end)?;
        let mut bytes: u64 = files[..files.len().saturating_sub(1)]
            .iter()
            .map(|(_, size)| size)
            .sum();
        bytes += end.pos;
        Ok(bytes.saturating_sub(start.pos))
    }
}

/// Drops the benchmark's database.
struct Cleanup {
    db: Maria,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Err(e) = self.db.sql(&format!("DROP DATABASE IF EXISTS {DB}")) {
            eprintln!("mysql-capture: cleanup failed: {e:#}");
        }
    }
}

/// Creates the database and its table; returns the server's version.
fn setup(db: &Maria) -> Result<String> {
    let settings = db.sql("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, VERSION()")?;
    let fields: Vec<&str> = settings.split('\t').collect();
    ensure!(
        fields.len() == 4 && fields[0] == "1" && fields[1] == "ROW" && fields[2] == "FULL",
        "the server has log_bin, binlog_format, binlog_row_image = {:?}; capture needs 1, ROW, FULL",
        &fields[..fields.len().min(3)]
    );
    db.sql(&format!(
        "DROP DATABASE IF EXISTS {DB};
         CREATE DATABASE {DB};
         CREATE TABLE {DB}.{TABLE} (
            id INT PRIMARY KEY,
            name VARCHAR(100) NOT NULL,
            amount DECIMAL(12,2) NOT NULL,
            created_at DATETIME(6) NOT NULL,
            active TINYINT NOT NULL);"
    ))?;
    Ok(fields[3].to_string())
}

/// Inserts ids `first..=last`, `batch` rows per transaction.
fn insert_rows(db: &Maria, first: u64, last: u64, batch: u64) -> Result<()> {
    db.sql(&insert_script(first, last, batch))
        .context("inserting rows")?;
    Ok(())
}

/// The statements inserting ids `first..=last`, `batch` rows each.
fn insert_script(first: u64, last: u64, batch: u64) -> String {
    let mut script = String::new();
    let mut a = first;
    while a <= last {
        let b = (a + batch - 1).min(last);
        script.push_str(&format!(
            "INSERT INTO {DB}.{TABLE}
             SELECT seq, CONCAT('customer ', seq, ' ', MD5(seq)), (seq % 100000) / 100 + 0.25,
                    TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq * 1000001 MICROSECOND,
                    seq % 3 = 0
               FROM {DB}.seq_{a}_to_{b};\n"
        ));
        a = b + 1;
    }
    script
}

/// `rows` changes: inserts of the first half, then updates of as many rows; returns the
/// seconds it took. With `batch` at least `rows`, all of them are one transaction.
fn load(db: &Maria, rows: u64, batch: u64) -> Result<f64> {
    let started = Instant::now();
    let inserts = rows / 2;
    let updates = rows - inserts;
    let one_transaction = batch >= rows;
    let mut script = String::new();
    if one_transaction {
        script.push_str("BEGIN;\n");
    }
    script.push_str(&insert_script(1, inserts, batch));
    let mut done = 0;
    while done < updates {
        let n = batch.min(updates - done);
        // Ids wrap around when there are more updates than rows (odd --rows).
        let a = done % inserts.max(1) + 1;
        let b = (a + n - 1).min(inserts.max(1));
        script.push_str(&format!(
            "UPDATE {DB}.{TABLE} SET amount = amount + 1, active = 1 - active,
                    name = CONCAT(name, '.') WHERE id BETWEEN {a} AND {b};\n"
        ));
        done += b - a + 1;
    }
    if one_transaction {
        script.push_str("COMMIT;\n");
    }
    db.sql(&script).context("loading the changes")?;
    let secs = started.elapsed().as_secs_f64();
    let count: u64 = db
        .sql(&format!("SELECT COUNT(*) FROM {DB}.{TABLE}"))?
        .parse()
        .context("counting the rows")?;
    ensure!(
        count == inserts,
        "the table holds {count} rows after inserting {inserts}"
    );
    Ok(secs)
}

// ---- readers --------------------------------------------------------------------------

/// `mariadb-binlog` reading `start..end` from the server, to /dev/null.
fn binlog_throughput(
    args: &Args,
    db: &Maria,
    start: &BinlogPosition,
    end: &BinlogPosition,
    decode: bool,
    timeout: Duration,
) -> Result<Throughput> {
    let mut command = Command::new(&args.mariadb_binlog);
    command
        .arg("--read-from-remote-server")
        .arg(format!("--host={}", db.host))
        .arg(format!("--port={}", db.port))
        .arg(format!("--user={}", db.user))
        .arg(format!("--start-position={}", start.pos))
        .arg(format!("--stop-position={}", end.pos));
    if decode {
        command.args(["--base64-output=decode-rows", "--verbose"]);
    }
    command
        .args(db.files(start, end)?.iter().map(|(name, _)| name))
        .stdout(Stdio::null());
    let (secs, peak) = run_to_end("mariadb-binlog", command, timeout)?;
    let format = if decode {
        "rows decoded (-v) to /dev/null"
    } else {
        "raw (base64 BINLOG) to /dev/null"
    };
    Ok(Throughput {
        peak_rss_kb: peak,
        ..Throughput::new("mariadb-binlog", format, args.common.rows, secs)
    })
}

/// `mariadb -e "SELECT * FROM ..."` to /dev/null.
fn select_throughput(db: &Maria, rows: u64, timeout: Duration) -> Result<Throughput> {
    let mut command = db.command();
    command
        .arg("-e")
        .arg(format!("SELECT * FROM {DB}.{TABLE}"))
        .stdout(Stdio::null());
    let (secs, peak) = run_to_end("mariadb", command, timeout)?;
    Ok(Throughput {
        peak_rss_kb: peak,
        ..Throughput::new("mariadb", "SELECT * to /dev/null", rows, secs)
    })
}

/// A spillway connector config for the benchmark table.
fn connector_config(args: &Args, server_id: u32, snapshot_mode: &str) -> serde_json::Value {
    json!({
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "database.hostname": args.host,
        "database.port": args.port.to_string(),
        "database.user": args.cdc_user,
        "database.password": args.cdc_password,
        "database.server.id": server_id.to_string(),
        "database.include.list": DB,
        "table.include.list": format!("{DB}.{TABLE}"),
        "snapshot.mode": snapshot_mode,
    })
}

/// Runs spillway until it streams and stops it, so that its stored position lies before
/// the load. Should no position have been stored (nothing was captured in that run), the
/// empty table's snapshot (`snapshot.mode=initial`) stores it instead; that is said in the
/// returned note.
fn take_start_position(
    c: &SpillwayConnector,
    binary: &Path,
    timeout: Duration,
) -> Result<Option<String>> {
    let mut note = None;
    for mode in ["no_data", "initial"] {
        c.set("snapshot.mode", mode)?;
        let mut p = c.start(binary)?;
        p.wait_for_log("streaming changes", Duration::from_secs(60))?;
        p.stop_ok(timeout)?;
        if c.has_offset()? {
            return Ok(note);
        }
        note = Some(format!(
            "spillway {}: a run with snapshot.mode=no_data stored no offset (no event before \
             SIGTERM), so the next run would start after the load; the start position was \
             taken by snapshot.mode=initial on the empty table instead",
            c.label
        ));
    }
    bail!(
        "spillway ({}) stored no offset, not even after a snapshot of the empty table",
        c.name
    )
}

/// Debezium's MySQL connector on MariaDB, as compat/debezium/README.md describes it.
fn debezium_properties(args: &Args, suffix: &str) -> String {
    let server_id = SERVER_IDS.1
        + match suffix {
            "" => 0,
            "_schemaless" => 1,
            _ => 2,
        };
    format!(
        "connector.class=io.debezium.connector.mysql.MySqlConnector\n\
         database.hostname={}\ndatabase.port={}\ndatabase.user={}\ndatabase.password={}\n\
         database.server.id={server_id}\ndatabase.jdbc.driver=MariaDbCompatDriver\n\
         database.protocol=jdbc:mariadb-compat\ndatabase.include.list={DB}\n\
         table.include.list={DB}.{TABLE}\ntopic.prefix=bench_debezium{suffix}\n\
         snapshot.mode=no_data\ninclude.schema.changes=false\n",
        args.host, args.port, args.cdc_user, args.cdc_password
    )
}
