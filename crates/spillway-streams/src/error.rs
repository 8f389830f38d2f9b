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
    /// [`LogOptions`](crate::LogOptions) out of range.
    #[error("invalid log options: {0}")]
    InvalidOptions(String),
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
