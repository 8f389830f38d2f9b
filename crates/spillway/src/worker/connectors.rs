//! [`Worker`]: the connectors of one worker and their lifecycle (install, run, pause,
//! stop, restart, delete), their configs and target states kept in the data directory and,
//! with a Kafka cluster, in its config log.

use super::{masked, parse_document, Status, Target, WorkerError};
use super::{offsets, paths, secrets};
use crate::connector::{self, Connector, Loaded, SourceConfig};
use crate::format::RegistrySpec;
use crate::run::{self, Event};
use crate::CliError;
use serde_json::{json, Value};
use spillway_registry::Registry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// A connector the worker manages.
struct Managed {
    /// `{"name", "config"}` as last given, secrets included.
    document: Value,
    kind: &'static str,
    target: Target,
    status: Arc<Mutex<Status>>,
    run: Option<RunHandle>,
}

struct RunHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The connectors of one worker.
pub struct Worker {
    data_dir: PathBuf,
    /// Where the REST API listens, as status reports name the worker.
    pub id: String,
    connectors: tokio::sync::Mutex<BTreeMap<String, Managed>>,
    /// Held by every change of connectors (create, config, state, restart, delete), so they
    /// happen one at a time; `connectors` is only held briefly, never while a run stops.
    ops: tokio::sync::Mutex<()>,
    /// The embedded schema registry, once a connector needs it.
    registry: tokio::sync::Mutex<Option<Arc<Registry>>>,
    /// The REST API's credentials, also needed for changes to the embedded registry.
    auth: crate::api::Auth,
    /// Where configs may name files.
    paths: paths::PathPolicy,
    shutdown: watch::Receiver<bool>,
    /// With a Kafka cluster: every config and state change, one JSON line each.
    configs: Option<Mutex<Box<dyn spillway_core::state::StateLog>>>,
}

fn state_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("connectors").join(format!("{name}.state"))
}

/// The kind Kafka Connect gives a connector.
fn kind_of(connector: &Connector) -> &'static str {
    match connector {
        Connector::Source(_) => "source",
        Connector::Projection(_) => "sink",
    }
}

impl Worker {
    /// A worker over `data_dir`, known as `id`; nothing runs yet.
    pub fn new(
        data_dir: PathBuf,
        id: String,
        auth: crate::api::Auth,
        paths: paths::PathPolicy,
        shutdown: watch::Receiver<bool>,
        configs: Option<Mutex<Box<dyn spillway_core::state::StateLog>>>,
    ) -> Arc<Worker> {
        Arc::new(Worker {
            data_dir,
            id,
            connectors: tokio::sync::Mutex::new(BTreeMap::new()),
            ops: tokio::sync::Mutex::new(()),
            registry: tokio::sync::Mutex::new(None),
            auth,
            paths,
            shutdown,
            configs,
        })
    }

    /// A connector from a config that came over the API or from the Kafka config topic:
    /// parsed, and refused when it names files outside the allowed directories.
    fn accept(&self, document: &Value) -> Result<Loaded, WorkerError> {
        self.paths
            .check(document.get("config").unwrap_or(document))?;
        parse_document(document)
    }

    /// Records a connector's config (`None`: deleted) and state in the Kafka config log.
    fn record(
        &self,
        name: &str,
        document: Option<&Value>,
        target: Target,
    ) -> Result<(), WorkerError> {
        let Some(log) = &self.configs else {
            return Ok(());
        };
        let line =
            json!({"connector": name, "config": document, "state": target.as_str()}).to_string();
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        tokio::task::block_in_place(|| log.append(&line)).map_err(|e| {
            WorkerError::Internal(format!("cannot record connector {name} in Kafka: {e}"))
        })
    }

    /// Makes the data directory hold the configs and states the Kafka config log has.
    fn take_over_from_kafka(&self) -> Result<(), CliError> {
        let Some(log) = &self.configs else {
            return Ok(());
        };
        let lines = {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            tokio::task::block_in_place(|| log.read())
                .map_err(|e| CliError::Runtime(anyhow::anyhow!(e)))?
        };
        let mut latest: BTreeMap<String, (Value, Target)> = BTreeMap::new();
        for line in lines {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let Some(name) = entry["connector"].as_str() else {
                continue;
            };
            if entry["config"].is_null() {
                latest.remove(name);
            } else {
                let target = Target::parse(entry["state"].as_str().unwrap_or(""));
                latest.insert(name.to_string(), (entry["config"].clone(), target));
            }
        }
        let dir = self.data_dir.join("connectors");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.filter_map(|e| e.ok()) {
                let file = entry.file_name().to_string_lossy().into_owned();
                let name = file.trim_end_matches(".json").trim_end_matches(".state");
                if !latest.contains_key(name) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        for (name, (document, target)) in latest {
            match self.accept(&document) {
                Ok(loaded) if loaded.connector.name() != name => {
                    warn!(connector = %spillway_core::secret::printable(&name), "config from Kafka names another connector; not started")
                }
                Ok(loaded) => {
                    connector::store(&self.data_dir, &loaded)?;
                    self.persist_target(&name, target)
                        .map_err(|e| CliError::Runtime(anyhow::anyhow!("{e:?}")))?;
                }
                Err(e) => {
                    warn!(connector = %name, error = ?e, "config from Kafka is not valid; not started")
                }
            }
        }
        Ok(())
    }

    /// Runs again the connectors kept in the data directory, in the state they were left.
    pub async fn restore(self: &Arc<Self>) -> Result<(), CliError> {
        self.take_over_from_kafka()?;
        let dir = self.data_dir.join("connectors");
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".json"))
                        .filter(|n| !n.starts_with('.'))
                        .map(str::to_string)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        for name in names {
            let path = connector::stored_path(&self.data_dir, &name);
            let loaded = match connector::load_all(&path) {
                Ok(l) if l.len() == 1 && self.paths.check(&l[0].document["config"]).is_err() => {
                    warn!(connector = %name, "kept connector config names files outside the allowed directories; not started");
                    continue;
                }
                Ok(mut l) if l.len() == 1 => l.remove(0),
                Ok(_) => continue,
                Err(e) => {
                    warn!(connector = %name, error = %error_text(e), "kept connector config is not valid; not started");
                    continue;
                }
            };
            let target = std::fs::read_to_string(state_path(&self.data_dir, &name))
                .map(|s| Target::parse(&s))
                .unwrap_or(Target::Running);
            info!(connector = %name, state = target.as_str(), "connector restored");
            self.install(loaded, target).await;
        }
        Ok(())
    }

    fn persist_target(&self, name: &str, target: Target) -> Result<(), WorkerError> {
        let path = state_path(&self.data_dir, name);
        let tmp = path.with_extension("state.tmp");
        std::fs::write(&tmp, target.as_str())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                WorkerError::Internal(format!("cannot keep the state of connector {name}: {e}"))
            })
    }

    /// Adds (or replaces) a connector and starts it when `target` is running.
    async fn install(self: &Arc<Self>, loaded: Loaded, target: Target) {
        let name = loaded.connector.name().to_string();
        let status = Arc::new(Mutex::new(Status::new(match target {
            Target::Running => "UNASSIGNED",
            other => other.as_str(),
        })));
        let mut managed = Managed {
            document: loaded.document.clone(),
            kind: kind_of(&loaded.connector),
            target,
            status: status.clone(),
            run: None,
        };
        if target == Target::Running {
            managed.run = Some(self.spawn(loaded.connector, status).await);
        }
        self.connectors.lock().await.insert(name, managed);
    }

    /// Starts a connector's run in a task of its own.
    ///
    /// A PostgreSQL source with `slot.drop.on.stop` runs without it: pausing keeps the
    /// slot; the worker drops it when the connector is stopped or deleted, or the worker
    /// shuts down ([`release_slot`]), as Kafka Connect stopping the task would.
    async fn spawn(
        self: &Arc<Self>,
        mut connector: Connector,
        status: Arc<Mutex<Status>>,
    ) -> RunHandle {
        if let Connector::Source(spec) = &mut connector {
            if let SourceConfig::Postgres(pg) = &mut spec.source {
                pg.slot_drop_on_stop = false;
            }
        }
        let registry = self.registry_for(&connector).await;
        let (stop_tx, stop_rx) = watch::channel(false);
        let data_dir = self.data_dir.clone();
        let global = self.shutdown.clone();
        let name = connector.name().to_string();
        let task = tokio::spawn(async move {
            let observer_status = status.clone();
            let observer: run::Observer = Arc::new(move |event| {
                let mut s = observer_status.lock().unwrap_or_else(|e| e.into_inner());
                match event {
                    Event::Running => {
                        s.state = "RUNNING";
                        s.trace = None;
                    }
                    Event::Retrying(error) => s.retrying = Some(error),
                    Event::Healthy => s.retrying = None,
                }
            });
            // The worker's own shutdown stops every connector too.
            let stop = either_stop(stop_rx, global);
            // In a task of its own, so a panic shows as a failure, not a run that never ends.
            let run = tokio::spawn(async move {
                run::run_one(&connector, &data_dir, registry.as_ref(), stop, observer).await
            });
            let result = match run.await {
                Ok(result) => result,
                Err(e) => Err(CliError::Runtime(anyhow::anyhow!(
                    "the connector's run failed: {e}"
                ))),
            };
            let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
            s.retrying = None;
            match result {
                Ok(()) => {
                    if s.state == "RUNNING" || s.state == "UNASSIGNED" {
                        s.state = "UNASSIGNED";
                    }
                }
                Err(e) => {
                    let trace = error_text(e);
                    warn!(connector = %name, error = %trace, "connector failed; it stays FAILED until restarted");
                    s.state = "FAILED";
                    s.trace = Some(trace);
                }
            }
        });
        RunHandle {
            stop: stop_tx,
            task,
        }
    }

    /// The embedded registry, opened and served once, when the connector writes Avro with it.
    async fn registry_for(&self, connector: &Connector) -> Option<Arc<Registry>> {
        let Connector::Source(spec) = connector else {
            return None;
        };
        if !matches!(spec.format.registry, Some(RegistrySpec::Embedded { .. })) {
            return None;
        }
        let mut registry = self.registry.lock().await;
        if registry.is_none() {
            match run::start_registry(spec, &self.data_dir, &self.auth, self.shutdown.clone()).await
            {
                Ok(r) => *registry = r,
                Err(e) => {
                    warn!(connector = %spec.name, error = %error_text(e), "embedded schema registry not started")
                }
            }
        }
        registry.clone()
    }

    /// Ends a connector's run, if it runs, and waits for it to finish its last commit.
    async fn halt(run: Option<RunHandle>) {
        if let Some(run) = run {
            run.stop.send_replace(true);
            let _ = run.task.await;
        }
    }

    /// Stops every connector (the worker is shutting down); their target states stay.
    pub async fn shutdown(&self) {
        let _op = self.ops.lock().await;
        let runs: Vec<(RunHandle, Value)> = {
            let mut connectors = self.connectors.lock().await;
            connectors
                .values_mut()
                .filter_map(|m| m.run.take().map(|r| (r, m.document.clone())))
                .collect()
        };
        for (run, document) in runs {
            Worker::halt(Some(run)).await;
            release_slot(&document).await;
        }
    }

    /// Creates a connector from `{"name", "config"}` and starts it.
    pub async fn create(self: &Arc<Self>, document: &Value) -> Result<Value, WorkerError> {
        let _op = self.ops.lock().await;
        let loaded = self.accept(document)?;
        let name = loaded.connector.name().to_string();
        if self.connectors.lock().await.contains_key(&name) {
            return Err(WorkerError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        connector::store(&self.data_dir, &loaded)
            .map_err(|e| WorkerError::Internal(error_text(e)))?;
        self.persist_target(&name, Target::Running)?;
        self.record(&name, Some(&loaded.document), Target::Running)?;
        let info = info_of(&name, &loaded.document, kind_of(&loaded.connector));
        self.install(loaded, Target::Running).await;
        info!(connector = %name, "connector created");
        Ok(info)
    }

    /// Replaces a connector's config (creating it when new) and restarts it if it runs.
    /// Masked secrets in `config` keep their stored values. Returns whether it was created.
    pub async fn put_config(
        self: &Arc<Self>,
        name: &str,
        config: &Value,
    ) -> Result<(Value, bool), WorkerError> {
        let _op = self.ops.lock().await;
        self.apply_config(name, config.clone()).await
    }

    /// Kafka Connect's `PATCH /connectors/{name}/config` (KIP-477): the given keys replace
    /// theirs, a `null` removes its key, the others stay; the connector must exist.
    pub async fn patch_config(
        self: &Arc<Self>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, WorkerError> {
        let _op = self.ops.lock().await;
        let Some(patch) = patch.as_object() else {
            return Err(WorkerError::BadRequest(
                "a config patch is a JSON object of keys and values (null removes a key)".into(),
            ));
        };
        let mut config = {
            let connectors = self.connectors.lock().await;
            let m = connectors.get(name).ok_or_else(|| not_found(name))?;
            m.document["config"].clone()
        };
        let Some(entries) = config.as_object_mut() else {
            return Err(WorkerError::Internal(format!(
                "the stored config of {name} is not an object"
            )));
        };
        for (key, value) in patch {
            match value {
                Value::Null => {
                    entries.remove(key);
                }
                value => {
                    entries.insert(key.clone(), value.clone());
                }
            }
        }
        let (info, _) = self.apply_config(name, config).await?;
        Ok(info)
    }

    /// Validates, keeps and (re)starts `config` under `name`; the caller holds `ops`.
    async fn apply_config(
        self: &Arc<Self>,
        name: &str,
        mut config: Value,
    ) -> Result<(Value, bool), WorkerError> {
        let (existing, target) = {
            let connectors = self.connectors.lock().await;
            match connectors.get(name) {
                Some(m) => (Some(m.document["config"].clone()), m.target),
                None => (None, Target::Running),
            }
        };
        secrets::restore_masked(existing.as_ref(), &mut config)?;
        if let Some(given) = config.get("name").and_then(Value::as_str) {
            if given != name {
                return Err(WorkerError::BadRequest(format!(
                    "the config names connector {given:?}, but the path names {name:?}"
                )));
            }
        }
        let loaded = self.accept(&json!({"name": name, "config": config}))?;
        // Kept first: if that fails, the old config still runs.
        connector::store(&self.data_dir, &loaded)
            .map_err(|e| WorkerError::Internal(error_text(e)))?;
        self.persist_target(name, target)?;
        self.record(name, Some(&loaded.document), target)?;
        let old = self.connectors.lock().await.remove(name);
        if let Some(old) = old {
            Worker::halt(old.run).await;
        }
        let info = info_of(name, &loaded.document, kind_of(&loaded.connector));
        self.install(loaded, target).await;
        Ok((info, existing.is_none()))
    }

    /// Sets a connector's target state: pausing or stopping ends its run, running starts it.
    pub async fn set_target(
        self: &Arc<Self>,
        name: &str,
        target: Target,
    ) -> Result<(), WorkerError> {
        let _op = self.ops.lock().await;
        self.set_target_now(name, target).await
    }

    async fn set_target_now(
        self: &Arc<Self>,
        name: &str,
        target: Target,
    ) -> Result<(), WorkerError> {
        let (document, status, old_run, running) = {
            let mut connectors = self.connectors.lock().await;
            let managed = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
            self.persist_target(name, target)?;
            self.record(name, Some(&managed.document), target)?;
            managed.target = target;
            let running = managed.run.as_ref().is_some_and(|r| !r.task.is_finished());
            let old_run = if target == Target::Running && running {
                None
            } else {
                managed.run.take()
            };
            (
                managed.document.clone(),
                managed.status.clone(),
                old_run,
                running,
            )
        };
        // The run ends without the connectors lock held: status answers meanwhile.
        Worker::halt(old_run).await;
        match target {
            Target::Running if !running => {
                let loaded = parse_document(&document)?;
                *status.lock().unwrap_or_else(|e| e.into_inner()) = Status::new("UNASSIGNED");
                let run = self.spawn(loaded.connector, status).await;
                if let Some(managed) = self.connectors.lock().await.get_mut(name) {
                    managed.run = Some(run);
                }
            }
            Target::Running => {}
            Target::Paused | Target::Stopped => {
                if target == Target::Stopped {
                    release_slot(&document).await;
                }
                *status.lock().unwrap_or_else(|e| e.into_inner()) = Status::new(target.as_str());
            }
        }
        info!(connector = %name, state = target.as_str(), "connector state changed");
        Ok(())
    }

    /// Restarts a connector: ends its run (or its failure) and starts it again, running.
    pub async fn restart(self: &Arc<Self>, name: &str) -> Result<(), WorkerError> {
        let _op = self.ops.lock().await;
        let run = {
            let mut connectors = self.connectors.lock().await;
            let managed = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
            managed.run.take()
        };
        Worker::halt(run).await;
        self.set_target_now(name, Target::Running).await
    }

    /// Deletes a connector: ends its run and forgets its config, state and active topics.
    /// Offsets stay.
    pub async fn delete(&self, name: &str) -> Result<(), WorkerError> {
        let _op = self.ops.lock().await;
        let managed = self
            .connectors
            .lock()
            .await
            .remove(name)
            .ok_or_else(|| not_found(name))?;
        Worker::halt(managed.run).await;
        release_slot(&managed.document).await;
        self.record(name, None, Target::Stopped)?;
        for path in [
            connector::stored_path(&self.data_dir, name),
            state_path(&self.data_dir, name),
        ] {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(WorkerError::Internal(format!(
                        "cannot remove {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        if let Err(e) = crate::active_topics::forget(&self.data_dir, name) {
            warn!(connector = %name, error = %e, "cannot remove the connector's active topics");
        }
        info!(connector = %name, "connector deleted");
        Ok(())
    }

    /// The connector's document while it is stopped, as Kafka Connect requires before
    /// its offsets change; held with `ops`, so it stays stopped meanwhile.
    async fn stopped(&self, name: &str) -> Result<Value, WorkerError> {
        let connectors = self.connectors.lock().await;
        let m = connectors.get(name).ok_or_else(|| not_found(name))?;
        let running = m.run.as_ref().is_some_and(|r| !r.task.is_finished());
        if m.target != Target::Stopped || running {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        Ok(m.document.clone())
    }

    /// Kafka Connect's `PATCH /connectors/{name}/offsets` on a stopped connector.
    pub async fn alter_offsets(
        &self,
        name: &str,
        entries: Vec<offsets::Entry>,
    ) -> Result<(), WorkerError> {
        let _op = self.ops.lock().await;
        let loaded = parse_document(&self.stopped(name).await?)?;
        offsets::alter(&loaded.connector, &self.data_dir, entries).await?;
        info!(connector = %name, "connector offsets altered");
        Ok(())
    }

    /// Kafka Connect's `DELETE /connectors/{name}/offsets` on a stopped connector.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), WorkerError> {
        let _op = self.ops.lock().await;
        let loaded = parse_document(&self.stopped(name).await?)?;
        offsets::reset(&loaded.connector, &self.data_dir).await?;
        info!(connector = %name, "connector offsets reset");
        Ok(())
    }

    /// The topics the connector used since it was created or its set was reset (KIP-558).
    pub async fn active_topics(&self, name: &str) -> Result<Vec<String>, WorkerError> {
        self.document(name).await?;
        Ok(crate::active_topics::of(&self.data_dir, name).list())
    }

    /// Empties the connector's active topics.
    pub async fn reset_active_topics(&self, name: &str) -> Result<(), WorkerError> {
        self.document(name).await?;
        crate::active_topics::of(&self.data_dir, name)
            .reset()
            .map_err(|e| {
                WorkerError::Internal(format!("cannot reset the active topics of {name}: {e}"))
            })
    }

    /// Names of the connectors, sorted.
    pub async fn names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    /// `{"name", "config" (masked), "tasks", "type"}`.
    pub async fn info(&self, name: &str) -> Result<Value, WorkerError> {
        let connectors = self.connectors.lock().await;
        let m = connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(info_of(name, &m.document, m.kind))
    }

    /// The config, masked.
    pub async fn config(&self, name: &str) -> Result<Value, WorkerError> {
        let connectors = self.connectors.lock().await;
        let m = connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(masked(&m.document["config"]))
    }

    /// The config, secrets included (for reading offsets with the connector's settings).
    pub async fn document(&self, name: &str) -> Result<Value, WorkerError> {
        let connectors = self.connectors.lock().await;
        let m = connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(m.document.clone())
    }

    /// Kafka Connect's status body.
    pub async fn status(&self, name: &str) -> Result<Value, WorkerError> {
        let connectors = self.connectors.lock().await;
        let m = connectors.get(name).ok_or_else(|| not_found(name))?;
        let s = m.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut connector = json!({"state": s.state, "worker_id": self.id});
        let mut task = json!({"id": 0, "state": s.state, "worker_id": self.id});
        if let Some(trace) = &s.trace {
            connector["trace"] = json!(trace);
            task["trace"] = json!(trace);
        }
        if let Some(retrying) = &s.retrying {
            task["retrying"] = json!(retrying);
        }
        Ok(json!({"name": name, "connector": connector, "tasks": [task], "type": m.kind}))
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// A stop signal that turns true when either `own` (this connector's) or `global` (the
/// worker's shutdown) does, kept alive as long as the run holds it.
fn either_stop(
    mut own: watch::Receiver<bool>,
    mut global: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(*own.borrow() || *global.borrow());
    tokio::spawn(async move {
        tokio::select! {
            _ = own.wait_for(|s| *s) => {}
            _ = global.wait_for(|s| *s) => {}
            _ = tx.closed() => return,
        }
        tx.send_replace(true);
        tx.closed().await;
    });
    rx
}

/// Drops the replication slot of a PostgreSQL source with `slot.drop.on.stop=true`.
async fn release_slot(document: &Value) {
    let Ok(loaded) = parse_document(document) else {
        return;
    };
    if let Connector::Source(spec) = &loaded.connector {
        if let SourceConfig::Postgres(pg) = &spec.source {
            if pg.slot_drop_on_stop {
                match spillway_postgres::drop_slot(pg).await {
                    Ok(()) => {
                        info!(connector = %spec.name, slot = %pg.slot_name, "replication slot dropped (slot.drop.on.stop)")
                    }
                    Err(e) => {
                        warn!(connector = %spec.name, slot = %pg.slot_name, error = %e, "could not drop the replication slot")
                    }
                }
            }
        }
    }
}

fn not_found(name: &str) -> WorkerError {
    WorkerError::NotFound(format!("Connector {name} not found"))
}

fn error_text(e: CliError) -> String {
    match e {
        CliError::Config(m) => m,
        CliError::Runtime(e) => format!("{e:#}"),
    }
}

fn info_of(name: &str, document: &Value, kind: &str) -> Value {
    json!({
        "name": name,
        "config": masked(&document["config"]),
        "tasks": [{"connector": name, "task": 0}],
        "type": kind,
    })
}
