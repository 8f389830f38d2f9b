//! Recovering from a crash and from damage: a torn tail past the durable offset is cut;
//! damage to acknowledged records stops the writer and every reader with an error naming
//! it, and a repair keeps every readable record without ever reusing an offset.

mod common;

use common::{record, Acks};
use spillway_core::Record;
use spillway_streams::{journal, Compression, LogError, LogOptions, LogReader, LogWriter};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

fn segment(dir: &Path, topic: &str, base: u64) -> PathBuf {
    dir.join(format!("topics/{topic}/0/{base:020}.log"))
}

fn values(from: u64, to: u64) -> Vec<Record> {
    (from..to)
        .map(|i| record("t", None, Some(&format!("value-{i}"))))
        .collect()
}

/// Writes records `0..count` to topic `t` and closes the writer: each in a batch frame of
/// its own (each sent alone and acknowledged before the next), uncompressed, so that damage
/// to one record's frame costs that record and a test finds a record's value in the file.
async fn write_records(dir: &Path, options: LogOptions, count: u64) {
    let options = LogOptions {
        compression: Compression::None,
        ..options
    };
    let mut writer = LogWriter::open(dir, options).unwrap();
    let mut acks = Acks::new();
    for i in 0..count {
        acks.write(&mut writer, values(i, i + 1)).await.unwrap();
    }
}

fn read_all(dir: &Path) -> Vec<(u64, String)> {
    LogReader::open(dir)
        .unwrap()
        .read("t", 0, 0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| (r.offset, String::from_utf8(r.value.unwrap()).unwrap()))
        .collect()
}

fn expected(to: u64) -> Vec<(u64, String)> {
    (0..to).map(|i| (i, format!("value-{i}"))).collect()
}

/// Sets the durable offset of `t`/0 and drops the commit journal's entries past it, as a
/// crash between a group's write and its commit leaves them: the records from `offset` on
/// were never acknowledged.
fn unacknowledge_from(dir: &Path, offset: u64) {
    fs::write(dir.join("topics/t/0/durable"), format!("{offset:020}\n")).unwrap();
    let path = dir.join(journal::JOURNAL_FILE);
    let (entries, _, problem) = journal::decode_entries(&fs::read(&path).unwrap());
    assert_eq!(problem, None);
    let mut kept = Vec::new();
    for entry in entries
        .iter()
        .filter(|e| e.ends.iter().all(|(_, _, end)| *end <= offset))
    {
        journal::encode_entry(entry, &mut kept);
    }
    fs::write(&path, kept).unwrap();
}

/// Reopens the log (recovering it), appends `from..to` and checks the whole partition.
async fn append_after_recovery(dir: &Path, from: u64, to: u64) {
    let mut writer = LogWriter::open(dir, LogOptions::default()).unwrap();
    Acks::new()
        .write(&mut writer, values(from, to))
        .await
        .unwrap();
    drop(writer);
    assert_eq!(read_all(dir), expected(to));
}

#[tokio::test]
async fn garbage_after_the_last_record_is_truncated_when_the_writer_opens() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 10).await;
    let path = segment(dir.path(), "t", 0);
    let good_len = fs::metadata(&path).unwrap().len();
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        .unwrap();
    drop(file);

    assert_eq!(
        read_all(dir.path()),
        expected(10),
        "the reader stops at garbage"
    );
    let writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), good_len);
    drop(writer);
    append_after_recovery(dir.path(), 10, 15).await;
}

#[tokio::test]
async fn a_record_cut_short_by_a_crash_is_dropped_and_offsets_continue_after_the_last_good_one() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 10).await;
    let path = segment(dir.path(), "t", 0);
    let len = fs::metadata(&path).unwrap().len();
    // Cut the last record in its middle, as a writer killed during its write leaves it:
    // that record was never acknowledged.
    unacknowledge_from(dir.path(), 9);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 7)
        .unwrap();

    assert_eq!(read_all(dir.path()), expected(9));
    let reader = LogReader::open(dir.path()).unwrap();
    assert_eq!(reader.partition_info("t", 0).unwrap().end_offset, 9);
    append_after_recovery(dir.path(), 9, 20).await;
    assert_eq!(reader.partition_info("t", 0).unwrap().end_offset, 20);
}

#[tokio::test]
async fn a_tail_cut_inside_the_length_prefix_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 3).await;
    let path = segment(dir.path(), "t", 0);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&[40, 0]).unwrap();
    drop(file);
    append_after_recovery(dir.path(), 3, 4).await;
}

#[tokio::test]
async fn a_damaged_unacknowledged_last_record_is_truncated_with_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 10).await;
    unacknowledge_from(dir.path(), 9);
    let path = segment(dir.path(), "t", 0);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    assert_eq!(read_all(dir.path()), expected(9));
    append_after_recovery(dir.path(), 9, 12).await;
}

/// Flips one byte inside record `offset` of `t`/0.
fn flip_byte_of_record(dir: &Path, offset: u64) -> PathBuf {
    let path = segment(dir, "t", 0);
    let mut bytes = fs::read(&path).unwrap();
    let needle = format!("value-{offset}");
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .expect("the record's value");
    bytes[at + 2] ^= 0x20;
    fs::write(&path, &bytes).unwrap();
    path
}

#[tokio::test]
async fn a_flipped_byte_in_acknowledged_records_stops_the_writer_and_readers_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 303).await;
    let path = flip_byte_of_record(dir.path(), 151);
    let len = fs::metadata(&path).unwrap().len();

    let named = |e: &LogError| {
        let text = e.to_string();
        matches!(
            e,
            LogError::Damaged {
                offset: 151,
                partition: 0,
                ..
            }
        ) && text.contains("topic t partition 0")
            && text.contains(&path.display().to_string())
            && text.contains("spillway topics --verify")
    };
    match LogWriter::open(dir.path(), LogOptions::default()) {
        Err(e) => assert!(named(&e), "{e}"),
        Ok(_) => panic!("the writer opened a log with damaged acknowledged records"),
    }
    assert_eq!(fs::metadata(&path).unwrap().len(), len, "nothing was cut");
    let reader = LogReader::open(dir.path()).unwrap();
    let e = reader.read("t", 0, 100, 1000).unwrap_err();
    assert!(named(&e), "{e}");
    let e = reader.topics().unwrap_err();
    assert!(named(&e), "{e}");
    // Records before the damage are still read, up to it.
    assert_eq!(reader.read("t", 0, 0, 100).unwrap().len(), 100);

    // Verification names what was lost; repair keeps every readable record at its offset.
    let checks = spillway_streams::verify(dir.path()).unwrap();
    assert_eq!(checks.len(), 1);
    assert!(checks[0].is_damaged());
    assert_eq!(
        (checks[0].damage[0].lost_from, checks[0].damage[0].lost_to),
        (151, Some(152))
    );
    let repaired = spillway_streams::repair(dir.path()).unwrap();
    assert_eq!(repaired[0].damage, checks[0].damage);
    assert_eq!(repaired[0].records, 302);
    assert!(spillway_streams::verify(dir.path())
        .unwrap()
        .iter()
        .all(|c| !c.is_damaged()));
    let all = read_all(dir.path());
    let mut want = expected(303);
    want.remove(151);
    assert_eq!(all, want);

    // New records follow the last one: no offset is used twice.
    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    Acks::new()
        .write(&mut writer, values(303, 306))
        .await
        .unwrap();
    drop(writer);
    let tail: Vec<u64> = read_all(dir.path()).iter().map(|r| r.0).skip(300).collect();
    assert_eq!(tail, vec![301, 302, 303, 304, 305]);
}

#[tokio::test]
async fn acknowledged_records_cut_off_the_end_are_reported_and_their_offsets_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 20).await;
    let path = segment(dir.path(), "t", 0);
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let e = LogWriter::open(dir.path(), LogOptions::default()).unwrap_err();
    assert!(matches!(e, LogError::Damaged { .. }), "{e}");
    let reader = LogReader::open(dir.path()).unwrap();
    assert!(matches!(reader.topics(), Err(LogError::Damaged { .. })));

    let repaired = spillway_streams::repair(dir.path()).unwrap();
    let lost = &repaired[0].damage;
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].lost_to, Some(20));
    let kept = lost[0].lost_from;
    assert!(kept > 0 && kept < 20);
    // A reader that had read everything is not sent back, and new records start at 20.
    let reader = LogReader::open(dir.path()).unwrap();
    assert_eq!(reader.partition_info("t", 0).unwrap().end_offset, 20);
    assert!(reader.read("t", 0, 20, 10).unwrap().is_empty());
    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    Acks::new()
        .write(&mut writer, values(20, 22))
        .await
        .unwrap();
    drop(writer);
    let offsets: Vec<u64> = read_all(dir.path()).iter().map(|r| r.0).collect();
    let mut want: Vec<u64> = (0..kept).collect();
    want.extend([20, 21]);
    assert_eq!(offsets, want);
}

#[tokio::test]
async fn a_reader_past_the_end_of_the_log_is_told_so() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 10).await;
    let reader = LogReader::open(dir.path()).unwrap();
    assert!(reader.read("t", 0, 10, 10).unwrap().is_empty());
    match reader.read("t", 0, 303, 10) {
        Err(LogError::PastEnd {
            offset: 303,
            end: 10,
            ..
        }) => {}
        other => panic!("expected past-the-end, got {other:?}"),
    }
}

#[tokio::test]
async fn damage_in_a_log_without_durable_offsets_is_cut_only_when_nothing_intact_follows() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 50).await;
    // A log from before durable offsets (and the commit journal).
    fs::remove_file(dir.path().join("topics/t/0/durable")).unwrap();
    fs::remove_file(dir.path().join(journal::JOURNAL_FILE)).unwrap();
    flip_byte_of_record(dir.path(), 20);
    let e = LogWriter::open(dir.path(), LogOptions::default()).unwrap_err();
    assert!(
        matches!(e, LogError::Damaged { offset: 20, .. })
            && e.to_string().contains("intact record"),
        "{e}"
    );
}

#[tokio::test]
async fn a_wholly_torn_last_segment_after_a_roll_restarts_at_its_base() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = LogOptions {
        default_partitions: 1,
        segment_bytes: 200,
        ..LogOptions::default()
    };
    write_records(dir.path(), tiny, 30).await;
    let mut bases: Vec<u64> = fs::read_dir(dir.path().join("topics/t/0"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".log").map(|n| n.parse().unwrap())
        })
        .collect();
    bases.sort();
    let last = *bases.last().unwrap();
    assert!(last > 0);
    // The last segment's records were never acknowledged.
    unacknowledge_from(dir.path(), last);
    fs::write(segment(dir.path(), "t", last), b"\x07garbage").unwrap();

    assert_eq!(read_all(dir.path()), expected(last));
    let writer = LogWriter::open(dir.path(), tiny).unwrap();
    // Nothing in it was committed: it is removed (or left empty), and offsets go on at its
    // base.
    assert_eq!(
        fs::metadata(segment(dir.path(), "t", last)).map_or(0, |m| m.len()),
        0
    );
    drop(writer);
    append_after_recovery(dir.path(), last, 40).await;
}

#[tokio::test]
async fn a_corrupt_record_in_an_earlier_segment_is_an_error_not_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = LogOptions {
        default_partitions: 1,
        segment_bytes: 400,
        ..LogOptions::default()
    };
    write_records(dir.path(), tiny, 40).await;
    let first = segment(dir.path(), "t", 0);
    let mut bytes = fs::read(&first).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&first, &bytes).unwrap();

    let reader = LogReader::open(dir.path()).unwrap();
    match reader.read("t", 0, 0, 100) {
        Err(LogError::Damaged { path, .. }) => assert_eq!(path, first),
        other => panic!("expected a damaged-segment error, got {other:?}"),
    }
    // Offsets in later segments remain readable.
    let later = reader.read("t", 0, 30, 100).unwrap();
    assert_eq!(later.first().map(|r| r.offset), Some(30));
    assert_eq!(later.len(), 10);
    // The writer only recovers the last segment and keeps appending after it.
    append_after_recovery_unchecked(dir.path(), tiny).await;
    assert_eq!(reader.partition_info("t", 0).unwrap().end_offset, 41);
}

async fn append_after_recovery_unchecked(dir: &Path, options: LogOptions) {
    let mut writer = LogWriter::open(dir, options).unwrap();
    Acks::new()
        .write(&mut writer, values(40, 41))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reader_that_saw_a_torn_tail_sees_the_rewritten_tail_after_recovery() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), LogOptions::default(), 5).await;
    let path = segment(dir.path(), "t", 0);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&[0u8; 100]).unwrap();
    drop(file);
    let reader = LogReader::open(dir.path()).unwrap();
    assert_eq!(reader.read("t", 0, 0, 100).unwrap().len(), 5);

    let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    Acks::new().write(&mut writer, values(5, 8)).await.unwrap();
    let tail = reader.read("t", 0, 5, 100).unwrap();
    let offsets: Vec<u64> = tail.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![5, 6, 7]);
    assert_eq!(tail[0].value.as_deref(), Some(&b"value-5"[..]));
}

/// Byte positions of the frames of a segment written by the writer, from their lengths.
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        starts.push(at);
        at += 4 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    starts
}

#[tokio::test]
async fn a_flipped_byte_inside_a_compressed_batch_is_damage_and_a_repair_loses_that_batch_only() {
    for codec in [Compression::Lz4, Compression::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            compression: codec,
            ..LogOptions::default()
        };
        // Three batches of 100 records, each sent (and so framed) alone.
        let mut writer = LogWriter::open(dir.path(), options).unwrap();
        let mut acks = Acks::new();
        for b in 0..3 {
            acks.write(&mut writer, values(b * 100, b * 100 + 100))
                .await
                .unwrap();
        }
        drop(writer);
        let path = segment(dir.path(), "t", 0);
        let mut bytes = fs::read(&path).unwrap();
        let starts = frame_starts(&bytes);
        assert_eq!(starts.len(), 3, "{codec:?}");
        assert!(
            bytes.len() < 100 * 3 * 20,
            "{codec:?}: {} bytes for 300 records",
            bytes.len()
        );
        // A byte inside the second batch's compressed payload.
        let at = (starts[1] + starts[2]) / 2 + 10;
        bytes[at] ^= 0x04;
        fs::write(&path, &bytes).unwrap();

        let reader = LogReader::open(dir.path()).unwrap();
        match reader.read("t", 0, 0, 1000) {
            Err(LogError::Damaged {
                offset, position, ..
            }) => assert_eq!((offset, position), (100, starts[1] as u64), "{codec:?}"),
            other => panic!("{codec:?}: {other:?}"),
        }
        // From inside the damaged batch too: never a record of it.
        assert!(matches!(
            reader.read("t", 0, 150, 10),
            Err(LogError::Damaged { offset: 100, .. })
        ));
        assert_eq!(reader.read("t", 0, 0, 100).unwrap().len(), 100);
        assert!(matches!(
            LogWriter::open(dir.path(), options),
            Err(LogError::Damaged { offset: 100, .. })
        ));

        let checks = spillway_streams::verify(dir.path()).unwrap();
        let damage = &checks[0].damage;
        assert_eq!(damage.len(), 1, "{codec:?}: {damage:?}");
        assert_eq!((damage[0].lost_from, damage[0].lost_to), (100, Some(200)));
        assert_eq!(damage[0].position, starts[1] as u64);
        assert_eq!(damage[0].bytes, (starts[2] - starts[1]) as u64);
        let repaired = spillway_streams::repair(dir.path()).unwrap();
        assert_eq!(repaired[0].records, 200);
        let mut want = expected(100);
        want.extend(expected(300).split_off(200));
        assert_eq!(read_all(dir.path()), want, "{codec:?}");
        append_after_recovery_from(dir.path(), 300, 302, want).await;
    }
}

/// Reopens the log, appends `from..to` and checks the partition holds `before` then them.
async fn append_after_recovery_from(
    dir: &Path,
    from: u64,
    to: u64,
    mut before: Vec<(u64, String)>,
) {
    let mut writer = LogWriter::open(dir, LogOptions::default()).unwrap();
    Acks::new()
        .write(&mut writer, values(from, to))
        .await
        .unwrap();
    drop(writer);
    before.extend(expected(to).split_off(from as usize));
    assert_eq!(read_all(dir), before);
}
