//! Writing and reading the embedded log.

mod common;

use common::{header, record, Acks};
use spillway_core::record::partition_for_key;
use spillway_core::{Record, StreamError, StreamWriter};
use spillway_streams::{Compression, LogError, LogOptions, LogReader, LogWriter, PartitionInfo};
use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn options(partitions: u32, segment_bytes: u64) -> LogOptions {
    LogOptions {
        default_partitions: partitions,
        segment_bytes,
        ..LogOptions::default()
    }
}

#[tokio::test]
async fn every_field_survives_a_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    let mut acks = Acks::new();
    let batch = vec![
        Record {
            topic: Arc::from("db.public.orders"),
            key: Some(vec![0, 1, 2, 255]),
            value: Some(b"{\"id\":1}".to_vec()),
            headers: vec![header("op", Some("c")), header("trace", None)],
            timestamp_ms: 1_700_000_000_123,
        },
        Record {
            topic: Arc::from("db.public.orders"),
            key: None,
            value: Some(Vec::new()),
            headers: vec![],
            timestamp_ms: -1,
        },
        Record {
            topic: Arc::from("db.public.orders"),
            key: Some(Vec::new()),
            value: None,
            headers: vec![header("", Some(""))],
            timestamp_ms: i64::MAX,
        },
    ];
    acks.write(&mut writer, batch.clone()).await.unwrap();

    let reader = LogReader::open(dir.path()).unwrap();
    let stored = reader.read("db.public.orders", 0, 0, 100).unwrap();
    assert_eq!(stored.len(), 3);
    for (i, (got, sent)) in stored.iter().zip(&batch).enumerate() {
        assert_eq!(got.offset, i as u64);
        assert_eq!(got.timestamp_ms, sent.timestamp_ms);
        assert_eq!(got.key, sent.key);
        assert_eq!(got.value, sent.value);
        assert_eq!(got.headers, sent.headers);
    }
}

#[tokio::test]
async fn an_ack_arrives_only_once_the_batch_can_be_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    let reader = LogReader::open(dir.path()).unwrap();
    let mut acks = Acks::new();
    // Many small batches sent without waiting, so the writer commits them in groups.
    let batches = 200u64;
    for b in 0..batches {
        let (_, ack) = acks.next();
        let batch = (0..5)
            .map(|i| record("t", None, Some(&format!("{b}-{i}"))))
            .collect();
        writer.send(batch, ack).await.unwrap();
    }
    for expected in 0..batches {
        let report = acks.rx.recv().await.unwrap();
        assert_eq!(report.seq, expected);
        report.result.unwrap();
        let end = reader.partition_info("t", 0).unwrap().end_offset;
        assert!(
            end >= (expected + 1) * 5,
            "batch {expected} acked with only {end} records in the log"
        );
    }
}

#[tokio::test]
async fn flush_returns_after_every_sent_batch_is_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    let mut acks = Acks::new();
    for b in 0..50 {
        let (_, ack) = acks.next();
        writer
            .send(vec![record("t", Some(&b.to_string()), Some("v"))], ack)
            .await
            .unwrap();
    }
    writer.flush().await.unwrap();
    for expected in 0..50 {
        let report = acks
            .rx
            .try_recv()
            .expect("every batch is resolved by flush");
        assert_eq!(report.seq, expected);
        assert!(report.result.is_ok());
    }
}

#[tokio::test]
async fn keyed_records_go_to_the_partition_kafka_would_pick() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), options(4, 1 << 20)).unwrap();
    let mut acks = Acks::new();
    let keys: Vec<String> = (0..200).map(|i| format!("key-{i}")).collect();
    let mut batch: Vec<Record> = keys
        .iter()
        .map(|k| record("keyed", Some(k), Some(k)))
        .collect();
    batch.push(record("keyed", None, Some("no key")));
    acks.write(&mut writer, batch).await.unwrap();

    let reader = LogReader::open(dir.path()).unwrap();
    let mut seen = 0;
    for partition in 0..4 {
        let stored = reader.read("keyed", partition, 0, 1000).unwrap();
        assert!(!stored.is_empty(), "200 keys leave no partition empty");
        for (i, r) in stored.iter().enumerate() {
            assert_eq!(r.offset, i as u64, "offsets are dense per partition");
            match &r.key {
                Some(key) => assert_eq!(partition_for_key(key, 4), partition),
                None => assert_eq!(partition, 0),
            }
        }
        seen += stored.len();
    }
    assert_eq!(seen, 201);
    // Order within a partition is the order of the batch.
    let p = partition_for_key(b"key-7", 4);
    let values: Vec<_> = reader
        .read("keyed", p, 0, 1000)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.value)
        .map(|v| String::from_utf8(v).unwrap())
        .collect();
    let expected: Vec<_> = keys
        .iter()
        .filter(|k| partition_for_key(k.as_bytes(), 4) == p)
        .cloned()
        .collect();
    let values: Vec<_> = values.into_iter().filter(|v| v != "no key").collect();
    assert_eq!(values, expected);
}

#[tokio::test]
async fn an_existing_topic_keeps_its_partition_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut acks = Acks::new();
    {
        let mut writer = LogWriter::open(dir.path(), options(3, 1 << 20)).unwrap();
        acks.write(&mut writer, vec![record("t", Some("a"), Some("1"))])
            .await
            .unwrap();
    }
    let meta = fs::read_to_string(dir.path().join("topics/t/topic.json")).unwrap();
    assert!(meta.contains("\"partitions\":3"), "{meta}");
    let mut writer = LogWriter::open(dir.path(), options(8, 1 << 20)).unwrap();
    acks.write(&mut writer, vec![record("t", Some("a"), Some("2"))])
        .await
        .unwrap();
    acks.write(&mut writer, vec![record("u", Some("a"), Some("3"))])
        .await
        .unwrap();
    drop(writer);
    let infos = LogReader::open(dir.path()).unwrap().topics().unwrap();
    let count = |topic: &str| infos.iter().filter(|i| i.topic == topic).count();
    assert_eq!(count("t"), 3);
    assert_eq!(count("u"), 8);
    let p = partition_for_key(b"a", 3);
    let info = infos
        .iter()
        .find(|i| i.topic == "t" && i.partition == p)
        .unwrap();
    assert_eq!((info.start_offset, info.end_offset), (0, 2));
}

#[tokio::test]
async fn topics_lists_every_partition_with_its_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), options(2, 1 << 20)).unwrap();
    let mut acks = Acks::new();
    let batch = vec![
        record("b.topic", None, Some("1")),
        record("b.topic", None, Some("2")),
        record("a-topic", None, None),
    ];
    acks.write(&mut writer, batch).await.unwrap();
    let reader = LogReader::open(dir.path()).unwrap();
    let info = |topic: &str, partition, end_offset| PartitionInfo {
        topic: topic.to_string(),
        partition,
        start_offset: 0,
        end_offset,
    };
    assert_eq!(
        reader.topics().unwrap(),
        vec![
            info("a-topic", 0, 1),
            info("a-topic", 1, 0),
            info("b.topic", 0, 2),
            info("b.topic", 1, 0),
        ]
    );
    assert!(reader.read("b.topic", 1, 0, 10).unwrap().is_empty());
    assert!(reader.read("b.topic", 0, 2, 10).unwrap().is_empty());
    assert!(matches!(
        reader.read("b.topic", 2, 0, 10),
        Err(LogError::UnknownPartition {
            partition: 2,
            partitions: 2,
            ..
        })
    ));
    assert!(matches!(
        reader.read("missing", 0, 0, 10),
        Err(LogError::UnknownTopic { ref topic, .. }) if topic == "missing"
    ));
    assert!(matches!(
        reader.read("../etc", 0, 0, 10),
        Err(LogError::InvalidTopic { .. })
    ));
}

#[tokio::test]
async fn reading_at_a_high_offset_after_segment_rolls_starts_in_the_right_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), options(1, 300)).unwrap();
    let mut acks = Acks::new();
    for b in 0..10 {
        let batch = (0..100)
            .map(|i| record("rolled", None, Some(&format!("value-{}", b * 100 + i))))
            .collect();
        acks.write(&mut writer, batch).await.unwrap();
    }
    drop(writer);
    let segments = fs::read_dir(dir.path().join("topics/rolled/0"))
        .unwrap()
        .count();
    assert!(segments > 50, "only {segments} segments for 1000 records");
    for entry in fs::read_dir(dir.path().join("topics/rolled/0")).unwrap() {
        let len = entry.unwrap().metadata().unwrap().len();
        assert!(len <= 300, "a segment of {len} bytes exceeds segment_bytes");
    }

    let reader = LogReader::open(dir.path()).unwrap();
    let stored = reader.read("rolled", 0, 777, 5).unwrap();
    let offsets: Vec<u64> = stored.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![777, 778, 779, 780, 781]);
    assert_eq!(stored[0].value.as_deref(), Some(&b"value-777"[..]));
    let all = reader.read("rolled", 0, 0, 5000).unwrap();
    assert_eq!(all.len(), 1000);
    assert!(all.iter().enumerate().all(|(i, r)| r.offset == i as u64
        && r.value.as_deref() == Some(format!("value-{i}").as_bytes())));
    assert_eq!(reader.partition_info("rolled", 0).unwrap().end_offset, 1000);
    assert!(reader.read("rolled", 0, 1000, 5).unwrap().is_empty());
}

#[tokio::test]
async fn a_reader_follows_a_writer_that_is_still_appending() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), options(1, 64 * 1024)).unwrap();
    let mut acks = Acks::new();
    acks.write(&mut writer, vec![record("live", None, Some("0"))])
        .await
        .unwrap();
    let total = 20_000u64;
    let path = dir.path().to_path_buf();
    let follower = std::thread::spawn(move || {
        let reader = LogReader::open(&path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut next = 0u64;
        while next < total {
            assert!(Instant::now() < deadline, "reader stuck at {next}");
            let records = reader.read("live", 0, next, 333).unwrap();
            for r in records {
                assert_eq!(r.offset, next);
                assert_eq!(r.value, Some(next.to_string().into_bytes()));
                next += 1;
            }
        }
        next
    });
    let mut sent = 1;
    while sent < total {
        let (_, ack) = acks.next();
        let batch: Vec<Record> = (sent..(sent + 97).min(total))
            .map(|i| record("live", None, Some(&i.to_string())))
            .collect();
        sent += batch.len() as u64;
        writer.send(batch, ack).await.unwrap();
    }
    writer.flush().await.unwrap();
    assert_eq!(
        tokio::task::spawn_blocking(move || follower.join().unwrap())
            .await
            .unwrap(),
        total
    );
}

#[tokio::test]
async fn a_second_writer_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    assert!(matches!(
        LogWriter::open(dir.path(), LogOptions::default()),
        Err(LogError::Locked { .. })
    ));
    drop(writer);
    LogWriter::open(dir.path(), LogOptions::default()).unwrap();
}

#[tokio::test]
async fn a_batch_with_an_invalid_topic_is_rejected_and_so_is_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    let mut acks = Acks::new();
    acks.write(&mut writer, vec![record("good", None, Some("1"))])
        .await
        .unwrap();
    let err = acks
        .write(
            &mut writer,
            vec![
                record("good", None, Some("2")),
                record("bad topic", None, Some("3")),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StreamError::Rejected(m) if m.contains("\"bad topic\"")),
        "{err}"
    );
    let later = acks
        .write(&mut writer, vec![record("good", None, Some("4"))])
        .await;
    assert!(later.is_err());
    assert!(writer.flush().await.is_err());
    drop(writer);
    let stored = LogReader::open(dir.path())
        .unwrap()
        .read("good", 0, 0, 10)
        .unwrap();
    assert_eq!(stored.len(), 1, "nothing of the rejected batch is written");
}

#[tokio::test]
async fn after_a_failed_write_no_batch_is_acknowledged_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    let mut acks = Acks::new();
    acks.write(&mut writer, vec![record("fine", None, Some("1"))])
        .await
        .unwrap();
    // A plain file where the topic directory should go makes creating the topic fail.
    let blocker = dir.path().join("topics/blocked");
    fs::write(&blocker, b"not a directory").unwrap();
    let err = acks
        .write(&mut writer, vec![record("blocked", None, Some("x"))])
        .await
        .unwrap_err();
    match &err {
        StreamError::Io { action, .. } => assert!(action.contains("blocked"), "{action}"),
        other => panic!("expected an i/o error, got {other}"),
    }
    let later = acks
        .write(&mut writer, vec![record("fine", None, Some("2"))])
        .await
        .unwrap_err();
    assert!(matches!(later, StreamError::Io { .. }), "{later}");
    assert!(writer.flush().await.is_err());
    drop(writer);
    let reader = LogReader::open(dir.path()).unwrap();
    assert_eq!(reader.read("fine", 0, 0, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn a_full_queue_makes_send_wait_instead_of_growing() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    let mut acks = Acks::new();
    // Batches of 16 MiB: the 64 MiB budget lets only a few wait in the queue at a time, so
    // the acks already received bound how far send can run ahead.
    let value = vec![7u8; 16 * 1024 * 1024];
    let mut max_ahead = 0;
    let mut resolved = 0;
    for _ in 0..12 {
        let (seq, ack) = acks.next();
        let mut r = record("big", None, None);
        r.value = Some(value.clone());
        writer.send(vec![r], ack).await.unwrap();
        while let Ok(report) = acks.rx.try_recv() {
            report.result.unwrap();
            resolved += 1;
        }
        max_ahead = max_ahead.max(seq + 1 - resolved);
    }
    writer.flush().await.unwrap();
    assert!(
        max_ahead <= 6,
        "{max_ahead} batches of 16 MiB were in flight"
    );
}

#[tokio::test]
async fn reads_from_the_middle_of_a_compressed_batch_skip_its_earlier_records() {
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            compression: codec,
            ..LogOptions::default()
        };
        let mut writer = LogWriter::open(dir.path(), options).unwrap();
        let mut acks = Acks::new();
        let values = |from: u64, to: u64| -> Vec<Record> {
            (from..to)
                .map(|i| {
                    record(
                        "t",
                        None,
                        Some(&format!("{{\"id\":{i},\"pad\":\"xxxxxxxx\"}}")),
                    )
                })
                .collect()
        };
        acks.write(&mut writer, values(0, 500)).await.unwrap();
        acks.write(&mut writer, values(500, 600)).await.unwrap();
        drop(writer);
        let reader = LogReader::open(dir.path()).unwrap();
        let offsets = |from, max| -> Vec<u64> {
            let records = reader.read("t", 0, from, max).unwrap();
            for r in &records {
                let want = format!("{{\"id\":{},\"pad\":\"xxxxxxxx\"}}", r.offset);
                assert_eq!(r.value.as_deref(), Some(want.as_bytes()), "{codec:?}");
            }
            records.iter().map(|r| r.offset).collect()
        };
        assert_eq!(
            offsets(137, 10),
            (137..147).collect::<Vec<_>>(),
            "{codec:?}"
        );
        assert_eq!(offsets(147, 1000), (147..600).collect::<Vec<_>>());
        assert_eq!(offsets(3, 2), vec![3, 4]);
        assert_eq!(offsets(499, 2), vec![499, 500]);
        assert_eq!(offsets(550, 5), (550..555).collect::<Vec<_>>());
        assert_eq!(offsets(0, 1), vec![0]);
        assert!(offsets(600, 10).is_empty());
        let size = fs::metadata(dir.path().join("topics/t/0/00000000000000000000.log"))
            .unwrap()
            .len();
        if codec != Compression::None {
            assert!(size < 600 * 20, "{codec:?}: {size} bytes");
        }
    }
}
