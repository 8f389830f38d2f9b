//! Connector configuration: the flat string map Debezium and Kafka Connect take.
//!
//! [`ConfigMap`] reads a connector's JSON, bare (`{"connector.class": ..}`) or wrapped the
//! Kafka Connect way (`{"name": .., "config": {..}}`), and offers typed getters that accept
//! the known aliases of a key and name the key in every error. Keys no getter asked for are
//! reported by [`ConfigMap::unused_keys`] so the caller can warn about them.

use crate::filter::{anchored, NameFilter};
use crate::secret::printable;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A configuration mistake, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("connector config is not valid JSON: {0}")]
    Syntax(String),
    #[error("missing required key `{}`{hint}", printable(key))]
    Missing { key: String, hint: String },
    #[error("invalid value {value:?} for `{}`: {reason}", printable(key))]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    /// An invalid value error; secrets must be masked by the caller.
    pub fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// The key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Syntax(_) => None,
            ConfigError::Missing { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

pub use crate::secret::{is_secret_key, Secret};

/// Largest config or certificate file read: a path that names a device or an endless pipe
/// is refused instead of read forever.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a file a config names (a connector config, a certificate, a key), at most
/// [`MAX_FILE_BYTES`] of it: a larger one, or an endless one such as `/dev/zero`, is an
/// error saying so.
pub fn read_file_capped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut data = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it holds more than {} MiB, more than a config or certificate file can",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    Ok(data)
}

/// Longest duration a `*.ms` setting takes: 2^31 - 1 ms (about 24.8 days), as Kafka's
/// `int` settings and PostgreSQL's timeouts.
pub const MAX_MILLIS: u64 = i32::MAX as u64;

/// A connector's configuration map.
#[derive(Debug, Clone)]
pub struct ConfigMap {
    name: Option<String>,
    entries: BTreeMap<String, String>,
    used: RefCell<BTreeSet<String>>,
    /// Keys whose values were config-provider references, with the reference as written:
    /// what errors show instead of the resolved value.
    references: BTreeMap<String, String>,
}

impl ConfigMap {
    /// Parses a connector config from JSON text.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Builds a config from a JSON object, bare or wrapped in `{"name", "config"}`.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let object = value.as_object().ok_or_else(|| {
            ConfigError::Syntax("expected a JSON object of config keys".to_string())
        })?;
        let (name, map) = match object.get("config") {
            Some(serde_json::Value::Object(inner)) => {
                let name = match object.get("name") {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(other) => {
                        return Err(ConfigError::invalid(
                            "name",
                            &other.to_string(),
                            "must be a string",
                        ))
                    }
                    None => None,
                };
                (name, inner)
            }
            Some(other) => {
                return Err(ConfigError::invalid(
                    "config",
                    &other.to_string(),
                    "must be an object of config keys",
                ))
            }
            None => (None, object),
        };
        let mut entries = BTreeMap::new();
        for (key, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => continue,
                other => {
                    return Err(ConfigError::invalid(
                        key,
                        &other.to_string(),
                        "must be a string, number or boolean",
                    ))
                }
            };
            entries.insert(key.clone(), text);
        }
        let name = name.or_else(|| entries.get("name").cloned());
        let config = ConfigMap {
            name,
            entries,
            used: RefCell::new(BTreeSet::new()),
            references: BTreeMap::new(),
        };
        config.mark_used("name");
        Ok(config)
    }

    /// Builds a config from key/value pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        ConfigMap {
            name: None,
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            used: RefCell::new(BTreeSet::new()),
            references: BTreeMap::new(),
        }
    }

    /// Resolves every `${provider:[path:]key}` reference with the providers this map
    /// declares (`config.providers*`, when `own_allowed`) over `inherited` (a worker's).
    /// A reference that cannot be resolved is an error naming its key; errors made later
    /// through [`ConfigMap::shown_error`] show references, never what they resolved to.
    pub fn resolve_providers(
        &mut self,
        inherited: &crate::providers::Providers,
        own_allowed: bool,
    ) -> Result<(), ConfigError> {
        let own = crate::providers::Providers::from_entries(&self.entries)?;
        self.accept_prefix(crate::providers::PROVIDERS_KEY);
        if !own.is_empty() && !own_allowed {
            return Err(ConfigError::invalid(
                crate::providers::PROVIDERS_KEY,
                self.entries
                    .get(crate::providers::PROVIDERS_KEY)
                    .map_or("", String::as_str),
                "config providers are declared once for the worker (spillway worker --worker-config FILE), not by a connector created over its API",
            ));
        }
        let providers = inherited.merged(&own);
        let mut resolved = Vec::new();
        for (key, value) in &self.entries {
            if key.starts_with(crate::providers::PROVIDERS_KEY) {
                continue;
            }
            if let Some(v) = providers.resolve(key, value)? {
                resolved.push((key.clone(), v));
            }
        }
        for (key, value) in resolved {
            let reference =
                std::mem::replace(self.entries.get_mut(&key).expect("a key just read"), value);
            if key == "name" {
                self.name = self.entries.get("name").cloned();
            }
            self.references.insert(key, reference);
        }
        Ok(())
    }

    /// `error` as it may be shown: the value of a key that came from a config provider
    /// is the reference, not the secret it resolved to.
    pub fn shown_error(&self, error: ConfigError) -> ConfigError {
        match error {
            ConfigError::Invalid { key, reason, .. } if self.references.contains_key(&key) => {
                let value = self.references[&key].clone();
                ConfigError::Invalid { key, value, reason }
            }
            other => other,
        }
    }

    /// The connector's name, from the wrapper or the `name` key.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// All entries, secrets included: for handing to client libraries only.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    fn mark_used(&self, key: &str) {
        self.used.borrow_mut().insert(key.to_string());
    }

    /// Marks every key starting with `prefix` as known.
    pub fn accept_prefix(&self, prefix: &str) {
        let keys: Vec<String> = self
            .entries
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        for key in keys {
            self.mark_used(&key);
        }
    }

    /// Marks keys as known without reading them (accepted for compatibility).
    pub fn accept(&self, keys: &[&str]) {
        for key in keys {
            self.mark_used(key);
        }
    }

    /// The first key among `keys` (a key and its aliases) that is set, with its value.
    pub fn lookup(&self, keys: &[&str]) -> Option<(&str, &str)> {
        for key in keys {
            self.mark_used(key);
        }
        keys.iter().find_map(|key| {
            self.entries
                .get_key_value(*key)
                .map(|(k, v)| (k.as_str(), v.as_str()))
        })
    }

    /// A string value, trimmed; empty strings count as unset.
    pub fn string(&self, keys: &[&str]) -> Option<String> {
        self.lookup(keys)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A required string value.
    pub fn required(&self, keys: &[&str]) -> Result<String, ConfigError> {
        self.string(keys).ok_or_else(|| missing(keys))
    }

    /// A secret value.
    pub fn secret(&self, keys: &[&str]) -> Option<Secret> {
        self.lookup(keys).map(|(_, v)| Secret::new(v))
    }

    /// A boolean (`true`/`false`, any case).
    pub fn bool(&self, keys: &[&str], default: bool) -> Result<bool, ConfigError> {
        match self.lookup(keys) {
            None => Ok(default),
            Some((key, value)) => match value.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ConfigError::invalid(key, value, "expected true or false")),
            },
        }
    }

    /// An unsigned integer within `[min, max]`.
    pub fn u64_in(
        &self,
        keys: &[&str],
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        match self.lookup(keys) {
            None => Ok(default),
            Some((key, value)) => {
                let parsed: u64 = value.trim().parse().map_err(|_| {
                    ConfigError::invalid(key, value, "expected a non-negative integer")
                })?;
                if parsed < min || parsed > max {
                    return Err(ConfigError::invalid(
                        key,
                        value,
                        format!("must be between {min} and {max}"),
                    ));
                }
                Ok(parsed)
            }
        }
    }

    /// A duration given in milliseconds: from 1 ms to [`MAX_MILLIS`] (a zero interval
    /// would spin or stop a timer).
    pub fn millis(&self, keys: &[&str], default: Duration) -> Result<Duration, ConfigError> {
        self.millis_in(keys, default, 1, MAX_MILLIS)
    }

    /// A duration given in milliseconds within `[min, max]`.
    pub fn millis_in(
        &self,
        keys: &[&str],
        default: Duration,
        min: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        let ms = self.u64_in(keys, default.as_millis() as u64, min, max)?;
        Ok(Duration::from_millis(ms))
    }

    /// One of a fixed set of values (case-insensitive), each mapped to `T`.
    pub fn choice<T: Clone>(
        &self,
        keys: &[&str],
        allowed: &[(&str, T)],
        default: T,
    ) -> Result<T, ConfigError> {
        match self.lookup(keys) {
            None => Ok(default),
            Some((key, value)) => {
                let wanted = value.trim();
                allowed
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                        ConfigError::invalid(
                            key,
                            value,
                            format!("expected one of {}", names.join(", ")),
                        )
                    })
            }
        }
    }

    /// A comma-separated list, entries trimmed, empty entries dropped.
    pub fn list(&self, keys: &[&str]) -> Vec<String> {
        self.lookup(keys)
            .map(|(_, v)| split_list(v))
            .unwrap_or_default()
    }

    /// An include/exclude pair of regex lists (Debezium's `*.include.list`/`*.exclude.list`).
    pub fn filter(&self, include: &[&str], exclude: &[&str]) -> Result<NameFilter, ConfigError> {
        let inc = self.regex_list(include)?;
        let exc = self.regex_list(exclude)?;
        if !inc.is_empty() && !exc.is_empty() {
            return Err(ConfigError::invalid(
                include[0],
                &self.string(include).unwrap_or_default(),
                format!("cannot be used together with `{}`", exclude[0]),
            ));
        }
        Ok(NameFilter::new(inc, exc))
    }

    fn regex_list(&self, keys: &[&str]) -> Result<Vec<regex::Regex>, ConfigError> {
        let Some((key, value)) = self.lookup(keys) else {
            return Ok(Vec::new());
        };
        split_list(value)
            .iter()
            .map(|p| {
                anchored(p).map_err(|e| {
                    ConfigError::invalid(key, p, format!("not a valid regular expression: {e}"))
                })
            })
            .collect()
    }

    /// The keys among `keys` that are set, with their values, in the given order (for
    /// messages that name the settings involved).
    pub fn given(&self, keys: &[&str]) -> Vec<(String, String)> {
        keys.iter()
            .filter_map(|k| {
                self.lookup(&[k])
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect()
    }

    /// Fails when a feature that is not available is switched on, naming the key.
    pub fn refuse_true(&self, key: &str, reason: &str) -> Result<(), ConfigError> {
        if self.bool(&[key], false)? {
            return Err(ConfigError::invalid(key, "true", reason));
        }
        Ok(())
    }

    /// Refuses the first key no getter asked for that would change what is written or how
    /// a connector behaves if it were honoured (transforms, predicates, converters' output
    /// options, error tolerance, config-provider references, ...): taking it as an unknown
    /// key would silently produce other records than the user configured. Call it after
    /// every getter; the keys left over change nothing and only deserve a warning.
    pub fn refuse_unread(&self) -> Result<(), ConfigError> {
        for key in self.unused_keys() {
            let value = self.entries.get(&key).map(String::as_str).unwrap_or("");
            if let Some(reason) = unread_refusal(&key, value) {
                return Err(ConfigError::invalid(&key, value, reason));
            }
        }
        // A `${provider:path:key}` reference left unresolved would be taken literally (as a
        // password, a host).
        for (key, value) in &self.entries {
            if !self.references.contains_key(key) && crate::providers::has_reference(value) {
                return Err(ConfigError::invalid(
                    key,
                    value,
                    "a config provider reference that was not resolved; declare the provider (config.providers) or give the value itself",
                ));
            }
        }
        Ok(())
    }

    /// Keys present in the map that no getter asked for.
    pub fn unused_keys(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.entries
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect()
    }
}

/// Why an unread key must be refused rather than warned about, if it must.
fn unread_refusal(key: &str, value: &str) -> Option<String> {
    let k = key.to_ascii_lowercase();
    let v = value.trim().to_ascii_lowercase();
    let not_yet = |what: &str| {
        Some(format!("{what} are not available yet; without them the records would differ from what is configured"))
    };
    if k == "transforms" || k.starts_with("transforms.") {
        return not_yet("transforms (single message transforms)");
    }
    if k == "predicates" || k.starts_with("predicates.") {
        return not_yet("predicates");
    }
    if k == "header.converter" && !v.ends_with("simpleheaderconverter") {
        return Some(
            "only Kafka's SimpleHeaderConverter (the default) writes headers here".to_string(),
        );
    }
    if k.ends_with("converter.decimal.format") && v != "base64" {
        return Some("the JSON converter writes decimals as BASE64 here; set decimal.handling.mode=string or double for readable decimals".to_string());
    }
    if k.ends_with("converter.replace.null.with.default") && v != "true" {
        return not_yet("converter options that change values");
    }
    if k == "errors.tolerance" && v != "none" {
        return Some("a record that fails stops the connector here (errors.tolerance=none); skipping records is not available".to_string());
    }
    if k.starts_with("errors.deadletterqueue.") {
        return not_yet("dead letter queues");
    }
    if k.starts_with("producer.override.") {
        return Some(format!(
            "give producer settings as kafka.{}",
            &key["producer.override.".len()..]
        ));
    }
    if k == "exactly.once.support" && v == "required" {
        return Some("exactly-once delivery is not available with these streams yet".to_string());
    }
    if k == "transaction.boundary" && v != "poll" {
        return not_yet("transaction boundaries other than poll");
    }
    None
}

/// Settings as a message names them: `a="1" and b="2"`.
pub fn describe_settings(settings: &[(String, String)]) -> String {
    settings
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn missing(keys: &[&str]) -> ConfigError {
    let hint = if keys.len() > 1 {
        format!(" (or its alias `{}`)", keys[1..].join("`, `"))
    } else {
        String::new()
    };
    ConfigError::Missing {
        key: keys[0].to_string(),
        hint,
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_and_bare_configs_read_the_same() {
        let bare = ConfigMap::from_json(r#"{"name":"a","topic.prefix":"p","x":1}"#).unwrap();
        let wrapped =
            ConfigMap::from_json(r#"{"name":"a","config":{"topic.prefix":"p","x":1}}"#).unwrap();
        for c in [&bare, &wrapped] {
            assert_eq!(c.name(), Some("a"));
            assert_eq!(c.string(&["topic.prefix"]).as_deref(), Some("p"));
            assert_eq!(c.string(&["x"]).as_deref(), Some("1"));
        }
    }

    #[test]
    fn aliases_are_tried_in_order() {
        let c = ConfigMap::from_pairs([("database.server.name", "srv")]);
        assert_eq!(
            c.required(&["topic.prefix", "database.server.name"])
                .unwrap(),
            "srv"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let c = ConfigMap::from_pairs([("tombstones.on.delete", "maybe")]);
        let err = c.bool(&["tombstones.on.delete"], true).unwrap_err();
        assert_eq!(err.key(), Some("tombstones.on.delete"));
        assert!(err.to_string().contains("tombstones.on.delete"));
        let err = c
            .required(&["topic.prefix", "database.server.name"])
            .unwrap_err();
        assert!(err.to_string().contains("`topic.prefix`"), "{err}");
    }

    #[test]
    fn unread_keys_are_reported() {
        let c = ConfigMap::from_pairs([("a", "1"), ("b", "2")]);
        let _ = c.string(&["a"]);
        assert_eq!(c.unused_keys(), vec!["b".to_string()]);
    }

    #[test]
    fn durations_are_range_checked() {
        let c = ConfigMap::from_pairs([("a.ms", "0"), ("b.ms", "99999999999"), ("c.ms", "-1")]);
        for key in ["a.ms", "b.ms", "c.ms"] {
            let e = c.millis(&[key], Duration::from_secs(1)).unwrap_err();
            assert_eq!(e.key(), Some(key), "{e}");
        }
        assert_eq!(
            c.millis_in(&["a.ms"], Duration::from_secs(1), 0, 10)
                .unwrap(),
            Duration::ZERO
        );
    }

    #[test]
    fn keys_print_without_control_characters() {
        let c = ConfigMap::from_pairs([("bad\nkey", "x\ny")]);
        let e = c.bool(&["bad\nkey"], true).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn keys_that_would_change_the_records_are_refused_not_ignored() {
        for (key, value) in [
            ("transforms", "unwrap"),
            (
                "transforms.unwrap.type",
                "io.debezium.transforms.ExtractNewRecordState",
            ),
            ("predicates", "p"),
            ("header.converter", "org.example.Other"),
            ("value.converter.decimal.format", "NUMERIC"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
            ("producer.override.compression.type", "zstd"),
            ("exactly.once.support", "required"),
            (
                "database.password",
                "${file:/etc/secrets.properties:password}",
            ),
            ("database.hostname", "${env:DB_HOST}"),
        ] {
            let c = ConfigMap::from_pairs([(key, value)]);
            let e = c.refuse_unread().unwrap_err();
            assert_eq!(e.key(), Some(key), "{e}");
        }
        for (key, value) in [
            (
                "header.converter",
                "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            ),
            ("errors.tolerance", "none"),
            ("errors.log.enable", "true"),
            ("some.unknown.key", "x"),
            ("database.password", "pa${ss"),
        ] {
            let c = ConfigMap::from_pairs([(key, value)]);
            assert!(c.refuse_unread().is_ok(), "{key}={value}");
        }
    }

    #[test]
    fn files_are_read_with_a_cap() {
        let e = read_file_capped(std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("MiB"), "{e}");
    }
}
