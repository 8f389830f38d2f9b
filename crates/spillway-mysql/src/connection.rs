//! Connections to the server: options, and connect errors turned into clear messages.

use crate::config::MysqlConfig;
use crate::error::MysqlError;
use mysql_async::prelude::Queryable;

/// `host:port` for messages.
pub fn address(config: &MysqlConfig) -> String {
    format!("{}:{}", config.hostname, config.port)
}

fn opts(config: &MysqlConfig, ssl: Option<mysql_async::SslOpts>) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(config.hostname.clone())
        .tcp_port(config.port)
        .user(Some(config.user.clone()))
        .pass(config.password.as_ref().map(|p| p.expose().to_string()))
        .prefer_socket(false)
        .wait_timeout(Some(28_800))
        .ssl_opts(ssl)
        .into()
}

/// Whether the server answered that it does not offer TLS.
fn no_tls_on_server(e: &mysql_async::Error) -> bool {
    matches!(
        e,
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)
    )
}

/// Opens a connection, encrypted as `database.ssl.mode` says, whose session reads and
/// writes times in UTC. With `preferred`, a server that offers no TLS is spoken to in
/// plaintext; with any stronger mode that is an error naming the key.
pub async fn connect(config: &MysqlConfig) -> Result<mysql_async::Conn, MysqlError> {
    use crate::tls::SslMode;
    let ssl = config.tls.ssl_opts();
    let mut attempt = open(config, ssl.clone()).await;
    if let Err(e) = &attempt {
        if no_tls_on_server(e) {
            if config.tls.mode == SslMode::Preferred {
                attempt = open(config, None).await;
            } else {
                return Err(MysqlError::preflight(
                    format!(
                        "{} at {} offers no TLS, which database.ssl.mode={} asks for",
                        config.flavor.connector_name(),
                        address(config),
                        config.tls.mode.as_str()
                    ),
                    "turn TLS on in the server (ssl_cert, ssl_key), or set database.ssl.mode=preferred or disabled",
                ));
            }
        }
    }
    let mut conn = connected(config, attempt)?;
    conn.query_drop("SET time_zone = '+00:00', NAMES utf8mb4")
        .await
        .map_err(|e| MysqlError::query("setting up the session", e))?;
    Ok(conn)
}

/// One connection attempt, within the connect timeout.
async fn open(
    config: &MysqlConfig,
    ssl: Option<mysql_async::SslOpts>,
) -> Result<mysql_async::Conn, mysql_async::Error> {
    let connecting = mysql_async::Conn::new(opts(config, ssl));
    match tokio::time::timeout(config.common.connect_timeout, connecting).await {
        Ok(result) => result,
        Err(_) => Err(mysql_async::Error::Io(mysql_async::IoError::Io(
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {:?}", config.common.connect_timeout),
            ),
        ))),
    }
}

/// The outcome of [`open`] as spillway reports it.
fn connected(
    config: &MysqlConfig,
    attempt: Result<mysql_async::Conn, mysql_async::Error>,
) -> Result<mysql_async::Conn, MysqlError> {
    let flavor = config.flavor.connector_name();
    match attempt {
        Ok(conn) => Ok(conn),
        Err(mysql_async::Error::Server(e)) if e.code == 1045 || e.code == 1044 => {
            Err(MysqlError::Auth {
                user: config.user.clone(),
                detail: format!("{} (error {})", e.message, e.code),
            })
        }
        Err(e) if is_tls_failure(&e) => Err(MysqlError::preflight(
            format!(
                "cannot open TLS to {flavor} at {}: {e}",
                address(config)
            ),
            match config.tls.mode {
                crate::tls::SslMode::VerifyCa => "database.ssl.mode=verify_ca checks that a CA of database.ssl.truststore (else the built-in roots) signed the server's certificate",
                crate::tls::SslMode::VerifyIdentity => "database.ssl.mode=verify_identity checks the server's certificate against database.ssl.truststore and database.hostname",
                _ => "check the server's TLS settings and database.ssl.keystore",
            },
        )),
        Err(e) => Err(MysqlError::Connect {
            flavor,
            address: address(config),
            detail: e.to_string(),
        }),
    }
}

/// Whether a connect error comes from the TLS handshake (a certificate refused either way).
fn is_tls_failure(e: &mysql_async::Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    matches!(e, mysql_async::Error::Io(mysql_async::IoError::Tls(_)))
        || text.contains("certificate")
        || text.contains("tls")
}
