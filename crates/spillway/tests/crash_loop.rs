//! The kill -9 promise: spillway is killed with SIGKILL over and over while an application
//! keeps committing, and afterwards every committed change is in the log, in order per key.
//!
//! Figures are printed to stdout (`cargo nextest run -p spillway --test crash_loop
//! --no-capture`). `CRASH_LOOP_SEED=N` repeats the writer's and the killer's choices (the
//! timing of the machine still varies).

mod support;

use serde_json::Value;
use spillway_streams::LogReader;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Rec, Spillway, TestDb};
use tokio_postgres::Client;

/// How many times spillway is killed with SIGKILL.
const KILLS: usize = 24;
/// The first kills aim at the snapshot (a few milliseconds after it starts) as long as
/// runs still take one; the snapshot of `INITIAL_ROWS` is too short for random timing to
/// hit it often.
const SNAPSHOT_KILLS: usize = 3;
/// How long each run lives before the kill, in milliseconds (uniform).
const RUN_MS: (u64, u64) = (300, 2_000);
/// Rows in the table before the first start, read by the snapshot (about 0.1 s here).
const INITIAL_ROWS: i64 = 20_000;
/// Ids `1..=HOT_KEYS` take most updates (and are never deleted): long per-key histories.
const HOT_KEYS: i64 = 64;
/// Concurrent writers; writer `w` owns the ids with `(id - 1) % WRITERS == w` (and the new
/// ids it inserts), so the commit order of one key is the program order of one writer.
const WRITERS: i64 = 2;
/// Pause between two transactions of one writer.
const WRITER_PAUSE: Duration = Duration::from_millis(2);
/// Id of the row inserted after the writers stopped: once it is in the log, the last run
/// has caught up.
const MARKER_ID: i64 = 2_000_000_000;
/// Time the last run gets to catch up.
const CATCH_UP: Duration = Duration::from_secs(120);

#[test]
fn kill_9_in_a_loop_loses_no_committed_change_and_keeps_per_key_order() {
    let started = Instant::now();
    let seed = std::env::var("CRASH_LOOP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("crash loop: seed {seed} (set CRASH_LOOP_SEED to repeat the choices)");
    let mut rng = Rng::new(seed);

    let db = TestDb::create("crash");
    db.sql(&format!(
        "CREATE TABLE accounts (id int PRIMARY KEY, seq bigint NOT NULL, note text);
         INSERT INTO accounts SELECT g, 0, 'initial row ' || g || ' ' || repeat('x', 40)
           FROM generate_series(1, {INITIAL_ROWS}) g;"
    ));
    let scratch = support::scratch("crash");
    let data_dir = scratch.path().join("data");
    let config = db.connector(&[("table.include.list", "public.accounts")]);
    let topic = db.topic("accounts");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let client = runtime.block_on(db.client());
            let writer = Writer::new(w, client, seed.wrapping_add(w as u64 + 1));
            runtime.spawn(writer.run(Arc::clone(&stop)))
        })
        .collect();

    // The kill loop.
    let mut run_times = Vec::with_capacity(KILLS);
    let mut aimed_kills = 0;
    for round in 0..KILLS {
        let mut spillway = Spillway::start(&config, &data_dir);
        let run_started = Instant::now();
        let aimed = round < SNAPSHOT_KILLS && in_snapshot_soon(&spillway);
        let life = if aimed {
            std::thread::sleep(Duration::from_millis(rng.below(40)));
            run_started.elapsed()
        } else {
            let life = Duration::from_millis(rng.range(RUN_MS.0, RUN_MS.1));
            std::thread::sleep(life.saturating_sub(run_started.elapsed()));
            life
        };
        if !spillway.is_running() {
            stop.store(true, Ordering::Relaxed);
            panic!(
                "spillway exited by itself in round {round} (it should have been running {life:?} \
                 after start, until killed)\n{}",
                logs(scratch.path())
            );
        }
        spillway.kill9();
        run_times.push(life);
        aimed_kills += usize::from(aimed);
        if writers.iter().any(|w| w.is_finished()) {
            break;
        }
    }

    // Stop the writers; each returns what it committed, in commit order.
    stop.store(true, Ordering::Relaxed);
    let mut committed: Vec<Change> = (1..=INITIAL_ROWS)
        .map(|id| Change {
            id,
            value: Some(0),
            lo: 0,
            hi: 0,
        })
        .collect();
    let mut stats = WriterStats::default();
    for handle in writers {
        match runtime.block_on(handle) {
            Ok((changes, s)) => {
                committed.extend(changes);
                stats.add(&s);
            }
            Err(e) => panic!("a writer failed: {e}\n{}", logs(scratch.path())),
        }
    }
    assert_eq!(
        run_times.len(),
        KILLS,
        "the kill loop ended early because a writer stopped"
    );
    let marker = runtime.block_on(async {
        let client = db.client().await;
        let lo = wal_insert_lsn(&client).await;
        client
            .execute(
                "INSERT INTO accounts (id, seq, note) VALUES ($1, 0, 'marker')",
                &[&(MARKER_ID as i32)],
            )
            .await
            .expect("insert the marker row");
        let hi = wal_insert_lsn(&client).await;
        Change {
            id: MARKER_ID,
            value: Some(0),
            lo,
            hi,
        }
    });
    committed.push(marker);
    let writing_done = started.elapsed();

    // The last run catches up, then stops cleanly.
    let mut spillway = Spillway::start(&config, &data_dir);
    let catch_up_started = Instant::now();
    let mut follower = Follower::default();
    loop {
        if follower.saw_key(&data_dir, &topic, MARKER_ID) {
            break;
        }
        if !spillway.is_running() {
            panic!(
                "the last spillway run exited before catching up\n{}",
                logs(scratch.path())
            );
        }
        if catch_up_started.elapsed() > CATCH_UP {
            panic!(
                "the marker row committed after the writers stopped is not in the log after \
                 {CATCH_UP:?} ({} records read)\n{}",
                follower.records,
                logs(scratch.path())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let catch_up = catch_up_started.elapsed();
    let status = spillway.stop();
    assert!(
        status.success(),
        "spillway did not exit 0 on SIGTERM: {status}\n{}",
        logs(scratch.path())
    );

    let records = support::read_topic(&data_dir, &topic);
    let report = check(&committed, &records);
    let snapshots_logged = count_in_logs(scratch.path(), "snapshot started");
    let written = committed.len() - INITIAL_ROWS as usize;
    println!(
        "crash loop: {} kills ({} aimed at a snapshot, the others after {}-{} ms), {} snapshots \
         started ({} seen in the log), writers: {} transactions ({} rolled back), {} changes \
         committed after the initial {} rows",
        run_times.len(),
        aimed_kills,
        RUN_MS.0,
        RUN_MS.1,
        snapshots_logged,
        report.snapshots,
        stats.transactions,
        stats.rolled_back,
        written,
        INITIAL_ROWS,
    );
    println!(
        "crash loop: log has {} records: {} change events ({} distinct committed changes found, \
         {} required), {} snapshot reads ({} repeated by a later snapshot), {} tombstones, \
         {} duplicate change events (redelivered); \
         writing {:.1} s, catch-up {:.1} s, elapsed {:.1} s",
        records.len(),
        report.change_events,
        report.found,
        report.required,
        report.snapshot_reads,
        report.snapshot_repeats,
        report.tombstones,
        report.duplicates,
        writing_done.as_secs_f64(),
        catch_up.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    if !report.problems.is_empty() {
        let mut message = format!(
            "{} problems in the log after {} kills (seed {seed}):\n",
            report.problems.len(),
            run_times.len()
        );
        for p in report.problems.iter().take(30) {
            let _ = writeln!(message, "  {p}");
        }
        panic!("{message}\n{}", logs(scratch.path()));
    }
    drop(runtime);
}

/// One committed change of one row: `value` is the committed `seq`, `None` a delete.
/// The commit record of its transaction lies in `lo..=hi` in the WAL.
#[derive(Clone, Debug)]
struct Change {
    id: i64,
    value: Option<i64>,
    lo: u64,
    hi: u64,
}

#[derive(Default)]
struct WriterStats {
    transactions: u64,
    rolled_back: u64,
}

impl WriterStats {
    fn add(&mut self, other: &WriterStats) {
        self.transactions += other.transactions;
        self.rolled_back += other.rolled_back;
    }
}

/// An application writing to its own keys.
struct Writer {
    client: Client,
    rng: Rng,
    /// Keys that take most updates; never deleted.
    hot: Vec<i64>,
    /// Other existing keys.
    live: Vec<i64>,
    seq: HashMap<i64, i64>,
    next_new: i64,
    stride: i64,
    committed: Vec<Change>,
    stats: WriterStats,
}

impl Writer {
    fn new(w: i64, client: Client, seed: u64) -> Writer {
        let owned = (1..=INITIAL_ROWS).filter(|id| (id - 1) % WRITERS == w);
        let (hot, live): (Vec<i64>, Vec<i64>) = owned.partition(|&id| id <= HOT_KEYS);
        let seq = hot.iter().chain(&live).map(|&id| (id, 0)).collect();
        Writer {
            client,
            rng: Rng::new(seed),
            hot,
            live,
            seq,
            next_new: 1_000_000 + w,
            stride: WRITERS,
            committed: Vec::new(),
            stats: WriterStats::default(),
        }
    }

    async fn run(mut self, stop: Arc<AtomicBool>) -> (Vec<Change>, WriterStats) {
        while !stop.load(Ordering::Relaxed) {
            self.transaction().await;
            tokio::time::sleep(WRITER_PAUSE).await;
        }
        (self.committed, self.stats)
    }

    /// One transaction; what it changed is recorded only once COMMIT has returned.
    async fn transaction(&mut self) {
        let Writer {
            client,
            rng,
            hot,
            live,
            seq,
            next_new,
            stride,
            committed,
            stats,
        } = self;
        let pick_live = |rng: &mut Rng, live: &Vec<i64>| {
            (!live.is_empty()).then(|| rng.below(live.len() as u64) as usize)
        };
        let kind = rng.below(100);
        let tx = client.transaction().await.expect("BEGIN");
        // (id, new value or None for a delete), in statement order.
        let mut changes: Vec<(i64, Option<i64>)> = Vec::new();
        let mut steps: Vec<Step> = Vec::new();
        match kind {
            0..=39 => steps.push(Step::UpdateHot),
            40..=59 => steps.push(Step::UpdateLive),
            60..=74 => {
                for _ in 0..1 + rng.below(3) {
                    steps.push(Step::Insert);
                }
            }
            75..=84 => steps.push(Step::Delete),
            85..=94 => {
                for _ in 0..2 + rng.below(4) {
                    steps.push(match rng.below(10) {
                        0..=4 => Step::UpdateHot,
                        5..=7 => Step::UpdateLive,
                        8 => Step::Insert,
                        _ => Step::Delete,
                    });
                }
            }
            _ => {
                // Rolled back: these values must never show up in the log.
                let id = hot[rng.below(hot.len() as u64) as usize];
                tx.execute(
                    "UPDATE accounts SET seq = seq + 1000000000, note = 'rolled back' WHERE id = $1",
                    &[&(id as i32)],
                )
                .await
                .expect("update to roll back");
                tx.rollback().await.expect("ROLLBACK");
                stats.transactions += 1;
                stats.rolled_back += 1;
                return;
            }
        }
        for step in steps {
            let id = match step {
                Step::UpdateHot => Some(hot[rng.below(hot.len() as u64) as usize]),
                Step::UpdateLive => pick_live(rng, live).map(|i| live[i]),
                Step::Insert => {
                    let id = *next_new;
                    *next_new += *stride;
                    tx.execute(
                        "INSERT INTO accounts (id, seq, note) VALUES ($1, 0, $2)",
                        &[&(id as i32), &format!("inserted {id}")],
                    )
                    .await
                    .expect("insert");
                    live.push(id);
                    seq.insert(id, 0);
                    changes.push((id, Some(0)));
                    None
                }
                Step::Delete => {
                    if let Some(i) = pick_live(rng, live) {
                        let id = live.swap_remove(i);
                        let n = tx
                            .execute("DELETE FROM accounts WHERE id = $1", &[&(id as i32)])
                            .await
                            .expect("delete");
                        assert_eq!(n, 1, "row {id} should have existed");
                        seq.remove(&id);
                        changes.push((id, None));
                    }
                    None
                }
            };
            let Some(id) = id else { continue };
            let row = tx
                .query_one(
                    "UPDATE accounts SET seq = seq + 1, note = 'updated' WHERE id = $1 RETURNING seq",
                    &[&(id as i32)],
                )
                .await
                .expect("update");
            let new: i64 = row.get(0);
            let expected = seq[&id] + 1;
            assert_eq!(new, expected, "row {id} has an unexpected seq");
            seq.insert(id, new);
            changes.push((id, Some(new)));
        }
        let lo = tx
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .await
            .map(|r| parse_lsn(r.get(0)))
            .expect("read the WAL position");
        tx.commit().await.expect("COMMIT");
        let hi = wal_insert_lsn(client).await;
        stats.transactions += 1;
        committed.extend(
            changes
                .into_iter()
                .map(|(id, value)| Change { id, value, lo, hi }),
        );
    }
}

#[derive(Clone, Copy)]
enum Step {
    UpdateHot,
    UpdateLive,
    Insert,
    Delete,
}

async fn wal_insert_lsn(client: &Client) -> u64 {
    let row = client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .expect("read the WAL position");
    parse_lsn(row.get(0))
}

fn parse_lsn(text: &str) -> u64 {
    let (hi, lo) = text.split_once('/').expect("an LSN is X/Y");
    (u64::from_str_radix(hi, 16).expect("LSN high half") << 32)
        | u64::from_str_radix(lo, 16).expect("LSN low half")
}

/// What the checker found.
#[derive(Default)]
struct Report {
    problems: Vec<String>,
    snapshots: usize,
    snapshot_reads: usize,
    change_events: usize,
    tombstones: usize,
    duplicates: usize,
    snapshot_repeats: usize,
    found: usize,
    required: usize,
}

/// One record of one key, reduced to what the check needs.
#[derive(Debug)]
enum Event {
    /// `op: r`: the row as the snapshot read it.
    Read(i64),
    /// `op: c/u`: the row's new `seq`.
    Write(i64),
    Delete,
    Tombstone,
}

/// Which committed changes of a key must be in the log as change events.
enum Required {
    /// Every change from this index on.
    From(usize),
    /// Either none or all of them: the key's whole history may lie before the snapshot
    /// (it is then not in the snapshot) or after it, and the WAL bounds cannot tell.
    AllOrNothing,
}

/// Checks the log against the committed changes.
///
/// Per key, the committed history is a list `h[0..n]` in commit order: strictly increasing
/// `seq` values, possibly ending with a delete. Each record of the key (in log order) is
/// mapped to its index in that list: a value that is not there (a rolled-back update, a
/// made-up row) is a problem by itself.
///
/// * Snapshot: the records of the last snapshot (from its last `snapshot: first` record on)
///   show the table as of its consistent point `P` (their `source.lsn`). A transaction whose
///   commit lies before `P` is covered by the snapshot, one after `P` must be streamed. The
///   writer bounds each commit's WAL position (`lo..=hi`), so for a key read as `h[i]`,
///   `h[i]` must not have committed after `P` and `h[i+1]` not before it; a key that is not
///   read must not have existed at `P`. Changes covered by a snapshot that replaced an
///   interrupted one may legitimately be missing from the log: the snapshot stands in
///   for them.
/// * Completeness: every committed change after the snapshot's value (all of them for a
///   key inserted after `P`) appears as a change event.
/// * Order: at-least-once means a crash may send a range of events again, so a key may
///   read 5,6,7,6,7,8. Redelivery only ever repeats what came before, so the check is on
///   first appearances: each index seen for the first time must be higher than every index
///   seen before it (5,7,6 fails; 5,6,7,6,7,8 passes). Repeats are counted as duplicates.
/// * Final state: the last event of each key is its last committed change (what a
///   compacting consumer keeps), and a deleted key ends with a tombstone.
fn check(committed: &[Change], records: &[Rec]) -> Report {
    let mut report = Report::default();
    let mut history: HashMap<i64, Vec<&Change>> = HashMap::new();
    for c in committed {
        history.entry(c.id).or_default().push(c);
    }

    // Records per key, in log order, and where the last snapshot starts.
    let mut events: HashMap<i64, Vec<Event>> = HashMap::new();
    let mut last_snapshot: Option<(usize, u64)> = None;
    let mut keyed = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let id = r.key_payload().and_then(|k| k["id"].as_i64());
        let Some(id) = id else {
            report.problems.push(format!(
                "record at offset {} has no key id: {:?}",
                r.offset, r.key
            ));
            continue;
        };
        let event = match r.op() {
            None => Event::Tombstone,
            Some("r") => {
                let source = &r.payload().expect("a value")["source"];
                if source["snapshot"].as_str() == Some("first") {
                    report.snapshots += 1;
                    let lsn = source["lsn"].as_u64().unwrap_or(0);
                    last_snapshot = Some((i, lsn));
                }
                Event::Read(r.after()["seq"].as_i64().unwrap_or(i64::MIN))
            }
            Some("c") | Some("u") => Event::Write(r.after()["seq"].as_i64().unwrap_or(i64::MIN)),
            Some("d") => Event::Delete,
            Some(other) => {
                report.problems.push(format!(
                    "record at offset {} for id {id} has op {other:?}",
                    r.offset
                ));
                continue;
            }
        };
        keyed.push((i, id, event));
    }
    let Some((snapshot_start, p)) = last_snapshot else {
        report
            .problems
            .push("the log holds no snapshot (no record with snapshot=first)".to_string());
        return report;
    };
    let mut in_snapshot: HashMap<i64, i64> = HashMap::new();
    let mut snapshot_last = false;
    for (i, id, event) in &keyed {
        if *i < snapshot_start {
            continue;
        }
        if let Event::Read(v) = event {
            let source = &records[*i].payload().expect("a value")["source"];
            if source["lsn"].as_u64() != Some(p) {
                report.problems.push(format!(
                    "snapshot record at offset {} has lsn {} within the snapshot at {p}",
                    records[*i].offset, source["lsn"]
                ));
            }
            snapshot_last |= source["snapshot"].as_str() == Some("last");
            if in_snapshot.insert(*id, *v).is_some() {
                report
                    .problems
                    .push(format!("the last snapshot read id {id} twice"));
            }
        }
    }
    if !snapshot_last {
        report.problems.push(
            "the last snapshot has no record with snapshot=last, yet streaming followed it"
                .to_string(),
        );
    }
    for (_, id, event) in keyed {
        events.entry(id).or_default().push(event);
    }
    for id in events.keys() {
        if !history.contains_key(id) {
            report
                .problems
                .push(format!("id {id} is in the log but was never committed"));
        }
    }

    let before = |c: &Change| c.hi <= p;
    let after = |c: &Change| c.lo >= p;
    let mut ids: Vec<i64> = history.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let h = &history[&id];
        let n = h.len();
        let index_of = |value: Option<i64>| h.iter().position(|c| c.value == value);
        let empty = Vec::new();
        let evs = events.get(&id).unwrap_or(&empty);

        // What the snapshot says, and what must therefore be streamed.
        let required = match in_snapshot.get(&id) {
            Some(&v) => match index_of(Some(v)) {
                Some(i) => {
                    if after(h[i]) {
                        report.problems.push(format!(
                            "id {id}: the snapshot at {p} read seq {v}, committed after it \
                             (WAL {}..{})",
                            h[i].lo, h[i].hi
                        ));
                    }
                    if i + 1 < n && before(h[i + 1]) {
                        report.problems.push(format!(
                            "id {id}: the snapshot at {p} read seq {v}, but {:?} was committed \
                             before it",
                            h[i + 1].value
                        ));
                    }
                    Required::From(i + 1)
                }
                // Reported below as a value that was never committed.
                None => Required::From(n),
            },
            None => {
                // Not read: the key did not exist at P.
                let last = h[n - 1];
                let deleted = last.value.is_none();
                if after(h[0]) {
                    Required::From(0)
                } else if deleted && !after(last) {
                    if before(h[0]) {
                        // Inserted before P, so deleted before P as well.
                        Required::From(n)
                    } else {
                        Required::AllOrNothing
                    }
                } else if before(h[0]) {
                    report.problems.push(format!(
                        "id {id} existed at the snapshot's consistent point {p} (committed \
                         {}) but the snapshot did not read it",
                        describe(h)
                    ));
                    Required::From(n)
                } else {
                    // Inserted around P and alive after it: it was inserted after P.
                    Required::From(0)
                }
            }
        };

        // First appearances in increasing order; repeats are redeliveries.
        let mut seen = vec![false; n];
        let mut streamed = vec![false; n];
        let mut highest: Option<usize> = None;
        let mut last: Option<&Event> = None;
        for ev in evs {
            let value = match ev {
                Event::Tombstone => {
                    report.tombstones += 1;
                    last = Some(ev);
                    continue;
                }
                Event::Read(v) => {
                    report.snapshot_reads += 1;
                    Some(*v)
                }
                Event::Write(v) => {
                    report.change_events += 1;
                    Some(*v)
                }
                Event::Delete => {
                    report.change_events += 1;
                    None
                }
            };
            last = Some(ev);
            let Some(i) = index_of(value) else {
                report.problems.push(format!(
                    "id {id}: the log has {ev:?}, which was never committed (committed: {})",
                    describe(h)
                ));
                continue;
            };
            if !matches!(ev, Event::Read(_)) {
                streamed[i] = true;
            }
            if seen[i] {
                if matches!(ev, Event::Read(_)) {
                    report.snapshot_repeats += 1;
                } else {
                    report.duplicates += 1;
                }
                continue;
            }
            if let Some(hw) = highest.filter(|&hw| i < hw) {
                report.problems.push(format!(
                    "id {id}: {ev:?} appears for the first time after {:?}, which was \
                     committed later (order broken)",
                    h[hw].value
                ));
            }
            seen[i] = true;
            highest = Some(highest.map_or(i, |hw| hw.max(i)));
        }
        report.found += streamed.iter().filter(|&&s| s).count();

        let missing: Vec<usize> = match required {
            Required::From(r) => {
                report.required += n.saturating_sub(r);
                (r..n).filter(|&i| !streamed[i]).collect()
            }
            Required::AllOrNothing if streamed.iter().any(|&s| s) => {
                report.required += n;
                (0..n).filter(|&i| !streamed[i]).collect()
            }
            Required::AllOrNothing => Vec::new(),
        };
        if !missing.is_empty() {
            let shown: Vec<String> = missing
                .iter()
                .take(8)
                .map(|&i| format!("{:?} (WAL {}..{})", h[i].value, h[i].lo, h[i].hi))
                .collect();
            report.problems.push(format!(
                "id {id}: {} committed changes missing from the log: {}; log has {:?}",
                missing.len(),
                shown.join(", "),
                evs.iter().rev().take(12).collect::<Vec<_>>()
            ));
        }

        // Final state, for keys the log must show: a key read by the last snapshot, or
        // with changes that had to be streamed. (A key deleted before the last snapshot may
        // still show what an interrupted earlier snapshot read of it.)
        let shown = in_snapshot.contains_key(&id)
            || match required {
                Required::From(r) => r < n,
                Required::AllOrNothing => streamed.iter().any(|&s| s),
            };
        if shown {
            let final_value = h[n - 1].value;
            let last_value = evs.iter().rev().find_map(|e| match e {
                Event::Read(v) | Event::Write(v) => Some(Some(*v)),
                Event::Delete => Some(None),
                Event::Tombstone => None,
            });
            if last_value != Some(final_value) {
                report.problems.push(format!(
                    "id {id}: the last event is {last_value:?}, the last committed change \
                     {final_value:?} (None = delete)"
                ));
            }
            if final_value.is_none() && !matches!(last, Some(Event::Tombstone)) {
                report.problems.push(format!(
                    "id {id} was deleted but its last record is {last:?}, not a tombstone"
                ));
            }
        }
    }
    report
}

fn describe(h: &[&Change]) -> String {
    let values: Vec<String> = h
        .iter()
        .map(|c| c.value.map_or("delete".to_string(), |v| v.to_string()))
        .collect();
    values.join(",")
}

/// Follows a topic from where it last read, to notice one key cheaply.
#[derive(Default)]
struct Follower {
    reader: Option<LogReader>,
    next: Vec<u64>,
    records: u64,
}

impl Follower {
    fn saw_key(&mut self, data_dir: &Path, topic: &str, id: i64) -> bool {
        if self.reader.is_none() {
            self.reader = LogReader::open(data_dir).ok();
        }
        let Some(reader) = &self.reader else {
            return false;
        };
        let Ok(partitions) = reader.topics() else {
            return false;
        };
        let mut found = false;
        for p in partitions.iter().filter(|p| p.topic == topic) {
            let i = p.partition as usize;
            if self.next.len() <= i {
                self.next.resize(i + 1, 0);
            }
            while let Ok(batch) = reader.read(topic, p.partition, self.next[i], 10_000) {
                let Some(last) = batch.last() else { break };
                self.next[i] = last.offset + 1;
                self.records += batch.len() as u64;
                found |= batch.iter().any(|r| {
                    r.key
                        .as_deref()
                        .and_then(|k| serde_json::from_slice::<Value>(k).ok())
                        .is_some_and(|k| k.get("payload").unwrap_or(&k)["id"].as_i64() == Some(id))
                });
            }
        }
        found
    }
}

/// The spillway logs of a scratch directory for a failure message: warnings and errors of
/// every run, and the tail of the last two runs.
fn logs(dir: &Path) -> String {
    let mut files: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let n = name
                        .strip_prefix("spillway-")?
                        .strip_suffix(".log")?
                        .parse()
                        .ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from("--- warnings and errors of every run ---\n");
    let mut noted = 0;
    for (run, (_, path)) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            if (line.contains("WARN") || line.contains("ERROR") || line.contains("panicked"))
                && noted < 60
            {
                let _ = writeln!(out, "run {run}: {line}");
                noted += 1;
            }
        }
    }
    for (run, (_, path)) in files.iter().enumerate().skip(files.len().saturating_sub(2)) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let _ = writeln!(out, "--- tail of run {run} ({}) ---", path.display());
        for line in &lines[lines.len().saturating_sub(40)..] {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Waits (up to 3 s) for the run to start a snapshot; false if it streams instead.
fn in_snapshot_soon(spillway: &Spillway) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let log = spillway.logs();
        if log.contains("snapshot started") {
            return true;
        }
        if log.contains("streaming changes") {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

fn count_in_logs(dir: &Path, needle: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                .map(|e| {
                    std::fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .matches(needle)
                        .count()
                })
                .sum()
        })
        .unwrap_or(0)
}

/// xorshift64*: enough randomness for choosing keys and timings, and repeatable.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// The checker itself: it accepts redelivery and catches loss, reordering and phantoms.
#[test]
fn the_checker_accepts_redelivery_and_catches_loss_reordering_and_phantoms() {
    fn rec(id: i64, op: &str, seq: Option<i64>, snapshot: &str, lsn: u64) -> Rec {
        let value = (op != "tombstone").then(|| {
            let row = seq.map(|s| serde_json::json!({ "id": id, "seq": s, "note": "n" }));
            serde_json::json!({
                "op": op,
                "before": if op == "d" { serde_json::json!({ "id": id }) } else { Value::Null },
                "after": if op == "d" { Value::Null } else { row.unwrap_or(Value::Null) },
                "source": { "snapshot": snapshot, "lsn": lsn },
            })
        });
        Rec {
            partition: 0,
            offset: 0,
            key: Some(serde_json::json!({ "id": id })),
            value,
            headers: Vec::new(),
        }
    }
    let change = |id, value, at| Change {
        id,
        value,
        lo: at,
        hi: at + 10,
    };
    let committed = vec![
        change(1, Some(0), 0),
        change(2, Some(0), 0),
        change(1, Some(1), 200),
        change(2, None, 250),
        change(3, Some(0), 400),
        change(1, Some(2), 500),
        change(3, Some(1), 600),
    ];
    let snapshot = || {
        vec![
            rec(1, "r", Some(0), "first", 100),
            rec(2, "r", Some(0), "last", 100),
        ]
    };
    let stream = |events: &[(i64, &str, Option<i64>)]| {
        let mut log = snapshot();
        log.extend(
            events
                .iter()
                .map(|&(id, op, seq)| rec(id, op, seq, "false", 300)),
        );
        log
    };
    let good = [
        (1, "u", Some(1)),
        (2, "d", None),
        (2, "tombstone", None),
        (3, "c", Some(0)),
        // A crash: the last events are sent again.
        (1, "u", Some(1)),
        (2, "d", None),
        (2, "tombstone", None),
        (3, "c", Some(0)),
        (1, "u", Some(2)),
        (3, "u", Some(1)),
    ];
    let report = check(&committed, &stream(&good));
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(report.duplicates, 3);
    assert_eq!((report.found, report.required), (5, 5));

    let lost: Vec<_> = good
        .iter()
        .copied()
        .filter(|e| *e != (1, "u", Some(2)))
        .collect();
    let report = check(&committed, &stream(&lost));
    assert!(
        report.problems.iter().any(|p| p.contains("missing")),
        "a lost change must be reported: {:#?}",
        report.problems
    );

    let mut reordered = good;
    reordered.swap(0, 8);
    let report = check(&committed, &stream(&reordered));
    assert!(
        report.problems.iter().any(|p| p.contains("order broken")),
        "reordering must be reported: {:#?}",
        report.problems
    );

    let mut phantom = good.to_vec();
    phantom.push((1, "u", Some(1_000_000_002)));
    let report = check(&committed, &stream(&phantom));
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("never committed")),
        "a rolled-back value must be reported: {:#?}",
        report.problems
    );

    // A snapshot that read an old value, and one that missed a row.
    let log = vec![
        rec(1, "r", Some(0), "first", 300),
        rec(2, "r", Some(0), "last", 300),
    ];
    let report = check(&committed[..3], &log);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("was committed before it")),
        "{:#?}",
        report.problems
    );
    // (A one-row snapshot: its only record is marked first.)
    let log = vec![rec(1, "r", Some(0), "first", 100)];
    let report = check(&committed[..2], &log);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("did not read it")),
        "{:#?}",
        report.problems
    );
}
