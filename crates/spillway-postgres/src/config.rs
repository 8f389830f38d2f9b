//! The PostgreSQL connector's configuration, read from Debezium's keys.

use crate::protocol::tls::{TlsConfig, TlsFiles, TlsSetting, TlsSetupError};
use spillway_core::config::{ConfigError, ConfigMap, Secret};
pub use spillway_core::connector::{
    BinaryMode, DecimalMode, SnapshotMode, SourceOptions, TimePrecisionMode, ValueOptions,
};
use spillway_core::connector::{Container, Dialect};
use std::path::PathBuf;
use std::time::Duration;

/// `database.sslmode`, with libpq's meanings.
pub use crate::protocol::tls::SslMode;

/// `connector.class` values this connector answers to.
pub const CONNECTOR_CLASSES: &[&str] = &[
    "io.debezium.connector.postgresql.PostgresConnector",
    "PostgresCdcSource",
    "PostgresCdcSourceV2",
    "postgres",
    "postgresql",
];

/// Default `slot.name`, as Debezium's.
pub const DEFAULT_SLOT_NAME: &str = "debezium";
/// Default `publication.name`, as Debezium's.
pub const DEFAULT_PUBLICATION_NAME: &str = "dbz_publication";
/// Default `database.port`.
pub const DEFAULT_PORT: u16 = 5432;
/// Default `status.update.interval.ms`.
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_millis(10_000);

/// What the PostgreSQL connector accepts of the shared keys.
pub const DIALECT: Dialect = Dialect {
    container: Container::Schema,
    snapshot_modes: &[
        ("initial", SnapshotMode::Initial),
        ("initial_only", SnapshotMode::InitialOnly),
        ("no_data", SnapshotMode::NoData),
        ("never", SnapshotMode::NoData),
        ("schema_only", SnapshotMode::NoData),
        ("always", SnapshotMode::Always),
        ("when_needed", SnapshotMode::WhenNeeded),
    ],
    time_precision_modes: &[
        ("adaptive", TimePrecisionMode::Adaptive),
        (
            "adaptive_time_microseconds",
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        ),
        ("connect", TimePrecisionMode::Connect),
    ],
    time_precision_default: TimePrecisionMode::Adaptive,
    single_task: "a replication slot is read by one task",
};

/// `publication.autocreate.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicationMode {
    AllTables,
    Filtered,
    Disabled,
}

/// `interval.handling.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalMode {
    /// Microseconds (`io.debezium.time.MicroDuration`).
    Numeric,
    /// ISO-8601 text (`io.debezium.time.Interval`).
    String,
}

/// How values are represented, shared by snapshot and streaming decoding.
#[derive(Clone, Debug)]
pub struct TypeOptions {
    /// `decimal.handling.mode`, `time.precision.mode`, `binary.handling.mode`.
    pub values: ValueOptions,
    /// `money.fraction.digits`.
    pub money_fraction_digits: u32,
    pub interval: IntervalMode,
}

/// The PostgreSQL connector's typed configuration.
#[derive(Clone, Debug)]
pub struct PostgresConfig {
    /// The keys every source shares (name, topic prefix, schema/table/column lists,
    /// snapshot mode, heartbeats, value modes, connect timeout).
    pub common: SourceOptions,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub slot_name: String,
    pub slot_drop_on_stop: bool,
    pub publication_name: String,
    pub publication_mode: PublicationMode,
    pub status_interval: Duration,
    /// `slot.max.retries` and `slot.retry.delay.ms`: how long to wait for a slot that is
    /// still held by another process.
    pub slot_max_retries: u32,
    pub slot_retry_delay: Duration,
    pub types: TypeOptions,
    /// `database.sslmode` with `database.sslrootcert`, `database.sslcert` and
    /// `database.sslkey`, the files already read.
    pub tls: TlsConfig,
}

impl PostgresConfig {
    /// Reads the connector's keys from `config`. The caller handles the keys common to all
    /// connectors (format, stream, pipeline) and warns about unused ones.
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConfigError> {
        let class = config.required(&["connector.class"])?;
        if !CONNECTOR_CLASSES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&class))
        {
            return Err(ConfigError::invalid(
                "connector.class",
                &class,
                format!(
                    "not a PostgreSQL connector; expected one of {}",
                    CONNECTOR_CLASSES.join(", ")
                ),
            ));
        }
        if let Some(plugin) = config.string(&["plugin.name"]) {
            if plugin != "pgoutput" {
                return Err(ConfigError::invalid(
                    "plugin.name",
                    &plugin,
                    "only the built-in pgoutput plugin is supported",
                ));
            }
        }
        let common = SourceOptions::from_config(config, &DIALECT)?;
        let port = config.u64_in(&["database.port"], u64::from(DEFAULT_PORT), 1, 65535)? as u16;
        let slot_name = config
            .string(&["slot.name"])
            .unwrap_or_else(|| DEFAULT_SLOT_NAME.to_string());
        if slot_name.is_empty()
            || slot_name.len() > 63
            || !slot_name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(ConfigError::invalid(
                "slot.name",
                &slot_name,
                "a replication slot name may contain only lower-case letters, digits and underscores, at most 63 characters",
            ));
        }
        let sslmode = config.choice(
            &["database.sslmode"],
            &[
                ("disable", SslMode::Disable),
                ("allow", SslMode::Allow),
                ("prefer", SslMode::Prefer),
                ("require", SslMode::Require),
                ("verify-ca", SslMode::VerifyCa),
                ("verify-full", SslMode::VerifyFull),
            ],
            SslMode::Prefer,
        )?;
        let tls = tls_config(config, sslmode)?;
        config.accept(&["database.tcpKeepAlive", "snapshot.isolation.mode"]);
        Ok(PostgresConfig {
            hostname: config.required(&["database.hostname"])?,
            port,
            user: config.required(&["database.user"])?,
            password: config.secret(&["database.password"]),
            dbname: config.required(&["database.dbname"])?,
            slot_name,
            slot_drop_on_stop: config.bool(&["slot.drop.on.stop"], false)?,
            publication_name: config
                .string(&["publication.name"])
                .unwrap_or_else(|| DEFAULT_PUBLICATION_NAME.to_string()),
            publication_mode: config.choice(
                &["publication.autocreate.mode"],
                &[
                    ("all_tables", PublicationMode::AllTables),
                    ("filtered", PublicationMode::Filtered),
                    ("disabled", PublicationMode::Disabled),
                ],
                PublicationMode::AllTables,
            )?,
            slot_max_retries: config.u64_in(&["slot.max.retries"], 6, 0, 1000)? as u32,
            slot_retry_delay: config.millis_in(
                &["slot.retry.delay.ms"],
                Duration::from_secs(10),
                0,
                spillway_core::config::MAX_MILLIS,
            )?,
            status_interval: config
                .millis(&["status.update.interval.ms"], DEFAULT_STATUS_INTERVAL)?,
            types: TypeOptions {
                values: common.values,
                money_fraction_digits: config.u64_in(&["money.fraction.digits"], 2, 0, 20)? as u32,
                interval: config.choice(
                    &["interval.handling.mode"],
                    &[
                        ("numeric", IntervalMode::Numeric),
                        ("string", IntervalMode::String),
                    ],
                    IntervalMode::Numeric,
                )?,
            },
            tls,
            common,
        })
    }

    /// Whether the connector is configured to stop once the snapshot is done.
    pub fn snapshot_only(&self) -> bool {
        self.common.snapshot_only()
    }
}

/// The configuration key of a TLS setting.
fn tls_key(setting: TlsSetting) -> &'static str {
    match setting {
        TlsSetting::RootCert => "database.sslrootcert",
        TlsSetting::ClientCert => "database.sslcert",
        TlsSetting::ClientKey => "database.sslkey",
        TlsSetting::KeyPassword => "database.sslpassword",
    }
}

/// Reads `database.sslrootcert`, `database.sslcert`, `database.sslkey` and
/// `database.sslpassword` (Debezium's keys) and prepares TLS for `sslmode`. There is no
/// default root file: `verify-ca` and `verify-full` need `database.sslrootcert`.
fn tls_config(config: &ConfigMap, sslmode: SslMode) -> Result<TlsConfig, ConfigError> {
    let path = |key: &str| config.string(&[key]).map(PathBuf::from);
    let files = TlsFiles {
        root_cert: path("database.sslrootcert"),
        client_cert: path("database.sslcert"),
        client_key: path("database.sslkey"),
        key_password: config
            .secret(&["database.sslpassword"])
            .is_some_and(|p| !p.expose().is_empty()),
    };
    TlsConfig::new(sslmode, &files).map_err(|e: TlsSetupError| {
        let key = tls_key(e.key);
        match &e.path {
            None if e.key != TlsSetting::KeyPassword => ConfigError::Missing {
                key: key.to_string(),
                hint: format!(": {}", e.detail),
            },
            None => ConfigError::invalid(key, "<redacted>", e.detail),
            Some(path) => ConfigError::invalid(key, &path.display().to_string(), e.detail),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "connector.class",
                "io.debezium.connector.postgresql.PostgresConnector",
            ),
            ("database.hostname", "127.0.0.1"),
            ("database.user", "postgres"),
            ("database.dbname", "app"),
            ("topic.prefix", "app"),
        ]
    }

    #[test]
    fn defaults_follow_debezium() {
        let c = PostgresConfig::from_config(&ConfigMap::from_pairs(base())).unwrap();
        assert_eq!(c.slot_name, "debezium");
        assert_eq!(c.publication_name, "dbz_publication");
        assert_eq!(c.publication_mode, PublicationMode::AllTables);
        assert_eq!(c.common.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(c.port, 5432);
        assert_eq!(c.types.values.decimal, DecimalMode::Precise);
    }

    #[test]
    fn snapshot_mode_aliases_are_accepted() {
        for alias in ["never", "schema_only", "no_data"] {
            let mut pairs = base();
            pairs.push(("snapshot.mode", alias));
            let c = PostgresConfig::from_config(&ConfigMap::from_pairs(pairs)).unwrap();
            assert_eq!(c.common.snapshot_mode, SnapshotMode::NoData);
        }
    }

    #[test]
    fn server_name_is_an_alias_of_topic_prefix() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "topic.prefix");
        pairs.push(("database.server.name", "srv"));
        let c = PostgresConfig::from_config(&ConfigMap::from_pairs(pairs)).unwrap();
        assert_eq!(c.common.topic_prefix, "srv");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("snapshot.mode", "sometimes"),
            ("database.port", "http"),
            ("slot.name", "Bad-Slot"),
            ("table.include.list", "public.(broken"),
            ("decimal.handling.mode", "float"),
            ("provide.transaction.metadata", "true"),
        ] {
            let mut pairs = base();
            pairs.push((key, value));
            let err = PostgresConfig::from_config(&ConfigMap::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.key(), Some(key), "{err}");
        }
    }

    #[test]
    fn missing_database_names_the_key() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "database.dbname");
        let err = PostgresConfig::from_config(&ConfigMap::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.key(), Some("database.dbname"));
    }

    #[test]
    fn tls_settings_name_their_key() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls");
        let ca = dir.join("ca.pem").display().to_string();
        let not_pem = dir.join("make.sh").display().to_string();
        let cert = dir.join("client.pem").display().to_string();
        let encrypted = dir.join("client-encrypted.key").display().to_string();
        // Extra keys, the key the error names, a part of its message.
        type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (
                vec![("database.sslmode", "verify-ca")],
                "database.sslrootcert",
                "missing required key `database.sslrootcert`: sslmode=verify-ca verifies",
            ),
            (
                vec![
                    ("database.sslmode", "verify-full"),
                    ("database.sslrootcert", "/nonexistent/root.crt"),
                ],
                "database.sslrootcert",
                "invalid value \"/nonexistent/root.crt\" for `database.sslrootcert`: cannot read /nonexistent/root.crt:",
            ),
            (
                vec![("database.sslmode", "require"), ("database.sslrootcert", &not_pem)],
                "database.sslrootcert",
                "holds no PEM certificate",
            ),
            (
                vec![("database.sslmode", "require"), ("database.sslcert", &cert)],
                "database.sslkey",
                "missing required key `database.sslkey`",
            ),
            (
                vec![
                    ("database.sslmode", "prefer"),
                    ("database.sslcert", &cert),
                    ("database.sslkey", &encrypted),
                    ("database.sslpassword", "secret"),
                ],
                "database.sslkey",
                "encrypted keys are not supported yet",
            ),
        ];
        for (extra, key, text) in cases {
            let mut pairs = base();
            pairs.extend(extra);
            let err = PostgresConfig::from_config(&ConfigMap::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.key(), Some(key), "{err}");
            assert!(err.to_string().contains(text), "{err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        let mut pairs = base();
        pairs.extend([
            ("database.sslmode", "verify-ca"),
            ("database.sslrootcert", ca.as_str()),
        ]);
        let c = PostgresConfig::from_config(&ConfigMap::from_pairs(pairs)).unwrap();
        assert_eq!(c.tls.mode(), SslMode::VerifyCa);
        let c = PostgresConfig::from_config(&ConfigMap::from_pairs(base())).unwrap();
        assert_eq!(c.tls.mode(), SslMode::Prefer, "prefer by default, as libpq");
    }
}
