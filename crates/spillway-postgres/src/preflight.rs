//! Checks run before capture starts, each a named [`Check`] with a hint that says what to
//! do. A start fails at the first failed one ([`require`]); `spillway check` runs them all
//! ([`checks`]) and prints every one. They only read the catalogs: nothing is created.

use crate::config::{PostgresConfig, PublicationMode};
use crate::error::PostgresError;
use crate::protocol::format_lsn;
use crate::protocol::tls::SslMode;
use crate::replication::flush_lsn;
use crate::schema::{self, TableInfo, TypeResolver};
use crate::session;
use spillway_core::check::{first_failure, Check, CheckStatus};
use spillway_core::config::describe_settings;
use spillway_core::{Offset, Phase};
use tokio_postgres::Client;
use tracing::warn;

/// Oldest server version supported (pgoutput with protocol version 1 and the slot syntax).
pub const MIN_SERVER_VERSION: i32 = 130000;

/// Server facts gathered by the preflight.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    pub version_num: i32,
    pub is_superuser: bool,
}

/// Fails at the first failed check, with its message and hint; warnings are logged.
pub fn require(checks: &[Check]) -> Result<(), PostgresError> {
    log_warnings(checks.iter().filter(|c| c.status == CheckStatus::Warning));
    match first_failure(checks) {
        Some(c) => Err(PostgresError::preflight(
            c.detail.clone(),
            c.hint.clone().unwrap_or_default(),
        )),
        None => Ok(()),
    }
}

fn log_warnings<'a>(checks: impl Iterator<Item = &'a Check>) {
    for c in checks {
        warn!(check = %c.name, "{}. Hint: {}", c.detail, c.hint.as_deref().unwrap_or(""));
    }
}

/// Server version, `wal_level` and the user's replication privilege.
pub async fn server_checks(
    client: &Client,
    config: &PostgresConfig,
) -> Result<(Vec<Check>, ServerFacts), PostgresError> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('wal_level'),
                    r.rolreplication, r.rolsuper, current_setting('server_version')
               FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("reading server settings", e))?;
    let version_num: i32 = row.get(0);
    let wal_level: String = row.get(1);
    let replication: bool = row.get(2);
    let superuser: bool = row.get(3);
    let version: String = row.get(4);
    let mut checks = Vec::new();
    checks.push(if version_num < MIN_SERVER_VERSION {
        Check::failed(
            "server version",
            format!("PostgreSQL {version_num} is too old for logical replication with pgoutput as used here"),
            "use PostgreSQL 13 or newer",
        )
    } else {
        Check::passed("server version", format!("PostgreSQL {version}"))
    });
    checks.push(if wal_level != "logical" {
        Check::failed(
            "wal_level",
            format!("wal_level is {wal_level:?} on the server; logical decoding needs \"logical\""),
            "run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL",
        )
    } else {
        Check::passed("wal_level", "wal_level is logical")
    });
    checks.push(match (replication, superuser) {
        (_, true) => Check::passed(
            "replication privilege",
            format!("user {:?} is a superuser", config.user),
        ),
        (true, false) => Check::passed(
            "replication privilege",
            format!("user {:?} has REPLICATION", config.user),
        ),
        (false, false) => Check::failed(
            "replication privilege",
            format!("user {:?} may not start replication", config.user),
            format!("run ALTER ROLE \"{}\" WITH REPLICATION;", config.user),
        ),
    });
    Ok((
        checks,
        ServerFacts {
            version_num,
            is_superuser: superuser,
        },
    ))
}

/// Checks server version, `wal_level` and the user's replication privilege; fails at the
/// first that is wrong.
pub async fn check_server(
    client: &Client,
    config: &PostgresConfig,
) -> Result<ServerFacts, PostgresError> {
    let (checks, facts) = server_checks(client, config).await?;
    require(&checks)?;
    Ok(facts)
}

/// Whether the include lists select a table, naming the lists and what exists when not.
pub fn selection_check(
    config: &PostgresConfig,
    selected: &[TableInfo],
    all: &[TableInfo],
) -> Check {
    let lists = if config.common.selection.is_empty() {
        "the database has no tables".to_string()
    } else {
        let set = describe_settings(&config.common.selection);
        format!("{set} select none of its tables")
    };
    Check::captured_tables(
        &selected
            .iter()
            .map(TableInfo::qualified)
            .collect::<Vec<_>>(),
        &all.iter().map(TableInfo::qualified).collect::<Vec<_>>(),
        format!(
            "no table of database {:?} is captured: {lists}",
            config.dbname
        ),
        "create a table, or point database.dbname at the database that has them",
        "table.include.list takes regular expressions matching schema.table",
    )
}

/// Fails when the include lists select no table, naming the lists and what exists.
pub fn check_selection(
    config: &PostgresConfig,
    selected: &[TableInfo],
    all: &[TableInfo],
) -> Result<(), PostgresError> {
    require(&[selection_check(config, selected, all)])
}

/// Whether the table's updates and deletes identify their row: without a primary key under
/// replica identity default (or with identity nothing), PostgreSQL refuses them once the
/// table is published, and no event could carry the old row anyway.
pub fn replica_identity_check(table: &TableInfo) -> Check {
    let name = format!("replica identity of {}", table.qualified());
    let keyless = match table.replica_identity {
        'n' => Some("nothing"),
        'd' if !table.has_primary_key => Some("default"),
        _ => None,
    };
    if let Some(identity) = keyless {
        return Check::failed(
            name,
            format!(
                "table {} has no primary key and replica identity {identity}: once it is published, \
                 PostgreSQL refuses its UPDATEs and DELETEs (\"does not have a replica identity\"), \
                 and no event could carry the old row or a key",
                table.qualified()
            ),
            format!(
                "ALTER TABLE {}.{} REPLICA IDENTITY FULL; or add a primary key",
                quote_ident(&table.schema),
                quote_ident(&table.name)
            ),
        );
    }
    let detail = match table.replica_identity {
        'f' => "replica identity full",
        'i' => "replica identity index",
        _ => "primary key, replica identity default",
    };
    Check::passed(name, format!("{}: {detail}", table.qualified()))
}

/// Warns about tables whose updates and deletes carry no old key (a start goes on: their
/// inserts are captured).
pub fn warn_replica_identity(selected: &[TableInfo]) {
    let checks: Vec<Check> = selected.iter().map(replica_identity_check).collect();
    log_warnings(checks.iter().filter(|c| c.status != CheckStatus::Passed));
}

/// Whether the user may read the captured tables (the snapshot does).
pub async fn select_privilege_check(
    client: &Client,
    config: &PostgresConfig,
    selected: &[TableInfo],
) -> Result<Check, PostgresError> {
    let oids: Vec<u32> = selected.iter().map(|t| t.oid).collect();
    let rows = client
        .query(
            "SELECT c.oid FROM pg_class c WHERE c.oid = ANY($1) AND NOT has_table_privilege(c.oid, 'SELECT')",
            &[&oids],
        )
        .await
        .map_err(|e| PostgresError::query("reading table privileges", e))?;
    let denied: Vec<&TableInfo> = rows
        .iter()
        .filter_map(|r| {
            let oid: u32 = r.get(0);
            selected.iter().find(|t| t.oid == oid)
        })
        .collect();
    if denied.is_empty() {
        return Ok(Check::passed(
            "select privilege",
            format!(
                "user {:?} may read the {} captured table{}",
                config.user,
                selected.len(),
                if selected.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    let names: Vec<String> = denied.iter().map(|t| t.qualified()).collect();
    let quoted: Vec<String> = denied
        .iter()
        .map(|t| format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name)))
        .collect();
    let detail = format!(
        "user {:?} may not SELECT from {}",
        config.user,
        names.join(", ")
    );
    let hint = format!(
        "GRANT SELECT ON {} TO {};",
        quoted.join(", "),
        quote_ident(&config.user)
    );
    // Without a snapshot to take, the rows are not read (until one is asked for).
    Ok(
        if config.common.snapshot_mode.takes_snapshot(false, false) {
            Check::failed("select privilege", detail, hint)
        } else {
            Check::warning(
                "select privilege",
                format!("{detail} (a snapshot would need it)"),
                hint,
            )
        },
    )
}

/// Whether every column of the captured tables has a type the decoders read.
pub async fn column_types_check(
    client: &Client,
    config: &PostgresConfig,
    selected: &[TableInfo],
) -> Result<Check, PostgresError> {
    let mut resolver = TypeResolver::default();
    let mut problems = Vec::new();
    for t in selected {
        let columns = schema::table_columns(client, t.oid).await?;
        let key = schema::primary_key(client, t.oid).await?;
        match schema::build_table(
            client,
            &mut resolver,
            config,
            &t.schema,
            &t.name,
            &columns,
            &key,
        )
        .await
        {
            Ok(_) => {}
            Err(e @ PostgresError::UnsupportedTypes { .. }) => problems.push(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    Ok(Check::column_types(&problems))
}

/// The publication's state and, when a start has to create or alter it, the statement.
pub async fn publication_check(
    client: &Client,
    config: &PostgresConfig,
    facts: &ServerFacts,
    selected: &[TableInfo],
) -> Result<(Check, Option<String>), PostgresError> {
    const NAME: &str = "publication";
    let exists = client
        .query_opt(
            "SELECT puballtables, pg_has_role(pubowner, 'USAGE'), pg_get_userbyid(pubowner)
               FROM pg_publication WHERE pubname = $1",
            &[&config.publication_name],
        )
        .await
        .map_err(|e| PostgresError::query("reading publications", e))?;
    let pub_name = &config.publication_name;
    let name = quote_ident(pub_name);
    let table_list = || {
        selected
            .iter()
            .map(|t| format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let create_hint = "the user needs CREATE on the database and ownership of the captured tables, or create the publication as a superuser";
    let Some(row) = exists else {
        return Ok(match config.publication_mode {
            PublicationMode::Disabled => (
                Check::failed(
                    NAME,
                    format!("publication {pub_name:?} does not exist and publication.autocreate.mode is disabled"),
                    format!("create it: CREATE PUBLICATION {name} FOR TABLE ...; or set publication.autocreate.mode=filtered"),
                ),
                None,
            ),
            PublicationMode::AllTables if !facts.is_superuser => (
                Check::failed(
                    NAME,
                    format!("publication {pub_name:?} does not exist and user {:?} may not create a publication FOR ALL TABLES (superuser only)", config.user),
                    format!("set publication.autocreate.mode=filtered, or have a superuser run CREATE PUBLICATION {name} FOR ALL TABLES;"),
                ),
                None,
            ),
            PublicationMode::AllTables => (
                Check::passed(
                    NAME,
                    format!("publication {pub_name:?} does not exist yet; it is created FOR ALL TABLES at the start"),
                ),
                Some(format!("CREATE PUBLICATION {name} FOR ALL TABLES")),
            ),
            PublicationMode::Filtered => {
                let statement = format!("CREATE PUBLICATION {name} FOR TABLE {}", table_list());
                let mut lacking = Vec::new();
                let may_create: bool = client
                    .query_one(
                        "SELECT has_database_privilege(current_database(), 'CREATE')",
                        &[],
                    )
                    .await
                    .map_err(|e| PostgresError::query("reading database privileges", e))?
                    .get(0);
                if !may_create {
                    lacking.push(format!("CREATE on database {:?}", config.dbname));
                }
                let foreign = not_owned(client, selected).await?;
                if !foreign.is_empty() {
                    lacking.push(format!("ownership of {}", foreign.join(", ")));
                }
                if lacking.is_empty() {
                    (
                        Check::passed(
                            NAME,
                            format!("publication {pub_name:?} does not exist yet; it is created for the captured tables at the start"),
                        ),
                        Some(statement),
                    )
                } else {
                    (
                        Check::failed(
                            NAME,
                            format!(
                                "cannot create publication {pub_name:?}: user {:?} lacks {}",
                                config.user,
                                lacking.join(" and ")
                            ),
                            create_hint,
                        ),
                        None,
                    )
                }
            }
        });
    };
    let all_tables: bool = row.get(0);
    let owner_member: bool = row.get(1);
    let owner: String = row.get(2);
    if all_tables {
        return Ok((
            Check::passed(
                NAME,
                format!("publication {pub_name:?} exists and publishes all tables"),
            ),
            None,
        ));
    }
    let published: Vec<(String, String)> = client
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1",
            &[pub_name],
        )
        .await
        .map_err(|e| PostgresError::query("reading the publication's tables", e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let missing: Vec<&TableInfo> = selected
        .iter()
        .filter(|t| {
            !published
                .iter()
                .any(|(s, n)| *s == t.schema && *n == t.name)
        })
        .collect();
    let missing_names = || {
        missing
            .iter()
            .map(|t| t.qualified())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if config.publication_mode != PublicationMode::Filtered {
        return Ok((
            if missing.is_empty() {
                Check::passed(
                    NAME,
                    format!("publication {pub_name:?} publishes the captured tables"),
                )
            } else {
                Check::warning(
                    NAME,
                    format!(
                        "publication {pub_name:?} does not publish {}: their changes are not captured after the snapshot",
                        missing_names()
                    ),
                    format!(
                        "ALTER PUBLICATION {name} ADD TABLE {}; or set publication.autocreate.mode=filtered",
                        missing
                            .iter()
                            .map(|t| format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            },
            None,
        ));
    }
    // Filtered: a start sets the publication's tables to the captured ones.
    let statement = format!("ALTER PUBLICATION {name} SET TABLE {}", table_list());
    let mut lacking = Vec::new();
    if !owner_member {
        lacking.push(format!("membership in its owner {owner:?}"));
    }
    let foreign = not_owned(client, selected).await?;
    if !foreign.is_empty() {
        lacking.push(format!("ownership of {}", foreign.join(", ")));
    }
    if !lacking.is_empty() {
        return Ok((
            Check::failed(
                NAME,
                format!(
                    "cannot alter publication {pub_name:?}: setting its tables to the captured ones (publication.autocreate.mode=filtered) needs {} that user {:?} lacks",
                    lacking.join(" and "),
                    config.user
                ),
                create_hint,
            ),
            None,
        ));
    }
    let detail = if missing.is_empty() && published.len() == selected.len() {
        format!("publication {pub_name:?} publishes the captured tables")
    } else {
        format!(
            "publication {pub_name:?} exists; its tables are set to the captured ones at the start"
        )
    };
    Ok((Check::passed(NAME, detail), Some(statement)))
}

/// The captured tables the user does not own (through membership in the owning role).
async fn not_owned(client: &Client, selected: &[TableInfo]) -> Result<Vec<String>, PostgresError> {
    let oids: Vec<u32> = selected.iter().map(|t| t.oid).collect();
    let rows = client
        .query(
            "SELECT c.oid FROM pg_class c WHERE c.oid = ANY($1) AND NOT pg_has_role(c.relowner, 'USAGE')",
            &[&oids],
        )
        .await
        .map_err(|e| PostgresError::query("reading table owners", e))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let oid: u32 = r.get(0);
            selected
                .iter()
                .find(|t| t.oid == oid)
                .map(TableInfo::qualified)
        })
        .collect())
}

/// Makes sure the publication exists (and, when filtered, lists the captured tables).
pub async fn ensure_publication(
    client: &Client,
    config: &PostgresConfig,
    facts: &ServerFacts,
    selected: &[TableInfo],
) -> Result<(), PostgresError> {
    let (check, statement) = publication_check(client, config, facts, selected).await?;
    require(std::slice::from_ref(&check))?;
    let Some(statement) = statement else {
        return Ok(());
    };
    client.batch_execute(&statement).await.map_err(|e| {
        let detail = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
        PostgresError::preflight(
            format!("cannot create publication {:?}: {detail}", config.publication_name),
            "the user needs CREATE on the database and ownership of the captured tables, or create the publication as a superuser",
        )
    })
}

/// Quotes an identifier for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for SQL.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Whether a new replication slot fits under `max_replication_slots`.
pub async fn slot_capacity_check(
    client: &Client,
    config: &PostgresConfig,
) -> Result<Check, PostgresError> {
    let row = client
        .query_one(
            "SELECT count(*)::int, current_setting('max_replication_slots')::int FROM pg_replication_slots",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("counting replication slots", e))?;
    let (used, max): (i32, i32) = (row.get(0), row.get(1));
    Ok(if used >= max {
        Check::failed(
            "replication slot",
            format!(
                "cannot create replication slot {:?}: all {max} slots (max_replication_slots) are in use",
                config.slot_name
            ),
            "drop unused slots (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active), or raise max_replication_slots and restart PostgreSQL",
        )
    } else {
        Check::passed(
            "replication slot",
            format!(
                "replication slot {:?} does not exist yet; it is created at the start ({used} of {max} slots in use)",
                config.slot_name
            ),
        )
    })
}

/// Fails when no replication slot can be created because all are in use.
pub async fn check_slot_capacity(
    client: &Client,
    config: &PostgresConfig,
) -> Result<(), PostgresError> {
    require(&[slot_capacity_check(client, config).await?])
}

/// What the catalog says about the configured slot.
#[derive(Debug, Clone)]
pub struct SlotState {
    pub database: Option<String>,
    pub plugin: Option<String>,
    pub active_pid: Option<i32>,
    /// `wal_status`: reserved, extended, unreserved or lost.
    pub wal_status: Option<String>,
    /// Bytes of WAL the slot holds back.
    pub retained: Option<i64>,
}

impl SlotState {
    /// The server removed WAL the slot still needed.
    pub fn is_lost(&self) -> bool {
        self.wal_status.as_deref() == Some("lost")
    }
}

/// The configured slot as the catalog has it, if it exists.
pub async fn slot_state(client: &Client, name: &str) -> Result<Option<SlotState>, PostgresError> {
    let row = client
        .query_opt(
            "SELECT database::text, plugin::text, active_pid, wal_status,
                    pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
               FROM pg_replication_slots WHERE slot_name = $1",
            &[&name],
        )
        .await
        .map_err(|e| PostgresError::query("reading replication slots", e))?;
    Ok(row.map(|r| SlotState {
        database: r.get(0),
        plugin: r.get(1),
        active_pid: r.get(2),
        wal_status: r.get(3),
        retained: r.get(4),
    }))
}

/// A slot another process streams from.
pub fn slot_in_use_check(config: &PostgresConfig, pid: i32) -> Check {
    Check::failed(
        "replication slot",
        format!(
            "replication slot {:?} is in use by process {pid}",
            config.slot_name
        ),
        "stop the other consumer of the slot, or choose another slot.name",
    )
}

/// Whether the existing slot is this connector's to use: of this database, of pgoutput, not
/// in use, and still holding the WAL the committed offsets (`resume`) point into.
pub fn slot_check(config: &PostgresConfig, slot: &SlotState, resume: Option<&Offset>) -> Check {
    const NAME: &str = "replication slot";
    let slot_name = &config.slot_name;
    if slot.database.as_deref() != Some(config.dbname.as_str()) {
        return Check::failed(
            NAME,
            format!(
                "replication slot {slot_name:?} belongs to database {:?}",
                slot.database.as_deref().unwrap_or("?")
            ),
            "choose another slot.name for this database",
        );
    }
    if slot.plugin.as_deref() != Some("pgoutput") {
        return Check::failed(
            NAME,
            format!(
                "replication slot {slot_name:?} uses plugin {:?}, not pgoutput",
                slot.plugin.as_deref().unwrap_or("?")
            ),
            "choose another slot.name, or drop the slot",
        );
    }
    if let Some(pid) = slot.active_pid {
        return slot_in_use_check(config, pid);
    }
    let stream = resume.filter(|o| o.position.phase == Phase::Stream);
    if slot.is_lost() {
        let snapshot = config
            .common
            .snapshot_mode
            .takes_snapshot(stream.is_some(), false);
        return match stream {
            Some(offset) if !snapshot => Check::failed(
                NAME,
                format!(
                    "replication slot {slot_name:?} lost WAL it held (wal_status lost); changes after {} are no longer available",
                    format_lsn(flush_lsn(offset))
                ),
                "set snapshot.mode=when_needed to take a new snapshot, or delete the connector's offsets",
            ),
            _ => Check::warning(
                NAME,
                format!("replication slot {slot_name:?} lost WAL it held (wal_status lost); the start takes a new snapshot from a new slot"),
                "keep the connector running, or raise max_slot_wal_keep_size",
            ),
        };
    }
    let retained = slot
        .retained
        .map(|b| format!(", holding {} of WAL", human_bytes(b)))
        .unwrap_or_default();
    if slot.wal_status.as_deref() == Some("unreserved") {
        return Check::warning(
            NAME,
            format!("replication slot {slot_name:?}{retained}, is past max_slot_wal_keep_size (wal_status unreserved): the server may remove WAL it needs"),
            "start the connector soon, or raise max_slot_wal_keep_size",
        );
    }
    Check::passed(
        NAME,
        format!(
            "replication slot {slot_name:?} exists (pgoutput, database {:?}{retained})",
            config.dbname
        ),
    )
}

fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Every check against the live server, in order, read-only: the connection (and its TLS),
/// the server's settings and the user's privileges, a replication connection, free WAL
/// senders, the captured tables, the publication and the slot (with `resume`, the committed
/// offsets, if any). A check that cannot run (no connection) ends the list.
pub async fn checks(config: &PostgresConfig, resume: Option<&Offset>) -> Vec<Check> {
    let mut out = Vec::new();
    let client = match session::connect(config, "check").await {
        Ok(client) => client,
        Err(e) => {
            out.push(Check::from_error("connect", &e, connect_hint(&e)));
            return out;
        }
    };
    if let Err(e) = live_checks(&client, config, resume, &mut out).await {
        out.push(Check::from_error(
            "catalog",
            &e,
            "check the user's privileges on the catalogs, and that the server is up",
        ));
    }
    out
}

fn connect_hint(error: &PostgresError) -> &'static str {
    match error {
        PostgresError::Auth { .. } => {
            "check database.user and database.password, and the server's pg_hba.conf"
        }
        _ => "check database.hostname and database.port, and that PostgreSQL runs there and accepts TCP connections (listen_addresses, pg_hba.conf)",
    }
}

async fn live_checks(
    client: &Client,
    config: &PostgresConfig,
    resume: Option<&Offset>,
    out: &mut Vec<Check>,
) -> Result<(), PostgresError> {
    let address = session::address(config);
    let tls: Option<String> = client
        .query_opt(
            "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("reading the connection's TLS state", e))?
        .and_then(|r| r.get(0));
    out.push(Check::passed(
        "connect",
        format!(
            "connected to {address} as user {:?}, database {:?}",
            config.user, config.dbname
        ),
    ));
    let mode = config.tls.mode();
    out.push(match (&tls, mode) {
        (Some(version), _) => Check::passed(
            "tls",
            format!("encrypted with {version} (database.sslmode={mode})"),
        ),
        (None, SslMode::Disable) => {
            Check::passed("tls", "not encrypted (database.sslmode=disable)")
        }
        (None, _) => Check::passed(
            "tls",
            format!(
                "not encrypted: the server offers no TLS, which database.sslmode={mode} allows"
            ),
        ),
    });
    let (server, facts) = server_checks(client, config).await?;
    let may_replicate = server
        .iter()
        .find(|c| c.name == "replication privilege")
        .is_some_and(|c| !c.is_failed());
    out.extend(server);

    let row = client
        .query_one(
            "SELECT count(*)::int, current_setting('max_wal_senders')::int FROM pg_stat_replication",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("counting WAL senders", e))?;
    let (senders, max_senders): (i32, i32) = (row.get(0), row.get(1));
    out.push(if senders >= max_senders {
        Check::failed(
            "wal senders",
            format!("all {max_senders} WAL senders (max_wal_senders) are in use"),
            "stop unused replication connections, or raise max_wal_senders and restart PostgreSQL",
        )
    } else {
        Check::passed(
            "wal senders",
            format!("{senders} of {max_senders} WAL senders (max_wal_senders) in use"),
        )
    });
    if may_replicate {
        out.push(replication_connection_check(config).await);
    }

    let (selected, all) = schema::selected_tables(client, config).await?;
    out.push(selection_check(config, &selected, &all));
    if !selected.is_empty() {
        out.push(select_privilege_check(client, config, &selected).await?);
        out.push(column_types_check(client, config, &selected).await?);
        out.extend(selected.iter().map(replica_identity_check));
        out.push(
            publication_check(client, config, &facts, &selected)
                .await?
                .0,
        );
    }

    match slot_state(client, &config.slot_name).await? {
        Some(slot) => out.push(slot_check(config, &slot, resume)),
        None => {
            let stream = resume.filter(|o| o.position.phase == Phase::Stream);
            let snapshot = config
                .common
                .snapshot_mode
                .takes_snapshot(stream.is_some(), false);
            match stream {
                Some(offset) if !snapshot => out.push(Check::from_error(
                    "replication slot",
                    &PostgresError::SlotMissing {
                        slot: config.slot_name.clone(),
                        position: format_lsn(flush_lsn(offset)),
                    },
                    "",
                )),
                _ => out.push(slot_capacity_check(client, config).await?),
            }
        }
    }
    Ok(())
}

/// Whether the server accepts a replication connection from the user (pg_hba.conf's
/// `replication` lines, a free WAL sender); it is closed at once.
async fn replication_connection_check(config: &PostgresConfig) -> Check {
    const NAME: &str = "replication connection";
    let hint = "allow the user's replication connections in pg_hba.conf (a line for database \"replication\" or the database with replication=database), and check max_wal_senders";
    match crate::source::connect_replication(config).await {
        Ok(mut repl) => {
            let identified = repl.identify_system().await;
            let _ = repl.close().await;
            match identified {
                Ok(id) => Check::passed(
                    NAME,
                    format!(
                        "the server accepts a logical replication connection (system {}, timeline {})",
                        id.systemid, id.timeline
                    ),
                ),
                Err(e) => Check::failed(
                    NAME,
                    format!("IDENTIFY_SYSTEM failed on a replication connection: {e}"),
                    hint,
                ),
            }
        }
        Err(e) => Check::from_error(NAME, &e, hint),
    }
}
