//! `spillway check`: validates connector configs offline, then runs each source's preflight
//! against its live server (the checks a start runs, all of them, none stopping the others)
//! and prints one line per check. Nothing is changed on any server: no slot, publication or
//! table is created.

use crate::connector::{self, Connector, SourceConfig};
use crate::{CliError, DataDirArg};
use spillway_core::check::{Check, CheckStatus};
use spillway_core::secret::{mask_in_text, printable};
use spillway_core::{Offset, OffsetStore};
use spillway_projection::target::postgres::PostgresTargetClient;
use spillway_projection::TargetUrl;
use spillway_streams::FileOffsetStore;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Connector config file, as `spillway run` takes it (JSON: one connector or an array;
    /// or a `*.properties` file); repeat for several.
    #[arg(long = "config", visible_alias = "config-file", required = true)]
    configs: Vec<PathBuf>,
    /// Where `spillway run` keeps the connectors' offsets: a stored position is checked
    /// against the server (still there, or purged).
    #[command(flatten)]
    data: DataDirArg,
    /// Output: a line per check (text), or a JSON array of {connector, check, status,
    /// detail, hint}.
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

/// The checks of one connector (or of one config that names no valid connector).
struct Report {
    connector: String,
    checks: Vec<Check>,
}

pub async fn check(args: CheckArgs) -> Result<(), CliError> {
    let mut reports = Vec::new();
    let mut names = std::collections::HashSet::new();
    for path in &args.configs {
        for (at, item) in connector::read_items(path)? {
            let (label, map) = bare_config(&at, &item);
            let mut checks = Vec::new();
            let connector = match map {
                Some(map) => match connector::validate(&map) {
                    Ok(valid) => {
                        checks.extend(valid.unknown_keys.iter().map(|key| {
                            Check::warning(
                                key.clone(),
                                format!("{at}: `{key}` is not a key this connector reads; it changes nothing"),
                                format!("remove `{key}` from {}, or check its spelling", path.display()),
                            )
                        }));
                        Some(valid.connector)
                    }
                    Err(errors) => {
                        checks.extend(errors.into_iter().map(|(key, message)| {
                            let verb = if message.starts_with("missing required key") {
                                "add"
                            } else {
                                "fix"
                            };
                            Check::failed(
                                key.clone(),
                                format!("{at}: {message}"),
                                format!("{verb} `{key}` in {}", path.display()),
                            )
                        }));
                        None
                    }
                },
                None => {
                    checks.push(Check::failed(
                        "config",
                        format!("{at}: a connector config is a JSON object of keys"),
                        "give {\"name\": ..., \"config\": {...}} or the bare keys",
                    ));
                    None
                }
            };
            let Some(connector) = connector else {
                reports.push(Report {
                    connector: label,
                    checks,
                });
                continue;
            };
            let name = connector.name().to_string();
            if names.insert(name.clone()) {
                checks.push(Check::passed(
                    "config",
                    format!("{at}: the config of connector {name:?} is valid"),
                ));
                checks.extend(live_checks(&connector, &args.data.data_dir).await);
            } else {
                checks.push(Check::failed(
                    "name",
                    format!("{at}: two connectors are named {name:?}"),
                    "give each connector a name of its own",
                ));
            }
            reports.push(Report {
                connector: name,
                checks,
            });
        }
    }
    print(&reports, args.format)
        .map_err(|e| CliError::Runtime(anyhow::anyhow!("cannot write the report: {e}")))?;
    let total: usize = reports.iter().map(|r| r.checks.len()).sum();
    let failed = reports
        .iter()
        .flat_map(|r| &r.checks)
        .filter(|c| c.is_failed())
        .count();
    if failed > 0 {
        return Err(CliError::Config(format!(
            "{failed} of {total} checks failed"
        )));
    }
    Ok(())
}

/// A connector's keys as one flat object (the `{"name", "config"}` form unwrapped, its name
/// kept), and the name to report it under; `None` when the item is no object.
fn bare_config(
    at: &str,
    item: &serde_json::Value,
) -> (String, Option<serde_json::Map<String, serde_json::Value>>) {
    let Some(object) = item.as_object() else {
        return (at.to_string(), None);
    };
    let map = match object.get("config") {
        Some(serde_json::Value::Object(inner)) => {
            let mut inner = inner.clone();
            if let Some(name) = object.get("name") {
                inner
                    .entry("name".to_string())
                    .or_insert_with(|| name.clone());
            }
            inner
        }
        _ => object.clone(),
    };
    let label = match map.get("name") {
        Some(serde_json::Value::String(name)) => name.clone(),
        _ => at.to_string(),
    };
    (label, Some(map))
}

/// The checks against the live systems a connector uses.
async fn live_checks(connector: &Connector, data_dir: &Path) -> Vec<Check> {
    match connector {
        Connector::Source(spec) => {
            let mut checks = Vec::new();
            let resume = if spec.kafka.is_some() {
                checks.push(Check::warning(
                    "offsets",
                    "offsets are kept in Kafka with kafka.bootstrap.servers; the stored position is not checked",
                    "start the connector to have its stored position checked",
                ));
                None
            } else {
                match stored_offset(data_dir, &spec.name) {
                    Ok(offset) => offset,
                    Err(check) => {
                        checks.push(check);
                        None
                    }
                }
            };
            checks.extend(match &spec.source {
                SourceConfig::Postgres(config) => {
                    spillway_postgres::preflight::checks(config, resume.as_ref()).await
                }
                SourceConfig::Mysql(config) => {
                    spillway_mysql::preflight::checks(config, resume.as_ref()).await
                }
            });
            checks
        }
        Connector::Projection(spec) => {
            vec![target_check(&crate::run::target_of(spec, data_dir)).await]
        }
    }
}

/// The connector's committed offset in the data directory, if it has one (nothing is
/// created there when it has none).
fn stored_offset(data_dir: &Path, name: &str) -> Result<Option<Offset>, Check> {
    let path = data_dir.join("offsets").join(format!("{name}.json"));
    if !path.exists() {
        return Ok(None);
    }
    let fail = |e: &dyn std::fmt::Display| {
        Check::failed(
            "offsets",
            format!(
                "cannot read the committed offsets in {}: {e}",
                path.display()
            ),
            "check the file's permissions, or give the --data-dir the connector runs with",
        )
    };
    let file = FileOffsetStore::open(data_dir, name).map_err(|e| fail(&e))?;
    // Where a connector writing to the embedded log resumes: the log's commit journal.
    let mut store = spillway_streams::LogOffsetStore::stopped(file, data_dir, name);
    store.load().map_err(|e| fail(&e))
}

/// Whether the projection's target can be reached (a SQLite file is only located).
async fn target_check(target: &TargetUrl) -> Check {
    const NAME: &str = "target";
    match target {
        TargetUrl::Sqlite(path) => Check::passed(
            NAME,
            if path.exists() {
                format!("SQLite target {}", path.display())
            } else {
                format!(
                    "SQLite target {} does not exist yet; it is created at the start",
                    path.display()
                )
            },
        ),
        TargetUrl::Postgres(pg) => match PostgresTargetClient::connect(pg, "check").await {
            Ok(_) => Check::passed(
                NAME,
                format!("connected to target {}", target.display()),
            ),
            Err(e) => Check::from_error(
                NAME,
                &e,
                "check connection.url (host, port, database) and connection.username / connection.password",
            ),
        },
    }
}

fn shown(text: &str) -> String {
    printable(&mask_in_text(text)).into_owned()
}

fn print(reports: &[Report], format: OutputFormat) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            let items: Vec<serde_json::Value> = reports
                .iter()
                .flat_map(|r| {
                    r.checks.iter().map(|c| {
                        serde_json::json!({
                            "connector": shown(&r.connector),
                            "check": shown(&c.name),
                            "status": c.status.as_str(),
                            "detail": shown(&c.detail),
                            "hint": c.hint.as_deref().map(shown),
                        })
                    })
                })
                .collect();
            let text = serde_json::to_string_pretty(&items).unwrap_or_default();
            writeln!(out, "{text}")?;
        }
        OutputFormat::Text => {
            for (i, report) in reports.iter().enumerate() {
                if reports.len() > 1 {
                    if i > 0 {
                        writeln!(out)?;
                    }
                    writeln!(out, "{}:", shown(&report.connector))?;
                }
                for c in &report.checks {
                    let mark = match c.status {
                        CheckStatus::Passed => "✓",
                        CheckStatus::Warning => "⚠",
                        CheckStatus::Failed => "✗",
                    };
                    match (&c.hint, c.status) {
                        (Some(hint), CheckStatus::Warning | CheckStatus::Failed) => {
                            writeln!(out, "{mark} {} — hint: {}", shown(&c.detail), shown(hint))?
                        }
                        _ => writeln!(out, "{mark} {}", shown(&c.detail))?,
                    }
                }
            }
        }
    }
    out.flush()
}
