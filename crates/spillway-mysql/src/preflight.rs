//! Checks run before capture starts, each failing with a hint that says what to do.

use crate::config::{Flavor, MysqlConfig};
use crate::error::MysqlError;
use crate::table::TableId;
use mysql_async::prelude::Queryable;
use spillway_core::config::describe_settings;
use std::collections::HashMap;
use tracing::info;

/// Server facts the source needs later.
#[derive(Clone, Debug)]
pub struct ServerFacts {
    pub version: String,
    pub is_mariadb: bool,
    pub server_id: u32,
    /// MySQL's `gtid_mode` is ON.
    pub mysql_gtid: bool,
}

/// Checks the binlog settings, the privileges and the server id.
pub async fn check_server(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
) -> Result<ServerFacts, MysqlError> {
    let rows: Vec<(String, String)> = conn
        .query(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version', 'log_bin', 'binlog_format',
              'binlog_row_image', 'server_id', 'gtid_mode', 'binlog_row_value_options')",
        )
        .await
        .map_err(|e| MysqlError::query("reading server variables", e))?;
    let vars: HashMap<String, String> = rows
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let get = |k: &str| vars.get(k).cloned().unwrap_or_default();
    let version = get("version");
    let is_mariadb = version.to_ascii_lowercase().contains("mariadb");
    let flavor = if is_mariadb { "MariaDB" } else { "MySQL" };
    if !get("log_bin").eq_ignore_ascii_case("ON") {
        return Err(MysqlError::preflight(
            format!("the binary log is off on {flavor} {version} (log_bin=OFF)"),
            "set log_bin (e.g. log_bin = mysql-bin in the [mysqld] section) and restart the server",
        ));
    }
    if !get("binlog_format").eq_ignore_ascii_case("ROW") {
        return Err(MysqlError::preflight(
            format!("binlog_format is {} on the server; change data capture needs ROW", get("binlog_format")),
            "set binlog_format = ROW in the server configuration and restart (SET GLOBAL binlog_format = 'ROW' applies to new sessions only)",
        ));
    }
    if !get("binlog_row_image").eq_ignore_ascii_case("FULL") {
        return Err(MysqlError::preflight(
            format!(
                "binlog_row_image is {} on the server; change data capture needs FULL",
                get("binlog_row_image")
            ),
            "set binlog_row_image = FULL in the server configuration and restart",
        ));
    }
    if get("binlog_row_value_options")
        .to_ascii_uppercase()
        .contains("PARTIAL_JSON")
    {
        return Err(MysqlError::preflight(
            "binlog_row_value_options contains PARTIAL_JSON: updates of JSON columns would carry only a diff",
            "SET GLOBAL binlog_row_value_options = ''",
        ));
    }
    let server_id: u32 = get("server_id").parse().unwrap_or(0);
    if server_id == config.server_id {
        return Err(MysqlError::preflight(
            format!(
                "database.server.id {} is the server's own server_id",
                config.server_id
            ),
            "choose another database.server.id, unique among the server's replicas",
        ));
    }
    if is_mariadb != (config.flavor == Flavor::Mariadb) {
        info!(
            server = %version,
            connector = config.flavor.connector_name(),
            "connector class and server flavor differ; events report source.connector as configured"
        );
    }
    check_privileges(conn, config).await?;
    Ok(ServerFacts {
        version,
        is_mariadb,
        server_id,
        mysql_gtid: get("gtid_mode").eq_ignore_ascii_case("ON"),
    })
}

async fn check_privileges(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
) -> Result<(), MysqlError> {
    let grants: Vec<String> = conn
        .query("SHOW GRANTS FOR CURRENT_USER()")
        .await
        .map_err(|e| MysqlError::query("reading the user's grants", e))?;
    let global: String = grants
        .iter()
        .filter(|g| g.contains(" ON *.* "))
        .map(|g| g.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ");
    if global.contains("ALL PRIVILEGES") {
        return Ok(());
    }
    let mut missing = Vec::new();
    if !global.contains("REPLICATION SLAVE") && !global.contains("REPLICATION REPLICA") {
        missing.push("REPLICATION SLAVE");
    }
    if !global.contains("REPLICATION CLIENT") && !global.contains("BINLOG MONITOR") {
        missing.push("REPLICATION CLIENT");
    }
    let select_anywhere = global.contains("SELECT")
        || grants.iter().any(|g| {
            g.to_ascii_uppercase().contains("GRANT SELECT")
                || g.to_ascii_uppercase().contains(", SELECT")
        });
    if !select_anywhere {
        missing.push("SELECT");
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(MysqlError::preflight(
        format!("user {:?} lacks {}", config.user, missing.join(", ")),
        format!(
            "GRANT {}, SELECT ON *.* TO '{}'@'%'; (RELOAD and LOCK TABLES too if the snapshot needs a global read lock)",
            missing.iter().filter(|m| **m != "SELECT").copied().collect::<Vec<_>>().join(", "),
            config.user
        ),
    ))
}

/// Fails when the include lists select no table, naming the lists and what exists.
pub fn check_selection(
    config: &MysqlConfig,
    selected: &[TableId],
    all: &[TableId],
) -> Result<(), MysqlError> {
    if !selected.is_empty() {
        return Ok(());
    }
    let lists = if config.common.selection.is_empty() {
        "the server has no tables outside the system schemas".to_string()
    } else {
        let set = describe_settings(&config.common.selection);
        format!("{set} select none of the server's tables")
    };
    let existing: Vec<String> = all.iter().take(30).map(TableId::to_string).collect();
    Err(MysqlError::preflight(
        format!("no table is captured: {lists}"),
        if existing.is_empty() {
            "create a table, or check database.hostname".to_string()
        } else {
            format!(
                "tables that exist: {}{}; database.include.list matches database names and table.include.list matches database.table, both as regular expressions",
                existing.join(", "),
                if all.len() > existing.len() { ", ..." } else { "" }
            )
        },
    ))
}
