//! Checks run before capture starts, each failing with a hint that says what to do.

use crate::config::{PostgresConfig, PublicationMode};
use crate::error::PostgresError;
use crate::schema::TableInfo;
use spillway_core::config::describe_settings;
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

/// Checks server version, `wal_level` and the user's replication privilege.
pub async fn check_server(
    client: &Client,
    config: &PostgresConfig,
) -> Result<ServerFacts, PostgresError> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('wal_level'),
                    r.rolreplication, r.rolsuper
               FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("reading server settings", e))?;
    let version_num: i32 = row.get(0);
    let wal_level: String = row.get(1);
    let replication: bool = row.get(2);
    let superuser: bool = row.get(3);
    if version_num < MIN_SERVER_VERSION {
        return Err(PostgresError::preflight(
            format!("PostgreSQL {version_num} is too old for logical replication with pgoutput as used here"),
            "use PostgreSQL 13 or newer",
        ));
    }
    if wal_level != "logical" {
        return Err(PostgresError::preflight(
            format!("wal_level is {wal_level:?} on the server; logical decoding needs \"logical\""),
            "run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL",
        ));
    }
    if !replication && !superuser {
        return Err(PostgresError::preflight(
            format!("user {:?} may not start replication", config.user),
            format!("run ALTER ROLE \"{}\" WITH REPLICATION;", config.user),
        ));
    }
    Ok(ServerFacts {
        version_num,
        is_superuser: superuser,
    })
}

/// Fails when the include lists select no table, naming the lists and what exists.
pub fn check_selection(
    config: &PostgresConfig,
    selected: &[TableInfo],
    all: &[TableInfo],
) -> Result<(), PostgresError> {
    if !selected.is_empty() {
        return Ok(());
    }
    let existing: Vec<String> = all.iter().take(30).map(TableInfo::qualified).collect();
    let lists = if config.common.selection.is_empty() {
        "the database has no tables".to_string()
    } else {
        let set = describe_settings(&config.common.selection);
        format!("{set} select none of its tables")
    };
    Err(PostgresError::preflight(
        format!(
            "no table of database {:?} is captured: {lists}",
            config.dbname
        ),
        if existing.is_empty() {
            "create a table, or point database.dbname at the database that has them".to_string()
        } else {
            format!(
                "tables that exist: {}{}; table.include.list takes regular expressions matching schema.table",
                existing.join(", "),
                if all.len() > existing.len() { ", ..." } else { "" }
            )
        },
    ))
}

/// Warns about tables whose updates and deletes will carry no old key.
pub fn warn_replica_identity(selected: &[TableInfo]) {
    for table in selected {
        let keyless = match table.replica_identity {
            'n' => true,
            'd' => !table.has_primary_key,
            _ => false,
        };
        if keyless {
            warn!(
                table = %table.qualified(),
                "updates and deletes of this table carry no old row (no primary key and replica identity {}); \
                 events will have a null `before` and a null key. \
                 Hint: ALTER TABLE {} REPLICA IDENTITY FULL;",
                if table.replica_identity == 'n' { "nothing" } else { "default" },
                table.qualified()
            );
        }
    }
}

/// Makes sure the publication exists (and, when filtered, lists the captured tables).
pub async fn ensure_publication(
    client: &Client,
    config: &PostgresConfig,
    facts: &ServerFacts,
    selected: &[TableInfo],
) -> Result<(), PostgresError> {
    let exists = client
        .query_opt(
            "SELECT puballtables FROM pg_publication WHERE pubname = $1",
            &[&config.publication_name],
        )
        .await
        .map_err(|e| PostgresError::query("reading publications", e))?;
    let name = quote_ident(&config.publication_name);
    let table_list = || {
        selected
            .iter()
            .map(|t| format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let statement = match (config.publication_mode, exists) {
        (_, Some(_)) if config.publication_mode != PublicationMode::Filtered => return Ok(()),
        (PublicationMode::Disabled, None) => {
            return Err(PostgresError::preflight(
                format!("publication {:?} does not exist and publication.autocreate.mode is disabled", config.publication_name),
                format!("create it: CREATE PUBLICATION {name} FOR TABLE ...; or set publication.autocreate.mode=filtered"),
            ))
        }
        (PublicationMode::AllTables, None) => {
            if !facts.is_superuser {
                return Err(PostgresError::preflight(
                    format!("publication {:?} does not exist and user {:?} may not create a publication FOR ALL TABLES (superuser only)", config.publication_name, config.user),
                    format!("set publication.autocreate.mode=filtered, or have a superuser run CREATE PUBLICATION {name} FOR ALL TABLES;"),
                ));
            }
            format!("CREATE PUBLICATION {name} FOR ALL TABLES")
        }
        (PublicationMode::Filtered, None) => format!("CREATE PUBLICATION {name} FOR TABLE {}", table_list()),
        (PublicationMode::Filtered, Some(row)) => {
            if row.get::<_, bool>(0) {
                return Ok(());
            }
            format!("ALTER PUBLICATION {name} SET TABLE {}", table_list())
        }
        (_, Some(_)) => return Ok(()),
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

/// Fails when no replication slot can be created because all are in use.
pub async fn check_slot_capacity(
    client: &Client,
    config: &PostgresConfig,
) -> Result<(), PostgresError> {
    let row = client
        .query_one(
            "SELECT count(*)::int, current_setting('max_replication_slots')::int FROM pg_replication_slots",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("counting replication slots", e))?;
    let (used, max): (i32, i32) = (row.get(0), row.get(1));
    if used >= max {
        return Err(PostgresError::preflight(
            format!(
                "cannot create replication slot {:?}: all {max} slots (max_replication_slots) are in use",
                config.slot_name
            ),
            "drop unused slots (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active), or raise max_replication_slots and restart PostgreSQL",
        ));
    }
    Ok(())
}
