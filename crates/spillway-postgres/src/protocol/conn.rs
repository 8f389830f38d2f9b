//! A walsender connection (`replication=database`): startup and authentication, the
//! replication commands spillway needs, and the CopyBoth stream of `START_REPLICATION`.
//!
//! The usual life of a connection:
//!
//! 1. [`ReplicationConnection::connect`], then [`identify_system`] to learn the server's
//!    WAL position.
//! 2. [`create_logical_slot`] with an exported snapshot when the slot is new, and copy the
//!    existing rows through another (normal) connection that imports the snapshot.
//! 3. [`start_replication`] turns the connection into a [`ReplicationStream`]: receive
//!    WAL messages with [`ReplicationStream::recv`] and report progress with
//!    [`ReplicationStream::send_status`].
//!
//! [`identify_system`]: ReplicationConnection::identify_system
//! [`create_logical_slot`]: ReplicationConnection::create_logical_slot
//! [`start_replication`]: ReplicationConnection::start_replication

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frame::{self, Frame};
use super::pgoutput::{pg_now_micros, DecodeError, ReplicationMessage, StandbyStatusUpdate};
use super::tls::{self, OpenError, TlsConfig, TlsError, Transport};

/// Errors of a replication connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Reading or writing the socket failed, or the server closed it.
    #[error("i/o error while {context}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    /// An operation did not finish in time.
    #[error("timed out while {context}")]
    Timeout { context: &'static str },
    /// The server sent an ErrorResponse.
    #[error("server error {code}: {message}")]
    Server {
        /// SQLSTATE, e.g. `28P01` for a wrong password or `42704` for a missing slot.
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    /// Authentication failed on the client side (the server's own refusals are
    /// [`ConnError::Server`]).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The server sent something the protocol does not allow here.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A replication message could not be decoded.
    #[error("malformed replication message")]
    Decode(#[from] DecodeError),
    /// An argument cannot be expressed in the protocol (e.g. a name with a NUL byte).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The connection could not be secured as `sslmode` asks (see [`TlsError::hint`]).
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl ConnError {
    /// The SQLSTATE of a server error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ConnError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    fn io(context: &'static str) -> impl FnOnce(io::Error) -> ConnError {
        move |source| ConnError::Io { context, source }
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct ReplicationConfig {
    /// Host name or IP address.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Needed when the server asks for a password (cleartext, MD5 or SCRAM-SHA-256).
    pub password: Option<String>,
    /// The database whose changes are decoded.
    pub dbname: String,
    /// Shown in `pg_stat_replication` and `pg_stat_activity`; empty for none.
    pub application_name: String,
    /// Limit for TCP connect, authentication and startup together; zero for none.
    pub connect_timeout: Duration,
    /// The startup `options` parameter (command-line style settings such as
    /// `-c lock_timeout=0`); `None` to send none.
    pub options: Option<String>,
    /// `sslmode` and certificates; plain by default.
    pub tls: TlsConfig,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            host: "localhost".into(),
            port: 5432,
            user: "postgres".into(),
            password: None,
            dbname: "postgres".into(),
            application_name: "spillway".into(),
            connect_timeout: Duration::from_secs(10),
            options: None,
            tls: TlsConfig::disabled(),
        }
    }
}

impl fmt::Debug for ReplicationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicationConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("options", &self.options)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The server process and secret of a connection, for a CancelRequest or for finding the
/// walsender in `pg_stat_replication`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendKey {
    pub process_id: i32,
    pub secret_key: i32,
}

/// The answer to `IDENTIFY_SYSTEM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifySystem {
    /// The cluster's system identifier, as text (it does not fit an `i64` in every
    /// client; compare it as a string).
    pub systemid: String,
    /// Current timeline.
    pub timeline: u32,
    /// Current WAL flush position.
    pub xlogpos: u64,
    /// The connected database (always set on a `replication=database` connection).
    pub dbname: Option<String>,
}

/// The answer to `CREATE_REPLICATION_SLOT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSlot {
    pub slot_name: String,
    /// The slot's starting point: changes committed after it are streamed; everything
    /// before it is visible in the exported snapshot.
    pub consistent_point: u64,
    /// The exported snapshot, when one was requested. See
    /// [`ReplicationConnection::create_logical_slot`] for how long it is valid.
    pub snapshot_name: Option<String>,
}

/// An invalid textual LSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LSN {0:?}")]
pub struct ParseLsnError(pub String);

/// Parses the textual form of an LSN, `16/B374D848` (two hexadecimal numbers of at most
/// eight digits each).
pub fn parse_lsn(s: &str) -> Result<u64, ParseLsnError> {
    let err = || ParseLsnError(s.to_owned());
    let (hi, lo) = s.split_once('/').ok_or_else(err)?;
    let half = |p: &str| {
        if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        u32::from_str_radix(p, 16).map_err(|_| err())
    };
    Ok((u64::from(half(hi)?) << 32) | u64::from(half(lo)?))
}

/// Formats an LSN the way the server does, `16/B374D848`.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn as u32)
}

/// How much room to make in the read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;

/// The transport with its read and write buffers. Frames are parsed out of the read
/// buffer, so a read abandoned at an `.await` (a cancelled future) loses nothing; the
/// write buffer keeps whatever was not written yet, so an abandoned flush resumes on the
/// next one.
#[derive(Debug)]
pub(crate) struct Framed {
    stream: Transport,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

impl Framed {
    fn new(stream: Transport) -> Self {
        Framed {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(1024),
        }
    }

    /// Appends one frontend message; on failure nothing is appended.
    pub(crate) fn encode(
        &mut self,
        f: impl FnOnce(&mut BytesMut) -> io::Result<()>,
    ) -> io::Result<()> {
        let len = self.wbuf.len();
        let r = f(&mut self.wbuf);
        if r.is_err() {
            self.wbuf.truncate(len);
        }
        r
    }

    /// The next frame. Cancellation-safe.
    pub(crate) async fn read_frame(&mut self) -> Result<Frame, ConnError> {
        loop {
            if let Some(f) = frame::parse_frame(&mut self.rbuf)? {
                return Ok(f);
            }
            if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
                self.rbuf.reserve(READ_CHUNK);
            }
            let n = self
                .stream
                .read_buf(&mut self.rbuf)
                .await
                .map_err(ConnError::io("reading from the server"))?;
            if n == 0 {
                return Err(ConnError::Io {
                    context: "reading from the server",
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ),
                });
            }
        }
    }

    /// Writes out the write buffer. Cancellation-safe: an interrupted flush leaves the
    /// unwritten bytes in the buffer for the next one.
    pub(crate) async fn flush(&mut self) -> Result<(), ConnError> {
        while !self.wbuf.is_empty() {
            let n = self
                .stream
                .write_buf(&mut self.wbuf)
                .await
                .map_err(ConnError::io("writing to the server"))?;
            if n == 0 {
                return Err(ConnError::Io {
                    context: "writing to the server",
                    source: io::ErrorKind::WriteZero.into(),
                });
            }
        }
        self.stream
            .flush()
            .await
            .map_err(ConnError::io("writing to the server"))
    }
}

/// A connection in replication mode, idle between commands.
///
/// Commands are not cancellation-safe: dropping the future of a command before it
/// completes leaves the connection unusable (later commands fail with a protocol error),
/// so wrap them in a timeout only if the connection is discarded on expiry.
#[derive(Debug)]
pub struct ReplicationConnection {
    io: Framed,
    parameters: HashMap<String, String>,
    backend_key: Option<BackendKey>,
    /// A command was sent and its answer not read to the end.
    busy: bool,
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

        super::auth::authenticate(&mut conn.io, &cfg.user, cfg.password.as_deref()).await?;

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
    fn handle_async(&mut self, f: Frame, during: &str) -> Result<(), ConnError> {
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
    /// before it. `proto_version` should be 1 (the only version [`super::pgoutput`]
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

/// The connection after `START_REPLICATION`: a stream of [`ReplicationMessage`]s.
#[derive(Debug)]
pub struct ReplicationStream {
    conn: ReplicationConnection,
    /// The server sent CopyDone.
    server_done: bool,
    /// We sent CopyDone.
    client_done: bool,
}

impl ReplicationStream {
    /// The next message, or `None` once the server has ended the stream.
    ///
    /// Cancellation-safe: it may be used as a branch of `tokio::select!` (e.g. against a
    /// timer for status updates); a cancelled call loses no data. An ErrorResponse from
    /// the server is returned as [`ConnError::Server`].
    pub async fn recv(&mut self) -> Result<Option<ReplicationMessage>, ConnError> {
        if self.server_done {
            return Ok(None);
        }
        // Finish a status update whose send was interrupted.
        if !self.conn.io.wbuf.is_empty() {
            self.conn.io.flush().await?;
        }
        loop {
            let f = self.conn.io.read_frame().await?;
            match f.tag {
                frame::COPY_DATA => return Ok(Some(ReplicationMessage::decode(&f.body)?)),
                frame::COPY_DONE => {
                    self.server_done = true;
                    return Ok(None);
                }
                frame::ERROR_RESPONSE => {
                    return Err(frame::parse_error_fields(&f.body)?.into_error());
                }
                _ => self.conn.handle_async(f, "streaming")?,
            }
        }
    }

    /// Sends a Standby Status Update: everything before `flush` is durable downstream,
    /// so the server may advance the slot's `confirmed_flush_lsn` to it and release WAL.
    /// With `reply_requested` the server answers at once with a keepalive.
    ///
    /// If the future is dropped before completing, the unsent rest of the message is
    /// sent by the next `send_status` or `recv`.
    pub async fn send_status(
        &mut self,
        write: u64,
        flush: u64,
        apply: u64,
        reply_requested: bool,
    ) -> Result<(), ConnError> {
        let update = StandbyStatusUpdate {
            write_lsn: write,
            flush_lsn: flush,
            apply_lsn: apply,
            client_time_us: pg_now_micros(),
            reply_requested,
        };
        let w = &mut self.conn.io.wbuf;
        w.reserve(5 + StandbyStatusUpdate::LEN);
        w.put_u8(frame::COPY_DATA);
        w.put_u32(4 + StandbyStatusUpdate::LEN as u32);
        update.encode(w);
        self.conn.io.flush().await
    }

    /// The connection's server parameters and backend key.
    pub fn connection(&self) -> &ReplicationConnection {
        &self.conn
    }

    /// Ends streaming (CopyDone), discards messages still in flight and returns the
    /// connection, idle again. Messages discarded here were not confirmed, so the server
    /// sends them again on the next `START_REPLICATION`.
    pub async fn stop(mut self) -> Result<ReplicationConnection, ConnError> {
        if !self.client_done {
            frontend::copy_done(&mut self.conn.io.wbuf);
            self.client_done = true;
        }
        self.conn.io.flush().await?;
        let mut error = None;
        loop {
            let f = self.conn.io.read_frame().await?;
            match f.tag {
                frame::COPY_DATA => {}
                frame::COPY_DONE => self.server_done = true,
                frame::COMMAND_COMPLETE | frame::ROW_DESCRIPTION | frame::DATA_ROW => {}
                frame::ERROR_RESPONSE => {
                    let e = frame::parse_error_fields(&f.body)?.into_error();
                    error.get_or_insert(e);
                }
                frame::READY_FOR_QUERY => {
                    self.conn.busy = false;
                    return match error {
                        Some(e) => Err(e),
                        None => Ok(self.conn),
                    };
                }
                _ => self.conn.handle_async(f, "stopping replication")?,
            }
        }
    }
}

/// Builds the `START_REPLICATION` command for pgoutput.
pub fn start_replication_command(
    slot: &str,
    start_lsn: u64,
    publications: &[String],
    proto_version: u32,
    messages: bool,
) -> Result<String, ConnError> {
    validate_slot_name(slot)?;
    if publications.is_empty() {
        return Err(ConnError::InvalidArgument(
            "at least one publication is required".into(),
        ));
    }
    let mut names = Vec::with_capacity(publications.len());
    for p in publications {
        if p.is_empty() || p.contains('\0') {
            return Err(ConnError::InvalidArgument(format!(
                "invalid publication name {p:?}"
            )));
        }
        names.push(quote_ident(p));
    }
    let mut sql = format!(
        "START_REPLICATION SLOT {} LOGICAL {} (proto_version '{proto_version}', publication_names {}",
        quote_ident(slot),
        format_lsn(start_lsn),
        quote_literal(&names.join(",")),
    );
    if messages {
        sql.push_str(", messages 'true'");
    }
    sql.push(')');
    Ok(sql)
}

/// Slot names are limited to lower-case letters, digits and underscores, at most 63.
fn validate_slot_name(name: &str) -> Result<(), ConnError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConnError::InvalidArgument(format!(
            "invalid replication slot name {name:?}: use 1 to 63 lower-case letters, digits and underscores"
        )))
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn bad_reply(command: &str, what: &str) -> ConnError {
    ConnError::Protocol(format!("unexpected {command} reply: {what}"))
}

fn single_row(
    rows: Vec<Vec<Option<String>>>,
    min_columns: usize,
    command: &str,
) -> Result<Vec<Option<String>>, ConnError> {
    let n = rows.len();
    match rows.into_iter().next() {
        Some(row) if n == 1 && row.len() >= min_columns => Ok(row),
        _ => Err(bad_reply(
            command,
            &format!("expected one row of at least {min_columns} columns"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text() {
        assert_eq!(parse_lsn("16/B374D848").unwrap(), 0x16_B374_D848);
        assert_eq!(parse_lsn("0/0").unwrap(), 0);
        assert_eq!(parse_lsn("ffffffff/FFFFFFFF").unwrap(), u64::MAX);
        for bad in [
            "",
            "/",
            "1/",
            "/1",
            "1",
            "1/2/3",
            "g/0",
            "123456789/0",
            "+1/0",
            " 1/0",
        ] {
            assert!(parse_lsn(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(format_lsn(0), "0/0");
        for lsn in [0, 1, 0xFFFF_FFFF, 0x1_0000_0000, u64::MAX, 0x16_B374_D848] {
            assert_eq!(parse_lsn(&format_lsn(lsn)).unwrap(), lsn);
        }
        assert_eq!(parse_lsn("x").unwrap_err().to_string(), "invalid LSN \"x\"");
    }

    #[test]
    fn start_replication_quoting() {
        let pubs = vec!["a".to_string(), "we\"ird,'name".to_string()];
        let sql = start_replication_command("slot_1", 0x1_0000_00A0, &pubs, 1, true).unwrap();
        assert_eq!(
            sql,
            "START_REPLICATION SLOT \"slot_1\" LOGICAL 1/A0 (proto_version '1', \
             publication_names '\"a\",\"we\"\"ird,''name\"', messages 'true')"
        );
        let sql = start_replication_command("s", 0, &pubs[..1], 1, false).unwrap();
        assert_eq!(
            sql,
            "START_REPLICATION SLOT \"s\" LOGICAL 0/0 (proto_version '1', publication_names '\"a\"')"
        );
        assert!(start_replication_command("s", 0, &[], 1, false).is_err());
        assert!(start_replication_command("Bad", 0, &pubs, 1, false).is_err());
        assert!(start_replication_command("s", 0, &["a\0".into()], 1, false).is_err());
        assert!(validate_slot_name(&"x".repeat(63)).is_ok());
        assert!(validate_slot_name(&"x".repeat(64)).is_err());
        assert!(validate_slot_name("a-b").is_err());
    }

    #[test]
    fn error_display() {
        let e = ConnError::Server {
            code: "42704".into(),
            message: "replication slot \"x\" does not exist".into(),
            detail: None,
            hint: None,
        };
        assert_eq!(
            e.to_string(),
            "server error 42704: replication slot \"x\" does not exist"
        );
        assert_eq!(e.code(), Some("42704"));
        let e = ConnError::Io {
            context: "connecting",
            source: io::ErrorKind::ConnectionRefused.into(),
        };
        assert_eq!(e.to_string(), "i/o error while connecting");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(e.code(), None);
    }

    #[test]
    fn config_debug_hides_password() {
        let cfg = ReplicationConfig {
            password: Some("hunter2".into()),
            ..ReplicationConfig::default()
        };
        let s = format!("{cfg:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("<redacted>"));
    }
}
