//! The MySQL/MariaDB connector's configuration, read from Debezium's keys and Confluent's
//! aliases.

use spillway_core::config::{ConfigError, ConfigMap, Secret};
pub use spillway_core::connector::{
    BinaryMode, DecimalMode, SnapshotMode, TimePrecisionMode, ValueOptions,
};
use spillway_core::connector::{Container, Dialect, SourceOptions};

/// `connector.class` values of the MySQL connector.
pub const MYSQL_CLASSES: &[&str] = &[
    "io.debezium.connector.mysql.MySqlConnector",
    "MySqlCdcSource",
    "MySqlCdcSourceV2",
    "mysql",
];
/// `connector.class` values of the MariaDB connector.
pub const MARIADB_CLASSES: &[&str] = &["io.debezium.connector.mariadb.MariaDbConnector", "mariadb"];

/// Default `database.port`.
pub const DEFAULT_PORT: u16 = 3306;
/// Debezium's range for a random `database.server.id`.
pub const SERVER_ID_RANGE: (u32, u32) = (5400, 6400);

/// Which flavour of connector was configured; it names `source.connector`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Mysql,
    Mariadb,
}

impl Flavor {
    /// `source.connector`.
    pub fn connector_name(self) -> &'static str {
        match self {
            Flavor::Mysql => "mysql",
            Flavor::Mariadb => "mariadb",
        }
    }
}

/// What the MySQL and MariaDB connectors accept of the shared keys.
pub const DIALECT: Dialect = Dialect {
    container: Container::Database,
    snapshot_modes: &[
        ("initial", SnapshotMode::Initial),
        ("initial_only", SnapshotMode::InitialOnly),
        ("no_data", SnapshotMode::NoData),
        ("schema_only", SnapshotMode::NoData),
        ("never", SnapshotMode::NoData),
        ("always", SnapshotMode::Always),
        ("when_needed", SnapshotMode::WhenNeeded),
        ("recovery", SnapshotMode::Recovery),
        ("schema_only_recovery", SnapshotMode::Recovery),
    ],
    time_precision_modes: &[
        (
            "adaptive_time_microseconds",
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        ),
        ("adaptive", TimePrecisionMode::AdaptiveTimeMicroseconds),
        ("connect", TimePrecisionMode::Connect),
    ],
    time_precision_default: TimePrecisionMode::AdaptiveTimeMicroseconds,
    single_task: "reading a binlog is a single task",
};

/// `snapshot.locking.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockingMode {
    /// A global read lock while the snapshot starts (MySQL needs it for the position).
    Minimal,
    Extended,
    /// No locks: only safe when no DDL runs during the snapshot.
    None,
}

/// `bigint.unsigned.handling.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BigintUnsignedMode {
    Long,
    Precise,
}

/// How values are represented.
#[derive(Clone, Debug)]
pub struct TypeOptions {
    /// `decimal.handling.mode`, `time.precision.mode`, `binary.handling.mode`.
    pub values: ValueOptions,
    pub bigint_unsigned: BigintUnsignedMode,
}

/// The connector's typed configuration.
#[derive(Clone, Debug)]
pub struct MysqlConfig {
    /// The keys every source shares (name, topic prefix, database/table/column lists,
    /// snapshot mode, heartbeats, value modes, connect timeout).
    pub common: SourceOptions,
    pub flavor: Flavor,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub server_id: u32,
    pub locking_mode: LockingMode,
    /// `include.schema.changes`: schema-change records on the `<topic.prefix>` topic.
    pub include_schema_changes: bool,
    /// `include.schema.comments`: table and column comments in those records.
    pub include_schema_comments: bool,
    /// `schema.history.internal.store.only.captured.databases.ddl`: schema changes of
    /// captured databases only (otherwise of every database, as Debezium's default).
    pub only_captured_databases_ddl: bool,
    /// `schema.history.internal.store.only.captured.tables.ddl`: the snapshot's schema
    /// records for captured tables only (otherwise every table of a captured database).
    pub only_captured_tables_ddl: bool,
    pub types: TypeOptions,
    /// `database.ssl.mode` and its certificate files.
    pub tls: crate::tls::TlsSettings,
}

impl MysqlConfig {
    /// Whether `connector.class` names this connector.
    pub fn handles(class: &str) -> bool {
        MYSQL_CLASSES
            .iter()
            .chain(MARIADB_CLASSES)
            .any(|c| c.eq_ignore_ascii_case(class))
    }

    /// Reads the connector's keys from `config`.
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConfigError> {
        let class = config.required(&["connector.class"])?;
        let flavor = if MARIADB_CLASSES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&class))
        {
            Flavor::Mariadb
        } else if MYSQL_CLASSES.iter().any(|c| c.eq_ignore_ascii_case(&class)) {
            Flavor::Mysql
        } else {
            return Err(ConfigError::invalid(
                "connector.class",
                &class,
                "not a MySQL or MariaDB connector",
            ));
        };
        let common = SourceOptions::from_config(config, &DIALECT)?;
        let server_id = match config.lookup(&["database.server.id"]) {
            Some((key, value)) => value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    ConfigError::invalid(
                        key,
                        value,
                        "expected a positive 32-bit integer, unique among the server's replicas",
                    )
                })?,
            None => random_server_id(),
        };
        let tls = crate::tls::TlsSettings::from_config(config)?;
        config.accept(&["database.connectionTimeZone", "snapshot.fetch.size"]);
        Ok(MysqlConfig {
            flavor,
            hostname: config.required(&["database.hostname"])?,
            port: config.u64_in(&["database.port"], u64::from(DEFAULT_PORT), 1, 65535)? as u16,
            user: config.required(&["database.user"])?,
            password: config.secret(&["database.password"]),
            server_id,
            locking_mode: config.choice(
                &["snapshot.locking.mode"],
                &[
                    ("minimal", LockingMode::Minimal),
                    ("minimal_percona", LockingMode::Minimal),
                    ("extended", LockingMode::Extended),
                    ("none", LockingMode::None),
                ],
                LockingMode::Minimal,
            )?,
            include_schema_changes: config.bool(&["include.schema.changes"], true)?,
            include_schema_comments: config.bool(&["include.schema.comments"], false)?,
            only_captured_databases_ddl: config.bool(
                &["schema.history.internal.store.only.captured.databases.ddl"],
                false,
            )?,
            only_captured_tables_ddl: config.bool(
                &["schema.history.internal.store.only.captured.tables.ddl"],
                false,
            )?,
            types: TypeOptions {
                values: common.values,
                bigint_unsigned: config.choice(
                    &["bigint.unsigned.handling.mode"],
                    &[
                        ("long", BigintUnsignedMode::Long),
                        ("precise", BigintUnsignedMode::Precise),
                    ],
                    BigintUnsignedMode::Long,
                )?,
            },
            tls,
            common,
        })
    }
}

/// A server id in Debezium's default range, different per process start.
fn random_server_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let span = u64::from(SERVER_ID_RANGE.1 - SERVER_ID_RANGE.0);
    SERVER_ID_RANGE.0 + (h.finish() % span) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's connector, adapted to a local server.
    fn seed() -> Vec<(&'static str, &'static str)> {
        vec![
            ("connector.class", "MySqlCdcSource"),
            ("name", "MySqlCdcSourceConnector_0"),
            ("kafka.api.key", "****"),
            ("kafka.api.secret", "****"),
            ("database.hostname", "127.0.0.1"),
            ("database.port", "3306"),
            ("database.user", "spillway"),
            ("database.password", "spillway"),
            ("database.server.name", "mysql"),
            ("database.whitelist", "employee"),
            ("table.includelist", "employees.departments"),
            ("snapshot.mode", "initial"),
            ("output.data.format", "AVRO"),
            ("tasks.max", "1"),
        ]
    }

    #[test]
    fn the_seed_config_parses_with_confluent_aliases() {
        let c = MysqlConfig::from_config(&ConfigMap::from_pairs(seed())).unwrap();
        assert_eq!(c.flavor, Flavor::Mysql);
        assert_eq!(c.common.topic_prefix, "mysql");
        assert!(c.common.containers.matches("employee"));
        assert!(!c.common.containers.matches("employees"));
        assert!(c.common.tables.matches("employees.departments"));
        assert_eq!(c.common.snapshot_mode, SnapshotMode::Initial);
        assert!((SERVER_ID_RANGE.0..SERVER_ID_RANGE.1).contains(&c.server_id));
    }

    #[test]
    fn mariadb_class_sets_the_flavor() {
        let mut pairs = seed();
        pairs[0] = (
            "connector.class",
            "io.debezium.connector.mariadb.MariaDbConnector",
        );
        let c = MysqlConfig::from_config(&ConfigMap::from_pairs(pairs)).unwrap();
        assert_eq!(c.flavor.connector_name(), "mariadb");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("database.server.id", "0"),
            ("snapshot.mode", "sometimes"),
            ("bigint.unsigned.handling.mode", "huge"),
            ("snapshot.locking.mode", "all"),
            ("provide.transaction.metadata", "true"),
        ] {
            let mut pairs = seed();
            pairs.push((key, value));
            let err = MysqlConfig::from_config(&ConfigMap::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.key(), Some(key), "{err}");
        }
    }
}
