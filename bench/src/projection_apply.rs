//! `projection-apply`: how fast a projection applies a topic to SQLite and PostgreSQL, next to
//! a plain bulk `INSERT … ON CONFLICT` of the same rows and to the capture that filled the
//! topic, on the same machine in the same run.
//!
//! 1. A database (`spillway_bench_proj`, dropped and created afresh) gets `bench_rows`;
//!    spillway's connectors (JSON with schemas, and Avro with the embedded registry) create
//!    their slots; `--rows` changes are loaded (half inserts, half updates).
//! 2. Each connector catches up into its own embedded log: the capture rate.
//! 3. The limits: the same number of row writes as one bulk upsert per target, `INSERT …
//!    ON CONFLICT DO UPDATE` of the table's rows twice (the first pass inserts, the second
//!    updates), in one transaction: prepared and bound from memory into a SQLite file in WAL
//!    mode, and `INSERT … SELECT … ON CONFLICT` inside PostgreSQL (no client at all).
//! 4. A projection of each filled topic into a new SQLite file and into a PostgreSQL
//!    database (`spillway_bench_proj_target`), timed from the process start until the
//!    offsets it stores with the rows cover every record.
//!
//! Needs `spillway` built in release mode next to this program
//! (`cargo build --release -p spillway -p spillway-bench`). See `bench/README.md`.

use anyhow::{ensure, Context, Result};
use clap::Parser;
use serde_json::json;
use spillway_bench::capture::{
    exit_code, print_header, print_rows, with_cpu, Bench, CommonArgs, Proc, SpillwayConnector,
    Throughput,
};
use spillway_bench::postgres::{load, DropDatabase, Pg, BENCH_ROWS};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const DB: &str = "spillway_bench_proj";
const TARGET_DB: &str = "spillway_bench_proj_target";
const PUBLICATION: &str = "spillway_bench_proj_pub";

/// The connectors whose topics are projected: name, label, `output.data.format`.
const SOURCES: [(&str, &str, Option<&str>); 2] = [
    ("bench_proj_schemas", "JSON with schemas", None),
    ("bench_proj_avro", "Avro (registry)", Some("AVRO")),
];

#[derive(Parser, Clone)]
#[command(
    about = "Projection benchmark: apply rate into SQLite and PostgreSQL next to bulk upserts"
)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// `batch.size` of the projections.
    #[arg(long, default_value_t = 5000)]
    projection_batch: u64,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 5432)]
    port: u16,
    #[arg(long, default_value = "postgres")]
    user: String,
}

fn main() -> ExitCode {
    exit_code("projection-apply", run(Args::parse()))
}

fn run(args: Args) -> Result<()> {
    let bench = Bench::new("projection-apply", &args.common)?;
    let (spillway, work, timeout, rows) = (
        &bench.spillway,
        bench.work.path(),
        bench.timeout,
        args.common.rows,
    );
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
    let drop_source = DropDatabase {
        pg: pg.clone(),
        db: DB.to_string(),
    };
    let drop_target = DropDatabase {
        pg: pg.clone(),
        db: TARGET_DB.to_string(),
    };
    drop_source.run()?;
    drop_target.run()?;
    step("setting up the source and target databases");
    pg.psql("postgres", &format!("CREATE DATABASE {DB}"))?;
    pg.psql("postgres", &format!("CREATE DATABASE {TARGET_DB}"))?;
    pg.psql(
        DB,
        &format!("{BENCH_ROWS}; CREATE PUBLICATION {PUBLICATION} FOR TABLE bench_rows"),
    )?;

    let mut connectors = Vec::new();
    for (name, label, format) in SOURCES {
        let config = json!({
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": pg.host,
            "database.port": pg.port.to_string(),
            "database.user": pg.user,
            "database.dbname": DB,
            "slot.name": format!("{name}_slot"),
            "publication.name": PUBLICATION,
            "publication.autocreate.mode": "disabled",
            "table.include.list": "public.bench_rows",
            "snapshot.mode": "no_data",
        });
        let c = SpillwayConnector::new(work, name, label, config, format)?;
        step(&format!("spillway {label}: creating its slot"));
        let mut p = c.start(spillway)?;
        p.wait_for_log("streaming changes", Duration::from_secs(60))?;
        p.stop_ok(timeout)?;
        connectors.push(c);
    }
    step(&format!(
        "load: {rows} row changes in transactions of {}",
        args.common.batch
    ));
    let db = runtime.block_on(pg.connect(DB))?;
    let loaded = runtime.block_on(load(&db, rows, args.common.batch))?;
    eprintln!("  {:.1} s", loaded.secs);

    let mut capture = Vec::new();
    for c in &connectors {
        step(&format!("capture: spillway {}", c.label));
        let topic = c.topic("public", "bench_rows");
        capture.push(with_cpu(|| c.catch_up(spillway, &topic, rows, timeout))?);
    }

    let mut sqlite = Vec::new();
    step("limit: SQLite bulk INSERT ... ON CONFLICT, prepared, one transaction");
    sqlite.push(runtime.block_on(sqlite_bulk(&db, work, rows))?);
    for c in &connectors {
        step(&format!("projection of {} into SQLite", c.label));
        let file = work.join(format!("{}.db", c.name));
        let url = format!("sqlite:{}", file.display());
        let result = with_cpu(|| {
            project(&args, spillway, c, &url, rows, timeout, &|| {
                sqlite_applied(&file)
            })
        })?;
        sqlite.push(result);
    }

    let mut postgres = Vec::new();
    step("limit: PostgreSQL INSERT ... SELECT ... ON CONFLICT, in the server");
    postgres.push(runtime.block_on(postgres_bulk(&db, rows))?);
    let target = runtime.block_on(pg.connect(TARGET_DB))?;
    for c in &connectors {
        step(&format!("projection of {} into PostgreSQL", c.label));
        let url = format!(
            "postgresql://{}@{}:{}/{TARGET_DB}",
            pg.user, pg.host, pg.port
        );
        let connector = c.name.clone();
        let result = with_cpu(|| {
            project(&args, spillway, c, &url, rows, timeout, &|| {
                runtime.block_on(postgres_applied(&target, &connector))
            })
        })?;
        postgres.push(result);
    }

    println!(
        "projection of {rows} row changes ({} inserts, {} updates of bench_rows: integer key, text, numeric(12,2), timestamptz, boolean), batch.size {}, 2 cores",
        rows / 2,
        rows - rows / 2,
        args.projection_batch
    );
    print_header();
    print_rows(&capture, None);
    println!();
    print_rows(&sqlite, Some(rows as f64 / sqlite[0].secs));
    println!();
    print_rows(&postgres, Some(rows as f64 / postgres[0].secs));
    drop(db);
    drop(target);
    drop(drop_source);
    drop(drop_target);
    Ok(())
}

/// Runs a projection of `c`'s topic into `url` and times it until `applied()` reaches
/// `rows` records.
fn project(
    args: &Args,
    spillway: &Path,
    c: &SpillwayConnector,
    url: &str,
    rows: u64,
    timeout: Duration,
    applied: &dyn Fn() -> u64,
) -> Result<Throughput> {
    let dir = c.data_dir.parent().unwrap_or(&c.data_dir).to_path_buf();
    let config_path = dir.join(format!(
        "projection-{}.json",
        url.split(':').next().unwrap_or("")
    ));
    std::fs::write(
        &config_path,
        serde_json::to_vec_pretty(&json!({"name": c.name, "config": {
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "topics": c.topic("public", "bench_rows"),
            "connection.url": url,
            "table.name.format": c.name,
            "batch.size": args.projection_batch.to_string(),
        }}))?,
    )?;
    let mut command = Command::new(spillway);
    command
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .arg("--data-dir")
        .arg(&c.data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null());
    let log = dir.join(format!(
        "projection-{}.log",
        url.split(':').next().unwrap_or("")
    ));
    let mut p = Proc::spawn(
        &format!("spillway projection ({})", c.name),
        command,
        Some(log),
    )?;
    let deadline = p.started + timeout;
    let mut first = None;
    loop {
        let done = applied();
        if done > 0 && first.is_none() {
            first = Some(p.started.elapsed().as_secs_f64());
        }
        if done >= rows {
            break;
        }
        ensure!(
            p.exited()?.is_none(),
            "the projection stopped:\n{}",
            p.log_tail()
        );
        ensure!(
            Instant::now() < deadline,
            "the projection applied {done} of {rows} records after {timeout:?}\n{}",
            p.log_tail()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let secs = p.started.elapsed().as_secs_f64();
    let peak = p.peak_rss_kb();
    p.stop_ok(Duration::from_secs(60))?;
    let target = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    Ok(Throughput {
        first_secs: first,
        peak_rss_kb: peak,
        ..Throughput::new(
            "spillway",
            &format!("{} into {target}", c.label),
            rows,
            secs,
        )
    })
}

/// Records a SQLite projection has applied: the offsets it stored.
fn sqlite_applied(file: &Path) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row(
        "SELECT coalesce(sum(next_offset), 0) FROM spillway_offsets",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.max(0) as u64)
    .unwrap_or(0)
}

/// Records a PostgreSQL projection has applied.
async fn postgres_applied(target: &tokio_postgres::Client, connector: &str) -> u64 {
    match target
        .query_one(
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM spillway_offsets WHERE connector = $1",
            &[&connector],
        )
        .await
    {
        Ok(row) => row.get::<_, i64>(0).max(0) as u64,
        Err(_) => 0,
    }
}

/// The SQLite limit: the table's rows upserted twice (`rows` writes) with one prepared
/// statement in one transaction, from memory.
async fn sqlite_bulk(db: &tokio_postgres::Client, work: &Path, rows: u64) -> Result<Throughput> {
    let data: Vec<(i32, String, String, String, bool)> = db
        .query(
            "SELECT id, name, amount::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), active FROM bench_rows ORDER BY id",
            &[],
        )
        .await
        .context("reading bench_rows")?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let file = work.join("bulk.db");
    let mut conn = rusqlite::Connection::open(&file)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE bench_rows (id INTEGER NOT NULL, name TEXT, amount DECIMAL(12,2),
           created_at TIMESTAMPTZ, active BOOLEAN, PRIMARY KEY (id))",
    )?;
    let started = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO bench_rows VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET
               name = excluded.name, amount = excluded.amount, created_at = excluded.created_at,
               active = excluded.active",
        )?;
        let mut written = 0;
        'passes: for _ in 0..2 {
            for (id, name, amount, created, active) in &data {
                if written == rows {
                    break 'passes;
                }
                stmt.execute(rusqlite::params![id, name, amount, created, active])?;
                written += 1;
            }
        }
    }
    tx.commit()?;
    Ok(Throughput::new(
        "sqlite",
        "bulk INSERT ... ON CONFLICT (limit)",
        rows,
        started.elapsed().as_secs_f64(),
    ))
}

/// The PostgreSQL limit: the table's rows upserted twice into a copy, inside the server.
async fn postgres_bulk(db: &tokio_postgres::Client, rows: u64) -> Result<Throughput> {
    db.batch_execute(
        "DROP TABLE IF EXISTS bulk_rows; CREATE TABLE bulk_rows (LIKE bench_rows INCLUDING ALL)",
    )
    .await
    .context("creating bulk_rows")?;
    let upsert = "INSERT INTO bulk_rows SELECT * FROM bench_rows ON CONFLICT (id) DO UPDATE SET
        name = EXCLUDED.name, amount = EXCLUDED.amount, created_at = EXCLUDED.created_at,
        active = EXCLUDED.active";
    let started = Instant::now();
    db.batch_execute(&format!("BEGIN; {upsert}; {upsert}; COMMIT"))
        .await
        .context("bulk upsert")?;
    Ok(Throughput::new(
        "postgres",
        "INSERT ... SELECT ... ON CONFLICT (limit)",
        rows,
        started.elapsed().as_secs_f64(),
    ))
}
