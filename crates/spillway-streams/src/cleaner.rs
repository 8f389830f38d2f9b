//! The cleaner: retention and compaction of closed segments, in the background.
//!
//! Every open [`LogWriter`](crate::LogWriter) runs one cleaner thread beside its writer
//! thread. It passes over every partition of every topic, with the configs its
//! `topic.json` holds at that moment, when the writer closes a segment (rolls), within
//! [`CONFIG_CHECK_EVERY`] of a `topic.json` changing (`spillway topics --alter`), and every
//! [`CLEAN_EVERY`] otherwise (records age past `retention.ms` without any write):
//!
//! - **Closed segments only.** The last segment of a partition (the active one) is never
//!   touched, nor a segment holding a record at or past the durable offset. A closed
//!   segment is immutable for the writer, so the cleaner needs none of its locks: it
//!   coordinates through the file system only.
//! - **Deletion** (`cleanup.policy` `delete` or `compact,delete`): the oldest closed
//!   segments are deleted, in order, while the largest timestamp of the oldest is older
//!   than `retention.ms`, and while deleting the oldest still leaves the partition at least
//!   `retention.bytes` large (Kafka's rule: the partition never shrinks below the limit, so
//!   it stays below the limit plus one segment). The partition's log start is then the base
//!   offset of its first remaining segment; a reader asking for less is told so
//!   ([`LogError::BelowStart`]).
//! - **Compaction** (`compact` or `compact,delete`): over the closed segments whose largest
//!   timestamp is older than `min.compaction.lag.ms`, the cleaner maps each key to its last
//!   offset, then rewrites each segment (oldest first) keeping a record when it is its key's
//!   last, or has no key (Kafka refuses keyless records in compacted topics; here they are
//!   kept, never compacted away). A tombstone (null value) that is its key's last is kept
//!   until its timestamp is older than `delete.retention.ms`, so a reader that is behind
//!   still sees the delete. Every record kept keeps its offset (batches allow gaps). A
//!   segment left empty is removed unless it is the partition's first (which keeps the log
//!   start where it was). A segment is rewritten only when something is removed. Segments
//!   are not merged.
//!
//! A segment is replaced crash-safely: written to `<base>.log.cleaned`, fsynced, renamed
//! over the segment, the directory fsynced. A crash before the rename leaves the old
//! segment and a leftover `.cleaned` file, which the writer removes when it opens; after
//! it, the new segment. Older segments are rewritten first, so a key's older values are
//! gone before a tombstone that deletes it can be. A reader holding the old file open reads
//! it to its end (the file lives on while open); a reader that notices the file changed
//! (another inode) forgets what it had indexed of it; a reader that lists a segment deleted
//! before it opens it lists again.
//!
//! `SPILLWAY_FAILPOINT=compaction-before-rename` or `compaction-after-rename` stops the
//! process at that point of a compaction, for crash tests (see [`crate::failpoint`]).

use crate::batch::{BatchBuilder, Compression, Encoder, BATCH_TARGET_BYTES};
use crate::config::{
    list_segments, list_topics, meta_path, partition_dir, read_durable, read_meta, segment_path,
    sync_dir,
};
use crate::error::LogError;
use crate::failpoint::failpoint;
use crate::segment::{decode_record, Frame, SegmentScan, StoredRecord};
use crate::topic_config::TopicConfig;
use spillway_core::Record;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the cleaner passes over the log when nothing wakes it.
pub const CLEAN_EVERY: Duration = Duration::from_secs(30);

/// How often the cleaner looks for changed `topic.json` files.
pub const CONFIG_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Suffix of a segment being rewritten by compaction.
pub(crate) const CLEANED_SUFFIX: &str = ".log.cleaned";

/// The cleaner thread of an open log; stopped (and waited for) when dropped.
pub(crate) struct Cleaner {
    stop: Arc<AtomicBool>,
    wake: mpsc::Sender<()>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Cleaner {
    /// Starts the cleaner of the log whose topics are in `topics_dir`; `producer` is the
    /// codec of the writer, for topics whose `compression.type` is `producer`.
    pub(crate) fn start(topics_dir: PathBuf, producer: Compression) -> io::Result<Cleaner> {
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, rx) = mpsc::channel();
        let state = CleanerState {
            topics_dir,
            producer,
            stop: Arc::clone(&stop),
            max_ts: HashMap::new(),
            compacted: HashMap::new(),
            failed: HashMap::new(),
        };
        let thread = thread::Builder::new()
            .name("spillway-log-cleaner".to_string())
            .spawn(move || state.run(rx))?;
        Ok(Cleaner {
            stop,
            wake,
            thread: Some(thread),
        })
    }

    /// A handle that wakes the cleaner for a pass.
    pub(crate) fn waker(&self) -> Waker {
        Waker(self.wake.clone())
    }
}

impl Drop for Cleaner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the log cleaner thread panicked");
            }
        }
    }
}

/// Wakes the cleaner (when a segment closed or configs changed).
#[derive(Clone)]
pub(crate) struct Waker(mpsc::Sender<()>);

impl Waker {
    pub(crate) fn wake(&self) {
        let _ = self.0.send(());
    }
}

/// Removes what an interrupted compaction left in a partition directory.
pub(crate) fn remove_leftovers(dir: &Path) -> Result<(), LogError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LogError::io("list", dir, e)),
    };
    let mut removed = false;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io("list", dir, e))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.ends_with(CLEANED_SUFFIX)) {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| LogError::io("remove", &path, e))?;
            tracing::info!(path = %path.display(), "removed a segment an interrupted compaction left");
            removed = true;
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What one compaction pass over a partition did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Compacted {
    records_before: u64,
    records_after: u64,
    bytes_before: u64,
    bytes_after: u64,
}

/// What the cleaner remembers of a partition it compacted.
struct CompactState {
    /// The base offset after the last segment compacted: nothing below it is dirty.
    clean_end: u64,
    /// When the earliest tombstone kept may go (ms since the epoch).
    tombstone_due: Option<i64>,
}

struct CleanerState {
    topics_dir: PathBuf,
    producer: Compression,
    stop: Arc<AtomicBool>,
    /// Largest timestamp of each closed segment seen, by path, with the file's identity.
    max_ts: HashMap<PathBuf, ((u64, u64), Option<i64>)>,
    compacted: HashMap<PathBuf, CompactState>,
    /// Partitions whose last pass failed, with the error, so it is logged once.
    failed: HashMap<PathBuf, String>,
}

impl CleanerState {
    fn run(mut self, rx: mpsc::Receiver<()>) {
        let mut metas = self.meta_times();
        let mut last_pass = std::time::Instant::now();
        self.pass();
        loop {
            if self.stopped() {
                return;
            }
            match rx.recv_timeout(CONFIG_CHECK_EVERY) {
                Ok(()) => while rx.try_recv().is_ok() {},
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = self.meta_times();
                    if now == metas && last_pass.elapsed() < CLEAN_EVERY {
                        continue;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            if self.stopped() {
                return;
            }
            metas = self.meta_times();
            last_pass = std::time::Instant::now();
            self.pass();
        }
    }

    /// The modification times of every `topic.json`, to notice changed configs.
    fn meta_times(&self) -> Vec<Option<SystemTime>> {
        list_topics(&self.topics_dir)
            .unwrap_or_default()
            .iter()
            .map(|t| {
                fs::metadata(meta_path(&self.topics_dir.join(t)))
                    .and_then(|m| m.modified())
                    .ok()
            })
            .collect()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// One pass over every partition of every topic.
    fn pass(&mut self) {
        let topics = match list_topics(&self.topics_dir) {
            Ok(topics) => topics,
            Err(e) => {
                tracing::warn!(error = %e, "the log cleaner cannot list the topics");
                return;
            }
        };
        for topic in topics {
            let dir = self.topics_dir.join(&topic);
            let meta = match read_meta(&dir) {
                Ok(Some(meta)) => meta,
                Ok(None) => continue,
                Err(e) => {
                    self.report(&dir, Err(e));
                    continue;
                }
            };
            let config = meta.effective();
            let deletes = config.cleanup_policy.deletes()
                && (config.retention_ms.is_some() || config.retention_bytes.is_some());
            if !deletes && !config.cleanup_policy.compacts() {
                continue;
            }
            for partition in 0..meta.partitions {
                if self.stopped() {
                    return;
                }
                let dir = partition_dir(&dir, partition);
                let result = self.clean_partition(&dir, &config, deletes);
                self.report(&dir, result);
            }
        }
    }

    /// Logs a partition's failure once, and its recovery.
    fn report(&mut self, dir: &Path, result: Result<(), LogError>) {
        match result {
            Ok(()) => {
                if self.failed.remove(dir).is_some() {
                    tracing::info!(dir = %dir.display(), "the log cleaner works again");
                }
            }
            Err(e) => {
                let text = e.to_string();
                if self.failed.get(dir) != Some(&text) {
                    tracing::warn!(dir = %dir.display(), error = %text, "the log cleaner skipped a partition");
                    self.failed.insert(dir.to_path_buf(), text);
                }
            }
        }
    }

    fn clean_partition(
        &mut self,
        dir: &Path,
        config: &TopicConfig,
        deletes: bool,
    ) -> Result<(), LogError> {
        // The durable offset first: every segment listed after it whose successor starts
        // at or below it holds acknowledged records only, and is closed.
        let Some(durable) = read_durable(dir)? else {
            return Ok(());
        };
        let bases = list_segments(dir)?;
        let mut closed: Vec<u64> = bases
            .windows(2)
            .take_while(|w| w[1] <= durable)
            .map(|w| w[0])
            .collect();
        if closed.is_empty() {
            return Ok(());
        }
        if deletes {
            let deleted = self.delete_expired(dir, &bases, &closed, config)?;
            closed.drain(..deleted);
        }
        if config.cleanup_policy.compacts() && !closed.is_empty() && !self.stopped() {
            let next = bases[bases.partition_point(|&b| b <= *closed.last().unwrap_or(&0))];
            self.compact(dir, &closed, next, config)?;
        }
        Ok(())
    }

    /// The largest timestamp of a closed segment (`None` when it holds no record).
    fn max_timestamp(&mut self, path: &Path) -> Result<Option<i64>, LogError> {
        let identity = file_identity(path)?;
        if let Some((id, ts)) = self.max_ts.get(path) {
            if *id == identity {
                return Ok(*ts);
            }
        }
        let mut max = None;
        for_each_record(path, |record| {
            max = Some(max.map_or(record.timestamp_ms, |m: i64| m.max(record.timestamp_ms)));
            Ok(())
        })?;
        self.max_ts.insert(path.to_path_buf(), (identity, max));
        Ok(max)
    }

    /// Deletes the oldest closed segments past retention; returns how many.
    fn delete_expired(
        &mut self,
        dir: &Path,
        bases: &[u64],
        closed: &[u64],
        config: &TopicConfig,
    ) -> Result<usize, LogError> {
        let now = now_ms();
        let mut count = 0;
        if let Some(retention) = config.retention_ms {
            let limit = now.saturating_sub(retention.min(i64::MAX as u64) as i64);
            for &base in closed {
                match self.max_timestamp(&segment_path(dir, base))? {
                    Some(ts) if ts >= limit => break,
                    _ => count += 1,
                }
            }
        }
        if let Some(limit) = config.retention_bytes {
            let sizes = bases
                .iter()
                .map(|&b| file_len(&segment_path(dir, b)))
                .collect::<Result<Vec<u64>, LogError>>()?;
            let total: u64 = sizes.iter().sum();
            let mut excess = total.saturating_sub(limit);
            let mut by_size = 0;
            for size in sizes.iter().take(closed.len()) {
                if excess < *size || excess == 0 {
                    break;
                }
                excess -= size;
                by_size += 1;
            }
            count = count.max(by_size);
        }
        if count == 0 {
            return Ok(0);
        }
        for &base in &closed[..count] {
            let path = segment_path(dir, base);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io("delete segment", &path, e)),
            }
            self.max_ts.remove(&path);
        }
        sync_dir(dir)?;
        let start = bases[count];
        tracing::info!(dir = %dir.display(), segments = count, log_start = start, "deleted segments past retention");
        Ok(count)
    }

    /// Compacts the closed segments `closed` (followed by the segment starting at `next`).
    fn compact(
        &mut self,
        dir: &Path,
        closed: &[u64],
        next: u64,
        config: &TopicConfig,
    ) -> Result<(), LogError> {
        let now = now_ms();
        // Segments newer than the lag wait.
        let mut cleanable = closed.len();
        if config.min_compaction_lag_ms > 0 {
            let limit =
                now.saturating_sub(config.min_compaction_lag_ms.min(i64::MAX as u64) as i64);
            for (i, &base) in closed.iter().enumerate() {
                if self
                    .max_timestamp(&segment_path(dir, base))?
                    .is_some_and(|ts| ts > limit)
                {
                    cleanable = i;
                    break;
                }
            }
        }
        if cleanable == 0 {
            return Ok(());
        }
        let segments = &closed[..cleanable];
        let dirty_end = closed.get(cleanable).copied().unwrap_or(next);
        if let Some(state) = self.compacted.get(dir) {
            let tombstones_due = state.tombstone_due.is_some_and(|due| due <= now);
            if state.clean_end >= dirty_end && !tombstones_due {
                return Ok(());
            }
        }
        // The last offset of each key.
        let mut last: HashMap<Vec<u8>, u64> = HashMap::new();
        for &base in segments {
            for_each_record(&segment_path(dir, base), |record| {
                if let Some(key) = record.key {
                    last.insert(key, record.offset);
                }
                Ok(())
            })?;
        }
        let tombstone_limit =
            now.saturating_sub(config.delete_retention_ms.min(i64::MAX as u64) as i64);
        let codec = config.codec(self.producer);
        let mut total = Compacted::default();
        let mut tombstone_due: Option<i64> = None;
        for (i, &base) in segments.iter().enumerate() {
            if self.stopped() {
                return Ok(());
            }
            let path = segment_path(dir, base);
            let keep = |record: &StoredRecord| -> bool {
                let Some(key) = &record.key else {
                    return true;
                };
                if last.get(key) != Some(&record.offset) {
                    return false;
                }
                record.value.is_some() || record.timestamp_ms >= tombstone_limit
            };
            // Read first: a segment losing nothing is not rewritten.
            let mut drops = false;
            let mut unchanged = Rewritten {
                stats: Compacted::default(),
                tombstones_kept: Vec::new(),
            };
            for_each_record(&path, |record| {
                unchanged.stats.records_before += 1;
                if keep(&record) {
                    if record.value.is_none() && record.key.is_some() {
                        unchanged.tombstones_kept.push(record.timestamp_ms);
                    }
                } else {
                    drops = true;
                }
                Ok(())
            })?;
            let done = if drops {
                let first = i == 0 && bases_first(dir)? == Some(base);
                rewrite_segment(&path, first, codec, keep)?
            } else {
                let bytes = file_len(&path)?;
                unchanged.stats.records_after = unchanged.stats.records_before;
                unchanged.stats.bytes_before = bytes;
                unchanged.stats.bytes_after = bytes;
                unchanged
            };
            for record_ts in done.tombstones_kept {
                let due = record_ts.saturating_add(config.delete_retention_ms as i64);
                tombstone_due = Some(tombstone_due.map_or(due, |d: i64| d.min(due)));
            }
            if done.stats.records_after != done.stats.records_before {
                self.max_ts.remove(&path);
            }
            total.records_before += done.stats.records_before;
            total.records_after += done.stats.records_after;
            total.bytes_before += done.stats.bytes_before;
            total.bytes_after += done.stats.bytes_after;
        }
        if total.records_after != total.records_before {
            tracing::info!(
                dir = %dir.display(),
                records_before = total.records_before,
                records_after = total.records_after,
                bytes_before = total.bytes_before,
                bytes_after = total.bytes_after,
                "compacted closed segments"
            );
        }
        self.compacted.insert(
            dir.to_path_buf(),
            CompactState {
                clean_end: dirty_end,
                tombstone_due,
            },
        );
        Ok(())
    }
}

/// The base offset of a partition's first segment.
fn bases_first(dir: &Path) -> Result<Option<u64>, LogError> {
    Ok(list_segments(dir)?.first().copied())
}

/// (device, inode) of a file, which a rename over it changes.
fn file_identity(path: &Path) -> Result<(u64, u64), LogError> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).map_err(|e| LogError::io("inspect segment", path, e))?;
    Ok((meta.dev(), meta.ino()))
}

fn file_len(path: &Path) -> Result<u64, LogError> {
    match fs::metadata(path) {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(LogError::io("inspect segment", path, e)),
    }
}

/// Calls `visit` with every record of a closed segment; damage is an error.
fn for_each_record(
    path: &Path,
    mut visit: impl FnMut(StoredRecord) -> Result<(), LogError>,
) -> Result<(), LogError> {
    let mut scan = SegmentScan::open(path, 0)?;
    loop {
        match scan.next_frame()? {
            Frame::End => return Ok(()),
            Frame::Record { start, .. } => {
                let record = decode_record(scan.content()).map_err(|detail| LogError::Corrupt {
                    path: path.to_path_buf(),
                    position: start,
                    detail,
                })?;
                visit(record)?;
            }
            Frame::Torn { position, detail } => {
                return Err(LogError::Corrupt {
                    path: path.to_path_buf(),
                    position,
                    detail,
                })
            }
        }
    }
}

/// What rewriting one segment did.
struct Rewritten {
    stats: Compacted,
    /// Timestamps of the tombstones kept.
    tombstones_kept: Vec<i64>,
}

/// The rewritten segment being written.
struct Output {
    file: io::BufWriter<File>,
    error: Option<io::Error>,
    bytes: u64,
    batch: BatchBuilder,
    encoder: Encoder,
    buf: Vec<u8>,
    codec: Compression,
}

impl Output {
    /// Seals the batch being built and writes it.
    fn flush(&mut self) {
        self.batch
            .seal(self.codec, &mut self.encoder, &mut self.buf);
        if self.error.is_none() {
            if let Err(e) = self.file.write_all(&self.buf) {
                self.error = Some(e);
            }
        }
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
    }
}

/// Rewrites the segment at `path` with the records `keep` accepts, each at its offset,
/// unless it accepts them all. A segment left empty is removed, unless `first`.
fn rewrite_segment(
    path: &Path,
    first: bool,
    codec: Compression,
    mut keep: impl FnMut(&StoredRecord) -> bool,
) -> Result<Rewritten, LogError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".cleaned");
    let tmp = path.with_file_name(tmp_name);
    let dir = crate::config::parent_dir(path).to_path_buf();
    let bytes_before = file_len(path)?;
    let file = File::create(&tmp).map_err(|e| LogError::io("create", &tmp, e))?;
    let mut out = Output {
        file: io::BufWriter::new(file),
        error: None,
        bytes: 0,
        batch: BatchBuilder::default(),
        encoder: Encoder::default(),
        buf: Vec::new(),
        codec,
    };
    let mut records_before = 0;
    let mut records_after = 0;
    let mut tombstones_kept = Vec::new();
    let topic: Arc<str> = Arc::from("");
    let scanned = for_each_record(path, |stored| {
        records_before += 1;
        if !keep(&stored) {
            return Ok(());
        }
        records_after += 1;
        if stored.value.is_none() && stored.key.is_some() {
            tombstones_kept.push(stored.timestamp_ms);
        }
        let record = Record {
            topic: Arc::clone(&topic),
            key: stored.key,
            value: stored.value,
            headers: stored.headers,
            timestamp_ms: stored.timestamp_ms,
        };
        out.batch.push(stored.offset, &record);
        if out.batch.raw_len() >= BATCH_TARGET_BYTES {
            out.flush();
        }
        Ok(())
    });
    out.flush();
    let changed = records_after != records_before;
    let stats = Compacted {
        records_before,
        records_after,
        bytes_before,
        bytes_after: if changed { out.bytes } else { bytes_before },
    };
    let finish = || -> Result<(), LogError> {
        scanned?;
        if let Some(e) = out.error {
            return Err(LogError::io("write", &tmp, e));
        }
        let file = out
            .file
            .into_inner()
            .map_err(|e| LogError::io("write", &tmp, e.into_error()))?;
        if !changed {
            return Ok(());
        }
        file.sync_all().map_err(|e| LogError::io("sync", &tmp, e))?;
        if records_after == 0 && !first {
            failpoint("compaction-before-rename");
            fs::remove_file(path).map_err(|e| LogError::io("delete segment", path, e))?;
            sync_dir(&dir)?;
            failpoint("compaction-after-rename");
            return Ok(());
        }
        failpoint("compaction-before-rename");
        fs::rename(&tmp, path).map_err(|e| LogError::io("replace segment", path, e))?;
        sync_dir(&dir)?;
        failpoint("compaction-after-rename");
        Ok(())
    };
    let result = finish();
    // The temporary file is gone after a rename; otherwise it is not wanted.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            result?;
            return Err(LogError::io("remove", &tmp, e));
        }
    }
    result?;
    Ok(Rewritten {
        stats,
        tombstones_kept,
    })
}
