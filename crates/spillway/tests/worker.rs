//! The worker's REST API through a real HTTP client, with real servers behind it: every
//! endpoint, state transitions that really stop and restart capture, secrets absent from
//! responses and logs, a worker restart that resumes each connector in its state, slots
//! released only when asked, authentication, failures with their traces, a broker outage
//! shown as a retry, and the `spillway connector` CLI.

mod support;

use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};
use support::kafka::Broker;
use support::projection::{projection, wait_until};
use support::worker::WorkerProcess;
use support::{binary, free_port, psql, read_topic, scratch, TestDb};

const PASSWORD: &str = "right-password";
const WAIT: Duration = Duration::from_secs(60);

/// A PostgreSQL source capturing `db` as the password-only role (so a password is in the
/// config), through a publication made beforehand.
fn password_source(db: &TestDb) -> Value {
    db.sql(&format!(
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO spillway_pw;
         CREATE PUBLICATION {0}_pub FOR ALL TABLES",
        db.name
    ));
    db.connector(&[
        ("database.user", "spillway_pw"),
        ("database.password", PASSWORD),
        ("publication.autocreate.mode", "disabled"),
    ])
}

#[test]
fn the_rest_api_manages_a_source_and_a_projection_end_to_end() {
    let db = TestDb::create("workerapi");
    db.sql(
        "CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a'), (2, 'b')",
    );
    let source = password_source(&db);
    let dir = scratch("workerapi");
    let data = dir.path().join("data");
    let w = WorkerProcess::start(&data, free_port(), &[]);
    let mut seen: Vec<Value> = Vec::new();
    let mut call = |method: &str, path: &str, body: Option<&Value>| {
        let (status, answer) = w.call(method, path, body);
        seen.push(answer.clone());
        (status, answer)
    };

    let (status, root) = call("GET", "/", None);
    assert_eq!(status, 200);
    assert!(root["version"].is_string(), "{root}");
    let (_, plugins) = call("GET", "/connector-plugins", None);
    let classes: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["class"].as_str().unwrap())
        .collect();
    assert!(
        classes.contains(&"io.debezium.connector.postgresql.PostgresConnector"),
        "{plugins}"
    );
    assert!(
        classes.contains(&"io.debezium.connector.jdbc.JdbcSinkConnector"),
        "{plugins}"
    );

    // Validation: a message per bad key; a good config has none.
    let class = "io.debezium.connector.postgresql.PostgresConnector";
    let (status, v) = call(
        "PUT",
        &format!("/connector-plugins/{class}/config/validate"),
        Some(
            &json!({"connector.class": class, "database.port": "x", "snapshot.mode": "sometimes",
                     "database.password": "hush"}),
        ),
    );
    assert_eq!(status, 200, "{v}");
    let errors = |v: &Value, key: &str| -> Vec<String> {
        v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| {
                c["value"]["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(v["error_count"].as_u64().unwrap() >= 4, "{v}");
    assert!(
        errors(&v, "database.port")[0].contains("database.port"),
        "{v}"
    );
    assert!(errors(&v, "snapshot.mode")[0].contains("initial"), "{v}");
    assert!(!errors(&v, "database.hostname").is_empty(), "{v}");
    assert!(
        !v.to_string().contains("hush"),
        "a secret in the validation answer: {v}"
    );
    let (_, ok) = call(
        "PUT",
        &format!("/connector-plugins/{class}/config/validate"),
        Some(&source["config"]),
    );
    assert_eq!(ok["error_count"], json!(0), "{ok}");
    let (status, _) = call(
        "PUT",
        "/connector-plugins/com.example.Nope/config/validate",
        Some(&json!({})),
    );
    assert_eq!(status, 400);

    // Create both; a second create of a name conflicts.
    let (status, created) = call("POST", "/connectors", Some(&source));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["type"], json!("source"));
    assert_eq!(created["config"]["database.password"], json!("********"));
    assert_eq!(created["tasks"], json!([{"connector": db.name, "task": 0}]));
    let (status, conflict) = call("POST", "/connectors", Some(&source));
    assert_eq!(
        (status, conflict["error_code"].clone()),
        (409, json!(409)),
        "{conflict}"
    );
    let sink = projection("proj", &format!("{}\\.public\\.t", db.name), &[]);
    let (status, _) = call("POST", "/connectors", Some(&sink));
    assert_eq!(status, 201);
    let (status, bad) = call(
        "POST",
        "/connectors",
        Some(&json!({"name": "bad", "config": {"connector.class": "projection"}})),
    );
    assert_eq!(status, 400, "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("topics"), "{bad}");

    w.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    let query = |sql: &str| w.call("POST", "/query", Some(&json!({"sql": sql})));
    let table = format!("{}_public_t", db.name);
    let count = |query: &dyn Fn(&str) -> (u16, Value)| {
        let (status, r) = query(&format!("SELECT count(*) FROM {table}"));
        if status == 200 {
            r["rows"][0][0].as_i64()
        } else {
            None
        }
    };
    wait_until(
        WAIT,
        "the projection holding the snapshot",
        || count(&query) == Some(2),
        || w.logs(),
    );

    let (_, names) = call("GET", "/connectors", None);
    assert_eq!(
        names,
        json!(["proj".to_string(), db.name.clone()]),
        "names, sorted"
    );
    let (_, expanded) = call("GET", "/connectors?expand=status&expand=info", None);
    assert_eq!(
        expanded[&db.name]["status"]["connector"]["state"],
        json!("RUNNING")
    );
    assert_eq!(expanded["proj"]["info"]["type"], json!("sink"));
    let (_, info) = call("GET", &format!("/connectors/{}", db.name), None);
    assert_eq!(info["config"]["database.user"], json!("spillway_pw"));
    let (_, config) = call("GET", &format!("/connectors/{}/config", db.name), None);
    assert_eq!(config["database.password"], json!("********"));
    let (_, tasks) = call("GET", &format!("/connectors/{}/tasks", db.name), None);
    assert_eq!(tasks[0]["id"], json!({"connector": db.name, "task": 0}));
    let (status, task) = call(
        "GET",
        &format!("/connectors/{}/tasks/0/status", db.name),
        None,
    );
    assert_eq!((status, task["state"].clone()), (200, json!("RUNNING")));

    // Pause really stops capture: a row written while paused arrives only after resume.
    let (status, _) = call("PUT", &format!("/connectors/{}/pause", db.name), None);
    assert_eq!(status, 202);
    assert_eq!(w.state(&db.name), "PAUSED");
    let records = read_topic(&data, &db.topic("t")).len();
    db.sql("INSERT INTO t VALUES (3, 'c')");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        read_topic(&data, &db.topic("t")).len(),
        records,
        "a paused source captured"
    );
    let (status, _) = call("PUT", &format!("/connectors/{}/resume", db.name), None);
    assert_eq!(status, 202);
    wait_until(
        WAIT,
        "the row written while paused",
        || count(&query) == Some(3),
        || w.logs(),
    );
    assert!(
        !w.logs().contains("snapshot started") || w.logs().matches("snapshot started").count() == 1
    );

    // Stop, then resume again.
    let (status, _) = call("PUT", &format!("/connectors/{}/stop", db.name), None);
    assert_eq!(status, 204);
    assert_eq!(w.state(&db.name), "STOPPED");
    call("PUT", &format!("/connectors/{}/resume", db.name), None);
    w.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });

    // A new config keeps a masked secret's stored value.
    let mut new_config = config.clone();
    new_config["heartbeat.interval.ms"] = json!("60000");
    let (status, updated) = call(
        "PUT",
        &format!("/connectors/{}/config", db.name),
        Some(&new_config),
    );
    assert_eq!(status, 200, "{updated}");
    let kept = std::fs::read_to_string(data.join(format!("connectors/{}.json", db.name))).unwrap();
    assert!(kept.contains(PASSWORD) && kept.contains("60000"), "{kept}");
    w.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    db.sql("INSERT INTO t VALUES (4, 'd')");
    wait_until(
        WAIT,
        "a row after the config change",
        || count(&query) == Some(4),
        || w.logs(),
    );

    let (status, _) = call("POST", &format!("/connectors/{}/restart", db.name), None);
    assert_eq!(status, 204);
    w.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });

    // Offsets, in Kafka Connect's shapes.
    let (_, offsets) = call("GET", &format!("/connectors/{}/offsets", db.name), None);
    assert_eq!(
        offsets["offsets"][0]["partition"],
        json!({"server": db.name}),
        "{offsets}"
    );
    let (_, offsets) = call("GET", "/connectors/proj/offsets", None);
    assert_eq!(
        offsets["offsets"][0]["partition"],
        json!({"kafka_topic": db.topic("t"), "kafka_partition": 0}),
        "{offsets}"
    );
    assert!(
        offsets["offsets"][0]["offset"]["kafka_offset"]
            .as_u64()
            .unwrap()
            >= 4
    );

    let (status, _) = call("DELETE", "/connectors/proj", None);
    assert_eq!(status, 204);
    let (status, missing) = call("GET", "/connectors/proj", None);
    assert_eq!(status, 404);
    assert_eq!(
        missing,
        json!({"error_code": 404, "message": "Connector proj not found"})
    );
    let (status, _) = call("PUT", "/connectors/proj/pause", None);
    assert_eq!(status, 404);

    let mut w = w;
    assert!(w.stop().success(), "{}", w.logs());
    let logs = w.logs();
    for answer in &seen {
        assert!(
            !answer.to_string().contains(PASSWORD),
            "the password in an answer: {answer}"
        );
    }
    assert!(!logs.contains(PASSWORD), "the password in the log:\n{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
}

fn slot_exists(slot: &str) -> bool {
    psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"),
    ) == "1"
}

#[test]
fn a_restarted_worker_resumes_each_connector_in_its_state_and_slots_go_only_when_asked() {
    let db = TestDb::create("workerresume");
    db.sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
    let keep = db.connector(&[("slot.name", &format!("{}_keep", db.name))]);
    let mut drop = db.connector(&[
        ("slot.name", &format!("{}_drop", db.name)),
        ("publication.name", &format!("{}_pub2", db.name)),
        ("topic.prefix", &format!("{}_d", db.name)),
        ("slot.drop.on.stop", "true"),
    ]);
    drop["name"] = json!(format!("{}_d", db.name));
    let (keep_name, drop_name) = (db.name.clone(), format!("{}_d", db.name));
    let dir = scratch("workerresume");
    let data = dir.path().join("data");
    let port = free_port();
    let mut w = WorkerProcess::start(&data, port, &[]);
    assert_eq!(w.call("POST", "/connectors", Some(&keep)).0, 201);
    assert_eq!(w.call("POST", "/connectors", Some(&drop)).0, 201);
    w.wait_status(&keep_name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    w.wait_status(&drop_name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    wait_until(
        WAIT,
        "both snapshots",
        || {
            read_topic(&data, &db.topic("t")).len() == 1
                && read_topic(&data, &format!("{drop_name}.public.t")).len() == 1
        },
        || w.logs(),
    );
    // Pausing keeps even a slot that is dropped on stop.
    assert_eq!(
        w.call("PUT", &format!("/connectors/{drop_name}/pause"), None)
            .0,
        202
    );
    assert!(
        slot_exists(&format!("{}_drop", db.name)),
        "pausing dropped the slot"
    );
    assert!(w.stop().success(), "{}", w.logs());

    // Changes while no worker runs; a new worker on the same data directory.
    db.sql("INSERT INTO t VALUES (2)");
    let w = WorkerProcess::start(&data, port, &[]);
    w.wait_status(&keep_name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    assert_eq!(
        w.state(&drop_name),
        "PAUSED",
        "a paused connector stays paused"
    );
    wait_until(
        WAIT,
        "the change made while no worker ran",
        || read_topic(&data, &db.topic("t")).len() == 2,
        || w.logs(),
    );
    assert!(
        !w.logs().contains("snapshot started"),
        "the restarted worker snapshotted again:\n{}",
        w.logs()
    );

    // Delete keeps the slot unless asked; resume the other and delete it: its slot goes.
    assert_eq!(
        w.call("DELETE", &format!("/connectors/{keep_name}"), None)
            .0,
        204
    );
    assert!(
        slot_exists(&format!("{}_keep", db.name)),
        "delete dropped a slot it was not asked to"
    );
    assert_eq!(
        w.call("PUT", &format!("/connectors/{drop_name}/resume"), None)
            .0,
        202
    );
    w.wait_status(&drop_name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    db.sql("INSERT INTO t VALUES (3)");
    wait_until(
        WAIT,
        "the resumed connector's change",
        || read_topic(&data, &format!("{drop_name}.public.t")).len() == 3,
        || w.logs(),
    );
    assert_eq!(
        w.call("DELETE", &format!("/connectors/{drop_name}"), None)
            .0,
        204
    );
    assert!(
        !slot_exists(&format!("{}_drop", db.name)),
        "slot.drop.on.stop=true kept the slot:\n{}",
        w.logs()
    );
    assert_eq!(w.call("GET", "/connectors", None).1, json!([]));
}

#[test]
fn credentials_are_required_when_configured_and_beyond_loopback() {
    let dir = scratch("workerauth");
    let data = dir.path().join("data");
    let mut w = WorkerProcess::start(
        &data,
        free_port(),
        &["--token", "t0ken", "--basic-auth", "admin:pw"],
    );
    assert_eq!(w.call("GET", "/connectors", None).0, 401);
    w.auth = Some("Bearer wrong".into());
    let (status, body) = w.call("GET", "/connectors", None);
    assert_eq!(status, 401);
    assert_eq!(body["error_code"], json!(401));
    w.auth = Some("Bearer t0ken".into());
    assert_eq!(w.call("GET", "/connectors", None), (200, json!([])));
    w.auth = Some("Basic YWRtaW46cHc=".into()); // admin:pw
    assert_eq!(w.call("GET", "/connectors", None).0, 200);
    w.auth = Some("Basic YWRtaW46bm8=".into()); // admin:no
    assert_eq!(w.call("GET", "/connectors", None).0, 401);
    assert!(w.stop().success());

    // Beyond loopback without credentials: refused at start, naming the flag.
    let out = Command::new(binary())
        .args([
            "worker",
            "--listen",
            &format!("0.0.0.0:{}", free_port()),
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("SPILLWAY_API_TOKEN")
        .env_remove("SPILLWAY_API_BASIC_AUTH")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--listen") && err.contains("--token"), "{err}");
}

#[test]
fn a_connector_that_cannot_log_in_is_failed_with_its_trace_until_fixed() {
    let db = TestDb::create("workerfail");
    db.sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
    let mut source = password_source(&db);
    source["config"]["database.password"] = json!("wrong-password-9");
    let dir = scratch("workerfail");
    let data = dir.path().join("data");
    let w = WorkerProcess::start(&data, free_port(), &[]);
    assert_eq!(w.call("POST", "/connectors", Some(&source)).0, 201);
    let status = w.wait_status(&db.name, "FAILED", |s| s["connector"]["state"] == "FAILED");
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("spillway_pw") && trace.contains("28P01"),
        "{status}"
    );
    assert!(!status.to_string().contains("wrong-password-9"));
    // The right password through PUT config brings it back.
    let mut config = source["config"].clone();
    config["database.password"] = json!(PASSWORD);
    assert_eq!(
        w.call(
            "PUT",
            &format!("/connectors/{}/config", db.name),
            Some(&config)
        )
        .0,
        200
    );
    w.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    wait_until(
        WAIT,
        "the snapshot",
        || read_topic(&data, &db.topic("t")).len() == 1,
        || w.logs(),
    );
    assert!(!w.logs().contains("wrong-password-9"));
}

#[test]
fn a_broker_outage_shows_as_a_retry_and_loses_nothing() {
    let db = TestDb::create("workerbroker");
    db.sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
    let port = free_port();
    let broker = Broker::start(port);
    let source = db.connector(&[
        ("kafka.bootstrap.servers", &broker.address()),
        ("topic.creation.default.replication.factor", "1"),
        ("kafka.message.timeout.ms", "3000"),
    ]);
    let dir = scratch("workerbroker");
    let data = dir.path().join("data");
    let w = WorkerProcess::start(&data, free_port(), &[]);
    assert_eq!(w.call("POST", "/connectors", Some(&source)).0, 201);
    w.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    let topic = db.topic("t");
    let ids = |broker: &str| -> Vec<i64> {
        let mut ids: Vec<i64> = support::kafka::read_kafka_topic(broker, &topic)
            .iter()
            .filter_map(|r| r.value.as_ref()?["payload"]["after"]["id"].as_i64())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    wait_until(
        WAIT,
        "the snapshot in the broker",
        || ids(&broker.address()) == vec![1],
        || w.logs(),
    );
    drop(broker);
    for i in 2..=6 {
        db.sql(&format!("INSERT INTO t VALUES ({i})"));
    }
    let status = w.wait_status(&db.name, "retrying", |s| {
        s["tasks"][0]["retrying"].is_string()
    });
    assert_eq!(status["connector"]["state"], json!("RUNNING"), "{status}");
    let broker = Broker::start(port);
    wait_until(
        WAIT,
        "every change committed during the outage in the restarted broker",
        || (2..=6).all(|i| ids(&broker.address()).contains(&i)),
        || format!("{:?}\n{}", ids(&broker.address()), w.logs()),
    );
    w.wait_status(&db.name, "no longer retrying", |s| {
        s["tasks"][0]["retrying"].is_null()
    });
}

#[test]
fn the_connector_cli_deploys_and_operates_a_connector() {
    let db = TestDb::create("workercli");
    db.sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
    let dir = scratch("workercli");
    let data = dir.path().join("data");
    let port = free_port();
    let mut w = WorkerProcess::start(&data, port, &["--token", "cli-token"]);
    w.auth = Some("Bearer cli-token".into());
    // The seed's form: a bare config with its name inside.
    let mut bare = db.connector(&[])["config"].clone();
    bare["name"] = json!(db.name);
    let file = dir.path().join("seed.json");
    std::fs::write(&file, bare.to_string()).unwrap();
    let cli = |args: &[&str]| {
        Command::new(binary())
            .arg("connector")
            .args(args)
            .args(["--url", &format!("http://127.0.0.1:{port}")])
            .env("SPILLWAY_API_TOKEN", "cli-token")
            .output()
            .unwrap()
    };
    let out = cli(&["create", "--config", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("created connector {}", db.name))
    );
    w.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    let list = String::from_utf8_lossy(&cli(&["list"]).stdout).into_owned();
    assert!(
        list.starts_with("NAME") && list.contains(&db.name) && list.contains("RUNNING"),
        "{list}"
    );
    let out = cli(&["status", &db.name, "--output", "json"]);
    let status: Value = serde_json::from_slice(&out.stdout).expect("status --output json");
    assert_eq!(status["connector"]["state"], json!("RUNNING"));
    let out = cli(&["pause", &db.name]);
    assert!(out.status.success());
    assert_eq!(w.state(&db.name), "PAUSED");
    assert!(cli(&["resume", &db.name]).status.success());
    // Update: the file's config replaces the stored one (PUT), the connector goes on.
    let mut changed = bare.clone();
    changed["heartbeat.interval.ms"] = json!("700");
    std::fs::write(&file, changed.to_string()).unwrap();
    let out = cli(&["update", "--config-file", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("updated connector {}", db.name))
    );
    assert_eq!(
        w.call("GET", &format!("/connectors/{}/config", db.name), None)
            .1["heartbeat.interval.ms"],
        json!("700")
    );
    let out = cli(&[
        "update",
        "--config-file",
        file.to_str().unwrap(),
        "--name",
        "other",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.wait_status(&db.name, "RUNNING after the update", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    let described = String::from_utf8_lossy(&cli(&["describe", &db.name]).stdout).into_owned();
    assert!(
        described.contains("database.dbname") && described.contains(&db.name),
        "{described}"
    );
    // Validation prints a line per bad key and exits 2.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        json!({"name": "x", "connector.class": "io.debezium.connector.postgresql.PostgresConnector", "database.port": "nope"}).to_string(),
    )
    .unwrap();
    let out = cli(&["validate", "--config", bad.to_str().unwrap()]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{printed}");
    assert!(
        printed.contains("database.port") && printed.contains("database.hostname"),
        "{printed}"
    );
    // A refused request says the worker's message; a wrong token is refused.
    let out = cli(&["status", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Connector nope not found"));
    let out = Command::new(binary())
        .args([
            "connector",
            "list",
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--token",
            "wrong",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    assert!(cli(&["delete", &db.name]).status.success());
    assert_eq!(w.call("GET", "/connectors", None), (200, json!([])));
}

/// The samples of `/metrics` as Prometheus parses them.
fn scrape(w: &WorkerProcess) -> prometheus_parse::Scrape {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&format!("{}/metrics", w.url))
        .call()
        .expect("GET /metrics");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.body_mut().read_to_string().expect("metrics text");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("Prometheus text format")
}

/// The value of the sample named `name` whose labels include `labels`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

#[test]
fn metrics_are_scraped_and_the_lag_histogram_moves_with_writes() {
    let db = TestDb::create("workermetrics");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'x' FROM generate_series(1, 25) i; ANALYZE t");
    let dir = scratch("workermetrics");
    let data = dir.path().join("data");
    let w = WorkerProcess::start(&data, free_port(), &[]);
    assert_eq!(
        w.call("POST", "/connectors", Some(&db.connector(&[]))).0,
        201
    );
    let sink = projection("proj", &format!("{}\\.public\\.t", db.name), &[]);
    assert_eq!(w.call("POST", "/connectors", Some(&sink)).0, 201);
    let name = db.name.as_str();
    let topic = db.topic("t");
    let snapshot = [("connector", name), ("topic", topic.as_str()), ("op", "r")];
    wait_until(
        WAIT,
        "the snapshot counted",
        || sample(&scrape(&w), "spillway_source_events_total", &snapshot) == Some(25.0),
        || w.logs(),
    );
    let s = scrape(&w);
    assert_eq!(
        sample(
            &s,
            "spillway_snapshot_rows",
            &[("connector", name), ("table", "public.t")]
        ),
        Some(25.0)
    );
    assert_eq!(
        sample(
            &s,
            "spillway_snapshot_rows_estimated",
            &[("connector", name), ("table", "public.t")]
        ),
        Some(25.0)
    );
    assert_eq!(
        sample(&s, "spillway_connector_up", &[("connector", name)]),
        Some(1.0)
    );
    assert!(sample(
        &s,
        "spillway_postgres_slot_retained_wal_bytes",
        &[("connector", name)]
    )
    .is_some());
    assert!(sample(&s, "spillway_stream_bytes_total", &[("connector", name)]).unwrap() > 0.0);
    let lag_count = |s: &prometheus_parse::Scrape| {
        sample(s, "spillway_end_to_end_lag_seconds", &[("connector", name)]).unwrap_or(0.0)
    };
    let before = lag_count(&s);
    for i in 26..=30 {
        db.sql(&format!("INSERT INTO t VALUES ({i}, 'y')"));
    }
    let created = [("connector", name), ("topic", topic.as_str()), ("op", "c")];
    wait_until(
        WAIT,
        "the inserts counted and the lag histogram moved",
        || {
            let s = scrape(&w);
            sample(&s, "spillway_source_events_total", &created) == Some(5.0)
                && lag_count(&s) > before
        },
        || w.logs(),
    );
    wait_until(
        WAIT,
        "the projection counted",
        || {
            sample(
                &scrape(&w),
                "spillway_projection_records_total",
                &[("connector", "proj")],
            ) == Some(30.0)
        },
        || w.logs(),
    );
    let s = scrape(&w);
    assert!(sample(
        &s,
        "spillway_projection_lag_seconds",
        &[("connector", "proj")]
    )
    .is_some());
    assert!(sample(&s, "spillway_source_position", &[("connector", name)]).unwrap() > 0.0);
    let (status, health) = w.call("GET", "/health", None);
    assert_eq!((status, health), (200, json!({"status": "UP"})));
}

#[test]
fn configs_kept_in_kafka_let_a_worker_on_another_machine_take_over() {
    let db = TestDb::create("workerkafka");
    db.sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
    let broker = support::kafka::BROKER;
    let configs_topic = format!("{}.configs", db.name);
    let kafka_args = [
        "--kafka-bootstrap-servers",
        broker,
        "--config-storage-topic",
        configs_topic.as_str(),
    ];
    let source = db.connector(&[
        ("kafka.bootstrap.servers", broker),
        ("offset.storage.topic", &format!("{}.offsets", db.name)),
    ]);
    let paused = projection("paused-proj", "nothing\\.to\\.read", &[]);
    let deleted = projection("deleted-proj", "nothing\\.to\\.read", &[]);
    let dir = scratch("workerkafka");
    let mut first = WorkerProcess::start(&dir.path().join("one/data"), free_port(), &kafka_args);
    for c in [&source, &paused, &deleted] {
        assert_eq!(first.call("POST", "/connectors", Some(c)).0, 201);
    }
    assert_eq!(
        first.call("PUT", "/connectors/paused-proj/pause", None).0,
        202
    );
    assert_eq!(
        first.call("DELETE", "/connectors/deleted-proj", None).0,
        204
    );
    first.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    let topic = db.topic("t");
    let ids = || -> Vec<i64> {
        let mut ids: Vec<i64> = support::kafka::read_kafka_topic(broker, &topic)
            .iter()
            .filter_map(|r| r.value.as_ref()?["payload"]["after"]["id"].as_i64())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    wait_until(
        WAIT,
        "the snapshot in Kafka",
        || ids() == vec![1],
        || first.logs(),
    );
    assert!(first.stop().success(), "{}", first.logs());

    // Another machine: an empty data directory, the same cluster.
    db.sql("INSERT INTO t VALUES (2)");
    let second = WorkerProcess::start(&dir.path().join("two/data"), free_port(), &kafka_args);
    let (_, names) = second.call("GET", "/connectors", None);
    assert_eq!(
        names,
        json!(["paused-proj".to_string(), db.name.clone()]),
        "{}",
        second.logs()
    );
    assert_eq!(second.state("paused-proj"), "PAUSED");
    second.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    wait_until(
        WAIT,
        "the change made between the workers",
        || ids() == vec![1, 2],
        || second.logs(),
    );
    assert!(
        !second.logs().contains("snapshot started"),
        "{}",
        second.logs()
    );
}

/// As containers expect: the worker's flags from SPILLWAY_* environment variables.
#[test]
fn the_worker_takes_its_flags_from_the_environment() {
    let dir = scratch("workerenv");
    let data = dir.path().join("data");
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("worker.log")).unwrap();
    let mut child = Command::new(binary())
        .arg("worker")
        .env("SPILLWAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("SPILLWAY_DATA_DIR", &data)
        .env("SPILLWAY_CONFIG_STORAGE_TOPIC", "unused-without-kafka")
        .env_remove("SPILLWAY_API_TOKEN")
        .env_remove("SPILLWAY_API_BASIC_AUTH")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start spillway worker");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the worker did not listen on SPILLWAY_LISTEN's port: {}",
                std::fs::read_to_string(dir.path().join("worker.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let connectors = support::http_get_json(&format!("http://127.0.0.1:{port}/connectors"));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(connectors, json!([]));
    assert!(
        data.is_dir(),
        "SPILLWAY_DATA_DIR is where the worker keeps its state"
    );
}

/// Kafka Connect's habits: `GET /` names the version and the commit (as `--version` does),
/// and unknown paths or methods answer with a JSON error body.
#[test]
fn unknown_paths_and_methods_answer_json_errors_and_the_root_names_the_commit() {
    let dir = scratch("workerroot");
    let port = free_port();
    let worker = WorkerProcess::start(&dir.path().join("data"), port, &[]);
    let root = support::http_get_json(&worker.url);
    let version = Command::new(binary()).arg("--version").output().unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    let commit = root["commit"].as_str().unwrap();
    assert!(!commit.is_empty(), "{root}");
    assert!(
        version.contains(&format!("(commit {commit})")),
        "{version} / {root}"
    );
    assert_eq!(root["version"], json!(env!("CARGO_PKG_VERSION")));

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent
        .get(&format!("{}/no/such/path", worker.url))
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let body: Value = serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error_code"], json!(404), "{body}");
    let mut answer = agent
        .delete(&format!("{}/connectors", worker.url))
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 405);
    let body: Value = serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error_code"], json!(405), "{body}");
    assert!(body["message"].as_str().is_some(), "{body}");
}

/// KIP-477: PATCH changes the keys given, removes those set to null, keeps the rest (secrets
/// included) and restarts the connector with the result.
#[test]
fn patching_a_config_changes_only_the_keys_given() {
    let db = TestDb::create("workerpatch");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let source = password_source(&db);
    let dir = scratch("workerpatch");
    let w = WorkerProcess::start(&dir.path().join("data"), free_port(), &[]);
    let name = source["name"].as_str().unwrap().to_string();
    let (status, created) = w.call("POST", "/connectors", Some(&source));
    assert_eq!(status, 201, "{created}");
    w.wait_status(&name, "RUNNING", |s| s["connector"]["state"] == "RUNNING");
    let path = format!("/connectors/{name}/config");
    let (status, info) = w.call(
        "PATCH",
        &path,
        Some(&json!({"topic.heartbeat.prefix": "hb", "heartbeat.interval.ms": "500"})),
    );
    assert_eq!(status, 200, "{info}");
    let (_, config) = w.call("GET", &path, None);
    assert_eq!(config["topic.heartbeat.prefix"], "hb", "{config}");
    assert_eq!(config["heartbeat.interval.ms"], "500", "{config}");
    assert_eq!(config["database.user"], "spillway_pw", "{config}");
    assert_ne!(
        config["database.password"],
        json!(PASSWORD),
        "masked: {config}"
    );
    // Restarted with the kept password: it connects and writes heartbeats.
    wait_until(
        WAIT,
        "a heartbeat on the patched heartbeat topic",
        || {
            support::topics(&dir.path().join("data"))
                .iter()
                .any(|t| t.starts_with("hb."))
        },
        || w.logs(),
    );
    let (status, _) = w.call(
        "PATCH",
        &path,
        Some(&json!({"heartbeat.interval.ms": null})),
    );
    assert_eq!(status, 200);
    let (_, config) = w.call("GET", &path, None);
    assert!(config.get("heartbeat.interval.ms").is_none(), "{config}");
    assert_eq!(config["topic.heartbeat.prefix"], "hb", "{config}");
    let (status, body) = w.call("PATCH", "/connectors/nope/config", Some(&json!({"a": "b"})));
    assert_eq!(status, 404, "{body}");
    let (status, body) = w.call("PATCH", &path, Some(&json!(["not", "an", "object"])));
    assert_eq!(status, 400, "{body}");
}

/// KIP-745's restart options and the task restart path.
#[test]
fn restart_takes_kafka_connects_options_and_tasks_restart_on_their_own_path() {
    let db = TestDb::create("workerrestart");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let source = password_source(&db);
    let dir = scratch("workerrestart");
    let w = WorkerProcess::start(&dir.path().join("data"), free_port(), &[]);
    let name = source["name"].as_str().unwrap().to_string();
    let (status, created) = w.call("POST", "/connectors", Some(&source));
    assert_eq!(status, 201, "{created}");
    let running = |s: &Value| s["connector"]["state"] == "RUNNING";
    w.wait_status(&name, "RUNNING", running);
    let restart = |query: &str| w.call("POST", &format!("/connectors/{name}/restart{query}"), None);

    // Not failed: onlyFailed restarts nothing and says so.
    let (status, body) = restart("?onlyFailed=true");
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["connector"]["state"], "RUNNING", "{body}");
    let (status, body) = restart("?includeTasks=true&onlyFailed=false");
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["connector"]["state"], "RESTARTING", "{body}");
    assert_eq!(body["tasks"][0]["state"], "RESTARTING", "{body}");
    w.wait_status(&name, "RUNNING again", running);
    let (status, body) = restart("");
    assert_eq!(status, 204, "{body}");
    let (status, body) = restart("?includeTasks=maybe");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("includeTasks"),
        "{body}"
    );

    let (status, body) = w.call("POST", &format!("/connectors/{name}/tasks/0/restart"), None);
    assert_eq!(status, 204, "{body}");
    w.wait_status(&name, "RUNNING after the task restart", running);
    let (status, body) = w.call("POST", &format!("/connectors/{name}/tasks/1/restart"), None);
    assert_eq!(status, 404, "{body}");
    let (status, body) = w.call("POST", "/connectors/nope/tasks/0/restart", None);
    assert_eq!(status, 404, "{body}");
}

/// `/admin/loggers`: a level changed while running takes effect at once, for the target
/// named and its modules, and bad names or levels are refused.
#[test]
fn log_levels_change_at_run_time_through_admin_loggers() {
    let db = TestDb::create("workerlog");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let source = password_source(&db);
    let dir = scratch("workerlog");
    let w = WorkerProcess::start(&dir.path().join("data"), free_port(), &[]);
    let (status, all) = w.call("GET", "/admin/loggers", None);
    assert_eq!(
        (status, all["root"]["level"].clone()),
        (200, json!("INFO")),
        "{all}"
    );
    let (status, body) = w.call("GET", "/admin/loggers/spillway_postgres::replication", None);
    assert_eq!((status, body), (200, json!({"level": "INFO"})));

    let (status, changed) = w.call(
        "PUT",
        "/admin/loggers/spillway_postgres",
        Some(&json!({"level": "DEBUG"})),
    );
    assert_eq!((status, changed), (200, json!(["spillway_postgres"])));
    let (_, body) = w.call("GET", "/admin/loggers/spillway_postgres::replication", None);
    assert_eq!(body, json!({"level": "DEBUG"}));
    let (_, all) = w.call("GET", "/admin/loggers", None);
    assert_eq!(all["spillway_postgres"]["level"], "DEBUG", "{all}");

    // The replication module logs its flush confirmations at DEBUG: now they show.
    let mut source = source;
    source["config"]["status.update.interval.ms"] = json!("200");
    let (status, created) = w.call("POST", "/connectors", Some(&source));
    assert_eq!(status, 201, "{created}");
    wait_until(
        WAIT,
        "a DEBUG line of spillway_postgres in the worker's log",
        || w.logs().contains("confirming flushed position"),
        || w.logs(),
    );

    for (name, body) in [
        ("spillway_postgres", json!({"level": "LOUD"})),
        ("a,b=trace", json!({"level": "DEBUG"})),
        ("spillway", json!({"lvl": "DEBUG"})),
    ] {
        let (status, answer) = w.call("PUT", &format!("/admin/loggers/{name}"), Some(&body));
        assert_eq!(status, 400, "{name}: {answer}");
    }
}
