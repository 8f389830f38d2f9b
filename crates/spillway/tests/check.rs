//! `spillway check` against the real servers: a line per check, exit 0 when everything
//! passes and 2 when something fails, and nothing left behind on the server.

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use support::mariadb::{MyDb, ScratchServer};
use support::{psql, write_config, write_config_named, TestDb};

struct Checked {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Checked {
    fn lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// The line of the check whose text contains `needle`.
    fn line(&self, needle: &str) -> &str {
        self.lines()
            .into_iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line mentions {needle:?}:\n{}", self.stdout))
    }
}

fn check(configs: &[&Path], data_dir: &Path, extra: &[&str]) -> Checked {
    let mut command = Command::new(support::binary());
    command.arg("check");
    for config in configs {
        command.arg("--config").arg(config);
    }
    let out = command
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .output()
        .expect("run spillway check");
    let checked = Checked {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !checked.stderr.contains("panicked"),
        "spillway panicked:\n{}",
        checked.stderr
    );
    checked
}

fn check_config(config: &Value, tag: &str) -> (Checked, tempfile::TempDir) {
    let dir = support::scratch(tag);
    let path = write_config(dir.path(), config);
    let checked = check(&[&path], &dir.path().join("data"), &[]);
    (checked, dir)
}

#[test]
fn a_good_postgres_setup_passes_every_check_and_creates_nothing() {
    let db = TestDb::create("chkgood");
    db.sql("CREATE TABLE orders (id int PRIMARY KEY, note text); CREATE TABLE logs (msg text); ALTER TABLE logs REPLICA IDENTITY FULL");
    let config = db.connector(&[]);
    let (out, dir) = check_config(&config, "chkgood");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.lines().iter().all(|l| l.starts_with("✓ ")),
        "every line passes:\n{}",
        out.stdout
    );
    for needle in [
        "wal_level is logical",
        "user \"postgres\" is a superuser",
        "2 tables captured",
        "public.orders: primary key",
        "public.logs: replica identity full",
        "the server accepts a logical replication connection",
        &format!("publication \"{}_pub\" does not exist yet", db.name),
        &format!("replication slot \"{}\" does not exist yet", db.name),
    ] {
        out.line(needle);
    }
    // Read-only: no slot, no publication, and nothing in the data directory.
    let slots = psql(
        "postgres",
        &format!(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{}'",
            db.name
        ),
    );
    assert_eq!(slots, "0", "check created a slot");
    let publications = db.sql("SELECT count(*) FROM pg_publication");
    assert_eq!(publications, "0", "check created a publication");
    assert!(!dir.path().join("data").exists(), "check wrote a data dir");

    // The same as JSON: one object per check, every status passed.
    let path = write_config(dir.path(), &config);
    let json_out = check(&[&path], &dir.path().join("data"), &["--format", "json"]);
    assert_eq!(json_out.code, 0, "{}", json_out.stderr);
    let items: Vec<Value> = serde_json::from_str(&json_out.stdout).expect("a JSON array");
    assert_eq!(items.len(), out.lines().len());
    assert!(items.iter().all(|i| i["status"] == json!("passed")));
    let wal = items
        .iter()
        .find(|i| i["check"] == json!("wal_level"))
        .expect("a wal_level check");
    assert_eq!(wal["detail"], json!("wal_level is logical"));
    assert_eq!(wal["connector"], json!(db.name));
    assert_eq!(wal["hint"], Value::Null);
}

#[test]
fn a_role_without_replication_is_named_with_the_fix() {
    let db = TestDb::create("chknorepl");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let role = format!("chk_norepl_{}", std::process::id());
    psql(
        "postgres",
        &format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN"),
    );
    let mut config = db.connector(&[]);
    config["config"]["database.user"] = json!(role);
    let (out, _dir) = check_config(&config, "chknorepl");
    psql("postgres", &format!("DROP ROLE IF EXISTS {role}"));
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let line = out.line("may not start replication");
    assert!(
        line.starts_with(&format!("✗ user \"{role}\" may not start replication")),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "hint: run ALTER ROLE \"{role}\" WITH REPLICATION;"
        )),
        "{line}"
    );
    // The checks that do not depend on the privilege still ran.
    assert!(out.line("wal_level").starts_with("✓ "));
    assert!(out.stderr.contains("checks failed"), "{}", out.stderr);
}

#[test]
fn a_table_without_a_primary_key_under_default_replica_identity_fails_naming_it() {
    let db = TestDb::create("chknokey");
    db.sql("CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE keyless (v text)");
    let (out, _dir) = check_config(&db.connector(&[]), "chknokey");
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let line = out.line("public.keyless has no primary key");
    assert!(line.starts_with("✗ "), "{line}");
    assert!(line.contains("replica identity default"), "{line}");
    assert!(
        line.contains("hint: ALTER TABLE \"public\".\"keyless\" REPLICA IDENTITY FULL;"),
        "{line}"
    );
    assert!(out.line("public.keyed: primary key").starts_with("✓ "));
    // Only that check fails.
    let failed: Vec<&str> = out
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("✗"))
        .collect();
    assert_eq!(failed.len(), 1, "{}", out.stdout);
}

#[test]
fn a_slot_of_another_database_fails() {
    let other = TestDb::create("chkslotother");
    let db = TestDb::create("chkslot");
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let slot = format!("chk_taken_{}", std::process::id());
    other.sql(&format!(
        "SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"
    ));
    let (out, _dir) = check_config(&db.connector(&[("slot.name", &slot)]), "chkslot");
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let line = out.line("belongs to database");
    assert!(
        line.starts_with(&format!(
            "✗ replication slot \"{slot}\" belongs to database \"{}\"",
            other.name
        )),
        "{line}"
    );
    assert!(line.contains("hint: choose another slot.name"), "{line}");
    drop(db);
    drop(other);
}

#[test]
fn every_bad_key_is_named_and_exits_2_without_printing_the_password() {
    let dir = support::scratch("chkbadkeys");
    let config = json!({
        "name": "badkeys",
        "config": {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "127.0.0.1",
            "database.port": "not-a-port",
            "database.user": "postgres",
            "database.password": "very-secret-pw-7",
            "topic.prefix": "bad",
            "snapshot.mode": "sometimes",
        }
    });
    let path = write_config(dir.path(), &config);
    let out = check(&[&path], &dir.path().join("data"), &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    for key in ["`database.port`", "`snapshot.mode`", "`database.dbname`"] {
        assert!(out.line(key).starts_with("✗ "), "{key}");
    }
    assert!(out
        .line("`database.dbname`")
        .contains("hint: add `database.dbname`"));
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("very-secret-pw-7"),
        "the password was printed"
    );

    // A connect-standalone .properties file is read as `spillway run` reads it.
    let props = dir.path().join("bad.properties");
    std::fs::write(
        &props,
        "name=badprops\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\n\
         database.hostname=127.0.0.1\ndatabase.user=postgres\ndatabase.dbname=postgres\n\
         topic.prefix=bad\ndecimal.handling.mode=rounded\n",
    )
    .unwrap();
    let out = check(&[&props], &dir.path().join("data"), &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.line("`decimal.handling.mode`").starts_with("✗ "));
}

#[test]
fn an_unreachable_server_is_a_failed_check_naming_the_address() {
    let db = TestDb::create("chkunreach");
    let port = support::free_port().to_string();
    let (out, _dir) = check_config(&db.connector(&[("database.port", &port)]), "chkunreach");
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let line = out.line("cannot connect to PostgreSQL");
    assert!(line.starts_with("✗ "), "{line}");
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(line.contains("hint: check database.hostname and database.port"));
}

#[test]
fn a_good_mariadb_setup_passes() {
    let db = MyDb::create("chkgood");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))");
    let (out, _dir) = check_config(&db.connector(&[]), "chkmygood");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.lines().iter().all(|l| !l.starts_with("✗")),
        "{}",
        out.stdout
    );
    for needle in [
        "the binary log is on",
        "binlog_format is ROW",
        "binlog_row_image is FULL",
        "has REPLICATION SLAVE, REPLICATION CLIENT and SELECT",
        &format!("1 table captured: {}.t", db.name),
        "no stored position",
    ] {
        assert!(out.line(needle).starts_with("✓ "), "{needle}");
    }
}

#[test]
fn a_purged_stored_position_fails_with_the_snapshot_mode_hint() {
    let db = MyDb::create("chkpurged");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let dir = support::scratch("chkpurged");
    let offsets = dir.path().join("data/offsets");
    std::fs::create_dir_all(&offsets).unwrap();
    std::fs::write(
        offsets.join(format!("{}.json", db.name)),
        r#"{"position":{"phase":"stream","log":999999,"sub":3,"row":18446744073709551615},"state":{"file":"mysql-bin.999999","pos":4}}"#,
    )
    .unwrap();
    let path = write_config_named(dir.path(), "my.json", &db.connector(&[]));
    let out = check(&[&path], &dir.path().join("data"), &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let line = out.line("mysql-bin.999999");
    assert!(line.starts_with("✗ "), "{line}");
    assert!(line.contains("no longer on the server"), "{line}");
    assert!(line.contains("snapshot.mode=when_needed"), "{line}");

    // With when_needed the start takes a new snapshot: a warning, exit 0.
    let path = write_config_named(
        dir.path(),
        "my-when-needed.json",
        &db.connector(&[("snapshot.mode", "when_needed")]),
    );
    let out = check(&[&path], &dir.path().join("data"), &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.line("mysql-bin.999999").starts_with("⚠ "));
}

#[test]
fn a_server_without_binlog_fails_the_log_bin_check_with_the_fix() {
    let off = ScratchServer::start("chkoff", &["--skip-log-bin"]);
    let (out, _dir) = check_config(&off.connector(), "chkbinlogoff");
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let line = out.line("the binary log is off");
    assert!(line.starts_with("✗ "), "{line}");
    assert!(line.contains("(log_bin=OFF)"), "{line}");
    assert!(line.contains("hint: set log_bin"), "{line}");
    // Reached the server: the connection passed.
    assert!(out.line("connected to 127.0.0.1:").starts_with("✓ "));
}

#[test]
fn several_configs_are_checked_each_under_its_name() {
    let pg = TestDb::create("chkseveralpg");
    pg.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let my = MyDb::create("chkseveralmy");
    my.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let dir = support::scratch("chkseveral");
    let a = write_config_named(dir.path(), "pg.json", &pg.connector(&[]));
    let b = write_config_named(dir.path(), "my.json", &my.connector(&[]));
    let out = check(&[&a, &b], &dir.path().join("data"), &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("{}:\n", pg.name)));
    assert!(out.stdout.contains(&format!("{}:\n", my.name)));
    out.line("wal_level is logical");
    out.line("binlog_format is ROW");
}

#[test]
fn a_key_nothing_reads_is_a_warning_line_and_the_check_still_passes() {
    let db = TestDb::create("chkunknown");
    db.sql("CREATE TABLE orders (id int PRIMARY KEY)");
    let mut config = db.connector(&[]);
    config["config"]["snapshot.fetch.sizee"] = json!("100");
    let (out, _dir) = check_config(&config, "chkunknown");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let line = out.line("`snapshot.fetch.sizee` is not a key this connector reads");
    assert!(line.starts_with("⚠ "), "{line}");
    assert!(line.contains("check its spelling"), "{line}");
}
