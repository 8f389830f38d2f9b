//! Options, topic names and the directory layout of the log.
//!
//! ```text
//! <data_dir>/topics.lock                                   held by the one writer
//! <data_dir>/commits.log                                   the commit journal (crate::journal)
//! <data_dir>/topics/<topic>/topic.json                     {"partitions": N, "config": {..}}
//! <data_dir>/topics/<topic>/<partition>/<base>.log         segments, base offset in 20 digits
//! <data_dir>/topics/<topic>/<partition>/durable            the durable offset (below)
//! <data_dir>/topics/<topic>/<partition>/<base>.log.cleaned a segment being compacted
//! ```
//!
//! `config` holds the topic's configs as text, with Kafka's names (see
//! [`crate::topic_config`]); a `topic.json` without it was written before topic configs
//! existed, and its topic keeps every record.
//!
//! The durable offset of a partition is the offset the next record will get as of the last
//! group commit: every record below it was fsynced and acknowledged. The writer rewrites it
//! in place after each group's fsync (and fsyncs it on a timer, at every new segment and on
//! close). Readers return no record at or past it, as Kafka's consumers read only to the
//! high watermark; damage below it is never a torn write, so it is reported, not cut. The
//! commit journal holds each partition's committed end too, fsynced with every group: the
//! writer counts the higher of the two as committed (a machine that lost power may have lost
//! the last update of the file, never the journal's).

use crate::batch::Compression;
use crate::error::LogError;
use crate::topic_config::TopicConfig;
use spillway_core::{ConfigError, ConfigMap};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Default partition count of a topic created by the log (`topic.creation.default.partitions`).
pub const DEFAULT_PARTITIONS: u32 = 1;

/// Default segment size before the log rolls to a new file: 128 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 128 * 1024 * 1024;

/// Most partitions a topic may have.
pub const MAX_PARTITIONS: u32 = 10_000;

/// Longest topic name, as in Kafka.
pub const MAX_TOPIC_LEN: usize = 249;

const TOPIC_META: &str = "topic.json";
const DURABLE_FILE: &str = "durable";
/// Bytes of the durable offset file: 20 digits and a newline.
pub(crate) const DURABLE_LEN: usize = 21;
const SEGMENT_SUFFIX: &str = ".log";

/// How the log writer creates topics and sizes segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogOptions {
    /// Partitions of a topic created on its first write. Existing topics keep theirs.
    pub default_partitions: u32,
    /// Size a segment may reach before the next record goes to a new segment. A record
    /// larger than this gets a segment of its own.
    pub segment_bytes: u64,
    /// How the record batches this writer appends are compressed (a topic's
    /// `compression.type` other than `producer` overrides it).
    pub compression: Compression,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            default_partitions: DEFAULT_PARTITIONS,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            compression: Compression::default(),
        }
    }
}

impl LogOptions {
    /// Reads `topic.creation.default.partitions`, `log.segment.bytes` and
    /// `log.compression.type` (`lz4`, the default, `zstd`, or `none`/`uncompressed`, as
    /// Kafka names them) from a connector config, defaulting what is unset. The compression
    /// applies to every record the connector writes to the log unless its topic's
    /// `compression.type` says otherwise. The other topic creation keys are read by
    /// [`TopicRules::from_config`](crate::TopicRules::from_config).
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConfigError> {
        let partitions = config.u64_in(
            &["topic.creation.default.partitions"],
            u64::from(DEFAULT_PARTITIONS),
            1,
            u64::from(MAX_PARTITIONS),
        )?;
        let segment_bytes = config.u64_in(
            &["log.segment.bytes"],
            DEFAULT_SEGMENT_BYTES,
            1024,
            u64::from(u32::MAX),
        )?;
        let compression = config.choice(
            &["log.compression.type"],
            &[
                ("lz4", Compression::Lz4),
                ("zstd", Compression::Zstd),
                ("none", Compression::None),
                ("uncompressed", Compression::None),
            ],
            Compression::default(),
        )?;
        Ok(LogOptions {
            default_partitions: partitions as u32,
            segment_bytes,
            compression,
        })
    }

    pub(crate) fn validate(&self) -> Result<(), LogError> {
        if self.default_partitions == 0 || self.default_partitions > MAX_PARTITIONS {
            return Err(LogError::InvalidOptions(format!(
                "default_partitions must be between 1 and {MAX_PARTITIONS}, not {}",
                self.default_partitions
            )));
        }
        if self.segment_bytes == 0 {
            return Err(LogError::InvalidOptions(
                "segment_bytes must be at least 1".to_string(),
            ));
        }
        Ok(())
    }
}

/// Checks a topic name: 1 to 249 characters from `[A-Za-z0-9._-]`, and not `.` or `..`.
pub fn validate_topic(topic: &str) -> Result<(), LogError> {
    let valid = !topic.is_empty()
        && topic.len() <= MAX_TOPIC_LEN
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(LogError::InvalidTopic {
            topic: topic.to_string(),
        })
    }
}

/// `<data_dir>/topics`.
pub(crate) fn topics_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("topics")
}

/// The names of the topic directories in `topics_dir`, sorted: directories whose name is a
/// valid topic (a missing `topics_dir` has none).
pub(crate) fn list_topics(topics_dir: &Path) -> Result<Vec<String>, LogError> {
    let entries = match fs::read_dir(topics_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LogError::io("list topics in", topics_dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io("list topics in", topics_dir, e))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let (true, Some(name)) = (is_dir, entry.file_name().to_str()) {
            if validate_topic(name).is_ok() {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// `<data_dir>/topics.lock`.
pub(crate) fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("topics.lock")
}

/// `<topics_dir>/<topic>/<partition>`.
pub(crate) fn partition_dir(topic_dir: &Path, partition: u32) -> PathBuf {
    topic_dir.join(partition.to_string())
}

/// The segment file with base offset `base` in a partition directory.
pub(crate) fn segment_path(partition_dir: &Path, base: u64) -> PathBuf {
    partition_dir.join(format!("{base:020}{SEGMENT_SUFFIX}"))
}

/// The base offsets of a partition's segments, ascending. A missing directory has none.
pub(crate) fn list_segments(partition_dir: &Path) -> Result<Vec<u64>, LogError> {
    let entries = match fs::read_dir(partition_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LogError::io("list", partition_dir, e)),
    };
    let mut bases = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io("list", partition_dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(SEGMENT_SUFFIX) else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(base) = stem.parse::<u64>() {
                bases.push(base);
            }
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// `<partition_dir>/durable`.
pub(crate) fn durable_path(partition_dir: &Path) -> PathBuf {
    partition_dir.join(DURABLE_FILE)
}

/// The durable offset as the file holds it.
pub(crate) fn encode_durable(offset: u64) -> [u8; DURABLE_LEN] {
    let mut out = [b'0'; DURABLE_LEN];
    let digits = format!("{offset:020}");
    out[..20].copy_from_slice(&digits.as_bytes()[..20]);
    out[20] = b'\n';
    out
}

/// Reads the durable offset from the file's bytes; `None` when they are not one.
pub(crate) fn decode_durable(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != DURABLE_LEN || bytes[20] != b'\n' {
        return None;
    }
    std::str::from_utf8(&bytes[..20]).ok()?.parse().ok()
}

/// A partition's durable offset; `None` when the log predates the file or it is damaged
/// (the checks that need it are then skipped, never guessed).
pub(crate) fn read_durable(partition_dir: &Path) -> Result<Option<u64>, LogError> {
    let path = durable_path(partition_dir);
    match fs::read(&path) {
        Ok(bytes) => Ok(decode_durable(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LogError::io("read", &path, e)),
    }
}

/// The contents of `topic.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TopicMeta {
    pub partitions: u32,
    /// The topic's configs; `None` in a file written before topic configs existed.
    pub config: Option<TopicConfig>,
}

impl TopicMeta {
    /// The configs in force: the stored ones, or those of a topic from before configs.
    pub(crate) fn effective(&self) -> TopicConfig {
        self.config.clone().unwrap_or_else(TopicConfig::legacy)
    }
}

/// Reads a topic's `topic.json`; `None` if the topic was never (completely) created.
pub(crate) fn read_meta(topic_dir: &Path) -> Result<Option<TopicMeta>, LogError> {
    let path = topic_dir.join(TOPIC_META);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io("read", &path, e)),
    };
    decode_meta(&text)
        .map(Some)
        .map_err(|detail| LogError::InvalidMeta { path, detail })
}

/// Decodes the bytes of a `topic.json`: its partition count and configs (`None` for a file
/// from before topic configs). An error names the field that is wrong.
pub fn decode_topic_meta(bytes: &[u8]) -> Result<(u32, Option<TopicConfig>), String> {
    decode_meta(bytes).map(|meta| (meta.partitions, meta.config))
}

fn decode_meta(bytes: &[u8]) -> Result<TopicMeta, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "not a JSON object".to_string())?;
    let partitions = object
        .get("partitions")
        .ok_or_else(|| "field partitions is missing".to_string())?
        .as_u64()
        .filter(|p| (1..=u64::from(MAX_PARTITIONS)).contains(p))
        .ok_or_else(|| {
            format!("field partitions must be a partition count from 1 to {MAX_PARTITIONS}")
        })? as u32;
    let config = match object.get("config") {
        None => None,
        Some(serde_json::Value::Object(entries)) => {
            let mut config = TopicConfig::default();
            for (key, value) in entries {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => return Err(format!("field config.{} must be a string", printable(key))),
                };
                config.set(key, &text).map_err(|reason| {
                    format!(
                        "field config.{} has the value {:?}: {reason}",
                        printable(key),
                        printable(&text)
                    )
                })?;
            }
            Some(config)
        }
        Some(_) => return Err("field config must be an object".to_string()),
    };
    Ok(TopicMeta { partitions, config })
}

/// `text` cut to 100 characters, without control characters, for messages.
fn printable(text: &str) -> String {
    text.chars()
        .take(100)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Writes `topic.json` atomically and durably.
pub(crate) fn write_meta(topic_dir: &Path, meta: &TopicMeta) -> Result<(), LogError> {
    let path = topic_dir.join(TOPIC_META);
    let mut object = serde_json::Map::new();
    object.insert("partitions".to_string(), meta.partitions.into());
    if let Some(config) = &meta.config {
        let map: BTreeMap<String, String> = config.to_map();
        object.insert(
            "config".to_string(),
            serde_json::Value::Object(map.into_iter().map(|(k, v)| (k, v.into())).collect()),
        );
    }
    let text = serde_json::to_vec(&serde_json::Value::Object(object)).map_err(|e| {
        LogError::InvalidMeta {
            path: path.clone(),
            detail: e.to_string(),
        }
    })?;
    write_atomically(&path, &text).map_err(|(action, p, e)| LogError::io(action, &p, e))
}

/// `<topic_dir>/topic.json`.
pub(crate) fn meta_path(topic_dir: &Path) -> PathBuf {
    topic_dir.join(TOPIC_META)
}

/// Changes configs of an existing topic of the log in `data_dir` and returns the configs
/// now in force. Every change is checked before any is written; a topic from before topic
/// configs gets its current configs (nothing deleted) beneath the changes. A running writer
/// picks the change up within seconds.
pub fn alter_topic(
    data_dir: &Path,
    topic: &str,
    changes: &[(String, String)],
) -> Result<TopicConfig, LogError> {
    validate_topic(topic)?;
    let dir = topics_dir(data_dir).join(topic);
    let mut meta = read_meta(&dir)?.ok_or_else(|| LogError::UnknownTopic {
        topic: topic.to_string(),
        path: topics_dir(data_dir),
    })?;
    let mut config = meta.effective();
    for (key, value) in changes {
        config
            .set(key, value)
            .map_err(|reason| LogError::InvalidConfig {
                key: key.clone(),
                value: value.clone(),
                reason,
            })?;
    }
    meta.config = Some(config.clone());
    write_meta(&dir, &meta)?;
    Ok(config)
}

/// The configs in force for a topic of the log in `data_dir`.
pub fn topic_config(data_dir: &Path, topic: &str) -> Result<TopicConfig, LogError> {
    validate_topic(topic)?;
    let dir = topics_dir(data_dir).join(topic);
    read_meta(&dir)?
        .map(|m| m.effective())
        .ok_or_else(|| LogError::UnknownTopic {
            topic: topic.to_string(),
            path: topics_dir(data_dir),
        })
}

/// Replaces `path` with `contents`: write a temporary file, fsync it, rename it over `path`,
/// fsync the directory. On error, returns what failed and on which path.
pub(crate) fn write_atomically(
    path: &Path,
    contents: &[u8],
) -> Result<(), (&'static str, PathBuf, io::Error)> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let write = || -> io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()
    };
    write().map_err(|e| ("write", tmp.clone(), e))?;
    fs::rename(&tmp, path).map_err(|e| ("replace", path.to_path_buf(), e))?;
    let dir = parent_dir(path);
    sync_dir_io(dir).map_err(|e| ("sync directory", dir.to_path_buf(), e))
}

/// Creates `path` and any missing parents, fsyncing each parent that gained an entry.
pub(crate) fn ensure_dir(path: &Path) -> Result<(), LogError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(LogError::io(
                "use as a directory",
                path,
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a directory",
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(LogError::io("inspect", path, e)),
    }
    let parent = parent_dir(path);
    if parent != path {
        ensure_dir(parent)?;
    }
    match fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(LogError::io("create directory", path, e)),
    }
    sync_dir(parent)
}

/// Fsyncs a directory so that entries created or renamed in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    sync_dir_io(dir).map_err(|e| LogError::io("sync directory", dir, e))
}

pub(crate) fn sync_dir_io(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The directory holding `path`; `.` for a bare file name.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_outside_the_kafka_alphabet_are_rejected() {
        for good in ["orders", "db.public.orders", "a_b-c.9", "..."] {
            assert!(validate_topic(good).is_ok(), "{good}");
        }
        let long = "x".repeat(250);
        for bad in ["", ".", "..", "a/b", "a b", "ä", "../etc", long.as_str()] {
            let err = validate_topic(bad).unwrap_err();
            assert!(matches!(err, LogError::InvalidTopic { ref topic } if topic == bad));
        }
    }

    #[test]
    fn segments_are_listed_by_base_offset_ignoring_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "00000000000000000100.log",
            "00000000000000000000.log",
            "00000000000000000100.log.tmp",
            "notes.txt",
            "42.log",
        ] {
            File::create(dir.path().join(name)).unwrap();
        }
        assert_eq!(list_segments(dir.path()).unwrap(), vec![0, 100]);
        assert_eq!(
            list_segments(&dir.path().join("missing")).unwrap(),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn options_are_read_from_the_connector_config() {
        let config = ConfigMap::from_pairs([("topic.creation.default.partitions", "6")]);
        let options = LogOptions::from_config(&config).unwrap();
        assert_eq!(options.default_partitions, 6);
        assert_eq!(options.segment_bytes, DEFAULT_SEGMENT_BYTES);
        assert_eq!(options.compression, Compression::Lz4);
        let zero = ConfigMap::from_pairs([("topic.creation.default.partitions", "0")]);
        assert!(LogOptions::from_config(&zero).is_err());
        for (key, value, codec) in [
            ("log.compression.type", "ZSTD", Compression::Zstd),
            ("log.compression.type", "uncompressed", Compression::None),
            ("log.compression.type", "none", Compression::None),
        ] {
            let config = ConfigMap::from_pairs([(key, value)]);
            assert_eq!(LogOptions::from_config(&config).unwrap().compression, codec);
        }
        let gzip = ConfigMap::from_pairs([("log.compression.type", "gzip")]);
        let error = LogOptions::from_config(&gzip).unwrap_err();
        assert_eq!(error.key(), Some("log.compression.type"));
    }
}
