//! Probed as a hostile user on the same machine and network would: the HTTP surfaces'
//! listening policy, secrets in answers, CLI output and logs, masked secrets sent back
//! towards another server, file paths over the REST API, and input that used to panic,
//! hang or be taken silently.

mod support;

use serde_json::{json, Value};
use std::io::Read;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::worker::WorkerProcess;
use support::{
    assert_exit, binary, free_port, run_to_exit, scratch, wait_for_log, write_config, Spillway,
    TestDb,
};

fn spillway(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env_remove("SPILLWAY_API_TOKEN")
        .env_remove("SPILLWAY_API_BASIC_AUTH")
        .output()
        .expect("run spillway")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A PostgreSQL source of the local server's `postgres` database; `extra` adds keys.
fn source(extra: &[(&str, Value)]) -> Value {
    let mut config = json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1",
        "database.port": "5432",
        "database.user": "postgres",
        "database.dbname": "postgres",
        "topic.prefix": "hostile",
        "slot.name": format!("hostile_{}", std::process::id()),
    });
    for (k, v) in extra {
        config[*k] = v.clone();
    }
    config
}

fn run_config(config: &Value, tag: &str) -> Output {
    let dir = scratch(tag);
    let path = write_config(dir.path(), config);
    run_to_exit(&path, &dir.path().join("data"))
}

#[test]
fn the_http_api_of_run_needs_credentials_beyond_loopback() {
    let dir = scratch("listenpolicy");
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        &json!({"name": "p", "config": {"connector.class": "projection", "topics": "none.yet"}}),
    );
    let config = config.to_str().unwrap();
    let data_arg = data.to_str().unwrap();
    let open = format!("0.0.0.0:{}", free_port());
    let out = spillway(&[
        "run",
        "--config",
        config,
        "--data-dir",
        data_arg,
        "--listen",
        &open,
    ]);
    assert_exit(&out, 2, &["--listen", "--token"]);
    for bad in [":", "user:", ":pw", "nocolon"] {
        let out = spillway(&[
            "run",
            "--config",
            config,
            "--data-dir",
            data_arg,
            "--listen",
            &open,
            "--basic-auth",
            bad,
        ]);
        assert_exit(&out, 2, &["--basic-auth"]);
        let out = spillway(&["worker", "--data-dir", data_arg, "--basic-auth", bad]);
        assert_exit(&out, 2, &["--basic-auth"]);
    }
    let out = spillway(&[
        "run",
        "--config",
        config,
        "--data-dir",
        data_arg,
        "--listen",
        &open,
        "--token",
        "",
    ]);
    assert_exit(&out, 2, &["--token"]);

    // With a token, beyond loopback is served and every request needs it.
    let port = free_port();
    let mut sw = Spillway::start_with(
        &json!({"name": "p", "config": {"connector.class": "projection", "topics": "none.yet"}}),
        &data,
        &["--listen", &format!("0.0.0.0:{port}"), "--token", "t0ken"],
    );
    wait_for_log(&sw, "http api serving", Duration::from_secs(30));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/query");
    let body = json!({"sql": "SELECT 1"}).to_string();
    let status = |auth: Option<&str>| {
        let mut request = agent.post(&url).header("Content-Type", "application/json");
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.send(body.as_str()).unwrap().status().as_u16()
    };
    assert_eq!(status(None), 401);
    assert_eq!(status(Some("Bearer nope")), 401);
    assert_ne!(status(Some("Bearer t0ken")), 401);
    let metrics = agent
        .get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(metrics, 401, "metrics without the token");
    assert!(sw.stop().success(), "{}", sw.logs());
}

#[test]
fn durations_intervals_and_sizes_out_of_range_exit_2_naming_the_key() {
    for (key, value) in [
        ("status.update.interval.ms", "0"),
        ("offset.flush.interval.ms", "0"),
        ("connect.timeout.ms", "0"),
        ("status.update.interval.ms", "99999999999"),
        ("heartbeat.interval.ms", "-1"),
        ("slot.max.retries", "-1"),
        ("log.segment.bytes", "0"),
        ("log.compression.type", "gzip"),
        ("topic.creation.default.partitions", "0"),
        ("database.port", "70000"),
        ("slot.retry.delay.ms", "1e3"),
    ] {
        let out = run_config(&source(&[(key, json!(value))]), "range");
        assert_exit(&out, 2, &[&format!("`{key}`")]);
    }
}

#[test]
fn flags_out_of_range_exit_2_naming_the_flag() {
    let dir = scratch("flags");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = format!("sqlite:{}", dir.path().join("q.db").display());
    for (flag, value) in [
        ("--timeout", "3000000"),
        ("--timeout", "inf"),
        ("--timeout", "NaN"),
        ("--timeout", "0"),
        ("--timeout", "-1"),
        ("--limit", "18446744073709551615"),
        ("--limit", "0"),
    ] {
        let out = spillway(&[
            "query",
            "--url",
            &db,
            &format!("{flag}={value}"),
            "SELECT 1",
        ]);
        assert_exit(&out, 2, &[flag]);
    }
    for value in ["inf", "0", "1e300"] {
        let out = spillway(&[
            "tail",
            "t",
            "--data-dir",
            data.to_str().unwrap(),
            "--timeout",
            value,
        ]);
        assert_exit(&out, 2, &["--timeout"]);
    }
}

#[test]
fn an_answer_is_capped_in_bytes_not_only_in_rows() {
    let dir = scratch("bigcell");
    let path = dir.path().join("q.db");
    let conn = Command::new("python3")
        .args(["-c", &format!("import sqlite3; c = sqlite3.connect({:?}); c.execute('CREATE TABLE t (x)'); c.commit()", path.display().to_string())])
        .status()
        .unwrap();
    assert!(conn.success());
    let db = format!("sqlite:{}", path.display());
    let started = Instant::now();
    let out = spillway(&["query", "--url", &db, "SELECT randomblob(1000000000)"]);
    assert_exit(&out, 1, &["more than"]);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn configs_that_are_endless_empty_or_hold_no_connector_exit_2() {
    let dir = scratch("endless");
    let data = dir.path().join("data");
    let out = run_to_exit(std::path::Path::new("/dev/zero"), &data);
    assert_exit(&out, 2, &["/dev/zero", "MiB"]);
    for (name, text) in [
        ("array.json", "[]"),
        ("empty.json", ""),
        ("blank.json", "  \n"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = run_to_exit(&path, &data);
        assert_exit(&out, 2, &[name]);
    }
    let out = run_config(
        &source(&[
            ("database.sslmode", json!("verify-ca")),
            ("database.sslrootcert", json!("/dev/zero")),
        ]),
        "certzero",
    );
    assert_exit(&out, 2, &["database.sslrootcert"]);
}

#[test]
fn control_characters_in_config_keys_and_values_never_reach_the_log_raw() {
    let out = run_config(
        &source(&[
            ("database.port", json!("1")),
            ("unknown\nFORGED: key", json!("v")),
            ("colour\u{1b}[31mred", json!("v")),
        ]),
        "controls",
    );
    let err = stderr(&out);
    assert!(
        !err.lines().any(|l| l.starts_with("FORGED")),
        "a forged log line:\n{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "a terminal sequence in the log:\n{err}"
    );
    assert!(
        err.contains("unknown\\nFORGED") && err.contains("colour\\u{1b}[31mred"),
        "{err}"
    );
}

/// Secrets of every kind a config may hold, and where each must never show.
const SECRETS: &[&str] = &[
    "PEMSECRET1",
    "OAUTHSECRET2",
    "pa/ss3CRET",
    "PCTSECRET4",
    "JAASSECRET5",
];

#[test]
fn secrets_of_every_kind_are_masked_in_answers_cli_output_and_logs() {
    let target = TestDb::create("secretsmask");
    let dir = scratch("secretsmask");
    let data = dir.path().join("data");
    let w = WorkerProcess::start(&data, free_port(), &[]);
    let projection = |name: &str, url: String, extra: Value| {
        let mut config = json!({
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "topics": "none.yet",
            "connection.url": url,
        });
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        json!({"name": name, "config": config})
    };
    // Trust authentication: the server takes each connection whatever the password.
    let plain = format!("postgresql://postgres:plain@127.0.0.1:5432/{}", target.name);
    let connectors = [
        projection(
            "masked",
            plain,
            json!({
                "kafka.ssl.key.pem": "-----BEGIN PRIVATE KEY----- PEMSECRET1",
                "kafka.sasl.oauthbearer.config": "clientSecret=OAUTHSECRET2",
                "kafka.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required password=\"JAASSECRET5\";",
            }),
        ),
        projection(
            "slash",
            format!(
                "postgresql://postgres:pa/ss3CRET@127.0.0.1:5432/{}",
                target.name
            ),
            json!({}),
        ),
        projection(
            "percent",
            format!(
                "postgresql://postgres@127.0.0.1:5432/{}?pass%77ord=PCTSECRET4",
                target.name
            ),
            json!({}),
        ),
    ];
    let mut seen = Vec::new();
    for connector in &connectors {
        let (status, created) = w.call("POST", "/connectors", Some(connector));
        // A URL that does not parse is refused, and the refusal must mask it too.
        assert!(status == 201 || status == 400, "{status} {created}");
        seen.push(created.to_string());
        let (_, validated) = w.call(
            "PUT",
            "/connector-plugins/io.debezium.connector.jdbc.JdbcSinkConnector/config/validate",
            Some(&connector["config"]),
        );
        seen.push(validated.to_string());
        let name = connector["name"].as_str().unwrap();
        if status != 201 {
            continue;
        }
        for path in [
            format!("/connectors/{name}"),
            format!("/connectors/{name}/config"),
            format!("/connectors/{name}/tasks"),
            format!("/connectors/{name}/status"),
        ] {
            seen.push(w.call("GET", &path, None).1.to_string());
        }
        let cli = Command::new(binary())
            .args([
                "connector",
                "--url",
                &w.url,
                "describe",
                name,
                "--output",
                "json",
            ])
            .output()
            .unwrap();
        seen.push(String::from_utf8_lossy(&cli.stdout).into_owned());
        seen.push(String::from_utf8_lossy(&cli.stderr).into_owned());
    }
    assert_eq!(
        w.call("GET", "/connectors/masked", None).0,
        200,
        "{}",
        w.logs()
    );
    seen.push(
        w.call("GET", "/connectors?expand=info&expand=status", None)
            .1
            .to_string(),
    );
    // The projection's log lines name its target.
    std::thread::sleep(Duration::from_millis(1500));
    let mut w = w;
    assert!(w.stop().success(), "{}", w.logs());
    seen.push(w.logs());
    for text in &seen {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} shown in:\n{text}");
        }
    }
}

/// A TCP listener that counts the connections it accepts.
fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut s) = stream {
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
            }
        }
    });
    (port, accepted)
}

#[test]
fn a_masked_secret_is_never_sent_to_another_server() {
    let db = TestDb::create("maskport");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let dir = scratch("maskport");
    let data = dir.path().join("data");
    let w = WorkerProcess::start(&data, free_port(), &[]);
    let mut connector = db.connector(&[
        ("database.user", "spillway_pw"),
        ("database.password", "right-password"),
    ]);
    connector["config"]["slot.drop.on.stop"] = json!("true");
    let (status, created) = w.call("POST", "/connectors", Some(&connector));
    assert_eq!(status, 201, "{created}");
    let (_, shown) = w.call("GET", &format!("/connectors/{}/config", db.name), None);
    assert_eq!(shown["database.password"], json!("********"));
    let (port, accepted) = counting_listener();
    for (key, value) in [
        ("database.port", json!(port.to_string())),
        ("database.hostname", json!("localhost")),
        ("database.user", json!("postgres")),
    ] {
        let mut moved = shown.clone();
        moved[key] = value;
        let (status, refused) = w.call(
            "PUT",
            &format!("/connectors/{}/config", db.name),
            Some(&moved),
        );
        assert_eq!(status, 400, "{key}: {refused}");
        let message = refused["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(key) && message.contains("database.password"),
            "{message}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "something connected to the new port"
    );
    // Kept where it was: the stored config still has its password and the old port.
    let kept = std::fs::read_to_string(data.join(format!("connectors/{}.json", db.name))).unwrap();
    assert!(
        kept.contains("right-password") && kept.contains("5432"),
        "{kept}"
    );
    // The same change with the secret given again goes through (and reaches the port).
    let mut moved = shown.clone();
    moved["database.port"] = json!(port.to_string());
    moved["database.password"] = json!("other-password");
    let (status, body) = w.call(
        "PUT",
        &format!("/connectors/{}/config", db.name),
        Some(&moved),
    );
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the connector never tried the new port:\n{}",
            w.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = w.call("DELETE", &format!("/connectors/{}", db.name), None);
    assert_eq!(status, 204);
}

#[test]
fn files_outside_the_data_directory_and_unsafe_names_are_refused_over_rest() {
    let dir = scratch("restpaths");
    let data = dir.path().join("data");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let w = WorkerProcess::start(&data, free_port(), &[]);
    let evil = outside.join("evil.db");
    let sink = |name: &str, url: String| {
        json!({"name": name, "config": {
            "connector.class": "projection", "topics": "none.yet", "connection.url": url,
        }})
    };
    for url in [
        format!("sqlite:{}", evil.display()),
        format!("jdbc:sqlite:{}", evil.display()),
        format!(
            "sqlite:{}/projections/../../outside/evil.db",
            data.display()
        ),
    ] {
        let (status, body) = w.call("POST", "/connectors", Some(&sink("evil", url.clone())));
        assert_eq!(status, 400, "{url}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("connection.url"),
            "{body}"
        );
    }
    let (status, body) = w.call(
        "PUT",
        "/connectors/evil/config",
        Some(&sink("evil", format!("sqlite:{}", evil.display()))["config"]),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = w.call(
        "POST",
        "/connectors",
        Some(&json!({"name": "cert", "config": source(&[("database.sslmode", json!("verify-ca")), ("database.sslrootcert", json!("/etc/ssl/certs/ca-certificates.crt"))])})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("database.sslrootcert"),
        "{body}"
    );
    // Inside the data directory is fine.
    let inside = format!("sqlite:{}/projections/ok.db", data.display());
    let (status, body) = w.call("POST", "/connectors", Some(&sink("ok", inside)));
    assert_eq!(status, 201, "{body}");
    // Names that would be special or hidden files are refused, and nothing is kept.
    for name in [".", "..", ".hidden", "a/b", "-dash", &"x".repeat(300)] {
        let (status, body) = w.call(
            "POST",
            "/connectors",
            Some(&sink(
                name,
                format!("sqlite:{}/projections/n.db", data.display()),
            )),
        );
        assert_eq!(status, 400, "{name}: {body}");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !evil.exists(),
        "a file was created outside the data directory"
    );
    let kept: Vec<String> = std::fs::read_dir(data.join("connectors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(kept.iter().all(|f| f.starts_with("ok.")), "{kept:?}");
    // A worker started with --allow-path may name files there.
    let mut w = w;
    assert!(w.stop().success());
    let w = WorkerProcess::start(
        &data,
        free_port(),
        &["--allow-path", outside.to_str().unwrap()],
    );
    let (status, body) = w.call(
        "POST",
        "/connectors",
        Some(&sink("allowed", format!("sqlite:{}", evil.display()))),
    );
    assert_eq!(status, 201, "{body}");
}

#[test]
fn settings_that_would_change_the_records_are_refused_not_ignored() {
    let mysql = json!({
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "database.hostname": "127.0.0.1",
        "database.port": "3306",
        "database.user": "spillway",
        "database.password": "spillway",
        "topic.prefix": "hostile",
        "database.server.id": "4242",
    });
    let projection =
        json!({"name": "p", "config": {"connector.class": "projection", "topics": "a"}});
    for (config, key, value) in [
        (source(&[]), "transforms", "unwrap"),
        (
            source(&[]),
            "transforms.unwrap.type",
            "io.debezium.transforms.ExtractNewRecordState",
        ),
        (source(&[]), "predicates", "isTombstone"),
        (source(&[]), "errors.tolerance", "all"),
        (source(&[]), "value.converter.decimal.format", "NUMERIC"),
        (source(&[]), "producer.override.linger.ms", "50"),
        (
            source(&[]),
            "database.password",
            "${file:/etc/spillway/db.properties:password}",
        ),
        (source(&[]), "database.hostname", "${env:DB_HOST}"),
        (mysql.clone(), "database.ssl.mode", "sometimes"),
        (mysql, "transforms", "route"),
        (projection.clone(), "transforms", "unwrap"),
        (projection, "errors.deadletterqueue.topic.name", "dlq"),
    ] {
        let mut config = config;
        match config.get_mut("config") {
            Some(inner) => inner[key] = json!(value),
            None => config[key] = json!(value),
        }
        let out = run_config(&config, "refused");
        assert_exit(&out, 2, &[&format!("`{key}`")]);
    }
}
