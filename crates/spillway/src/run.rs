//! `spillway run`: connectors in the foreground.
//!
//! Each connector runs until SIGINT or SIGTERM: a source stops reading, its pipeline writes
//! and commits what it has; a projection commits the batch in hand. Then the process exits
//! 0. What happens after an error is decided by its [`ErrorClass`] alone, in [`next_step`]:
//! a connection lost while running is retried with backoff; an error that needs the
//! operator ends the connector with its hint at start-up and waits for the fix once records
//! flowed; an error tied to the data ends it. A connector that ends stops the others, and
//! the process exits 1.

use crate::api;
use crate::connector::{self, Connector, ConnectorSpec, ProjectionSpec, SourceConfig};
use crate::format::RegistrySpec;
use crate::{CliError, DataDirArg};
use anyhow::{anyhow, Context};
use spillway_core::pipeline;
use spillway_core::state::{FileStateStore, StateStore};
use spillway_core::StreamWriter as _;
use spillway_core::{Classify, ErrorClass, EventEncoder};
use spillway_core::{OffsetStore, Source, SourceContext};
use spillway_kafka::KafkaReader;
use spillway_kafka::{KafkaOffsetStore, KafkaStateStore, KafkaWriter};
use spillway_mysql::MysqlSource;
use spillway_postgres::PostgresSource;
use spillway_projection::target::postgres::PostgresTargetClient;
use spillway_projection::target::sqlite::SqliteTarget;
use spillway_projection::target::{Target, TargetError};
use spillway_projection::{Decoder, Projector, SchemaSource, TargetUrl};
use spillway_registry::{Registry, RemoteRegistry, RemoteRegistryOptions};
use spillway_streams::{FileOffsetStore, LogConsumer, LogOffsetStore, LogWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

#[derive(clap::Args)]
pub struct RunArgs {
    /// Connector config file (JSON: one connector, bare or {"name", "config"}, or an array
    /// of them; or a connect-standalone `*.properties` file with `name=`); repeat for
    /// several connectors.
    #[arg(long = "config", visible_alias = "config-file", required = true)]
    configs: Vec<PathBuf>,
    #[command(flatten)]
    data: DataDirArg,
    /// Address of the HTTP API (`POST /query` against projections, `GET /metrics`,
    /// `GET /health`), served when given or when a projection runs [default:
    /// 127.0.0.1:8083; if that is taken, the API is left out with a warning]
    #[arg(long)]
    listen: Option<String>,
    #[command(flatten)]
    auth: api::AuthArgs,
    /// No progress bars: snapshot progress as log lines every 10 s (as in a pipe).
    #[arg(long)]
    quiet: bool,
}

/// Batches queued between source and pipeline.
const BATCH_QUEUE: usize = 4;
/// A run that lasted this long had connected: a transient failure after it is retried.
const HEALTHY_AFTER: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How one attempt ended: the error, its class, and whether records flowed before it.
struct Failure {
    class: ErrorClass,
    /// This attempt encoded records before it failed: it had been doing its job.
    flowed: bool,
    error: anyhow::Error,
}

impl Failure {
    fn new(class: ErrorClass, error: anyhow::Error) -> Self {
        Failure {
            class,
            flowed: false,
            error,
        }
    }

    /// An error that knows its class, with what was being done.
    fn of<E>(e: E, doing: &'static str) -> Self
    where
        E: Classify + std::error::Error + Send + Sync + 'static,
    {
        Failure::new(e.class(), anyhow!(e).context(doing))
    }
}

/// What the runner does after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Try again after a backoff; the status shows the retry and its reason.
    Retry,
    /// Try again after a backoff while an operator fixes what the message says.
    Wait,
    /// End the connector with the error.
    Fail,
}

/// The one decision: a failed attempt's next step from its class. `was_up`: an earlier
/// attempt ran, or this one ran [`HEALTHY_AFTER`] (an outage, not a wrong address);
/// `flowed`: records were encoded in this attempt, or the previous one was already waiting
/// for the operator (a fix can come while it runs; at start-up the operator is there to
/// read the hint).
fn next_step(class: ErrorClass, was_up: bool, flowed: bool) -> Step {
    match class {
        ErrorClass::Transient if was_up => Step::Retry,
        ErrorClass::NeedsOperator if flowed => Step::Wait,
        ErrorClass::Transient | ErrorClass::NeedsOperator | ErrorClass::Definite => Step::Fail,
    }
}

pub async fn run(args: RunArgs) -> Result<(), CliError> {
    let auth = api::Auth::from_args(&args.auth)?;
    let mut loaded = Vec::new();
    for path in &args.configs {
        loaded.extend(connector::load_all(path)?);
    }
    let mut names = std::collections::HashSet::new();
    for l in &loaded {
        if !names.insert(l.connector.name().to_string()) {
            return Err(CliError::Config(format!(
                "name: two connectors are named {:?}; each needs a name of its own",
                l.connector.name()
            )));
        }
    }
    let data_dir = args.data.data_dir;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    for l in &loaded {
        connector::store(&data_dir, l)?;
    }
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tokio::spawn(wait_for_signal(shutdown_tx.clone()));
    // One embedded registry per data directory, served once for every source using it.
    let mut registry = None;
    for l in &loaded {
        if let Connector::Source(spec) = &l.connector {
            if registry.is_none() {
                registry = start_registry(spec, &data_dir, &auth, shutdown_rx.clone()).await?;
            } else if let Some(RegistrySpec::Remote(options)) = &spec.format.registry {
                info!(connector = %spec.name, url = %spillway_core::secret::mask_in_text(&options.urls.join(",")), "schema registry (remote)");
            }
        }
    }
    let projections: Vec<(String, TargetUrl)> = loaded
        .iter()
        .filter_map(|l| match &l.connector {
            Connector::Projection(p) => Some((p.config.name.clone(), target_of(p, &data_dir))),
            Connector::Source(_) => None,
        })
        .collect();
    if !projections.is_empty() || args.listen.is_some() {
        api::start(
            args.listen.as_deref(),
            auth,
            projections,
            shutdown_rx.clone(),
        )
        .await?;
    }
    tokio::spawn(crate::progress::show(args.quiet, shutdown_rx.clone()));
    let mut tasks = tokio::task::JoinSet::new();
    for l in loaded {
        let data_dir = data_dir.clone();
        let registry = registry.clone();
        let shutdown = shutdown_rx.clone();
        let name = l.connector.name().to_string();
        tasks.spawn(async move {
            let result = run_one(
                &l.connector,
                &data_dir,
                registry.as_ref(),
                shutdown,
                Arc::new(|_| {}),
            )
            .await;
            (name, result)
        });
    }
    // The first connector to fail stops the others.
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let (name, result) = joined.map_err(|e| anyhow!("connector task failed: {e}"))?;
        if let Err(e) = result {
            if failure.is_none() {
                if !tasks.is_empty() {
                    warn!(connector = %name, "stopping the other connectors");
                }
                shutdown_tx.send_replace(true);
                failure = Some(e);
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

/// What a running connector tells whoever watches it.
pub enum Event {
    /// An attempt started.
    Running,
    /// An attempt failed in a way worth retrying; the next one starts after a backoff.
    Retrying(String),
    /// The attempt has run a while without failing.
    Healthy,
}

/// Receives a connector's [`Event`]s.
pub type Observer = Arc<dyn Fn(Event) + Send + Sync>;

/// Runs a connector until `shutdown` (Ok) or a failure it does not retry (Err).
pub async fn run_one(
    connector: &Connector,
    data_dir: &Path,
    registry: Option<&Arc<Registry>>,
    shutdown: watch::Receiver<bool>,
    observer: Observer,
) -> Result<(), CliError> {
    match connector {
        Connector::Source(spec) => {
            run_connector(&spec.name, shutdown.clone(), &observer, || {
                run_once(spec, data_dir, registry, shutdown.clone())
            })
            .await
        }
        Connector::Projection(spec) => {
            run_connector(&spec.config.name, shutdown.clone(), &observer, || {
                project_once(spec, data_dir, shutdown.clone())
            })
            .await
        }
    }
}

/// Runs one connector's attempts until it stops cleanly or fails for good: transient
/// failures are retried with backoff once a run had started well.
async fn run_connector<F, Fut>(
    name: &str,
    shutdown_rx: watch::Receiver<bool>,
    observer: &Observer,
    attempt_once: F,
) -> Result<(), CliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    info!(connector = %name, "connector starting");
    spillway_core::metrics::up(name, true);
    let result = attempts(name, shutdown_rx, observer, attempt_once).await;
    spillway_core::metrics::up(name, false);
    result
}

async fn attempts<F, Fut>(
    name: &str,
    shutdown_rx: watch::Receiver<bool>,
    observer: &Observer,
    mut attempt_once: F,
) -> Result<(), CliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    let mut backoff = Duration::from_secs(1);
    let mut attempt = 0u32;
    // The previous attempt ended waiting for the operator.
    let mut waiting = false;
    loop {
        attempt += 1;
        let started = Instant::now();
        observer(Event::Running);
        // An attempt that has run a while without failing is healthy again.
        let attempt_run = attempt_once();
        tokio::pin!(attempt_run);
        let result = tokio::select! {
            result = &mut attempt_run => result,
            _ = tokio::time::sleep(HEALTHY_AFTER) => {
                spillway_core::metrics::waiting(name, false);
                observer(Event::Healthy);
                attempt_run.await
            }
        };
        let failure = match result {
            Ok(()) => {
                info!(connector = %name, "connector stopped");
                return Ok(());
            }
            Err(failure) => failure,
        };
        let was_up = attempt > 1 || started.elapsed() >= HEALTHY_AFTER;
        let step = next_step(failure.class, was_up, failure.flowed || waiting);
        waiting = step == Step::Wait;
        spillway_core::metrics::waiting(name, waiting);
        let e = failure.error;
        match step {
            Step::Retry | Step::Wait if !*shutdown_rx.borrow() => {
                if started.elapsed() >= HEALTHY_AFTER {
                    backoff = Duration::from_secs(1);
                }
                if step == Step::Wait {
                    warn!(connector = %name, error = %format!("{e:#}"), retry_in = ?backoff, "connector failed; retrying while it waits for the operator");
                } else {
                    warn!(connector = %name, error = %format!("{e:#}"), retry_in = ?backoff, "connector failed; retrying");
                }
                spillway_core::metrics::restarted(name);
                observer(Event::Retrying(format!("{e:#}")));
                let mut shutdown = shutdown_rx.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Step::Retry | Step::Wait | Step::Fail => {
                error!(connector = %name, "connector failed");
                return Err(CliError::Runtime(e));
            }
        }
    }
}

/// The database a projection writes: its `connection.url`, else a SQLite file in the data
/// directory.
pub fn target_of(spec: &ProjectionSpec, data_dir: &Path) -> TargetUrl {
    spec.config.target.clone().unwrap_or_else(|| {
        TargetUrl::Sqlite(
            data_dir
                .join("projections")
                .join(format!("{}.db", spec.config.name)),
        )
    })
}

/// One attempt of a projection: open its target and stream, then project until shutdown.
async fn project_once(
    spec: &ProjectionSpec,
    data_dir: &Path,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Failure> {
    let config = &spec.config;
    let target_url = target_of(spec, data_dir);
    let schemas = match &config.registry_url {
        Some(urls) => SchemaSource::Remote(RemoteRegistry::new(RemoteRegistryOptions {
            urls: urls
                .split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect(),
            user_info: config
                .registry_user_info
                .as_ref()
                .map(|s| s.expose().to_string()),
            ..RemoteRegistryOptions::default()
        })),
        None => SchemaSource::Embedded {
            dir: data_dir.join("registry"),
            registry: None,
        },
    };
    let decoder = Decoder::new(schemas, config.placeholder.clone());
    let target_failure = |e: TargetError| {
        let class = e.class();
        let e = anyhow!(e).context(format!(
            "cannot open projection target {}",
            target_url.display()
        ));
        Failure::new(class, e)
    };
    info!(connector = %config.name, target = %target_url.display(), topics = %config.topics.describe(), "projection target");
    match &target_url {
        TargetUrl::Sqlite(path) => {
            let target = SqliteTarget::open(path, &config.offsets_table).map_err(target_failure)?;
            project_with(spec, data_dir, target, decoder, shutdown).await
        }
        TargetUrl::Postgres(pg) => {
            let target = PostgresTargetClient::connect(pg, &config.offsets_table)
                .await
                .map_err(target_failure)?;
            project_with(spec, data_dir, target, decoder, shutdown).await
        }
    }
}

async fn project_with<T: Target>(
    spec: &ProjectionSpec,
    data_dir: &Path,
    target: T,
    decoder: Decoder,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Failure> {
    let config = spec.config.clone();
    let result = match &spec.kafka {
        Some(kafka) => {
            let group = format!("connect-{}", config.name);
            let reader = KafkaReader::new(kafka, &group, &spec.consumer).map_err(|e| {
                Failure::new(
                    ErrorClass::NeedsOperator,
                    anyhow!(e).context("cannot set up the Kafka consumer"),
                )
            })?;
            let stream = format!("Kafka at {}", kafka.servers());
            let reader = Tracked::new(reader, data_dir, &config.name);
            Projector::new(config, reader, target, decoder, stream)
                .run(shutdown)
                .await
        }
        None => {
            let reader = LogConsumer::open(data_dir).map_err(|e| {
                Failure::new(
                    ErrorClass::NeedsOperator,
                    anyhow!(e).context("cannot open the embedded log"),
                )
            })?;
            let stream = format!("the embedded log in {}", data_dir.display());
            let reader = Tracked::new(reader, data_dir, &config.name);
            Projector::new(config, reader, target, decoder, stream)
                .run(shutdown)
                .await
        }
    };
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::new(e.class(), anyhow!(e))),
    }
}

/// Opens the embedded schema registry when the format uses it, and serves its REST API.
pub async fn start_registry(
    spec: &ConnectorSpec,
    data_dir: &Path,
    auth: &api::Auth,
    shutdown: watch::Receiver<bool>,
) -> Result<Option<Arc<Registry>>, CliError> {
    match &spec.format.registry {
        Some(RegistrySpec::Embedded { listen, user_info }) => {
            let registry = spec
                .format
                .open_registry(data_dir)?
                .expect("embedded registry");
            let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
                CliError::Config(format!(
                    "schema.registry.embedded.listen: cannot listen on {listen} for the embedded schema registry: {e} \
                     (set schema.registry.embedded.listen to a free address, or schema.registry.url to use another registry)"
                ))
            })?;
            info!(url = %format!("http://{listen}"), store = %data_dir.join("registry").display(), "schema registry (embedded) serving");
            let served = registry.clone();
            let access = spillway_registry::server::Access {
                user_info: user_info.as_ref().map(|s| s.expose().to_string()),
                writers: auth.headers(),
            };
            tokio::spawn(async move {
                if let Err(e) =
                    spillway_registry::server::serve(listener, served, access, shutdown).await
                {
                    error!(error = %e, "embedded schema registry stopped");
                }
            });
            Ok(Some(registry))
        }
        Some(RegistrySpec::Remote(options)) => {
            info!(url = %spillway_core::secret::mask_in_text(&options.urls.join(",")), "schema registry (remote)");
            Ok(None)
        }
        None => Ok(None),
    }
}

async fn run_once(
    spec: &ConnectorSpec,
    data_dir: &Path,
    registry: Option<&Arc<Registry>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Failure> {
    let file_store = FileOffsetStore::open(data_dir, &spec.name)
        .map_err(|e| Failure::of(e, "cannot open the offset store"))?;
    // With the embedded log, the connector's checkpoint is committed with its records; the
    // writer is flushed first so that batches an earlier attempt queued are counted.
    let log_writer = match &spec.kafka {
        Some(_) => None,
        None => {
            let cannot_open = |e: &dyn std::fmt::Display| {
                Failure::new(
                    ErrorClass::NeedsOperator,
                    anyhow!("{e}").context("cannot open the embedded log"),
                )
            };
            let mut writer =
                LogWriter::open_shared(data_dir, spec.log).map_err(|e| cannot_open(&e))?;
            writer.flush().await.map_err(|e| cannot_open(&e))?;
            Some(writer)
        }
    };
    // With Kafka as the stream, offsets live in Kafka too (a file's offset, from before, is
    // taken over once).
    let mut store: Box<dyn OffsetStore> = match (&spec.kafka, &log_writer) {
        (None, Some(writer)) => {
            Box::new(LogOffsetStore::new(file_store, writer.handle(), &spec.name))
        }
        (None, None) => Box::new(file_store),
        (Some(kafka), _) => Box::new(
            KafkaOffsetStore::new(
                kafka.clone(),
                &spec.name,
                &spec.logical_name,
                Some(Box::new(file_store)),
            )
            .map_err(|e| {
                Failure::new(
                    ErrorClass::NeedsOperator,
                    anyhow!(e).context("cannot open the offset store"),
                )
            })?,
        ),
    };
    let resume = store.load().map_err(|e| {
        // Brokers away: retried like any other outage of the stream.
        let failure = anyhow!(e).context("cannot read committed offsets");
        if spec.kafka.is_some() {
            Failure::new(
                ErrorClass::Transient,
                failure.context("Kafka stream failed"),
            )
        } else {
            Failure::new(ErrorClass::NeedsOperator, failure)
        }
    })?;
    if let Some(offset) = &resume {
        info!(position = %offset.position, "resuming from committed offset");
    }
    let (batch_tx, batch_rx) = mpsc::channel(BATCH_QUEUE);
    let (committed_tx, committed_rx) = watch::channel(resume.clone());
    let ctx = SourceContext {
        batches: batch_tx,
        committed: committed_rx,
        shutdown,
        resume,
        state: Some(state_store(spec, data_dir)),
    };
    let source_task = match &spec.source {
        SourceConfig::Postgres(config) => {
            let source = PostgresSource::new(config.clone());
            tokio::spawn(async move { source.run(ctx).await.map_err(Failure::from) })
        }
        SourceConfig::Mysql(config) => {
            let source = MysqlSource::new(config.clone());
            tokio::spawn(async move { source.run(ctx).await.map_err(Failure::from) })
        }
    };
    let encoded = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let encoder = Box::new(Counting {
        inner: spec.format.encoder(registry),
        encoded: encoded.clone(),
    });
    let pipeline_result = match &spec.kafka {
        Some(kafka) => {
            let writer = KafkaWriter::new(kafka.clone()).map_err(|e| {
                Failure::new(
                    ErrorClass::NeedsOperator,
                    anyhow!(e).context("cannot set up the Kafka stream"),
                )
            })?;
            pipeline::run(
                batch_rx,
                encoder,
                Tracked::new(writer, data_dir, &spec.name),
                store,
                committed_tx,
                spec.pipeline.clone(),
            )
            .await
        }
        None => {
            let writer = log_writer
                .expect("the embedded log is open")
                .with_topic_rules(Arc::clone(&spec.topic_rules));
            pipeline::run(
                batch_rx,
                encoder,
                Tracked::new(writer, data_dir, &spec.name),
                store,
                committed_tx,
                spec.pipeline.clone(),
            )
            .await
        }
    };
    let flowed = encoded.load(std::sync::atomic::Ordering::Relaxed) > 0;
    if let Err(e) = &pipeline_result {
        // Nothing takes the source's batches any more; it may be idle and never notice.
        source_task.abort();
        let class = e.class();
        if class != ErrorClass::Definite {
            let _ = source_task.await;
        }
        let e = pipeline_result.expect_err("an error");
        let context = match (&e, class) {
            (spillway_core::PipelineError::Stream(_), ErrorClass::Transient) => {
                "Kafka stream failed"
            }
            _ => "pipeline failed",
        };
        return Err(Failure {
            class,
            flowed,
            error: anyhow!(e).context(context),
        });
    }
    let source_result = match source_task.await {
        Ok(result) => result,
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => {
            return Err(Failure::new(
                ErrorClass::Definite,
                anyhow!("source task failed: {e}"),
            ))
        }
    };
    if let Ok(stats) = pipeline_result {
        info!(
            events = stats.events,
            records = stats.records,
            commits = stats.commits,
            "pipeline finished"
        );
    }
    source_result.map_err(|mut failure| {
        failure.flowed = flowed;
        failure
    })
}

/// Where the source keeps its own state: Kafka topics with the Kafka stream, else files
/// beside the offsets.
fn state_store(spec: &ConnectorSpec, data_dir: &Path) -> Arc<dyn StateStore> {
    match &spec.kafka {
        Some(kafka) => {
            let mut options = kafka.clone();
            if let Some(servers) = &spec.state_servers {
                options
                    .producer
                    .insert("bootstrap.servers".to_string(), servers.clone());
            }
            Arc::new(KafkaStateStore::new(
                options,
                spec.state_topics.clone(),
                format!("spillway-state.{}", spec.name),
            ))
        }
        None => Arc::new(FileStateStore::new(data_dir.join("state").join(&spec.name))),
    }
}

impl From<spillway_postgres::PostgresError> for Failure {
    fn from(e: spillway_postgres::PostgresError) -> Self {
        Failure::new(e.class(), anyhow!(e))
    }
}

impl From<spillway_mysql::MysqlError> for Failure {
    fn from(e: spillway_mysql::MysqlError) -> Self {
        Failure::new(e.class(), anyhow!(e))
    }
}

/// A stream writer or reader that adds the topics it writes or reads to its connector's
/// active topics ([`active_topics`](crate::active_topics)).
struct Tracked<S> {
    inner: S,
    topics: Arc<crate::active_topics::ActiveTopics>,
}

impl<S> Tracked<S> {
    fn new(inner: S, data_dir: &Path, connector: &str) -> Self {
        Tracked {
            inner,
            topics: crate::active_topics::of(data_dir, connector),
        }
    }
}

impl<W: spillway_core::StreamWriter> spillway_core::StreamWriter for Tracked<W> {
    async fn send(
        &mut self,
        batch: Vec<spillway_core::Record>,
        ack: spillway_core::Ack,
    ) -> Result<(), spillway_core::StreamError> {
        self.topics.record(batch.iter().map(|r| &*r.topic));
        self.inner.send(batch, ack).await
    }

    async fn flush(&mut self) -> Result<(), spillway_core::StreamError> {
        self.inner.flush().await
    }
}

impl<R: spillway_core::StreamReader> spillway_core::StreamReader for Tracked<R> {
    async fn topics(&mut self) -> Result<Vec<(String, u32)>, spillway_core::StreamError> {
        self.inner.topics().await
    }

    fn assign(
        &mut self,
        positions: &[(spillway_core::TopicPartition, u64)],
    ) -> Result<(), spillway_core::StreamError> {
        self.inner.assign(positions)
    }

    async fn poll(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<spillway_core::StreamRecord>, spillway_core::StreamError> {
        let records = self.inner.poll(max, wait).await?;
        self.topics.record(records.iter().map(|r| &*r.topic));
        Ok(records)
    }

    fn processed(&mut self, positions: &[(spillway_core::TopicPartition, u64)]) {
        self.inner.processed(positions)
    }
}

/// Counts what the encoder encoded, so a failure knows whether records flowed before it.
struct Counting {
    inner: Box<dyn EventEncoder>,
    encoded: Arc<std::sync::atomic::AtomicU64>,
}

impl EventEncoder for Counting {
    fn key(
        &mut self,
        table: &spillway_core::TableSchema,
        row: &spillway_core::Row,
    ) -> Result<Option<Vec<u8>>, spillway_core::EncodeError> {
        self.inner.key(table, row)
    }

    fn value(
        &mut self,
        event: &spillway_core::ChangeEvent,
    ) -> Result<Vec<u8>, spillway_core::EncodeError> {
        let value = self.inner.value(event)?;
        self.encoded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(value)
    }

    fn key_header(
        &mut self,
        table: &spillway_core::TableSchema,
        row: &spillway_core::Row,
    ) -> Result<Vec<u8>, spillway_core::EncodeError> {
        self.inner.key_header(table, row)
    }

    fn heartbeat(
        &mut self,
        heartbeat: &spillway_core::Heartbeat,
    ) -> Result<(Vec<u8>, Vec<u8>), spillway_core::EncodeError> {
        self.inner.heartbeat(heartbeat)
    }

    fn struct_record(
        &mut self,
        record: &spillway_core::StructRecord,
    ) -> Result<(Vec<u8>, Vec<u8>), spillway_core::EncodeError> {
        self.inner.struct_record(record)
    }
}

pub async fn wait_for_signal(shutdown: watch::Sender<bool>) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            shutdown.send_replace(true);
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    info!("shutting down: flushing and committing");
    shutdown.send_replace(true);
}
