//! What spillway measures, by name, and the progress of snapshots.
//!
//! Parts report through the `metrics` facade (nothing is recorded until the binary installs
//! a recorder, which serves them as Prometheus text on `GET /metrics`). Every series has a
//! `connector` label. Snapshot progress is also kept here, per table, for the live
//! progress display of `spillway run`.

use metrics::{counter, gauge, Gauge};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Change events written durably to the stream, by `topic` and `op`.
pub const EVENTS: &str = "spillway_source_events_total";
/// Records (events, tombstones, schema changes, heartbeats) written durably.
pub const RECORDS: &str = "spillway_stream_records_total";
/// Bytes of those records (keys, values, headers).
pub const BYTES: &str = "spillway_stream_bytes_total";
/// Seconds from a change's commit in the database to its being durable in the stream.
pub const LAG: &str = "spillway_end_to_end_lag_seconds";
/// The committed position in the source's log (an LSN, or binlog file number × 2³² +
/// offset), as a number.
pub const POSITION: &str = "spillway_source_position";
/// Offset commits.
pub const COMMITS: &str = "spillway_offset_commits_total";
/// Batches waiting between the source and the pipeline.
pub const QUEUE: &str = "spillway_pipeline_queue_batches";
/// WAL a PostgreSQL slot holds back (`pg_current_wal_lsn() - restart_lsn`), by `slot`.
pub const SLOT_RETAINED: &str = "spillway_postgres_slot_retained_wal_bytes";
/// Binlog files the server has after the one the connector reads.
pub const BINLOG_BEHIND: &str = "spillway_mysql_binlog_files_behind";
/// Rows a snapshot has read, by `table`.
pub const SNAPSHOT_ROWS: &str = "spillway_snapshot_rows";
/// Rows the database estimates a snapshotted table has, by `table`.
pub const SNAPSHOT_ESTIMATED: &str = "spillway_snapshot_rows_estimated";
/// Records a projection applied.
pub const PROJECTION_RECORDS: &str = "spillway_projection_records_total";
/// Seconds between a projected record's write to the stream and its commit to the table,
/// for the last batch.
pub const PROJECTION_LAG: &str = "spillway_projection_lag_seconds";
/// Failed attempts of a connector that were retried.
pub const RESTARTS: &str = "spillway_connector_restarts_total";
/// 1 while a connector runs, 0 otherwise.
pub const UP: &str = "spillway_connector_up";
/// 1 while a connector waits, retrying, for an operator to fix what stops it (a full disk,
/// a missing privilege), 0 otherwise.
pub const WAITING: &str = "spillway_connector_waiting_for_operator";

/// Every series above (the dashboard in `examples/grafana/` charts each of them).
pub const ALL: &[&str] = &[
    EVENTS,
    RECORDS,
    BYTES,
    LAG,
    POSITION,
    COMMITS,
    QUEUE,
    SLOT_RETAINED,
    BINLOG_BEHIND,
    SNAPSHOT_ROWS,
    SNAPSHOT_ESTIMATED,
    PROJECTION_RECORDS,
    PROJECTION_LAG,
    RESTARTS,
    UP,
    WAITING,
];

/// Histogram buckets of [`LAG`], seconds.
pub const LAG_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Counts a retried failure of `connector`.
pub fn restarted(connector: &str) {
    counter!(RESTARTS, "connector" => connector.to_string()).increment(1);
}

/// Sets whether `connector` runs.
pub fn up(connector: &str, running: bool) {
    gauge!(UP, "connector" => connector.to_string()).set(if running { 1.0 } else { 0.0 });
}

/// Sets whether `connector` waits for an operator.
pub fn waiting(connector: &str, waiting: bool) {
    gauge!(WAITING, "connector" => connector.to_string()).set(if waiting { 1.0 } else { 0.0 });
}

/// How far one table's snapshot is.
#[derive(Debug)]
pub struct TableProgress {
    pub connector: String,
    pub table: String,
    rows: AtomicU64,
    estimated: AtomicU64,
    done: AtomicBool,
    pub started: Instant,
    rows_gauge: Gauge,
}

impl TableProgress {
    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// The database's estimate of the table's rows (0: unknown).
    pub fn estimated(&self) -> u64 {
        self.estimated.load(Ordering::Relaxed)
    }

    /// Whether the table's snapshot is done.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    /// Counts `n` more rows read.
    pub fn add(&self, n: u64) {
        let rows = self.rows.fetch_add(n, Ordering::Relaxed) + n;
        self.rows_gauge.set(rows as f64);
    }

    /// The table is done.
    pub fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
        self.rows_gauge.set(self.rows() as f64);
    }
}

fn registry() -> &'static Mutex<Vec<Arc<TableProgress>>> {
    static TABLES: OnceLock<Mutex<Vec<Arc<TableProgress>>>> = OnceLock::new();
    TABLES.get_or_init(Default::default)
}

/// Starts tracking the snapshot of `table` by `connector`, with the database's estimate
/// of its rows when it has one.
pub fn snapshot_table(connector: &str, table: &str, estimated: Option<u64>) -> Arc<TableProgress> {
    let labels = [
        ("connector", connector.to_string()),
        ("table", table.to_string()),
    ];
    if let Some(e) = estimated {
        gauge!(SNAPSHOT_ESTIMATED, &labels).set(e as f64);
    }
    let progress = Arc::new(TableProgress {
        connector: connector.to_string(),
        table: table.to_string(),
        rows: AtomicU64::new(0),
        estimated: AtomicU64::new(estimated.unwrap_or(0)),
        done: AtomicBool::new(false),
        started: Instant::now(),
        rows_gauge: gauge!(SNAPSHOT_ROWS, &labels),
    });
    progress.rows_gauge.set(0.0);
    let mut tables = registry().lock().unwrap_or_else(|e| e.into_inner());
    tables.retain(|t| !(t.connector == connector && t.table == table));
    tables.push(progress.clone());
    progress
}

/// Every table snapshot tracked in this process, in the order they started.
pub fn snapshot_tables() -> Vec<Arc<TableProgress>> {
    registry().lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_progress_is_kept_per_table() {
        let t = snapshot_table("c", "public.t", Some(10));
        t.add(3);
        t.add(4);
        assert_eq!((t.rows(), t.estimated(), t.is_done()), (7, 10, false));
        t.finish();
        let all = snapshot_tables();
        let found = all
            .iter()
            .find(|p| p.connector == "c" && p.table == "public.t")
            .unwrap();
        assert!(found.is_done());
        // Starting the table again replaces it.
        snapshot_table("c", "public.t", None);
        assert_eq!(
            snapshot_tables()
                .iter()
                .filter(|p| p.connector == "c")
                .count(),
            1
        );
    }
}
