//! A database per test on the local MariaDB, and connector configs for it.

use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

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

/// A throwaway MariaDB server on its own port, with the given binlog settings.
pub struct ScratchServer {
    dir: std::path::PathBuf,
    pub port: u16,
    child: std::process::Child,
}

impl ScratchServer {
    /// Starts a throwaway server; another process may take the free port before it binds,
    /// so a server that exits at once is started again on another port.
    pub fn start(tag: &str, settings: &[&str]) -> ScratchServer {
        for _ in 0..4 {
            if let Some(server) = Self::try_start(tag, settings) {
                return server;
            }
        }
        panic!("scratch MariaDB exited at start four times (ports taken?)");
    }

    fn try_start(tag: &str, settings: &[&str]) -> Option<ScratchServer> {
        let port = super::free_port();
        let dir = std::path::PathBuf::from(format!("/tmp/spillway-mariadb-{tag}-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let install = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .output()
            .expect("mariadb-install-db (from the MariaDB server package)");
        assert!(
            install.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
            ])
            .args(settings)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .expect("start mariadbd");
        let mut server = ScratchServer { dir, port, child };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if server.child.try_wait().is_ok_and(|s| s.is_some()) {
                eprintln!(
                    "scratch MariaDB on port {port} exited at start: {}",
                    std::fs::read_to_string(server.dir.join("log")).unwrap_or_default()
                );
                return None;
            }
            let ping = Command::new("mariadb-admin")
                .args(["-h", "127.0.0.1", "-uroot", "--silent"])
                .arg(format!("-P{port}"))
                .arg("ping")
                .output();
            if ping.is_ok_and(|o| o.status.success()) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "scratch MariaDB did not start: {}",
                std::fs::read_to_string(server.dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let grant = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-uroot"])
            .arg(format!("-P{port}"))
            .args([
                "-e",
                "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)",
            ])
            .output()
            .expect("mariadb client");
        assert!(
            grant.status.success(),
            "{}",
            String::from_utf8_lossy(&grant.stderr)
        );
        Some(server)
    }

    pub fn connector(&self) -> serde_json::Value {
        json!({
            "connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": "127.0.0.1",
            "database.port": self.port.to_string(),
            "database.user": "root",
            "database.server.id": "5555",
            "topic.prefix": "scratch",
            "database.include.list": "app",
        })
    }
}

impl ScratchServer {
    /// Runs SQL as root on this server and returns its tab-separated output.
    pub fn sql(&self, statements: &str) -> String {
        let out = Command::new("mariadb")
            .args([
                "-h",
                "127.0.0.1",
                "-uroot",
                "--batch",
                "--skip-column-names",
            ])
            .arg(format!("-P{}", self.port))
            .args(["-e", statements])
            .output()
            .expect("mariadb client");
        assert!(
            out.status.success(),
            "mariadb failed for {statements:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for ScratchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
