//! Bad input gets a clear message and the documented exit status, never a panic:
//! configuration mistakes exit 2 naming the key; runtime problems exit 1 with a hint.

mod support;

use serde_json::{json, Value};
use std::process::{Command, Output};
use support::{assert_exit, write_config, TestDb};

fn run_with(config: &Value, tag: &str) -> (Output, tempfile::TempDir) {
    let dir = support::scratch(tag);
    let path = write_config(dir.path(), config);
    run_path(&path, dir)
}

fn run_path(path: &std::path::Path, dir: tempfile::TempDir) -> (Output, tempfile::TempDir) {
    let out = support::run_to_exit(path, &dir.path().join("data"));
    (out, dir)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn base(db: &str) -> Value {
    json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1",
        "database.port": "5432",
        "database.user": "postgres",
        "database.dbname": db,
        "topic.prefix": "bad",
        "slot.name": format!("bad_{}", std::process::id()),
    })
}

#[test]
fn malformed_json_exits_2() {
    let dir = support::scratch("malformed");
    let path = dir.path().join("connector.json");
    std::fs::write(&path, "{\"connector.class\": ").unwrap();
    let (out, _dir) = run_path(&path, dir);
    assert_exit(&out, 2, &["not valid JSON"]);
}

#[test]
fn missing_required_key_exits_2_naming_it() {
    let mut config = base("postgres");
    config.as_object_mut().unwrap().remove("database.dbname");
    let (out, _dir) = run_with(&config, "missing");
    assert_exit(&out, 2, &["`database.dbname`"]);
}

#[test]
fn invalid_value_exits_2_naming_the_key_and_the_choices() {
    let mut config = base("postgres");
    config["snapshot.mode"] = json!("sometimes");
    let (out, _dir) = run_with(&config, "badvalue");
    assert_exit(&out, 2, &["`snapshot.mode`", "initial", "when_needed"]);
}

#[test]
fn unknown_connector_class_exits_2() {
    let mut config = base("postgres");
    config["connector.class"] = json!("com.example.Nope");
    let (out, _dir) = run_with(&config, "class");
    assert_exit(&out, 2, &["`connector.class`", "PostgresConnector"]);
}

#[test]
fn unreachable_database_exits_1_naming_the_address() {
    let mut config = base("postgres");
    config["database.port"] = json!("1");
    let (out, _dir) = run_with(&config, "unreachable");
    assert_exit(&out, 1, &["cannot connect to PostgreSQL at 127.0.0.1:1"]);
}

#[test]
fn wrong_password_exits_1_without_printing_the_password() {
    let mut config = base("postgres");
    config["database.user"] = json!("spillway_pw");
    config["database.password"] = json!("wrong-secret-123");
    let (out, _dir) = run_with(&config, "password");
    assert_exit(
        &out,
        1,
        &["refused the login of user \"spillway_pw\"", "28P01"],
    );
    let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(
        !all.contains("wrong-secret-123"),
        "the password was printed:\n{all}"
    );
}

#[test]
fn include_list_matching_nothing_names_the_tables_that_exist() {
    let db = TestDb::create("nomatch");
    db.sql("CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE customers (id int PRIMARY KEY)");
    let mut config = base(&db.name);
    config["table.include.list"] = json!("public.order");
    let (out, _dir) = run_with(&config, "nomatch");
    assert_exit(
        &out,
        1,
        &[
            "table.include.list",
            "public.customers",
            "public.orders",
            "hint:",
        ],
    );
}

#[test]
fn unsupported_column_type_is_reported_per_column() {
    let db = TestDb::create("unsupported");
    db.sql(
        "CREATE TYPE pair AS (a int, b int);
         CREATE TABLE t (id int PRIMARY KEY, p pair, q pair, ok text)",
    );
    let (out, _dir) = run_with(&base(&db.name), "unsupported");
    assert_exit(&out, 1, &["public.t", "p (pair)", "q (pair)"]);
}

#[test]
fn user_without_replication_privilege_gets_a_hint() {
    let db = TestDb::create("noreplpriv");
    let role = format!("norepl_{}", std::process::id());
    db.sql(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN"
    ));
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let mut config = base(&db.name);
    config["database.user"] = json!(role);
    let (out, _dir) = run_with(&config, "noreplpriv");
    db.sql(&format!("DROP ROLE IF EXISTS {role}"));
    assert_exit(&out, 1, &["may not start replication", "WITH REPLICATION"]);
}

/// A throwaway PostgreSQL cluster with `wal_level=replica`, run as the `postgres` user.
struct ReplicaCluster {
    dir: std::path::PathBuf,
    port: u16,
    bin: std::path::PathBuf,
}

impl ReplicaCluster {
    fn start() -> ReplicaCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let port = support::free_port();
        let dir = std::path::PathBuf::from(format!("/tmp/spillway-walrep-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let as_postgres = |args: &[&str]| {
            let status = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("runuser");
            assert!(status.success(), "{args:?} failed");
        };
        Command::new("chown")
            .arg("postgres:postgres")
            .arg(&dir)
            .status()
            .unwrap();
        let data = dir.join("data");
        as_postgres(&[
            bin.join("initdb").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
        ]);
        as_postgres(&[
            bin.join("pg_ctl").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-l",
            dir.join("log").to_str().unwrap(),
            "-o",
            &format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c wal_level=replica",
                dir.display()
            ),
            "start",
        ]);
        ReplicaCluster { dir, port, bin }
    }
}

impl Drop for ReplicaCluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn wal_level_not_logical_is_reported_with_the_fix() {
    let cluster = ReplicaCluster::start();
    let mut config = base("postgres");
    config["database.port"] = json!(cluster.port.to_string());
    let (out, _dir) = run_with(&config, "wallevel");
    assert_exit(
        &out,
        1,
        &[
            "wal_level is \"replica\"",
            "ALTER SYSTEM SET wal_level = logical",
        ],
    );
}
