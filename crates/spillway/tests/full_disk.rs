//! A full disk loses nothing: capture into the embedded log on a small tmpfs, fill the disk
//! while the application keeps committing, see the connector wait (status, metrics), free
//! the space, and find every committed change in the log, in order per key.
//!
//! Mounting the tmpfs needs root, as the project's test machines run.

mod support;

use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::worker::WorkerProcess;
use support::{free_port, read_topic, scratch, TestDb};

/// A tmpfs mounted at `path` for the test, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &Path, bytes: u64) -> SmallDisk {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(root, "this test mounts a small tmpfs and must run as root");
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0700"))
            .arg("tmpfs")
            .arg(path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs at {}", path.display());
        SmallDisk(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `path` with the file `path` until a write fails.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5au8; 16 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
                break;
            }
        }
    }
    let _ = file.sync_all();
    written
}

fn wait_for(what: &str, worker: &WorkerProcess, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in time\n{}",
            worker.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn metric(worker: &WorkerProcess, name: &str, connector: &str) -> Option<f64> {
    let (_, text) = worker.call("GET", "/metrics", None);
    let text = text.as_str().unwrap_or_default().to_string();
    let prefix = format!("{name}{{connector=\"{connector}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn a_full_disk_pauses_capture_and_every_committed_change_arrives_once_there_is_room() {
    let db = TestDb::create("fulldisk");
    db.sql(
        "CREATE TABLE t (id int PRIMARY KEY, seq int NOT NULL, pad text);
         INSERT INTO t SELECT g, 0, repeat(md5(g::text), 8) FROM generate_series(1, 50) g;",
    );
    let dir = scratch("fulldisk");
    let data = dir.path().join("data");
    let _disk = SmallDisk::mount(&data, 8 * 1024 * 1024);
    let worker = WorkerProcess::start(&data, free_port(), &[]);
    let config = db.connector(&[
        ("table.include.list", "public.t"),
        ("log.segment.bytes", "262144"),
    ]);
    let (status, answer) = worker.call("POST", "/connectors", Some(&config));
    assert_eq!(status, 201, "{answer}");
    let topic = db.topic("t");
    wait_for("the snapshot", &worker, || {
        read_topic(&data, &topic).len() >= 50
    });

    let filled = fill(&data.join("filler"));
    println!("filled the disk with {filled} bytes");

    // The application goes on: 250 new rows and three updates of every row, while the log
    // has no room for any of it.
    db.sql("INSERT INTO t SELECT g, 0, repeat(md5(g::text), 8) FROM generate_series(51, 300) g;");
    for round in 1..=3 {
        db.sql(&format!(
            "UPDATE t SET seq = {round}, pad = repeat(md5((id * {round})::text), 8);"
        ));
    }

    let name = db.name.clone();
    let mut status = Value::Null;
    wait_for("the connector waiting for room", &worker, || {
        status = worker
            .call("GET", &format!("/connectors/{name}/status"), None)
            .1;
        status["tasks"][0]["retrying"]
            .as_str()
            .is_some_and(|r| r.contains("No space left on device"))
    });
    println!("status while full: {}", status["tasks"][0]["retrying"]);
    assert_eq!(status["connector"]["state"], "RUNNING", "{status}");
    wait_for("the waiting metric", &worker, || {
        metric(&worker, "spillway_connector_waiting_for_operator", &name) == Some(1.0)
    });
    let while_full = read_topic(&data, &topic).len();
    println!("records in the log while the disk was full: {while_full}");
    assert!(
        while_full < 50 + 250 + 900,
        "nothing more fits on a full disk"
    );

    // Room again: the connector continues where it was.
    std::fs::remove_file(data.join("filler")).unwrap();
    let freed = Instant::now();
    let final_seq = |records: &[support::Rec]| {
        let mut last: HashMap<i64, i64> = HashMap::new();
        for r in records.iter().filter(|r| r.value.is_some()) {
            let after = r.after();
            last.insert(
                after["id"].as_i64().unwrap(),
                after["seq"].as_i64().unwrap(),
            );
        }
        last
    };
    wait_for("every change after the disk had room", &worker, || {
        let last = final_seq(&read_topic(&data, &topic));
        last.len() == 300 && last.values().all(|&s| s == 3)
    });
    println!(
        "caught up {:.1} s after the space was freed",
        freed.elapsed().as_secs_f64()
    );

    // Every committed change is there, and per key the first appearances are in commit
    // order (a retry may repeat what came before, never skip ahead).
    let records = read_topic(&data, &topic);
    let mut seen: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut duplicates = 0;
    for r in records.iter().filter(|r| r.value.is_some()) {
        let after = r.after();
        let (id, seq) = (
            after["id"].as_i64().unwrap(),
            after["seq"].as_i64().unwrap(),
        );
        let history = seen.entry(id).or_default();
        if history.contains(&seq) {
            duplicates += 1;
            continue;
        }
        assert!(
            history.last().is_none_or(|&l| l < seq),
            "key {id}: {seq} after {history:?}"
        );
        history.push(seq);
    }
    for id in 1..=300 {
        assert_eq!(seen[&id], vec![0, 1, 2, 3], "key {id}");
    }
    println!(
        "{} records, {} changes checked, {duplicates} repeated after retries",
        records.len(),
        300 * 4
    );
    wait_for("the waiting metric to clear", &worker, || {
        metric(&worker, "spillway_connector_waiting_for_operator", &name) == Some(0.0)
    });
}
