//! The log on a disk that fills up: a failed group is not acknowledged, the handles open at
//! that moment are refused, what the group wrote is taken back, and a handle opened later
//! continues from the last acknowledged record once there is room again.
//!
//! The disk is a small tmpfs mounted for the test, which needs root (as the project's test
//! machines run).

mod common;

use common::{record, Acks};
use spillway_core::{Record, StreamError};
use spillway_streams::{verify, Compression, LogOptions, LogReader, LogWriter};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of a given size, unmounted on drop.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> SmallDisk {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(root, "this test mounts a small tmpfs and must run as root");
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0700"))
            .arg("tmpfs")
            .arg(&mount)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs at {}", mount.display());
        SmallDisk { mount, _dir: dir }
    }

    fn path(&self) -> &Path {
        &self.mount
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// A value of `len` bytes that does not compress, different for every record.
fn value_for(i: u64, len: usize) -> String {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = format!("{i}:");
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(char::from(b'a' + (x % 26) as u8));
    }
    out
}

fn batch(from: u64, n: u64) -> Vec<Record> {
    (from..from + n)
        .map(|i| {
            let key = format!("k{}", i % 97);
            record("full", Some(&key), Some(&value_for(i, 900)))
        })
        .collect()
}

fn options() -> LogOptions {
    LogOptions {
        default_partitions: 1,
        segment_bytes: 256 * 1024,
        compression: Compression::None,
    }
}

#[tokio::test]
async fn a_full_disk_acknowledges_nothing_more_and_writing_continues_once_there_is_room() {
    let disk = SmallDisk::mount(4 * 1024 * 1024);
    let data_dir = disk.path().join("log");
    // Room the test gives back once the log has filled the rest.
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![7u8; 1024 * 1024]).unwrap();

    let mut first = LogWriter::open_shared(&data_dir, options()).unwrap();
    let mut acks = Acks::new();
    let mut acked = 0u64;
    let error = loop {
        let n = 1 + acked % 37;
        match acks.write(&mut first, batch(acked, n)).await {
            Ok(()) => acked += n,
            Err(e) => break e,
        }
        assert!(acked < 100_000, "the disk never filled up");
    };
    let StreamError::Io { action, source } = &error else {
        panic!("expected an I/O error, got {error:?}");
    };
    assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{error}");
    assert!(
        source.to_string().contains("until the disk has room"),
        "the error says what to do: {action}: {source}"
    );
    println!("the disk filled after {acked} acknowledged records");

    // The handle that was writing is refused from now on, also once there is room: its
    // next batch would follow records that were never acknowledged.
    let refused = acks.write(&mut first, batch(acked, 1)).await.unwrap_err();
    assert!(
        refused.to_string().contains("an earlier write failed"),
        "{refused}"
    );

    // What the failed group wrote was taken back: the log holds exactly what was
    // acknowledged, no damage, no torn tail.
    let reader = LogReader::open(&data_dir).unwrap();
    let read = reader.read("full", 0, 0, usize::MAX).unwrap();
    assert_eq!(read.len() as u64, acked);
    for (i, r) in read.iter().enumerate() {
        assert_eq!(r.offset, i as u64);
        assert_eq!(
            r.value.as_deref(),
            Some(value_for(i as u64, 900).as_bytes())
        );
    }
    assert!(verify(&data_dir).unwrap().iter().all(|p| !p.is_damaged()));

    // Still full: a new handle fails too, and is refused in turn.
    let mut second = LogWriter::open_shared(&data_dir, options()).unwrap();
    let mut acks2 = Acks::new();
    let still_full = acks2.write(&mut second, batch(acked, 200)).await;
    assert!(still_full.is_err(), "200 records fit on a full disk");

    // Room again: a handle opened now continues from the last acknowledged record.
    std::fs::remove_file(&filler).unwrap();
    let mut third = LogWriter::open_shared(&data_dir, options()).unwrap();
    let mut acks3 = Acks::new();
    let mut next = acked;
    while next < acked + 500 {
        acks3.write(&mut third, batch(next, 25)).await.unwrap();
        next += 25;
    }
    drop((first, second, third));

    let reader = LogReader::open(&data_dir).unwrap();
    let read = reader.read("full", 0, 0, usize::MAX).unwrap();
    assert_eq!(read.len() as u64, next, "every record once, none lost");
    for (i, r) in read.iter().enumerate() {
        assert_eq!(r.offset, i as u64, "offsets without gaps");
        assert_eq!(
            r.value.as_deref(),
            Some(value_for(i as u64, 900).as_bytes())
        );
    }
    assert!(verify(&data_dir).unwrap().iter().all(|p| !p.is_damaged()));
}
