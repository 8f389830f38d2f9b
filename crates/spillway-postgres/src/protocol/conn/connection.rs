//! [`ReplicationConnection`]: connecting (TLS, startup, authentication) and the
//! replication commands run on an idle connection.

use std::collections::HashMap;

use postgres_protocol::message::frontend;
use tokio::io::AsyncWriteExt;

use super::command::{
    bad_reply, quote_ident, single_row, start_replication_command, validate_slot_name,
};
use super::framed::Framed;
use super::stream::ReplicationStream;
use super::{parse_lsn, BackendKey, ConnError, CreatedSlot, IdentifySystem, ReplicationConfig};
use crate::protocol::frame::{self, Frame};
use crate::protocol::tls::{self, OpenError, Transport};

/// A connection in replication mode, idle between commands.
///
/// Commands are not cancellation-safe: dropping the future of a command before it
/// completes leaves the connection unusable (later commands fail with a protocol error),
/// so wrap them in a timeout only if the connection is discarded on expiry.
#[derive(Debug)]
pub struct ReplicationConnection {
    pub(super) io: Framed,
    parameters: HashMap<String, String>,
    backend_key: Option<BackendKey>,
    /// A command was sent and its answer not read to the end.
    pub(super) busy: bool,
}

impl ReplicationConnection {
    /// Connects, authenticates and waits until the server is ready for commands.
    pub async fn connect(cfg: &ReplicationConfig) -> Result<ReplicationConnection, ConnError> {
        let fut = Self::connect_inner(cfg);
        if cfg.connect_timeout.is_zero() {
            fut.await
        } else {
            tokio::time::timeout(cfg.connect_timeout, fut)
                .await
                .map_err(|_| ConnError::Timeout {
                    context: "connecting",
                })?
        }
    }

    async fn connect_inner(cfg: &ReplicationConfig) -> Result<ReplicationConnection, ConnError> {
        tls::connect(
            &cfg.host,
            cfg.port,
            &cfg.tls,
            |transport| async {
                let tls = transport.is_tls();
                Self::start(cfg, transport).await.map_err(|e| match e {
                    ConnError::Io { ref source, .. } if tls => {
                        match tls::explain_io_error(&cfg.host, &cfg.tls, source) {
                            Some(explained) => ConnError::Tls(explained),
                            None => e,
                        }
                    }
                    e => e,
                })
            },
            |e: &ConnError| e.code().is_some_and(|c| c.starts_with("28")),
            |e| match e {
                OpenError::Io(source) => ConnError::Io {
                    context: "connecting",
                    source,
                },
                OpenError::Tls(e) => ConnError::Tls(e),
            },
        )
        .await
    }

    /// Startup and authentication on a fresh transport.
    async fn start(
        cfg: &ReplicationConfig,
        transport: Transport,
    ) -> Result<ReplicationConnection, ConnError> {
        let tls = transport.is_tls();
        let mut conn = ReplicationConnection {
            io: Framed::new(transport),
            parameters: HashMap::new(),
            backend_key: None,
            busy: true,
        };

        let mut params = vec![
            ("user", cfg.user.as_str()),
            ("database", cfg.dbname.as_str()),
            ("replication", "database"),
            ("client_encoding", "UTF8"),
        ];
        if !cfg.application_name.is_empty() {
            params.push(("application_name", cfg.application_name.as_str()));
        }
        if let Some(options) = &cfg.options {
            params.push(("options", options.as_str()));
        }
        conn.io
            .encode(|b| frontend::startup_message(params, b))
            .map_err(|e| ConnError::InvalidArgument(format!("startup parameter: {e}")))?;
        conn.io.flush().await?;

        crate::protocol::auth::authenticate(&mut conn.io, &cfg.user, cfg.password.as_deref())
            .await?;

        // Parameter statuses and the backend key, then ReadyForQuery.
        loop {
            let f = conn.io.read_frame().await?;
            match f.tag {
                frame::BACKEND_KEY_DATA => {
                    let (process_id, secret_key) = frame::parse_backend_key(&f.body)?;
                    conn.backend_key = Some(BackendKey {
                        process_id,
                        secret_key,
                    });
                }
                frame::READY_FOR_QUERY => break,
                frame::ERROR_RESPONSE => {
                    return Err(frame::parse_error_fields(&f.body)?.into_error());
                }
                _ => conn.handle_async(f, "starting up")?,
            }
        }
        conn.busy = false;
        tracing::debug!(
            server_version = conn.parameter("server_version").unwrap_or(""),
            tls,
            "replication connection ready"
        );
        Ok(conn)
    }

    /// A parameter the server reported (`server_version`, `server_encoding`,
    /// `client_encoding`, `TimeZone`, `integer_datetimes`, ...).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    /// All parameters the server reported.
    pub fn parameters(&self) -> &HashMap<String, String> {
        &self.parameters
    }

    /// The server's `server_version`, e.g. `15.4 (Debian 15.4-1)`.
    pub fn server_version(&self) -> Option<&str> {
        self.parameter("server_version")
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.io.stream.is_tls()
    }

    /// The backend process id and cancel key, when the server sent them.
    pub fn backend_key(&self) -> Option<BackendKey> {
        self.backend_key
    }

    /// Handles the messages that may arrive at any time: notices (logged at debug),
    /// parameter changes and notifications. Anything else is a protocol error.
    pub(super) fn handle_async(&mut self, f: Frame, during: &str) -> Result<(), ConnError> {
        match f.tag {
            frame::NOTICE_RESPONSE => {
                let n = frame::parse_error_fields(&f.body)?;
                tracing::debug!(
                    severity = %n.severity,
                    code = %n.code,
                    message = %n.message,
                    "server notice"
                );
            }
            frame::PARAMETER_STATUS => {
                let (name, value) = frame::parse_parameter_status(&f.body)?;
                self.parameters.insert(name, value);
            }
            frame::NOTIFICATION_RESPONSE => {}
            tag => {
                return Err(ConnError::Protocol(format!(
                    "unexpected message {} while {during}",
                    frame::tag_name(tag)
                )))
            }
        }
        Ok(())
    }

    fn send_query(&mut self, sql: &str) -> Result<(), ConnError> {
        if self.busy {
            return Err(ConnError::Protocol(
                "an earlier command was interrupted; the connection must be discarded".into(),
            ));
        }
        self.io
            .encode(|b| frontend::query(sql, b))
            .map_err(|e| ConnError::InvalidArgument(format!("query: {e}")))?;
        self.busy = true;
        Ok(())
    }

    /// Runs a simple query (or replication command) and returns every row of every
    /// result as text columns, `None` for NULL. A server error is returned once the
    /// server is ready again, so the connection stays usable. COPY and
    /// `START_REPLICATION` cannot run here.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, ConnError> {
        self.send_query(sql)?;
        self.io.flush().await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let f = self.io.read_frame().await?;
            match f.tag {
                frame::ROW_DESCRIPTION | frame::COMMAND_COMPLETE | frame::EMPTY_QUERY_RESPONSE => {}
                frame::DATA_ROW => rows.push(frame::parse_data_row(&f.body)?),
                frame::ERROR_RESPONSE => {
                    let e = frame::parse_error_fields(&f.body)?.into_error();
                    error.get_or_insert(e);
                }
                frame::READY_FOR_QUERY => {
                    self.busy = false;
                    return match error {
                        Some(e) => Err(e),
                        None => Ok(rows),
                    };
                }
                frame::COPY_IN_RESPONSE | frame::COPY_OUT_RESPONSE | frame::COPY_BOTH_RESPONSE => {
                    // The connection is stuck in copy mode: leave it marked busy.
                    return Err(ConnError::Protocol(
                        "simple_query cannot run COPY or START_REPLICATION".into(),
                    ));
                }
                _ => self.handle_async(f, "running a query")?,
            }
        }
    }

    /// `IDENTIFY_SYSTEM`.
    pub async fn identify_system(&mut self) -> Result<IdentifySystem, ConnError> {
        let rows = self.simple_query("IDENTIFY_SYSTEM").await?;
        let row = single_row(rows, 4, "IDENTIFY_SYSTEM")?;
        let text = |i: usize| row[i].clone();
        let systemid = text(0).ok_or_else(|| bad_reply("IDENTIFY_SYSTEM", "systemid is null"))?;
        let timeline = text(1)
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or_else(|| bad_reply("IDENTIFY_SYSTEM", "invalid timeline"))?;
        let xlogpos = text(2)
            .and_then(|t| parse_lsn(&t).ok())
            .ok_or_else(|| bad_reply("IDENTIFY_SYSTEM", "invalid xlogpos"))?;
        Ok(IdentifySystem {
            systemid,
            timeline,
            xlogpos,
            dbname: text(3),
        })
    }

    /// Creates a logical replication slot using the `pgoutput` plugin.
    ///
    /// A `temporary` slot is dropped when this connection closes. With
    /// `export_snapshot`, the answer names a snapshot that shows the database exactly as
    /// of [`CreatedSlot::consistent_point`]: a normal connection can import it with
    /// `BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '<name>'` to copy
    /// the existing rows, and streaming from the slot then continues without gap or
    /// overlap.
    ///
    /// The exported snapshot stays valid only while this connection stays open and idle:
    /// the next command on it (including `START_REPLICATION`) or closing it ends the
    /// snapshot. Import it in the other transaction first; once imported, the importing
    /// transaction keeps it for as long as it runs.
    pub async fn create_logical_slot(
        &mut self,
        name: &str,
        temporary: bool,
        export_snapshot: bool,
    ) -> Result<CreatedSlot, ConnError> {
        validate_slot_name(name)?;
        let sql = format!(
            "CREATE_REPLICATION_SLOT {}{} LOGICAL pgoutput {}",
            quote_ident(name),
            if temporary { " TEMPORARY" } else { "" },
            if export_snapshot {
                "EXPORT_SNAPSHOT"
            } else {
                "NOEXPORT_SNAPSHOT"
            },
        );
        let rows = self.simple_query(&sql).await?;
        let row = single_row(rows, 3, "CREATE_REPLICATION_SLOT")?;
        let slot_name = row[0]
            .clone()
            .ok_or_else(|| bad_reply("CREATE_REPLICATION_SLOT", "slot_name is null"))?;
        let consistent_point = row[1]
            .as_deref()
            .and_then(|t| parse_lsn(t).ok())
            .ok_or_else(|| bad_reply("CREATE_REPLICATION_SLOT", "invalid consistent_point"))?;
        Ok(CreatedSlot {
            slot_name,
            consistent_point,
            snapshot_name: row[2].clone(),
        })
    }

    /// Drops a replication slot; with `wait`, waits for it to become inactive instead of
    /// failing when another connection uses it.
    pub async fn drop_slot(&mut self, name: &str, wait: bool) -> Result<(), ConnError> {
        validate_slot_name(name)?;
        let sql = format!(
            "DROP_REPLICATION_SLOT {}{}",
            quote_ident(name),
            if wait { " WAIT" } else { "" }
        );
        self.simple_query(&sql).await.map(drop)
    }

    /// Starts streaming changes from a logical slot with pgoutput.
    ///
    /// `start_lsn` 0 starts at the slot's confirmed position; the server never goes back
    /// before it. `proto_version` should be 1 (the only version [`crate::protocol::pgoutput`]
    /// decodes). With `messages`, logical decoding messages are streamed too.
    pub async fn start_replication(
        mut self,
        slot: &str,
        start_lsn: u64,
        publications: &[String],
        proto_version: u32,
        messages: bool,
    ) -> Result<ReplicationStream, ConnError> {
        let sql =
            start_replication_command(slot, start_lsn, publications, proto_version, messages)?;
        self.send_query(&sql)?;
        self.io.flush().await?;
        let mut error = None;
        loop {
            let f = self.io.read_frame().await?;
            match f.tag {
                frame::COPY_BOTH_RESPONSE => {
                    return Ok(ReplicationStream {
                        conn: self,
                        server_done: false,
                        client_done: false,
                    })
                }
                frame::ERROR_RESPONSE => {
                    let e = frame::parse_error_fields(&f.body)?.into_error();
                    error.get_or_insert(e);
                }
                frame::READY_FOR_QUERY => {
                    self.busy = false;
                    return Err(error.unwrap_or_else(|| {
                        ConnError::Protocol("the server did not start replication".into())
                    }));
                }
                _ => self.handle_async(f, "starting replication")?,
            }
        }
    }

    /// Says goodbye to the server and closes the socket.
    pub async fn close(mut self) -> Result<(), ConnError> {
        frontend::terminate(&mut self.io.wbuf);
        self.io.flush().await?;
        self.io
            .stream
            .shutdown()
            .await
            .map_err(ConnError::io("closing the connection"))
    }
}
