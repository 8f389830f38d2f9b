//! Connections to the server: options, and connect errors turned into clear messages.

use crate::config::MysqlConfig;
use crate::error::MysqlError;
use mysql_async::prelude::Queryable;

/// `host:port` for messages.
pub fn address(config: &MysqlConfig) -> String {
    format!("{}:{}", config.hostname, config.port)
}

fn opts(config: &MysqlConfig) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(config.hostname.clone())
        .tcp_port(config.port)
        .user(Some(config.user.clone()))
        .pass(config.password.as_ref().map(|p| p.expose().to_string()))
        .prefer_socket(false)
        .wait_timeout(Some(28_800))
        .into()
}

/// Opens a connection whose session reads and writes times in UTC.
pub async fn connect(config: &MysqlConfig) -> Result<mysql_async::Conn, MysqlError> {
    let flavor = config.flavor.connector_name();
    let connecting = mysql_async::Conn::new(opts(config));
    let mut conn = match tokio::time::timeout(config.connect_timeout, connecting).await {
        Err(_) => {
            return Err(MysqlError::Connect {
                flavor,
                address: address(config),
                detail: format!("no answer within {:?}", config.connect_timeout),
            })
        }
        Ok(Err(mysql_async::Error::Server(e))) if e.code == 1045 || e.code == 1044 => {
            return Err(MysqlError::Auth {
                user: config.user.clone(),
                detail: format!("{} (error {})", e.message, e.code),
            })
        }
        Ok(Err(e)) => {
            return Err(MysqlError::Connect {
                flavor,
                address: address(config),
                detail: e.to_string(),
            })
        }
        Ok(Ok(conn)) => conn,
    };
    conn.query_drop("SET time_zone = '+00:00', NAMES utf8mb4")
        .await
        .map_err(|e| MysqlError::query("setting up the session", e))?;
    Ok(conn)
}
