//! `log-throughput`: raw speed of the embedded log on this machine.
//!
//! For each compression (`--compression`, default none, lz4 and zstd): appends records
//! (default 1,000,000 with values of 250 bytes shaped like Debezium change events, keyed,
//! over 4 partitions) through [`LogWriter`] — every batch acknowledged only once it is
//! fsynced — then reads them all back with [`LogReader`], and prints records/s, MB/s (of
//! uncompressed records) and bytes on disk per record; then sends single-record batches at
//! `--latency-rate` per second for `--latency-secs` and prints the time from send to
//! acknowledgement (fsynced), as a capture of single-row transactions does.
//!
//! ```text
//! cargo run --release -p spillway-bench --bin log-throughput -- [--records N] [--dir DIR]
//! ```

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use spillway_core::{Ack, AckReport, Header, Record, StreamWriter};
use spillway_streams::{Compression, LogOptions, LogReader, LogWriter};
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
    /// Compressions to measure, comma-separated: none, lz4, zstd.
    #[arg(long, default_value = "none,lz4,zstd", value_delimiter = ',')]
    compression: Vec<String>,
    /// Single-record batches per second of the latency phase.
    #[arg(long, default_value_t = 1000)]
    latency_rate: u64,
    /// Seconds of the latency phase (0: none).
    #[arg(long, default_value_t = 3)]
    latency_secs: u64,
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
    let codecs = args
        .compression
        .iter()
        .map(|name| match name.trim() {
            "none" => Ok(Compression::None),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            other => bail!("unknown compression {other:?}: use none, lz4 or zstd"),
        })
        .collect::<Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let new_dir = || {
        match &args.dir {
            Some(d) => tempfile::Builder::new()
                .prefix("log-throughput-")
                .tempdir_in(d),
            None => tempfile::Builder::new().prefix("log-throughput-").tempdir(),
        }
        .context("cannot create the log directory")
    };

    println!(
        "embedded log, {} records of {} value bytes in batches of {}, {} partitions",
        args.records, args.value_bytes, args.batch, args.partitions,
    );
    println!(
        "{:<6} {:<24} {:>12} {:>10} {:>9} {:>14}",
        "codec", "phase", "records/s", "MB/s", "seconds", "disk B/record"
    );
    for &codec in &codecs {
        let dir = new_dir()?;
        let (written, write_secs, bytes) = runtime.block_on(write(&args, dir.path(), codec))?;
        let (read, read_secs) = read_back(&args, dir.path())?;
        ensure!(read == written, "read {read} records back, wrote {written}");
        let mb = bytes as f64 / 1e6;
        let per_record = disk_bytes(dir.path()) as f64 / written as f64;
        println!(
            "{:<6} {:<24} {:>12.0} {:>10.1} {:>9.2} {:>14.1}",
            codec.name(),
            "write (fsync per group)",
            written as f64 / write_secs,
            mb / write_secs,
            write_secs,
            per_record
        );
        println!(
            "{:<6} {:<24} {:>12.0} {:>10.1} {:>9.2}",
            codec.name(),
            "read back",
            read as f64 / read_secs,
            mb / read_secs,
            read_secs
        );
    }
    if args.latency_secs > 0 && args.latency_rate > 0 {
        println!();
        println!(
            "send to fsynced acknowledgement, single-record batches, {} s at {}/s",
            args.latency_secs, args.latency_rate
        );
        println!(
            "{:<6} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "codec", "sent", "p50 ms", "p99 ms", "max ms", "B/record"
        );
        for &codec in &codecs {
            let dir = new_dir()?;
            let mut millis = runtime.block_on(latency(&args, dir.path(), codec))?;
            millis.sort_by(f64::total_cmp);
            let at = |q: f64| millis[((millis.len() - 1) as f64 * q) as usize];
            println!(
                "{:<6} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.1}",
                codec.name(),
                millis.len(),
                at(0.5),
                at(0.99),
                at(1.0),
                disk_bytes(dir.path()) as f64 / millis.len() as f64
            );
        }
    }
    Ok(())
}

/// A change event's value of about `len` bytes for row `i`: Debezium's envelope, the row's
/// varying fields, padded with pseudo-random hexadecimal (cut at `len`).
fn value(i: u64, len: usize) -> Vec<u8> {
    let mut v = format!(
        "{{\"before\":null,\"after\":{{\"id\":{i},\"name\":\"row {i}\",\"amount\":\"{}.{:02}\",\"created\":\"2026-12-08T01:{:02}:{:02}.{:06}Z\",\"active\":{}}},\"source\":{{\"version\":\"3.0.0.Final\",\"connector\":\"postgresql\",\"name\":\"bench\",\"ts_ms\":{},\"db\":\"bench\",\"schema\":\"public\",\"table\":\"orders\",\"txId\":{},\"lsn\":{}}},\"op\":\"u\",\"ts_ms\":{}}}",
        i * 7 % 10_000,
        i % 100,
        i / 60 % 60,
        i % 60,
        i * 7919 % 1_000_000,
        i.is_multiple_of(3),
        1_765_000_000_000 + i,
        1000 + i,
        23_000_000 + i * 152,
        1_765_000_000_100 + i,
    )
    .into_bytes();
    let mut state = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while v.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        v.push(b"0123456789abcdef"[(state & 15) as usize]);
    }
    v.truncate(len);
    v
}

/// Distinct values the records cycle through, made before timing: more than a batch frame
/// holds, so no value repeats within one.
const VALUES: u64 = 4096;

fn values(value_bytes: usize) -> Vec<Vec<u8>> {
    (0..VALUES).map(|i| value(i, value_bytes)).collect()
}

fn record(topic: &Arc<str>, i: u64, values: &[Vec<u8>]) -> Record {
    Record {
        topic: Arc::clone(topic),
        key: Some(format!("{{\"id\":{i}}}").into_bytes()),
        value: Some(values[(i % VALUES) as usize].clone()),
        headers: vec![Header {
            key: "op".to_string(),
            value: Some(b"u".to_vec()),
        }],
        timestamp_ms: 1_700_000_000_000,
    }
}

/// Sends one record at a time at the latency rate; returns each send-to-ack time in ms.
async fn latency(args: &Args, dir: &std::path::Path, codec: Compression) -> Result<Vec<f64>> {
    let options = LogOptions {
        default_partitions: args.partitions,
        segment_bytes: 64 * 1024 * 1024,
        compression: codec,
    };
    let mut writer = LogWriter::open(dir, options).context("cannot open the log")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<AckReport>();
    let topic: Arc<str> = Arc::from(TOPIC);
    let values = values(args.value_bytes);
    let total = args.latency_rate * args.latency_secs;
    let interval = std::time::Duration::from_secs_f64(1.0 / args.latency_rate as f64);
    let mut sent_at = Vec::with_capacity(total as usize);
    let mut millis = vec![0.0; total as usize];
    let started = tokio::time::Instant::now();
    let mut acked = 0u64;
    for i in 0..total {
        tokio::time::sleep_until(started + interval.mul_f64(i as f64)).await;
        sent_at.push(Instant::now());
        writer
            .send(vec![record(&topic, i, &values)], Ack::new(i, tx.clone()))
            .await
            .context("the log refused a batch")?;
        while let Ok(report) = rx.try_recv() {
            report.result.context("a batch failed")?;
            millis[report.seq as usize] =
                sent_at[report.seq as usize].elapsed().as_secs_f64() * 1e3;
            acked += 1;
        }
    }
    while acked < total {
        let report = rx.recv().await.context("the writer stopped")?;
        report.result.context("a batch failed")?;
        millis[report.seq as usize] = sent_at[report.seq as usize].elapsed().as_secs_f64() * 1e3;
        acked += 1;
    }
    drop(writer);
    Ok(millis)
}

/// Writes every record and waits for every acknowledgement; returns (records, seconds,
/// payload bytes).
async fn write(args: &Args, dir: &std::path::Path, codec: Compression) -> Result<(u64, f64, u64)> {
    let options = LogOptions {
        default_partitions: args.partitions,
        segment_bytes: 64 * 1024 * 1024,
        compression: codec,
    };
    let mut writer = LogWriter::open(dir, options).context("cannot open the log")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<AckReport>();
    let topic: Arc<str> = Arc::from(TOPIC);
    let values = values(args.value_bytes);
    let batches = args.records.div_ceil(args.batch);
    let mut bytes = 0u64;
    let mut acked = 0u64;
    let started = Instant::now();
    for b in 0..batches {
        let first = b * args.batch;
        let last = (first + args.batch).min(args.records);
        let batch: Vec<Record> = (first..last).map(|i| record(&topic, i, &values)).collect();
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
