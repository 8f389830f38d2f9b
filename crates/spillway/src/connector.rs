//! A connector config file read into the typed parts that run it.

use crate::format::FormatSpec;
use crate::CliError;
use spillway_core::config::{ConfigError, ConfigMap};
use spillway_core::pipeline::PipelineOptions;
use spillway_kafka::KafkaOptions;
use spillway_mysql::MysqlConfig;
use spillway_postgres::PostgresConfig;
use spillway_projection::ProjectionConfig;
use spillway_streams::{LogOptions, TopicRules};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use tracing::warn;

/// A connector of either direction.
pub enum Connector {
    /// Captures a database's log into a stream.
    Source(Box<ConnectorSpec>),
    /// Folds topics of a stream into tables.
    Projection(Box<ProjectionSpec>),
}

impl Connector {
    pub fn name(&self) -> &str {
        match self {
            Connector::Source(spec) => &spec.name,
            Connector::Projection(spec) => &spec.config.name,
        }
    }
}

/// A projection and the stream it reads.
pub struct ProjectionSpec {
    pub config: ProjectionConfig,
    /// Kafka, when `kafka.bootstrap.servers` is set; else the embedded log.
    pub kafka: Option<KafkaOptions>,
    /// `consumer.override.*`: librdkafka consumer settings.
    pub consumer: BTreeMap<String, String>,
}

/// A connector as its file gave it, and what it says.
pub struct Loaded {
    pub connector: Connector,
    /// `{"name": ..., "config": {...}}`, kept in the data directory.
    pub document: serde_json::Value,
}

/// Reads a config file holding one connector, bare or `{"name", "config"}`, or a JSON array
/// of them; a `*.properties` file holds one connector, as connect-standalone's.
pub fn load_all(path: &Path) -> Result<Vec<Loaded>, CliError> {
    read_items(path)?
        .into_iter()
        .map(|(at, item)| {
            let config = config_of(&item).map_err(|e| CliError::Config(format!("{at}: {e}")))?;
            let connector =
                parse_any(&config).map_err(|e| CliError::Config(format!("{at}: {e}")))?;
            let document = serde_json::json!({
                "name": connector.name(),
                "config": item.get("config").unwrap_or(&item),
            });
            Ok(Loaded {
                connector,
                document,
            })
        })
        .collect()
}

/// The connectors of a config file as JSON, each with where it is for messages (the file,
/// and its place in an array).
pub fn read_items(path: &Path) -> Result<Vec<(String, serde_json::Value)>, CliError> {
    let text = read_config_text(path)?;
    let value: serde_json::Value = match properties_config(path, &text) {
        Some(value) => value?,
        None => serde_json::from_str(&text).map_err(|e| {
            CliError::Config(format!(
                "{}: connector config is not valid JSON: {e}",
                path.display()
            ))
        })?,
    };
    let items = match value {
        serde_json::Value::Array(items) if items.is_empty() => {
            return Err(CliError::Config(format!(
                "{}: the array holds no connector; give at least one config",
                path.display()
            )))
        }
        serde_json::Value::Array(items) => items,
        single => vec![single],
    };
    let in_array = text.trim_start().starts_with('[');
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let at = if in_array {
                format!("{} (connector {})", path.display(), i + 1)
            } else {
                path.display().to_string()
            };
            (at, item)
        })
        .collect())
}

/// The text of a connector config file, read with a size cap (a device or an endless pipe
/// is refused, not read forever).
/// A connector file as connect-standalone takes it (`*.properties`: `name=`, then the
/// connector's keys, in `java.util.Properties` syntax) as a bare JSON config; `None` for
/// any other file name.
pub fn properties_config(path: &Path, text: &str) -> Option<Result<serde_json::Value, CliError>> {
    let is_properties = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("properties"));
    if !is_properties {
        return None;
    }
    Some(
        spillway_core::properties::parse(text)
            .map(|entries| {
                serde_json::Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect(),
                )
            })
            .map_err(|e| CliError::Config(format!("{}: {e}", path.display()))),
    )
}

pub fn read_config_text(path: &Path) -> Result<String, CliError> {
    let bytes = spillway_core::config::read_file_capped(path).map_err(|e| {
        CliError::Config(format!("cannot read config file {}: {e}", path.display()))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        CliError::Config(format!("config file {} is not UTF-8 text", path.display()))
    })?;
    if text.trim().is_empty() {
        return Err(CliError::Config(format!(
            "config file {} is empty; give a connector config",
            path.display()
        )));
    }
    Ok(text)
}

/// Where config-provider references are resolved from: `spillway run` lets a connector
/// declare its own providers; a worker resolves with the providers of its `--worker-config`
/// only (set once at its start).
static WORKER_PROVIDERS: std::sync::OnceLock<spillway_core::providers::Providers> =
    std::sync::OnceLock::new();

/// Makes this process a worker's: connectors resolve references with `providers` only.
pub fn set_worker_providers(providers: spillway_core::providers::Providers) {
    let _ = WORKER_PROVIDERS.set(providers);
}

/// A connector's config map from its JSON, with config-provider references resolved.
pub fn config_of(value: &serde_json::Value) -> Result<ConfigMap, ConfigError> {
    let mut config = ConfigMap::from_value(value)?;
    match WORKER_PROVIDERS.get() {
        Some(worker) => config.resolve_providers(worker, false)?,
        None => config.resolve_providers(&Default::default(), true)?,
    }
    Ok(config)
}

/// A source or a projection, by `connector.class`. An error shows a provider reference,
/// never the value it resolved to.
pub fn parse_any(config: &ConfigMap) -> Result<Connector, ConfigError> {
    parse_connector(config).map_err(|e| config.shown_error(e))
}

fn parse_connector(config: &ConfigMap) -> Result<Connector, ConfigError> {
    let class = config.required(&["connector.class"])?;
    if spillway_projection::config::handles(&class) {
        return parse_projection(config).map(|p| Connector::Projection(Box::new(p)));
    }
    parse(config).map(|s| Connector::Source(Box::new(s)))
}

/// Checks a connector's config map (its keys, bare) without connecting anywhere: the
/// connector it makes, or every mistake found, each with the key it is about. Mistakes are
/// found one at a time, each key in error set aside before looking again (a missing one
/// A config that [`validate`] accepted.
pub struct Valid {
    pub connector: Connector,
    /// Keys nothing reads: they change nothing, and a start warns about them.
    pub unknown_keys: Vec<String>,
}

/// stood in for), so every bad key gets its message, not just the first.
pub fn validate(
    given: &serde_json::Map<String, serde_json::Value>,
) -> Result<Valid, Vec<(String, String)>> {
    let mut trial = given.clone();
    let mut errors: Vec<(String, String)> = Vec::new();
    for _ in 0..50 {
        let config = match config_of(&serde_json::Value::Object(trial.clone())) {
            Ok(c) => c,
            Err(e) => {
                errors.push((e.key().unwrap_or("config").to_string(), e.to_string()));
                break;
            }
        };
        let e = match parse_any(&config) {
            Ok(connector) if errors.is_empty() => {
                return Ok(Valid {
                    connector,
                    unknown_keys: config.unused_keys(),
                })
            }
            Ok(_) => break,
            Err(e) => e,
        };
        let key = e.key().unwrap_or("connector.class").to_string();
        errors.push((key.clone(), e.to_string()));
        match &e {
            ConfigError::Missing { .. } if !trial.contains_key(&key) => {
                // Stand in for the missing key to look past it; a second complaint about
                // the same key ends the search.
                trial.insert(key.clone(), serde_json::json!("0"));
            }
            _ => {
                if trial.remove(&key).is_none() {
                    break;
                }
            }
        }
        if errors.iter().filter(|(k, _)| *k == key).count() > 1 {
            errors.pop();
            break;
        }
    }
    Err(errors)
}

/// Builds a projection from its config map, warning about keys nothing reads.
pub fn parse_projection(config: &ConfigMap) -> Result<ProjectionSpec, ConfigError> {
    let projection = ProjectionConfig::from_config(config)?;
    validate_name(&projection.name)?;
    let kafka = KafkaOptions::from_config(config)?;
    let consumer: BTreeMap<String, String> = config
        .entries()
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("consumer.override.")
                .map(|setting| (setting.to_string(), v.clone()))
        })
        .collect();
    config.accept_prefix("consumer.override.");
    config.accept(&["connector.class"]);
    config.refuse_unread()?;
    for key in config.unused_keys() {
        warn!(connector = %projection.name, key = %key, "unknown configuration key is ignored");
    }
    Ok(ProjectionSpec {
        config: projection,
        kafka,
        consumer,
    })
}

/// The source kinds spillway runs.
pub enum SourceConfig {
    Postgres(PostgresConfig),
    Mysql(MysqlConfig),
}

/// Everything a connector config says.
pub struct ConnectorSpec {
    pub name: String,
    /// `topic.prefix`: the logical name of the source server.
    pub logical_name: String,
    pub source: SourceConfig,
    pub format: FormatSpec,
    pub pipeline: PipelineOptions,
    pub log: LogOptions,
    /// How the embedded log creates the connector's topics (`topic.creation.*`); the
    /// heartbeat topic holds state, so it is compacted unless a group says otherwise.
    pub topic_rules: Arc<TopicRules>,
    /// The Kafka stream, when `kafka.bootstrap.servers` is set; else the embedded log.
    pub kafka: Option<KafkaOptions>,
    /// With the Kafka stream: where the source's state logs go (the MySQL schema history's
    /// topic from `schema.history.internal.kafka.topic`, its servers from
    /// `schema.history.internal.kafka.bootstrap.servers`).
    pub state_topics: HashMap<String, String>,
    pub state_servers: Option<String>,
}

/// Builds the typed parts from a config map, warning about keys nothing reads.
pub fn parse(config: &ConfigMap) -> Result<ConnectorSpec, ConfigError> {
    let class = config.required(&["connector.class"])?;
    let source = if spillway_postgres::config::CONNECTOR_CLASSES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&class))
    {
        SourceConfig::Postgres(PostgresConfig::from_config(config)?)
    } else if MysqlConfig::handles(&class) {
        SourceConfig::Mysql(MysqlConfig::from_config(config)?)
    } else {
        return Err(ConfigError::invalid(
            "connector.class",
            &class,
            format!(
                "unknown connector class; supported: {}, {}, {}, {}",
                spillway_postgres::config::CONNECTOR_CLASSES.join(", "),
                spillway_mysql::config::MYSQL_CLASSES.join(", "),
                spillway_mysql::config::MARIADB_CLASSES.join(", "),
                spillway_projection::config::CONNECTOR_CLASSES.join(", ")
            ),
        ));
    };
    let (name, logical_name, kind) = match &source {
        SourceConfig::Postgres(pg) => (
            pg.common.name.clone(),
            pg.common.topic_prefix.clone(),
            "postgresql",
        ),
        SourceConfig::Mysql(my) => (
            my.common.name.clone(),
            my.common.topic_prefix.clone(),
            my.flavor.connector_name(),
        ),
    };
    validate_name(&name)?;
    let mut pipeline = spillway_core::connector::pipeline_options(config)?;
    pipeline.connector = name.clone();
    if config.bool(&["extended.headers.enabled"], true)? {
        pipeline.extra_headers = context_headers(&logical_name, kind);
    }
    // Position headers: on by default with Kafka (whose consumers cannot see offsets the
    // way the embedded log's readers can), `spillway.position.headers` either way.
    let kafka_stream = config.string(&["kafka.bootstrap.servers"]).is_some();
    if config.bool(&["spillway.position.headers"], kafka_stream)? {
        pipeline.position_headers = Some(name.clone());
    }
    let heartbeat_topic = match &source {
        SourceConfig::Postgres(pg) => pg.common.heartbeat.topic.clone(),
        SourceConfig::Mysql(my) => my.common.heartbeat.topic.clone(),
    };
    let kafka = KafkaOptions::from_config(config)?;
    let topic_rules = if kafka.is_none() {
        TopicRules::from_config(config)?.with_state_topics([heartbeat_topic])
    } else {
        TopicRules::default()
    };
    let mut spec = ConnectorSpec {
        name,
        logical_name,
        source,
        format: FormatSpec::from_config(config)?,
        pipeline,
        log: LogOptions::from_config(config)?,
        topic_rules: Arc::new(topic_rules),
        kafka,
        state_topics: HashMap::new(),
        state_servers: None,
    };
    let history_keys = [
        "schema.history.internal.kafka.topic",
        "schema.history.internal.kafka.bootstrap.servers",
    ];
    if spec.kafka.is_some() {
        if let Some(topic) = config.string(&[history_keys[0]]) {
            spec.state_topics
                .insert("schema-history".to_string(), topic);
        }
        spec.state_servers = config.string(&[history_keys[1]]);
    } else {
        let given = config.given(&history_keys);
        if !given.is_empty() {
            config.accept(&history_keys);
            warn!(
                keys = %given.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", "),
                "the stream is the embedded log, which keeps the schema history in the data directory; these keys are ignored"
            );
        }
    }
    config.accept(&["topic.creation.enable"]);
    let kafka: Vec<String> = config
        .entries()
        .keys()
        .filter(|k| k.starts_with("kafka."))
        .cloned()
        .collect();
    if spec.kafka.is_none() && !kafka.is_empty() {
        config.accept_prefix("kafka.");
        warn!(
            keys = %kafka.join(", "),
            "kafka.bootstrap.servers is not set; these keys are ignored and events go to the embedded log"
        );
    }
    config.refuse_unread()?;
    for key in config.unused_keys() {
        warn!(key = %key, "unknown configuration key is ignored");
    }
    Ok(spec)
}

/// Longest connector name: it names files in the data directory.
pub const MAX_NAME_LEN: usize = 200;

/// Checks a connector name: 1 to [`MAX_NAME_LEN`] characters of `[A-Za-z0-9._-]`, starting
/// with a letter or digit (so never `.`, `..` or a hidden file's name).
pub fn validate_name(name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Err(ConfigError::invalid(
            "name",
            name,
            format!("a connector name is 1 to {MAX_NAME_LEN} letters, digits, '.', '_' and '-', starting with a letter or digit"),
        ));
    }
    Ok(())
}

/// Debezium's context headers, added to every record: connector logical name, task, the
/// connector kind and an id for this run.
fn context_headers(logical_name: &str, connector: &str) -> Vec<spillway_core::Header> {
    let header = |k: &str, v: &str| spillway_core::Header {
        key: format!("__debezium.context.{k}"),
        value: Some(v.as_bytes().to_vec()),
    };
    vec![
        header("connectorLogicalName", logical_name),
        header("taskId", "0"),
        header("connectorName", connector),
        header("runId", &run_id()),
    ]
}

/// A time-ordered UUID (version 7) identifying this run.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let random = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt ^ u64::from(std::process::id()));
        h.finish()
    };
    let (a, b) = (random(millis), random(!millis));
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6..14].copy_from_slice(&a.to_be_bytes());
    bytes[14..].copy_from_slice(&b.to_be_bytes()[..2]);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Where `spillway run` keeps the configs of the connectors it runs.
pub fn stored_path(data_dir: &Path, name: &str) -> std::path::PathBuf {
    data_dir.join("connectors").join(format!("{name}.json"))
}

/// Keeps a connector's config in the data directory (readable by its owner only: it may
/// hold passwords), for `spillway query --projection NAME` and later runs.
pub fn store(data_dir: &Path, loaded: &Loaded) -> Result<(), CliError> {
    use std::io::Write;
    let path = stored_path(data_dir, loaded.connector.name());
    let dir = path.parent().unwrap_or(data_dir);
    let fail = |e: std::io::Error| {
        CliError::Runtime(anyhow::anyhow!(
            "cannot keep the connector config in {}: {e}",
            path.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = dir.join(format!(".{}.json.tmp", loaded.connector.name()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(fail)?;
    let text = serde_json::to_string_pretty(&loaded.document).unwrap_or_default();
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)
}

/// A projection whose config `spillway run` kept in the data directory.
pub fn stored_projection(data_dir: &Path, name: &str) -> Result<ProjectionSpec, CliError> {
    validate_name(name).map_err(|e| CliError::Config(format!("--projection: {e}")))?;
    let path = stored_path(data_dir, name);
    if !path.exists() {
        let known: Vec<String> = std::fs::read_dir(data_dir.join("connectors"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".json"))
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Err(CliError::Config(format!(
            "--projection: no connector {name:?} has run with data directory {} (known: {})",
            data_dir.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let loaded = load_all(&path)?;
    match loaded.into_iter().next().map(|l| l.connector) {
        Some(Connector::Projection(spec)) => Ok(*spec),
        _ => Err(CliError::Config(format!(
            "--projection: connector {name:?} is a source, not a projection"
        ))),
    }
}
