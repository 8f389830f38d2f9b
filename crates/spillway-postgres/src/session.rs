//! SQL sessions: connection settings that fix the text formats the decoders read, over
//! the transport `database.sslmode` asks for (negotiated by [`crate::protocol::tls`], the
//! same code as the replication connection's).

use crate::config::PostgresConfig;
use crate::error::PostgresError;
use crate::protocol::tls::{self, OpenError, TlsError};
use tokio_postgres::{Client, NoTls};
use tracing::warn;

/// Session settings for every connection whose text output is decoded.
pub const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("DateStyle", "ISO"),
    ("IntervalStyle", "iso_8601"),
    ("TimeZone", "UTC"),
    ("bytea_output", "hex"),
    ("extra_float_digits", "3"),
    ("lc_monetary", "C"),
    ("client_encoding", "UTF8"),
];

/// `-c name=value ...` for the startup `options` parameter.
pub fn startup_options() -> String {
    SESSION_SETTINGS
        .iter()
        .map(|(k, v)| format!("-c {k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `host:port` for messages.
pub fn address(config: &PostgresConfig) -> String {
    format!("{}:{}", config.hostname, config.port)
}

/// Opens a SQL connection with the session settings; the connection task is spawned.
pub async fn connect(config: &PostgresConfig, purpose: &str) -> Result<Client, PostgresError> {
    let mut pg = tokio_postgres::Config::new();
    pg.user(&config.user)
        .dbname(&config.dbname)
        .application_name(format!("spillway-{}-{purpose}", config.common.name))
        .options(startup_options())
        // TLS is already set up (or not) on the transport handed to `connect_raw`.
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    if let Some(password) = &config.password {
        pg.password(password.expose());
    }
    let pg = &pg;
    let attempt = tls::connect(
        &config.hostname,
        config.port,
        &config.tls,
        |transport| async move {
            let tls = transport.is_tls();
            pg.connect_raw(transport, NoTls).await.map_err(|e| {
                match tls.then(|| explain_tls(config, &e)).flatten() {
                    Some(explained) => tls_error(&explained),
                    None => classify_connect(config, e),
                }
            })
        },
        |e: &PostgresError| matches!(e, PostgresError::Auth { .. }),
        |e| open_error(config, e),
    );
    let (client, connection) = if config.common.connect_timeout.is_zero() {
        attempt.await?
    } else {
        tokio::time::timeout(config.common.connect_timeout, attempt)
            .await
            .map_err(|_| PostgresError::Connect {
                address: address(config),
                detail: format!(
                    "timed out after {:?} (connect.timeout.ms)",
                    config.common.connect_timeout
                ),
            })??
    };
    let purpose = purpose.to_string();
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            warn!(%error, purpose, "postgres connection closed with an error");
        }
    });
    Ok(client)
}

/// A connection that could not be secured as `database.sslmode` asks: the operator's to
/// fix, with a hint.
pub fn tls_error(error: &TlsError) -> PostgresError {
    PostgresError::preflight(error.to_string(), error.hint())
}

/// The TLS problem behind a failed startup over TLS (an alert from the server).
fn explain_tls(config: &PostgresConfig, error: &tokio_postgres::Error) -> Option<TlsError> {
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return tls::explain_io_error(&config.hostname, &config.tls, io);
        }
        source = s.source();
    }
    None
}

fn open_error(config: &PostgresConfig, error: OpenError) -> PostgresError {
    match error {
        OpenError::Io(e) => PostgresError::Connect {
            address: address(config),
            detail: e.to_string(),
        },
        OpenError::Tls(e) => tls_error(&e),
    }
}

/// Turns a connection failure into a connect, auth or preflight error.
pub fn classify_connect(config: &PostgresConfig, error: tokio_postgres::Error) -> PostgresError {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        let detail = format!("{} (SQLSTATE {code})", db.message());
        return match code {
            "28P01" | "28000" => PostgresError::Auth {
                user: config.user.clone(),
                detail,
            },
            "3D000" => PostgresError::preflight(
                format!(
                    "database {:?} does not exist on {}",
                    config.dbname,
                    address(config)
                ),
                "check database.dbname",
            ),
            _ => PostgresError::Connect {
                address: address(config),
                detail,
            },
        };
    }
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    PostgresError::Connect {
        address: address(config),
        detail,
    }
}
