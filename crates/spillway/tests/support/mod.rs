//! Shared test support: a database per test on the local PostgreSQL, the `spillway` binary
//! run as a child process, and reading the embedded log back.
#![allow(dead_code)]

pub mod compat;
pub mod kafka;
pub mod mariadb;
pub mod projection;
pub mod worker;

use serde_json::{json, Value};
use spillway_streams::LogReader;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: u16 = 5432;
pub const PG_ADMIN: &str = "postgres";

/// Runs SQL as the admin user through psql (used where no runtime is at hand).
pub fn psql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-h",
            PG_HOST,
            "-p",
            &PG_PORT.to_string(),
            "-U",
            PG_ADMIN,
            "-d",
            db,
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("psql must be installed (scripts/setup.sh installs postgresql-client)");
    assert!(
        out.status.success(),
        "psql failed for {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Connects to a database as the admin user.
pub async fn connect(db: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host={PG_HOST} port={PG_PORT} user={PG_ADMIN} dbname={db}"),
        NoTls,
    )
    .await
    .unwrap_or_else(|e| panic!("cannot connect to database {db}: {e}"));
    tokio::spawn(conn);
    client
}

/// A database owned by one test, dropped (with its slots) when the test ends.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// Creates `sw_<tag>_<pid>` afresh.
    pub fn create(tag: &str) -> TestDb {
        let name = format!("sw_{tag}_{}", std::process::id());
        drop_database(&name);
        psql("postgres", &format!("CREATE DATABASE {name}"));
        TestDb { name }
    }

    /// Runs SQL in the test's database through psql.
    pub fn sql(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }

    /// A client on the test's database.
    pub async fn client(&self) -> Client {
        connect(&self.name).await
    }

    /// A PostgreSQL connector config for this database; `extra` overrides or adds keys.
    pub fn connector(&self, extra: &[(&str, &str)]) -> Value {
        let mut config = json!({
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": PG_HOST,
            "database.port": PG_PORT.to_string(),
            "database.user": PG_ADMIN,
            "database.dbname": self.name,
            "topic.prefix": self.name,
            "slot.name": self.name,
            "publication.name": format!("{}_pub", self.name),
            "offset.flush.interval.ms": "100",
        });
        for (k, v) in extra {
            config[*k] = Value::String(v.to_string());
        }
        json!({ "name": self.name, "config": config })
    }

    /// The topic of a table in schema `public`.
    pub fn topic(&self, table: &str) -> String {
        format!("{}.public.{table}", self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(&self.name);
    }
}

fn drop_database(name: &str) {
    // Slots first: a database with slots cannot be dropped.
    let _ = Command::new("psql")
        .args(["-h", PG_HOST, "-U", PG_ADMIN, "-d", "postgres", "-qAtc"])
        .arg(format!(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '{name}' AND active_pid IS NOT NULL"
        ))
        .output();
    for _ in 0..50 {
        let out = Command::new("psql")
            .args(["-h", PG_HOST, "-U", PG_ADMIN, "-d", "postgres", "-qAtc"])
            .arg(format!(
                "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE database = '{name}' AND NOT active"
            ))
            .output();
        let remaining = Command::new("psql")
            .args(["-h", PG_HOST, "-U", PG_ADMIN, "-d", "postgres", "-qAtc"])
            .arg(format!(
                "SELECT count(*) FROM pg_replication_slots WHERE database = '{name}'"
            ))
            .output();
        let done = matches!(&remaining, Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == "0");
        if out.is_err() || done {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("psql")
        .args(["-h", PG_HOST, "-U", PG_ADMIN, "-d", "postgres", "-qAtc"])
        .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .output();
}

/// A `spillway` process.
pub struct Spillway {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
}

/// Path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_spillway")
}

/// Writes a config file into `dir` and returns its path.
pub fn write_config(dir: &Path, config: &Value) -> PathBuf {
    write_config_named(dir, "connector.json", config)
}

/// Writes a config file named `name` into `dir` and returns its path.
pub fn write_config_named(dir: &Path, name: &str, config: &Value) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create config dir");
    let path = dir.join(name);
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(config).expect("config json"),
    )
    .expect("write config");
    path
}

impl Spillway {
    /// Starts `spillway run` with `config`, logging to `<data_dir>/../spillway-N.log`.
    pub fn start(config: &Value, data_dir: &Path) -> Spillway {
        Spillway::start_with(config, data_dir, &[])
    }

    /// [`Spillway::start`] with more arguments for `spillway run`. `config` may be one
    /// connector or an array of them.
    pub fn start_with(config: &Value, data_dir: &Path, args: &[&str]) -> Spillway {
        Spillway::start_with_env(config, data_dir, args, &[])
    }

    /// [`Spillway::start_with`] with more environment variables.
    pub fn start_with_env(
        config: &Value,
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Spillway {
        let base = data_dir
            .parent()
            .expect("data dir has a parent")
            .to_path_buf();
        std::fs::create_dir_all(&base).expect("create the test's directory");
        let n = std::fs::read_dir(&base).map(|d| d.count()).unwrap_or(0);
        // Each start its own file: processes started together read theirs, not another's.
        let config_path = write_config_named(&base, &format!("connector-{n}.json"), config);
        let log_path = base.join(format!("spillway-{n}.log"));
        let log = std::fs::File::create(&log_path).expect("create log file");
        let child = Command::new(binary())
            .args(["run", "--config"])
            .arg(&config_path)
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start spillway");
        Spillway {
            child: Some(child),
            data_dir: data_dir.to_path_buf(),
            log_path,
        }
    }

    /// The process's log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let child = self.child.as_ref().expect("process already stopped");
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        self.wait_exit(Duration::from_secs(60))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().expect("poll spillway").is_none(),
            None => false,
        }
    }

    /// Waits until the process exits by itself and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("process already stopped");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait for spillway") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "spillway did not exit within {timeout:?}; log:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spillway {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A record read back from the embedded log, key and value parsed as JSON.
#[derive(Debug, Clone)]
pub struct Rec {
    pub partition: u32,
    pub offset: u64,
    pub key: Option<Value>,
    pub value: Option<Value>,
    pub headers: Vec<(String, Option<String>)>,
}

impl Rec {
    /// The envelope's payload (schemas enabled) or the value itself (schemaless).
    pub fn payload(&self) -> Option<&Value> {
        self.value.as_ref().map(|v| v.get("payload").unwrap_or(v))
    }

    /// `op` of the event; `None` for a tombstone.
    pub fn op(&self) -> Option<&str> {
        self.payload().and_then(|p| p["op"].as_str())
    }

    pub fn after(&self) -> &Value {
        &self.payload().expect("not a tombstone")["after"]
    }

    pub fn before(&self) -> &Value {
        &self.payload().expect("not a tombstone")["before"]
    }

    /// The key payload.
    pub fn key_payload(&self) -> Option<&Value> {
        self.key.as_ref().map(|k| k.get("payload").unwrap_or(k))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// A record read back from the embedded log as bytes.
#[derive(Debug, Clone)]
pub struct RawRec {
    pub partition: u32,
    pub offset: u64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<String>)>,
}

/// Every record of a topic as bytes (all partitions, partition order then offset order).
pub fn read_topic_raw(data_dir: &Path, topic: &str) -> Vec<RawRec> {
    let Ok(reader) = LogReader::open(data_dir) else {
        return Vec::new();
    };
    let Ok(partitions) = reader.topics() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in partitions.iter().filter(|p| p.topic == topic) {
        let mut offset = p.start_offset;
        loop {
            let records = reader
                .read(topic, p.partition, offset, 10_000)
                .unwrap_or_else(|e| panic!("cannot read {topic}/{}: {e}", p.partition));
            if records.is_empty() {
                break;
            }
            for r in records {
                offset = r.offset + 1;
                out.push(RawRec {
                    partition: p.partition,
                    offset: r.offset,
                    key: r.key,
                    value: r.value,
                    headers: r
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.key.clone(),
                                h.value
                                    .as_ref()
                                    .map(|v| String::from_utf8_lossy(v).into_owned()),
                            )
                        })
                        .collect(),
                });
            }
        }
    }
    out
}

/// Every record of a topic (all partitions, partition order then offset order).
pub fn read_topic(data_dir: &Path, topic: &str) -> Vec<Rec> {
    read_topic_raw(data_dir, topic)
        .into_iter()
        .map(|r| Rec {
            partition: r.partition,
            offset: r.offset,
            key: r
                .key
                .map(|k| serde_json::from_slice(&k).expect("key is JSON")),
            value: r
                .value
                .map(|v| serde_json::from_slice(&v).expect("value is JSON")),
            headers: r.headers,
        })
        .collect()
}

/// Waits until the topic holds at least `n` records; panics with the process log if not.
pub fn wait_for_records(spillway: &Spillway, topic: &str, n: usize, timeout: Duration) -> Vec<Rec> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read_topic(&spillway.data_dir, topic);
        if records.len() >= n {
            return records;
        }
        if Instant::now() > deadline {
            panic!(
                "topic {topic} has {} records, expected at least {n} within {timeout:?}; log:\n{}",
                records.len(),
                spillway.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the log shows a line containing `needle`.
pub fn wait_for_log(spillway: &Spillway, needle: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !spillway.logs().contains(needle) {
        if Instant::now() > deadline {
            panic!(
                "log never showed {needle:?} within {timeout:?}; log:\n{}",
                spillway.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scratch directory for one test.
pub fn scratch(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("spillway-{tag}-"))
        .tempdir()
        .expect("create temp dir")
}

/// Runs `spillway run --config PATH --data-dir DATA` to its end (at most 60 s).
pub fn run_to_exit(config: &Path, data_dir: &Path) -> std::process::Output {
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start spillway");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("poll spillway").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("spillway did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect output")
}

/// Asserts the exit status and that stderr names every needle and shows no panic.
pub fn assert_exit(out: &std::process::Output, code: i32, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "exit status; stderr:\n{err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "spillway panicked:\n{err}");
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// GETs `url` and parses the JSON answer, whatever its status.
pub fn http_get_json(url: &str) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let text = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text))
}

/// The topics of the embedded log in `data_dir`, sorted.
pub fn topics(data_dir: &Path) -> Vec<String> {
    let Ok(reader) = LogReader::open(data_dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = reader
        .topics()
        .map(|ps| ps.into_iter().map(|p| p.topic).collect())
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}
