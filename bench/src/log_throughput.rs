//! `log-throughput`: raw speed of the embedded log on this machine.
//!
//! Appends records (default 1,000,000 of 250 bytes, keyed, over 4 partitions) through
//! [`LogWriter`] — every batch acknowledged only once it is fsynced — then reads them all
//! back with [`LogReader`], and prints records/s and MB/s for both.
//!
//! ```text
//! cargo run --release -p spillway-bench --bin log-throughput -- [--records N] [--dir DIR]
//! ```

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use spillway_core::{Ack, AckReport, Header, Record, StreamWriter};
use spillway_streams::{LogOptions, LogReader, LogWriter};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(about = "Write records into the embedded log (fsynced) and read them back")]
struct Args {
    /// Records to write.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Records per batch handed to the writer.
    #[arg(long, default_value_t = 500)]
    batch: u64,
    /// Bytes of each record's value.
    #[arg(long, default_value_t = 250)]
    value_bytes: usize,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 4)]
    partitions: u32,
    /// Directory to create the log in (a temporary directory under it is used and removed).
    /// The default is the system's temporary directory.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

const TOPIC: &str = "bench.public.orders";

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.records > 0 && args.batch > 0,
        "--records and --batch must be positive"
    );
    let dir = match &args.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("log-throughput-")
            .tempdir_in(d),
        None => tempfile::Builder::new().prefix("log-throughput-").tempdir(),
    }
    .context("cannot create the log directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;

    let (written, write_secs, bytes) = runtime.block_on(write(&args, dir.path()))?;
    let (read, read_secs) = read_back(&args, dir.path())?;
    ensure!(read == written, "read {read} records back, wrote {written}");

    let mb = bytes as f64 / 1e6;
    println!(
        "embedded log, {} records of {} value bytes in batches of {}, {} partitions ({:.0} MB on disk)",
        args.records,
        args.value_bytes,
        args.batch,
        args.partitions,
        disk_bytes(dir.path()) as f64 / 1e6
    );
    println!(
        "{:<28} {:>12} {:>10} {:>9}",
        "phase", "records/s", "MB/s", "seconds"
    );
    println!(
        "{:<28} {:>12.0} {:>10.1} {:>9.2}",
        "write (fsync per group)",
        written as f64 / write_secs,
        mb / write_secs,
        write_secs
    );
    println!(
        "{:<28} {:>12.0} {:>10.1} {:>9.2}",
        "read back",
        read as f64 / read_secs,
        mb / read_secs,
        read_secs
    );
    Ok(())
}

/// Writes every record and waits for every acknowledgement; returns (records, seconds,
/// payload bytes).
async fn write(args: &Args, dir: &std::path::Path) -> Result<(u64, f64, u64)> {
    let options = LogOptions {
        default_partitions: args.partitions,
        segment_bytes: 64 * 1024 * 1024,
    };
    let mut writer = LogWriter::open(dir, options).context("cannot open the log")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<AckReport>();
    let topic: Arc<str> = Arc::from(TOPIC);
    let value = vec![b'x'; args.value_bytes];
    let batches = args.records.div_ceil(args.batch);
    let mut bytes = 0u64;
    let mut acked = 0u64;
    let started = Instant::now();
    for b in 0..batches {
        let first = b * args.batch;
        let last = (first + args.batch).min(args.records);
        let batch: Vec<Record> = (first..last)
            .map(|i| Record {
                topic: Arc::clone(&topic),
                key: Some(format!("{{\"id\":{i}}}").into_bytes()),
                value: Some(value.clone()),
                headers: vec![Header {
                    key: "op".to_string(),
                    value: Some(b"u".to_vec()),
                }],
                timestamp_ms: 1_700_000_000_000,
            })
            .collect();
        bytes += batch.iter().map(|r| r.size_hint() as u64).sum::<u64>();
        writer
            .send(batch, Ack::new(b, tx.clone()))
            .await
            .context("the log refused a batch")?;
        while let Ok(report) = rx.try_recv() {
            report.result.context("a batch failed")?;
            acked += 1;
        }
    }
    writer.flush().await.context("flushing the log failed")?;
    while acked < batches {
        match rx.recv().await {
            Some(report) => {
                report.result.context("a batch failed")?;
                acked += 1;
            }
            None => bail!("the writer stopped with {acked} of {batches} batches acknowledged"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    drop(writer);
    Ok((args.records, secs, bytes))
}

/// Reads every partition from the start; returns (records, seconds).
fn read_back(args: &Args, dir: &std::path::Path) -> Result<(u64, f64)> {
    let started = Instant::now();
    let reader = LogReader::open(dir).context("cannot open the log for reading")?;
    let mut read = 0u64;
    for p in 0..args.partitions {
        let mut next = 0;
        loop {
            let records = reader
                .read(TOPIC, p, next, 10_000)
                .with_context(|| format!("reading partition {p} at {next}"))?;
            let Some(last) = records.last() else { break };
            next = last.offset + 1;
            read += records.len() as u64;
        }
    }
    Ok((read, started.elapsed().as_secs_f64()))
}

fn disk_bytes(dir: &std::path::Path) -> u64 {
    fn walk(path: &std::path::Path) -> u64 {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => std::fs::read_dir(path)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| walk(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    walk(dir)
}
