//! Kafka Connect's config providers: `${file:…}`, `${env:…}` and `${dir:…}` references are
//! resolved when a connector starts, the stored config keeps the reference, and the secret
//! never reaches a file, a log, an error or a REST answer.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::worker::WorkerProcess;
use support::{assert_exit, free_port, scratch, wait_for_log, wait_for_records, Spillway, TestDb};

const PASSWORD: &str = "right-password";

/// A source capturing `db` (table `t`, one row) as the password-only role, through a
/// publication made beforehand, the password from `password`.
fn source(db: &TestDb, password: &str, extra: &[(&str, &str)]) -> Value {
    let mut config = db.connector(&[
        ("database.user", "spillway_pw"),
        ("publication.autocreate.mode", "disabled"),
    ]);
    config["config"]["database.password"] = json!(password);
    for (k, v) in extra {
        config["config"][*k] = json!(v);
    }
    config
}

#[test]
fn a_password_from_a_file_provider_connects_and_is_never_written_or_shown() {
    let db = TestDb::create("provfile");
    db.sql(&format!(
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO spillway_pw;
         CREATE PUBLICATION {0}_pub FOR ALL TABLES",
        db.name
    ));
    let dir = scratch("provfile");
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(
        &secrets,
        format!("# the database\ndb.password = {PASSWORD}\n"),
    )
    .unwrap();
    let reference = format!("${{file:{}:db.password}}", secrets.display());
    let config = source(
        &db,
        &reference,
        &[
            ("config.providers", "file"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            (
                "config.providers.file.param.allowed.paths",
                &dir.path().display().to_string(),
            ),
        ],
    );
    let data = dir.path().join("data");
    let mut sw = Spillway::start(&config, &data);
    wait_for_log(&sw, "streaming changes", Duration::from_secs(60));
    wait_for_records(&sw, &db.topic("t"), 1, Duration::from_secs(30));
    assert!(sw.stop().success(), "{}", sw.logs());
    let kept = std::fs::read_to_string(data.join(format!("connectors/{}.json", db.name))).unwrap();
    assert!(
        kept.contains(&reference.replace('\\', "\\\\")) || kept.contains(&reference),
        "{kept}"
    );
    assert!(
        !kept.contains(PASSWORD),
        "the resolved password was kept:\n{kept}"
    );
    assert!(!sw.logs().contains(PASSWORD), "{}", sw.logs());

    // What cannot be resolved stops start-up naming the key, showing the reference.
    for (password, needle) in [
        (
            format!("${{file:{}:missing}}", secrets.display()),
            "has no key",
        ),
        ("${file:/etc/passwd:root}".to_string(), "allowed.paths"),
        (
            "${vault:secret/db:password}".to_string(),
            "no config provider",
        ),
    ] {
        let mut bad = config.clone();
        bad["config"]["database.password"] = json!(password);
        let path = support::write_config(dir.path(), &bad);
        let out = support::run_to_exit(&path, &dir.path().join("data2"));
        assert_exit(&out, 2, &["`database.password`", needle]);
    }
    // A value that resolves but is wrong is reported with the reference, not the secret.
    std::fs::write(
        &secrets,
        format!("db.password = {PASSWORD}\nport = seventy\n"),
    )
    .unwrap();
    let mut bad = config.clone();
    bad["config"]["database.port"] = json!(format!("${{file:{}:port}}", secrets.display()));
    let path = support::write_config(dir.path(), &bad);
    let out = support::run_to_exit(&path, &dir.path().join("data3"));
    assert_exit(&out, 2, &["`database.port`", "${file:"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("seventy"));
}

#[test]
fn an_environment_reference_resolves_within_its_allowlist() {
    let db = TestDb::create("provenv");
    db.sql(&format!(
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO spillway_pw;
         CREATE PUBLICATION {0}_pub FOR ALL TABLES",
        db.name
    ));
    let dir = scratch("provenv");
    let providers = [
        ("config.providers", "env"),
        (
            "config.providers.env.class",
            "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        ),
        (
            "config.providers.env.param.allowlist.pattern",
            "SPILLWAY_DB_.*",
        ),
    ];
    let config = source(&db, "${env:SPILLWAY_DB_PASSWORD}", &providers);
    let path = support::write_config(dir.path(), &config);
    let child = std::process::Command::new(support::binary())
        .args(["run", "--config"])
        .arg(&path)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("SPILLWAY_DB_PASSWORD", PASSWORD)
        .env("HOME_SECRET", "nope")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let data = dir.path().join("data");
    while support::topics(&data).is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing captured");
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: kill only sends a signal to the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A variable outside the allowlist is refused.
    let bad = source(&db, "${env:HOME_SECRET}", &providers);
    let path = support::write_config(dir.path(), &bad);
    let out = support::run_to_exit(&path, &dir.path().join("data2"));
    assert_exit(&out, 2, &["`database.password`", "allowlist.pattern"]);
}

#[test]
fn a_worker_resolves_with_its_own_providers_and_refuses_a_connectors() {
    let db = TestDb::create("provworker");
    db.sql(&format!(
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO spillway_pw;
         CREATE PUBLICATION {0}_pub FOR ALL TABLES",
        db.name
    ));
    let dir = scratch("provworker");
    let secrets_dir = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets_dir).unwrap();
    std::fs::write(secrets_dir.join("db-password"), PASSWORD).unwrap();
    let worker_file = dir.path().join("worker.properties");
    std::fs::write(
        &worker_file,
        format!(
            "config.providers=dir\nconfig.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider\nconfig.providers.dir.param.allowed.paths={}\n",
            secrets_dir.display()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let worker_arg = worker_file.display().to_string();
    let w = WorkerProcess::start(&data, free_port(), &["--worker-config", &worker_arg]);
    let reference = format!("${{dir:{}:db-password}}", secrets_dir.display());
    let mut config = source(&db, &reference, &[("slot.drop.on.stop", "true")]);
    let (status, created) = w.call("POST", "/connectors", Some(&config));
    assert_eq!(status, 201, "{created}");
    w.wait_status(&db.name, "RUNNING", |s| {
        s["connector"]["state"] == "RUNNING"
    });
    let (_, shown) = w.call("GET", &format!("/connectors/{}/config", db.name), None);
    assert_eq!(shown["database.password"], json!(reference));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while support::topics(&data).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing captured:\n{}",
            w.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A connector may not declare providers of its own over the API.
    config["name"] = json!("other");
    config["config"]["config.providers"] = json!("file");
    config["config"]["config.providers.file.class"] =
        json!("org.apache.kafka.common.config.provider.FileConfigProvider");
    config["config"]["database.password"] = json!("${file:/etc/passwd:root}");
    let (status, refused) = w.call("POST", "/connectors", Some(&config));
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("config.providers"),
        "{refused}"
    );
    let (status, _) = w.call("DELETE", &format!("/connectors/{}", db.name), None);
    assert_eq!(status, 204);
    let mut w = w;
    assert!(w.stop().success());
    assert!(!w.logs().contains(PASSWORD), "{}", w.logs());
    // The worker file declares providers only.
    std::fs::write(&worker_file, "bootstrap.servers=x:9092\n").unwrap();
    let out = std::process::Command::new(support::binary())
        .args([
            "worker",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--worker-config",
            &worker_arg,
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_exit(&out, 2, &["bootstrap.servers", "--worker-config"]);
}

/// Connector files as connect-standalone takes them: `.properties` with `name=`, comments,
/// `=`, `:` and blank separators, escapes and continued lines, for a source and a projection
/// run together; and `connector create` sends one to a worker.
#[test]
fn properties_files_configure_a_source_and_a_projection() {
    let db = TestDb::create("propsfile");
    db.sql(
        "CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a'), (2, 'b')",
    );
    let dir = scratch("propsfile");
    let name = &db.name;
    let source = format!(
        "# a Debezium connector as connect-standalone takes it\n\
         name={name}\n\
         connector.class=io.debezium.connector.postgresql.PostgresConnector\n\
         ! another comment style\n\
         database.hostname : 127.0.0.1\n\
         database.port 5432\n\
         database.user=postgres\n\
         database.dbname={name}\n\
         topic.prefix={name}\n\
         slot.name={name}\n\
         publication.name={name}_pub\n\
         table.include.list=public\\\\.nothing,\\\n\
         \x20   public\\\\.t\n\
         offset.flush.interval.ms=100\n"
    );
    let projection = format!(
        "name=state\n\
         connector.class=io.debezium.connector.jdbc.JdbcSinkConnector\n\
         topics.regex={name}\\\\.public\\\\.t\n\
         table.name.format=people\n"
    );
    let source_path = dir.path().join("source.properties");
    let projection_path = dir.path().join("state.PROPERTIES");
    std::fs::write(&source_path, &source).unwrap();
    std::fs::write(&projection_path, &projection).unwrap();
    let data = dir.path().join("data");
    let log = std::fs::File::create(dir.path().join("run.log")).unwrap();
    let mut child = std::process::Command::new(support::binary())
        .args(["run", "--config"])
        .arg(&source_path)
        .arg("--config-file")
        .arg(&projection_path)
        .arg("--data-dir")
        .arg(&data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start spillway");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = support::projection::try_rows(
            &data,
            "state",
            "SELECT id, name FROM people ORDER BY id",
        );
        if rows.as_ref().is_some_and(|r| r.len() == 2) || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    let logs = std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default();
    assert_eq!(
        rows,
        Some(vec![vec![json!(1), json!("a")], vec![json!(2), json!("b")]]),
        "{logs}"
    );

    // A broken file names its line.
    let bad = dir.path().join("bad.properties");
    std::fs::write(&bad, "name=x\nkey=\\uZZZZ\n").unwrap();
    let out = support::run_to_exit(&bad, &dir.path().join("data2"));
    assert_exit(&out, 2, &["bad.properties", "line 2"]);

    // `connector create` reads the same file for a worker.
    let w = WorkerProcess::start(&dir.path().join("wdata"), free_port(), &[]);
    std::fs::write(
        &projection_path,
        projection.replace("name=state", "name=state2"),
    )
    .unwrap();
    let out = std::process::Command::new(support::binary())
        .args(["connector", "--url", &w.url, "create", "--config-file"])
        .arg(&projection_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, config) = w.call("GET", "/connectors/state2/config", None);
    assert_eq!(status, 200, "{config}");
    assert_eq!(
        config["topics.regex"],
        json!(format!("{name}\\.public\\.t")),
        "{config}"
    );
}
