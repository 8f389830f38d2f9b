//! A damaged embedded log is never silently shortened: damage to acknowledged records
//! stops start-up with an error naming topic, partition, offset and file; `topics` and
//! `tail` report it; `topics --verify` lists it and `topics --repair` keeps every readable
//! record without reusing an offset, so a projection neither skips nor repeats records.

mod support;

use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::projection::{projection, rows, try_rows, wait_until};
use support::{binary, scratch, wait_for_log, Spillway, TestDb};

const WAIT: Duration = Duration::from_secs(60);

fn spillway(args: &[&str], data: &Path) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run spillway")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Flips a byte in the middle of the record batch that holds `offset` in `segment` (its
/// records are compressed, so the byte is not found by content) and returns the offsets
/// the batch holds, `[first, last]`; `segment_end` is the offset after the segment's last record. A batch frame (see spillway_streams::batch) is a u32
/// length, a u32 CRC, version 2 and the u64 base offset.
fn flip_byte_of_batch_holding(segment: &Path, offset: u64, segment_end: u64) -> (u64, u64) {
    let mut bytes = std::fs::read(segment).expect("read the segment");
    let word = |at: usize, n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&bytes[at..at + n]);
        u64::from_le_bytes(b)
    };
    // (start, end, base offset) of every frame.
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = at + 4 + word(at, 4) as usize;
        assert_eq!(bytes[at + 8], 2, "a batch frame at byte {at}");
        frames.push((at, end, word(at + 9, 8)));
        at = end;
    }
    let i = frames
        .iter()
        .rposition(|&(_, _, base)| base <= offset)
        .expect("a batch holding the offset");
    let (start, end, base) = frames[i];
    let next = frames.get(i + 1).map_or(segment_end, |f| f.2);
    assert!(next > offset, "offset {offset} is in the segment");
    bytes[(start + end) / 2] ^= 0x20;
    std::fs::write(segment, bytes).expect("write the segment");
    (base, next - 1)
}

#[test]
fn a_flipped_byte_in_committed_records_stops_start_up_and_a_repair_loses_only_that_batch() {
    let db = TestDb::create("damaged");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, name text)");
    db.sql("INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 300) i");
    let dir = scratch("damaged");
    let data = dir.path().join("data");
    let topic = db.topic("t");
    let table = format!("{}_public_t", db.name);
    let count = format!("SELECT count(*) FROM \"{table}\"");
    let configs = json!([
        db.connector(&[]),
        projection("proj", &format!("{}\\.public\\.t", db.name), &[]),
    ]);
    let mut sw = Spillway::start(&configs, &data);
    wait_for_log(&sw, "streaming changes", WAIT);
    wait_until(
        WAIT,
        "300 rows in the projection",
        || try_rows(&data, "proj", &count) == Some(vec![vec![json!(300)]]),
        || sw.logs(),
    );
    assert!(sw.stop().success(), "{}", sw.logs());

    let segment = data.join(format!("topics/{topic}/0/{:020}.log", 0));
    let len = std::fs::metadata(&segment).unwrap().len();
    // The snapshot's change of row 151 has offset 150.
    let (first, last) = flip_byte_of_batch_holding(&segment, 150, 300);

    // Readers report the damage instead of a shorter log.
    for args in [vec!["topics"], vec!["tail", topic.as_str()]] {
        let out = spillway(&args, &data);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("damaged"), "{args:?}: {}", text(&out));
    }
    // Start-up stops with the documented error, and nothing is cut.
    let mut sw = Spillway::start(&configs, &data);
    let status = sw.wait_exit(WAIT);
    assert_eq!(status.code(), Some(1), "{}", sw.logs());
    let logs = sw.logs();
    for needle in [
        "the embedded log is damaged",
        &format!("topic {topic} partition 0"),
        &format!("offset {first}"),
        &segment.display().to_string(),
        "spillway topics --verify",
        "spillway topics --repair",
    ] {
        assert!(logs.contains(needle), "{needle:?} not in:\n{logs}");
    }
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), len);

    let out = spillway(&["topics", "--verify"], &data);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("offsets {first}..{last} lost")),
        "{}",
        text(&out)
    );
    let out = spillway(&["topics", "--repair"], &data);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("snapshot"), "{}", text(&out));
    let out = spillway(&["topics", "--verify"], &data);
    assert!(out.status.success(), "{}", text(&out));

    // Capture and projection go on: the new rows get new offsets, and the projection,
    // which had applied everything, applies them all.
    let mut sw = Spillway::start(&configs, &data);
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql("INSERT INTO t SELECT i, 'late ' || i FROM generate_series(301, 305) i");
    wait_until(
        WAIT,
        "305 rows in the projection",
        || try_rows(&data, "proj", &count) == Some(vec![vec![json!(305)]]),
        || sw.logs(),
    );
    assert_eq!(
        rows(
            &data,
            "proj",
            &format!("SELECT name FROM \"{table}\" WHERE id = 305")
        ),
        vec![vec![json!("late 305")]]
    );
    assert!(sw.stop().success(), "{}", sw.logs());

    // A log that lost what a projection had read (here: deleted) stops the projection
    // with the reason, instead of skipping the records that take the old offsets.
    std::fs::remove_dir_all(data.join(format!("topics/{topic}"))).unwrap();
    let mut sw = Spillway::start(&configs, &data);
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql("INSERT INTO t VALUES (306, 'after the loss')");
    let status = sw.wait_exit(WAIT);
    assert_eq!(status.code(), Some(1), "{}", sw.logs());
    assert!(
        sw.logs().contains("past the end of the log"),
        "{}",
        sw.logs()
    );
}
