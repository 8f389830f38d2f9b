//! `database.sslmode` against the local PostgreSQL, which runs with `ssl=on` and a
//! self-signed certificate (Debian's snakeoil one): both of spillway's connections, the SQL
//! session and the walsender, must be encrypted (or not) as the mode says, and a
//! certificate that does not pass verification must stop the connector with a message
//! that names the host and the mode.

mod support;

use std::net::ToSocketAddrs;
use std::time::Duration;
use support::{psql, wait_for_log, wait_for_records, Spillway, TestDb, PG_PORT};

const WAIT: Duration = Duration::from_secs(60);

/// The server's certificate file; the server must have TLS on.
fn server_cert() -> String {
    assert_eq!(
        psql("postgres", "SHOW ssl"),
        "on",
        "these tests need the local PostgreSQL to accept TLS (ssl=on, as Debian's default cluster with its snakeoil certificate)"
    );
    psql("postgres", "SHOW ssl_cert_file")
}

/// `(application_name, ssl)` of the server's connections of the connector.
fn connections(db: &TestDb) -> Vec<(String, bool)> {
    let pattern = format!("spillway-{}", db.name).replace('_', "\\_");
    psql(
        "postgres",
        &format!(
            "SELECT application_name, ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE application_name LIKE '{pattern}%' ORDER BY 1"
        ),
    )
    .lines()
    .map(|l| {
        let (name, ssl) = l.split_once('|').expect("name|ssl");
        (name.to_string(), ssl == "t")
    })
    .collect()
}

/// Runs the connector with `extra` keys until it streams, checks that a change arrives,
/// and returns its connections as the server sees them.
fn capture(tag: &str, extra: &[(&str, &str)]) -> Vec<(String, bool)> {
    let db = TestDb::create(tag);
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let dir = support::scratch(tag);
    let mut sw = Spillway::start(&db.connector(extra), &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    db.sql("INSERT INTO t VALUES (1, 'over tls?')");
    let records = wait_for_records(&sw, &db.topic("t"), 1, WAIT);
    assert_eq!(records[0].after()["v"], "over tls?");
    let conns = connections(&db);
    let names: Vec<&str> = conns.iter().map(|(n, _)| n.as_str()).collect();
    let replication = format!("spillway-{}", db.name);
    let catalog = format!("spillway-{}-catalog", db.name);
    assert!(
        names.contains(&replication.as_str()) && names.contains(&catalog.as_str()),
        "both connections are open: {conns:?}"
    );
    assert!(sw.stop().success(), "{}", sw.logs());
    conns
}

/// Runs the connector until it exits by itself; returns the exit code and the log.
fn run_to_failure(db: &TestDb, tag: &str, extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = support::scratch(tag);
    let mut sw = Spillway::start(&db.connector(extra), &dir.path().join("data"));
    let status = sw.wait_exit(WAIT);
    (status.code(), sw.logs())
}

#[test]
fn require_encrypts_both_connections() {
    server_cert();
    let conns = capture("tls_require", &[("database.sslmode", "require")]);
    assert!(conns.iter().all(|(_, ssl)| *ssl), "{conns:?}");
}

#[test]
fn prefer_is_the_default_and_uses_tls_when_the_server_offers_it() {
    server_cert();
    let conns = capture("tls_prefer", &[]);
    assert!(conns.iter().all(|(_, ssl)| *ssl), "{conns:?}");
}

#[test]
fn disable_connects_in_plain_text() {
    let conns = capture("tls_disable", &[("database.sslmode", "disable")]);
    assert!(conns.iter().all(|(_, ssl)| !*ssl), "{conns:?}");
}

#[test]
fn verify_ca_accepts_the_servers_certificate_as_root() {
    let cert = server_cert();
    let conns = capture(
        "tls_verify_ca",
        &[
            ("database.sslmode", "verify-ca"),
            ("database.sslrootcert", &cert),
        ],
    );
    assert!(conns.iter().all(|(_, ssl)| *ssl), "{conns:?}");
}

#[test]
fn verify_full_checks_the_host_name() {
    let cert = server_cert();
    let db = TestDb::create("tls_verify_full");
    db.sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let (code, log) = run_to_failure(
        &db,
        "tls_verify_full",
        &[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", &cert),
        ],
    );
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("certificate verify failed for 127.0.0.1 with sslmode=verify-full"),
        "{log}"
    );
    let hint = log
        .lines()
        .find_map(|l| l.strip_prefix("hint: the certificate's names are "))
        .unwrap_or_else(|| panic!("the hint names the certificate's names: {log}"));
    assert!(
        hint.ends_with("; use sslmode=verify-ca or connect by that name"),
        "{hint}"
    );
    let names: Vec<&str> = hint
        .trim_end_matches("; use sslmode=verify-ca or connect by that name")
        .split(", ")
        .collect();
    // Connecting by the certificate's name works, where that name leads to this server.
    let local = names.iter().find(|name| {
        !name.contains('*')
            && (**name, PG_PORT)
                .to_socket_addrs()
                .is_ok_and(|mut a| a.any(|a| a.ip().is_loopback()))
    });
    let Some(name) = local else {
        eprintln!("none of {names:?} resolves to this machine; not connecting by name");
        return;
    };
    drop(db);
    let conns = capture(
        "tls_verify_name",
        &[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", &cert),
            ("database.hostname", name),
        ],
    );
    assert!(conns.iter().all(|(_, ssl)| *ssl), "{conns:?}");
}

#[test]
fn verify_ca_without_a_root_file_is_a_configuration_error() {
    let db = TestDb::create("tls_no_root");
    let (code, log) = run_to_failure(&db, "tls_no_root", &[("database.sslmode", "verify-ca")]);
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains("missing required key `database.sslrootcert`"),
        "{log}"
    );
}

#[test]
fn an_unreadable_root_file_is_a_configuration_error() {
    let db = TestDb::create("tls_bad_root");
    let (code, log) = run_to_failure(
        &db,
        "tls_bad_root",
        &[
            ("database.sslmode", "require"),
            ("database.sslrootcert", "/nonexistent/root.crt"),
        ],
    );
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("`database.sslrootcert`"), "{log}");
    assert!(log.contains("/nonexistent/root.crt"), "{log}");
}
