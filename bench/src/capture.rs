//! What the capture benchmarks share: their common options and set-up, child processes
//! measured for peak memory and CPU time, spillway timed until a topic holds every change,
//! the Debezium harness timed until its file does, and the results table.

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use spillway_streams::LogReader;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The spillway connectors every benchmark measures: name, label, `output.data.format`.
pub const FORMATS: [(&str, &str, Option<&str>); 3] = [
    ("bench_json", "JSON (schemaless)", Some("JSON")),
    ("bench_schemas", "JSON with schemas", None),
    ("bench_avro", "Avro (registry)", Some("AVRO")),
];

/// The options of every capture benchmark.
#[derive(clap::Args, Clone)]
pub struct CommonArgs {
    /// Row changes to capture (half inserts, half updates).
    #[arg(long, default_value_t = 200_000)]
    pub rows: u64,
    /// Rows per transaction of the load.
    #[arg(long, default_value_t = 5_000)]
    pub batch: u64,
    /// Longest any one phase may take, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// The spillway binary (default: `spillway` next to this program).
    #[arg(long)]
    pub spillway: Option<PathBuf>,
    /// The Debezium harness (default: scripts/debezium-capture.sh of this workspace).
    #[arg(long)]
    pub debezium_script: Option<PathBuf>,
    /// Do not measure Debezium.
    #[arg(long)]
    pub no_debezium: bool,
    /// Also capture into Kafka at this broker (`host:port`): schemaless JSON and Avro.
    #[arg(long)]
    pub kafka: Option<String>,
}

/// The exit code of a benchmark program, printing its error.
pub fn exit_code(program: &str, result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One benchmark run: the spillway binary, a scratch directory, and the Debezium harness.
pub struct Bench {
    program: &'static str,
    pub spillway: PathBuf,
    pub timeout: Duration,
    pub rows: u64,
    pub work: tempfile::TempDir,
    /// The harness, or why Debezium is not measured.
    debezium_script: Result<PathBuf, String>,
}

impl Bench {
    pub fn new(program: &'static str, args: &CommonArgs) -> Result<Bench> {
        ensure!(args.rows >= 2, "--rows must be at least 2");
        ensure!(args.batch > 0, "--batch must be positive");
        let spillway = match &args.spillway {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .context("cannot find this program's path")?
                .with_file_name("spillway"),
        };
        ensure!(
            spillway.is_file(),
            "no spillway binary at {} (build it: cargo build --release -p spillway, or pass --spillway)",
            spillway.display()
        );
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new("."));
        let script = args
            .debezium_script
            .clone()
            .unwrap_or_else(|| workspace.join("scripts/debezium-capture.sh"));
        let debezium_script = if args.no_debezium {
            Err("not measured (--no-debezium)".to_string())
        } else if !script.is_file() {
            Err(format!(
                "not measured ({} missing)",
                script.strip_prefix(workspace).unwrap_or(&script).display()
            ))
        } else {
            Ok(script)
        };
        let work = tempfile::Builder::new()
            .prefix(&format!("{program}-"))
            .tempdir()
            .context("cannot create a scratch directory")?;
        Ok(Bench {
            program,
            spillway,
            timeout: Duration::from_secs(args.timeout),
            rows: args.rows,
            work,
            debezium_script,
        })
    }

    /// Says on stderr what comes next.
    pub fn step(&self, what: &str) {
        eprintln!("{}: {what}", self.program);
    }

    /// Prepares Debezium without and with schemas (see [`Debezium::prepare`]), or says why
    /// it is not measured.
    pub fn debezium(
        &self,
        properties: impl Fn(&str) -> String,
        first_run: &[&str],
    ) -> Result<Vec<Debezium>, String> {
        let script = self.debezium_script.clone()?;
        self.step("debezium: building the harness and taking its start positions");
        // Debezium's AvroConverter registers its schemas in a registry of its own: the
        // embedded registry's code, served from this process.
        let registry =
            serve_registry(&self.work.path().join("debezium-registry")).map_err(|e| {
                eprintln!("{}: cannot serve a schema registry: {e:#}", self.program);
                format!("not measured: {}", first_line(&e))
            })?;
        [
            DebeziumFormat::Schemaless,
            DebeziumFormat::Schemas,
            DebeziumFormat::Avro(registry),
        ]
        .into_iter()
        .map(|format| {
            let work = self.work.path();
            Debezium::prepare(&script, work, self.timeout, format, &properties, first_run)
        })
        .collect::<Result<Vec<_>>>()
        .map_err(|e| {
            eprintln!("{}: debezium cannot run: {e:#}", self.program);
            format!("not measured: {}", first_line(&e))
        })
    }

    /// Times the prepared Debezium connectors on `rows` changes into `results`; returns a
    /// line for the table where Debezium was not measured.
    pub fn debezium_catch_up(
        &self,
        debezium: &Result<Vec<Debezium>, String>,
        results: &mut Vec<Throughput>,
    ) -> Option<String> {
        let instances = match debezium {
            Ok(instances) => instances,
            Err(why) => return Some(format!("debezium: {why}")),
        };
        let mut note = None;
        for d in instances {
            self.step(&format!("debezium, {}", d.format()));
            match with_cpu(|| d.catch_up(self.rows, self.timeout)) {
                Ok(r) => results.push(r),
                Err(e) => {
                    eprintln!("{}: debezium failed: {e:#}", self.program);
                    note = Some(format!("debezium: failed: {}", first_line(&e)));
                }
            }
        }
        note
    }
}

/// The first line of an error (the rest, such as a log tail, goes to stderr).
fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Runs a command that ends by itself (its stderr is kept for the error) and returns the
/// wall seconds and the peak RSS of it.
pub fn run_to_end(
    name: &str,
    mut command: Command,
    timeout: Duration,
) -> Result<(f64, Option<u64>)> {
    command.stderr(Stdio::piped());
    let mut p = Proc::spawn(name, command, None)?;
    let status = p.wait(timeout)?;
    let secs = p.started.elapsed().as_secs_f64();
    let mut stderr = String::new();
    if let Some(mut e) = p.child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    ensure!(
        status.success(),
        "{name} failed ({status}): {}",
        stderr.trim()
    );
    Ok((secs, p.peak_rss_kb()))
}

/// One row of the throughput table.
pub struct Throughput {
    pub tool: String,
    pub format: String,
    pub events: u64,
    pub secs: f64,
    /// Seconds from start to the first event, where it can be seen.
    pub first_secs: Option<f64>,
    pub peak_rss_kb: Option<u64>,
    /// CPU seconds (user + system) of the client process.
    pub cpu_secs: Option<f64>,
    /// Bytes per change of the records written (key, value and headers, uncompressed) and
    /// of the topic's files on disk, for spillway into its embedded log.
    pub bytes: Option<TopicBytes>,
    pub note: Option<String>,
}

/// What the records of one topic take, per change.
#[derive(Clone, Copy, Debug)]
pub struct TopicBytes {
    /// Key, value and header bytes of the records, uncompressed.
    pub raw: f64,
    /// The topic's files on disk (segments, indexes, metadata).
    pub disk: f64,
}

impl Throughput {
    /// A row with the figures every reader has; the others are filled in where known.
    pub fn new(tool: &str, format: &str, events: u64, secs: f64) -> Throughput {
        Throughput {
            tool: tool.to_string(),
            format: format.to_string(),
            events,
            secs,
            first_secs: None,
            peak_rss_kb: None,
            cpu_secs: None,
            bytes: None,
            note: None,
        }
    }
}

/// Runs a measurement whose child processes all end (and are reaped) inside it, and adds
/// their CPU time.
pub fn with_cpu(measure: impl FnOnce() -> Result<Throughput>) -> Result<Throughput> {
    let before = children_cpu_secs();
    let mut result = measure()?;
    result.cpu_secs = Some(children_cpu_secs() - before);
    Ok(result)
}

/// User + system seconds of every reaped child process so far.
fn children_cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

// ---- child processes ------------------------------------------------------------------

/// A child process whose peak RSS is sampled, killed if dropped while running.
pub struct Proc {
    name: String,
    pub child: std::process::Child,
    log: Option<PathBuf>,
    peak_kb: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    pub started: Instant,
}

impl Proc {
    pub fn spawn(name: &str, mut command: Command, log: Option<PathBuf>) -> Result<Proc> {
        if let Some(path) = &log {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            command.stderr(file);
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        let peak_kb = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (pid, peak, stop) = (child.id(), Arc::clone(&peak_kb), Arc::clone(&done));
        std::thread::spawn(move || {
            let path = format!("/proc/{pid}/status");
            while !stop.load(Ordering::Relaxed) {
                match std::fs::read_to_string(&path) {
                    Ok(status) => {
                        if let Some(kb) = vm_hwm_kb(&status) {
                            peak.fetch_max(kb, Ordering::Relaxed);
                        }
                    }
                    Err(_) => break,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Ok(Proc {
            name: name.to_string(),
            child,
            log,
            peak_kb,
            done,
            started,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Peak resident set size so far (VmHWM), read now and from the samples.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid())) {
            if let Some(kb) = vm_hwm_kb(&status) {
                self.peak_kb.fetch_max(kb, Ordering::Relaxed);
            }
        }
        Some(self.peak_kb.load(Ordering::Relaxed)).filter(|&kb| kb > 0)
    }

    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        match &self.log {
            Some(p) => format!("--- last lines of {} ---\n{tail}", p.display()),
            None => String::new(),
        }
    }

    /// The exit status if the process has ended.
    pub fn exited(&mut self) -> Result<Option<ExitStatus>> {
        let status = self.child.try_wait().context("waiting for a child")?;
        if status.is_some() {
            self.done.store(true, Ordering::Relaxed);
        }
        Ok(status)
    }

    pub fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.exited()? {
            bail!(
                "{} exited unexpectedly ({status})\n{}",
                self.name,
                self.log_tail()
            );
        }
        Ok(())
    }

    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.log_text().contains(needle) {
            self.ensure_running()?;
            ensure!(
                Instant::now() < deadline,
                "{} did not log {needle:?} within {timeout:?}\n{}",
                self.name,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.done.store(true, Ordering::Relaxed);
                bail!(
                    "{} did not finish within {timeout:?}; killed\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        if self.exited()?.is_none() {
            // SAFETY: signalling our own child process.
            unsafe {
                libc::kill(self.pid(), libc::SIGTERM);
            }
        }
        self.wait(timeout)
    }

    /// SIGTERM and expects exit status 0.
    pub fn stop_ok(&mut self, timeout: Duration) -> Result<()> {
        let status = self.terminate(timeout)?;
        ensure!(
            status.success(),
            "{} exited with {status} on SIGTERM\n{}",
            self.name,
            self.log_tail()
        );
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.done.store(true, Ordering::Relaxed);
    }
}

fn vm_hwm_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

// ---- spillway -------------------------------------------------------------------------

/// One spillway connector: its config file, data directory and the logs of its runs, in a
/// directory of its own.
pub struct SpillwayConnector {
    pub name: String,
    pub label: String,
    config_path: PathBuf,
    pub data_dir: PathBuf,
    dir: PathBuf,
    runs: std::cell::Cell<u32>,
    /// The broker when the connector writes to Kafka.
    kafka: Option<String>,
}

impl SpillwayConnector {
    /// Writes the connector config: `config` with `topic.prefix` set to `name` and, when
    /// given, `output.data.format`.
    pub fn new(
        work: &Path,
        name: &str,
        label: &str,
        mut config: Value,
        format: Option<&str>,
    ) -> Result<SpillwayConnector> {
        let dir = work.join(name);
        std::fs::create_dir_all(&dir)?;
        config["topic.prefix"] = Value::String(name.to_string());
        if let Some(f) = format {
            config["output.data.format"] = Value::String(f.to_string());
            if f == "AVRO" {
                // The embedded schema registry, on a port of its own.
                let port = std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port();
                config["schema.registry.embedded.listen"] =
                    Value::String(format!("127.0.0.1:{port}"));
            }
        }
        let config_path = dir.join("connector.json");
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&json!({ "name": name, "config": config }))?,
        )?;
        Ok(SpillwayConnector {
            name: name.to_string(),
            label: label.to_string(),
            config_path,
            data_dir: dir.join("data"),
            dir,
            runs: std::cell::Cell::new(0),
            kafka: config["kafka.bootstrap.servers"]
                .as_str()
                .map(str::to_string),
        })
    }

    /// Sets one key of the config for the next runs.
    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        let mut file: Value = serde_json::from_slice(&std::fs::read(&self.config_path)?)?;
        file["config"][key] = Value::String(value.to_string());
        std::fs::write(&self.config_path, serde_json::to_vec_pretty(&file)?)?;
        Ok(())
    }

    /// Whether a committed offset is stored: in the data directory, or with Kafka as the
    /// stream in the offsets topic.
    pub fn has_offset(&self) -> Result<bool> {
        match &self.kafka {
            Some(broker) => {
                let file: Value = serde_json::from_slice(&std::fs::read(&self.config_path)?)?;
                let topic = file["config"]["offset.storage.topic"]
                    .as_str()
                    .unwrap_or("spillway-offsets")
                    .to_string();
                let mut counter = KafkaCounter::new(broker, &topic)?;
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    if counter.count() > 0 {
                        return Ok(true);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(false)
            }
            None => Ok(std::fs::read_dir(self.data_dir.join("offsets"))
                .map(|d| d.count() > 0)
                .unwrap_or(false)),
        }
    }

    /// The topic of a table (`schema` is the PostgreSQL schema or the MySQL database).
    pub fn topic(&self, schema: &str, table: &str) -> String {
        format!("{}.{schema}.{table}", self.name)
    }

    pub fn start(&self, binary: &Path) -> Result<Proc> {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let mut command = Command::new(binary);
        command
            .arg("run")
            .arg("--config")
            .arg(&self.config_path)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null());
        Proc::spawn(
            &format!("spillway ({})", self.name),
            command,
            Some(self.dir.join(format!("spillway-{n}.log"))),
        )
    }

    /// Starts spillway and times it until `topic` holds `rows` records (a run that ends by
    /// itself, as `snapshot.mode=initial_only` does, has to exit 0 with all of them there).
    pub fn catch_up(
        &self,
        binary: &Path,
        topic: &str,
        rows: u64,
        timeout: Duration,
    ) -> Result<Throughput> {
        match &self.kafka {
            Some(broker) => {
                let counter = KafkaCounter::new(broker, topic)?;
                self.catch_up_counting(binary, rows, timeout, counter, "Kafka")
            }
            None => {
                let counter = TopicCounter::new(&self.data_dir, topic);
                let mut result =
                    self.catch_up_counting(binary, rows, timeout, counter, "embedded log")?;
                result.bytes = Some(topic_bytes(&self.data_dir, topic, rows)?);
                Ok(result)
            }
        }
    }

    fn catch_up_counting(
        &self,
        binary: &Path,
        rows: u64,
        timeout: Duration,
        mut counter: impl RecordCounter,
        stream: &str,
    ) -> Result<Throughput> {
        let mut p = self.start(binary)?;
        let deadline = p.started + timeout;
        let mut first = None;
        let count = loop {
            let count = counter.count();
            if count > 0 && first.is_none() {
                first = Some(p.started.elapsed().as_secs_f64());
            }
            if count >= rows {
                break count;
            }
            if p.exited()?.is_some() && counter.count() < rows {
                p.ensure_running()?;
            }
            ensure!(
                Instant::now() < deadline,
                "spillway ({}) has {count} of {rows} records after {timeout:?}\n{}",
                self.name,
                p.log_tail()
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let secs = p.started.elapsed().as_secs_f64();
        let peak = p.peak_rss_kb();
        p.stop_ok(Duration::from_secs(60))?;
        let total = counter.count();
        Ok(Throughput {
            first_secs: first,
            peak_rss_kb: peak,
            note: (total != rows || count != rows).then(|| {
                format!(
                    "spillway {}: topic holds {total} records for {rows} changes",
                    self.label
                )
            }),
            ..Throughput::new(
                "spillway",
                &format!("{} to {stream}", self.label),
                rows,
                secs,
            )
        })
    }
}

/// Bytes per change of a topic's records, read back, and of its files on disk.
pub fn topic_bytes(data_dir: &Path, topic: &str, changes: u64) -> Result<TopicBytes> {
    let reader = LogReader::open(data_dir)?;
    let mut raw = 0u64;
    for p in reader.topics()?.iter().filter(|p| p.topic == topic) {
        let mut next = p.start_offset;
        loop {
            let records = reader
                .read(topic, p.partition, next, 10_000)
                .with_context(|| format!("reading {topic}/{} at {next}", p.partition))?;
            let Some(last) = records.last() else { break };
            next = last.offset + 1;
            raw += records
                .iter()
                .map(|r| {
                    let headers: usize = r
                        .headers
                        .iter()
                        .map(|h| h.key.len() + h.value.as_ref().map_or(0, Vec::len))
                        .sum();
                    (r.key.as_ref().map_or(0, Vec::len)
                        + r.value.as_ref().map_or(0, Vec::len)
                        + headers) as u64
                })
                .sum::<u64>();
        }
    }
    let disk = dir_bytes(&data_dir.join("topics").join(topic));
    let changes = changes.max(1) as f64;
    Ok(TopicBytes {
        raw: raw as f64 / changes,
        disk: disk as f64 / changes,
    })
}

/// Bytes of the files under `path`.
fn dir_bytes(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| dir_bytes(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Counts the records of a topic, cheaply enough to poll.
pub trait RecordCounter {
    fn count(&mut self) -> u64;
}

impl RecordCounter for TopicCounter {
    fn count(&mut self) -> u64 {
        TopicCounter::count(self)
    }
}

/// Counts a Kafka topic's records by consuming them (a broker's high watermark can lag
/// the records a fetch returns).
pub struct KafkaCounter {
    consumer: rdkafka::consumer::BaseConsumer,
    topic: String,
    assigned: bool,
    seen: u64,
}

impl KafkaCounter {
    pub fn new(broker: &str, topic: &str) -> Result<KafkaCounter> {
        let consumer = rdkafka::config::ClientConfig::new()
            .set("bootstrap.servers", broker)
            .set("group.id", "spillway-bench")
            .set("enable.auto.commit", "false")
            .create()?;
        Ok(KafkaCounter {
            consumer,
            topic: topic.to_string(),
            assigned: false,
            seen: 0,
        })
    }
}

impl RecordCounter for KafkaCounter {
    fn count(&mut self) -> u64 {
        use rdkafka::consumer::Consumer;
        if !self.assigned {
            let Ok(metadata) = self
                .consumer
                .fetch_metadata(Some(&self.topic), Duration::from_secs(5))
            else {
                return 0;
            };
            let mut list = rdkafka::TopicPartitionList::new();
            for t in metadata.topics().iter().filter(|t| t.name() == self.topic) {
                for p in t.partitions() {
                    let _ =
                        list.add_partition_offset(&self.topic, p.id(), rdkafka::Offset::Beginning);
                }
            }
            if list.count() == 0 || self.consumer.assign(&list).is_err() {
                return 0;
            }
            self.assigned = true;
        }
        while let Some(message) = self.consumer.poll(Duration::from_millis(0)) {
            if message.is_ok() {
                self.seen += 1;
            }
        }
        self.seen
    }
}

/// Counts the records of one topic, cheaply enough to poll.
pub struct TopicCounter {
    data_dir: PathBuf,
    topic: String,
    reader: Option<LogReader>,
}

impl TopicCounter {
    pub fn new(data_dir: &Path, topic: &str) -> TopicCounter {
        TopicCounter {
            data_dir: data_dir.to_path_buf(),
            topic: topic.to_string(),
            reader: None,
        }
    }

    pub fn count(&mut self) -> u64 {
        if self.reader.is_none() {
            self.reader = LogReader::open(&self.data_dir).ok();
        }
        let Some(reader) = &self.reader else { return 0 };
        reader
            .topics()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p.topic == self.topic)
                    .map(|p| p.end_offset - p.start_offset)
                    .sum()
            })
            .unwrap_or(0)
    }
}

// ---- Debezium -------------------------------------------------------------------------

/// How Debezium's records are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DebeziumFormat {
    /// The JsonConverter with `schemas.enable=false`.
    Schemaless,
    /// The JsonConverter with its schemas.
    Schemas,
    /// Confluent's AvroConverter with the schema registry at this address, the records
    /// written as base64 lines.
    Avro(std::net::SocketAddr),
}

/// Serves a schema registry kept in `dir` from a thread of this process; returns where.
fn serve_registry(dir: &Path) -> Result<std::net::SocketAddr> {
    let registry = std::sync::Arc::new(spillway_registry::Registry::open(dir)?);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
            let (_keep, never) = tokio::sync::watch::channel(false);
            let _ = spillway_registry::server::serve(
                listener,
                registry,
                spillway_registry::server::Access::default(),
                never,
            )
            .await;
        });
    });
    Ok(addr)
}

/// One Debezium connector run by the harness (`scripts/debezium-capture.sh`).
pub struct Debezium {
    format: DebeziumFormat,
    script: PathBuf,
    props: PathBuf,
    offsets: PathBuf,
    dir: PathBuf,
}

impl Debezium {
    /// Builds the harness and runs it once until it streams, so that its position lies
    /// before the load. `properties` gives the connector's properties (with
    /// `snapshot.mode=no_data`) for the suffix that tells the instances apart (`""`,
    /// `"_schemaless"` or `"_avro"`).
    ///
    /// Where the server keeps the position (a PostgreSQL slot), `first_run` is empty.
    /// Otherwise the position is in the offsets, which the engine stores only for records it
    /// has handed over: `first_run` then holds `KEY=VALUE` overrides for that run that make
    /// it write some (such as `include.schema.changes=true`), and the run is stopped only
    /// once it has, and must have stored its offsets.
    pub fn prepare(
        script: &Path,
        work: &Path,
        timeout: Duration,
        format: DebeziumFormat,
        properties: impl FnOnce(&str) -> String,
        first_run: &[&str],
    ) -> Result<Debezium> {
        let suffix = match format {
            DebeziumFormat::Schemas => "",
            DebeziumFormat::Schemaless => "_schemaless",
            DebeziumFormat::Avro(_) => "_avro",
        };
        let dir = work.join(format!("debezium{suffix}"));
        std::fs::create_dir_all(&dir)?;
        let build = Command::new("bash")
            .arg(script)
            .arg("--build-only")
            .output()
            .context("cannot run the Debezium harness")?;
        ensure!(
            build.status.success(),
            "building the harness failed: {}",
            String::from_utf8_lossy(&build.stderr).trim()
        );
        let props = dir.join("connector.properties");
        std::fs::write(&props, properties(suffix))?;
        let d = Debezium {
            format,
            script: script.to_path_buf(),
            props,
            offsets: dir.join("offsets.dat"),
            dir,
        };
        let ready = d.dir.join("ready");
        let out = d.dir.join("prepare.jsonl");
        let mut command = d.command(&out, 0, timeout);
        command.arg("--ready-file").arg(&ready);
        for set in first_run {
            command.args(["--set", set]);
        }
        let mut p = Proc::spawn("debezium", command, Some(d.dir.join("prepare.log")))?;
        let deadline = Instant::now() + timeout;
        let mut lines = LineCounter::default();
        while !ready.exists() || (!first_run.is_empty() && lines.count(&out) == 0) {
            p.ensure_running()?;
            ensure!(
                Instant::now() < deadline,
                "debezium did not start streaming{} within {timeout:?}\n{}",
                if first_run.is_empty() {
                    ""
                } else {
                    " and write a record"
                },
                p.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        p.terminate(Duration::from_secs(60))?;
        ensure!(
            first_run.is_empty() || d.offsets.exists(),
            "debezium stored no offsets in its first run\n{}",
            p.log_tail()
        );
        Ok(d)
    }

    fn command(&self, out: &Path, records: u64, timeout: Duration) -> Command {
        let mut c = Command::new("bash");
        c.arg(&self.script)
            .arg("--props")
            .arg(&self.props)
            .arg("--out")
            .arg(out)
            .arg("--offsets")
            .arg(&self.offsets)
            .args(["--records", &records.to_string()])
            .args(["--timeout", &timeout.as_secs().to_string()])
            .stdout(Stdio::null());
        match self.format {
            DebeziumFormat::Schemaless => {
                c.args(["--schemas", "false"]);
            }
            DebeziumFormat::Avro(registry) => {
                c.args(["--avro", &format!("http://{registry}")]);
            }
            DebeziumFormat::Schemas => {}
        }
        // The harness favours start-up time (C1 only); a long-running connector gets the
        // full JIT, so the benchmark does too unless told otherwise.
        if std::env::var_os("DEBEZIUM_CAPTURE_JAVA_OPTS").is_none() {
            c.env("DEBEZIUM_CAPTURE_JAVA_OPTS", "-XX:TieredStopAtLevel=4");
        }
        c
    }

    pub fn format(&self) -> &'static str {
        match self.format {
            DebeziumFormat::Schemas => "JSON with schemas",
            DebeziumFormat::Schemaless => "JSON (schemaless)",
            DebeziumFormat::Avro(_) => "Avro (registry)",
        }
    }

    pub fn catch_up(&self, rows: u64, timeout: Duration) -> Result<Throughput> {
        let out = self.dir.join("capture.jsonl");
        let command = self.command(&out, rows, timeout);
        let mut p = Proc::spawn("debezium", command, Some(self.dir.join("capture.log")))?;
        let mut lines = LineCounter::default();
        let mut first = None;
        let deadline = p.started + timeout + Duration::from_secs(10);
        loop {
            let n = lines.count(&out);
            if n > 0 && first.is_none() {
                first = Some(p.started.elapsed().as_secs_f64());
            }
            if n >= rows {
                break;
            }
            if let Some(status) = p.exited()? {
                bail!(
                    "the harness exited ({status}) with {n} of {rows} records\n{}",
                    p.log_tail()
                );
            }
            ensure!(
                Instant::now() < deadline,
                "debezium has {n} of {rows} records after {timeout:?}\n{}",
                p.log_tail()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let secs = p.started.elapsed().as_secs_f64();
        let peak = p.peak_rss_kb();
        let _ = p.wait(Duration::from_secs(60));
        Ok(Throughput {
            first_secs: first,
            peak_rss_kb: peak,
            ..Throughput::new(
                "debezium",
                &format!("{} to a file", self.format()),
                rows,
                secs,
            )
        })
    }
}

/// Counts the lines of a growing file.
#[derive(Default)]
pub struct LineCounter {
    file: Option<std::fs::File>,
    lines: u64,
    buf: Vec<u8>,
}

impl LineCounter {
    pub fn count(&mut self, path: &Path) -> u64 {
        if self.file.is_none() {
            self.file = std::fs::File::open(path).ok();
            self.buf.resize(1 << 20, 0);
        }
        if let Some(f) = &mut self.file {
            while let Ok(n) = f.read(&mut self.buf) {
                if n == 0 {
                    break;
                }
                self.lines += self.buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            }
        }
        self.lines
    }
}

// ---- report ---------------------------------------------------------------------------

/// The header of the throughput table.
pub fn print_header() {
    println!(
        "{:<15} {:<36} {:>10} {:>7} {:>12} {:>7} {:>7} {:>8} {:>9} {:>10}",
        "tool",
        "format",
        "events/s",
        "ratio",
        "peak RSS MB",
        "wall s",
        "CPU s",
        "1st ev s",
        "raw B/ev",
        "disk B/ev"
    );
}

/// Rows of the throughput table; the ratio is to `reference` events/s.
pub fn print_rows(results: &[Throughput], reference: Option<f64>) {
    for r in results {
        let rate = r.events as f64 / r.secs;
        println!(
            "{:<15} {:<36} {:>10.0} {:>7} {:>12} {:>7.2} {:>7} {:>8} {:>9} {:>10}",
            r.tool,
            r.format,
            rate,
            reference.map_or("-".to_string(), |l| format!("{:.2}", rate / l)),
            r.peak_rss_kb
                .map_or("-".to_string(), |kb| format!("{:.1}", kb as f64 / 1024.0)),
            r.secs,
            r.cpu_secs.map_or("-".to_string(), |s| format!("{s:.2}")),
            r.first_secs.map_or("-".to_string(), |s| format!("{s:.2}")),
            r.bytes.map_or("-".to_string(), |b| format!("{:.0}", b.raw)),
            r.bytes
                .map_or("-".to_string(), |b| format!("{:.1}", b.disk)),
        );
    }
}
