//! Reading projections back: `spillway query` and `POST /query`, and waiting for a table to
//! reach a state.

use super::binary;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs `spillway query --format json` with `target` (`["--projection", NAME]` or
/// `["--url", URL]`) and returns the process output.
pub fn query_output(data_dir: &Path, target: &[&str], sql: &str) -> Output {
    Command::new(binary())
        .arg("query")
        .args(target)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--format", "json", "--limit", "100000"])
        .arg(sql)
        .output()
        .expect("run spillway query")
}

/// The rows `sql` gives on a projection that ran with `data_dir`, or what `spillway query`
/// said when it failed.
pub fn query_rows(data_dir: &Path, projection: &str, sql: &str) -> Result<Vec<Vec<Value>>, String> {
    let out = query_output(data_dir, &["--projection", projection], sql);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let result: Value = serde_json::from_slice(&out.stdout).expect("query prints JSON");
    Ok(result["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r.as_array().expect("row").clone())
        .collect())
}

/// [`query_rows`], `None` while the query fails (a table not created yet).
pub fn try_rows(data_dir: &Path, projection: &str, sql: &str) -> Option<Vec<Vec<Value>>> {
    query_rows(data_dir, projection, sql).ok()
}

/// [`query_rows`], failing the test when the query fails.
pub fn rows(data_dir: &Path, projection: &str, sql: &str) -> Vec<Vec<Value>> {
    query_rows(data_dir, projection, sql)
        .unwrap_or_else(|e| panic!("spillway query {sql:?} failed: {e}"))
}

/// Waits until `done` holds, polling; panics with `what` and `detail()` after `timeout`.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            panic!("{what} did not happen within {timeout:?}\n{}", detail());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// POSTs `body` to `url` and returns the status and the JSON answer.
pub fn http_post_json(url: &str, body: &Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(url)
        .send_json(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text)),
    )
}

/// A projection connector of `topics` (a regex) named `name`, with `extra` keys.
pub fn projection(name: &str, topics_regex: &str, extra: &[(&str, &str)]) -> Value {
    let mut config = json!({
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "topics.regex": topics_regex,
    });
    for (k, v) in extra {
        config[*k] = Value::String(v.to_string());
    }
    json!({ "name": name, "config": config })
}
