//! Checks run before capture starts, each a named [`Check`] with a hint that says what to
//! do. A start fails at the first failed one ([`require`]); `spillway check` runs them all
//! ([`checks`]) and prints every one. They only read variables, grants and catalogs.

use crate::catalog;
use crate::config::{Flavor, LockingMode, MysqlConfig};
use crate::connection;
use crate::error::MysqlError;
use crate::position::BinlogPosition;
use crate::schema;
use crate::table::TableId;
use crate::tls::SslMode;
use mysql_async::prelude::Queryable;
use spillway_core::check::{first_failure, Check, CheckStatus};
use spillway_core::config::describe_settings;
use spillway_core::{Offset, Phase};
use std::collections::HashMap;
use tracing::{info, warn};

/// Server facts the source needs later.
#[derive(Clone, Debug)]
pub struct ServerFacts {
    pub version: String,
    pub is_mariadb: bool,
    pub server_id: u32,
    /// MySQL's `gtid_mode` is ON.
    pub mysql_gtid: bool,
}

/// Fails at the first failed check, with its message and hint; warnings are logged.
pub fn require(checks: &[Check]) -> Result<(), MysqlError> {
    for c in checks.iter().filter(|c| c.status == CheckStatus::Warning) {
        warn!(check = %c.name, "{}. Hint: {}", c.detail, c.hint.as_deref().unwrap_or(""));
    }
    match first_failure(checks) {
        Some(c) => Err(MysqlError::preflight(
            c.detail.clone(),
            c.hint.clone().unwrap_or_default(),
        )),
        None => Ok(()),
    }
}

/// The server's global variables among `names`, keys in lower case.
async fn variables(
    conn: &mut mysql_async::Conn,
    names: &[&str],
) -> Result<HashMap<String, String>, MysqlError> {
    let list = names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<(String, String)> = conn
        .query(format!(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({list})"
        ))
        .await
        .map_err(|e| MysqlError::query("reading server variables", e))?;
    Ok(rows
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect())
}

/// The binlog settings and the server id, which capture needs as they are.
pub async fn server_checks(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
) -> Result<(Vec<Check>, ServerFacts), MysqlError> {
    let vars = variables(
        conn,
        &[
            "version",
            "log_bin",
            "binlog_format",
            "binlog_row_image",
            "server_id",
            "gtid_mode",
            "binlog_row_value_options",
        ],
    )
    .await?;
    let get = |k: &str| vars.get(k).cloned().unwrap_or_default();
    let version = get("version");
    let is_mariadb = version.to_ascii_lowercase().contains("mariadb");
    let flavor = if is_mariadb { "MariaDB" } else { "MySQL" };
    let mut checks = Vec::new();
    checks.push(if get("log_bin").eq_ignore_ascii_case("ON") {
        Check::passed(
            "log_bin",
            format!("the binary log is on ({flavor} {version})"),
        )
    } else {
        Check::failed(
            "log_bin",
            format!("the binary log is off on {flavor} {version} (log_bin=OFF)"),
            "set log_bin (e.g. log_bin = mysql-bin in the [mysqld] section) and restart the server",
        )
    });
    checks.push(if get("binlog_format").eq_ignore_ascii_case("ROW") {
        Check::passed("binlog_format", "binlog_format is ROW")
    } else {
        Check::failed(
            "binlog_format",
            format!("binlog_format is {} on the server; change data capture needs ROW", get("binlog_format")),
            "set binlog_format = ROW in the server configuration and restart (SET GLOBAL binlog_format = 'ROW' applies to new sessions only)",
        )
    });
    checks.push(if get("binlog_row_image").eq_ignore_ascii_case("FULL") {
        Check::passed("binlog_row_image", "binlog_row_image is FULL")
    } else {
        Check::failed(
            "binlog_row_image",
            format!(
                "binlog_row_image is {} on the server; change data capture needs FULL",
                get("binlog_row_image")
            ),
            "set binlog_row_image = FULL in the server configuration and restart",
        )
    });
    if let Some(options) = vars.get("binlog_row_value_options") {
        checks.push(if options.to_ascii_uppercase().contains("PARTIAL_JSON") {
            Check::failed(
                "binlog_row_value_options",
                "binlog_row_value_options contains PARTIAL_JSON: updates of JSON columns would carry only a diff",
                "SET GLOBAL binlog_row_value_options = ''",
            )
        } else {
            Check::passed(
                "binlog_row_value_options",
                "JSON updates are written whole (no PARTIAL_JSON)",
            )
        });
    }
    let server_id: u32 = get("server_id").parse().unwrap_or(0);
    checks.push(if server_id == config.server_id {
        Check::failed(
            "server_id",
            format!(
                "database.server.id {} is the server's own server_id",
                config.server_id
            ),
            "choose another database.server.id, unique among the server's replicas",
        )
    } else if server_id == 0 {
        Check::warning(
            "server_id",
            "the server's server_id is 0, with which a server may refuse replicas",
            "set server_id to a number unique among the servers and restart",
        )
    } else {
        Check::passed(
            "server_id",
            format!(
                "the server's server_id is {server_id}; database.server.id {} differs",
                config.server_id
            ),
        )
    });
    if is_mariadb != (config.flavor == Flavor::Mariadb) {
        info!(
            server = %version,
            connector = config.flavor.connector_name(),
            "connector class and server flavor differ; events report source.connector as configured"
        );
    }
    Ok((
        checks,
        ServerFacts {
            version,
            is_mariadb,
            server_id,
            mysql_gtid: get("gtid_mode").eq_ignore_ascii_case("ON"),
        },
    ))
}

/// Checks the binlog settings, the privileges and the server id; fails at the first that
/// is wrong.
pub async fn check_server(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
) -> Result<ServerFacts, MysqlError> {
    let (mut checks, facts) = server_checks(conn, config).await?;
    let grants = grants(conn).await?;
    checks.push(privilege_check(config, &grants));
    require(&checks)?;
    Ok(facts)
}

/// The user's grants (`SHOW GRANTS FOR CURRENT_USER()`).
pub async fn grants(conn: &mut mysql_async::Conn) -> Result<Vec<String>, MysqlError> {
    conn.query("SHOW GRANTS FOR CURRENT_USER()")
        .await
        .map_err(|e| MysqlError::query("reading the user's grants", e))
}

/// The user's global privileges, upper case.
fn global_grants(grants: &[String]) -> String {
    grants
        .iter()
        .filter(|g| g.contains(" ON *.* "))
        .map(|g| g.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// REPLICATION SLAVE and REPLICATION CLIENT on `*.*`, and SELECT somewhere.
pub fn privilege_check(config: &MysqlConfig, grants: &[String]) -> Check {
    const NAME: &str = "privileges";
    let global = global_grants(grants);
    if global.contains("ALL PRIVILEGES") {
        return Check::passed(NAME, format!("user {:?} has ALL PRIVILEGES", config.user));
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
        return Check::passed(
            NAME,
            format!(
                "user {:?} has REPLICATION SLAVE, REPLICATION CLIENT and SELECT",
                config.user
            ),
        );
    }
    Check::failed(
        NAME,
        format!("user {:?} lacks {}", config.user, missing.join(", ")),
        format!(
            "GRANT {}, SELECT ON *.* TO '{}'@'%'; (RELOAD and LOCK TABLES too if the snapshot needs a global read lock)",
            missing.iter().filter(|m| **m != "SELECT").copied().collect::<Vec<_>>().join(", "),
            config.user
        ),
    )
}

/// RELOAD, for the global read lock a MySQL snapshot takes (`snapshot.locking.mode`
/// minimal or extended); `None` where no such lock is taken (MariaDB, no snapshot).
pub fn reload_check(
    config: &MysqlConfig,
    grants: &[String],
    facts: &ServerFacts,
    takes_snapshot: bool,
) -> Option<Check> {
    if facts.is_mariadb || !takes_snapshot || config.locking_mode == LockingMode::None {
        return None;
    }
    let global = global_grants(grants);
    Some(
        if global.contains("ALL PRIVILEGES") || global.contains("RELOAD") {
            Check::passed(
                "reload privilege",
                format!(
                    "user {:?} has RELOAD for the snapshot's global read lock",
                    config.user
                ),
            )
        } else {
            Check::failed(
                "reload privilege",
                format!(
                    "user {:?} lacks RELOAD, which the snapshot's global read lock (FLUSH TABLES WITH READ LOCK) needs",
                    config.user
                ),
                format!(
                    "GRANT RELOAD ON *.* TO '{}'@'%'; or set snapshot.locking.mode=none",
                    config.user
                ),
            )
        },
    )
}

/// Settings capture does not need but an operator should know: `binlog_row_metadata` and
/// the GTID mode.
pub async fn advisory_checks(
    conn: &mut mysql_async::Conn,
    facts: &ServerFacts,
) -> Result<Vec<Check>, MysqlError> {
    let vars = variables(
        conn,
        &[
            "binlog_row_metadata",
            "gtid_mode",
            "enforce_gtid_consistency",
            "gtid_domain_id",
            "gtid_strict_mode",
            "gtid_binlog_pos",
        ],
    )
    .await?;
    let get = |k: &str| vars.get(k).cloned().unwrap_or_default();
    let mut checks = Vec::new();
    checks.push(match vars.get("binlog_row_metadata") {
        Some(m) if m.eq_ignore_ascii_case("FULL") => {
            Check::passed("binlog_row_metadata", "binlog_row_metadata is FULL")
        }
        Some(m) => Check::warning(
            "binlog_row_metadata",
            format!("binlog_row_metadata is {m}: the binlog does not name the columns, so rows can only be read with the schema history"),
            "SET GLOBAL binlog_row_metadata = FULL, and set it in the server configuration",
        ),
        None => Check::passed(
            "binlog_row_metadata",
            "the server has no binlog_row_metadata: rows are read with the schema history",
        ),
    });
    checks.push(if facts.is_mariadb {
        Check::passed(
            "gtid",
            format!(
                "MariaDB GTIDs: gtid_domain_id {}, gtid_strict_mode {}, gtid_binlog_pos {:?}",
                get("gtid_domain_id"),
                get("gtid_strict_mode"),
                get("gtid_binlog_pos")
            ),
        )
    } else if facts.mysql_gtid {
        Check::passed(
            "gtid",
            format!(
                "gtid_mode is ON (enforce_gtid_consistency {}): positions carry GTID sets",
                get("enforce_gtid_consistency")
            ),
        )
    } else {
        Check::passed(
            "gtid",
            format!(
                "gtid_mode is {}: positions are binlog file and offset only",
                if vars.contains_key("gtid_mode") {
                    get("gtid_mode")
                } else {
                    "not available".to_string()
                }
            ),
        )
    });
    Ok(checks)
}

/// Whether the include lists select a table, naming the lists and what exists when not.
pub fn selection_check(config: &MysqlConfig, selected: &[TableId], all: &[TableId]) -> Check {
    let lists = if config.common.selection.is_empty() {
        "the server has no tables outside the system schemas".to_string()
    } else {
        let set = describe_settings(&config.common.selection);
        format!("{set} select none of the server's tables")
    };
    Check::captured_tables(
        &selected.iter().map(TableId::to_string).collect::<Vec<_>>(),
        &all.iter().map(TableId::to_string).collect::<Vec<_>>(),
        format!("no table is captured: {lists}"),
        "create a table, or check database.hostname",
        "database.include.list matches database names and table.include.list matches database.table, both as regular expressions",
    )
}

/// Fails when the include lists select no table, naming the lists and what exists.
pub fn check_selection(
    config: &MysqlConfig,
    selected: &[TableId],
    all: &[TableId],
) -> Result<(), MysqlError> {
    require(&[selection_check(config, selected, all)])
}

/// Whether streaming can resume from the stored position `saved`: its binlog file is among
/// the server's (`available`), or the server finds it by GTID, or the start takes a new
/// snapshot anyway.
pub fn position_check(
    config: &MysqlConfig,
    saved: Option<&BinlogPosition>,
    available: &[String],
    facts: &ServerFacts,
) -> Check {
    const NAME: &str = "binlog position";
    let mode = config.common.snapshot_mode;
    let Some(saved) = saved else {
        return Check::passed(
            NAME,
            if mode.takes_snapshot(false, false) {
                "no stored position: the start takes a snapshot and reads the binlog from there"
            } else {
                "no stored position: the start reads the binlog from the server's current position"
            },
        );
    };
    if available.contains(&saved.file) {
        return Check::passed(
            NAME,
            format!("the stored position {saved} is on the server"),
        );
    }
    if mode.takes_snapshot(true, true) {
        return Check::passed(
            NAME,
            format!("the stored position {saved} is no longer on the server, and every start takes a new snapshot"),
        );
    }
    if mode.takes_snapshot(true, false) {
        return Check::warning(
            NAME,
            format!("the stored position {saved} is no longer on the server (purged); the start takes a new snapshot"),
            "keep binlogs longer (binlog_expire_logs_seconds, expire_logs_days) than the connector may be stopped",
        );
    }
    if crate::source::gtid_resume(saved, facts) {
        return Check::passed(
            NAME,
            format!(
                "the binlog file of the stored position {saved} is gone; reading resumes by GTID"
            ),
        );
    }
    Check::from_error(
        NAME,
        &MysqlError::Purged {
            position: saved.to_string(),
        },
        "",
    )
}

/// Every check against the live server, in order, read-only: the connection (and its TLS),
/// the binlog settings, the server id, the user's privileges, the captured tables and their
/// column types, and the stored position (`resume`, the committed offsets, if any). A check
/// that cannot run (no connection) ends the list.
pub async fn checks(config: &MysqlConfig, resume: Option<&Offset>) -> Vec<Check> {
    let mut out = Vec::new();
    let mut conn = match connection::connect(config).await {
        Ok(conn) => conn,
        Err(e) => {
            let hint = match &e {
                MysqlError::Auth { .. } => "check database.user and database.password, and the host part of the user's account",
                _ => "check database.hostname and database.port, and that the server runs there and accepts TCP connections (bind_address, skip_networking)",
            };
            out.push(Check::from_error("connect", &e, hint));
            return out;
        }
    };
    if let Err(e) = live_checks(&mut conn, config, resume, &mut out).await {
        out.push(Check::from_error(
            "server",
            &e,
            "check the user's privileges, and that the server is up",
        ));
    }
    let _ = conn.disconnect().await;
    out
}

async fn live_checks(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
    resume: Option<&Offset>,
    out: &mut Vec<Check>,
) -> Result<(), MysqlError> {
    out.push(Check::passed(
        "connect",
        format!(
            "connected to {} as user {:?}",
            connection::address(config),
            config.user
        ),
    ));
    let tls: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_version'")
        .await
        .map_err(|e| MysqlError::query("reading the connection's TLS state", e))?;
    let mode = config.tls.mode;
    out.push(match tls.map(|(_, v)| v).filter(|v| !v.is_empty()) {
        Some(version) => Check::passed(
            "tls",
            format!(
                "encrypted with {version} (database.ssl.mode={})",
                mode.as_str()
            ),
        ),
        None if mode == SslMode::Disabled => {
            Check::passed("tls", "not encrypted (database.ssl.mode=disabled)")
        }
        None => Check::passed(
            "tls",
            format!(
                "not encrypted: the server offers no TLS, which database.ssl.mode={} allows",
                mode.as_str()
            ),
        ),
    });
    let (server, facts) = server_checks(conn, config).await?;
    let binlog_on = server
        .iter()
        .find(|c| c.name == "log_bin")
        .is_some_and(|c| !c.is_failed());
    out.extend(server);
    out.extend(advisory_checks(conn, &facts).await?);
    let grants = grants(conn).await?;
    out.push(privilege_check(config, &grants));

    let all = catalog::list_tables(conn).await?;
    let selected = schema::select(config, &all);
    out.push(selection_check(config, &selected, &all));
    if !selected.is_empty() {
        let mut problems = Vec::new();
        for id in &selected {
            match schema::load_table(conn, config, id, facts.is_mariadb).await {
                Ok(_) => {}
                Err(e @ MysqlError::UnsupportedTypes { .. }) => problems.push(e.to_string()),
                Err(e) => return Err(e),
            }
        }
        out.push(Check::column_types(&problems));
    }

    let saved = resume
        .filter(|o| o.position.phase == Phase::Stream)
        .and_then(BinlogPosition::from_offset);
    let available = if binlog_on {
        crate::source::binlog_files(conn).await?
    } else {
        Vec::new()
    };
    let usable = saved.as_ref().is_some_and(|p| available.contains(&p.file));
    let snapshot = config
        .common
        .snapshot_mode
        .takes_snapshot(saved.is_some(), usable);
    out.extend(reload_check(config, &grants, &facts, snapshot));
    if binlog_on {
        out.push(position_check(config, saved.as_ref(), &available, &facts));
    }
    Ok(())
}
