//! Exactly once into the embedded log, end to end: while an application keeps committing,
//! `spillway run` is stopped by SIGKILL at the log's failpoints (after a group's write,
//! after its fsync, after its commit in the journal) again and again; afterwards every
//! committed change is in the log exactly once, in commit order per key.

mod support;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{read_topic, wait_for_log, wait_for_records, Spillway, TestDb};

const ROWS: i32 = 20;

#[test]
fn kills_between_write_fsync_and_commit_write_no_change_twice() {
    let db = TestDb::create("exactlyonce");
    db.sql(&format!(
        "CREATE TABLE t (id int PRIMARY KEY, seq int NOT NULL, pad text);
         INSERT INTO t SELECT g, 0, repeat('p', 200) FROM generate_series(1, {ROWS}) g;"
    ));
    let dir = support::scratch("exactlyonce");
    let data = dir.path().join("data");
    let config = db.connector(&[("table.include.list", "public.t")]);
    let topic = db.topic("t");

    // The snapshot first, so that every kill lands in streaming.
    let mut sw = Spillway::start(&config, &data);
    wait_for_records(&sw, &topic, ROWS as usize, Duration::from_secs(60));
    wait_for_log(&sw, "streaming changes", Duration::from_secs(60));
    assert!(sw.stop().success(), "{}", sw.logs());

    // The application: transactions of one to three updates, each committed change noted.
    let committed: Arc<Mutex<Vec<(i32, i32)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let app = {
        let (committed, stop, name) = (committed.clone(), stop.clone(), db.name.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let client = support::connect(&name).await;
                let mut seqs = vec![0i32; ROWS as usize + 1];
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let n = 1 + k % 3;
                    let mut tx = Vec::new();
                    client.batch_execute("BEGIN").await.unwrap();
                    for j in 0..n {
                        let id = ((k * 7 + j * 3) % ROWS as u64) as i32 + 1;
                        if tx.iter().any(|(i, _)| *i == id) {
                            continue;
                        }
                        client
                            .execute("UPDATE t SET seq = seq + 1 WHERE id = $1", &[&id])
                            .await
                            .unwrap();
                        tx.push((id, seqs[id as usize] + 1));
                    }
                    client.batch_execute("COMMIT").await.unwrap();
                    for &(id, seq) in &tx {
                        seqs[id as usize] = seq;
                    }
                    committed.lock().unwrap().extend(tx);
                    k += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            });
        })
    };

    let mut kills = 0;
    for round in 0..3 {
        for point in ["log-after-write", "log-after-sync", "log-after-journal"] {
            let nth = format!("{point}:{}", 20 + round * 25 + point.len() % 4);
            let mut sw =
                Spillway::start_with_env(&config, &data, &[], &[("SPILLWAY_FAILPOINT", &nth)]);
            let status = sw.wait_exit(Duration::from_secs(60));
            assert_eq!(
                status.signal(),
                Some(9),
                "spillway should have stopped itself at {nth}: {status}\n{}",
                sw.logs()
            );
            kills += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    app.join().unwrap();
    let committed = committed.lock().unwrap().clone();

    // A run without failpoints catches up.
    let sw = Spillway::start(&config, &data);
    let expected = ROWS as usize + committed.len();
    let deadline = Instant::now() + Duration::from_secs(120);
    let records = loop {
        let records: Vec<_> = read_topic(&data, &topic)
            .into_iter()
            .filter(|r| r.value.is_some())
            .collect();
        if records.len() >= expected || Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(sw);

    let mut seen: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in &records {
        let after = r.after();
        seen.entry(after["id"].as_i64().unwrap())
            .or_default()
            .push(after["seq"].as_i64().unwrap());
    }
    let mut want: BTreeMap<i64, Vec<i64>> = (1..=ROWS as i64).map(|id| (id, vec![0])).collect();
    for (id, seq) in &committed {
        want.get_mut(&i64::from(*id)).unwrap().push(i64::from(*seq));
    }
    println!(
        "{kills} kills at the log's failpoints; {} changes committed; {} records in the log (expected {expected})",
        committed.len(),
        records.len()
    );
    for (id, values) in &want {
        assert_eq!(
            seen.get(id),
            Some(values),
            "key {id}: the log's values against the committed ones, each exactly once"
        );
    }
    assert_eq!(records.len(), expected);
}
