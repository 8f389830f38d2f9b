//! SQL sessions: connection settings that fix the text formats the decoders read.

use crate::config::PostgresConfig;
use crate::error::PostgresError;
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
    pg.host(&config.hostname)
        .port(config.port)
        .user(&config.user)
        .dbname(&config.dbname)
        .application_name(format!("spillway-{}-{purpose}", config.name))
        .connect_timeout(config.connect_timeout)
        .options(startup_options());
    if let Some(password) = &config.password {
        pg.password(password.expose());
    }
    let (client, connection) = pg
        .connect(NoTls)
        .await
        .map_err(|e| classify_connect(config, e))?;
    let purpose = purpose.to_string();
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            warn!(%error, purpose, "postgres connection closed with an error");
        }
    });
    Ok(client)
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
