//! PostgreSQL for the benchmarks: the connection, a database dropped with its slots, and
//! the load of row changes (`bench_rows`: half inserts, half updates).

use anyhow::{ensure, Context, Result};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

/// The table every PostgreSQL benchmark loads.
pub const BENCH_ROWS: &str = "CREATE TABLE bench_rows (
    id integer PRIMARY KEY,
    name text NOT NULL,
    amount numeric(12,2) NOT NULL,
    created_at timestamptz NOT NULL,
    active boolean NOT NULL)";

/// Where the benchmark's PostgreSQL is, and who connects.
#[derive(Clone)]
pub struct Pg {
    pub host: String,
    pub port: u16,
    pub user: String,
}

impl Pg {
    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "host={} port={} user={} dbname={db}",
            self.host, self.port, self.user
        )
    }

    /// A client of `db`; its connection task is spawned.
    pub async fn connect(&self, db: &str) -> Result<Client> {
        let (client, conn) = tokio_postgres::connect(&self.conninfo(db), NoTls)
            .await
            .with_context(|| {
                format!(
                    "cannot connect to PostgreSQL at {}:{} as {} (database {db})",
                    self.host, self.port, self.user
                )
            })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("postgres connection closed: {e}");
            }
        });
        Ok(client)
    }

    /// psql with the admin connection, for cleanup outside the runtime.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new("psql")
            .args([
                "-h",
                &self.host,
                "-p",
                &self.port.to_string(),
                "-U",
                &self.user,
            ])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
            .output()
            .context("cannot run psql")?;
        ensure!(
            out.status.success(),
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// Drops a benchmark database and its slots, now ([`DropDatabase::run`]) and when dropped.
pub struct DropDatabase {
    pub pg: Pg,
    pub db: String,
}

impl DropDatabase {
    pub fn run(&self) -> Result<()> {
        let db = &self.db;
        let slots = format!("FROM pg_replication_slots WHERE database = '{db}'");
        self.pg.psql(
            "postgres",
            &format!(
                "SELECT count(pg_terminate_backend(active_pid)) {slots} AND active_pid IS NOT NULL"
            ),
        )?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pg.psql(
                "postgres",
                &format!(
                    "SELECT count(pg_drop_replication_slot(slot_name)) {slots} AND NOT active"
                ),
            )?;
            if self
                .pg
                .psql("postgres", &format!("SELECT count(*) {slots}"))?
                == "0"
            {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "replication slots of {db} are still in use after 20 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        self.pg.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        )?;
        Ok(())
    }
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        if let Err(e) = self.run() {
            eprintln!("cleanup of database {} failed: {e:#}", self.db);
        }
    }
}

/// What loading the changes took.
pub struct Load {
    pub secs: f64,
    pub wal_bytes: u64,
    pub end_lsn: String,
}

/// `rows` changes: inserts of the first half, then updates of as many rows, in transactions
/// of `batch` rows; with `batch` at least `rows`, all of them are one transaction.
pub async fn load(db: &Client, rows: u64, batch: u64) -> Result<Load> {
    let start_lsn: String = db
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await?
        .get(0);
    let started = Instant::now();
    let inserts = rows / 2;
    let updates = rows - inserts;
    let one_transaction = batch >= rows;
    if one_transaction {
        db.batch_execute("BEGIN").await.context("BEGIN")?;
    }
    let mut first = 1;
    while first <= inserts {
        let last = (first + batch - 1).min(inserts);
        db.batch_execute(&format!(
            "INSERT INTO bench_rows
             SELECT g, 'customer ' || g || ' ' || md5(g::text), (g % 100000) / 100.0 + 0.25,
                    timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', g % 3 = 0
               FROM generate_series({first}, {last}) g"
        ))
        .await
        .context("inserting the load")?;
        first = last + 1;
    }
    let mut done = 0;
    while done < updates {
        let n = batch.min(updates - done);
        // Ids wrap around when there are more updates than rows (odd --rows).
        let a = done % inserts.max(1) + 1;
        let b = (a + n - 1).min(inserts.max(1));
        let changed = db
            .execute(
                "UPDATE bench_rows SET amount = amount + 1, active = NOT active,
                        name = name || '.' WHERE id BETWEEN $1 AND $2",
                &[&(a as i32), &(b as i32)],
            )
            .await
            .context("updating the load")?;
        ensure!(changed > 0, "the update of ids {a}..={b} changed nothing");
        done += changed;
    }
    if one_transaction {
        db.batch_execute("COMMIT")
            .await
            .context("committing the load")?;
    }
    let secs = started.elapsed().as_secs_f64();
    let row = db
        .query_one(
            "SELECT pg_current_wal_lsn()::text, pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::bigint",
            &[&start_lsn],
        )
        .await?;
    // Settle the table now, so autovacuum and a checkpoint do not land in a measurement.
    // Their WAL lies after the load's end, where no reader is timed.
    db.batch_execute("VACUUM ANALYZE bench_rows")
        .await
        .context("VACUUM after the load")?;
    db.batch_execute("CHECKPOINT")
        .await
        .context("CHECKPOINT after the load")?;
    Ok(Load {
        secs,
        end_lsn: row.get(0),
        wal_bytes: row.get::<_, i64>(1) as u64,
    })
}
