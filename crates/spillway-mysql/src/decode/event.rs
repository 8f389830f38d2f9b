//! The common part of every binlog event: the 19-byte header, event type codes and names,
//! the CRC32 that ends each event, and ROTATE_EVENT, which production decodes itself
//! because mysql_common cannot know whether the first (artificial) one carries a checksum.
//!
//! Framing a stream into events, the FORMAT_DESCRIPTION_EVENT and checksum checking are
//! mysql_common's (`EventStreamReader`, which mysql_async's `BinlogStream` runs): decoders
//! here take an event's *body*, what follows the header without the trailing CRC32, which
//! is `event.data()` of a mysql_common `Event`. The header converts with
//! [`EventHeader::from`].
//!
//! One caveat: the artificial ROTATE_EVENT a server sends first comes before any
//! FORMAT_DESCRIPTION_EVENT, so mysql_common leaves its CRC32 in `data()`.
//! [`strip_valid_crc32`] removes it when it matches.

use super::cursor::Reader;
use super::error::DecodeError;

pub const ROTATE_EVENT: u8 = 4;
pub const FORMAT_DESCRIPTION_EVENT: u8 = 15;
pub const ANNOTATE_ROWS_EVENT: u8 = 160;
pub const BINLOG_CHECKPOINT_EVENT: u8 = 161;
/// MariaDB's GTID_EVENT.
pub const MARIADB_GTID_EVENT: u8 = 162;
pub const GTID_LIST_EVENT: u8 = 163;
pub const START_ENCRYPTION_EVENT: u8 = 164;

/// Header flag: the event may be skipped by a reader that does not know it.
pub const LOG_EVENT_IGNORABLE_F: u16 = 0x80;
/// Header flag: the event was made up by the server for this stream, not read from a binlog
/// (the first ROTATE_EVENT, a GTID_LIST_EVENT after a GTID connect).
pub const LOG_EVENT_ARTIFICIAL_F: u16 = 0x20;
/// Header flag: set in a binlog's FORMAT_DESCRIPTION_EVENT while the file is being written;
/// it is cleared before the event's CRC32 is computed.
pub const LOG_EVENT_BINLOG_IN_USE_F: u16 = 0x01;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fixtures::*;

    #[test]
    fn header_of_a_captured_gtid_event() {
        let bytes = hex(GTID_0_1_5);
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
    fn a_damaged_event_no_longer_matches_its_crc32() {
        let mut bytes = hex(GTID_0_1_5);
        let header = EventHeader::decode(&bytes).unwrap();
        let end = bytes.len() - 4;
        let stored =
            u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
        assert_eq!(event_crc32(&header, &bytes[19..end]), stored);
        bytes[20] ^= 1;
        assert_ne!(event_crc32(&header, &bytes[19..end]), stored);
        assert_eq!(strip_valid_crc32(&header, &bytes[19..]), &bytes[19..]);
    }

    #[test]
    fn strip_valid_crc32_only_strips_a_matching_checksum() {
        let bytes = hex(CHECKPOINT);
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
}
