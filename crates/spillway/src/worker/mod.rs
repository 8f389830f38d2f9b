//! `spillway worker`: runs any number of connectors, managed over a REST API with Kafka
//! Connect's paths and bodies ([`rest`]).
//!
//! Each connector's config is kept in `<data-dir>/connectors/<name>.json` and its target
//! state (running, paused or stopped) in `<name>.state`, both replaced atomically, so a
//! restarted worker runs again what ran, from the offsets each connector committed.
//!
//! ```text
//!  REST ──> Worker ──> Managed connector ──> run::run_one (retries, backoff)
//!              │            │  status <── observer events (running, retrying)
//!              └── data dir: configs, target states
//! ```
//!
//! Pause and stop both end the connector's run gracefully (a source commits what it wrote,
//! a projection its batch) and differ only in the state shown; resume starts it again from
//! its offsets. A failure that is not retried leaves the connector `FAILED` with the error
//! as its trace until it is restarted or its config changes.
//!
//! The parts: this file holds the command (flags, start-up, shutdown) and the request
//! errors; `connectors` the [`Worker`], each connector's lifecycle and its kept state;
//! `state` the target and status a connector shows; [`rest`] the HTTP API.

mod connectors;
mod offsets;
mod paths;
pub mod rest;
mod secrets;
mod state;

pub use connectors::Worker;
pub use secrets::masked;
pub use state::{Status, Target};

use crate::connector::{self, Loaded};
use crate::run;
use crate::CliError;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::watch;
use tracing::info;

/// `spillway worker` arguments.
#[derive(clap::Args)]
pub struct WorkerArgs {
    /// Address of the REST API (Kafka Connect's port by default).
    #[arg(long, env = "SPILLWAY_LISTEN", default_value = crate::api::DEFAULT_LISTEN)]
    listen: String,
    #[command(flatten)]
    data: crate::DataDirArg,
    #[command(flatten)]
    auth: crate::api::AuthArgs,
    /// Keep connector configs and states in a Kafka topic of this cluster too (as Kafka
    /// Connect's config topic), so a worker on another machine takes them over.
    #[arg(long, env = "SPILLWAY_KAFKA_BOOTSTRAP_SERVERS")]
    kafka_bootstrap_servers: Option<String>,
    /// The topic of `--kafka-bootstrap-servers` the configs go to (one partition, kept).
    #[arg(
        long,
        env = "SPILLWAY_CONFIG_STORAGE_TOPIC",
        default_value = "spillway-configs"
    )]
    config_storage_topic: String,
    /// A directory outside the data directory where connectors created over the API may
    /// name files (sqlite: targets, certificates); repeat for several.
    #[arg(long = "allow-path")]
    allow_paths: Vec<PathBuf>,
    /// A worker properties file declaring Kafka Connect config providers for every
    /// connector (`config.providers=...`, `config.providers.NAME.class`, `.param.*`).
    #[arg(long, env = "SPILLWAY_WORKER_CONFIG")]
    worker_config: Option<PathBuf>,
}

/// Runs the worker until SIGINT or SIGTERM: restores the kept connectors, serves the API,
/// then stops every connector gracefully.
pub async fn worker(args: WorkerArgs) -> Result<(), CliError> {
    use anyhow::Context;
    let data_dir = args.data.data_dir;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let auth = crate::api::Auth::from_args(&args.auth)?;
    if let Some(path) = &args.worker_config {
        connector::set_worker_providers(worker_providers(path)?);
    } else {
        connector::set_worker_providers(Default::default());
    }
    let address = crate::api::listen_address("--listen", &args.listen).await?;
    crate::api::check_listen(
        "--listen",
        address,
        auth.required(),
        crate::api::LISTEN_NEEDS_AUTH,
    )?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| CliError::Config(format!("--listen: cannot listen on {address}: {e}")))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tokio::spawn(run::wait_for_signal(shutdown_tx));
    let id = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(args.listen.clone());
    let configs = match &args.kafka_bootstrap_servers {
        None => None,
        Some(servers) => {
            let map = spillway_core::ConfigMap::from_pairs([(
                "kafka.bootstrap.servers",
                servers.as_str(),
            )]);
            let options = spillway_kafka::KafkaOptions::from_config(&map)
                .map_err(|e| {
                    CliError::Config(
                        e.to_string()
                            .replace("`kafka.bootstrap.servers`", "--kafka-bootstrap-servers"),
                    )
                })?
                .ok_or_else(|| {
                    CliError::Config("--kafka-bootstrap-servers: give host:port".to_string())
                })?;
            let store = spillway_kafka::KafkaStateStore::new(
                options,
                [(CONFIG_LOG.to_string(), args.config_storage_topic.clone())]
                    .into_iter()
                    .collect(),
                "spillway".to_string(),
            );
            use spillway_core::state::StateStore;
            let log = store
                .open(CONFIG_LOG)
                .map_err(|e| CliError::Runtime(anyhow::anyhow!(e)))?;
            info!(servers = %servers, topic = %args.config_storage_topic, "connector configs kept in Kafka");
            Some(Mutex::new(log))
        }
    };
    let paths = paths::PathPolicy::new(&data_dir, &args.allow_paths)
        .map_err(|e| CliError::Config(format!("--allow-path: {e}")))?;
    let worker = Worker::new(
        data_dir.clone(),
        id.clone(),
        auth.clone(),
        paths,
        shutdown_rx.clone(),
        configs,
    );
    info!(url = %format!("http://{id}"), data_dir = %data_dir.display(), auth = auth.required(), "worker REST API serving");
    worker.restore().await?;
    let app = rest::router(worker.clone(), auth);
    let mut stop = shutdown_rx.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .context("the REST API stopped")?;
    worker.shutdown().await;
    info!("worker stopped");
    Ok(())
}

/// The config providers a worker properties file declares; any other key in it is refused
/// (the worker's own settings are its flags).
fn worker_providers(path: &Path) -> Result<spillway_core::providers::Providers, CliError> {
    let at = |e: &dyn std::fmt::Display| {
        CliError::Config(format!("--worker-config {}: {e}", path.display()))
    };
    let bytes = spillway_core::config::read_file_capped(path).map_err(|e| at(&e))?;
    let text = String::from_utf8(bytes).map_err(|_| at(&"not UTF-8 text"))?;
    let entries = spillway_core::properties::parse(&text).map_err(|e| at(&e))?;
    if let Some(key) = entries
        .keys()
        .find(|k| !k.starts_with(spillway_core::providers::PROVIDERS_KEY))
    {
        return Err(at(&format!(
            "`{}`: a worker file here declares config providers only (config.providers*); the worker's other settings are its flags",
            spillway_core::secret::printable(key)
        )));
    }
    spillway_core::providers::Providers::from_entries(&entries).map_err(|e| at(&e))
}

/// The state log connector configs go to with `--kafka-bootstrap-servers`.
const CONFIG_LOG: &str = "connector-configs";

/// Why a request could not be done.
#[derive(Debug)]
pub enum WorkerError {
    NotFound(String),
    Conflict(String),
    BadRequest(String),
    Internal(String),
}

/// A `{"name", "config"}` body (or a bare config with a `name` key) as a connector.
pub fn parse_document(document: &Value) -> Result<Loaded, WorkerError> {
    let config =
        connector::config_of(document).map_err(|e| WorkerError::BadRequest(e.to_string()))?;
    if config.name().is_none() {
        return Err(WorkerError::BadRequest(
            "the connector needs a name: {\"name\": ..., \"config\": {...}}".to_string(),
        ));
    }
    let connector =
        connector::parse_any(&config).map_err(|e| WorkerError::BadRequest(e.to_string()))?;
    let inner = document.get("config").unwrap_or(document);
    Ok(Loaded {
        document: json!({"name": connector.name(), "config": inner}),
        connector,
    })
}
