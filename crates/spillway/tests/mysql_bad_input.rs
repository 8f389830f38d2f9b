//! Bad input for the MySQL/MariaDB connector: clear messages, the documented exit status,
//! never a panic.

mod support;

use serde_json::json;
use std::process::Output;
use std::time::Duration;
use support::mariadb::{sql, MyDb, ScratchServer};
use support::{assert_exit, wait_for_log, write_config, Spillway};

fn run(config: &serde_json::Value, dir: &std::path::Path) -> Output {
    let path = write_config(dir, config);
    support::run_to_exit(&path, &dir.join("data"))
}

#[test]
fn the_seeds_include_lists_that_select_nothing_are_named_with_the_tables_that_exist() {
    let db = MyDb::create("myseed");
    db.sql("CREATE TABLE departments (id INT PRIMARY KEY)");
    let dir = support::scratch("myseed");
    // The seed's own form: Confluent's class name and aliases, and lists that do not meet.
    let config = json!({
        "connector.class": "MySqlCdcSource",
        "name": "MySqlCdcSourceConnector_0",
        "kafka.api.key": "****************",
        "kafka.api.secret": "******************************",
        "database.hostname": "127.0.0.1",
        "database.port": "3306",
        "database.user": "spillway",
        "database.password": "spillway",
        "database.server.name": "mysql",
        "database.whitelist": "employee",
        "table.includelist": format!("{}.departments", db.name),
        "snapshot.mode": "initial",
        "output.data.format": "JSON",
        "tasks.max": "1"
    });
    let out = run(&config, dir.path());
    assert_exit(
        &out,
        1,
        &[
            "database.whitelist=\"employee\"",
            "table.includelist=",
            &format!("{}.departments", db.name),
            "hint:",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("******************************\""),
        "secrets printed:\n{err}"
    );
}

#[test]
fn a_user_without_replication_privileges_is_told_what_to_grant() {
    let db = MyDb::create("mypriv");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let user = format!("nopriv_{}", std::process::id());
    sql("", &format!("DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO '{user}'@'%'"));
    let dir = support::scratch("mypriv");
    let mut config = db.connector(&[("database.user", &user), ("database.password", "pw")]);
    config["config"]["database.user"] = json!(user);
    let out = run(&config, dir.path());
    sql("", &format!("DROP USER IF EXISTS '{user}'@'%'"));
    assert_exit(
        &out,
        1,
        &["lacks REPLICATION SLAVE, REPLICATION CLIENT", "GRANT"],
    );
}

#[test]
fn a_wrong_password_exits_1_without_printing_it() {
    let db = MyDb::create("mypw");
    let dir = support::scratch("mypw");
    let config = db.connector(&[("database.password", "not-the-password-42")]);
    let out = run(&config, dir.path());
    assert_exit(&out, 1, &["refused the login of user \"spillway\""]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not-the-password-42"));
}

#[test]
fn malformed_values_exit_2_naming_the_key() {
    let db = MyDb::create("mybadcfg");
    let dir = support::scratch("mybadcfg");
    let out = run(&db.connector(&[("database.server.id", "zero")]), dir.path());
    assert_exit(&out, 2, &["`database.server.id`"]);
    let out = run(&db.connector(&[("snapshot.mode", "sometimes")]), dir.path());
    assert_exit(&out, 2, &["`snapshot.mode`", "when_needed"]);
}

#[test]
fn a_purged_position_names_the_fix_and_when_needed_takes_a_new_snapshot() {
    let db = MyDb::create("mypurged");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
    let dir = support::scratch("mypurged");
    let offsets = dir.path().join("data/offsets");
    std::fs::create_dir_all(&offsets).unwrap();
    std::fs::write(
        offsets.join(format!("{}.json", db.name)),
        r#"{"position":{"phase":"stream","log":999999,"sub":3,"row":18446744073709551615},"state":{"file":"mysql-bin.999999","pos":4}}"#,
    )
    .unwrap();
    let out = run(&db.connector(&[]), dir.path());
    assert_exit(
        &out,
        1,
        &[
            "mysql-bin.999999",
            "no longer on the server",
            "snapshot.mode=when_needed",
        ],
    );

    let mut sw = Spillway::start(
        &db.connector(&[("snapshot.mode", "when_needed")]),
        &dir.path().join("data"),
    );
    wait_for_log(&sw, "streaming changes", Duration::from_secs(60));
    let recs = support::wait_for_records(&sw, &db.topic("t"), 1, Duration::from_secs(60));
    assert_eq!(recs.len(), 1, "the new snapshot read the row");
    assert_eq!(recs[0].op(), Some("r"));
    assert!(sw.stop().success());
}

#[test]
fn a_server_without_binlog_or_with_statement_format_gets_the_fix() {
    let off = ScratchServer::start("off", &["--skip-log-bin"]);
    let dir = support::scratch("mybinlogoff");
    let out = run(&off.connector(), dir.path());
    assert_exit(&out, 1, &["the binary log is off", "log_bin"]);
    drop(off);

    let mixed = ScratchServer::start(
        "mixed",
        &[
            "--log-bin=mysql-bin",
            "--server-id=7",
            "--binlog-format=MIXED",
        ],
    );
    let dir = support::scratch("mybinlogmixed");
    let out = run(&mixed.connector(), dir.path());
    assert_exit(&out, 1, &["binlog_format is MIXED", "binlog_format = ROW"]);
}
