//! [`ReplicationStream`]: the CopyBoth stream after `START_REPLICATION`, WAL messages in
//! and status updates out.

use bytes::BufMut;
use postgres_protocol::message::frontend;

use super::connection::ReplicationConnection;
use super::ConnError;
use crate::protocol::frame;
use crate::protocol::pgoutput::{pg_now_micros, ReplicationMessage, StandbyStatusUpdate};

/// The connection after `START_REPLICATION`: a stream of [`ReplicationMessage`]s.
#[derive(Debug)]
pub struct ReplicationStream {
    pub(super) conn: ReplicationConnection,
    /// The server sent CopyDone.
    pub(super) server_done: bool,
    /// We sent CopyDone.
    pub(super) client_done: bool,
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
