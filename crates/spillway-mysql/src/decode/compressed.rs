//! Compressed binlog events, decoded from bytes into what the plain events carry, so that
//! they take the same path as uncompressed ones (no I/O here).
//!
//! * MariaDB (`log_bin_compress=ON`): `QUERY_COMPRESSED_EVENT` (165) compresses the
//!   statement text, the `*_ROWS_COMPRESSED_EVENT[_V1]` (166–171) compress the row images
//!   after the column bitmaps. Each compressed part starts with a header byte (bit 7 set,
//!   bits 4–6 the algorithm, 0 = zlib, bits 0–2 the length of the next field), the
//!   uncompressed length big-endian, then a zlib stream.
//! * MySQL 8 (`binlog_transaction_compression=ON`): `TRANSACTION_PAYLOAD_EVENT` (40) holds
//!   every event of a transaction but its GTID, zstd-compressed, each event with its
//!   19-byte header and no checksum. [`PayloadEvents`] reads them one at a time, so a large
//!   transaction is never decompressed whole.

use super::rows;
use std::io::Read;

/// MariaDB's QUERY_COMPRESSED_EVENT.
pub const QUERY_COMPRESSED_EVENT: u8 = 165;
/// MySQL's QUERY_EVENT.
pub const QUERY_EVENT: u8 = 2;
/// MySQL's XID_EVENT.
pub const XID_EVENT: u8 = 16;
/// MySQL 8's TRANSACTION_PAYLOAD_EVENT.
pub const TRANSACTION_PAYLOAD_EVENT: u8 = 40;

/// Largest uncompressed part accepted: a damaged length can make nothing allocate more.
pub const MAX_UNCOMPRESSED: usize = 1 << 30;

/// Bytes of a binlog event header (v4).
const EVENT_HEADER_LEN: usize = 19;

/// A compressed event that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressedError {
    #[error("the {what} is truncated")]
    Truncated { what: &'static str },
    #[error("the {what} is malformed: {detail}")]
    Invalid { what: &'static str, detail: String },
    #[error("the {what} uses compression algorithm {algorithm}, which is not zlib")]
    Algorithm { what: &'static str, algorithm: u8 },
    #[error("the transaction payload uses compression type {0}, which is neither zstd (0) nor none (255)")]
    PayloadCompression(u64),
    #[error("cannot decompress the {what}: {detail}")]
    Decompress { what: &'static str, detail: String },
}

fn invalid(what: &'static str, detail: impl Into<String>) -> CompressedError {
    CompressedError::Invalid {
        what,
        detail: detail.into(),
    }
}

/// Uncompresses one part of a MariaDB compressed event.
pub fn mariadb_uncompress(what: &'static str, buf: &[u8]) -> Result<Vec<u8>, CompressedError> {
    let (&head, rest) = buf
        .split_first()
        .ok_or(CompressedError::Truncated { what })?;
    if head & 0x80 == 0 {
        return Err(invalid(
            what,
            format!("header byte {head:#04x} does not mark compression"),
        ));
    }
    let algorithm = (head >> 4) & 0x07;
    if algorithm != 0 {
        return Err(CompressedError::Algorithm { what, algorithm });
    }
    let lenlen = usize::from(head & 0x07);
    if !(1..=4).contains(&lenlen) {
        return Err(invalid(what, format!("a length of {lenlen} bytes")));
    }
    if rest.len() < lenlen {
        return Err(CompressedError::Truncated { what });
    }
    let (len_bytes, stream) = rest.split_at(lenlen);
    let len = len_bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    if len > MAX_UNCOMPRESSED {
        return Err(invalid(
            what,
            format!("an uncompressed length of {len} bytes"),
        ));
    }
    let mut out = Vec::with_capacity(len);
    flate2::read::ZlibDecoder::new(stream)
        .take(len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| CompressedError::Decompress {
            what,
            detail: e.to_string(),
        })?;
    if out.len() != len {
        return Err(invalid(
            what,
            format!(
                "{} bytes uncompressed where the header says {len}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// The plain rows event type of a MariaDB compressed one (166–171 → 23–25, 30–32), and its
/// body with the row images uncompressed.
pub fn mariadb_rows(event_type: u8, body: &[u8]) -> Result<(u8, Vec<u8>), CompressedError> {
    let plain = match event_type {
        166 => rows::WRITE_ROWS_EVENT_V1,
        167 => rows::UPDATE_ROWS_EVENT_V1,
        168 => rows::DELETE_ROWS_EVENT_V1,
        169 => rows::WRITE_ROWS_EVENT,
        170 => rows::UPDATE_ROWS_EVENT,
        171 => rows::DELETE_ROWS_EVENT,
        other => {
            return Err(invalid(
                "rows event",
                format!("type {other} is not a compressed rows event"),
            ))
        }
    };
    // The header and bitmaps are as in the plain event; the rest is compressed.
    let event = rows::RowsEvent::decode(plain, body)
        .map_err(|e| invalid("compressed rows event", e.to_string()))?;
    let images = event.row_bytes();
    let prefix = &body[..body.len() - images.len()];
    let uncompressed = mariadb_uncompress("compressed rows event", images)?;
    let mut out = Vec::with_capacity(prefix.len() + uncompressed.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&uncompressed);
    Ok((plain, out))
}

/// A QUERY event's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub thread_id: u32,
    /// The default database of the statement.
    pub schema: String,
    pub sql: String,
}

/// Decodes the body (no header, no checksum) of a QUERY_EVENT or, uncompressing its
/// statement, a QUERY_COMPRESSED_EVENT.
pub fn query(event_type: u8, body: &[u8]) -> Result<Query, CompressedError> {
    const WHAT: &str = "query event";
    if body.len() < 13 {
        return Err(CompressedError::Truncated { what: WHAT });
    }
    let thread_id = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
    let schema_len = usize::from(body[8]);
    let status_len = usize::from(u16::from_le_bytes([body[11], body[12]]));
    let schema_start = 13 + status_len;
    let query_start = schema_start + schema_len + 1;
    if body.len() < query_start {
        return Err(CompressedError::Truncated { what: WHAT });
    }
    let schema =
        String::from_utf8_lossy(&body[schema_start..schema_start + schema_len]).into_owned();
    let text = &body[query_start..];
    let sql = match event_type {
        QUERY_COMPRESSED_EVENT => {
            String::from_utf8_lossy(&mariadb_uncompress("compressed query event", text)?)
                .into_owned()
        }
        QUERY_EVENT => String::from_utf8_lossy(text).into_owned(),
        other => return Err(invalid(WHAT, format!("type {other} is not a query event"))),
    };
    Ok(Query {
        thread_id,
        schema,
        sql,
    })
}

/// Reads a length-encoded integer.
fn lenenc(b: &mut &[u8], what: &'static str) -> Result<u64, CompressedError> {
    let (&first, rest) = b.split_first().ok_or(CompressedError::Truncated { what })?;
    let width = match first {
        0..=0xfa => {
            *b = rest;
            return Ok(u64::from(first));
        }
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        other => return Err(invalid(what, format!("length prefix {other:#04x}"))),
    };
    if rest.len() < width {
        return Err(CompressedError::Truncated { what });
    }
    let value = rest[..width]
        .iter()
        .rev()
        .fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
    *b = &rest[width..];
    Ok(value)
}

/// The events inside a TRANSACTION_PAYLOAD_EVENT body (no header, no checksum).
pub fn payload_events(body: &[u8]) -> Result<PayloadEvents<'_>, CompressedError> {
    const WHAT: &str = "transaction payload";
    let mut b = body;
    let (mut size, mut compression, mut uncompressed) = (None, None, None);
    loop {
        let field = lenenc(&mut b, WHAT)?;
        if field == 0 {
            break;
        }
        let len = lenenc(&mut b, WHAT)? as usize;
        if b.len() < len {
            return Err(CompressedError::Truncated { what: WHAT });
        }
        let (mut value, rest) = b.split_at(len);
        b = rest;
        match field {
            1 => size = Some(lenenc(&mut value, WHAT)?),
            2 => compression = Some(lenenc(&mut value, WHAT)?),
            3 => uncompressed = Some(lenenc(&mut value, WHAT)?),
            _ => {}
        }
    }
    let size = size.ok_or_else(|| invalid(WHAT, "no payload size"))?;
    let compression = compression.ok_or_else(|| invalid(WHAT, "no compression type"))?;
    if size > b.len() as u64 {
        return Err(CompressedError::Truncated { what: WHAT });
    }
    let payload = &b[..size as usize];
    let reader: Box<dyn Read + Send + '_> = match compression {
        0 => Box::new(
            zstd::stream::read::Decoder::with_buffer(payload).map_err(|e| {
                CompressedError::Decompress {
                    what: WHAT,
                    detail: e.to_string(),
                }
            })?,
        ),
        255 => Box::new(payload),
        other => return Err(CompressedError::PayloadCompression(other)),
    };
    Ok(PayloadEvents {
        reader,
        uncompressed_size: uncompressed,
        read: 0,
    })
}

/// One event of a transaction payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadEvent {
    pub event_type: u8,
    pub server_id: u32,
    pub timestamp: u32,
    /// The body, without header (inner events carry no checksum).
    pub body: Vec<u8>,
}

/// The events of a transaction payload, decompressed one at a time.
pub struct PayloadEvents<'a> {
    reader: Box<dyn Read + Send + 'a>,
    uncompressed_size: Option<u64>,
    read: u64,
}

impl PayloadEvents<'_> {
    /// The next event, `None` at the end of the payload.
    pub fn next_event(&mut self) -> Result<Option<PayloadEvent>, CompressedError> {
        const WHAT: &str = "transaction payload";
        let decompress = |e: std::io::Error| CompressedError::Decompress {
            what: WHAT,
            detail: e.to_string(),
        };
        let mut header = [0u8; EVENT_HEADER_LEN];
        let mut got = 0;
        while got < EVENT_HEADER_LEN {
            let n = self.reader.read(&mut header[got..]).map_err(decompress)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        if got == 0 {
            if let Some(expected) = self.uncompressed_size.filter(|e| *e != self.read) {
                return Err(invalid(
                    WHAT,
                    format!(
                        "{} bytes uncompressed where the event says {expected}",
                        self.read
                    ),
                ));
            }
            return Ok(None);
        }
        if got < EVENT_HEADER_LEN {
            return Err(CompressedError::Truncated { what: WHAT });
        }
        let event_type = header[4];
        let server_id = u32::from_le_bytes([header[5], header[6], header[7], header[8]]);
        let size = u32::from_le_bytes([header[9], header[10], header[11], header[12]]) as usize;
        if !(EVENT_HEADER_LEN..=MAX_UNCOMPRESSED).contains(&size) {
            return Err(invalid(WHAT, format!("an inner event of {size} bytes")));
        }
        if event_type == TRANSACTION_PAYLOAD_EVENT {
            return Err(invalid(
                WHAT,
                "a transaction payload inside a transaction payload",
            ));
        }
        let mut body = Vec::new();
        (&mut self.reader)
            .take((size - EVENT_HEADER_LEN) as u64)
            .read_to_end(&mut body)
            .map_err(decompress)?;
        if body.len() != size - EVENT_HEADER_LEN {
            return Err(CompressedError::Truncated { what: WHAT });
        }
        self.read += size as u64;
        Ok(Some(PayloadEvent {
            event_type,
            server_id,
            timestamp: u32::from_le_bytes([header[0], header[1], header[2], header[3]]),
            body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mariadb_compress(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).unwrap();
        let stream = z.finish().unwrap();
        let len = (data.len() as u32).to_be_bytes();
        let mut out = vec![0x80 | 4];
        out.extend_from_slice(&len);
        out.extend_from_slice(&stream);
        out
    }

    fn query_body(sql_part: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&7u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.push(2); // schema length
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&3u16.to_le_bytes()); // status vars
        b.extend_from_slice(&[9, 9, 9]);
        b.extend_from_slice(b"db\0");
        b.extend_from_slice(sql_part);
        b
    }

    #[test]
    fn a_compressed_query_reads_as_the_plain_one() {
        let sql = "TRUNCATE TABLE t /* padding so that it is worth compressing */";
        let plain = query(QUERY_EVENT, &query_body(sql.as_bytes())).unwrap();
        let compressed = query(
            QUERY_COMPRESSED_EVENT,
            &query_body(&mariadb_compress(sql.as_bytes())),
        )
        .unwrap();
        assert_eq!(plain, compressed);
        assert_eq!(
            (plain.thread_id, plain.schema.as_str(), plain.sql.as_str()),
            (7, "db", sql)
        );
    }

    #[test]
    fn compressed_row_images_are_restored_after_the_bitmaps() {
        // table id 5, flags 1, 2 columns, bitmap 0b11, then the images.
        let mut head = vec![5, 0, 0, 0, 0, 0, 1, 0, 2, 0b11];
        let images = b"\x00\x01\x00\x00\x00\x02\x00\x00\x00".to_vec();
        let mut plain = head.clone();
        plain.extend_from_slice(&images);
        head.extend_from_slice(&mariadb_compress(&images));
        let (event_type, body) = mariadb_rows(166, &head).unwrap();
        assert_eq!(event_type, rows::WRITE_ROWS_EVENT_V1);
        assert_eq!(body, plain);
    }

    #[test]
    fn damaged_compressed_parts_are_errors_not_panics() {
        let good = mariadb_compress(b"0123456789");
        assert!(mariadb_uncompress("x", &good[..good.len() - 3]).is_err());
        assert!(mariadb_uncompress("x", &[0x00, 1, 2]).is_err());
        assert!(matches!(
            mariadb_uncompress("x", &[0x90, 1, 2]),
            Err(CompressedError::Algorithm { algorithm: 1, .. })
        ));
        let mut lying = good.clone();
        lying[4] = 11; // says 11 bytes
        assert!(mariadb_uncompress("x", &lying).is_err());
        assert!(mariadb_uncompress("x", &[0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = good.clone();
            let at = (state as usize) % bytes.len();
            bytes[at] ^= (state >> 8) as u8 | 1;
            let _ = mariadb_uncompress("x", &bytes);
            let _ = query(QUERY_COMPRESSED_EVENT, &query_body(&bytes));
            let _ = mariadb_rows(166 + (state % 6) as u8, &bytes);
            if let Ok(mut events) = payload_events(&bytes) {
                while let Ok(Some(_)) = events.next_event() {}
            };
        }
    }

    /// A TRANSACTION_PAYLOAD_EVENT body around `events` (type, body), compressed as given.
    pub fn payload(events: &[(u8, Vec<u8>)], zstd_compressed: bool) -> Vec<u8> {
        let mut raw = Vec::new();
        for (event_type, body) in events {
            raw.extend_from_slice(&1_700_000_000u32.to_le_bytes());
            raw.push(*event_type);
            raw.extend_from_slice(&1u32.to_le_bytes());
            raw.extend_from_slice(&((EVENT_HEADER_LEN + body.len()) as u32).to_le_bytes());
            raw.extend_from_slice(&0u32.to_le_bytes());
            raw.extend_from_slice(&0u16.to_le_bytes());
            raw.extend_from_slice(body);
        }
        let data = if zstd_compressed {
            zstd::stream::encode_all(raw.as_slice(), 3).unwrap()
        } else {
            raw.clone()
        };
        let field = |out: &mut Vec<u8>, id: u8, value: u64| {
            let mut v = Vec::new();
            if value < 0xfb {
                v.push(value as u8);
            } else {
                v.push(0xfe);
                v.extend_from_slice(&value.to_le_bytes());
            }
            out.push(id);
            out.push(v.len() as u8);
            out.extend_from_slice(&v);
        };
        let mut body = Vec::new();
        field(&mut body, 1, data.len() as u64);
        field(&mut body, 2, if zstd_compressed { 0 } else { 255 });
        field(&mut body, 3, raw.len() as u64);
        body.push(0);
        body.extend_from_slice(&data);
        body
    }

    #[test]
    fn a_transaction_payload_gives_back_its_events_compressed_or_not() {
        let events = vec![
            (QUERY_EVENT, query_body(b"BEGIN")),
            (super::super::table_map::TABLE_MAP_EVENT, vec![1, 2, 3]),
            (rows::WRITE_ROWS_EVENT, vec![4; 3000]),
            (XID_EVENT, 42u64.to_le_bytes().to_vec()),
        ];
        for compressed in [true, false] {
            let body = payload(&events, compressed);
            let mut inner = payload_events(&body).unwrap();
            let mut got = Vec::new();
            while let Some(e) = inner.next_event().unwrap() {
                got.push((e.event_type, e.body));
            }
            assert_eq!(got, events);
        }
        let mut body = payload(&events, true);
        body[5] = 7; // compression type 7
        assert!(payload_events(&body).is_err());
    }
}
