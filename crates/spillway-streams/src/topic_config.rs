//! Per-topic configs, with Kafka's names and meanings, and how topics get them.
//!
//! | key | values | default (data topics) |
//! | --- | --- | --- |
//! | `cleanup.policy` | `delete`, `compact`, `compact,delete` | `delete` |
//! | `retention.ms` | `-1` (forever) or milliseconds | 7 days |
//! | `retention.bytes` | `-1` (no limit) or bytes per partition | `-1` |
//! | `segment.bytes` | 1024 to 4294967295 | the writer's `log.segment.bytes` |
//! | `segment.ms` | at least 1 | 7 days |
//! | `delete.retention.ms` | milliseconds | 1 day |
//! | `min.compaction.lag.ms` | milliseconds | 0 |
//! | `compression.type` | `producer`, `none`/`uncompressed`, `lz4`, `zstd` | `producer` |
//!
//! A topic's configs are stored in its `topic.json`; a topic created before topic configs
//! existed (its `topic.json` has no `config`) keeps everything: nothing is deleted until
//! its configs are set (`spillway topics --alter`). Topics holding state rather than data
//! (the heartbeat topic) are created compacted and kept forever ([`TopicConfig::state`]).

use crate::batch::Compression;
use crate::config::MAX_PARTITIONS;
use spillway_core::topic_creation::TopicCreation;
use spillway_core::{ConfigError, ConfigMap};
use std::collections::{BTreeMap, BTreeSet};

/// Kafka's default `retention.ms`: 7 days.
pub const DEFAULT_RETENTION_MS: u64 = 7 * 24 * 3600 * 1000;

/// Kafka's default `segment.ms`: 7 days.
pub const DEFAULT_SEGMENT_MS: u64 = 7 * 24 * 3600 * 1000;

/// Kafka's default `delete.retention.ms`: 1 day.
pub const DEFAULT_DELETE_RETENTION_MS: u64 = 24 * 3600 * 1000;

/// The topic configs the embedded log understands.
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "delete.retention.ms",
    "min.compaction.lag.ms",
    "compression.type",
];

/// Largest millisecond value accepted (as in Kafka, a Java long).
const MAX_MS: u64 = i64::MAX as u64;

/// What happens to a topic's old records (`cleanup.policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Closed segments past `retention.ms` or `retention.bytes` are deleted.
    Delete,
    /// Closed segments keep the last record of each key.
    Compact,
    /// Both.
    CompactDelete,
}

impl CleanupPolicy {
    /// Whether segments past retention are deleted.
    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }

    /// Whether closed segments are compacted.
    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }

    /// The config value.
    pub fn name(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }
}

/// A topic's configs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicConfig {
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `retention.ms`; `None` keeps records forever (`-1`).
    pub retention_ms: Option<u64>,
    /// `retention.bytes`; `None` sets no limit (`-1`).
    pub retention_bytes: Option<u64>,
    /// `segment.bytes`; `None` uses the writer's `log.segment.bytes`.
    pub segment_bytes: Option<u64>,
    /// `segment.ms`: the active segment is rolled on the next append once this old.
    pub segment_ms: u64,
    /// `delete.retention.ms`: how long compaction keeps a tombstone.
    pub delete_retention_ms: u64,
    /// `min.compaction.lag.ms`: a segment newer than this is not compacted yet.
    pub min_compaction_lag_ms: u64,
    /// `compression.type`; `None` is `producer`: the writer's `log.compression.type`.
    pub compression: Option<Compression>,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            cleanup_policy: CleanupPolicy::Delete,
            retention_ms: Some(DEFAULT_RETENTION_MS),
            retention_bytes: None,
            segment_bytes: None,
            segment_ms: DEFAULT_SEGMENT_MS,
            delete_retention_ms: DEFAULT_DELETE_RETENTION_MS,
            min_compaction_lag_ms: 0,
            compression: None,
        }
    }
}

impl Default for TopicRules {
    fn default() -> Self {
        TopicRules {
            base: TopicConfig::legacy(),
            creation: TopicCreation::default(),
            state_topics: BTreeSet::new(),
        }
    }
}

impl TopicConfig {
    /// The defaults of a topic holding state (the heartbeat topic): compacted, kept forever.
    pub fn state() -> Self {
        TopicConfig {
            cleanup_policy: CleanupPolicy::Compact,
            retention_ms: None,
            ..TopicConfig::default()
        }
    }

    /// The configs of a topic created before topic configs existed: nothing is deleted.
    pub fn legacy() -> Self {
        TopicConfig {
            retention_ms: None,
            ..TopicConfig::default()
        }
    }

    /// Sets one config from its text; an unknown key or a bad value is an error saying why
    /// (the caller names the key).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        let ms = |min: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|v| (min..=MAX_MS).contains(v))
                .ok_or_else(|| format!("milliseconds from {min} to {MAX_MS}"))
        };
        let unlimited = |what: &str| -> Result<Option<u64>, String> {
            if value == "-1" {
                return Ok(None);
            }
            value
                .parse::<u64>()
                .ok()
                .filter(|v| *v <= MAX_MS)
                .map(Some)
                .ok_or_else(|| format!("-1 ({what}) or a number from 0 to {MAX_MS}"))
        };
        match key {
            "cleanup.policy" => {
                let mut parts: Vec<String> = value
                    .split(',')
                    .map(|p| p.trim().to_ascii_lowercase())
                    .collect();
                parts.sort();
                parts.dedup();
                self.cleanup_policy = match parts
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    ["delete"] => CleanupPolicy::Delete,
                    ["compact"] => CleanupPolicy::Compact,
                    ["compact", "delete"] => CleanupPolicy::CompactDelete,
                    _ => return Err("delete, compact or compact,delete".to_string()),
                };
            }
            "retention.ms" => self.retention_ms = unlimited("forever")?,
            "retention.bytes" => self.retention_bytes = unlimited("no limit")?,
            "segment.bytes" => {
                self.segment_bytes = Some(
                    value
                        .parse::<u64>()
                        .ok()
                        .filter(|v| (1024..=u64::from(u32::MAX)).contains(v))
                        .ok_or_else(|| format!("bytes from 1024 to {}", u32::MAX))?,
                );
            }
            "segment.ms" => self.segment_ms = ms(1)?,
            "delete.retention.ms" => self.delete_retention_ms = ms(0)?,
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = ms(0)?,
            "compression.type" => {
                self.compression = match value.to_ascii_lowercase().as_str() {
                    "producer" => None,
                    "lz4" => Some(Compression::Lz4),
                    "zstd" => Some(Compression::Zstd),
                    "none" | "uncompressed" => Some(Compression::None),
                    _ => {
                        return Err(
                            "producer, lz4, zstd or none (gzip and snappy are not available in the embedded log)"
                                .to_string(),
                        )
                    }
                };
            }
            _ => {
                return Err(format!(
                    "not a topic config of the embedded log; known: {}",
                    TOPIC_CONFIG_KEYS.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// Every config with its value as text, in [`TOPIC_CONFIG_KEYS`] order; `segment.bytes`
    /// only when set.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let unlimited = |v: Option<u64>| v.map_or("-1".to_string(), |v| v.to_string());
        let mut out = vec![
            ("cleanup.policy", self.cleanup_policy.name().to_string()),
            ("retention.ms", unlimited(self.retention_ms)),
            ("retention.bytes", unlimited(self.retention_bytes)),
        ];
        if let Some(bytes) = self.segment_bytes {
            out.push(("segment.bytes", bytes.to_string()));
        }
        out.extend([
            ("segment.ms", self.segment_ms.to_string()),
            ("delete.retention.ms", self.delete_retention_ms.to_string()),
            (
                "min.compaction.lag.ms",
                self.min_compaction_lag_ms.to_string(),
            ),
            (
                "compression.type",
                self.compression
                    .map_or("producer", Compression::name)
                    .to_string(),
            ),
        ]);
        out
    }

    /// The configs as `topic.json` stores them.
    pub(crate) fn to_map(&self) -> BTreeMap<String, String> {
        self.entries()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// How a batch of this topic is compressed, given the writer's codec.
    pub(crate) fn codec(&self, producer: Compression) -> Compression {
        self.compression.unwrap_or(producer)
    }
}

/// How a writer creates topics: `topic.creation.*` of a connector config, and which
/// topics hold state. The default (no connector config) creates topics that keep every
/// record ([`TopicConfig::legacy`]); [`TopicRules::from_config`] starts data topics from
/// Kafka's defaults (`delete`, 7 days).
#[derive(Clone, Debug)]
pub struct TopicRules {
    /// The configs of a data topic before its group's.
    base: TopicConfig,
    creation: TopicCreation,
    /// Topics created with [`TopicConfig::state`] beneath their group's configs.
    state_topics: BTreeSet<String>,
}

impl TopicRules {
    /// Reads `topic.creation.groups` and `topic.creation.<group>.*` (`default` included),
    /// checking every topic config the embedded log understands; a bad value is an error
    /// naming the key. Settings with no meaning for the embedded log (Kafka's
    /// `replication.factor`, `min.insync.replicas`, ...) are warned about.
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConfigError> {
        let creation = TopicCreation::from_config(config)?;
        for group in creation.all() {
            let mut check = TopicConfig::default();
            for (setting, value) in &group.configs {
                if !TOPIC_CONFIG_KEYS.contains(&setting.as_str()) {
                    tracing::warn!(
                        key = %group.key(setting),
                        "not a topic config of the embedded log: ignored here (it applies to Kafka topics)"
                    );
                    continue;
                }
                check
                    .set(setting, value)
                    .map_err(|reason| ConfigError::invalid(&group.key(setting), value, reason))?;
            }
            if let Some(p) = group.partitions.filter(|p| *p > u64::from(MAX_PARTITIONS)) {
                return Err(ConfigError::invalid(
                    &group.key("partitions"),
                    &p.to_string(),
                    format!("the embedded log allows at most {MAX_PARTITIONS} partitions"),
                ));
            }
        }
        Ok(TopicRules {
            base: TopicConfig::default(),
            creation,
            state_topics: BTreeSet::new(),
        })
    }

    /// Marks topics as holding state: they are created compacted and kept forever unless
    /// their group says otherwise.
    pub fn with_state_topics(mut self, topics: impl IntoIterator<Item = String>) -> Self {
        self.state_topics.extend(topics);
        self
    }

    /// The partitions (`default_partitions` unless the topic's group sets them) and configs
    /// of a topic about to be created.
    pub fn resolve(&self, topic: &str, default_partitions: u32) -> (u32, TopicConfig) {
        let group = self.creation.group_for(topic);
        let mut config = if self.state_topics.contains(topic) {
            TopicConfig::state()
        } else {
            self.base.clone()
        };
        for (setting, value) in &group.configs {
            // Checked when read; keys of other streams are skipped.
            let _ = config.set(setting, value);
        }
        let partitions = group.partitions.map_or(default_partitions, |p| {
            p.min(u64::from(MAX_PARTITIONS)) as u32
        });
        (partitions, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_with_kafka_names_and_refused_when_wrong() {
        let mut c = TopicConfig::default();
        for (k, v) in [
            ("cleanup.policy", "delete, compact"),
            ("retention.ms", "-1"),
            ("retention.bytes", "1048576"),
            ("segment.bytes", "4096"),
            ("segment.ms", "60000"),
            ("delete.retention.ms", "0"),
            ("min.compaction.lag.ms", "10"),
            ("compression.type", "ZSTD"),
        ] {
            c.set(k, v).unwrap();
        }
        assert_eq!(c.cleanup_policy, CleanupPolicy::CompactDelete);
        assert_eq!(c.retention_ms, None);
        assert_eq!(c.retention_bytes, Some(1 << 20));
        assert_eq!(c.compression, Some(Compression::Zstd));
        let mut again = TopicConfig::default();
        for (k, v) in c.entries() {
            again.set(k, &v).unwrap();
        }
        assert_eq!(again, c);
        for (k, v) in [
            ("cleanup.policy", "forever"),
            ("retention.ms", "-2"),
            ("retention.bytes", "x"),
            ("segment.bytes", "10"),
            ("segment.ms", "0"),
            ("compression.type", "gzip"),
            ("max.message.bytes", "1"),
        ] {
            assert!(c.set(k, v).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn creation_groups_pick_a_topic_s_configs() {
        let config = ConfigMap::from_pairs([
            ("topic.creation.default.partitions", "2"),
            ("topic.creation.default.retention.ms", "1000"),
            ("topic.creation.groups", "kv"),
            ("topic.creation.kv.include", "srv\\.kv\\..*"),
            ("topic.creation.kv.cleanup.policy", "compact"),
            ("topic.creation.kv.partitions", "1"),
        ]);
        let rules = TopicRules::from_config(&config)
            .unwrap()
            .with_state_topics(["__debezium-heartbeat.srv".to_string()]);
        let (p, c) = rules.resolve("srv.kv.items", 4);
        assert_eq!(
            (p, c.cleanup_policy, c.retention_ms),
            (1, CleanupPolicy::Compact, Some(1000))
        );
        let (p, c) = rules.resolve("srv.public.items", 4);
        assert_eq!(
            (p, c.cleanup_policy, c.retention_ms),
            (2, CleanupPolicy::Delete, Some(1000))
        );
        let (_, c) = rules.resolve("__debezium-heartbeat.srv", 4);
        assert_eq!(c.cleanup_policy, CleanupPolicy::Compact);
        let bad = ConfigMap::from_pairs([("topic.creation.default.cleanup.policy", "keep")]);
        let e = TopicRules::from_config(&bad).unwrap_err();
        assert_eq!(e.key(), Some("topic.creation.default.cleanup.policy"));
    }
}
