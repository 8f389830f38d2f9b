//! A `spillway worker` process and its REST API, for tests.

use super::binary;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `spillway worker`, killed when dropped.
pub struct WorkerProcess {
    child: Option<Child>,
    pub url: String,
    pub log_path: PathBuf,
    pub auth: Option<String>,
}

impl WorkerProcess {
    /// Starts `spillway worker --listen 127.0.0.1:PORT --data-dir DATA` with `args`, and
    /// waits until its API answers.
    pub fn start(data_dir: &Path, port: u16, args: &[&str]) -> WorkerProcess {
        let base = data_dir.parent().expect("data dir has a parent");
        std::fs::create_dir_all(base).expect("create the test's directory");
        let n = std::fs::read_dir(base).map(|d| d.count()).unwrap_or(0);
        let log_path = base.join(format!("worker-{n}.log"));
        let log = std::fs::File::create(&log_path).expect("create log file");
        let child = Command::new(binary())
            .args([
                "worker",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("SPILLWAY_API_TOKEN")
            .env_remove("SPILLWAY_API_BASIC_AUTH")
            .env_remove("SPILLWAY_KAFKA_BOOTSTRAP_SERVERS")
            .env_remove("SPILLWAY_CONFIG_STORAGE_TOPIC")
            .env_remove("SPILLWAY_WORKER_CONFIG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start spillway worker");
        let worker = WorkerProcess {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            log_path,
            auth: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the worker did not listen on {port}:\n{}",
                worker.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        worker
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends a request and returns the status and the JSON answer (null when empty).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let url = format!("{}{path}", self.url);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(auth) = &self.auth {
            builder = builder.header("Authorization", auth);
        }
        let response = match body {
            Some(b) => agent.run(
                builder
                    .header("Content-Type", "application/json")
                    .body(b.to_string())
                    .unwrap(),
            ),
            None => agent.run(builder.body(()).unwrap()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// The connector's state from `GET /connectors/{name}/status`.
    pub fn state(&self, name: &str) -> String {
        let (_, status) = self.call("GET", &format!("/connectors/{name}/status"), None);
        status["connector"]["state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits until the status of `name` satisfies `done`.
    pub fn wait_status(&self, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, status) = self.call("GET", &format!("/connectors/{name}/status"), None);
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never became {what}: {status}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("worker already stopped");
        // SAFETY: a signal to our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait for the worker") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the worker did not stop:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
