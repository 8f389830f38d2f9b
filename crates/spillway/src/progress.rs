//! Snapshot progress while `spillway run` runs: a live bar per table (rows, rate, time
//! left) on a terminal; periodic log lines in a pipe or with `--quiet`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use spillway_core::metrics::{snapshot_tables, TableProgress};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::info;

/// How often bars are redrawn.
const DRAW_EVERY: Duration = Duration::from_millis(200);
/// How often a log line reports a snapshot that is still running.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Shows snapshot progress until `shutdown`: bars when stderr is a terminal and not
/// `quiet`, log lines otherwise.
pub async fn show(quiet: bool, mut shutdown: watch::Receiver<bool>) {
    let bars = !quiet && std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let rate = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:>9.0} rows/s", state.per_sec());
    };
    let style = ProgressStyle::with_template(
        "{prefix:30!} [{bar:30}] {pos:>10}/{len:10} {rate} left {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key("rate", rate)
    .progress_chars("=> ");
    let unknown = ProgressStyle::with_template("{prefix:30!} {spinner} {pos:>10} rows {rate}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("rate", rate);
    let mut shown: HashMap<(String, String), ProgressBar> = HashMap::new();
    let mut logged: HashMap<(String, String), Instant> = HashMap::new();
    loop {
        for table in snapshot_tables() {
            let id = (table.connector.clone(), table.table.clone());
            if bars {
                let bar = shown
                    .entry(id)
                    .or_insert_with(|| new_bar(&multi, &table, &style, &unknown));
                draw(bar, &table);
            } else if !table.is_done() {
                let last = logged.entry(id).or_insert_with(Instant::now);
                if last.elapsed() >= LOG_EVERY {
                    *last = Instant::now();
                    log_line(&table);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(DRAW_EVERY) => {}
            _ = shutdown.changed() => break,
        }
    }
    for bar in shown.values() {
        if !bar.is_finished() {
            bar.abandon();
        }
    }
}

fn new_bar(
    multi: &MultiProgress,
    table: &Arc<TableProgress>,
    style: &ProgressStyle,
    unknown: &ProgressStyle,
) -> ProgressBar {
    let bar = match table.estimated() {
        0 => multi
            .add(ProgressBar::no_length())
            .with_style(unknown.clone()),
        n => multi.add(ProgressBar::new(n)).with_style(style.clone()),
    };
    bar.set_prefix(format!("{} {}", table.connector, table.table));
    bar
}

fn draw(bar: &ProgressBar, table: &TableProgress) {
    let rows = table.rows();
    if bar.length().is_some_and(|l| rows > l) {
        bar.set_length(rows);
    }
    bar.set_position(rows);
    if table.is_done() && !bar.is_finished() {
        bar.set_length(rows);
        bar.finish();
    }
}

fn log_line(table: &TableProgress) {
    let rows = table.rows();
    let secs = table.started.elapsed().as_secs_f64().max(0.001);
    let rate = rows as f64 / secs;
    let estimated = table.estimated();
    let left = (estimated > rows && rate > 0.0)
        .then(|| format!("{:.0}s", (estimated - rows) as f64 / rate));
    info!(
        connector = %table.connector,
        table = %table.table,
        rows,
        estimated,
        rows_per_sec = rate as u64,
        left = left.as_deref().unwrap_or("?"),
        "snapshot progress"
    );
}
