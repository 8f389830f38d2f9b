//! Debezium's options every source connector shares, parsed once into typed values, and
//! the helpers every source needs to produce Debezium's values.
//!
//! A source describes what differs in a [`Dialect`] (which key lists its containers, which
//! snapshot and time-precision modes it allows and what it defaults to) and reads only its own
//! keys besides [`SourceOptions`].

use crate::config::{ConfigError, ConfigMap};
use crate::convert::twos_complement;
use crate::event::Op;
use crate::filter::NameFilter;
use crate::pipeline::PipelineOptions;
use crate::source::Heartbeat;
use crate::value::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// `snapshot.mode`; a [`Dialect`] says which names a connector accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when there is no committed offset, then stream.
    Initial,
    /// Snapshot when there is no committed offset, then stop.
    InitialOnly,
    /// Never read table contents; stream from the log.
    NoData,
    /// Snapshot on every start, then stream.
    Always,
    /// Snapshot when there is no offset or the log position it refers to is gone.
    WhenNeeded,
    /// Rebuild the schema history only (no rows), then stream (binlog connectors).
    Recovery,
}

impl SnapshotMode {
    /// Whether a start reads the tables: `has_offset`, a committed streaming offset is
    /// there; `position_available`, the server still has the log at its position.
    pub fn takes_snapshot(self, has_offset: bool, position_available: bool) -> bool {
        match self {
            SnapshotMode::Initial | SnapshotMode::InitialOnly => !has_offset,
            SnapshotMode::Always => true,
            SnapshotMode::NoData | SnapshotMode::Recovery => false,
            SnapshotMode::WhenNeeded => !has_offset || !position_available,
        }
    }
}

/// `decimal.handling.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalMode {
    /// Connect's `Decimal` (unscaled two's complement bytes and a scale).
    Precise,
    Double,
    String,
}

/// `time.precision.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimePrecisionMode {
    /// Each column's own precision: milli-, micro- or nanoseconds.
    Adaptive,
    /// As `Adaptive`, but every `time` in microseconds.
    AdaptiveTimeMicroseconds,
    /// Kafka Connect's logical types (milliseconds).
    Connect,
}

/// `binary.handling.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryMode {
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

impl BinaryMode {
    /// The text of `bytes` under this mode; `None` for `bytes`, which stays binary.
    pub fn text(self, bytes: &[u8]) -> Option<String> {
        use base64::Engine as _;
        match self {
            BinaryMode::Bytes => None,
            BinaryMode::Hex => Some(hex(bytes)),
            BinaryMode::Base64 => Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            BinaryMode::Base64UrlSafe => {
                Some(base64::engine::general_purpose::URL_SAFE.encode(bytes))
            }
        }
    }

    /// The value of `bytes` under this mode: binary, or its text.
    pub fn value(self, bytes: Vec<u8>) -> Value {
        match self.text(&bytes) {
            None => Value::Bytes(bytes),
            Some(text) => Value::String(text),
        }
    }
}

/// Lower-case hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// How column values are represented, the part every source shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueOptions {
    pub decimal: DecimalMode,
    pub time_precision: TimePrecisionMode,
    pub binary: BinaryMode,
}

/// `heartbeat.interval.ms`, `topic.heartbeat.prefix` and `heartbeat.action.query`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatOptions {
    /// `None` when heartbeats are off (the default, 0).
    pub interval: Option<Duration>,
    /// `<topic.heartbeat.prefix>.<topic.prefix>`.
    pub topic: String,
    /// Run on every heartbeat (say, to write to a heartbeat table so a quiet captured
    /// database still moves the log).
    pub action_query: Option<String>,
}

impl HeartbeatOptions {
    /// A heartbeat record of `server_name`, stamped now.
    pub fn record(&self, server_name: &str) -> Heartbeat {
        Heartbeat {
            topic: Arc::from(self.topic.as_str()),
            server_name: server_name.to_string(),
            ts_ms: now_us() / 1000,
        }
    }
}

/// What kind of container a connector's first-level include/exclude lists name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// `database.include.list` / `database.exclude.list` (MySQL, MariaDB).
    Database,
    /// `schema.include.list` / `schema.exclude.list` (PostgreSQL).
    Schema,
}

impl Container {
    fn include_keys(self) -> &'static [&'static str] {
        match self {
            Container::Database => &["database.include.list", "database.whitelist"],
            Container::Schema => &["schema.include.list", "schema.whitelist"],
        }
    }

    fn exclude_keys(self) -> &'static [&'static str] {
        match self {
            Container::Database => &["database.exclude.list", "database.blacklist"],
            Container::Schema => &["schema.exclude.list", "schema.blacklist"],
        }
    }
}

/// What differs between connectors in the shared keys.
#[derive(Clone, Copy, Debug)]
pub struct Dialect {
    pub container: Container,
    /// The `snapshot.mode` names the connector accepts (aliases included); the first
    /// entry's mode is not implied to be the default.
    pub snapshot_modes: &'static [(&'static str, SnapshotMode)],
    pub time_precision_modes: &'static [(&'static str, TimePrecisionMode)],
    pub time_precision_default: TimePrecisionMode,
    /// What to say when `tasks.max` asks for more than one task.
    pub single_task: &'static str,
}

const TABLE_INCLUDE: &[&str] = &["table.include.list", "table.whitelist", "table.includelist"];
const TABLE_EXCLUDE: &[&str] = &["table.exclude.list", "table.blacklist", "table.excludelist"];
const COLUMN_INCLUDE: &[&str] = &["column.include.list", "column.whitelist"];
const COLUMN_EXCLUDE: &[&str] = &["column.exclude.list", "column.blacklist"];

/// The keys every source connector shares, read and checked once.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// The connector's name (`name`, or `topic.prefix` when unnamed).
    pub name: String,
    /// `topic.prefix` (alias `database.server.name`): letters, digits, `.`, `_`, `-`.
    pub topic_prefix: String,
    /// Databases (MySQL) or schemas (PostgreSQL) to capture.
    pub containers: NameFilter,
    pub tables: NameFilter,
    pub columns: NameFilter,
    /// The container and table list keys that were set, for messages.
    pub selection: Vec<(String, String)>,
    pub snapshot_mode: SnapshotMode,
    pub heartbeat: HeartbeatOptions,
    pub values: ValueOptions,
    /// `connect.timeout.ms`.
    pub connect_timeout: Duration,
}

impl SourceOptions {
    /// Reads the shared keys of a connector speaking `dialect`.
    pub fn from_config(config: &ConfigMap, dialect: &Dialect) -> Result<Self, ConfigError> {
        let topic_prefix = config.required(&["topic.prefix", "database.server.name"])?;
        topic_name_part("topic.prefix", &topic_prefix)?;
        let tasks = config.u64_in(&["tasks.max"], 1, 1, 1024)?;
        if tasks > 1 {
            warn!(
                tasks,
                "tasks.max > 1: {}; one task runs", dialect.single_task
            );
        }
        let heartbeat_ms = config.u64_in(&["heartbeat.interval.ms"], 0, 0, u64::from(u32::MAX))?;
        let include = dialect.container.include_keys();
        let exclude = dialect.container.exclude_keys();
        let selection = config.given(
            &[include, exclude, TABLE_INCLUDE, TABLE_EXCLUDE]
                .iter()
                .flat_map(|keys| keys.iter().copied())
                .collect::<Vec<_>>(),
        );
        let heartbeat_prefix = config
            .string(&["topic.heartbeat.prefix"])
            .unwrap_or_else(|| "__debezium-heartbeat".to_string());
        config.refuse_true(
            "provide.transaction.metadata",
            "transaction metadata events are not available yet",
        )?;
        Ok(SourceOptions {
            name: config
                .name()
                .map(str::to_string)
                .unwrap_or_else(|| topic_prefix.clone()),
            containers: config.filter(include, exclude)?,
            tables: config.filter(TABLE_INCLUDE, TABLE_EXCLUDE)?,
            columns: config.filter(COLUMN_INCLUDE, COLUMN_EXCLUDE)?,
            selection,
            snapshot_mode: config.choice(
                &["snapshot.mode"],
                dialect.snapshot_modes,
                SnapshotMode::Initial,
            )?,
            heartbeat: HeartbeatOptions {
                interval: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms)),
                topic: format!("{heartbeat_prefix}.{topic_prefix}"),
                action_query: config.string(&["heartbeat.action.query"]),
            },
            values: ValueOptions {
                decimal: config.choice(
                    &["decimal.handling.mode"],
                    &[
                        ("precise", DecimalMode::Precise),
                        ("double", DecimalMode::Double),
                        ("string", DecimalMode::String),
                    ],
                    DecimalMode::Precise,
                )?,
                time_precision: config.choice(
                    &["time.precision.mode"],
                    dialect.time_precision_modes,
                    dialect.time_precision_default,
                )?,
                binary: config.choice(
                    &["binary.handling.mode"],
                    &[
                        ("bytes", BinaryMode::Bytes),
                        ("base64", BinaryMode::Base64),
                        ("base64-url-safe", BinaryMode::Base64UrlSafe),
                        ("hex", BinaryMode::Hex),
                    ],
                    BinaryMode::Bytes,
                )?,
            },
            connect_timeout: config.millis(&["connect.timeout.ms"], Duration::from_secs(30))?,
            topic_prefix,
        })
    }

    /// Whether the connector stops once the snapshot is done.
    pub fn snapshot_only(&self) -> bool {
        self.snapshot_mode == SnapshotMode::InitialOnly
    }
}

/// Checks that a part of a topic name holds only characters Kafka allows.
pub fn topic_name_part(key: &str, value: &str) -> Result<(), ConfigError> {
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            value,
            "may contain only letters, digits, '.', '_' and '-'",
        ))
    }
}

/// `tombstones.on.delete`, `skipped.operations` and `offset.flush.interval.ms`: what the
/// pipeline writes for a source's changes.
pub fn pipeline_options(config: &ConfigMap) -> Result<PipelineOptions, ConfigError> {
    let defaults = PipelineOptions::default();
    let skipped_operations = match config.lookup(&["skipped.operations"]) {
        None => defaults.skipped_operations,
        Some((key, value)) => {
            let mut set = HashSet::new();
            for code in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if code.eq_ignore_ascii_case("none") {
                    continue;
                }
                let op = Op::from_code(code)
                    .filter(|op| *op != Op::Read)
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            key,
                            value,
                            "expected a comma-separated list of c, u, d, t, or none",
                        )
                    })?;
                set.insert(op.code());
            }
            set
        }
    };
    Ok(PipelineOptions {
        tombstones_on_delete: config.bool(&["tombstones.on.delete"], true)?,
        skipped_operations,
        flush_interval: config.millis(&["offset.flush.interval.ms"], defaults.flush_interval)?,
        ..defaults
    })
}

/// Microseconds since the epoch, now (0 on a clock set before 1970).
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Decimal text the server sent that is not a decimal (of the declared scale).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {what} from {shown:?}")]
pub struct DecimalTextError {
    what: &'static str,
    shown: String,
}

impl DecimalTextError {
    fn new(what: &'static str, text: &str) -> Self {
        DecimalTextError {
            what,
            shown: text.chars().take(64).collect(),
        }
    }
}

/// A decimal's text (`-12.50`, and PostgreSQL's `NaN`, `Infinity`, `-Infinity`) as Debezium
/// represents it under `decimal.handling.mode`. `scale` is the declared scale; `None` for an
/// unconstrained numeric, whose scale is the number of digits after the point and whose
/// value is then a [`Value::VariableDecimal`]. Text with more fraction digits than the
/// declared scale cannot come from a server and is refused rather than rounded.
pub fn decimal_value(
    text: &str,
    scale: Option<u32>,
    mode: DecimalMode,
) -> Result<Value, DecimalTextError> {
    match mode {
        // Debezium writes BigDecimal's special values upper-case.
        DecimalMode::String => {
            let s = if text == "NaN" { "NAN" } else { text };
            return Ok(Value::String(s.to_string()));
        }
        DecimalMode::Double => {
            return match text {
                "NaN" => Ok(Value::Float64(f64::NAN)),
                "Infinity" => Ok(Value::Float64(f64::INFINITY)),
                "-Infinity" => Ok(Value::Float64(f64::NEG_INFINITY)),
                _ if is_decimal_text(text) => text
                    .parse()
                    .map(Value::Float64)
                    .map_err(|_| DecimalTextError::new("a decimal", text)),
                _ => Err(DecimalTextError::new("a decimal", text)),
            }
        }
        DecimalMode::Precise => {}
    }
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        // Connect's Decimal has no representation for these; Debezium writes null.
        return Ok(Value::Null);
    }
    if !is_decimal_text(text) {
        return Err(DecimalTextError::new("a decimal", text));
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    let actual_scale = frac_part.len() as u32;
    let target_scale = scale.unwrap_or(actual_scale);
    if actual_scale > target_scale {
        return Err(DecimalTextError::new(
            "a decimal with the declared scale",
            text,
        ));
    }
    let mut digits = String::with_capacity(int_part.len() + target_scale as usize);
    digits.push_str(int_part);
    digits.push_str(frac_part);
    digits.extend(std::iter::repeat_n(
        '0',
        (target_scale - actual_scale) as usize,
    ));
    let unscaled = twos_complement(&digits, negative);
    Ok(match scale {
        Some(scale) => Value::Decimal { unscaled, scale },
        None => Value::VariableDecimal {
            unscaled,
            scale: target_scale,
        },
    })
}

/// `-?digits[.digits]` with at least one digit.
fn is_decimal_text(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    !(int_part.is_empty() && frac_part.is_empty())
        && int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: Dialect = Dialect {
        container: Container::Schema,
        snapshot_modes: &[
            ("initial", SnapshotMode::Initial),
            ("never", SnapshotMode::NoData),
        ],
        time_precision_modes: &[
            ("adaptive", TimePrecisionMode::Adaptive),
            ("connect", TimePrecisionMode::Connect),
        ],
        time_precision_default: TimePrecisionMode::Adaptive,
        single_task: "one slot is read by one task",
    };

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("topic.prefix", "app")]
    }

    #[test]
    fn defaults_follow_debezium() {
        let o = SourceOptions::from_config(&ConfigMap::from_pairs(base()), &PG).unwrap();
        assert_eq!(
            o.name, "app",
            "an unnamed connector is called by its topic prefix"
        );
        assert_eq!(o.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(o.heartbeat.interval, None);
        assert_eq!(o.heartbeat.topic, "__debezium-heartbeat.app");
        assert_eq!(
            o.values,
            ValueOptions {
                decimal: DecimalMode::Precise,
                time_precision: TimePrecisionMode::Adaptive,
                binary: BinaryMode::Bytes,
            }
        );
        assert_eq!(o.connect_timeout, Duration::from_secs(30));
    }

    #[test]
    fn each_shared_key_is_read_and_bad_values_name_it() {
        let mut pairs = base();
        pairs.extend([
            ("schema.include.list", "s1"),
            ("table.include.list", "s1.t"),
            ("snapshot.mode", "never"),
            ("heartbeat.interval.ms", "500"),
            ("topic.heartbeat.prefix", "hb"),
            ("binary.handling.mode", "hex"),
            ("time.precision.mode", "connect"),
            ("decimal.handling.mode", "string"),
        ]);
        let o = SourceOptions::from_config(&ConfigMap::from_pairs(pairs), &PG).unwrap();
        assert!(o.containers.matches("s1") && !o.containers.matches("s2"));
        assert!(o.tables.matches("s1.t"));
        assert_eq!(o.snapshot_mode, SnapshotMode::NoData);
        assert_eq!(o.heartbeat.interval, Some(Duration::from_millis(500)));
        assert_eq!(o.heartbeat.topic, "hb.app");
        assert_eq!(o.values.binary, BinaryMode::Hex);
        assert_eq!(o.values.time_precision, TimePrecisionMode::Connect);
        assert_eq!(o.values.decimal, DecimalMode::String);
        assert_eq!(o.selection.len(), 2);
        for (key, value) in [
            ("snapshot.mode", "recovery"),
            ("time.precision.mode", "adaptive_time_microseconds"),
            ("binary.handling.mode", "base32"),
            ("topic.prefix", "a/b"),
            ("tasks.max", "0"),
            ("schema.include.list", "(unclosed"),
            ("provide.transaction.metadata", "true"),
            ("connect.timeout.ms", "0"),
        ] {
            let mut pairs = base();
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            let err = SourceOptions::from_config(&ConfigMap::from_pairs(pairs), &PG).unwrap_err();
            assert_eq!(err.key(), Some(key), "{err}");
        }
    }

    #[test]
    fn the_other_dialect_reads_database_lists() {
        let mysql = Dialect {
            container: Container::Database,
            ..PG
        };
        let mut pairs = base();
        pairs.push(("database.exclude.list", "mysql"));
        let o = SourceOptions::from_config(&ConfigMap::from_pairs(pairs), &mysql).unwrap();
        assert!(!o.containers.matches("mysql") && o.containers.matches("app"));
    }

    #[test]
    fn skipped_operations_and_tombstones() {
        let c = ConfigMap::from_pairs([
            ("skipped.operations", "u, d"),
            ("tombstones.on.delete", "false"),
        ]);
        let o = pipeline_options(&c).unwrap();
        assert!(!o.tombstones_on_delete);
        assert_eq!(o.skipped_operations.len(), 2);
        let o = pipeline_options(&ConfigMap::from_pairs([("skipped.operations", "none")])).unwrap();
        assert!(o.skipped_operations.is_empty());
        let d = pipeline_options(&ConfigMap::from_pairs(Vec::<(&str, &str)>::new())).unwrap();
        assert_eq!(
            d.skipped_operations,
            PipelineOptions::default().skipped_operations
        );
        for bad in ["r", "x", "c,q"] {
            let err = pipeline_options(&ConfigMap::from_pairs([("skipped.operations", bad)]))
                .unwrap_err();
            assert_eq!(err.key(), Some("skipped.operations"));
        }
    }

    #[test]
    fn binary_modes_render_as_debezium() {
        let b = [0xfb, 0xff, 0x00];
        assert_eq!(BinaryMode::Hex.text(&b).unwrap(), "fbff00");
        assert_eq!(BinaryMode::Base64.text(&b).unwrap(), "+/8A");
        assert_eq!(BinaryMode::Base64UrlSafe.text(&b).unwrap(), "-_8A");
        assert_eq!(
            BinaryMode::Bytes.value(b.to_vec()),
            Value::Bytes(b.to_vec())
        );
    }

    #[test]
    fn decimals_in_every_mode() {
        let precise = |t, s| decimal_value(t, s, DecimalMode::Precise).unwrap();
        assert_eq!(
            precise("4.82", Some(2)),
            Value::Decimal {
                unscaled: vec![0x01, 0xe2],
                scale: 2
            }
        );
        assert_eq!(
            precise("-1.5", None),
            Value::VariableDecimal {
                unscaled: vec![0xf1],
                scale: 1
            }
        );
        assert_eq!(
            precise("7", Some(3)),
            Value::Decimal {
                unscaled: twos_complement("7000", false),
                scale: 3
            }
        );
        assert_eq!(precise("NaN", None), Value::Null);
        assert_eq!(
            decimal_value("NaN", None, DecimalMode::String).unwrap(),
            Value::String("NAN".into())
        );
        assert_eq!(
            decimal_value("-2.25", Some(2), DecimalMode::Double).unwrap(),
            Value::Float64(-2.25)
        );
        for bad in ["", "-", ".", "1e5", "1.2.3", "inf", "+1", "1.234"] {
            assert!(
                decimal_value(bad, Some(2), DecimalMode::Precise).is_err(),
                "{bad}"
            );
            if bad != "1.234" {
                assert!(
                    decimal_value(bad, None, DecimalMode::Double).is_err(),
                    "{bad}"
                );
            }
        }
    }
}
