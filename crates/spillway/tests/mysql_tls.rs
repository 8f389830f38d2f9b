//! TLS to MariaDB with Debezium's `database.ssl.mode`: each mode against the local server
//! (TLS on with the test CA of scripts/setup.sh), a client certificate for a user that
//! requires one, a certificate signed by another CA refused, and a server without TLS.

mod support;

use serde_json::{json, Value};
use std::process::Output;
use std::time::Duration;
use support::mariadb::{sql, MyDb, ScratchServer};
use support::{assert_exit, wait_for_log, wait_for_records, write_config, Spillway};

/// The test CA and client certificate scripts/setup.sh makes.
const CA: &str = "/etc/mysql/spillway-ssl/ca.pem";
const CLIENT: &str = "/etc/mysql/spillway-ssl/client.pem";
/// A certificate of another issuer, as a wrong trust store.
const OTHER_CA: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

const WAIT: Duration = Duration::from_secs(60);

fn run(config: &Value, tag: &str) -> Output {
    let dir = support::scratch(tag);
    let path = write_config(dir.path(), config);
    support::run_to_exit(&path, &dir.path().join("data"))
}

/// Captures the snapshot row of `db.t` with `config` and stops.
fn captures(db: &MyDb, config: &Value, tag: &str) {
    let dir = support::scratch(tag);
    let mut sw = Spillway::start(config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    let records = wait_for_records(&sw, &db.topic("t"), 1, WAIT);
    assert_eq!(records[0].after()["id"], json!(1));
    assert!(sw.stop().success(), "{}", sw.logs());
}

/// A user of its own that may only log in over TLS.
struct TlsUser(String);

impl TlsUser {
    fn create() -> TlsUser {
        let name = format!("swtls{}", std::process::id());
        sql(
            "",
            &format!(
                "DROP USER IF EXISTS '{name}'@'%'; CREATE USER '{name}'@'%' IDENTIFIED BY 'pw' REQUIRE SSL;
                 GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{name}'@'%'"
            ),
        );
        TlsUser(name)
    }
}

impl Drop for TlsUser {
    fn drop(&mut self) {
        sql("", &format!("DROP USER IF EXISTS '{}'@'%'", self.0));
    }
}

#[test]
fn each_ssl_mode_connects_as_it_says_and_verification_refuses_another_ca() {
    let db = MyDb::create("mytls");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
    let user = TlsUser::create();
    let as_user = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("database.user", user.0.as_str()),
            ("database.password", "pw"),
        ];
        pairs.extend_from_slice(extra);
        db.connector(&pairs)
    };
    // The server refuses this user in plaintext: a capture that works was encrypted.
    let out = run(&as_user(&[("database.ssl.mode", "disabled")]), "mytlsoff");
    assert_exit(&out, 1, &[&user.0]);
    for (i, extra) in [
        vec![],
        vec![("database.ssl.mode", "preferred")],
        vec![("database.ssl.mode", "required")],
        vec![
            ("database.ssl.mode", "verify_ca"),
            ("database.ssl.truststore", CA),
        ],
        vec![
            ("database.ssl.mode", "verify_identity"),
            ("database.ssl.truststore", CA),
        ],
        vec![
            ("database.ssl.mode", "verify_identity"),
            ("database.ssl.truststore", CA),
            ("database.hostname", "localhost"),
        ],
    ]
    .into_iter()
    .enumerate()
    {
        let mut config = as_user(&extra);
        // Each run a server id of its own: runs one after another must not meet as replicas.
        config["config"]["database.server.id"] = json!((91_000 + i).to_string());
        captures(&db, &config, &format!("mytls{i}"));
    }
    // A trust store that did not sign the server's certificate is refused, naming the key.
    for mode in ["verify_ca", "verify_identity"] {
        let out = run(
            &as_user(&[
                ("database.ssl.mode", mode),
                ("database.ssl.truststore", OTHER_CA),
            ]),
            "mytlsbadca",
        );
        assert_exit(&out, 1, &["TLS", "database.ssl.truststore"]);
    }
}

#[test]
fn a_client_certificate_logs_in_a_user_that_requires_one() {
    let db = MyDb::create("myx509");
    db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
    let mut config = db.connector(&[
        ("database.user", "spillway_x509"),
        ("database.ssl.mode", "verify_ca"),
        ("database.ssl.truststore", CA),
        ("database.ssl.keystore", CLIENT),
    ]);
    config["config"]
        .as_object_mut()
        .unwrap()
        .remove("database.password");
    captures(&db, &config, "myx509");
    config["config"]
        .as_object_mut()
        .unwrap()
        .remove("database.ssl.keystore");
    let out = run(&config, "myx509nokey");
    assert_exit(&out, 1, &["spillway_x509"]);
}

#[test]
fn a_server_without_tls_is_refused_unless_tls_is_only_preferred() {
    let server = ScratchServer::start(
        "notls",
        &[
            "--log-bin=mysql-bin",
            "--server-id=7",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL",
        ],
    );
    server.sql("INSERT INTO app.t VALUES (1)");
    let mut config = server.connector();
    for mode in ["required", "verify_ca"] {
        config["database.ssl.mode"] = json!(mode);
        let out = run(&config, "mynotls");
        assert_exit(
            &out,
            1,
            &["offers no TLS", &format!("database.ssl.mode={mode}")],
        );
    }
    config["database.ssl.mode"] = json!("preferred");
    let dir = support::scratch("mynotlspref");
    let mut sw = Spillway::start(&config, &dir.path().join("data"));
    wait_for_log(&sw, "streaming changes", WAIT);
    wait_for_records(&sw, "scratch.app.t", 1, WAIT);
    assert!(sw.stop().success(), "{}", sw.logs());
}
