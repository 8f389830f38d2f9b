//! Topic creation groups, as Kafka Connect defines them for source connectors.
//!
//! `topic.creation.default.*` gives the partitions, replication factor and topic configs
//! (`cleanup.policy`, `retention.ms`, ...) of every topic the connector creates.
//! `topic.creation.groups` names further groups; each group `<g>` picks topics with
//! `topic.creation.<g>.include` and `topic.creation.<g>.exclude` (comma-separated regular
//! expressions matching the whole topic name, case-sensitive) and may set its own
//! `partitions`, `replication.factor` and configs, the rest taken from the default group.
//! A topic gets the first group, in the order `topic.creation.groups` lists them, that
//! includes it and does not exclude it; else the default group.
//!
//! This module only reads the keys: which configs a stream understands, and what it does
//! with them, is the stream's business.

use crate::config::{ConfigError, ConfigMap};
use regex::Regex;
use std::collections::BTreeMap;

/// The prefix of every topic creation key.
pub const PREFIX: &str = "topic.creation.";

/// One group's settings.
#[derive(Clone, Debug)]
pub struct TopicGroup {
    /// The group's name (`default` for the default group).
    pub name: String,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    /// `partitions`, when the group (or the default group) sets it.
    pub partitions: Option<u64>,
    /// `replication.factor`, when set (`-1` is the broker's default).
    pub replication_factor: Option<i64>,
    /// Topic configs (every other key of the group), with the default group's beneath.
    pub configs: BTreeMap<String, String>,
}

impl PartialEq for TopicGroup {
    fn eq(&self, other: &Self) -> bool {
        let patterns = |list: &[Regex]| {
            list.iter()
                .map(|r| r.as_str().to_string())
                .collect::<Vec<_>>()
        };
        self.name == other.name
            && patterns(&self.include) == patterns(&other.include)
            && patterns(&self.exclude) == patterns(&other.exclude)
            && self.partitions == other.partitions
            && self.replication_factor == other.replication_factor
            && self.configs == other.configs
    }
}

impl Eq for TopicGroup {}

impl TopicGroup {
    /// The full config key of one of this group's settings, for messages.
    pub fn key(&self, setting: &str) -> String {
        format!("{PREFIX}{}.{setting}", self.name)
    }

    fn matches(&self, topic: &str) -> bool {
        self.include.iter().any(|r| r.is_match(topic))
            && !self.exclude.iter().any(|r| r.is_match(topic))
    }
}

/// The topic creation groups of a connector config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicCreation {
    /// `topic.creation.default.*`.
    pub default: TopicGroup,
    /// The groups of `topic.creation.groups`, in order.
    pub groups: Vec<TopicGroup>,
}

impl Default for TopicCreation {
    fn default() -> Self {
        TopicCreation {
            default: TopicGroup {
                name: "default".to_string(),
                include: Vec::new(),
                exclude: Vec::new(),
                partitions: None,
                replication_factor: None,
                configs: BTreeMap::new(),
            },
            groups: Vec::new(),
        }
    }
}

impl TopicCreation {
    /// Reads `topic.creation.groups` and every `topic.creation.<group>.*` key. A key of a
    /// group `topic.creation.groups` does not list, a group without `include`, a regular
    /// expression that does not compile or a partition count out of range is an error
    /// naming the key.
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConfigError> {
        let names = config.list(&["topic.creation.groups"]);
        for name in &names {
            if name == "default" || name.contains('.') {
                return Err(ConfigError::invalid(
                    "topic.creation.groups",
                    name,
                    "a group name may not be `default` or contain a dot",
                ));
            }
        }
        let mut creation = TopicCreation {
            default: read_group(config, "default", None)?,
            groups: Vec::new(),
        };
        for name in &names {
            let group = read_group(config, name, Some(&creation.default))?;
            if group.include.is_empty() {
                return Err(ConfigError::Missing {
                    key: group.key("include"),
                    hint: format!(
                        " (group {name} of topic.creation.groups needs the topics it applies to)"
                    ),
                });
            }
            creation.groups.push(group);
        }
        // Keys of groups that are not listed would silently do nothing.
        for key in config.entries().keys() {
            let Some(rest) = key.strip_prefix(PREFIX) else {
                continue;
            };
            let Some((group, _)) = rest.split_once('.') else {
                continue;
            };
            if group != "default" && !names.iter().any(|n| n == group) {
                return Err(ConfigError::invalid(
                    key,
                    config.entries().get(key).map_or("", String::as_str),
                    format!("group {group} is not listed in topic.creation.groups"),
                ));
            }
        }
        Ok(creation)
    }

    /// The group that applies to `topic`: the first listed group that includes it and does
    /// not exclude it, else the default group.
    pub fn group_for(&self, topic: &str) -> &TopicGroup {
        self.groups
            .iter()
            .find(|g| g.matches(topic))
            .unwrap_or(&self.default)
    }

    /// Every group, the default group first.
    pub fn all(&self) -> impl Iterator<Item = &TopicGroup> {
        std::iter::once(&self.default).chain(&self.groups)
    }
}

fn read_group(
    config: &ConfigMap,
    name: &str,
    default: Option<&TopicGroup>,
) -> Result<TopicGroup, ConfigError> {
    let prefix = format!("{PREFIX}{name}.");
    let mut group = TopicGroup {
        name: name.to_string(),
        include: Vec::new(),
        exclude: Vec::new(),
        partitions: default.and_then(|d| d.partitions),
        replication_factor: default.and_then(|d| d.replication_factor),
        configs: default.map(|d| d.configs.clone()).unwrap_or_default(),
    };
    let keys: Vec<(String, String)> = config
        .entries()
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    config.accept_prefix(&prefix);
    for (key, value) in keys {
        let setting = &key[prefix.len()..];
        match setting {
            "include" | "exclude" if default.is_none() => {
                return Err(ConfigError::invalid(
                    &key,
                    &value,
                    "the default group applies to every topic no other group takes",
                ));
            }
            "include" | "exclude" => {
                let list = regexes(&key, &value)?;
                if setting == "include" {
                    group.include = list;
                } else {
                    group.exclude = list;
                }
            }
            "partitions" => {
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| {
                        ConfigError::invalid(&key, &value, "a partition count from 1 to 100000")
                    })?;
                group.partitions = Some(n);
            }
            "replication.factor" => {
                let n = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n == -1 || (1..=i64::from(i16::MAX)).contains(n))
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            &key,
                            &value,
                            "-1 (the broker's default) or at least 1",
                        )
                    })?;
                group.replication_factor = Some(n);
            }
            _ => {
                group.configs.insert(setting.to_string(), value);
            }
        }
    }
    Ok(group)
}

fn regexes(key: &str, value: &str) -> Result<Vec<Regex>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                ConfigError::invalid(key, p, format!("not a valid regular expression: {e}"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_group_wins_and_inherits_the_default() {
        let config = ConfigMap::from_pairs([
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.retention.ms", "1000"),
            ("topic.creation.default.cleanup.policy", "delete"),
            ("topic.creation.groups", "compacted, orders"),
            (
                "topic.creation.compacted.include",
                "srv\\.public\\..*, other",
            ),
            ("topic.creation.compacted.exclude", "srv\\.public\\.orders"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
            ("topic.creation.orders.include", "srv\\.public\\.orders"),
            ("topic.creation.orders.partitions", "6"),
        ]);
        let creation = TopicCreation::from_config(&config).unwrap();
        let g = creation.group_for("srv.public.items");
        assert_eq!(g.name, "compacted");
        assert_eq!(g.partitions, Some(3));
        assert_eq!(g.configs["cleanup.policy"], "compact");
        assert_eq!(g.configs["retention.ms"], "1000");
        let g = creation.group_for("srv.public.orders");
        assert_eq!((g.name.as_str(), g.partitions), ("orders", Some(6)));
        assert_eq!(g.configs["cleanup.policy"], "delete");
        // Whole names only, case-sensitive.
        assert_eq!(creation.group_for("xsrv.public.items").name, "default");
        assert_eq!(creation.group_for("SRV.public.items").name, "default");
        assert_eq!(creation.group_for("other").name, "compacted");
        assert!(
            config.unused_keys().is_empty(),
            "{:?}",
            config.unused_keys()
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        for (pairs, key) in [
            (
                vec![("topic.creation.groups", "a")],
                "topic.creation.a.include",
            ),
            (
                vec![
                    ("topic.creation.groups", "a"),
                    ("topic.creation.a.include", "("),
                ],
                "topic.creation.a.include",
            ),
            (
                vec![("topic.creation.b.include", "x")],
                "topic.creation.b.include",
            ),
            (
                vec![("topic.creation.default.partitions", "0")],
                "topic.creation.default.partitions",
            ),
            (
                vec![("topic.creation.default.include", "x")],
                "topic.creation.default.include",
            ),
            (
                vec![("topic.creation.groups", "default")],
                "topic.creation.groups",
            ),
        ] {
            let config = ConfigMap::from_pairs(pairs);
            let e = TopicCreation::from_config(&config).unwrap_err();
            assert_eq!(e.key(), Some(key), "{e}");
        }
    }
}
