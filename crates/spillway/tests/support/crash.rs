//! The kill -9 loop shared by the sources' crash tests: writers commit inserts, updates,
//! deletes, multi-row and rolled-back transactions while `spillway run` is killed with
//! SIGKILL over and over; a last run catches up and stops cleanly, and the log is checked
//! against what was committed. Each test supplies its database: the table, a writer
//! connection ([`Database`]) and how its log positions are read ([`Positions`]).
//!
//! `CRASH_LOOP_SEED=N` repeats the writers' and the killer's choices (the timing of the
//! machine still varies).
#![allow(dead_code)]

use crate::support::{self, Rec, Spillway};
use serde_json::Value;
use spillway_streams::LogReader;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many times spillway is killed with SIGKILL.
pub const KILLS: usize = 24;
/// The first kills aim at the snapshot (within [`Setup::snapshot_kill_ms`] after it
/// starts) as long as runs still take one; the snapshot of `INITIAL_ROWS` is too short for
/// random timing to hit it often.
pub const SNAPSHOT_KILLS: usize = 3;
/// How long each run lives before the kill, in milliseconds (uniform).
pub const RUN_MS: (u64, u64) = (300, 2_000);
/// Rows in the table before the first start (`id` 1..=INITIAL_ROWS, `seq` 0), read by the
/// snapshot.
pub const INITIAL_ROWS: i64 = 20_000;
/// Ids `1..=HOT_KEYS` take most updates (and are never deleted): long per-key histories.
pub const HOT_KEYS: i64 = 64;
/// Concurrent writers; writer `w` owns the ids with `(id - 1) % WRITERS == w` (and the new
/// ids it inserts), so the commit order of one key is the program order of one writer.
pub const WRITERS: i64 = 2;
/// Pause between two transactions of one writer.
pub const WRITER_PAUSE: Duration = Duration::from_millis(2);
/// Id of the row inserted after the writers stopped: once it is in the log, the last run
/// has caught up.
pub const MARKER_ID: i64 = 2_000_000_000;
/// Time the last run gets to catch up.
pub const CATCH_UP: Duration = Duration::from_secs(120);

/// A writer's connection to the table `accounts (id, seq, note)`. Every call panics on a
/// database error, and on a row count other than the one asked for.
pub trait Database: Send + 'static {
    fn begin(&mut self) -> impl Future<Output = ()> + Send;
    fn commit(&mut self) -> impl Future<Output = ()> + Send;
    fn rollback(&mut self) -> impl Future<Output = ()> + Send;
    /// Inserts row `id` with `seq` 0.
    fn insert(&mut self, id: i64) -> impl Future<Output = ()> + Send;
    /// Sets `seq` of row `id` from `old` to `old + 1` (and checks it was `old`).
    fn update(&mut self, id: i64, old: i64) -> impl Future<Output = ()> + Send;
    /// Adds 1,000,000,000 to `seq` of row `id`; the transaction is then rolled back.
    fn update_to_roll_back(&mut self, id: i64) -> impl Future<Output = ()> + Send;
    fn delete(&mut self, id: i64) -> impl Future<Output = ()> + Send;
    /// The end of the server's log now, comparable with [`Positions::of_snapshot`]: read
    /// before COMMIT and after it returned, it bounds where the commit lies.
    fn position(&mut self) -> impl Future<Output = u64> + Send;
}

/// How a source's log positions are read and shown.
pub struct Positions {
    /// What the log is called in messages (`WAL`, `binlog`).
    pub name: &'static str,
    /// The consistent point of the snapshot that wrote a record, from its `source` block.
    pub of_snapshot: fn(&Value) -> Option<u64>,
    pub show: fn(u64) -> String,
}

/// What a crash test runs against.
pub struct Setup {
    /// Prefix of the printed figures.
    pub label: &'static str,
    /// The connector config; the table `accounts` holds `INITIAL_ROWS` rows already.
    pub config: Value,
    /// The scratch directory: the data directory and each run's log are in it.
    pub scratch: PathBuf,
    pub topic: String,
    pub positions: Positions,
    /// Aimed kills land up to this many milliseconds after the snapshot started.
    pub snapshot_kill_ms: u64,
    /// The stream is Kafka at this broker, not the embedded log.
    pub kafka: Option<String>,
}

impl Setup {
    /// Every record of the topic, from the embedded log or from Kafka.
    fn records(&self) -> Vec<Rec> {
        match &self.kafka {
            Some(broker) => support::kafka::read_kafka_topic(broker, &self.topic),
            None => support::read_topic(&self.scratch.join("data"), &self.topic),
        }
    }
}

/// Runs the loop and checks the log; panics with the problems and the spillway logs.
/// Returns the records of the topic.
pub fn kill_loop<D, F, Fut>(setup: &Setup, connect: F) -> Vec<Rec>
where
    D: Database,
    F: Fn() -> Fut,
    Fut: Future<Output = D>,
{
    let started = Instant::now();
    let label = setup.label;
    let seed = std::env::var("CRASH_LOOP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("{label}: seed {seed} (set CRASH_LOOP_SEED to repeat the choices)");
    let mut rng = Rng::new(seed);
    let scratch = setup.scratch.as_path();
    let data_dir = scratch.join("data");
    let (config, topic) = (&setup.config, setup.topic.as_str());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = runtime.block_on(connect());
            let writer = Writer::new(w, db, seed.wrapping_add(w as u64 + 1));
            runtime.spawn(writer.run(Arc::clone(&stop)))
        })
        .collect();

    // The kill loop.
    let mut run_times = Vec::with_capacity(KILLS);
    let mut aimed_kills = 0;
    for round in 0..KILLS {
        let mut spillway = Spillway::start(config, &data_dir);
        let run_started = Instant::now();
        let aimed = round < SNAPSHOT_KILLS && in_snapshot_soon(&spillway);
        let life = if aimed {
            std::thread::sleep(Duration::from_millis(rng.below(setup.snapshot_kill_ms)));
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
                logs(scratch)
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
            Err(e) => panic!("a writer failed: {e}\n{}", logs(scratch)),
        }
    }
    assert_eq!(
        run_times.len(),
        KILLS,
        "the kill loop ended early because a writer stopped"
    );
    let marker = runtime.block_on(async {
        let mut db = connect().await;
        db.begin().await;
        db.insert(MARKER_ID).await;
        let lo = db.position().await;
        db.commit().await;
        let hi = db.position().await;
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
    let mut spillway = Spillway::start(config, &data_dir);
    let catch_up_started = Instant::now();
    let mut follower = Follower::default();
    loop {
        let seen = match &setup.kafka {
            // Kafka is read whole each time: slower, and only once a second.
            Some(_) => {
                std::thread::sleep(Duration::from_millis(900));
                let records = setup.records();
                follower.records = records.len() as u64;
                records
                    .iter()
                    .any(|r| r.key_payload().and_then(|k| k["id"].as_i64()) == Some(MARKER_ID))
            }
            None => follower.saw_key(&data_dir, topic, MARKER_ID),
        };
        if seen {
            break;
        }
        if !spillway.is_running() {
            panic!(
                "the last spillway run exited before catching up\n{}",
                logs(scratch)
            );
        }
        if catch_up_started.elapsed() > CATCH_UP {
            panic!(
                "the marker row committed after the writers stopped is not in the log after \
                 {CATCH_UP:?} ({} records read)\n{}",
                follower.records,
                logs(scratch)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let catch_up = catch_up_started.elapsed();
    let status = spillway.stop();
    assert!(
        status.success(),
        "spillway did not exit 0 on SIGTERM: {status}\n{}",
        logs(scratch)
    );

    let records = setup.records();
    let mut report = check(&committed, &records, &setup.positions);
    // The embedded log commits each batch's source position with its records: a restart
    // resumes right after the last record, so nothing is written twice.
    if setup.kafka.is_none() && report.duplicates > 0 {
        report.problems.push(format!(
            "{} change events were written twice into the embedded log",
            report.duplicates
        ));
    }
    let snapshots_logged = count_in_logs(scratch, "snapshot started");
    let written = committed.len() - INITIAL_ROWS as usize;
    println!(
        "{label}: {} kills ({} aimed at a snapshot, the others after {}-{} ms), {} snapshots \
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
        "{label}: log has {} records: {} change events ({} distinct committed changes found, \
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
        panic!("{message}\n{}", logs(scratch));
    }
    drop(runtime);
    records
}

/// One committed change of one row: `value` is the committed `seq`, `None` a delete.
/// The commit of its transaction lies in `lo..=hi` in the server's log.
#[derive(Clone, Debug)]
pub struct Change {
    pub id: i64,
    pub value: Option<i64>,
    pub lo: u64,
    pub hi: u64,
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
struct Writer<D> {
    db: D,
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

impl<D: Database> Writer<D> {
    fn new(w: i64, db: D, seed: u64) -> Writer<D> {
        let owned = (1..=INITIAL_ROWS).filter(|id| (id - 1) % WRITERS == w);
        let (hot, live): (Vec<i64>, Vec<i64>) = owned.partition(|&id| id <= HOT_KEYS);
        let seq = hot.iter().chain(&live).map(|&id| (id, 0)).collect();
        Writer {
            db,
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
            db,
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
        db.begin().await;
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
                db.update_to_roll_back(id).await;
                db.rollback().await;
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
                    db.insert(id).await;
                    live.push(id);
                    seq.insert(id, 0);
                    changes.push((id, Some(0)));
                    None
                }
                Step::Delete => {
                    if let Some(i) = pick_live(rng, live) {
                        let id = live.swap_remove(i);
                        db.delete(id).await;
                        seq.remove(&id);
                        changes.push((id, None));
                    }
                    None
                }
            };
            let Some(id) = id else { continue };
            let old = seq[&id];
            db.update(id, old).await;
            seq.insert(id, old + 1);
            changes.push((id, Some(old + 1)));
        }
        let lo = db.position().await;
        db.commit().await;
        let hi = db.position().await;
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

/// The state a compacting consumer keeps: per key, the last value from the last snapshot
/// on (a snapshot stands in for what came before it). Key `id` to `seq`.
pub fn final_state(records: &[Rec]) -> HashMap<i64, i64> {
    let mut state = HashMap::new();
    for r in records {
        let Some(id) = r.key_payload().and_then(|k| k["id"].as_i64()) else {
            continue;
        };
        match r.op() {
            None | Some("d") => {
                state.remove(&id);
            }
            Some(op) => {
                if op == "r" && r.payload().expect("a value")["source"]["snapshot"] == "first" {
                    state.clear();
                }
                state.insert(id, r.after()["seq"].as_i64().unwrap_or(i64::MIN));
            }
        }
    }
    state
}

/// What the checker found.
#[derive(Default)]
pub struct Report {
    pub problems: Vec<String>,
    pub snapshots: usize,
    pub snapshot_reads: usize,
    pub change_events: usize,
    pub tombstones: usize,
    pub duplicates: usize,
    pub snapshot_repeats: usize,
    pub found: usize,
    pub required: usize,
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
    /// (it is then not in the snapshot) or after it, and the log bounds cannot tell.
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
///   show the table as of its consistent point `P` ([`Positions::of_snapshot`]). A transaction whose
///   commit lies before `P` is covered by the snapshot, one after `P` must be streamed. The
///   writer bounds each commit's log position (`lo..=hi`), so for a key read as `h[i]`,
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
pub fn check(committed: &[Change], records: &[Rec], positions: &Positions) -> Report {
    let mut report = Report::default();
    let (log, show) = (positions.name, positions.show);
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
                    let at = (positions.of_snapshot)(source).unwrap_or(0);
                    last_snapshot = Some((i, at));
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
            if (positions.of_snapshot)(source) != Some(p) {
                report.problems.push(format!(
                    "snapshot record at offset {} has {source} within the snapshot at {}",
                    records[*i].offset,
                    show(p)
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
                            "id {id}: the snapshot at {} read seq {v}, committed after it \
                             ({log} {}..{})",
                            show(p),
                            show(h[i].lo),
                            show(h[i].hi)
                        ));
                    }
                    if i + 1 < n && before(h[i + 1]) {
                        report.problems.push(format!(
                            "id {id}: the snapshot at {} read seq {v}, but {:?} was committed \
                             before it",
                            show(p),
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
                        "id {id} existed at the snapshot's consistent point {} (committed \
                         {}) but the snapshot did not read it",
                        show(p),
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
                .map(|&i| {
                    format!(
                        "{:?} ({log} {}..{})",
                        h[i].value,
                        show(h[i].lo),
                        show(h[i].hi)
                    )
                })
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
pub struct Follower {
    reader: Option<LogReader>,
    next: Vec<u64>,
    records: u64,
}

impl Follower {
    pub fn saw_key(&mut self, data_dir: &Path, topic: &str, id: i64) -> bool {
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
pub fn logs(dir: &Path) -> String {
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
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}
