//! The keys of a projection: Debezium's JDBC sink connector keys, with a projection's
//! defaults (upsert by the record key, deletes applied, tables created and evolved).

use spillway_core::{ConfigError, ConfigMap, Secret};
use std::path::PathBuf;

/// Connector classes that select a projection.
pub const CONNECTOR_CLASSES: &[&str] = &[
    "io.debezium.connector.jdbc.JdbcSinkConnector",
    "projection",
    "spillway.projection",
];

/// `batch.size`: events read and applied in one transaction, at most.
pub const DEFAULT_BATCH_SIZE: usize = 5000;
/// `unavailable.value.placeholder`: what PostgreSQL sources write for unchanged TOAST.
pub const DEFAULT_PLACEHOLDER: &str = "__debezium_unavailable_value";
/// Where the committed offsets are kept in the target database.
pub const DEFAULT_OFFSETS_TABLE: &str = "spillway_offsets";

/// The key naming the role queries of a PostgreSQL projection run as.
pub const QUERY_ROLE_KEY: &str = "spillway.query.role";

/// `spillway_query_<connector>`, cut to PostgreSQL's 63 bytes (with a hash of the whole
/// name where cut, so that long names stay apart).
pub fn default_query_role(connector: &str) -> String {
    let role = format!("spillway_query_{connector}");
    if role.len() <= 63 {
        return role;
    }
    let hash = crc32fast::hash(connector.as_bytes());
    let mut cut = 63 - 9;
    while !role.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash:08x}", &role[..cut])
}

/// Whether a class names a projection.
pub fn handles(class: &str) -> bool {
    CONNECTOR_CLASSES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(class.trim()))
}

/// Which topics a projection reads.
#[derive(Clone, Debug)]
pub enum Topics {
    /// `topics`: these names.
    List(Vec<String>),
    /// `topics.regex`: every topic whose whole name matches.
    Regex(regex::Regex),
}

impl Topics {
    /// Whether the projection reads `topic`.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Topics::List(names) => names.iter().any(|n| n == topic),
            Topics::Regex(re) => re.is_match(topic),
        }
    }

    /// Whether a topic a regular expression matches is a broker's or spillway's own
    /// (`__consumer_offsets`, `spillway-offsets`, `spillway-configs`, `spillway-state.*`),
    /// whose records are not rows: a regex never takes those (a listed name always does).
    pub fn skips_internal(&self, topic: &str) -> bool {
        matches!(self, Topics::Regex(_))
            && (topic.starts_with("__") || topic.starts_with("spillway-"))
    }

    /// As the config said it, for messages.
    pub fn describe(&self) -> String {
        match self {
            Topics::List(names) => format!("topics={}", names.join(",")),
            Topics::Regex(re) => format!("topics.regex={}", &re.as_str()[4..re.as_str().len() - 2]),
        }
    }
}

/// The database the projection writes to (`connection.url`).
#[derive(Clone, Debug)]
pub enum TargetUrl {
    /// `sqlite:PATH` (also `jdbc:sqlite:PATH`, `sqlite://PATH`).
    Sqlite(PathBuf),
    /// `postgresql://…` or `jdbc:postgresql://host:port/db`, with `connection.username` and
    /// `connection.password` when the URL has none.
    Postgres(Box<PostgresTarget>),
}

/// A PostgreSQL target: the parsed settings and the URL without its password.
#[derive(Clone, Debug)]
pub struct PostgresTarget {
    pub config: tokio_postgres::Config,
    pub display: String,
    /// The role queries run as (`SET ROLE`): one that may only read the projection's
    /// tables. `None` for a URL given directly to a query, which runs as its own user.
    pub query_role: Option<String>,
}

impl TargetUrl {
    /// The URL as messages show it (never with a password).
    pub fn display(&self) -> String {
        match self {
            TargetUrl::Sqlite(path) => format!("sqlite:{}", path.display()),
            TargetUrl::Postgres(pg) => pg.display.clone(),
        }
    }

    /// Parses a `connection.url`, with the user and password given apart.
    pub fn parse(
        url: &str,
        username: Option<&str>,
        password: Option<&Secret>,
    ) -> Result<TargetUrl, ConfigError> {
        let trimmed = url.trim();
        let bare = trimmed.strip_prefix("jdbc:").unwrap_or(trimmed);
        if let Some(path) = bare
            .strip_prefix("sqlite://")
            .or_else(|| bare.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(ConfigError::invalid(
                    "connection.url",
                    url,
                    "sqlite: needs a file path, as in sqlite:data/projection.db",
                ));
            }
            return Ok(TargetUrl::Sqlite(PathBuf::from(path)));
        }
        if bare.starts_with("postgresql://") || bare.starts_with("postgres://") {
            let mut config: tokio_postgres::Config = bare.parse().map_err(|e| {
                ConfigError::invalid(
                    "connection.url",
                    &mask_password(url),
                    format!("not a PostgreSQL URL: {e}"),
                )
            })?;
            if let Some(user) = username {
                config.user(user);
            }
            if let Some(password) = password {
                config.password(password.expose());
            }
            if config.get_user().is_none() {
                return Err(ConfigError::Missing {
                    key: "connection.username".to_string(),
                    hint: " (or a user in connection.url)".to_string(),
                });
            }
            if config.get_dbname().is_none() {
                return Err(ConfigError::invalid(
                    "connection.url",
                    &mask_password(url),
                    "name the database, as in postgresql://host:5432/db",
                ));
            }
            if !matches!(
                config.get_ssl_mode(),
                tokio_postgres::config::SslMode::Disable | tokio_postgres::config::SslMode::Prefer
            ) {
                return Err(ConfigError::invalid(
                    "connection.url",
                    &mask_password(url),
                    "TLS to a PostgreSQL target is not available yet; use sslmode=disable or prefer (which connects without TLS)",
                ));
            }
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            config.application_name("spillway-projection");
            return Ok(TargetUrl::Postgres(Box::new(PostgresTarget {
                config,
                display: mask_password(bare),
                query_role: None,
            })));
        }
        Err(ConfigError::invalid(
            "connection.url",
            &mask_password(url),
            "expected sqlite:PATH or postgresql://[user[:password]@]host[:port]/database (a jdbc: prefix is accepted)",
        ))
    }
}

/// A URL with any password replaced by `********`.
pub fn mask_password(url: &str) -> String {
    spillway_core::secret::mask_in_text(url).into_owned()
}

/// `insert.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertMode {
    /// Insert, or update the row with the same key: the table holds the latest row per key.
    Upsert,
    /// Insert only: a second event of a key fails on the table's key.
    Insert,
    /// Update only: events of rows the table does not hold change nothing.
    Update,
}

/// `primary.key.mode`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrimaryKeyMode {
    /// No key: rows are only inserted.
    None,
    /// The record key's fields (`primary.key.fields` picks some of them).
    RecordKey(Vec<String>),
    /// These fields of the row.
    RecordValue(Vec<String>),
}

/// `schema.evolution`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaEvolution {
    /// Tables must exist with every column events carry.
    None,
    /// Missing tables are created and new fields added as columns.
    Basic,
}

/// Everything a projection config says (but the stream it reads, which the runner picks).
#[derive(Clone, Debug)]
pub struct ProjectionConfig {
    pub name: String,
    pub topics: Topics,
    /// `None`: the embedded default, a SQLite file the runner places in its data directory.
    pub target: Option<TargetUrl>,
    /// `table.name.format` (`collection.name.format`): `${topic}` is the topic; dots become
    /// underscores, as Debezium's default naming strategy has it.
    pub table_name_format: String,
    pub insert_mode: InsertMode,
    pub delete_enabled: bool,
    pub truncate_enabled: bool,
    pub primary_key: PrimaryKeyMode,
    pub schema_evolution: SchemaEvolution,
    pub batch_size: usize,
    /// Text that marks a value the source did not send (PostgreSQL unchanged TOAST): such a
    /// column keeps the value the table has.
    pub placeholder: String,
    /// Table of committed offsets in the target database.
    pub offsets_table: String,
    /// A remote schema registry for Avro records (`schema.registry.url` or
    /// `value.converter.schema.registry.url`); else the embedded registry's store.
    pub registry_url: Option<String>,
    pub registry_user_info: Option<Secret>,
}

impl ProjectionConfig {
    /// Reads a projection's keys from a connector config.
    pub fn from_config(config: &ConfigMap) -> Result<ProjectionConfig, ConfigError> {
        let name = config
            .name()
            .map(str::to_string)
            .or_else(|| config.string(&["name"]))
            .ok_or_else(|| ConfigError::Missing {
                key: "name".to_string(),
                hint: " (wrap the config as {\"name\": ..., \"config\": {...}} or add a name key)"
                    .to_string(),
            })?;
        let topics = match (config.lookup(&["topics"]), config.lookup(&["topics.regex"])) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "topics.regex",
                    &config.string(&["topics.regex"]).unwrap_or_default(),
                    "set either topics or topics.regex, not both",
                ))
            }
            (Some(_), None) => {
                let names = config.list(&["topics"]);
                if names.is_empty() {
                    return Err(ConfigError::invalid(
                        "topics",
                        "",
                        "name at least one topic",
                    ));
                }
                Topics::List(names)
            }
            (None, Some((key, pattern))) => {
                Topics::Regex(regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                    ConfigError::invalid(
                        key,
                        pattern,
                        format!("not a valid regular expression: {e}"),
                    )
                })?)
            }
            (None, None) => {
                return Err(ConfigError::Missing {
                    key: "topics".to_string(),
                    hint: " (or topics.regex): the topics to project".to_string(),
                })
            }
        };
        let username = config.string(&["connection.username", "connection.user"]);
        let password = config.secret(&["connection.password"]);
        let mut target = config
            .string(&["connection.url"])
            .map(|url| TargetUrl::parse(&url, username.as_deref(), password.as_ref()))
            .transpose()?;
        let query_role = match config.lookup(&[QUERY_ROLE_KEY]) {
            Some((key, role)) => {
                let role = role.trim();
                if role.is_empty() || role.len() > 63 || role.chars().any(char::is_control) {
                    return Err(ConfigError::invalid(
                        key,
                        role,
                        "give a PostgreSQL role name of 1 to 63 bytes",
                    ));
                }
                role.to_string()
            }
            None => default_query_role(&name),
        };
        match &mut target {
            Some(TargetUrl::Postgres(pg)) => pg.query_role = Some(query_role),
            _ => config.accept(&[QUERY_ROLE_KEY]),
        }
        let insert_mode = config.choice(
            &["insert.mode"],
            &[
                ("upsert", InsertMode::Upsert),
                ("insert", InsertMode::Insert),
                ("update", InsertMode::Update),
            ],
            InsertMode::Upsert,
        )?;
        let fields = config.list(&["primary.key.fields"]);
        let primary_key = config.choice(
            &["primary.key.mode"],
            &[
                ("record_key", PrimaryKeyMode::RecordKey(fields.clone())),
                ("record_value", PrimaryKeyMode::RecordValue(fields.clone())),
                ("none", PrimaryKeyMode::None),
            ],
            PrimaryKeyMode::RecordKey(fields.clone()),
        )?;
        if let PrimaryKeyMode::RecordValue(f) = &primary_key {
            if f.is_empty() {
                return Err(ConfigError::Missing {
                    key: "primary.key.fields".to_string(),
                    hint: " (primary.key.mode=record_value takes the key from these fields of the row)"
                        .to_string(),
                });
            }
        }
        let delete_enabled = config.bool(&["delete.enabled"], true)?;
        if primary_key == PrimaryKeyMode::None {
            if delete_enabled {
                return Err(ConfigError::invalid(
                    "delete.enabled",
                    "true",
                    "deletes need a key: set primary.key.mode=record_key (or record_value), or delete.enabled=false",
                ));
            }
            if insert_mode != InsertMode::Insert {
                return Err(ConfigError::invalid(
                    "insert.mode",
                    match insert_mode {
                        InsertMode::Upsert => "upsert",
                        _ => "update",
                    },
                    "primary.key.mode=none has no key to update by: use insert.mode=insert",
                ));
            }
        }
        let batch_size = config.u64_in(&["batch.size"], DEFAULT_BATCH_SIZE as u64, 1, 1_000_000)?;
        let format = config
            .string(&["table.name.format", "collection.name.format"])
            .unwrap_or_else(|| "${topic}".to_string());
        if format.trim().is_empty() {
            return Err(ConfigError::invalid(
                "table.name.format",
                &format,
                "give a table name, ${topic} standing for the topic",
            ));
        }
        let offsets_table = config
            .string(&["spillway.offsets.table"])
            .unwrap_or_else(|| DEFAULT_OFFSETS_TABLE.to_string());
        // Kafka Connect's task and converter keys that mean nothing here but are usual in
        // a sink config: records say their own format (JSON with schemas, or Avro).
        config.accept(&[
            "tasks.max",
            "key.converter",
            "value.converter",
            "key.converter.schemas.enable",
            "value.converter.schemas.enable",
            "quote.identifiers",
            "database.time_zone",
        ]);
        config.accept_prefix("connection.pool.");
        Ok(ProjectionConfig {
            name,
            topics,
            target,
            table_name_format: format,
            insert_mode,
            delete_enabled,
            truncate_enabled: config.bool(&["truncate.enabled"], false)?,
            primary_key,
            schema_evolution: config.choice(
                &["schema.evolution"],
                &[
                    ("basic", SchemaEvolution::Basic),
                    ("none", SchemaEvolution::None),
                ],
                SchemaEvolution::Basic,
            )?,
            batch_size: batch_size as usize,
            placeholder: config
                .string(&["unavailable.value.placeholder"])
                .unwrap_or_else(|| DEFAULT_PLACEHOLDER.to_string()),
            offsets_table,
            registry_url: config.string(&[
                "schema.registry.url",
                "value.converter.schema.registry.url",
                "key.converter.schema.registry.url",
            ]),
            registry_user_info: config.secret(&[
                "schema.registry.basic.auth.user.info",
                "value.converter.schema.registry.basic.auth.user.info",
                "value.converter.basic.auth.user.info",
            ]),
        })
    }

    /// The table a topic's rows go to.
    pub fn table_for(&self, topic: &str) -> String {
        self.table_name_format
            .replace("${topic}", topic)
            .replace('.', "_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ProjectionConfig, ConfigError> {
        let mut all = vec![("name", "p")];
        all.extend_from_slice(pairs);
        ProjectionConfig::from_config(&ConfigMap::from_pairs(all.iter().copied()))
    }

    #[test]
    fn a_projection_upserts_by_record_key_and_deletes_by_default() {
        let c = parse(&[
            (
                "connector.class",
                "io.debezium.connector.jdbc.JdbcSinkConnector",
            ),
            ("topics", "a.b.c, a.b.d"),
        ])
        .unwrap();
        assert_eq!(c.insert_mode, InsertMode::Upsert);
        assert!(c.delete_enabled);
        assert_eq!(c.primary_key, PrimaryKeyMode::RecordKey(vec![]));
        assert_eq!(c.schema_evolution, SchemaEvolution::Basic);
        assert!(c.target.is_none());
        assert_eq!(c.table_for("a.b.c"), "a_b_c");
        assert!(c.topics.matches("a.b.d") && !c.topics.matches("a.b"));
    }

    #[test]
    fn urls_of_both_targets_parse_and_never_show_the_password() {
        let t = TargetUrl::parse("jdbc:sqlite:/tmp/x.db", None, None).unwrap();
        assert!(matches!(t, TargetUrl::Sqlite(p) if p == std::path::Path::new("/tmp/x.db")));
        let t = TargetUrl::parse("postgresql://u:secret@127.0.0.1:5432/db", None, None).unwrap();
        assert_eq!(t.display(), "postgresql://u:********@127.0.0.1:5432/db");
        let t = TargetUrl::parse(
            "jdbc:postgresql://127.0.0.1:5432/db",
            Some("u"),
            Some(&Secret::new("pw")),
        )
        .unwrap();
        assert!(!t.display().contains("pw"));
        let e = TargetUrl::parse("mysql://x/y", None, None).unwrap_err();
        assert!(e.to_string().contains("connection.url"), "{e}");
        let e = TargetUrl::parse("postgresql://127.0.0.1/db", None, None).unwrap_err();
        assert!(e.to_string().contains("connection.username"), "{e}");
        assert_eq!(
            mask_password("postgresql://h/db?user=a&password=b&x=1"),
            "postgresql://h/db?user=a&password=********&x=1"
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        for (pairs, key) in [
            (vec![], "topics"),
            (vec![("topics", "a"), ("topics.regex", "b")], "topics.regex"),
            (vec![("topics.regex", "(")], "topics.regex"),
            (
                vec![("topics", "a"), ("insert.mode", "merge")],
                "insert.mode",
            ),
            (
                vec![("topics", "a"), ("primary.key.mode", "none")],
                "delete.enabled",
            ),
            (
                vec![("topics", "a"), ("primary.key.mode", "record_value")],
                "primary.key.fields",
            ),
            (vec![("topics", "a"), ("batch.size", "0")], "batch.size"),
            (
                vec![("topics", "a"), ("schema.evolution", "full")],
                "schema.evolution",
            ),
        ] {
            let e = parse(&pairs).unwrap_err();
            assert_eq!(e.key(), Some(key), "{pairs:?}: {e}");
        }
    }
}
