//! Waiting for the log to grow: [`LogWatcher`] lets a reader, in this process or another,
//! sleep until the writer has made new records durable instead of polling the log.
//!
//! On Linux the watcher puts an inotify watch on the data directory, the `topics`
//! directory, and the directory of each watched topic and of each of its partitions. The
//! writer rewrites a partition's `durable` file after every group commit (see
//! [`config`](crate::config)), so a change to it is what wakes a reader; a new segment, a new
//! partition or topic directory, a `topic.json` or any file renamed into place wake it too,
//! and new directories are watched as they appear. Watching directories, not files, keeps
//! the watcher right when segments roll and files are replaced by rename. Writes to a
//! segment alone do not wake a reader while the partition has a `durable` file: records
//! past the durable offset are not returned yet anyway.
//!
//! A reader must not miss a wakeup: it creates the watcher before its first read and, each
//! time that read finds nothing, calls [`LogWatcher::wait`]. Changes made after the watches
//! were put are queued by the kernel until that wait takes them; when the wait puts watches
//! on new directories it returns at once, so the reader reads again after they were put.
//!
//! Without inotify (another system, no tokio runtime, the watch limit reached, or
//! `SPILLWAY_LOG_WATCH=poll` in the environment) the watcher falls back to sleeping for the
//! interval the reader asks for, as polling readers do. Even with inotify, a wait returns
//! after [`SAFETY_POLL`] at the latest, so that a change the watches cannot see (a log on a
//! network file system written from another machine) is still found.

use crate::config::{topics_dir, validate_topic};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The environment variable that, set to `poll`, makes every [`LogWatcher`] poll.
pub const WATCH_ENV: &str = "SPILLWAY_LOG_WATCH";

/// Longest a watching [`LogWatcher::wait`] sleeps without an event: 1 s.
pub const SAFETY_POLL: Duration = Duration::from_secs(1);

/// Why [`LogWatcher::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The log changed where the watcher looks: read again.
    Changed,
    /// The timeout (or [`SAFETY_POLL`]) passed without a change the watcher saw.
    TimedOut,
    /// A polling watcher slept its interval: the log may have changed.
    Polled,
}

/// Waits for changes to the log in a data directory (see the [module docs](self)).
pub struct LogWatcher {
    data_dir: PathBuf,
    /// The topics whose changes wake the reader; `None` for every topic.
    topics: Option<BTreeSet<String>>,
    /// How long a polling wait sleeps.
    poll_every: Duration,
    /// The longest a watching wait sleeps without an event.
    safety: Duration,
    #[cfg(target_os = "linux")]
    notify: Option<Box<linux::Notify>>,
}

impl std::fmt::Debug for LogWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWatcher")
            .field("data_dir", &self.data_dir)
            .field("topics", &self.topics)
            .field("watching", &self.is_watching())
            .field("poll_every", &self.poll_every)
            .finish_non_exhaustive()
    }
}

impl LogWatcher {
    /// A watcher of every topic of the log in `data_dir`, which polls every `poll_every`
    /// when it cannot watch. Needs a tokio runtime to watch (it polls without one).
    pub fn new(data_dir: impl AsRef<Path>, poll_every: Duration) -> Self {
        Self::with_topics(data_dir, poll_every, None)
    }

    /// A watcher woken only by changes to `topics` (`None`: to any topic).
    pub fn with_topics(
        data_dir: impl AsRef<Path>,
        poll_every: Duration,
        topics: Option<BTreeSet<String>>,
    ) -> Self {
        let mut watcher = LogWatcher {
            data_dir: data_dir.as_ref().to_path_buf(),
            topics,
            poll_every,
            safety: SAFETY_POLL,
            #[cfg(target_os = "linux")]
            notify: None,
        };
        if forced_to_poll() {
            tracing::debug!(
                "{WATCH_ENV}=poll: readers of the log poll every {:?}",
                poll_every
            );
        } else {
            watcher.start();
        }
        watcher
    }

    /// Whether the watcher is woken by the system (else it polls).
    pub fn is_watching(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.notify.is_some()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// Watches `topics` (`None`: every topic) from now on. Returns at once; a reader reads
    /// after calling it, so that what changed before the new watches were put is found.
    pub fn set_topics(&mut self, topics: Option<BTreeSet<String>>) {
        if self.topics == topics {
            return;
        }
        self.topics = topics;
        #[cfg(target_os = "linux")]
        if let Some(notify) = &mut self.notify {
            if let Err(e) = notify.scan(&self.data_dir, self.topics.as_ref()) {
                self.give_up(e);
            }
        }
    }

    /// Waits until the log changed where the watcher looks or `timeout` passed, whichever
    /// comes first (and, when watching, [`SAFETY_POLL`] at most; when polling, the poll
    /// interval at most).
    pub async fn wait(&mut self, timeout: Duration) -> Wake {
        let now = Instant::now();
        #[cfg(target_os = "linux")]
        if let Some(notify) = &mut self.notify {
            let until = now + timeout.min(self.safety);
            match notify
                .wait(until, &self.data_dir, self.topics.as_ref())
                .await
            {
                Ok(true) => return Wake::Changed,
                Ok(false) => return Wake::TimedOut,
                Err(e) => {
                    self.give_up(e);
                    return Wake::Changed;
                }
            }
        }
        let _ = now;
        let sleep = timeout.min(self.poll_every);
        tokio::time::sleep(sleep).await;
        if sleep < self.poll_every {
            Wake::TimedOut
        } else {
            Wake::Polled
        }
    }

    #[cfg(test)]
    pub(crate) fn set_safety(&mut self, safety: Duration) {
        self.safety = safety;
    }

    fn start(&mut self) {
        #[cfg(target_os = "linux")]
        {
            if tokio::runtime::Handle::try_current().is_err() {
                return;
            }
            match linux::Notify::start(&self.data_dir, self.topics.as_ref()) {
                Ok(notify) => self.notify = Some(Box::new(notify)),
                Err(e) => self.give_up(e),
            }
        }
    }

    /// Falls back to polling after an error of the watches.
    #[cfg(target_os = "linux")]
    fn give_up(&mut self, error: std::io::Error) {
        self.notify = None;
        tracing::warn!(
            data_dir = %self.data_dir.display(),
            error = %error,
            "cannot watch the log for changes; its readers poll every {:?} instead",
            self.poll_every
        );
    }
}

fn forced_to_poll() -> bool {
    std::env::var_os(WATCH_ENV).is_some_and(|v| v.eq_ignore_ascii_case("poll"))
}

/// Whether `name` is a topic the watcher looks at.
fn in_scope(topics: Option<&BTreeSet<String>>, name: &str) -> bool {
    match topics {
        Some(topics) => topics.contains(name),
        None => validate_topic(name).is_ok(),
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::{in_scope, topics_dir};
    use crate::config::durable_path;
    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
    use std::collections::{BTreeSet, HashMap, HashSet};
    use std::ffi::OsString;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::time::Instant;
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    /// What a watched directory is.
    #[derive(Debug)]
    enum Kind {
        /// The data directory: only `topics` appearing matters.
        Data,
        /// `topics`: a watched topic appearing matters.
        Topics,
        /// A topic directory: everything (partition directories, `topic.json`).
        Topic(String),
        /// A partition directory of a topic: the durable offset moving, segments appearing.
        Partition {
            topic: String,
            /// Whether it has a `durable` file, whose changes make segment writes moot.
            durable: bool,
        },
    }

    #[derive(Debug)]
    struct Dir {
        path: PathBuf,
        kind: Kind,
    }

    /// The inotify instance and its watches.
    pub(super) struct Notify {
        fd: AsyncFd<Inotify>,
        dirs: HashMap<WatchDescriptor, Dir>,
        watched: HashSet<PathBuf>,
        buffer: Vec<u8>,
    }

    impl Notify {
        pub(super) fn start(
            data_dir: &Path,
            topics: Option<&BTreeSet<String>>,
        ) -> io::Result<Self> {
            let inotify = Inotify::init()?;
            // SAFETY: the `Inotify` owns its descriptor, keeps it open until it is dropped
            // (with the `AsyncFd`, which is never taken apart) and always returns that one.
            let fd = unsafe { AsyncFd::register_with_interest(inotify, Interest::READABLE) }
                .map_err(|e| e.into_parts().1)?;
            let mut notify = Notify {
                fd,
                dirs: HashMap::new(),
                watched: HashSet::new(),
                buffer: vec![0; 16 * 1024],
            };
            notify.scan(data_dir, topics)?;
            Ok(notify)
        }

        /// Puts a watch on every directory of the log in scope not yet watched.
        pub(super) fn scan(
            &mut self,
            data_dir: &Path,
            topics: Option<&BTreeSet<String>>,
        ) -> io::Result<()> {
            self.add(data_dir, Kind::Data)?;
            let topics_dir = topics_dir(data_dir);
            if !self.add(&topics_dir, Kind::Topics)? {
                return Ok(());
            }
            for name in subdirectories(&topics_dir)? {
                let Some(name) = name.to_str() else { continue };
                if !in_scope(topics, name) {
                    continue;
                }
                let topic_dir = topics_dir.join(name);
                if !self.add(&topic_dir, Kind::Topic(name.to_string()))? {
                    continue;
                }
                for partition in subdirectories(&topic_dir)? {
                    let is_partition = partition
                        .to_str()
                        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                    if is_partition {
                        let dir = topic_dir.join(partition);
                        let durable = durable_path(&dir).exists();
                        let topic = name.to_string();
                        self.add(&dir, Kind::Partition { topic, durable })?;
                    }
                }
            }
            Ok(())
        }

        /// Watches `path` unless it is already; `false` if it does not exist (any more).
        fn add(&mut self, path: &Path, kind: Kind) -> io::Result<bool> {
            if self.watched.contains(path) {
                return Ok(true);
            }
            let mask = match kind {
                Kind::Data | Kind::Topics | Kind::Topic(_) => WatchMask::empty(),
                Kind::Partition { .. } => WatchMask::MODIFY,
            } | WatchMask::CREATE
                | WatchMask::MOVED_TO
                | WatchMask::MOVE_SELF
                | WatchMask::ONLYDIR;
            match self.fd.get_mut().watches().add(path, mask) {
                Ok(wd) => {
                    self.watched.insert(path.to_path_buf());
                    self.dirs.insert(
                        wd,
                        Dir {
                            path: path.to_path_buf(),
                            kind,
                        },
                    );
                    Ok(true)
                }
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound
                        || e.raw_os_error() == Some(libc::ENOTDIR) =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        }

        /// Waits for a relevant event until `until`: `true` if one came.
        pub(super) async fn wait(
            &mut self,
            until: Instant,
            data_dir: &Path,
            topics: Option<&BTreeSet<String>>,
        ) -> io::Result<bool> {
            loop {
                let mut events = Vec::new();
                {
                    let readable = tokio::time::timeout_at(until.into(), self.fd.readable_mut());
                    let Ok(guard) = readable.await else {
                        return Ok(false);
                    };
                    let mut guard = guard?;
                    loop {
                        match guard.get_inner_mut().read_events(&mut self.buffer) {
                            Ok(batch) => events.extend(
                                batch.map(|e| (e.wd, e.mask, e.name.map(|n| n.to_os_string()))),
                            ),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                guard.clear_ready();
                                break;
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                let (mut changed, rescan) = self.handle(events, topics);
                if rescan {
                    // New watches wake the reader, which reads again after they were put:
                    // a directory it did not see may have filled before.
                    let before = self.watched.len();
                    self.scan(data_dir, topics)?;
                    changed |= self.watched.len() != before;
                }
                if changed {
                    return Ok(true);
                }
                if Instant::now() >= until {
                    return Ok(false);
                }
            }
        }

        /// Whether `events` hold a relevant change, and whether new directories may need
        /// watches.
        fn handle(
            &mut self,
            events: Vec<(WatchDescriptor, EventMask, Option<OsString>)>,
            topics: Option<&BTreeSet<String>>,
        ) -> (bool, bool) {
            let mut changed = false;
            let mut rescan = false;
            for (wd, mask, name) in events {
                if mask.contains(EventMask::Q_OVERFLOW) {
                    changed = true;
                    rescan = true;
                    continue;
                }
                if mask.intersects(EventMask::IGNORED | EventMask::MOVE_SELF) {
                    // The directory is gone or was moved away (a watch follows the
                    // directory, not its path): watch what is at its path now.
                    if let Some(dir) = self.dirs.remove(&wd) {
                        self.watched.remove(&dir.path);
                        if mask.contains(EventMask::MOVE_SELF) {
                            let _ = self.fd.get_mut().watches().remove(wd);
                        }
                        changed = true;
                        rescan = true;
                    }
                    continue;
                }
                let Some(dir) = self.dirs.get_mut(&wd) else {
                    continue;
                };
                let name = name.as_deref().and_then(|n| n.to_str()).unwrap_or("");
                let is_dir = mask.contains(EventMask::ISDIR);
                match &mut dir.kind {
                    // A directory appearing matters if the rescan watches it (a watched
                    // topic, or `topics` itself).
                    Kind::Data | Kind::Topics => rescan |= is_dir,
                    // A topic no longer watched (`set_topics`) keeps its watches, unheard.
                    Kind::Topic(topic) | Kind::Partition { topic, .. }
                        if !in_scope(topics, topic) => {}
                    Kind::Topic(_) => {
                        changed = true;
                        rescan |= is_dir;
                    }
                    Kind::Partition { durable, .. } => {
                        if name == "durable" {
                            *durable = true;
                        }
                        let segment_write =
                            mask.contains(EventMask::MODIFY) && name.ends_with(".log") && *durable;
                        if !segment_write {
                            changed = true;
                        }
                    }
                }
            }
            (changed, rescan)
        }
    }

    fn subdirectories(dir: &Path) -> io::Result<Vec<OsString>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                names.push(entry.file_name());
            }
        }
        Ok(names)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::{LogOptions, LogWriter};
    use spillway_core::{Ack, Record, StreamWriter};
    use std::sync::Arc;

    /// A guard against hanging, not a measure.
    const HANG: Duration = Duration::from_secs(60);
    /// Long enough that only an event can end a wait in a test.
    const NO_SAFETY: Duration = Duration::from_secs(3600);

    async fn append(writer: &mut LogWriter, topic: &str) {
        let record = Record {
            topic: Arc::from(topic),
            key: None,
            value: Some(b"v".to_vec()),
            headers: Vec::new(),
            timestamp_ms: 1,
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        writer.send(vec![record], Ack::new(0, tx)).await.unwrap();
        assert!(rx.recv().await.unwrap().result.is_ok());
    }

    async fn wait(watcher: &mut LogWatcher, timeout: Duration) -> Wake {
        tokio::time::timeout(HANG, watcher.wait(timeout))
            .await
            .expect("the wait ended")
    }

    /// Takes the wakes left by earlier changes.
    async fn drain(watcher: &mut LogWatcher) {
        while wait(watcher, Duration::from_millis(100)).await == Wake::Changed {}
    }

    fn watcher(dir: &Path, topics: &[&str]) -> LogWatcher {
        let topics = topics.iter().map(|t| t.to_string()).collect();
        let mut watcher = LogWatcher::with_topics(dir, Duration::from_millis(5), Some(topics));
        assert!(watcher.is_watching());
        watcher.set_safety(NO_SAFETY);
        watcher
    }

    #[tokio::test]
    async fn appends_to_a_topic_created_after_the_watcher_wake_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut watcher = watcher(dir.path(), &["a"]);
        let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
        // Changed before the wait: the kernel kept the events for it.
        append(&mut writer, "a").await;
        assert_eq!(wait(&mut watcher, NO_SAFETY).await, Wake::Changed);
        drain(&mut watcher).await;
        append(&mut writer, "a").await;
        assert_eq!(wait(&mut watcher, NO_SAFETY).await, Wake::Changed);
    }

    #[tokio::test]
    async fn other_topics_do_not_wake_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
        let mut watcher = watcher(dir.path(), &["a"]);
        append(&mut writer, "b").await;
        append(&mut writer, "b").await;
        assert_eq!(
            wait(&mut watcher, Duration::from_millis(300)).await,
            Wake::TimedOut
        );
        // Watching every topic, the same appends wake it.
        let mut all = LogWatcher::new(dir.path(), Duration::from_millis(5));
        all.set_safety(NO_SAFETY);
        append(&mut writer, "b").await;
        assert_eq!(wait(&mut all, NO_SAFETY).await, Wake::Changed);
    }

    #[tokio::test]
    async fn topics_no_longer_watched_do_not_wake_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
        append(&mut writer, "a").await;
        let mut watcher = watcher(dir.path(), &["a"]);
        watcher.set_topics(Some(["b".to_string()].into()));
        append(&mut writer, "a").await;
        assert_eq!(
            wait(&mut watcher, Duration::from_millis(300)).await,
            Wake::TimedOut
        );
        append(&mut writer, "b").await;
        assert_eq!(wait(&mut watcher, NO_SAFETY).await, Wake::Changed);
    }

    #[tokio::test]
    async fn the_durable_offset_wakes_it_and_segment_writes_alone_do_not() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        {
            let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
            append(&mut writer, "a").await;
        }
        let partition = dir.path().join("topics/a/0");
        let mut watcher = watcher(dir.path(), &["a"]);
        // Written, not yet durable: nothing a reader could read.
        let segment = crate::config::segment_path(&partition, 0);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&segment)
            .unwrap();
        file.write_all(b"partial").unwrap();
        assert_eq!(
            wait(&mut watcher, Duration::from_millis(300)).await,
            Wake::TimedOut
        );
        // The durable offset rewritten in place.
        std::fs::OpenOptions::new()
            .write(true)
            .open(partition.join("durable"))
            .unwrap()
            .write_all(&crate::config::encode_durable(1))
            .unwrap();
        assert_eq!(wait(&mut watcher, NO_SAFETY).await, Wake::Changed);
        drain(&mut watcher).await;
        // A file replaced by rename.
        let tmp = partition.join("durable.tmp");
        std::fs::write(&tmp, crate::config::encode_durable(1)).unwrap();
        std::fs::rename(&tmp, partition.join("durable")).unwrap();
        assert_eq!(wait(&mut watcher, NO_SAFETY).await, Wake::Changed);
        drain(&mut watcher).await;
        // A new segment.
        std::fs::File::create(crate::config::segment_path(&partition, 1)).unwrap();
        assert_eq!(wait(&mut watcher, NO_SAFETY).await, Wake::Changed);
    }

    #[tokio::test]
    async fn a_partition_directory_replaced_is_watched_again() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
            append(&mut writer, "a").await;
        }
        let mut watcher = watcher(dir.path(), &["a"]);
        let partition = dir.path().join("topics/a/0");
        let moved = dir.path().join("old-partition");
        std::fs::rename(&partition, &moved).unwrap();
        std::fs::create_dir(&partition).unwrap();
        assert_eq!(wait(&mut watcher, NO_SAFETY).await, Wake::Changed);
        drain(&mut watcher).await;
        std::fs::write(partition.join("durable"), crate::config::encode_durable(0)).unwrap();
        assert_eq!(wait(&mut watcher, NO_SAFETY).await, Wake::Changed);
    }

    #[test]
    fn without_a_runtime_it_polls() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!LogWatcher::new(dir.path(), Duration::from_millis(5)).is_watching());
    }
}
