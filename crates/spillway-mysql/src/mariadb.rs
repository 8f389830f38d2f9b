//! Binlog events that mysql_common leaves undecoded: MariaDB's own (type codes 160 and up)
//! and, for callers holding raw bytes, the common header and a few MySQL control events.
//!
//! Every decoder reads a byte slice and returns an error naming the field and its offset
//! when the bytes do not hold what they should; none panics, whatever the input.
//!
//! # Which bytes to pass
//!
//! Decoders take an event's *body*: what follows the 19-byte common header, without the
//! trailing CRC32. Holding a `mysql_common::binlog::events::Event` (what mysql_async's
//! `BinlogStream` yields), that is exactly `event.data()`: `Event::read` splits the header
//! off and, once the stream's FORMAT_DESCRIPTION_EVENT announced CRC32, the last four bytes
//! too (they go to `event.checksum()`). The header converts with [`EventHeader::from`]:
//!
//! ```text
//! let header = EventHeader::from(event.header());
//! match decode_mariadb_event(&header, event.data())? {
//!     Some(MariaEvent::Gtid { gtid, event }) => begin_transaction(gtid, event.is_standalone()),
//!     Some(other) => handle(other),
//!     None => match event.read_data()? { /* mysql_common's events */ },
//! }
//! ```
//!
//! Holding the raw bytes of a whole event instead (a binlog file, a network packet after its
//! leading 0x00), [`RawEvent::parse`] splits header, body and checksum.
//!
//! One caveat with mysql_common: the artificial ROTATE_EVENT a server sends first comes
//! before any FORMAT_DESCRIPTION_EVENT, so mysql_common cannot know whether it carries a
//! CRC32 and leaves it in `data()`. [`strip_valid_crc32`] removes it when it matches.

use std::borrow::Cow;
use std::fmt;

use crate::gtid::{MariaGtid, MariaGtidList};

// ---------------------------------------------------------------------------------------
// Event types and flags
// ---------------------------------------------------------------------------------------

pub const ROTATE_EVENT: u8 = 4;
pub const FORMAT_DESCRIPTION_EVENT: u8 = 15;
/// MySQL's GTID_LOG_EVENT.
pub const MYSQL_GTID_EVENT: u8 = 33;
/// MySQL's ANONYMOUS_GTID_LOG_EVENT (GTIDs off): same layout as [`MYSQL_GTID_EVENT`].
pub const ANONYMOUS_GTID_EVENT: u8 = 34;
/// MySQL 8.4's GTID_TAGGED_LOG_EVENT; mysql_common decodes it (`EventData::GtidEvent`).
pub const GTID_TAGGED_LOG_EVENT: u8 = 42;
pub const ANNOTATE_ROWS_EVENT: u8 = 160;
pub const BINLOG_CHECKPOINT_EVENT: u8 = 161;
/// MariaDB's GTID_EVENT.
pub const MARIADB_GTID_EVENT: u8 = 162;
pub const GTID_LIST_EVENT: u8 = 163;
pub const START_ENCRYPTION_EVENT: u8 = 164;
/// First of MariaDB's compressed events (`log_bin_compress=ON`), QUERY_COMPRESSED_EVENT.
pub const FIRST_COMPRESSED_EVENT: u8 = 165;
/// Last of MariaDB's compressed events, DELETE_ROWS_COMPRESSED_EVENT.
pub const LAST_COMPRESSED_EVENT: u8 = 171;

/// Header flag: the event may be skipped by a reader that does not know it.
pub const LOG_EVENT_IGNORABLE_F: u16 = 0x80;
/// Header flag: the event was made up by the server for this stream, not read from a binlog
/// (the first ROTATE_EVENT, a GTID_LIST_EVENT after a GTID connect).
pub const LOG_EVENT_ARTIFICIAL_F: u16 = 0x20;
/// Header flag: set in a binlog's FORMAT_DESCRIPTION_EVENT while the file is being written;
/// it is cleared before the event's CRC32 is computed.
pub const LOG_EVENT_BINLOG_IN_USE_F: u16 = 0x01;

/// Checksum algorithm byte of a FORMAT_DESCRIPTION_EVENT: no checksum.
pub const CHECKSUM_OFF: u8 = 0;
/// Checksum algorithm byte: every event ends with a CRC32 of the rest of it.
pub const CHECKSUM_CRC32: u8 = 1;

/// The name of an event type, for messages.
pub fn event_type_name(event_type: u8) -> &'static str {
    match event_type {
        0 => "UNKNOWN_EVENT",
        1 => "START_EVENT_V3",
        2 => "QUERY_EVENT",
        3 => "STOP_EVENT",
        4 => "ROTATE_EVENT",
        5 => "INTVAR_EVENT",
        13 => "RAND_EVENT",
        14 => "USER_VAR_EVENT",
        15 => "FORMAT_DESCRIPTION_EVENT",
        16 => "XID_EVENT",
        17 => "BEGIN_LOAD_QUERY_EVENT",
        18 => "EXECUTE_LOAD_QUERY_EVENT",
        19 => "TABLE_MAP_EVENT",
        23 => "WRITE_ROWS_EVENT_V1",
        24 => "UPDATE_ROWS_EVENT_V1",
        25 => "DELETE_ROWS_EVENT_V1",
        26 => "INCIDENT_EVENT",
        27 => "HEARTBEAT_LOG_EVENT",
        28 => "IGNORABLE_LOG_EVENT",
        29 => "ROWS_QUERY_LOG_EVENT",
        30 => "WRITE_ROWS_EVENT",
        31 => "UPDATE_ROWS_EVENT",
        32 => "DELETE_ROWS_EVENT",
        33 => "GTID_LOG_EVENT",
        34 => "ANONYMOUS_GTID_LOG_EVENT",
        35 => "PREVIOUS_GTIDS_LOG_EVENT",
        36 => "TRANSACTION_CONTEXT_EVENT",
        37 => "VIEW_CHANGE_EVENT",
        38 => "XA_PREPARE_LOG_EVENT",
        39 => "PARTIAL_UPDATE_ROWS_EVENT",
        40 => "TRANSACTION_PAYLOAD_EVENT",
        41 => "HEARTBEAT_LOG_EVENT_V2",
        42 => "GTID_TAGGED_LOG_EVENT",
        160 => "ANNOTATE_ROWS_EVENT",
        161 => "BINLOG_CHECKPOINT_EVENT",
        162 => "GTID_EVENT",
        163 => "GTID_LIST_EVENT",
        164 => "START_ENCRYPTION_EVENT",
        165 => "QUERY_COMPRESSED_EVENT",
        166 => "WRITE_ROWS_COMPRESSED_EVENT_V1",
        167 => "UPDATE_ROWS_COMPRESSED_EVENT_V1",
        168 => "DELETE_ROWS_COMPRESSED_EVENT_V1",
        169 => "WRITE_ROWS_COMPRESSED_EVENT",
        170 => "UPDATE_ROWS_COMPRESSED_EVENT",
        171 => "DELETE_ROWS_COMPRESSED_EVENT",
        _ => "unknown event type",
    }
}

// ---------------------------------------------------------------------------------------
// Errors and reading
// ---------------------------------------------------------------------------------------

/// Error from decoding binlog bytes. Offsets count from the start of the slice given to the
/// decoder (the event body, or the whole event for [`EventHeader::decode`] and
/// [`RawEvent::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "{event}: {field} needs {needed} bytes at offset {offset}, but only {available} remain"
    )]
    Truncated {
        event: &'static str,
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("{event}: {field} at offset {offset} is invalid: {reason}")]
    Invalid {
        event: &'static str,
        field: &'static str,
        offset: usize,
        reason: String,
    },
    #[error("{event}: the CRC32 stored in the event is {stored:#010x}, but the event's bytes give {computed:#010x}")]
    ChecksumMismatch {
        event: &'static str,
        stored: u32,
        computed: u32,
    },
    #[error(
        "the binlog is encrypted (START_ENCRYPTION_EVENT not marked ignorable, so the events \
         after it are ciphertext); binlog encryption is not supported here: set \
         encrypt_binlog=OFF, or read through the server's replication stream, which decrypts \
         for its replicas"
    )]
    EncryptedBinlog,
    #[error(
        "{event} (type {event_type}) is compressed, which is not supported: set \
         log_bin_compress=OFF on the server (events already written compressed cannot be read)"
    )]
    CompressedEvent { event: &'static str, event_type: u8 },
}

/// A cursor over an event's bytes that turns every short read into [`DecodeError::Truncated`].
struct Reader<'a> {
    event: &'static str,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(event: &'static str, buf: &'a [u8]) -> Self {
        Reader { event, buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                event: self.event,
                field,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    fn invalid(
        &self,
        field: &'static str,
        offset: usize,
        reason: impl Into<String>,
    ) -> DecodeError {
        DecodeError::Invalid {
            event: self.event,
            field,
            offset,
            reason: reason.into(),
        }
    }

    /// Reads `n` bytes as a UTF-8 name (binlog file names are ASCII).
    fn name(&mut self, n: usize, field: &'static str) -> Result<String, DecodeError> {
        let at = self.pos;
        let raw = self.bytes(n, field)?;
        String::from_utf8(raw.to_vec()).map_err(|e| self.invalid(field, at, e.to_string()))
    }
}

// ---------------------------------------------------------------------------------------
// CRC32
// ---------------------------------------------------------------------------------------

const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC32 (the zlib one binlogs use) of the concatenated parts.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for part in parts {
        for &b in *part {
            c = CRC32_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
    }
    !c
}

/// The CRC32 an event's last four bytes should hold, given its header and its body without
/// them. For a FORMAT_DESCRIPTION_EVENT the body includes the checksum-algorithm byte, and
/// [`LOG_EVENT_BINLOG_IN_USE_F`] is left out of the sum, as the server does.
pub fn event_crc32(header: &EventHeader, body: &[u8]) -> u32 {
    let mut h = *header;
    if h.event_type == FORMAT_DESCRIPTION_EVENT {
        h.flags &= !LOG_EVENT_BINLOG_IN_USE_F;
    }
    crc32(&[&h.to_bytes(), body])
}

/// `data` without its last four bytes when they are the CRC32 of the header and the rest,
/// `data` unchanged otherwise. For events whose checksum state the reader could not know,
/// such as the artificial ROTATE_EVENT that precedes the FORMAT_DESCRIPTION_EVENT (a chance
/// match of a name's last bytes is one in 2^32).
pub fn strip_valid_crc32<'a>(header: &EventHeader, data: &'a [u8]) -> &'a [u8] {
    if let Some(split) = data.len().checked_sub(4) {
        let (body, stored) = data.split_at(split);
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        if event_crc32(header, body) == stored {
            return body;
        }
    }
    data
}

// ---------------------------------------------------------------------------------------
// Common header and whole events
// ---------------------------------------------------------------------------------------

/// The common header of a binlog event (v4, 19 bytes, little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventHeader {
    /// Seconds since the epoch when the statement started; 0 in artificial events.
    pub timestamp: u32,
    pub event_type: u8,
    /// `server_id` of the server that first wrote the event (a MariaDB GTID's server part).
    pub server_id: u32,
    /// Size of the whole event: header, body and checksum.
    pub event_size: u32,
    /// Position of the next event in the binlog file; 0 in some artificial events.
    pub log_pos: u32,
    pub flags: u16,
}

impl EventHeader {
    pub const LEN: usize = 19;

    /// Reads the header from the first 19 bytes of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("event header", bytes);
        Ok(EventHeader {
            timestamp: r.u32("timestamp")?,
            event_type: r.u8("event_type")?,
            server_id: r.u32("server_id")?,
            event_size: r.u32("event_size")?,
            log_pos: r.u32("log_pos")?,
            flags: r.u16("flags")?,
        })
    }

    /// The 19 bytes of the header.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0..4].copy_from_slice(&self.timestamp.to_le_bytes());
        b[4] = self.event_type;
        b[5..9].copy_from_slice(&self.server_id.to_le_bytes());
        b[9..13].copy_from_slice(&self.event_size.to_le_bytes());
        b[13..17].copy_from_slice(&self.log_pos.to_le_bytes());
        b[17..19].copy_from_slice(&self.flags.to_le_bytes());
        b
    }

    pub fn is_ignorable(&self) -> bool {
        self.flags & LOG_EVENT_IGNORABLE_F != 0
    }

    pub fn is_artificial(&self) -> bool {
        self.flags & LOG_EVENT_ARTIFICIAL_F != 0
    }

    pub fn type_name(&self) -> &'static str {
        event_type_name(self.event_type)
    }
}

impl From<mysql_async::binlog::events::BinlogEventHeader> for EventHeader {
    fn from(h: mysql_async::binlog::events::BinlogEventHeader) -> Self {
        EventHeader {
            timestamp: h.timestamp(),
            event_type: h.event_type_raw(),
            server_id: h.server_id(),
            event_size: h.event_size(),
            log_pos: h.log_pos(),
            flags: h.flags_raw(),
        }
    }
}

/// One event split from raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent<'a> {
    pub header: EventHeader,
    /// The bytes after the header, without the checksum. A FORMAT_DESCRIPTION_EVENT's body is
    /// whole (it says itself whether it has a checksum: see [`FormatDescription::decode`]).
    pub body: &'a [u8],
    /// The CRC32 stored at the end of the event, when it has one.
    pub checksum: Option<u32>,
}

impl<'a> RawEvent<'a> {
    /// Splits the event at the start of `bytes`: its header, then `event_size` bytes in all.
    /// `crc32` says whether events carry a CRC32 (the FORMAT_DESCRIPTION_EVENT's checksum
    /// algorithm is [`CHECKSUM_CRC32`]). Bytes after the event are left alone: the next event
    /// starts at [`len`](Self::len).
    pub fn parse(bytes: &'a [u8], crc32: bool) -> Result<Self, DecodeError> {
        let header = EventHeader::decode(bytes)?;
        let size = header.event_size as usize;
        let invalid = |reason: String| DecodeError::Invalid {
            event: "event header",
            field: "event_size",
            offset: 9,
            reason,
        };
        if size < EventHeader::LEN {
            return Err(invalid(format!(
                "{size} is shorter than the {}-byte header",
                EventHeader::LEN
            )));
        }
        if size > bytes.len() {
            return Err(DecodeError::Truncated {
                event: event_type_name(header.event_type),
                field: "event",
                offset: 0,
                needed: size,
                available: bytes.len(),
            });
        }
        let all = &bytes[EventHeader::LEN..size];
        if header.event_type == FORMAT_DESCRIPTION_EVENT || !crc32 {
            return Ok(RawEvent {
                header,
                body: all,
                checksum: None,
            });
        }
        let Some(split) = all.len().checked_sub(4) else {
            return Err(invalid(format!(
                "{size} leaves no room for the CRC32 after the header"
            )));
        };
        let (body, sum) = all.split_at(split);
        Ok(RawEvent {
            header,
            body,
            checksum: Some(u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]])),
        })
    }

    /// Length of the event in the bytes it was parsed from.
    pub fn len(&self) -> usize {
        self.header.event_size as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the stored CRC32, if any, against the event's bytes.
    pub fn verify_checksum(&self) -> Result<(), DecodeError> {
        let Some(stored) = self.checksum else {
            return Ok(());
        };
        let computed = event_crc32(&self.header, self.body);
        if computed == stored {
            Ok(())
        } else {
            Err(DecodeError::ChecksumMismatch {
                event: self.header.type_name(),
                stored,
                computed,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------
// FORMAT_DESCRIPTION_EVENT and ROTATE_EVENT
// ---------------------------------------------------------------------------------------

/// A FORMAT_DESCRIPTION_EVENT (15): mostly, whether the binlog's events carry a CRC32.
///
/// With mysql_common, read this from the event instead: `event.footer().get_checksum_alg()`
/// (its `data()` no longer holds the checksum-algorithm byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription {
    pub binlog_version: u16,
    /// E.g. `10.11.19-MariaDB-0+deb12u1-log`.
    pub server_version: String,
    pub create_timestamp: u32,
    /// Length of the common header: 19.
    pub header_length: u8,
    /// Post-header length of each event type, indexed by type - 1.
    pub post_header_lengths: Vec<u8>,
    /// [`CHECKSUM_OFF`], [`CHECKSUM_CRC32`], or `None` for a server too old to say.
    pub checksum_alg: Option<u8>,
    /// The CRC32 of the event itself, present whenever the algorithm byte is.
    pub checksum: Option<u32>,
}

impl FormatDescription {
    /// Decodes the whole body (everything after the header, including the checksum-algorithm
    /// byte and the CRC32 that servers with checksum support always append here).
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("FORMAT_DESCRIPTION_EVENT", body);
        let binlog_version = r.u16("binlog_version")?;
        let raw_version = r.bytes(50, "server_version")?;
        let end = raw_version.iter().position(|&b| b == 0).unwrap_or(50);
        let server_version = String::from_utf8_lossy(&raw_version[..end]).into_owned();
        let create_timestamp = r.u32("create_timestamp")?;
        let header_length = r.u8("header_length")?;
        let rest_at = r.pos;
        let rest = r.rest();
        let (post_header_lengths, checksum_alg, checksum) =
            if version_has_checksums(&server_version) {
                let Some(split) = rest.len().checked_sub(5) else {
                    return Err(DecodeError::Truncated {
                        event: "FORMAT_DESCRIPTION_EVENT",
                        field: "checksum algorithm and CRC32",
                        offset: rest_at,
                        needed: 5,
                        available: rest.len(),
                    });
                };
                let (lengths, tail) = rest.split_at(split);
                let sum = u32::from_le_bytes([tail[1], tail[2], tail[3], tail[4]]);
                (lengths.to_vec(), Some(tail[0]), Some(sum))
            } else {
                (rest.to_vec(), None, None)
            };
        Ok(FormatDescription {
            binlog_version,
            server_version,
            create_timestamp,
            header_length,
            post_header_lengths,
            checksum_alg,
            checksum,
        })
    }

    /// Whether the binlog's events end with a CRC32.
    pub fn has_crc32(&self) -> bool {
        self.checksum_alg == Some(CHECKSUM_CRC32)
    }

    pub fn is_mariadb(&self) -> bool {
        self.server_version.contains("MariaDB")
    }

    /// Post-header length of `event_type`, if the server listed it.
    pub fn post_header_length(&self, event_type: u8) -> Option<u8> {
        let i = usize::from(event_type).checked_sub(1)?;
        self.post_header_lengths.get(i).copied()
    }
}

/// Servers write the checksum-algorithm byte from MySQL 5.6.1 and MariaDB 5.3 on.
fn version_has_checksums(version: &str) -> bool {
    let mut nums = version
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let v = (
        nums.next().unwrap_or(0),
        nums.next().unwrap_or(0),
        nums.next().unwrap_or(0),
    );
    let min = if version.contains("MariaDB") {
        (5, 3, 0)
    } else {
        (5, 6, 1)
    };
    v >= min
}

/// A ROTATE_EVENT (4): the binlog continues in another file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotate {
    /// Position of the first event to read in the next file (4 when starting it).
    pub position: u64,
    pub next_file: String,
}

impl Rotate {
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("ROTATE_EVENT", body);
        let position = r.u64("position")?;
        let n = r.remaining();
        let next_file = r.name(n, "file name")?;
        Ok(Rotate {
            position,
            next_file,
        })
    }
}

// ---------------------------------------------------------------------------------------
// MySQL GTID_LOG_EVENT / ANONYMOUS_GTID_LOG_EVENT
// ---------------------------------------------------------------------------------------

/// The leading fields of MySQL's GTID_LOG_EVENT (33) and ANONYMOUS_GTID_LOG_EVENT (34).
/// mysql_common decodes these in full (`EventData::GtidEvent`); this is for raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MysqlGtidEvent {
    /// Bit 0: the transaction may contain statement-based events.
    pub flags: u8,
    /// `server_uuid` of the originating server (zero in an anonymous GTID).
    pub sid: [u8; 16],
    /// Transaction number (0 in an anonymous GTID; never above `i64::MAX`).
    pub gno: u64,
    /// Commit parent's logical timestamp, from MySQL 5.7.6.
    pub last_committed: Option<u64>,
    /// The transaction's logical timestamp, from MySQL 5.7.6.
    pub sequence_number: Option<u64>,
}

impl MysqlGtidEvent {
    /// Decodes the body; fields after the logical timestamps (commit timestamps, transaction
    /// length, server versions) are not read.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("GTID_LOG_EVENT", body);
        let flags = r.u8("flags")?;
        let sid = r.array::<16>("sid")?;
        let gno = r.u64("gno")?;
        let (mut last_committed, mut sequence_number) = (None, None);
        // Typecode 2 announces the logical clock; absent before 5.7.6.
        if r.remaining() > 0 && r.buf[r.pos] == 2 {
            r.u8("logical clock typecode")?;
            last_committed = Some(r.u64("last_committed")?);
            sequence_number = Some(r.u64("sequence_number")?);
        }
        Ok(MysqlGtidEvent {
            flags,
            sid,
            gno,
            last_committed,
            sequence_number,
        })
    }
}

// ---------------------------------------------------------------------------------------
// MariaDB events
// ---------------------------------------------------------------------------------------

/// An ANNOTATE_ROWS_EVENT (160): the statement whose row events follow (MariaDB sends it
/// when `binlog_annotate_row_events` is on and the dump asked for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnotateRows<'a> {
    /// The statement as the client sent it, in the client's character set.
    pub query: &'a [u8],
}

impl<'a> AnnotateRows<'a> {
    /// The body is the statement, nothing else.
    pub fn decode(body: &'a [u8]) -> Self {
        AnnotateRows { query: body }
    }

    /// The statement as text, invalid UTF-8 replaced.
    pub fn query_lossy(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.query)
    }
}

/// A BINLOG_CHECKPOINT_EVENT (161): the oldest binlog file crash recovery may still need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogCheckpoint {
    pub file: String,
}

impl BinlogCheckpoint {
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("BINLOG_CHECKPOINT_EVENT", body);
        let len = r.u32("file name length")?;
        let file = r.name(len as usize, "file name")?;
        Ok(BinlogCheckpoint { file })
    }
}

/// `flags2` bits of MariaDB's GTID_EVENT.
pub mod gtid_flags {
    /// No terminating COMMIT/XID event: a DDL or non-transactional statement on its own.
    pub const FL_STANDALONE: u8 = 1;
    /// Part of a group commit; `commit_id` follows.
    pub const FL_GROUP_COMMIT_ID: u8 = 2;
    /// The group can be rolled back safely (no non-transactional tables).
    pub const FL_TRANSACTIONAL: u8 = 4;
    /// May be applied in parallel (negation of `skip_parallel_replication`).
    pub const FL_ALLOW_PARALLEL: u8 = 8;
    /// A row lock wait happened while the transaction ran.
    pub const FL_WAITED: u8 = 16;
    /// The group contains DDL.
    pub const FL_DDL: u8 = 32;
    /// The group ends in `XA PREPARE`; the XID follows.
    pub const FL_PREPARED_XA: u8 = 64;
    /// The group is `XA COMMIT`/`XA ROLLBACK` of a prepared transaction; the XID follows.
    pub const FL_COMPLETED_XA: u8 = 128;

    /// `flags_extra`: `extra_engines` follows.
    pub const FL_EXTRA_MULTI_ENGINE: u8 = 1;
    /// `flags_extra`: first part of a two-phase `ALTER TABLE`.
    pub const FL_START_ALTER: u8 = 2;
    /// `flags_extra`: commit of a two-phase `ALTER TABLE`; `sa_seq_no` follows.
    pub const FL_COMMIT_ALTER: u8 = 4;
    /// `flags_extra`: rollback of a two-phase `ALTER TABLE`; `sa_seq_no` follows.
    pub const FL_ROLLBACK_ALTER: u8 = 8;
    /// `flags_extra` (MariaDB 11.5+): the originating session's thread id follows.
    pub const FL_EXTRA_THREAD_ID: u8 = 16;
}

use gtid_flags::*;

/// The XID of an XA transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xid {
    pub format_id: i32,
    pub gtrid: Vec<u8>,
    pub bqual: Vec<u8>,
}

/// MariaDB's GTID_EVENT (162): starts a transaction (or a standalone statement) and names its
/// GTID, whose server id is the event header's (see [`gtid`](Self::gtid)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidEvent {
    pub seq_no: u64,
    pub domain_id: u32,
    /// See [`gtid_flags`].
    pub flags2: u8,
    /// Set with [`FL_GROUP_COMMIT_ID`]: transactions with the same id committed together.
    pub commit_id: Option<u64>,
    /// Set with [`FL_PREPARED_XA`] or [`FL_COMPLETED_XA`].
    pub xid: Option<Xid>,
    /// Extra flags (MariaDB 10.5+), 0 when absent; see [`gtid_flags`].
    pub flags_extra: u8,
    /// Set with [`FL_EXTRA_MULTI_ENGINE`]: engines beyond the first in the transaction.
    pub extra_engines: Option<u8>,
    /// Set with [`FL_COMMIT_ALTER`] or [`FL_ROLLBACK_ALTER`]: the START ALTER's seq_no.
    pub sa_seq_no: Option<u64>,
    /// Set with [`FL_EXTRA_THREAD_ID`]: the originating session's thread id.
    pub thread_id: Option<u64>,
}

impl GtidEvent {
    /// Decodes the body.
    ///
    /// Layout: `seq_no` u64, `domain_id` u32, `flags2` u8; `commit_id` u64 with
    /// FL_GROUP_COMMIT_ID; with an XA flag `format_id` u32, `gtrid_length` u8, `bqual_length`
    /// u8 and the two strings; then, if bytes remain, `flags_extra` u8 and the fields it
    /// announces. Servers pad the body with zeros to 19 bytes (a zero `flags_extra` then)
    /// and later versions may append fields, so bytes after the known ones are ignored.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("GTID_EVENT", body);
        let seq_no = r.u64("seq_no")?;
        let domain_id = r.u32("domain_id")?;
        let flags2 = r.u8("flags2")?;
        let commit_id = if flags2 & FL_GROUP_COMMIT_ID != 0 {
            Some(r.u64("commit_id")?)
        } else {
            None
        };
        let xid = if flags2 & (FL_PREPARED_XA | FL_COMPLETED_XA) != 0 {
            let format_id = i32::from_le_bytes(r.array("xid format_id")?);
            let gtrid_len = r.u8("xid gtrid_length")?;
            let bqual_len = r.u8("xid bqual_length")?;
            let gtrid = r.bytes(gtrid_len.into(), "xid gtrid")?.to_vec();
            let bqual = r.bytes(bqual_len.into(), "xid bqual")?.to_vec();
            Some(Xid {
                format_id,
                gtrid,
                bqual,
            })
        } else {
            None
        };
        let mut event = GtidEvent {
            seq_no,
            domain_id,
            flags2,
            commit_id,
            xid,
            flags_extra: 0,
            extra_engines: None,
            sa_seq_no: None,
            thread_id: None,
        };
        if r.remaining() == 0 {
            return Ok(event);
        }
        let flags_extra = r.u8("flags_extra")?;
        event.flags_extra = flags_extra;
        if flags_extra & FL_EXTRA_MULTI_ENGINE != 0 {
            event.extra_engines = Some(r.u8("extra_engines")?);
        }
        if flags_extra & (FL_COMMIT_ALTER | FL_ROLLBACK_ALTER) != 0 {
            event.sa_seq_no = Some(r.u64("sa_seq_no")?);
        }
        if flags_extra & FL_EXTRA_THREAD_ID != 0 {
            // The last field: 8 bytes where they remain, else 4 (then padded to 19 bytes).
            event.thread_id = Some(if r.remaining() >= 8 {
                r.u64("thread_id")?
            } else {
                u64::from(r.u32("thread_id")?)
            });
        }
        Ok(event)
    }

    /// The GTID, given the `server_id` of the event header.
    pub fn gtid(&self, server_id: u32) -> MariaGtid {
        MariaGtid::new(self.domain_id, server_id, self.seq_no)
    }

    /// No COMMIT/XID event closes the group: the next statement event is the whole of it.
    pub fn is_standalone(&self) -> bool {
        self.flags2 & FL_STANDALONE != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.flags2 & FL_TRANSACTIONAL != 0
    }

    pub fn is_ddl(&self) -> bool {
        self.flags2 & FL_DDL != 0
    }
}

/// A GTID_LIST_EVENT (163): the binlog state when the file started (one GTID per domain and
/// server, the domain's latest last), or, artificial, the position a GTID connect starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidList {
    /// The top four bits of the count field: 1 = FLAG_UNTIL_REACHED, 2 = FLAG_IGN_GTIDS.
    pub flags: u8,
    pub gtids: Vec<MariaGtid>,
}

impl GtidList {
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("GTID_LIST_EVENT", body);
        let count_field = r.u32("count")?;
        let count = (count_field & 0x0fff_ffff) as usize;
        let flags = (count_field >> 28) as u8;
        let needed = count * 16;
        if r.remaining() < needed {
            return Err(DecodeError::Truncated {
                event: "GTID_LIST_EVENT",
                field: "gtids",
                offset: r.pos,
                needed,
                available: r.remaining(),
            });
        }
        let mut gtids = Vec::with_capacity(count);
        for _ in 0..count {
            let domain = r.u32("domain_id")?;
            let server = r.u32("server_id")?;
            let seq = r.u64("seq_no")?;
            gtids.push(MariaGtid::new(domain, server, seq));
        }
        Ok(GtidList { flags, gtids })
    }

    /// The list folded to a position: per domain, the last GTID listed.
    pub fn to_position(&self) -> MariaGtidList {
        MariaGtidList::from_gtids(self.gtids.iter().copied())
    }
}

/// A MariaDB event decoded by [`decode_mariadb_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MariaEvent<'a> {
    AnnotateRows(AnnotateRows<'a>),
    BinlogCheckpoint(BinlogCheckpoint),
    /// A GTID_EVENT with its GTID (the server id taken from the header).
    Gtid {
        gtid: MariaGtid,
        event: GtidEvent,
    },
    GtidList(GtidList),
    /// START_ENCRYPTION_EVENT as a server's replication stream sends it: the server has
    /// decrypted the binlog for its replica and marked this event ignorable. Nothing to do.
    StartEncryption,
}

impl fmt::Display for MariaEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MariaEvent::AnnotateRows(a) => write!(f, "ANNOTATE_ROWS {}", a.query_lossy()),
            MariaEvent::BinlogCheckpoint(c) => write!(f, "BINLOG_CHECKPOINT {}", c.file),
            MariaEvent::Gtid { gtid, .. } => write!(f, "GTID {gtid}"),
            MariaEvent::GtidList(l) => write!(f, "GTID_LIST [{}]", l.to_position()),
            MariaEvent::StartEncryption => {
                f.write_str("START_ENCRYPTION (decrypted by the server)")
            }
        }
    }
}

/// Decodes the MariaDB-specific event `header` introduces, `body` being its bytes after the
/// header without the checksum (`event.data()` with mysql_common). `Ok(None)` for every
/// other event type: those are mysql_common's to decode.
///
/// Errors for what cannot be followed: an encrypted binlog (a START_ENCRYPTION_EVENT that is
/// not marked ignorable, i.e. the bytes were not decrypted by a server) and compressed
/// events (`log_bin_compress=ON`).
pub fn decode_mariadb_event<'a>(
    header: &EventHeader,
    body: &'a [u8],
) -> Result<Option<MariaEvent<'a>>, DecodeError> {
    Ok(Some(match header.event_type {
        ANNOTATE_ROWS_EVENT => MariaEvent::AnnotateRows(AnnotateRows::decode(body)),
        BINLOG_CHECKPOINT_EVENT => MariaEvent::BinlogCheckpoint(BinlogCheckpoint::decode(body)?),
        MARIADB_GTID_EVENT => {
            let event = GtidEvent::decode(body)?;
            MariaEvent::Gtid {
                gtid: event.gtid(header.server_id),
                event,
            }
        }
        GTID_LIST_EVENT => MariaEvent::GtidList(GtidList::decode(body)?),
        START_ENCRYPTION_EVENT if header.is_ignorable() => MariaEvent::StartEncryption,
        START_ENCRYPTION_EVENT => return Err(DecodeError::EncryptedBinlog),
        t @ FIRST_COMPRESSED_EVENT..=LAST_COMPRESSED_EVENT => {
            return Err(DecodeError::CompressedEvent {
                event: event_type_name(t),
                event_type: t,
            })
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Captured from MariaDB 10.11.19 (binlog_checksum=CRC32, server_id 1): whole events.
    /// GTID 0-1-5, a transaction (BEGIN GTID): flags2 = TRANSACTIONAL | ALLOW_PARALLEL.
    const GTID_0_1_5: &str =
        "4648066ba2010000002a0000006304000008000500000000000000000000000c0000000000006ac03533";
    /// GTID 0-1-3 of `CREATE DATABASE`: STANDALONE | ALLOW_PARALLEL | DDL.
    const GTID_0_1_3_DDL: &str =
        "4648066ba2010000002a000000f80200000800030000000000000000000000290000000000002bbc8a6f";
    /// GTID 0-1-6 of `XA START 'gx1','bq',7 ... XA PREPARE`: XA fields, then flags_extra =
    /// MULTI_ENGINE with extra_engines = 255.
    const GTID_0_1_6_XA_PREPARE: &str = "5248066ba201000000310000004d06000008000600000000000000000000004c070000000302677831627101ffc9952cfa";
    /// GTID 0-1-7 of `XA COMMIT`: STANDALONE | TRANSACTIONAL | ALLOW_PARALLEL | COMPLETED_XA.
    const GTID_0_1_7_XA_COMMIT: &str = "5248066ba2010000002f000000bf07000008000700000000000000000000008d0700000003026778316271cefc62fc";
    /// The artificial GTID_LIST [0-1-4] a GTID connect at 0-1-4 starts with.
    const GTID_LIST_0_1_4: &str =
        "00000000a3010000002b000000390400002000010000000000000001000000040000000000000016b900a1";
    const GTID_LIST_EMPTY: &str = "4347066ba3010000001d0000001d010000000000000000000012e8bd58";
    const CHECKPOINT: &str =
        "4347066ba1010000002b000000480100000000100000006d7973716c2d62696e2e303030303032d14d9f5d";
    const ANNOTATE_INSERT: &str = "4648066ba00100000051000000b40400000000494e5345525420494e544f207370696c6c7761795f677469645f666978747572652e742056414c5545532028312c276127292c28322c2762272903216e7a";
    const FDE: &str = "4347066b0f01000000fc000000000100000000040031302e31312e31392d4d6172696144422d302b646562313275312d6c6f6700000000000000000000000000000000000000004347066b13380d000800120004040404120000e400041a08000000080808020000000a0a0a0000000000000a0a0a0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000041304000d0808080a0a0a01dda46f29";

    fn raw(h: &str) -> Vec<u8> {
        hex(h)
    }

    fn decoded(h: &str) -> MariaEvent<'static> {
        let bytes: &'static [u8] = Box::leak(raw(h).into_boxed_slice());
        let ev = RawEvent::parse(bytes, true).unwrap();
        assert_eq!(ev.len(), bytes.len());
        ev.verify_checksum().unwrap();
        decode_mariadb_event(&ev.header, ev.body).unwrap().unwrap()
    }

    #[test]
    fn header_of_a_captured_gtid_event() {
        let bytes = raw(GTID_0_1_5);
        let h = EventHeader::decode(&bytes).unwrap();
        assert_eq!(
            h,
            EventHeader {
                timestamp: 0x6b06_4846,
                event_type: MARIADB_GTID_EVENT,
                server_id: 1,
                event_size: 42,
                log_pos: 1123,
                flags: 0x0008,
            }
        );
        assert_eq!(h.to_bytes(), bytes[..19]);
        assert_eq!(h.type_name(), "GTID_EVENT");
        assert!(!h.is_ignorable() && !h.is_artificial());
    }

    #[test]
    fn captured_transaction_gtid() {
        let MariaEvent::Gtid { gtid, event: g } = decoded(GTID_0_1_5) else {
            panic!()
        };
        assert_eq!(gtid, MariaGtid::new(0, 1, 5));
        assert_eq!(g.flags2, FL_TRANSACTIONAL | FL_ALLOW_PARALLEL);
        assert!(!g.is_standalone() && g.is_transactional() && !g.is_ddl());
        assert_eq!((g.commit_id, &g.xid, g.flags_extra), (None, &None, 0));
    }

    #[test]
    fn captured_ddl_gtid() {
        let MariaEvent::Gtid { gtid, event: g } = decoded(GTID_0_1_3_DDL) else {
            panic!()
        };
        assert_eq!(gtid, MariaGtid::new(0, 1, 3));
        assert_eq!(g.flags2, FL_STANDALONE | FL_ALLOW_PARALLEL | FL_DDL);
        assert!(g.is_standalone() && g.is_ddl());
    }

    #[test]
    fn captured_xa_gtids() {
        let MariaEvent::Gtid { gtid, event: p } = decoded(GTID_0_1_6_XA_PREPARE) else {
            panic!()
        };
        assert_eq!(gtid, MariaGtid::new(0, 1, 6));
        assert_eq!(
            p.flags2,
            FL_TRANSACTIONAL | FL_ALLOW_PARALLEL | FL_PREPARED_XA
        );
        let xid = Xid {
            format_id: 7,
            gtrid: b"gx1".to_vec(),
            bqual: b"bq".to_vec(),
        };
        assert_eq!(p.xid.as_ref(), Some(&xid));
        assert_eq!(p.flags_extra, FL_EXTRA_MULTI_ENGINE);
        assert_eq!(p.extra_engines, Some(255));

        let MariaEvent::Gtid { gtid, event: c } = decoded(GTID_0_1_7_XA_COMMIT) else {
            panic!()
        };
        assert_eq!(gtid, MariaGtid::new(0, 1, 7));
        assert_eq!(
            c.flags2,
            FL_STANDALONE | FL_TRANSACTIONAL | FL_ALLOW_PARALLEL | FL_COMPLETED_XA
        );
        assert_eq!(c.xid, Some(xid));
        assert_eq!((c.flags_extra, c.extra_engines), (0, None));
    }

    #[test]
    fn captured_gtid_lists() {
        let bytes = raw(GTID_LIST_0_1_4);
        let h = EventHeader::decode(&bytes).unwrap();
        assert!(h.is_artificial());
        assert_eq!(h.timestamp, 0);
        let MariaEvent::GtidList(l) = decoded(GTID_LIST_0_1_4) else {
            panic!()
        };
        assert_eq!(l.flags, 0);
        assert_eq!(l.gtids, [MariaGtid::new(0, 1, 4)]);
        assert_eq!(l.to_position().to_string(), "0-1-4");

        let MariaEvent::GtidList(e) = decoded(GTID_LIST_EMPTY) else {
            panic!()
        };
        assert!(e.gtids.is_empty());
    }

    #[test]
    fn captured_checkpoint_and_annotate() {
        assert_eq!(
            decoded(CHECKPOINT),
            MariaEvent::BinlogCheckpoint(BinlogCheckpoint {
                file: "mysql-bin.000002".into()
            })
        );
        let MariaEvent::AnnotateRows(a) = decoded(ANNOTATE_INSERT) else {
            panic!()
        };
        assert_eq!(
            a.query_lossy(),
            "INSERT INTO spillway_gtid_fixture.t VALUES (1,'a'),(2,'b')"
        );
    }

    #[test]
    fn captured_format_description() {
        let bytes = raw(FDE);
        let ev = RawEvent::parse(&bytes, true).unwrap();
        assert_eq!(ev.checksum, None);
        let fd = FormatDescription::decode(ev.body).unwrap();
        assert_eq!(fd.binlog_version, 4);
        assert_eq!(fd.server_version, "10.11.19-MariaDB-0+deb12u1-log");
        assert_eq!(fd.header_length, 19);
        assert!(fd.is_mariadb() && fd.has_crc32());
        assert_eq!(fd.post_header_length(MARIADB_GTID_EVENT), Some(19));
        assert_eq!(fd.post_header_length(GTID_LIST_EVENT), Some(4));
        assert_eq!(fd.post_header_length(BINLOG_CHECKPOINT_EVENT), Some(4));
        assert_eq!(fd.post_header_length(0), None);
        // The FDE's own CRC32 covers the header, the body and the algorithm byte.
        let body = &ev.body[..ev.body.len() - 4];
        assert_eq!(fd.checksum, Some(event_crc32(&ev.header, body)));
    }

    #[test]
    fn checksum_mismatch_is_reported() {
        let mut bytes = raw(GTID_0_1_5);
        bytes[20] ^= 1;
        let ev = RawEvent::parse(&bytes, true).unwrap();
        assert!(matches!(
            ev.verify_checksum(),
            Err(DecodeError::ChecksumMismatch {
                event: "GTID_EVENT",
                ..
            })
        ));
    }

    #[test]
    fn strip_valid_crc32_only_strips_a_matching_checksum() {
        let bytes = raw(CHECKPOINT);
        let h = EventHeader::decode(&bytes).unwrap();
        let data = &bytes[19..];
        assert_eq!(strip_valid_crc32(&h, data), &data[..data.len() - 4]);
        let body = &data[..data.len() - 4];
        assert_eq!(strip_valid_crc32(&h, body), body);
        assert_eq!(strip_valid_crc32(&h, &[1, 2]), &[1, 2]);
    }

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[]), 0);
    }

    fn gtid_body(seq: u64, domain: u32, flags2: u8, tail: &[u8]) -> Vec<u8> {
        let mut b = seq.to_le_bytes().to_vec();
        b.extend_from_slice(&domain.to_le_bytes());
        b.push(flags2);
        b.extend_from_slice(tail);
        b
    }

    #[test]
    fn gtid_with_group_commit_id() {
        let b = gtid_body(
            9,
            3,
            FL_GROUP_COMMIT_ID | FL_TRANSACTIONAL,
            &77u64.to_le_bytes(),
        );
        let g = GtidEvent::decode(&b).unwrap();
        assert_eq!(g.gtid(12), MariaGtid::new(3, 12, 9));
        assert_eq!(g.commit_id, Some(77));
        assert_eq!(g.flags_extra, 0);
    }

    #[test]
    fn gtid_with_alter_and_thread_id() {
        // Commit of a two-phase ALTER: flags_extra, sa_seq_no, then an 8-byte thread id.
        let mut tail = vec![FL_COMMIT_ALTER | FL_EXTRA_THREAD_ID];
        tail.extend_from_slice(&41u64.to_le_bytes());
        tail.extend_from_slice(&1234u64.to_le_bytes());
        let g = GtidEvent::decode(&gtid_body(50, 0, FL_STANDALONE | FL_DDL, &tail)).unwrap();
        assert_eq!(g.sa_seq_no, Some(41));
        assert_eq!(g.thread_id, Some(1234));
        // A 4-byte thread id padded to 19 bytes reads the same.
        let tail = [FL_EXTRA_THREAD_ID, 0xd2, 0x04, 0, 0, 0];
        let g = GtidEvent::decode(&gtid_body(1, 0, 0, &tail)).unwrap();
        assert_eq!(g.thread_id, Some(1234));
        // Announced but missing.
        let err = GtidEvent::decode(&gtid_body(1, 0, 0, &[FL_COMMIT_ALTER, 1, 2]));
        assert_eq!(
            err,
            Err(DecodeError::Truncated {
                event: "GTID_EVENT",
                field: "sa_seq_no",
                offset: 14,
                needed: 8,
                available: 2
            })
        );
    }

    #[test]
    fn truncated_gtid_names_field_and_offset() {
        let bytes = raw(GTID_0_1_6_XA_PREPARE);
        let body = &bytes[19..bytes.len() - 4];
        // Cut inside the gtrid (3 bytes at offset 19).
        let err = GtidEvent::decode(&body[..20]).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Truncated {
                event: "GTID_EVENT",
                field: "xid gtrid",
                offset: 19,
                needed: 3,
                available: 1
            }
        );
        assert_eq!(
            err.to_string(),
            "GTID_EVENT: xid gtrid needs 3 bytes at offset 19, but only 1 remain"
        );
    }

    #[test]
    fn gtid_list_with_flags_and_several_domains() {
        let mut b = ((2u32 << 28) | 2).to_le_bytes().to_vec();
        for (d, s, q) in [(0u32, 1u32, 10u64), (0, 2, 12)] {
            b.extend_from_slice(&d.to_le_bytes());
            b.extend_from_slice(&s.to_le_bytes());
            b.extend_from_slice(&q.to_le_bytes());
        }
        let l = GtidList::decode(&b).unwrap();
        assert_eq!(l.flags, 2);
        assert_eq!(l.gtids.len(), 2);
        assert_eq!(l.to_position().to_string(), "0-2-12");
        // A count far beyond the bytes fails before allocating.
        let huge = 0x0fff_ffffu32.to_le_bytes();
        assert!(matches!(
            GtidList::decode(&huge),
            Err(DecodeError::Truncated { field: "gtids", .. })
        ));
    }

    #[test]
    fn checkpoint_rejects_a_name_longer_than_the_body() {
        let mut b = 100u32.to_le_bytes().to_vec();
        b.extend_from_slice(b"x.000001");
        assert!(matches!(
            BinlogCheckpoint::decode(&b),
            Err(DecodeError::Truncated {
                field: "file name",
                offset: 4,
                ..
            })
        ));
        let mut b = 2u32.to_le_bytes().to_vec();
        b.extend_from_slice(&[0xff, 0xfe]);
        assert!(matches!(
            BinlogCheckpoint::decode(&b),
            Err(DecodeError::Invalid {
                field: "file name",
                offset: 4,
                ..
            })
        ));
    }

    #[test]
    fn start_encryption_and_compressed_events() {
        let mut h = EventHeader::decode(&raw(GTID_LIST_EMPTY)).unwrap();
        h.event_type = START_ENCRYPTION_EVENT;
        let body = [1u8; 17];
        let err = decode_mariadb_event(&h, &body).unwrap_err();
        assert_eq!(err, DecodeError::EncryptedBinlog);
        assert!(err.to_string().contains("encrypt_binlog=OFF"));
        h.flags |= LOG_EVENT_IGNORABLE_F;
        assert_eq!(
            decode_mariadb_event(&h, &body),
            Ok(Some(MariaEvent::StartEncryption))
        );
        for t in FIRST_COMPRESSED_EVENT..=LAST_COMPRESSED_EVENT {
            h.event_type = t;
            let err = decode_mariadb_event(&h, &body).unwrap_err();
            assert!(err.to_string().contains("log_bin_compress=OFF"), "{err}");
        }
        for t in [2u8, 15, 19, 30, 33, 172, 255] {
            h.event_type = t;
            assert_eq!(decode_mariadb_event(&h, &body), Ok(None));
        }
    }

    #[test]
    fn rotate_event() {
        let mut b = 4u64.to_le_bytes().to_vec();
        b.extend_from_slice(b"mysql-bin.000003");
        assert_eq!(
            Rotate::decode(&b).unwrap(),
            Rotate {
                position: 4,
                next_file: "mysql-bin.000003".into()
            }
        );
        assert!(matches!(
            Rotate::decode(&b[..7]),
            Err(DecodeError::Truncated {
                event: "ROTATE_EVENT",
                field: "position",
                ..
            })
        ));
    }

    #[test]
    fn mysql_gtid_event() {
        let sid = crate::gtid::parse_uuid("3E11FA47-71CA-11E1-9E33-C80AA9429562").unwrap();
        let mut b = vec![1u8];
        b.extend_from_slice(&sid);
        b.extend_from_slice(&23u64.to_le_bytes());
        // MySQL 5.6: nothing more.
        let g = MysqlGtidEvent::decode(&b).unwrap();
        assert_eq!((g.flags, g.sid, g.gno), (1, sid, 23));
        assert_eq!((g.last_committed, g.sequence_number), (None, None));
        // 8.0: logical clock, then commit timestamps and more (not read).
        b.push(2);
        b.extend_from_slice(&5u64.to_le_bytes());
        b.extend_from_slice(&6u64.to_le_bytes());
        b.extend_from_slice(&[0x11; 7]);
        let g = MysqlGtidEvent::decode(&b).unwrap();
        assert_eq!((g.last_committed, g.sequence_number), (Some(5), Some(6)));
        assert!(matches!(
            MysqlGtidEvent::decode(&b[..30]),
            Err(DecodeError::Truncated {
                field: "last_committed",
                offset: 26,
                ..
            })
        ));
    }

    #[test]
    fn raw_event_rejects_bad_sizes() {
        let bytes = raw(GTID_0_1_5);
        assert!(matches!(
            RawEvent::parse(&bytes[..30], true),
            Err(DecodeError::Truncated { field: "event", .. })
        ));
        assert!(matches!(
            RawEvent::parse(&bytes[..10], true),
            Err(DecodeError::Truncated {
                event: "event header",
                ..
            })
        ));
        let mut small = bytes.clone();
        small[9..13].copy_from_slice(&5u32.to_le_bytes());
        assert!(matches!(
            RawEvent::parse(&small, true),
            Err(DecodeError::Invalid {
                field: "event_size",
                ..
            })
        ));
        let mut no_room = bytes[..21].to_vec();
        no_room[9..13].copy_from_slice(&21u32.to_le_bytes());
        assert!(RawEvent::parse(&no_room, true).is_err());
        let ok = RawEvent::parse(&no_room, false).unwrap();
        assert_eq!(ok.body.len(), 2);
        // Trailing bytes after the event are not its.
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        let first = RawEvent::parse(&two, true).unwrap();
        assert_eq!(first.len(), 42);
        assert_eq!(first.body.len(), 42 - 19 - 4);
    }

    #[test]
    fn format_description_of_old_servers_and_short_bodies() {
        let mut b = 4u16.to_le_bytes().to_vec();
        let mut ver = b"5.5.62-log".to_vec();
        ver.resize(50, 0);
        b.extend_from_slice(&ver);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.push(19);
        b.extend_from_slice(&[56, 13, 0, 8]);
        let fd = FormatDescription::decode(&b).unwrap();
        assert_eq!(fd.checksum_alg, None);
        assert_eq!(fd.post_header_lengths, [56, 13, 0, 8]);
        assert!(!fd.has_crc32() && !fd.is_mariadb());
        // A new server's FDE without its checksum tail.
        let mut ver = b"8.0.36".to_vec();
        ver.resize(50, 0);
        b[2..52].copy_from_slice(&ver);
        assert!(matches!(
            FormatDescription::decode(&b),
            Err(DecodeError::Truncated {
                field: "checksum algorithm and CRC32",
                offset: 57,
                ..
            })
        ));
        assert!(version_has_checksums("5.6.1"));
        assert!(!version_has_checksums("5.6.0-log"));
        assert!(version_has_checksums("5.5.5-10.11.19-MariaDB"));
        assert!(!version_has_checksums(""));
    }
}
