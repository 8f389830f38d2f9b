//! A connector config file read into the typed parts that run it.

use crate::format::FormatSpec;
use crate::CliError;
use spillway_core::config::{ConfigError, ConfigMap};
use spillway_core::pipeline::PipelineOptions;
use spillway_core::Op;
use spillway_kafka::KafkaOptions;
use spillway_mysql::MysqlConfig;
use spillway_postgres::PostgresConfig;
use spillway_streams::LogOptions;
use std::collections::HashMap;
use std::path::Path;
use tracing::warn;

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
    /// The Kafka stream, when `kafka.bootstrap.servers` is set; else the embedded log.
    pub kafka: Option<KafkaOptions>,
    /// With the Kafka stream: where the source's state logs go (the MySQL schema history's
    /// topic from `schema.history.internal.kafka.topic`, its servers from
    /// `schema.history.internal.kafka.bootstrap.servers`).
    pub state_topics: HashMap<String, String>,
    pub state_servers: Option<String>,
}

/// Reads and validates a connector config file.
pub fn load(path: &Path) -> Result<ConnectorSpec, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Config(format!("cannot read config file {}: {e}", path.display()))
    })?;
    let config = ConfigMap::from_json(&text)
        .map_err(|e| CliError::Config(format!("{}: {e}", path.display())))?;
    parse(&config).map_err(|e| CliError::Config(format!("{}: {e}", path.display())))
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
                "unknown connector class; supported: {}, {}, {}",
                spillway_postgres::config::CONNECTOR_CLASSES.join(", "),
                spillway_mysql::config::MYSQL_CLASSES.join(", "),
                spillway_mysql::config::MARIADB_CLASSES.join(", ")
            ),
        ));
    };
    let (name, logical_name, kind) = match &source {
        SourceConfig::Postgres(pg) => (pg.name.clone(), pg.topic_prefix.clone(), "postgresql"),
        SourceConfig::Mysql(my) => (
            my.name.clone(),
            my.topic_prefix.clone(),
            my.flavor.connector_name(),
        ),
    };
    validate_name(&name)?;
    let mut pipeline = pipeline_options(config)?;
    if config.bool(&["extended.headers.enabled"], true)? {
        pipeline.extra_headers = context_headers(&logical_name, kind);
    }
    // Position headers: on by default with Kafka (whose consumers cannot see offsets the
    // way the embedded log's readers can), `spillway.position.headers` either way.
    let kafka_stream = config.string(&["kafka.bootstrap.servers"]).is_some();
    if config.bool(&["spillway.position.headers"], kafka_stream)? {
        pipeline.position_headers = Some(name.clone());
    }
    let mut spec = ConnectorSpec {
        name,
        logical_name,
        source,
        format: FormatSpec::from_config(config)?,
        pipeline,
        log: LogOptions::from_config(config)?,
        kafka: KafkaOptions::from_config(config)?,
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
    for key in config.unused_keys() {
        warn!(key = %key, "unknown configuration key is ignored");
    }
    Ok(spec)
}

fn validate_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(ConfigError::invalid(
            "name",
            name,
            "a connector name may contain only letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

/// `tombstones.on.delete`, `skipped.operations`, `offset.flush.interval.ms`.
fn pipeline_options(config: &ConfigMap) -> Result<PipelineOptions, ConfigError> {
    let defaults = PipelineOptions::default();
    let skipped_operations = match config.lookup(&["skipped.operations"]) {
        None => defaults.skipped_operations,
        Some((key, value)) => {
            let mut set = std::collections::HashSet::new();
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
        extra_headers: Vec::new(),
        position_headers: None,
    })
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
