//! The streaming replication protocol: the CopyData payloads the server sends during
//! `START_REPLICATION` and the Standby Status Update the client answers with.

use bytes::{BufMut, Bytes, BytesMut};

use super::reader::{DecodeError, Reader};

/// A CopyData payload sent by the server during `START_REPLICATION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationMessage {
    /// `w`: a chunk of WAL; for logical replication, one output-plugin message.
    XLogData {
        /// The WAL position of the record the message was decoded from (may be 0).
        wal_start: u64,
        /// The current end of WAL on the server.
        wal_end: u64,
        /// Server clock when sending, microseconds since 2000-01-01.
        server_time_us: i64,
        /// The output plugin's message; decode with [`LogicalMessage::decode`](super::LogicalMessage::decode).
        data: Bytes,
    },
    /// `k`: primary keepalive.
    Keepalive {
        /// The current end of WAL on the server.
        wal_end: u64,
        /// Server clock when sending, microseconds since 2000-01-01.
        server_time_us: i64,
        /// The server asks for a standby status update soon, to avoid a timeout
        /// disconnect.
        reply_requested: bool,
    },
}

impl ReplicationMessage {
    /// Decodes one CopyData payload. `data` of an XLogData message is a zero-copy slice of
    /// `buf`.
    pub fn decode(buf: &Bytes) -> Result<ReplicationMessage, DecodeError> {
        let mut r = Reader::new(buf);
        let offset = r.pos;
        match r.u8("replication message tag")? {
            b'w' => {
                let wal_start = r.u64("XLogData start LSN")?;
                let wal_end = r.u64("XLogData end LSN")?;
                let server_time_us = r.i64("XLogData send time")?;
                let data = r.slice(r.remaining(), "XLogData payload")?;
                Ok(ReplicationMessage::XLogData {
                    wal_start,
                    wal_end,
                    server_time_us,
                    data,
                })
            }
            b'k' => {
                let wal_end = r.u64("keepalive end LSN")?;
                let server_time_us = r.i64("keepalive send time")?;
                let reply_offset = r.pos;
                let reply_requested = match r.u8("keepalive reply flag")? {
                    0 => false,
                    1 => true,
                    _ => {
                        return Err(DecodeError::Invalid {
                            what: "keepalive reply flag",
                            offset: reply_offset,
                            reason: "not 0 or 1",
                        })
                    }
                };
                r.finish("keepalive")?;
                Ok(ReplicationMessage::Keepalive {
                    wal_end,
                    server_time_us,
                    reply_requested,
                })
            }
            tag => Err(DecodeError::UnknownTag {
                what: "replication message",
                tag,
                offset,
            }),
        }
    }
}

/// The Standby Status Update (`r`) the client sends to report progress. The server may
/// release WAL (and, for a logical slot, advance `confirmed_flush_lsn`) up to
/// `flush_lsn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandbyStatusUpdate {
    /// The WAL position after the last byte received and written.
    pub write_lsn: u64,
    /// The WAL position after the last byte durably processed.
    pub flush_lsn: u64,
    /// The WAL position after the last byte applied.
    pub apply_lsn: u64,
    /// Client clock, microseconds since 2000-01-01.
    pub client_time_us: i64,
    /// Ask the server to answer at once (with a keepalive).
    pub reply_requested: bool,
}

impl StandbyStatusUpdate {
    /// The encoded length of the payload.
    pub const LEN: usize = 1 + 8 + 8 + 8 + 8 + 1;

    /// Appends the CopyData payload (without the CopyData frame) to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.reserve(Self::LEN);
        buf.put_u8(b'r');
        buf.put_u64(self.write_lsn);
        buf.put_u64(self.flush_lsn);
        buf.put_u64(self.apply_lsn);
        buf.put_i64(self.client_time_us);
        buf.put_u8(u8::from(self.reply_requested));
    }

    /// Decodes a payload produced by [`StandbyStatusUpdate::encode`].
    pub fn decode(buf: &Bytes) -> Result<StandbyStatusUpdate, DecodeError> {
        let mut r = Reader::new(buf);
        let offset = r.pos;
        let tag = r.u8("standby status update tag")?;
        if tag != b'r' {
            return Err(DecodeError::UnknownTag {
                what: "standby status update",
                tag,
                offset,
            });
        }
        let msg = StandbyStatusUpdate {
            write_lsn: r.u64("write LSN")?,
            flush_lsn: r.u64("flush LSN")?,
            apply_lsn: r.u64("apply LSN")?,
            client_time_us: r.i64("client time")?,
            reply_requested: r.u8("reply flag")? != 0,
        };
        r.finish("standby status update")?;
        Ok(msg)
    }
}
