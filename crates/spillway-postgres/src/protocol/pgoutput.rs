//! Decoding of the logical replication stream: the CopyData payloads of the streaming
//! replication protocol and the `pgoutput` plugin's logical messages (protocol version 1).
//!
//! Everything here is pure: bytes in, messages out. Values inside tuples are zero-copy
//! [`Bytes`] slices of the buffer they were decoded from, so decoding a row allocates only
//! the `Vec` of columns. Malformed input of any shape yields a [`DecodeError`] naming what
//! was being read and at which offset; decoding never panics.
//!
//! Integers are big-endian. LSNs are `u64`, timestamps are microseconds since the
//! PostgreSQL epoch (2000-01-01 00:00:00 UTC), see [`system_time_to_pg_micros`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};

/// Seconds from the Unix epoch to the PostgreSQL epoch, 2000-01-01 00:00:00 UTC.
pub const PG_EPOCH_UNIX_SECS: u64 = 946_684_800;

/// Converts a wall-clock time to microseconds since the PostgreSQL epoch.
///
/// Times before the PostgreSQL epoch give negative values; times out of the `i64` range
/// saturate.
pub fn system_time_to_pg_micros(t: SystemTime) -> i64 {
    let epoch = UNIX_EPOCH + Duration::from_secs(PG_EPOCH_UNIX_SECS);
    match t.duration_since(epoch) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros())
            .map(|v| -v)
            .unwrap_or(i64::MIN),
    }
}

/// Converts microseconds since the PostgreSQL epoch to a wall-clock time.
pub fn pg_micros_to_system_time(us: i64) -> SystemTime {
    let epoch = UNIX_EPOCH + Duration::from_secs(PG_EPOCH_UNIX_SECS);
    if us >= 0 {
        epoch + Duration::from_micros(us as u64)
    } else {
        epoch - Duration::from_micros(us.unsigned_abs())
    }
}

/// The current time in microseconds since the PostgreSQL epoch.
pub fn pg_now_micros() -> i64 {
    system_time_to_pg_micros(SystemTime::now())
}

/// A malformed message. `what` names the field or message being read, `offset` is the
/// byte offset within the decoded buffer where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer ended before `what` was complete.
    #[error("truncated {what} at offset {offset}")]
    Truncated { what: &'static str, offset: usize },
    /// A tag byte that the protocol does not define here.
    #[error("unknown {what} tag {tag:#04x} at offset {offset}")]
    UnknownTag {
        what: &'static str,
        tag: u8,
        offset: usize,
    },
    /// A field whose value is out of range or otherwise not allowed.
    #[error("invalid {what} at offset {offset}: {reason}")]
    Invalid {
        what: &'static str,
        offset: usize,
        reason: &'static str,
    },
    /// Bytes left over after a complete message.
    #[error("{count} trailing bytes after {what} at offset {offset}")]
    Trailing {
        what: &'static str,
        offset: usize,
        count: usize,
    },
}

impl DecodeError {
    /// The byte offset at which decoding failed.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Truncated { offset, .. }
            | DecodeError::UnknownTag { offset, .. }
            | DecodeError::Invalid { offset, .. }
            | DecodeError::Trailing { offset, .. } => *offset,
        }
    }
}

/// A bounds-checked big-endian reader over a [`Bytes`] buffer.
pub(super) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(super) fn position(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                what,
                offset: self.pos,
            });
        }
        let buf: &'a Bytes = self.buf;
        let s = &buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(super) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(super) fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    pub(super) fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub(super) fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A non-negative `Int32` count or length.
    pub(super) fn len32(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let n = self.i32(what)?;
        usize::try_from(n).map_err(|_| DecodeError::Invalid {
            what,
            offset,
            reason: "negative length",
        })
    }

    /// A non-negative `Int16` count.
    pub(super) fn len16(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let n = self.i16(what)?;
        usize::try_from(n).map_err(|_| DecodeError::Invalid {
            what,
            offset,
            reason: "negative count",
        })
    }

    /// `n` bytes as a zero-copy slice of the buffer.
    pub(super) fn slice(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                what,
                offset: self.pos,
            });
        }
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// A NUL-terminated string's bytes, without the NUL.
    pub(super) fn cstr_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let buf: &'a Bytes = self.buf;
        let rest = &buf[start..];
        let Some(nul) = memchr::memchr(0, rest) else {
            return Err(DecodeError::Truncated {
                what,
                offset: start,
            });
        };
        self.pos += nul + 1;
        Ok(&rest[..nul])
    }

    /// A NUL-terminated UTF-8 string.
    pub(super) fn cstr(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let start = self.pos;
        let s = self.cstr_bytes(what)?;
        match std::str::from_utf8(s) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => {
                self.pos = start;
                Err(DecodeError::Invalid {
                    what,
                    offset: start,
                    reason: "not valid UTF-8",
                })
            }
        }
    }

    pub(super) fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::Trailing {
                what,
                offset: self.pos,
                count,
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Streaming replication protocol: CopyData payloads
// ---------------------------------------------------------------------------------------

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
        /// The output plugin's message; decode with [`LogicalMessage::decode`].
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

// ---------------------------------------------------------------------------------------
// pgoutput logical messages, protocol version 1
// ---------------------------------------------------------------------------------------

/// `B`: a transaction starts. Changes follow, then a [`Commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The LSN of the transaction's commit record.
    pub final_lsn: u64,
    /// Commit time, microseconds since 2000-01-01.
    pub commit_time_us: i64,
    /// Transaction id.
    pub xid: u32,
}

/// `C`: a transaction ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Currently always 0.
    pub flags: u8,
    /// The LSN of the commit record.
    pub commit_lsn: u64,
    /// The end LSN of the transaction: confirm this to the server once the transaction is
    /// durable downstream.
    pub end_lsn: u64,
    /// Commit time, microseconds since 2000-01-01.
    pub commit_time_us: i64,
}

/// `O`: the transaction originated on another node (replication origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The LSN of the commit on the origin server.
    pub commit_lsn: u64,
    /// Name of the origin.
    pub name: String,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Bit 1 ([`RelationColumn::FLAG_KEY`]): part of the replica identity key.
    pub flags: u8,
    /// Column name.
    pub name: String,
    /// OID of the column's data type.
    pub type_oid: u32,
    /// Type modifier (`atttypmod`), -1 if none.
    pub type_modifier: i32,
}

impl RelationColumn {
    /// The column is part of the key.
    pub const FLAG_KEY: u8 = 1;

    /// Whether the column is part of the replica identity key.
    pub fn is_key(&self) -> bool {
        self.flags & Self::FLAG_KEY != 0
    }
}

/// `R`: describes a table. Sent before the first change to the table in a session and
/// again after its definition changed; tuples of that relation refer to it by `oid` and
/// list values in the order of `columns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Relation OID.
    pub oid: u32,
    /// Schema name; empty for `pg_catalog`.
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// `relreplident`: see the `REPLICA_IDENTITY_*` constants.
    pub replica_identity: u8,
    /// Columns in tuple order (dropped and generated columns are not sent).
    pub columns: Vec<RelationColumn>,
}

impl Relation {
    /// Replica identity: primary key (default).
    pub const REPLICA_IDENTITY_DEFAULT: u8 = b'd';
    /// Replica identity: nothing.
    pub const REPLICA_IDENTITY_NOTHING: u8 = b'n';
    /// Replica identity: all columns.
    pub const REPLICA_IDENTITY_FULL: u8 = b'f';
    /// Replica identity: a unique index.
    pub const REPLICA_IDENTITY_INDEX: u8 = b'i';
}

/// `Y`: describes a data type that is not built in, before the first [`Relation`] using
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMessage {
    /// Type OID.
    pub oid: u32,
    /// Schema name; empty for `pg_catalog`.
    pub namespace: String,
    /// Type name.
    pub name: String,
}

/// One column value of a [`TupleData`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// SQL NULL.
    Null,
    /// A TOASTed value that the change did not modify; its value is not sent.
    UnchangedToast,
    /// The value in text format (the type's output function), in the server encoding.
    Text(Bytes),
    /// The value in binary format (only sent when binary mode was requested).
    Binary(Bytes),
}

/// A row: one [`TupleValue`] per column of the [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TupleData {
    /// Values in the order of the relation's columns.
    pub columns: Vec<TupleValue>,
}

/// `I`: a row was inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// OID of the [`Relation`].
    pub relation: u32,
    /// The new row.
    pub new: TupleData,
}

/// Old-tuple kind: only the replica identity key columns are set, others are null.
pub const OLD_KIND_KEY: u8 = b'K';
/// Old-tuple kind: the whole old row (replica identity full).
pub const OLD_KIND_FULL: u8 = b'O';

/// `U`: a row was updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// OID of the [`Relation`].
    pub relation: u32,
    /// [`OLD_KIND_KEY`] or [`OLD_KIND_FULL`] when `old` is present. With the default
    /// replica identity, the old key is sent only if the key changed.
    pub old_kind: Option<u8>,
    /// The old row or its key.
    pub old: Option<TupleData>,
    /// The new row; unchanged TOASTed columns are [`TupleValue::UnchangedToast`].
    pub new: TupleData,
}

/// `D`: a row was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// OID of the [`Relation`].
    pub relation: u32,
    /// [`OLD_KIND_KEY`] or [`OLD_KIND_FULL`].
    pub old_kind: u8,
    /// The old row or its key.
    pub old: TupleData,
}

/// `T`: tables were truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Bit set of [`Truncate::CASCADE`] and [`Truncate::RESTART_IDENTITY`].
    pub options: u8,
    /// OIDs of the truncated relations.
    pub relations: Vec<u32>,
}

impl Truncate {
    /// `TRUNCATE ... CASCADE`.
    pub const CASCADE: u8 = 1;
    /// `TRUNCATE ... RESTART IDENTITY`.
    pub const RESTART_IDENTITY: u8 = 2;

    /// Whether `CASCADE` was given.
    pub fn cascade(&self) -> bool {
        self.options & Self::CASCADE != 0
    }

    /// Whether `RESTART IDENTITY` was given.
    pub fn restart_identity(&self) -> bool {
        self.options & Self::RESTART_IDENTITY != 0
    }
}

/// `M`: a logical decoding message (`pg_logical_emit_message`); sent only when the
/// `messages` option is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalDecodingMessage {
    /// Emitted inside the transaction (between Begin and Commit) rather than at once.
    pub transactional: bool,
    /// The LSN of the message.
    pub lsn: u64,
    /// The prefix given to `pg_logical_emit_message`.
    pub prefix: String,
    /// The content, a zero-copy slice.
    pub content: Bytes,
}

/// A pgoutput (protocol version 1) message, carried in [`ReplicationMessage::XLogData`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogicalMessage {
    Begin(Begin),
    Commit(Commit),
    Origin(Origin),
    Relation(Relation),
    Type(TypeMessage),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    Truncate(Truncate),
    Message(LogicalDecodingMessage),
}

impl LogicalMessage {
    /// Decodes one pgoutput message. Tuple values are zero-copy slices of `buf`.
    ///
    /// Only protocol version 1 is understood: the streaming (`S`, `E`, `c`, `A`) and
    /// two-phase messages of later versions are [`DecodeError::UnknownTag`].
    pub fn decode(buf: &Bytes) -> Result<LogicalMessage, DecodeError> {
        let mut r = Reader::new(buf);
        let tag_offset = r.pos;
        let tag = r.u8("logical message tag")?;
        let msg = match tag {
            b'B' => LogicalMessage::Begin(Begin {
                final_lsn: r.u64("Begin final LSN")?,
                commit_time_us: r.i64("Begin commit time")?,
                xid: r.u32("Begin xid")?,
            }),
            b'C' => LogicalMessage::Commit(Commit {
                flags: r.u8("Commit flags")?,
                commit_lsn: r.u64("Commit LSN")?,
                end_lsn: r.u64("Commit end LSN")?,
                commit_time_us: r.i64("Commit time")?,
            }),
            b'O' => LogicalMessage::Origin(Origin {
                commit_lsn: r.u64("Origin commit LSN")?,
                name: r.cstr("Origin name")?,
            }),
            b'R' => LogicalMessage::Relation(decode_relation(&mut r)?),
            b'Y' => LogicalMessage::Type(TypeMessage {
                oid: r.u32("Type OID")?,
                namespace: r.cstr("Type namespace")?,
                name: r.cstr("Type name")?,
            }),
            b'I' => {
                let relation = r.u32("Insert relation OID")?;
                expect_tag(&mut r, b'N', "Insert new-tuple marker")?;
                let new = decode_tuple(&mut r)?;
                LogicalMessage::Insert(Insert { relation, new })
            }
            b'U' => {
                let relation = r.u32("Update relation OID")?;
                let kind_offset = r.pos;
                let (old_kind, old) = match r.u8("Update tuple marker")? {
                    k @ (OLD_KIND_KEY | OLD_KIND_FULL) => {
                        let old = decode_tuple(&mut r)?;
                        expect_tag(&mut r, b'N', "Update new-tuple marker")?;
                        (Some(k), Some(old))
                    }
                    b'N' => (None, None),
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "Update tuple marker",
                            tag,
                            offset: kind_offset,
                        })
                    }
                };
                let new = decode_tuple(&mut r)?;
                LogicalMessage::Update(Update {
                    relation,
                    old_kind,
                    old,
                    new,
                })
            }
            b'D' => {
                let relation = r.u32("Delete relation OID")?;
                let kind_offset = r.pos;
                let old_kind = match r.u8("Delete tuple marker")? {
                    k @ (OLD_KIND_KEY | OLD_KIND_FULL) => k,
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "Delete tuple marker",
                            tag,
                            offset: kind_offset,
                        })
                    }
                };
                let old = decode_tuple(&mut r)?;
                LogicalMessage::Delete(Delete {
                    relation,
                    old_kind,
                    old,
                })
            }
            b'T' => {
                let n = r.len32("Truncate relation count")?;
                let options = r.u8("Truncate options")?;
                // Each OID takes 4 bytes: bound the allocation by what the buffer holds.
                let mut relations = Vec::with_capacity(n.min(r.remaining() / 4));
                for _ in 0..n {
                    relations.push(r.u32("Truncate relation OID")?);
                }
                LogicalMessage::Truncate(Truncate { options, relations })
            }
            b'M' => {
                let flags_offset = r.pos;
                let transactional = match r.u8("Message flags")? {
                    0 => false,
                    1 => true,
                    _ => {
                        return Err(DecodeError::Invalid {
                            what: "Message flags",
                            offset: flags_offset,
                            reason: "not 0 or 1",
                        })
                    }
                };
                let lsn = r.u64("Message LSN")?;
                let prefix = r.cstr("Message prefix")?;
                let len = r.len32("Message content length")?;
                let content = r.slice(len, "Message content")?;
                LogicalMessage::Message(LogicalDecodingMessage {
                    transactional,
                    lsn,
                    prefix,
                    content,
                })
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "logical message",
                    tag,
                    offset: tag_offset,
                })
            }
        };
        r.finish(msg.name())?;
        Ok(msg)
    }

    /// The message kind, as named in the protocol documentation.
    pub fn name(&self) -> &'static str {
        match self {
            LogicalMessage::Begin(_) => "Begin",
            LogicalMessage::Commit(_) => "Commit",
            LogicalMessage::Origin(_) => "Origin",
            LogicalMessage::Relation(_) => "Relation",
            LogicalMessage::Type(_) => "Type",
            LogicalMessage::Insert(_) => "Insert",
            LogicalMessage::Update(_) => "Update",
            LogicalMessage::Delete(_) => "Delete",
            LogicalMessage::Truncate(_) => "Truncate",
            LogicalMessage::Message(_) => "Message",
        }
    }
}

fn expect_tag(r: &mut Reader<'_>, want: u8, what: &'static str) -> Result<(), DecodeError> {
    let offset = r.pos;
    let tag = r.u8(what)?;
    if tag == want {
        Ok(())
    } else {
        Err(DecodeError::UnknownTag { what, tag, offset })
    }
}

fn decode_relation(r: &mut Reader<'_>) -> Result<Relation, DecodeError> {
    let oid = r.u32("Relation OID")?;
    let namespace = r.cstr("Relation namespace")?;
    let name = r.cstr("Relation name")?;
    let ri_offset = r.pos;
    let replica_identity = r.u8("Relation replica identity")?;
    if !matches!(replica_identity, b'd' | b'n' | b'f' | b'i') {
        return Err(DecodeError::Invalid {
            what: "Relation replica identity",
            offset: ri_offset,
            reason: "not one of d, n, f, i",
        });
    }
    let n = r.len16("Relation column count")?;
    // A column takes at least 10 bytes (flags, empty name, type, modifier).
    let mut columns = Vec::with_capacity(n.min(r.remaining() / 10));
    for _ in 0..n {
        columns.push(RelationColumn {
            flags: r.u8("Relation column flags")?,
            name: r.cstr("Relation column name")?,
            type_oid: r.u32("Relation column type OID")?,
            type_modifier: r.i32("Relation column type modifier")?,
        });
    }
    Ok(Relation {
        oid,
        namespace,
        name,
        replica_identity,
        columns,
    })
}

fn decode_tuple(r: &mut Reader<'_>) -> Result<TupleData, DecodeError> {
    let n = r.len16("TupleData column count")?;
    // A value takes at least its 1-byte kind.
    let mut columns = Vec::with_capacity(n.min(r.remaining()));
    for _ in 0..n {
        let kind_offset = r.pos;
        let value = match r.u8("TupleData value kind")? {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::UnchangedToast,
            b't' => {
                let len = r.len32("TupleData text length")?;
                TupleValue::Text(r.slice(len, "TupleData text value")?)
            }
            b'b' => {
                let len = r.len32("TupleData binary length")?;
                TupleValue::Binary(r.slice(len, "TupleData binary value")?)
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "TupleData value kind",
                    tag,
                    offset: kind_offset,
                })
            }
        };
        columns.push(value);
    }
    Ok(TupleData { columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds messages field by field.
    #[derive(Default)]
    struct B(Vec<u8>);

    impl B {
        fn u8(mut self, v: u8) -> Self {
            self.0.push(v);
            self
        }
        fn i16(mut self, v: i16) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i32(mut self, v: i32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn u32(mut self, v: u32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn u64(mut self, v: u64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i64(mut self, v: i64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn cstr(mut self, s: &str) -> Self {
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(0);
            self
        }
        fn raw(mut self, b: &[u8]) -> Self {
            self.0.extend_from_slice(b);
            self
        }
        fn text(self, s: &str) -> Self {
            self.u8(b't').i32(s.len() as i32).raw(s.as_bytes())
        }
        fn bytes(self) -> Bytes {
            Bytes::from(self.0)
        }
    }

    fn decode(b: B) -> Result<LogicalMessage, DecodeError> {
        LogicalMessage::decode(&b.bytes())
    }

    fn text(s: &str) -> TupleValue {
        TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn begin() -> B {
        B::default()
            .u8(b'B')
            .u64(0x16_B374_D848)
            .i64(747_000_000_123_456)
            .u32(4242)
    }

    fn commit() -> B {
        B::default()
            .u8(b'C')
            .u8(0)
            .u64(0x16_B374_D848)
            .u64(0x16_B374_D878)
            .i64(747_000_000_123_456)
    }

    fn origin() -> B {
        B::default().u8(b'O').u64(77).cstr("node_a")
    }

    fn relation() -> B {
        B::default()
            .u8(b'R')
            .u32(16384)
            .cstr("public")
            .cstr("orders")
            .u8(b'd')
            .i16(3)
            .u8(1)
            .cstr("id")
            .u32(23)
            .i32(-1)
            .u8(0)
            .cstr("note")
            .u32(1043)
            .i32(68)
            .u8(0)
            .cstr("amount")
            .u32(1700)
            .i32(655_366)
    }

    fn type_msg() -> B {
        B::default().u8(b'Y').u32(70000).cstr("public").cstr("mood")
    }

    fn tuple3(b: B) -> B {
        b.i16(3).text("1").u8(b'n').u8(b'u')
    }

    fn insert() -> B {
        B::default()
            .u8(b'I')
            .u32(16384)
            .u8(b'N')
            .i16(3)
            .text("1")
            .text("héllo")
            .u8(b'b')
            .i32(2)
            .raw(&[0xde, 0xad])
    }

    fn update_plain() -> B {
        tuple3(B::default().u8(b'U').u32(16384).u8(b'N'))
    }

    fn update_key() -> B {
        let b = B::default()
            .u8(b'U')
            .u32(16384)
            .u8(b'K')
            .i16(3)
            .text("1")
            .u8(b'n')
            .u8(b'n')
            .u8(b'N');
        tuple3(b)
    }

    fn update_full() -> B {
        let b = B::default()
            .u8(b'U')
            .u32(16384)
            .u8(b'O')
            .i16(3)
            .text("1")
            .text("old")
            .text("2.50")
            .u8(b'N');
        tuple3(b)
    }

    fn delete() -> B {
        B::default()
            .u8(b'D')
            .u32(16384)
            .u8(b'K')
            .i16(3)
            .text("9")
            .u8(b'n')
            .u8(b'n')
    }

    fn truncate() -> B {
        B::default().u8(b'T').i32(2).u8(3).u32(16384).u32(16390)
    }

    fn message() -> B {
        B::default()
            .u8(b'M')
            .u8(1)
            .u64(0x1_0000_0010)
            .cstr("spillway")
            .i32(5)
            .raw(b"hello")
    }

    fn all_valid() -> Vec<Bytes> {
        vec![
            begin().bytes(),
            commit().bytes(),
            origin().bytes(),
            relation().bytes(),
            type_msg().bytes(),
            insert().bytes(),
            update_plain().bytes(),
            update_key().bytes(),
            update_full().bytes(),
            delete().bytes(),
            truncate().bytes(),
            message().bytes(),
            B::default().u8(b'I').u32(1).u8(b'N').i16(0).bytes(),
            B::default()
                .u8(b'R')
                .u32(1)
                .cstr("")
                .cstr("t")
                .u8(b'n')
                .i16(0)
                .bytes(),
        ]
    }

    #[test]
    fn begin_and_commit() {
        assert_eq!(
            decode(begin()).unwrap(),
            LogicalMessage::Begin(Begin {
                final_lsn: 0x16_B374_D848,
                commit_time_us: 747_000_000_123_456,
                xid: 4242,
            })
        );
        assert_eq!(
            decode(commit()).unwrap(),
            LogicalMessage::Commit(Commit {
                flags: 0,
                commit_lsn: 0x16_B374_D848,
                end_lsn: 0x16_B374_D878,
                commit_time_us: 747_000_000_123_456,
            })
        );
    }

    #[test]
    fn origin_message() {
        assert_eq!(
            decode(origin()).unwrap(),
            LogicalMessage::Origin(Origin {
                commit_lsn: 77,
                name: "node_a".into()
            })
        );
    }

    #[test]
    fn relation_message() {
        let LogicalMessage::Relation(rel) = decode(relation()).unwrap() else {
            panic!("not a relation");
        };
        assert_eq!(rel.oid, 16384);
        assert_eq!(rel.namespace, "public");
        assert_eq!(rel.name, "orders");
        assert_eq!(rel.replica_identity, Relation::REPLICA_IDENTITY_DEFAULT);
        assert_eq!(rel.columns.len(), 3);
        assert!(rel.columns[0].is_key());
        assert!(!rel.columns[1].is_key());
        assert_eq!(
            rel.columns[2],
            RelationColumn {
                flags: 0,
                name: "amount".into(),
                type_oid: 1700,
                type_modifier: 655_366,
            }
        );
        assert_eq!(rel.columns[1].type_modifier, 68);
    }

    #[test]
    fn relation_rejects_bad_replica_identity() {
        let b = B::default()
            .u8(b'R')
            .u32(1)
            .cstr("")
            .cstr("t")
            .u8(b'x')
            .i16(0);
        let err = decode(b).unwrap_err();
        assert_eq!(err.offset(), 8);
        assert!(err.to_string().contains("replica identity"), "{err}");
    }

    #[test]
    fn type_message() {
        assert_eq!(
            decode(type_msg()).unwrap(),
            LogicalMessage::Type(TypeMessage {
                oid: 70000,
                namespace: "public".into(),
                name: "mood".into()
            })
        );
    }

    #[test]
    fn insert_message_is_zero_copy() {
        let buf = insert().bytes();
        let LogicalMessage::Insert(ins) = LogicalMessage::decode(&buf).unwrap() else {
            panic!("not an insert");
        };
        assert_eq!(ins.relation, 16384);
        assert_eq!(
            ins.new.columns,
            vec![
                text("1"),
                text("héllo"),
                TupleValue::Binary(Bytes::from_static(&[0xde, 0xad]))
            ]
        );
        // The value points into the message buffer.
        let TupleValue::Text(v) = &ins.new.columns[1] else {
            unreachable!()
        };
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        assert!(range.contains(&(v.as_ptr() as usize)));
    }

    #[test]
    fn update_messages() {
        let new = TupleData {
            columns: vec![text("1"), TupleValue::Null, TupleValue::UnchangedToast],
        };
        assert_eq!(
            decode(update_plain()).unwrap(),
            LogicalMessage::Update(Update {
                relation: 16384,
                old_kind: None,
                old: None,
                new: new.clone(),
            })
        );
        assert_eq!(
            decode(update_key()).unwrap(),
            LogicalMessage::Update(Update {
                relation: 16384,
                old_kind: Some(OLD_KIND_KEY),
                old: Some(TupleData {
                    columns: vec![text("1"), TupleValue::Null, TupleValue::Null]
                }),
                new: new.clone(),
            })
        );
        assert_eq!(
            decode(update_full()).unwrap(),
            LogicalMessage::Update(Update {
                relation: 16384,
                old_kind: Some(OLD_KIND_FULL),
                old: Some(TupleData {
                    columns: vec![text("1"), text("old"), text("2.50")]
                }),
                new,
            })
        );
    }

    #[test]
    fn update_rejects_unknown_marker() {
        let err = decode(B::default().u8(b'U').u32(1).u8(b'X').i16(0)).unwrap_err();
        assert_eq!(
            err,
            DecodeError::UnknownTag {
                what: "Update tuple marker",
                tag: b'X',
                offset: 5
            }
        );
    }

    #[test]
    fn delete_message() {
        assert_eq!(
            decode(delete()).unwrap(),
            LogicalMessage::Delete(Delete {
                relation: 16384,
                old_kind: OLD_KIND_KEY,
                old: TupleData {
                    columns: vec![text("9"), TupleValue::Null, TupleValue::Null]
                },
            })
        );
        let err = decode(B::default().u8(b'D').u32(1).u8(b'N').i16(0)).unwrap_err();
        assert!(matches!(err, DecodeError::UnknownTag { tag: b'N', .. }));
    }

    #[test]
    fn truncate_message() {
        let LogicalMessage::Truncate(t) = decode(truncate()).unwrap() else {
            panic!("not a truncate");
        };
        assert_eq!(t.relations, vec![16384, 16390]);
        assert!(t.cascade());
        assert!(t.restart_identity());
        let err = decode(B::default().u8(b'T').i32(-1).u8(0)).unwrap_err();
        assert!(
            matches!(err, DecodeError::Invalid { offset: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn logical_decoding_message() {
        assert_eq!(
            decode(message()).unwrap(),
            LogicalMessage::Message(LogicalDecodingMessage {
                transactional: true,
                lsn: 0x1_0000_0010,
                prefix: "spillway".into(),
                content: Bytes::from_static(b"hello"),
            })
        );
    }

    #[test]
    fn errors_name_field_and_offset() {
        let mut b = begin().0;
        b.truncate(12);
        let err = LogicalMessage::decode(&Bytes::from(b)).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Truncated {
                what: "Begin commit time",
                offset: 9
            }
        );
        assert_eq!(err.to_string(), "truncated Begin commit time at offset 9");

        let err = decode(begin().u8(0)).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Trailing {
                what: "Begin",
                offset: 21,
                count: 1
            }
        );

        let err = decode(B::default().u8(b'S')).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown logical message tag 0x53 at offset 0"
        );

        let err = LogicalMessage::decode(&Bytes::new()).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { offset: 0, .. }));

        // A negative text length.
        let err = decode(
            B::default()
                .u8(b'I')
                .u32(1)
                .u8(b'N')
                .i16(1)
                .u8(b't')
                .i32(-5),
        )
        .unwrap_err();
        assert_eq!(err.offset(), 9);

        // A name that is not UTF-8.
        let err = decode(B::default().u8(b'O').u64(1).raw(&[0xff, 0])).unwrap_err();
        assert!(
            matches!(err, DecodeError::Invalid { offset: 9, .. }),
            "{err}"
        );
    }

    #[test]
    fn xlogdata_and_keepalive() {
        let payload = insert().0;
        let buf = B::default()
            .u8(b'w')
            .u64(100)
            .u64(200)
            .i64(300)
            .raw(&payload)
            .bytes();
        let msg = ReplicationMessage::decode(&buf).unwrap();
        assert_eq!(
            msg,
            ReplicationMessage::XLogData {
                wal_start: 100,
                wal_end: 200,
                server_time_us: 300,
                data: Bytes::from(payload),
            }
        );

        let buf = B::default().u8(b'k').u64(500).i64(-7).u8(1).bytes();
        assert_eq!(
            ReplicationMessage::decode(&buf).unwrap(),
            ReplicationMessage::Keepalive {
                wal_end: 500,
                server_time_us: -7,
                reply_requested: true
            }
        );
        let buf = B::default().u8(b'k').u64(500).i64(-7).u8(2).bytes();
        assert!(ReplicationMessage::decode(&buf).is_err());
        let buf = B::default().u8(b'x').bytes();
        assert_eq!(
            ReplicationMessage::decode(&buf).unwrap_err().to_string(),
            "unknown replication message tag 0x78 at offset 0"
        );
    }

    #[test]
    fn standby_status_update_roundtrip() {
        let msg = StandbyStatusUpdate {
            write_lsn: 0x16_B374_D848,
            flush_lsn: 0x16_B374_D800,
            apply_lsn: 0x16_B374_D000,
            client_time_us: 123_456_789,
            reply_requested: true,
        };
        let mut buf = BytesMut::new();
        msg.encode(&mut buf);
        assert_eq!(buf.len(), StandbyStatusUpdate::LEN);
        assert_eq!(buf[0], b'r');
        assert_eq!(&buf[1..9], &0x16_B374_D848u64.to_be_bytes());
        assert_eq!(buf[33], 1);
        assert_eq!(StandbyStatusUpdate::decode(&buf.freeze()).unwrap(), msg);
    }

    #[test]
    fn pg_epoch_conversions() {
        let epoch = UNIX_EPOCH + Duration::from_secs(PG_EPOCH_UNIX_SECS);
        assert_eq!(system_time_to_pg_micros(epoch), 0);
        assert_eq!(
            system_time_to_pg_micros(epoch + Duration::from_micros(1_500_000)),
            1_500_000
        );
        assert_eq!(system_time_to_pg_micros(UNIX_EPOCH), -946_684_800_000_000);
        for us in [0, 1, -1, 747_000_000_123_456, -946_684_800_000_000] {
            assert_eq!(system_time_to_pg_micros(pg_micros_to_system_time(us)), us);
        }
        assert!(pg_now_micros() > 747_000_000_000_000);
    }

    /// A small deterministic generator (xorshift64*), enough to shake the decoder.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn decode_both(buf: &Bytes) {
        let _ = LogicalMessage::decode(buf);
        let _ = ReplicationMessage::decode(buf);
        let _ = StandbyStatusUpdate::decode(buf);
    }

    #[test]
    fn malformed_input_never_panics() {
        let valid = all_valid();
        for msg in &valid {
            LogicalMessage::decode(msg).unwrap();
            // Every strict prefix is incomplete and must be an error.
            for len in 0..msg.len() {
                let prefix = msg.slice(..len);
                let err = LogicalMessage::decode(&prefix).unwrap_err();
                assert!(err.offset() <= len, "{err} for prefix {len}");
                decode_both(&prefix);
            }
            // Wrapped into XLogData, prefixes of the envelope too.
            let wrapped = B::default().u8(b'w').u64(1).u64(2).i64(3).raw(msg).bytes();
            for len in 0..wrapped.len() {
                decode_both(&wrapped.slice(..len));
            }
        }

        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let tags = b"BCORYIUDTMwkrSEcAN";
        for _ in 0..20_000 {
            // Random bytes, often with a valid tag in front.
            let len = rng.below(64);
            let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if !v.is_empty() && rng.below(4) != 0 {
                v[0] = tags[rng.below(tags.len())];
            }
            decode_both(&Bytes::from(v));

            // Valid messages with a few bytes flipped, cut or extended.
            let mut m = valid[rng.below(valid.len())].to_vec();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
            match rng.below(3) {
                0 => m.truncate(rng.below(m.len() + 1)),
                1 => m.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
                _ => {}
            }
            decode_both(&Bytes::from(m));
        }
    }
}
