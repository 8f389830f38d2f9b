//! Errors of the embedded log, each naming the file, directory or topic involved.

use std::io;
use std::path::{Path, PathBuf};

/// An error opening, recovering, writing or reading the embedded log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file-system operation failed.
    #[error("could not {action} {}", path.display())]
    Io {
        /// What was being done, e.g. `"read segment"`.
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A topic name is empty, too long, `.`/`..`, or uses characters outside `[A-Za-z0-9._-]`.
    #[error(
        "invalid topic name {topic:?}: use 1 to 249 characters from [A-Za-z0-9._-], not . or .."
    )]
    InvalidTopic {
        /// The rejected name.
        topic: String,
    },
    /// The topic has never been written to this log.
    #[error("topic {topic} does not exist in {}", path.display())]
    UnknownTopic {
        /// The topic asked for.
        topic: String,
        /// The directory it was looked for in.
        path: PathBuf,
    },
    /// The partition is outside the topic's partition count.
    #[error("topic {topic} has {partitions} partition(s); there is no partition {partition}")]
    UnknownPartition {
        /// The topic asked for.
        topic: String,
        /// The partition asked for.
        partition: u32,
        /// How many partitions the topic has.
        partitions: u32,
    },
    /// A segment holds a damaged record where an intact one must be.
    #[error("corrupt log segment {} at byte {position}: {detail}", path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte position of the damaged record in the file.
        position: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// Records the log acknowledged are damaged or missing: not a torn write from a crash,
    /// which only ever affects records never acknowledged. The writer refuses to open
    /// (cutting them would lose committed data and reuse their offsets).
    #[error(
        "the embedded log is damaged: topic {topic} partition {partition}, offset {offset}, file {} at byte {position}: {detail}{}; \
         stop every process using this data directory, list the damage with `spillway topics --verify --data-dir {}`, \
         and keep every readable record with `spillway topics --repair --data-dir {}`; then re-snapshot the tables whose records it reports lost",
        path.display(),
        acknowledged.map(|a| format!(" (records up to offset {} were acknowledged)", a.saturating_sub(1))).unwrap_or_default(),
        data_dir_of(path).display(),
        data_dir_of(path).display()
    )]
    Damaged {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The first offset that is not intact.
        offset: u64,
        /// The segment file.
        path: PathBuf,
        /// Byte position of the damage in the file.
        position: u64,
        /// The partition's durable offset: every record below it was acknowledged.
        acknowledged: Option<u64>,
        /// What is wrong.
        detail: String,
    },
    /// A reader asked for records past the end of a partition: the log holds fewer records
    /// than it once acknowledged (it was deleted, or damaged and cut), and reading on would
    /// skip records silently.
    #[error(
        "offset {offset} of topic {topic} partition {partition} is past the end of the log ({end}): \
         the log no longer holds records this reader already had; check it with `spillway topics --verify`, \
         and start the reader again from an offset the log holds (or re-snapshot)"
    )]
    PastEnd {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The offset asked for.
        offset: u64,
        /// The partition's end offset.
        end: u64,
    },
    /// A topic's `topic.json` cannot be understood.
    #[error("invalid topic metadata {}: {detail}", path.display())]
    InvalidMeta {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Another writer holds the log's lock.
    #[error("the log is already open for writing (lock {} is held)", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A topic config that does not exist or a value it cannot take.
    #[error("invalid topic config {key:?} = {value:?}: {reason}")]
    InvalidConfig {
        /// The config's name.
        key: String,
        /// The value refused.
        value: String,
        /// What it may be.
        reason: String,
    },
    /// A reader asked for an offset below the partition's log start: the records there were
    /// deleted by retention (or were never written).
    #[error(
        "offset {offset} of topic {topic} partition {partition} is below the start of the log ({start}): \
         the records before {start} were deleted by the topic's retention"
    )]
    BelowStart {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The offset asked for.
        offset: u64,
        /// The partition's first offset (its log start).
        start: u64,
    },
    /// [`LogOptions`](crate::LogOptions) out of range.
    #[error("invalid log options: {0}")]
    InvalidOptions(String),
}

/// The data directory of a segment file (`<data>/topics/<topic>/<partition>/<base>.log`).
fn data_dir_of(segment: &Path) -> PathBuf {
    segment
        .ancestors()
        .nth(4)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The topic and partition of a segment file, from its directories.
pub(crate) fn segment_place(segment: &Path) -> (String, u32) {
    let partition_dir = segment.parent();
    let partition = partition_dir
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let topic = partition_dir
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (topic, partition)
}

impl LogError {
    /// An [`LogError::Io`] about `path`.
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        LogError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
