//! A database per test on the local MariaDB, and connector configs for it.

use serde_json::{json, Value};
use std::process::Command;

/// Runs SQL as root through the `mariadb` client and returns its tab-separated output.
pub fn sql(db: &str, sql: &str) -> String {
    let out = Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            "3306",
            "-uroot",
            "--batch",
            "--skip-column-names",
            "--default-character-set=utf8mb4",
        ])
        .args(if db.is_empty() { vec![] } else { vec![db] })
        .args(["-e", sql])
        .output()
        .expect("the mariadb client must be installed (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "mariadb failed for {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A connection as root to database `db`, for writers.
pub async fn connect(db: &str) -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(3306)
        .user(Some("root"))
        .db_name(Some(db));
    mysql_async::Conn::new(opts)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to MariaDB database {db}: {e}"))
}

/// A database owned by one test, dropped at the end.
pub struct MyDb {
    pub name: String,
}

impl MyDb {
    /// Creates `sw_<tag>_<pid>` afresh.
    pub fn create(tag: &str) -> MyDb {
        let name = format!("sw_{tag}_{}", std::process::id());
        sql(
            "",
            &format!("DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"),
        );
        MyDb { name }
    }

    /// Runs SQL in this database.
    pub fn sql(&self, statements: &str) -> String {
        sql(&self.name, statements)
    }

    /// A MySQL connector config capturing this database; `extra` overrides or adds keys.
    pub fn connector(&self, extra: &[(&str, &str)]) -> Value {
        // Unique per test database and clear of the fixed ids some tests give (below
        // 100000): two replicas with one id make the server drop the older one.
        let hash = self.name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let server_id = 100_000 + hash % 2_000_000_000;
        let mut config = json!({
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": "127.0.0.1",
            "database.port": "3306",
            "database.user": "spillway",
            "database.password": "spillway",
            "database.server.id": server_id.to_string(),
            "topic.prefix": self.name,
            "database.include.list": self.name,
            "offset.flush.interval.ms": "100",
        });
        for (k, v) in extra {
            config[*k] = Value::String(v.to_string());
        }
        json!({ "name": self.name, "config": config })
    }

    /// The topic of a table of this database.
    pub fn topic(&self, table: &str) -> String {
        format!("{}.{}.{table}", self.name, self.name)
    }
}

impl Drop for MyDb {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-uroot", "-e"])
            .arg(format!("DROP DATABASE IF EXISTS {}", self.name))
            .output();
    }
}
