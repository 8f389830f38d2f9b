//! Throughput of the log, measured on demand:
//! `cargo test -p spillway-streams --release --test throughput -- --ignored --nocapture`.

mod common;

use common::{header, Acks};
use spillway_core::{Record, StreamWriter};
use spillway_streams::{LogOptions, LogReader, LogWriter};
use std::sync::Arc;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures throughput; run in release"]
async fn the_log_writes_and_reads_hundreds_of_thousands_of_records_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        default_partitions: 4,
        segment_bytes: 64 * 1024 * 1024,
    };
    let mut writer = LogWriter::open(dir.path(), options).unwrap();
    let mut acks = Acks::new();
    let topic: Arc<str> = Arc::from("db.public.orders");
    let value = vec![b'x'; 250];
    let batches = 2_000u64;
    let per_batch = 500u64;
    let started = Instant::now();
    let mut drained = 0;
    for b in 0..batches {
        let batch: Vec<Record> = (0..per_batch)
            .map(|i| Record {
                topic: Arc::clone(&topic),
                key: Some(format!("{{\"id\":{}}}", b * per_batch + i).into_bytes()),
                value: Some(value.clone()),
                headers: vec![header("op", Some("u"))],
                timestamp_ms: 1_700_000_000_000,
            })
            .collect();
        let (_, ack) = acks.next();
        writer.send(batch, ack).await.unwrap();
        while let Ok(report) = acks.rx.try_recv() {
            report.result.unwrap();
            drained += 1;
        }
    }
    writer.flush().await.unwrap();
    while let Ok(report) = acks.rx.try_recv() {
        report.result.unwrap();
        drained += 1;
    }
    assert_eq!(drained, batches);
    let elapsed = started.elapsed();
    let total = batches * per_batch;
    println!(
        "wrote {total} records in {elapsed:?}: {:.0} records/s",
        total as f64 / elapsed.as_secs_f64()
    );
    drop(writer);

    let started = Instant::now();
    let reader = LogReader::open(dir.path()).unwrap();
    let mut read = 0;
    for p in 0..4 {
        let mut next = 0;
        loop {
            let records = reader.read("db.public.orders", p, next, 10_000).unwrap();
            let Some(last) = records.last() else { break };
            next = last.offset + 1;
            read += records.len() as u64;
        }
    }
    assert_eq!(read, total);
    let elapsed = started.elapsed();
    println!(
        "read {read} records in {elapsed:?}: {:.0} records/s",
        read as f64 / elapsed.as_secs_f64()
    );
}
