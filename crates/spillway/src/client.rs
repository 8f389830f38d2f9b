//! `spillway connector …`: deploys and operates connectors on a worker over its REST API,
//! the way `confluent connect cluster create --config-file` and Kafka Connect's REST calls
//! do, with readable tables or `--output json`.

use crate::CliError;
use anyhow::anyhow;
use base64::Engine;
use serde_json::{json, Value};
use spillway_registry::encode_segment;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ConnectorArgs {
    #[command(subcommand)]
    command: ConnectorCommand,
    /// The worker's REST API.
    #[arg(
        long,
        global = true,
        env = "SPILLWAY_URL",
        default_value = "http://127.0.0.1:8083"
    )]
    url: String,
    /// Bearer token the worker requires.
    #[arg(
        long,
        global = true,
        env = "SPILLWAY_API_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// `user:password` for a worker with basic auth.
    #[arg(
        long,
        global = true,
        env = "SPILLWAY_API_BASIC_AUTH",
        hide_env_values = true
    )]
    user: Option<String>,
    /// Output: readable tables, or the worker's JSON.
    #[arg(long, global = true, value_enum, default_value = "table")]
    output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(clap::Subcommand)]
enum ConnectorCommand {
    /// Create a connector from a config file (JSON, bare as the seed writes it or
    /// {"name", "config"}; or a `*.properties` file with `name=`).
    Create {
        #[arg(long, visible_alias = "config-file")]
        config: PathBuf,
    },
    /// Replace a connector's config with a file's (PUT /connectors/{name}/config); the
    /// connector restarts with it. The name comes from the file, or --name.
    Update {
        #[arg(long, visible_alias = "config-file")]
        config: PathBuf,
        /// The connector to update, when the file does not name it.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the connectors with their type and state.
    List,
    /// A connector's config (secrets masked), type and tasks.
    Describe { name: String },
    /// A connector's state, and the error when it failed.
    Status { name: String },
    /// Pause: the connector stops reading until resumed.
    Pause { name: String },
    /// Resume a paused or stopped connector from its offsets.
    Resume { name: String },
    /// Stop: like pause, shown as STOPPED.
    Stop { name: String },
    /// Restart a connector (a failed one too).
    Restart { name: String },
    /// Delete a connector (its offsets stay).
    Delete { name: String },
    /// Check a config file and print a message per bad key.
    Validate {
        #[arg(long, visible_alias = "config-file")]
        config: PathBuf,
    },
    /// The offsets a connector committed; with --alter or --reset, change them (the
    /// connector must be stopped).
    Offsets {
        name: String,
        /// Alter the offsets to those of a JSON file (`-`: standard input), as `GET`
        /// shows them: {"offsets": [{"partition": {...}, "offset": {...}}]}.
        #[arg(long, value_name = "FILE", conflicts_with = "reset")]
        alter: Option<PathBuf>,
        /// Reset the offsets: a source starts as new, a projection reads from the start.
        #[arg(long)]
        reset: bool,
    },
    /// The topics a connector has used since it was created or its set reset.
    Topics {
        name: String,
        /// Empty the set.
        #[arg(long)]
        reset: bool,
    },
}

struct Client {
    url: String,
    authorization: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    fn new(args: &ConnectorArgs) -> Client {
        let authorization = match (&args.token, &args.user) {
            (Some(token), _) => Some(format!("Bearer {token}")),
            (None, Some(user)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(user)
            )),
            (None, None) => None,
        };
        Client {
            url: args.url.trim_end_matches('/').to_string(),
            authorization,
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(std::time::Duration::from_secs(120)))
                .build()
                .into(),
        }
    }

    /// Sends a request; a 2xx answer's JSON body (null when empty), else the worker's
    /// message as the error (exit 2 for a refused request, 1 otherwise).
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.url);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(auth) = &self.authorization {
            builder = builder.header("Authorization", auth);
        }
        let result = match body {
            Some(body) => {
                let request = builder
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .map_err(|e| CliError::Runtime(anyhow!("{method} {url}: {e}")))?;
                self.agent.run(request)
            }
            None => {
                let request = builder
                    .body(())
                    .map_err(|e| CliError::Runtime(anyhow!("{method} {url}: {e}")))?;
                self.agent.run(request)
            }
        };
        let mut response = result.map_err(|e| {
            CliError::Runtime(anyhow!(
                "cannot reach the worker at {}: {e} (is `spillway worker` running? --url)",
                self.url
            ))
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = value["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        let message = format!("the worker answered {status}: {message}");
        Err(if matches!(status, 400 | 404 | 409) {
            CliError::Config(message)
        } else {
            CliError::Runtime(anyhow!(message))
        })
    }
}

/// A config file as `{"name", "config"}`: a bare map takes its `name` key, else the file's
/// stem.
fn read_config(path: &Path) -> Result<Value, CliError> {
    let text = crate::connector::read_config_text(path)?;
    let value: Value = match crate::connector::properties_config(path, &text) {
        Some(value) => value?,
        None => serde_json::from_str(&text)
            .map_err(|e| CliError::Config(format!("{}: not valid JSON: {e}", path.display())))?,
    };
    if value.get("config").is_some_and(Value::is_object) {
        return Ok(value);
    }
    if !value.is_object() {
        return Err(CliError::Config(format!(
            "{}: expected a JSON object of config keys",
            path.display()
        )));
    }
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            path.file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    Ok(json!({"name": name, "config": value}))
}

/// An offsets body from a file, or standard input for `-`.
fn read_offsets(path: &Path) -> Result<Value, CliError> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| CliError::Runtime(anyhow!("cannot read standard input: {e}")))?;
        text
    } else {
        let bytes = spillway_core::config::read_file_capped(path)
            .map_err(|e| CliError::Config(format!("--alter {}: {e}", path.display())))?;
        String::from_utf8(bytes)
            .map_err(|_| CliError::Config(format!("--alter {}: not UTF-8 text", path.display())))?
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::Config(format!("--alter {}: not valid JSON: {e}", path.display()))
    })?;
    if !value.get("offsets").is_some_and(Value::is_array) {
        return Err(CliError::Config(format!(
            "--alter {}: expected {{\"offsets\": [{{\"partition\": {{...}}, \"offset\": {{...}}}}]}}, as `spillway connector offsets NAME --output json` prints them",
            path.display()
        )));
    }
    Ok(value)
}

/// Rows as an aligned table.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub async fn connector(args: ConnectorArgs) -> Result<(), CliError> {
    let client = Client::new(&args);
    let json_out = args.output == Output::Json;
    let print = |value: &Value, readable: String| {
        if json_out {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            print!("{readable}");
        }
    };
    match &args.command {
        ConnectorCommand::Create { config } => {
            let document = read_config(config)?;
            let created = client.call("POST", "/connectors", Some(&document))?;
            print(
                &created,
                format!(
                    "created connector {} ({})\n",
                    text(&created["name"]),
                    text(&created["type"])
                ),
            );
        }
        ConnectorCommand::Update { config, name } => {
            let document = read_config(config)?;
            let name = match (name, document["name"].as_str()) {
                (Some(given), Some(in_file)) if given != in_file => {
                    return Err(CliError::Config(format!(
                        "--name {given:?} differs from the name in {} ({in_file:?})",
                        config.display()
                    )))
                }
                (Some(given), _) => given.clone(),
                (None, Some(in_file)) => in_file.to_string(),
                (None, None) => {
                    return Err(CliError::Config(format!(
                        "{}: no connector name; give --name",
                        config.display()
                    )))
                }
            };
            let updated = client.call(
                "PUT",
                &format!("/connectors/{}/config", encode_segment(&name)),
                Some(&document["config"]),
            )?;
            print(
                &updated,
                format!(
                    "updated connector {} ({})\n",
                    text(&updated["name"]),
                    text(&updated["type"])
                ),
            );
        }
        ConnectorCommand::List => {
            let all = client.call("GET", "/connectors?expand=status&expand=info", None)?;
            let rows: Vec<Vec<String>> = all
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(name, v)| {
                            vec![
                                name.clone(),
                                text(&v["info"]["type"]),
                                text(&v["status"]["connector"]["state"]),
                                text(&v["info"]["config"]["connector.class"]),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            print(&all, table(&["NAME", "TYPE", "STATE", "CLASS"], &rows));
        }
        ConnectorCommand::Describe { name } => {
            let info = client.call(
                "GET",
                &format!("/connectors/{}", encode_segment(name)),
                None,
            )?;
            let status = client.call(
                "GET",
                &format!("/connectors/{}/status", encode_segment(name)),
                None,
            )?;
            let rows: Vec<Vec<String>> = info["config"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| vec![k.clone(), text(v)]).collect())
                .unwrap_or_default();
            let mut readable = format!(
                "name   {}\ntype   {}\nstate  {}\n\n",
                text(&info["name"]),
                text(&info["type"]),
                text(&status["connector"]["state"])
            );
            readable.push_str(&table(&["KEY", "VALUE"], &rows));
            print(&json!({"info": info, "status": status}), readable);
        }
        ConnectorCommand::Status { name } => {
            let status = client.call(
                "GET",
                &format!("/connectors/{}/status", encode_segment(name)),
                None,
            )?;
            let task = &status["tasks"][0];
            let note = task["trace"]
                .as_str()
                .or(task["retrying"].as_str())
                .unwrap_or("");
            let rows = vec![vec![
                text(&status["name"]),
                text(&status["type"]),
                text(&status["connector"]["state"]),
                text(&status["connector"]["worker_id"]),
                note.to_string(),
            ]];
            print(
                &status,
                table(&["NAME", "TYPE", "STATE", "WORKER", "TRACE"], &rows),
            );
        }
        ConnectorCommand::Pause { name }
        | ConnectorCommand::Resume { name }
        | ConnectorCommand::Stop { name }
        | ConnectorCommand::Restart { name }
        | ConnectorCommand::Delete { name } => {
            let (method, action, done) = match &args.command {
                ConnectorCommand::Pause { .. } => ("PUT", "/pause", "paused"),
                ConnectorCommand::Resume { .. } => ("PUT", "/resume", "resumed"),
                ConnectorCommand::Stop { .. } => ("PUT", "/stop", "stopped"),
                ConnectorCommand::Restart { .. } => ("POST", "/restart", "restarted"),
                _ => ("DELETE", "", "deleted"),
            };
            client.call(
                method,
                &format!("/connectors/{}{action}", encode_segment(name)),
                None,
            )?;
            print(
                &json!({"name": name, "result": done}),
                format!("{done} connector {name}\n"),
            );
        }
        ConnectorCommand::Validate { config } => {
            let document = read_config(config)?;
            let class = document["config"]["connector.class"]
                .as_str()
                .ok_or_else(|| {
                    CliError::Config(format!("{}: no connector.class", config.display()))
                })?
                .to_string();
            let mut body = document["config"].clone();
            body["name"] = document["name"].clone();
            let result = client.call(
                "PUT",
                &format!(
                    "/connector-plugins/{}/config/validate",
                    encode_segment(&class)
                ),
                Some(&body),
            )?;
            let rows: Vec<Vec<String>> = result["configs"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .flat_map(|c| {
                            let key = text(&c["value"]["name"]);
                            c["value"]["errors"]
                                .as_array()
                                .cloned()
                                .unwrap_or_default()
                                .into_iter()
                                .map(move |e| vec![key.clone(), text(&e)])
                        })
                        .collect()
                })
                .unwrap_or_default();
            let count = result["error_count"].as_u64().unwrap_or(0);
            let readable = if count == 0 {
                "config is valid\n".to_string()
            } else {
                format!("{count} error(s)\n{}", table(&["KEY", "ERROR"], &rows))
            };
            print(&result, readable);
            if count > 0 {
                return Err(CliError::Config(format!(
                    "{} has {count} error(s)",
                    config.display()
                )));
            }
        }
        ConnectorCommand::Offsets {
            name,
            alter: Some(file),
            ..
        } => {
            let body = read_offsets(file)?;
            let answer = client.call(
                "PATCH",
                &format!("/connectors/{}/offsets", encode_segment(name)),
                Some(&body),
            )?;
            print(&answer, format!("{}\n", text(&answer["message"])));
        }
        ConnectorCommand::Offsets {
            name, reset: true, ..
        } => {
            let answer = client.call(
                "DELETE",
                &format!("/connectors/{}/offsets", encode_segment(name)),
                None,
            )?;
            print(&answer, format!("{}\n", text(&answer["message"])));
        }
        ConnectorCommand::Topics { name, reset } => {
            let path = format!("/connectors/{}/topics", encode_segment(name));
            if *reset {
                client.call("PUT", &format!("{path}/reset"), None)?;
                print(
                    &json!({"name": name, "result": "topics reset"}),
                    format!("reset the active topics of connector {name}\n"),
                );
            } else {
                let answer = client.call("GET", &path, None)?;
                let rows: Vec<Vec<String>> = answer[name.as_str()]["topics"]
                    .as_array()
                    .map(|ts| ts.iter().map(|t| vec![text(t)]).collect())
                    .unwrap_or_default();
                print(&answer, table(&["TOPIC"], &rows));
            }
        }
        ConnectorCommand::Offsets { name, .. } => {
            let offsets = client.call(
                "GET",
                &format!("/connectors/{}/offsets", encode_segment(name)),
                None,
            )?;
            let rows: Vec<Vec<String>> = offsets["offsets"]
                .as_array()
                .map(|os| {
                    os.iter()
                        .map(|o| vec![o["partition"].to_string(), o["offset"].to_string()])
                        .collect()
                })
                .unwrap_or_default();
            print(&offsets, table(&["PARTITION", "OFFSET"], &rows));
        }
    }
    Ok(())
}
