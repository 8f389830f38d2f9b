//! The log writer: a dedicated thread that appends batches with group commit.
//!
//! [`LogWriter::send`] queues a batch on a channel bounded both in batches
//! ([`QUEUE_BATCHES`]) and in bytes ([`QUEUE_BYTES`]); it waits while the queue is full and
//! never waits for the disk. The writer thread takes every batch queued, encodes each
//! partition's records of the group into record batches (see [`crate::batch`]; one per
//! partition per group, or more past [`BATCH_TARGET_BYTES`](crate::batch) or a segment roll),
//! compressed, in that partition's buffer, writes each buffer with one `write_all`, calls
//! `fdatasync` once per touched segment, and only then resolves the batches'
//! acknowledgements. A record batch therefore holds what one group commit brought for a
//! partition: nothing waits for a batch to fill, so batching adds no latency, and batches
//! grow with the load.
//!
//! When a group fails (a full disk, an I/O error, a rejected record), none of it is
//! acknowledged, and every handle open at that moment is refused from then on: its
//! connector starts again from what was acknowledged, so the records of a failed batch are
//! never followed by later ones. The writer takes back what the failed group wrote (it cuts
//! each touched partition back to its durable offset, which needs no free space) and accepts
//! batches from handles opened after the failure, so a connector that retries continues
//! where it was once the disk has room.

use crate::batch::{BatchBuilder, Compression, Encoder, BATCH_TARGET_BYTES};
use crate::cleaner::{remove_leftovers, Cleaner, Waker};
use crate::config::{
    durable_path, encode_durable, ensure_dir, list_segments, list_topics, lock_path, meta_path,
    partition_dir, read_durable, read_meta, segment_path, sync_dir, topics_dir, validate_topic,
    write_meta, LogOptions, TopicMeta,
};
use crate::error::{segment_place, LogError};
use crate::failpoint::failpoint;
use crate::journal::{Entry, Journal};
use crate::segment::{cut_from_offset, encoded_len, recover_segment, MAX_RECORD_BYTES};
use crate::topic_config::{TopicConfig, TopicRules};
use spillway_core::record::partition_for_key;
use spillway_core::{Ack, Offset, Record, StreamError, StreamWriter};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// Most batches queued for the writer thread before [`LogWriter::send`] waits.
pub const QUEUE_BATCHES: usize = 256;

/// Most bytes (by [`Record::size_hint`]) queued before [`LogWriter::send`] waits: 8 MiB.
/// A larger batch is let through alone.
pub const QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// A partition buffer whose capacity grew beyond this is released after each group.
const KEEP_BUFFER: usize = 16 * 1024 * 1024;

/// How often the durable offsets written after each group are fsynced (they are also
/// fsynced when a segment rolls and when the log closes). Between two syncs a crash of the
/// machine (not of the process) may leave one lower than it was, never higher.
const DURABLE_SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How often the writer looks for topic configs changed by `spillway topics --alter`.
const CONFIG_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

enum Command {
    Append {
        records: Vec<Record>,
        /// Partitions of the topics this batch creates, unless `rules` say otherwise.
        partitions: u32,
        /// The partitions and configs of the topics this batch creates.
        rules: Arc<TopicRules>,
        /// How its records are compressed.
        compression: Compression,
        ack: Ack,
        _budget: OwnedSemaphorePermit,
        /// The epoch of the handle that sent it.
        epoch: u64,
    },
    Flush {
        reply: oneshot::Sender<Result<(), StreamError>>,
        epoch: u64,
    },
    /// An operator's change of a producer's checkpoint (`None` forgets it).
    SetPosition {
        producer: String,
        offset: Option<Offset>,
        reply: oneshot::Sender<Result<(), StreamError>>,
        epoch: u64,
    },
}

impl Command {
    fn epoch(&self) -> u64 {
        match self {
            Command::Append { epoch, .. }
            | Command::Flush { epoch, .. }
            | Command::SetPosition { epoch, .. } => *epoch,
        }
    }
}

/// Appends records to the embedded log in a data directory.
///
/// Only one writer may have a data directory open: a second [`LogWriter::open`], in this
/// process or another, fails with [`LogError::Locked`]; [`LogWriter::open_shared`] gives the
/// connectors of one process handles on the same writer. Dropping the writer lets its thread write what
/// is queued and waits for it to stop.
///
/// The writer also runs the log's cleaner (see [`crate::cleaner`]): retention and
/// compaction of closed segments, in a thread of its own, stopped with the writer.
pub struct LogWriter {
    shared: Arc<Shared>,
    /// Partitions of the topics this handle creates.
    partitions: u32,
    /// How this handle's records are compressed.
    compression: Compression,
    /// The writer's epoch when this handle was made: a failure ends the epoch, and the
    /// handles of an ended epoch are refused.
    epoch: u64,
    /// The partitions and configs of the topics this handle creates.
    rules: Arc<TopicRules>,
}

/// What the handles of one open log share: the writer thread and its queue.
struct Shared {
    tx: Option<mpsc::Sender<Command>>,
    budget: Arc<Semaphore>,
    thread: Option<thread::JoinHandle<()>>,
    /// Stopped after the writer thread.
    cleaner: Option<Cleaner>,
    data_dir: PathBuf,
    /// The current epoch, moved on by the writer thread at each failure.
    epoch: Arc<AtomicU64>,
    /// Each producer's last committed checkpoint, as the commit journal has it.
    positions: Arc<std::sync::Mutex<HashMap<String, Offset>>>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("data_dir", &self.shared.data_dir)
            .finish_non_exhaustive()
    }
}

/// The logs this process has open for writing, by data directory.
fn open_logs(
) -> &'static std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Weak<Shared>>> {
    static OPEN: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Weak<Shared>>>,
    > = std::sync::OnceLock::new();
    OPEN.get_or_init(Default::default)
}

impl LogWriter {
    /// Opens (creating if needed) the log in `data_dir`, recovers the tail of every
    /// partition, and starts the writer thread.
    pub fn open(data_dir: impl AsRef<Path>, options: LogOptions) -> Result<Self, LogError> {
        options.validate()?;
        let data_dir = data_dir.as_ref().to_path_buf();
        let epoch = Arc::new(AtomicU64::new(0));
        let mut appender = Appender::open(&data_dir, options, Arc::clone(&epoch))?;
        let positions = Arc::clone(&appender.positions);
        let cleaner = Cleaner::start(topics_dir(&data_dir), options.compression)
            .map_err(|e| LogError::io("start the cleaner thread for", &data_dir, e))?;
        appender.waker = Some(cleaner.waker());
        let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
        let thread = thread::Builder::new()
            .name("spillway-log-writer".to_string())
            .spawn(move || appender.run(rx))
            .map_err(|e| LogError::io("start the writer thread for", &data_dir, e))?;
        Ok(LogWriter {
            shared: Arc::new(Shared {
                tx: Some(tx),
                budget: Arc::new(Semaphore::new(QUEUE_BYTES)),
                thread: Some(thread),
                cleaner: Some(cleaner),
                data_dir,
                epoch,
                positions,
            }),
            partitions: options.default_partitions,
            compression: options.compression,
            epoch: 0,
            rules: Arc::default(),
        })
    }

    /// A writer of the log in `data_dir` that shares the writer this process already has
    /// open there (several connectors of one process write one log), or opens it.
    /// `options.default_partitions` applies to the topics this handle creates and
    /// `options.compression` to the records it sends; the segment size is the first
    /// opener's.
    pub fn open_shared(data_dir: impl AsRef<Path>, options: LogOptions) -> Result<Self, LogError> {
        options.validate()?;
        let data_dir = data_dir.as_ref();
        let key = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let mut open = open_logs().lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, w| w.strong_count() > 0);
        if let Some(shared) = open.get(&key).and_then(std::sync::Weak::upgrade) {
            let epoch = shared.epoch.load(Ordering::SeqCst);
            return Ok(LogWriter {
                shared,
                partitions: options.default_partitions,
                compression: options.compression,
                epoch,
                rules: Arc::default(),
            });
        }
        // The last handle of an earlier writer may still be closing (its thread holds the
        // lock until it has written what it had): wait a little for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let writer = loop {
            match LogWriter::open(data_dir, options) {
                Err(LogError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other?,
            }
        };
        open.insert(key, Arc::downgrade(&writer.shared));
        Ok(writer)
    }

    /// This handle creates topics with the partitions and configs `rules` give them
    /// (a connector's `topic.creation.*`). Without, it creates topics with
    /// `default_partitions` that keep every record ([`TopicRules::default`]).
    pub fn with_topic_rules(mut self, rules: Arc<TopicRules>) -> Self {
        self.rules = rules;
        self
    }

    /// The data directory the log lives in.
    pub fn data_dir(&self) -> &Path {
        &self.shared.data_dir
    }

    /// Another handle on the same writer, with this one's options and epoch.
    pub fn handle(&self) -> LogWriter {
        LogWriter {
            shared: Arc::clone(&self.shared),
            partitions: self.partitions,
            compression: self.compression,
            rules: Arc::clone(&self.rules),
            epoch: self.epoch,
        }
    }

    /// The checkpoint of `producer` committed with the last of its batches in the log (see
    /// [`crate::journal`]): where its source resumes. Batches still queued are not counted:
    /// [`flush`](StreamWriter::flush) first.
    pub fn committed_position(&self, producer: &str) -> Option<Offset> {
        let positions = self
            .shared
            .positions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        positions.get(producer).cloned()
    }

    /// Replaces (or with `None` forgets) the committed checkpoint of `producer`, durably,
    /// as an operator's alter or reset of a stopped connector's offsets does. Blocks: call
    /// it off the async threads.
    pub fn set_position_blocking(
        &self,
        producer: &str,
        offset: Option<Offset>,
    ) -> Result<(), StreamError> {
        let tx = self.shared.tx.as_ref().ok_or(StreamError::Closed)?;
        let (reply, done) = oneshot::channel();
        tx.blocking_send(Command::SetPosition {
            producer: producer.to_string(),
            offset,
            reply,
            epoch: self.epoch,
        })
        .map_err(|_| StreamError::Closed)?;
        done.blocking_recv().map_err(|_| StreamError::Closed)?
    }
}

impl StreamWriter for LogWriter {
    async fn send(&mut self, batch: Vec<Record>, ack: Ack) -> Result<(), StreamError> {
        let tx = self.shared.tx.as_ref().ok_or(StreamError::Closed)?;
        let bytes: usize = batch.iter().map(Record::size_hint).sum();
        let budget = Arc::clone(&self.shared.budget)
            .acquire_many_owned(bytes.min(QUEUE_BYTES) as u32)
            .await
            .map_err(|_| StreamError::Closed)?;
        tx.send(Command::Append {
            records: batch,
            partitions: self.partitions,
            rules: Arc::clone(&self.rules),
            compression: self.compression,
            ack,
            _budget: budget,
            epoch: self.epoch,
        })
        .await
        .map_err(|_| StreamError::Closed)
    }

    async fn flush(&mut self) -> Result<(), StreamError> {
        let tx = self.shared.tx.as_ref().ok_or(StreamError::Closed)?;
        let (reply, done) = oneshot::channel();
        tx.send(Command::Flush {
            reply,
            epoch: self.epoch,
        })
        .await
        .map_err(|_| StreamError::Closed)?;
        done.await.map_err(|_| StreamError::Closed)?
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!(data_dir = %self.data_dir.display(), "the log writer thread panicked");
            }
        }
        drop(self.cleaner.take());
    }
}

/// Why the writer stopped accepting batches; every later batch is failed with it.
#[derive(Clone, Debug)]
enum Failure {
    Io {
        action: String,
        kind: io::ErrorKind,
        message: String,
    },
    Rejected(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Io {
                action, message, ..
            } => write!(f, "{action}: {message}"),
            Failure::Rejected(reason) => write!(f, "batch rejected: {reason}"),
        }
    }
}

impl Failure {
    fn from_log(error: LogError) -> Self {
        match error {
            LogError::Io {
                action,
                path,
                source,
            } => Failure::Io {
                action: format!("trying to {action} {}", path.display()),
                kind: source.kind(),
                message: if source.kind() == io::ErrorKind::StorageFull {
                    format!(
                        "{source}: nothing more is acknowledged until the disk has room; \
                         writing then continues where it stopped"
                    )
                } else {
                    source.to_string()
                },
            },
            other => Failure::Io {
                action: "writing to the log".to_string(),
                kind: io::ErrorKind::InvalidData,
                message: other.to_string(),
            },
        }
    }

    fn is_io(&self) -> bool {
        matches!(self, Failure::Io { .. })
    }

    /// The error for a batch; `first` is the batch that failed, later ones are told so.
    fn to_error(&self, first: bool) -> StreamError {
        match self {
            Failure::Io {
                action,
                kind,
                message,
            } => StreamError::Io {
                action: if first {
                    action.clone()
                } else {
                    format!("{action} (an earlier write failed; nothing more is written)")
                },
                source: io::Error::new(*kind, message.clone()),
            },
            Failure::Rejected(reason) if first => StreamError::Rejected(reason.clone()),
            Failure::Rejected(reason) => StreamError::Rejected(format!(
                "an earlier batch was rejected ({reason}); nothing more is written"
            )),
        }
    }
}

/// The writer thread's state: every known topic and the tail of each partition.
struct Appender {
    topics_dir: PathBuf,
    options: LogOptions,
    /// Holds the exclusive lock on `topics.lock` while open.
    _lock: File,
    by_name: HashMap<Arc<str>, usize>,
    topics: Vec<Vec<PartitionLog>>,
    /// The configs of each topic, by the same index.
    configs: Vec<TopicSettings>,
    /// When the configs were last compared with the `topic.json` files.
    configs_checked: std::time::Instant,
    /// Wakes the cleaner when a segment closes or configs change.
    waker: Option<Waker>,
    /// Whether a segment closed in the group being written: the cleaner is woken once
    /// the group is durable, when the closed segment's records are all acknowledged.
    rolled: bool,
    /// Partitions with staged records, as (topic index, partition).
    touched: Vec<(usize, usize)>,
    /// Compression state kept from batch to batch.
    encoder: Encoder,
    /// A failure whose group could not be taken back yet: nothing is written until it is.
    failure: Option<Failure>,
    /// The last failure, told to the handles it ended.
    last_failure: Option<Failure>,
    /// The epoch shared with the handles, moved on at each failure.
    epoch: Arc<AtomicU64>,
    /// Commands from handles of an epoch below this one are refused.
    refused_below: u64,
    /// The commit journal: a group is committed once its entry is in it.
    journal: Journal,
    /// Whether the journal existed when the log was opened: then whatever lies past a
    /// partition's committed end was never committed and is cut. A log from before the
    /// journal keeps its tails this once.
    journaled: bool,
    /// Each producer's committed checkpoint, shared with the handles.
    positions: Arc<std::sync::Mutex<HashMap<String, Offset>>>,
    /// Topic names by index.
    names: Vec<Arc<str>>,
    /// When the durable offsets were last fsynced.
    durable_synced: std::time::Instant,
}

impl Appender {
    fn open(data_dir: &Path, options: LogOptions, epoch: Arc<AtomicU64>) -> Result<Self, LogError> {
        let topics_dir = topics_dir(data_dir);
        ensure_dir(&topics_dir)?;
        let lock = lock_exclusive(&lock_path(data_dir))?;
        let (journal, journaled) = Journal::open(data_dir)?;
        let positions = Arc::new(std::sync::Mutex::new(journal.state().positions.clone()));
        let mut appender = Appender {
            topics_dir,
            options,
            _lock: lock,
            by_name: HashMap::new(),
            topics: Vec::new(),
            configs: Vec::new(),
            configs_checked: std::time::Instant::now(),
            waker: None,
            rolled: false,
            touched: Vec::new(),
            encoder: Encoder::default(),
            failure: None,
            last_failure: None,
            epoch,
            refused_below: 0,
            durable_synced: std::time::Instant::now(),
            journal,
            journaled,
            positions,
            names: Vec::new(),
        };
        for name in list_topics(&appender.topics_dir)? {
            let dir = appender.topics_dir.join(&name);
            if let Some(meta) = read_meta(&dir)? {
                appender.load_topic(Arc::from(name), &dir, &meta)?;
            }
        }
        Ok(appender)
    }

    fn load_topic(
        &mut self,
        name: Arc<str>,
        dir: &Path,
        meta: &TopicMeta,
    ) -> Result<usize, LogError> {
        let ends = &self.journal.state().ends;
        let partitions = (0..meta.partitions)
            .map(|p| {
                let committed = ends.get(&(name.to_string(), p)).copied();
                // What a compaction cut short left (no cleaner runs yet for this log).
                remove_leftovers(&partition_dir(dir, p))?;
                PartitionLog::recover(partition_dir(dir, p), committed, self.journaled)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let index = self.topics.len();
        self.topics.push(partitions);
        self.names.push(Arc::clone(&name));
        self.configs.push(TopicSettings {
            meta_path: meta_path(dir),
            modified: modified(&meta_path(dir)),
            config: meta.effective(),
        });
        self.by_name.insert(name, index);
        Ok(index)
    }

    /// The index of `name`, creating the topic on its first write with the partitions and
    /// configs `rules` give it (`new_partitions` unless they say otherwise).
    fn topic(
        &mut self,
        name: &Arc<str>,
        new_partitions: u32,
        rules: &TopicRules,
    ) -> Result<usize, LogError> {
        if let Some(&index) = self.by_name.get(&**name) {
            return Ok(index);
        }
        let dir = self.topics_dir.join(&**name);
        let meta = match read_meta(&dir)? {
            Some(meta) => meta,
            None => {
                let (partitions, config) = rules.resolve(name, new_partitions);
                for p in 0..partitions {
                    ensure_dir(&partition_dir(&dir, p))?;
                }
                let meta = TopicMeta {
                    partitions,
                    config: Some(config),
                };
                write_meta(&dir, &meta)?;
                tracing::info!(topic = %name, partitions, cleanup_policy = meta.effective().cleanup_policy.name(), "created topic");
                meta
            }
        };
        self.load_topic(Arc::clone(name), &dir, &meta)
    }

    /// Takes up topic configs changed since they were read (at most every
    /// [`CONFIG_CHECK_EVERY`]), and wakes the cleaner if any did.
    fn refresh_configs(&mut self) {
        if self.configs_checked.elapsed() < CONFIG_CHECK_EVERY {
            return;
        }
        self.configs_checked = std::time::Instant::now();
        let mut changed = false;
        for settings in &mut self.configs {
            let modified = modified(&settings.meta_path);
            if modified == settings.modified {
                continue;
            }
            settings.modified = modified;
            match read_meta(crate::config::parent_dir(&settings.meta_path)) {
                Ok(Some(meta)) => {
                    let config = meta.effective();
                    if config != settings.config {
                        tracing::info!(path = %settings.meta_path.display(), "topic configs changed");
                        settings.config = config;
                        changed = true;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the topic configs cannot be read again; the ones read before stay in force");
                }
            }
        }
        if changed {
            if let Some(waker) = &self.waker {
                waker.wake();
            }
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut group = Vec::new();
        while let Some(command) = rx.blocking_recv() {
            group.push(command);
            while let Ok(command) = rx.try_recv() {
                group.push(command);
            }
            self.process(&mut group);
        }
    }

    /// Appends and syncs a group of queued batches, then resolves them in order.
    fn process(&mut self, group: &mut Vec<Command>) {
        let refused: Vec<bool> = group
            .iter()
            .map(|c| c.epoch() < self.refused_below)
            .collect();
        if self.failure.is_some() && refused.contains(&false) {
            self.take_back();
        }
        let mut ok_until = 0;
        let mut first_failed = None;
        self.refresh_configs();
        let failure = match self.failure.clone() {
            Some(f) => {
                first_failed = (0..group.len()).find(|&i| !refused[i]);
                Some(f)
            }
            None => {
                ok_until = group.len();
                let mut failure = None;
                for (i, command) in group.iter().enumerate() {
                    if let (
                        false,
                        Command::Append {
                            records,
                            partitions,
                            rules,
                            compression,
                            ..
                        },
                    ) = (refused[i], command)
                    {
                        if let Err(f) = self.stage(records, *partitions, rules, *compression) {
                            // A rejected batch staged nothing, so the batches before it can
                            // be written; an I/O error may have hit their data too.
                            ok_until = if f.is_io() { 0 } else { i };
                            failure = Some(f);
                            break;
                        }
                    }
                }
                let mut updates = BTreeMap::new();
                for (i, command) in group.iter().enumerate().take(ok_until) {
                    match (refused[i], command) {
                        (false, Command::Append { ack, .. }) => {
                            if let Some(c) = ack.checkpoint() {
                                updates.insert(c.producer.to_string(), Some(c.offset.clone()));
                            }
                        }
                        (
                            false,
                            Command::SetPosition {
                                producer, offset, ..
                            },
                        ) => {
                            updates.insert(producer.clone(), offset.clone());
                        }
                        _ => {}
                    }
                }
                if ok_until > 0 {
                    if let Err(f) = self.write_staged(updates) {
                        ok_until = 0;
                        failure = Some(f);
                    }
                }
                // A segment closed by this group is durable now: the cleaner may look at it.
                if std::mem::take(&mut self.rolled) && failure.is_none() {
                    if let Some(waker) = &self.waker {
                        waker.wake();
                    }
                }
                self.clear_staged();
                if let Some(f) = &failure {
                    first_failed = (ok_until..group.len())
                        .find(|&i| !refused[i] && matches!(group[i], Command::Append { .. }));
                    self.failed(f.clone());
                }
                failure
            }
        };
        for (i, command) in group.drain(..).enumerate() {
            let result = if refused[i] {
                let f = self.last_failure.as_ref().expect("refused after a failure");
                Err(f.to_error(false))
            } else {
                match &failure {
                    Some(f) if i >= ok_until => Err(f.to_error(first_failed == Some(i))),
                    _ => Ok(()),
                }
            };
            match command {
                Command::Append { ack, .. } => ack.resolve(result),
                Command::Flush { reply, .. } | Command::SetPosition { reply, .. } => {
                    let _ = reply.send(result);
                }
            }
        }
    }

    /// Ends the epoch of every handle open now, and takes back what the failed group wrote.
    fn failed(&mut self, failure: Failure) {
        tracing::error!(error = %failure, "the log writer failed: nothing of this group is acknowledged, and its connectors start again from what was");
        self.refused_below = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.last_failure = Some(failure.clone());
        self.failure = Some(failure);
        self.take_back();
    }

    /// Cuts every partition back to its durable offset (the records of a failed group were
    /// never acknowledged; their connectors send them again). Until this succeeds nothing
    /// more is written.
    fn take_back(&mut self) {
        let mut result = Ok(());
        'all: for (t, partitions) in self.topics.iter_mut().enumerate() {
            for (p, partition) in partitions.iter_mut().enumerate() {
                // A group whose journal entry was written is committed, even if its
                // durable offsets did not move.
                let committed = self
                    .journal
                    .state()
                    .ends
                    .get(&(self.names[t].to_string(), p as u32))
                    .copied()
                    .unwrap_or(0)
                    .max(partition.durable);
                if partition.next_offset != committed || partition.durable != committed {
                    result = partition.rewind(committed);
                    if result.is_err() {
                        break 'all;
                    }
                }
            }
        }
        match result {
            Ok(()) => {
                if self.failure.take().is_some() {
                    tracing::info!("the log writer took back the failed group's records and accepts new batches");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the log writer could not take back the failed group's records yet; it tries again with the next batch");
            }
        }
    }

    /// Encodes a batch into the partition buffers; rejects it whole, before staging
    /// anything, if a topic name or a record size is invalid.
    fn stage(
        &mut self,
        records: &[Record],
        partitions: u32,
        rules: &TopicRules,
        compression: Compression,
    ) -> Result<(), Failure> {
        for record in records {
            if !self.by_name.contains_key(&*record.topic) {
                validate_topic(&record.topic).map_err(|e| Failure::Rejected(e.to_string()))?;
            }
            let len = encoded_len(record);
            if len > MAX_RECORD_BYTES {
                return Err(Failure::Rejected(format!(
                    "a record for topic {} takes {len} bytes, more than the limit of {MAX_RECORD_BYTES}",
                    record.topic
                )));
            }
        }
        let now = std::time::SystemTime::now();
        let mut last: Option<(&Arc<str>, usize)> = None;
        for record in records {
            let t = match last {
                Some((name, t)) if **name == *record.topic => t,
                _ => self
                    .topic(&record.topic, partitions, rules)
                    .map_err(Failure::from_log)?,
            };
            last = Some((&record.topic, t));
            let config = &self.configs[t].config;
            let segment_bytes = config.segment_bytes.unwrap_or(self.options.segment_bytes);
            let segment_age = std::time::Duration::from_millis(config.segment_ms);
            let codec = config.codec(compression);
            let partitions = &mut self.topics[t];
            let p = match &record.key {
                Some(key) => partition_for_key(key, partitions.len() as u32) as usize,
                None => 0,
            };
            let part = &mut partitions[p];
            // In a batch, a record takes its length and what follows its CRC; the batch's
            // size is counted uncompressed, so a segment may end up smaller than the limit.
            let len = encoded_len(record) - 4;
            let size = part.written + part.pending.len() as u64 + part.batch.raw_len() as u64;
            let too_old = now
                .duration_since(part.segment_started)
                .is_ok_and(|age| age >= segment_age);
            if size > 0 && (size + len as u64 > segment_bytes || too_old) {
                part.seal(&mut self.encoder);
                part.roll().map_err(Failure::from_log)?;
                self.rolled = true;
            } else if !part.batch.is_empty() && part.batch.raw_len() + len > BATCH_TARGET_BYTES {
                part.seal(&mut self.encoder);
            }
            if part.codec != codec {
                part.seal(&mut self.encoder);
                part.codec = codec;
            }
            part.batch.push(part.next_offset, record);
            part.next_offset += 1;
            if !part.touched {
                part.touched = true;
                self.touched.push((t, p));
            }
        }
        Ok(())
    }

    /// Writes each touched partition's buffer, syncs each of their segments once, commits
    /// the group in the journal (with the producers' checkpoints in `updates`), then moves
    /// their durable offsets.
    fn write_staged(&mut self, updates: BTreeMap<String, Option<Offset>>) -> Result<(), Failure> {
        for &(t, p) in &self.touched {
            self.topics[t][p].seal(&mut self.encoder);
        }
        for &(t, p) in &self.touched {
            self.topics[t][p]
                .write_pending()
                .map_err(Failure::from_log)?;
        }
        failpoint("log-after-write");
        for &(t, p) in &self.touched {
            self.topics[t][p].sync().map_err(Failure::from_log)?;
        }
        failpoint("log-after-sync");
        if !self.touched.is_empty() || !updates.is_empty() {
            let entry = Entry {
                ends: self
                    .touched
                    .iter()
                    .map(|&(t, p)| {
                        (
                            self.names[t].to_string(),
                            p as u32,
                            self.topics[t][p].next_offset,
                        )
                    })
                    .collect(),
                positions: updates,
            };
            self.journal.append(&entry).map_err(Failure::from_log)?;
            failpoint("log-after-journal");
            let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
            for (producer, offset) in entry.positions {
                match offset {
                    Some(offset) => positions.insert(producer, offset),
                    None => positions.remove(&producer),
                };
            }
        }
        for &(t, p) in &self.touched {
            self.topics[t][p]
                .mark_durable()
                .map_err(Failure::from_log)?;
        }
        if self.durable_synced.elapsed() >= DURABLE_SYNC_EVERY {
            self.sync_durable().map_err(Failure::from_log)?;
        }
        Ok(())
    }

    /// Fsyncs every durable offset written since the last time.
    fn sync_durable(&mut self) -> Result<(), LogError> {
        self.durable_synced = std::time::Instant::now();
        for partition in self.topics.iter_mut().flatten() {
            partition.sync_durable()?;
        }
        Ok(())
    }

    /// Forgets the staged state (written or, after a failure, abandoned).
    fn clear_staged(&mut self) {
        for (t, p) in self.touched.drain(..) {
            let part = &mut self.topics[t][p];
            part.touched = false;
            part.batch.clear();
            part.pending.clear();
            if part.pending.capacity() > KEEP_BUFFER {
                part.pending = Vec::new();
            }
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        if let Err(e) = self.sync_durable() {
            tracing::warn!(error = %e, "could not sync the durable offsets of the log on close");
        }
    }
}

/// A topic's configs as the writer last read them.
struct TopicSettings {
    /// The topic's `topic.json`.
    meta_path: PathBuf,
    /// Its modification time when read.
    modified: Option<std::time::SystemTime>,
    config: TopicConfig,
}

/// The modification time of a file, `None` if it cannot be had.
fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The tail of one partition: its active segment and the next offset.
struct PartitionLog {
    dir: PathBuf,
    /// The partition's durable offset file, rewritten in place.
    durable_file: File,
    /// The durable offset last written to it.
    durable: u64,
    /// Whether `durable_file` has a write not yet synced.
    durable_dirty: bool,
    /// Base offset of the active (last) segment.
    base: u64,
    next_offset: u64,
    /// Bytes of the active segment on disk.
    written: u64,
    /// Whether the active segment file exists yet.
    exists: bool,
    /// Append handle of the active segment, opened on first write.
    file: Option<File>,
    /// Records of the current group not yet in `pending`.
    batch: BatchBuilder,
    /// How `batch` is to be compressed.
    codec: Compression,
    /// Encoded batches of the current group, not yet written.
    pending: Vec<u8>,
    touched: bool,
    /// Whether `file` has writes not yet synced.
    dirty: bool,
    /// When the active segment was started (for `segment.ms`).
    segment_started: std::time::SystemTime,
}

impl PartitionLog {
    /// Opens a partition for appending: recovers its last segment against its durable
    /// offset, makes what the segment holds durable, and records that as the durable offset.
    ///
    /// `committed` is the partition's end as the commit journal has it; the partition is
    /// committed up to the higher of it and the durable offset file. With `cut`, records
    /// past that were never committed: they are removed (their producer sends them again).
    fn recover(dir: PathBuf, committed: Option<u64>, cut: bool) -> Result<Self, LogError> {
        ensure_dir(&dir)?;
        let durable = match (read_durable(&dir)?, committed) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if cut {
            cut_uncommitted(&dir, durable.unwrap_or(0))?;
        }
        let last = list_segments(&dir)?.last().copied();
        let (base, next_offset, written, exists) = match last {
            None => (0, 0, 0, false),
            Some(base) => {
                let tail = recover_segment(&segment_path(&dir, base), base, durable)?;
                (base, tail.next_offset, tail.len, true)
            }
        };
        if let Some(d) = durable.filter(|d| next_offset < *d) {
            let path = segment_path(&dir, base);
            let (topic, partition) = segment_place(&path);
            return Err(LogError::Damaged {
                topic,
                partition,
                offset: next_offset,
                path,
                position: written,
                acknowledged: Some(d),
                detail: format!(
                    "the partition ends at offset {next_offset}, but records up to {} were acknowledged: they are missing",
                    d - 1
                ),
            });
        }
        // A process killed after its write but before its fsync left data the page cache
        // still holds: make it durable before counting it so.
        if exists {
            let path = segment_path(&dir, base);
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| LogError::io("sync segment", &path, e))?;
        }
        let path = durable_path(&dir);
        let mut durable_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LogError::io("open the durable offset file", &path, e))?;
        durable_file
            .write_all(&encode_durable(next_offset))
            .and_then(|()| durable_file.set_len(crate::config::DURABLE_LEN as u64))
            .and_then(|()| durable_file.sync_all())
            .map_err(|e| LogError::io("write the durable offset file", &path, e))?;
        if durable.is_none() {
            sync_dir(&dir)?;
        }
        // A segment's age counts from its creation, as well as the file system tells it.
        let segment_started = exists
            .then(|| {
                let meta = std::fs::metadata(segment_path(&dir, base)).ok()?;
                meta.created().or_else(|_| meta.modified()).ok()
            })
            .flatten()
            .unwrap_or_else(std::time::SystemTime::now);
        Ok(PartitionLog {
            dir,
            durable_file,
            durable: next_offset,
            durable_dirty: false,
            base,
            next_offset,
            written,
            exists,
            file: None,
            batch: BatchBuilder::default(),
            codec: Compression::default(),
            pending: Vec::new(),
            touched: false,
            dirty: false,
            segment_started,
        })
    }

    /// Records that every record below the next offset is durable (after their fsync).
    fn mark_durable(&mut self) -> Result<(), LogError> {
        use std::os::unix::fs::FileExt;
        if self.durable == self.next_offset {
            return Ok(());
        }
        self.durable_file
            .write_all_at(&encode_durable(self.next_offset), 0)
            .map_err(|e| {
                LogError::io("write the durable offset file", &durable_path(&self.dir), e)
            })?;
        self.durable = self.next_offset;
        self.durable_dirty = true;
        Ok(())
    }

    /// Takes back every record at or past `keep` (see [`cut_uncommitted`]) and opens the
    /// tail again. Removing and truncating files needs no free space, so this works on a
    /// full disk.
    fn rewind(&mut self, keep: u64) -> Result<(), LogError> {
        self.file = None;
        self.dirty = false;
        *self = PartitionLog::recover(self.dir.clone(), Some(keep), true)?;
        Ok(())
    }

    fn sync_durable(&mut self) -> Result<(), LogError> {
        if self.durable_dirty {
            self.durable_file.sync_data().map_err(|e| {
                LogError::io("sync the durable offset file", &durable_path(&self.dir), e)
            })?;
            self.durable_dirty = false;
        }
        Ok(())
    }

    fn open_file(&mut self) -> Result<&mut File, LogError> {
        let file = match self.file.take() {
            Some(file) => file,
            None => {
                let path = segment_path(&self.dir, self.base);
                let mut options = OpenOptions::new();
                options.append(true);
                if !self.exists {
                    options.create_new(true);
                }
                let file = options
                    .open(&path)
                    .map_err(|e| LogError::io("open segment", &path, e))?;
                if !self.exists {
                    sync_dir(&self.dir)?;
                    self.exists = true;
                }
                file
            }
        };
        Ok(self.file.insert(file))
    }

    /// Ends the batch being built: compressed, framed, into `pending`.
    fn seal(&mut self, encoder: &mut Encoder) {
        self.batch.seal(self.codec, encoder, &mut self.pending);
    }

    fn write_pending(&mut self) -> Result<(), LogError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = segment_path(&self.dir, self.base);
        let pending = std::mem::take(&mut self.pending);
        let written = self.open_file().and_then(|file| {
            file.write_all(&pending)
                .map_err(|e| LogError::io("append to segment", &path, e))
        });
        self.pending = pending;
        written?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        self.dirty = true;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), LogError> {
        if let (true, Some(file)) = (self.dirty, &self.file) {
            file.sync_data().map_err(|e| {
                LogError::io("sync segment", &segment_path(&self.dir, self.base), e)
            })?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Starts a new segment at the next offset. The finished segment is made durable
    /// first, so that only the last segment of a partition can ever have a torn tail.
    fn roll(&mut self) -> Result<(), LogError> {
        self.write_pending()?;
        self.sync()?;
        self.sync_durable()?;
        let base = self.next_offset;
        let path = segment_path(&self.dir, base);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| LogError::io("create segment", &path, e))?;
        sync_dir(&self.dir)?;
        tracing::debug!(path = %path.display(), "rolled to a new segment");
        self.file = Some(file);
        self.base = base;
        self.written = 0;
        self.exists = true;
        self.segment_started = std::time::SystemTime::now();
        Ok(())
    }
}

/// Removes every record at or past `keep` from a partition: segments that start past it
/// are removed, the one holding it is cut (a segment starting at it is emptied: it may mark
/// where offsets go on after records a repair lost). They were written but never committed.
fn cut_uncommitted(dir: &Path, keep: u64) -> Result<(), LogError> {
    let bases = list_segments(dir)?;
    let mut removed = 0;
    for &base in bases.iter().rev().take_while(|&&b| b > keep) {
        let path = segment_path(dir, base);
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(LogError::io("remove uncommitted segment", &path, e)),
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    let mut cut = 0;
    if let Some(&last) = bases.iter().rev().find(|&&b| b <= keep) {
        let path = segment_path(dir, last);
        let before = std::fs::metadata(&path)
            .map_err(|e| LogError::io("inspect segment", &path, e))?
            .len();
        cut = before - cut_from_offset(&path, keep)?.min(before);
    }
    if removed > 0 || cut > 0 {
        tracing::warn!(
            partition = %dir.display(),
            committed = keep,
            removed_segments = removed,
            removed_bytes = cut,
            "taking back records written but never committed (their producer sends them again)"
        );
    }
    Ok(())
}

/// Creates (if needed) and locks the writer's lock file, failing if another holds it.
pub(crate) fn lock_exclusive(path: &Path) -> Result<File, LogError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| LogError::io("open lock file", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::WouldBlock {
                return Err(LogError::Locked {
                    path: path.to_path_buf(),
                });
            }
            return Err(LogError::io("lock", path, error));
        }
    }
    Ok(file)
}
