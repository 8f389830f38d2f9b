//! The worker's OpenAPI document (`GET /openapi.json`) checked against the running API by a
//! schema-driven client: schemathesis (PyPI, installed by scripts/setup.sh) sends requests
//! generated from the document to a real worker running a real PostgreSQL connector, and
//! fails on any 5xx answer, a status code the document does not list, a content type or a
//! body that does not match it.

mod support;

use serde_json::json;
use std::process::Command;
use support::worker::WorkerProcess;
use support::{free_port, scratch, TestDb};

#[test]
fn schemathesis_finds_the_api_as_its_openapi_document_says() {
    let db = TestDb::create("openapi");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    db.sql("INSERT INTO t VALUES (1, 'a')");
    let dir = scratch("openapi");
    let data = dir.path().join("data");
    let w = WorkerProcess::start(&data, free_port(), &[]);
    // One connector that exists, so that paths with its name reach past the 404s.
    // Named as the document's example, which schemathesis sends first.
    let name = "inventory-connector";
    let mut document = db.connector(&[]);
    document["name"] = json!(name);
    let (code, answer) = w.call("POST", "/connectors", Some(&document));
    assert_eq!(code, 201, "{answer}");
    w.wait_status(name, "RUNNING", |s| s["connector"]["state"] == "RUNNING");

    let (code, document) = w.call("GET", "/openapi.json", None);
    assert_eq!(code, 200);
    assert_eq!(document["openapi"], "3.1.0");

    let report = dir.path().join("schemathesis.txt");
    let out = Command::new("schemathesis")
        .arg("run")
        .arg(format!("{}/openapi.json", w.url))
        .args(["--url", &w.url])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--workers", "2", "--seed", "7"])
        .args(["--request-timeout", "20"])
        .arg("--no-color")
        // Its cache and reports go to the test's directory, not the crate's.
        .current_dir(dir.path())
        .output()
        .expect("schemathesis runs (scripts/setup.sh installs it from PyPI)");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&report, &text).ok();
    assert!(
        out.status.success(),
        "schemathesis found the API unlike its document:\n{text}\nworker log:\n{}",
        w.logs()
    );
    // The connector survived the run: nothing it sent broke the worker.
    let (code, _) = w.call("GET", "/health", None);
    assert_eq!(code, 200, "{}", w.logs());
}
