//! Row-based binlog events decoded straight from their bytes: a TABLE_MAP event into a
//! [`TableMap`], a WRITE/UPDATE/DELETE_ROWS event into a borrowing [`RowsEvent`], and each
//! row image into a [`spillway_core::Row`] in the shape the column's [`MyType`] gives it.
//!
//! ```text
//!  TABLE_MAP body ──> TableMap   types and metadata, names, signedness, collations,
//!                                ENUM/SET labels, primary key (decoded once per table id)
//!  ROWS body ─────> RowsEvent    table id, kind, column bitmaps, row bytes (borrowed)
//!                      └─ changes(RowContext) ──> Change { before, after }
//!                           each column: ColumnKind (how its bytes are laid out)
//!                                      + MyType     (what value Debezium gives it)
//! ```
//!
//! **Layout and shape.** The binlog's column type and metadata say how a value's bytes are
//! read; the schema's [`MyType`] says what value comes out, exactly as [`MyType::decode`]
//! gives it for the same column. When the two disagree (the table was altered after the
//! event was written) decoding stops with an error naming the column.
//!
//! **Bodies.** Every `decode` takes an event body: no 19-byte header and no CRC32 footer.
//! That is what mysql_async's `Event::data()` returns for every event after the format
//! description event (mysql_common cuts the checksum the format description announces).
//!
//! **Cost.** Nothing is allocated per row but the row's `Vec<Value>` and the strings and
//! byte vectors inside its values; the table map is parsed once and reused.
//!
//! **Refused**, with the server setting that avoids it: MySQL's PARTIAL_UPDATE_ROWS_EVENT
//! (`binlog_row_value_options=''`). MariaDB's compressed rows events are decoded here once
//! [`crate::compressed::mariadb_rows`] has uncompressed their row images.
//!
//! The formats are those of the MySQL source documentation (`Table_map_event`,
//! `Rows_event`, `decimal2bin`, `my_time_packed_to_binary`, `json_binary`) and the MariaDB
//! knowledge base (TABLE_MAP_EVENT, ROWS_EVENT_V1).

use crate::config::{BigintUnsignedMode, DecimalMode, TimePrecisionMode, TypeOptions};
use crate::schema::ColumnDecoder;
use crate::types::MyType;
use spillway_core::convert::{
    days_from_civil, format_utc_timestamp, twos_complement, Fraction, DAY_US,
};
use spillway_core::{Row, Value};
use std::fmt;

/// TABLE_MAP_EVENT.
pub const TABLE_MAP_EVENT: u8 = 19;
/// WRITE_ROWS_EVENT v1 (MySQL 5.1 to 5.5, and every MariaDB).
pub const WRITE_ROWS_EVENT_V1: u8 = 23;
/// UPDATE_ROWS_EVENT v1.
pub const UPDATE_ROWS_EVENT_V1: u8 = 24;
/// DELETE_ROWS_EVENT v1.
pub const DELETE_ROWS_EVENT_V1: u8 = 25;
/// WRITE_ROWS_EVENT v2 (MySQL 5.6 and later): v1 plus an extra-data block.
pub const WRITE_ROWS_EVENT: u8 = 30;
/// UPDATE_ROWS_EVENT v2.
pub const UPDATE_ROWS_EVENT: u8 = 31;
/// DELETE_ROWS_EVENT v2.
pub const DELETE_ROWS_EVENT: u8 = 32;
/// MySQL 8's UPDATE with partial JSON after-images (`binlog_row_value_options=PARTIAL_JSON`).
pub const PARTIAL_UPDATE_ROWS_EVENT: u8 = 39;
/// MariaDB's compressed WRITE/UPDATE/DELETE_ROWS events, v1 then v2 (`log_bin_compress=ON`).
pub const MARIADB_COMPRESSED_ROWS_EVENTS: std::ops::RangeInclusive<u8> = 166..=171;

/// The rows event flag that ends a statement.
pub const STMT_END_F: u16 = 0x0001;

/// The binary collation, which MariaDB gives GEOMETRY columns.
const BINARY_COLLATION: u32 = 63;

/// What a rows event does to its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowsKind {
    /// WRITE_ROWS: after images only.
    Insert,
    /// UPDATE_ROWS: a before and an after image per row.
    Update,
    /// DELETE_ROWS: before images only.
    Delete,
}

/// The kind of a rows event type, `None` for other events. Events [`RowsEvent::decode`]
/// refuses (partial JSON updates, MariaDB's compressed rows) are rows events too, so that
/// routing them there turns them into an error that names the fix.
pub fn is_rows_event(event_type: u8) -> Option<RowsKind> {
    match event_type {
        WRITE_ROWS_EVENT_V1 | WRITE_ROWS_EVENT | 166 | 169 => Some(RowsKind::Insert),
        UPDATE_ROWS_EVENT_V1 | UPDATE_ROWS_EVENT | PARTIAL_UPDATE_ROWS_EVENT | 167 | 170 => {
            Some(RowsKind::Update)
        }
        DELETE_ROWS_EVENT_V1 | DELETE_ROWS_EVENT | 168 | 171 => Some(RowsKind::Delete),
        _ => None,
    }
}

/// A TABLE_MAP or rows event that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowsError {
    /// The bytes end before the structure does.
    #[error("the {what} is truncated")]
    Truncated { what: &'static str },
    /// The bytes cannot be what the format says.
    #[error("the {what} is malformed: {detail}")]
    Malformed { what: &'static str, detail: String },
    /// A rows event this decoder refuses; `hint` names the server setting that avoids it.
    #[error("{name} events (type {event_type}) are not supported; {hint}")]
    UnsupportedEvent {
        event_type: u8,
        name: &'static str,
        hint: &'static str,
    },
    /// [`RowsEvent::decode`] was given another kind of event.
    #[error("event type {0} is not a rows event")]
    NotRowsEvent(u8),
    /// The rows event is for another table id than the table map given with it.
    #[error("the rows event is for table id {event} but the table map is for table id {map}")]
    TableId { event: u64, map: u64 },
    /// The rows event, its table map and the table's schema disagree on the column count.
    #[error("{table}: the binlog row has {binlog} columns but the table has {schema}; the table was altered after this change was written")]
    ColumnCount {
        table: String,
        binlog: usize,
        schema: usize,
    },
    /// One value could not be read, or the binlog's type for it does not fit the schema's.
    #[error("{table}, column {column}: {detail}")]
    Column {
        table: String,
        /// The column's position in the table, from 0.
        index: usize,
        /// The column's name, or `@n` (from 1) when the server did not send names.
        column: String,
        detail: String,
    },
}

/// Why reading failed, before it is put in context.
#[derive(Debug)]
enum Fault {
    Truncated,
    Invalid(String),
    /// The binlog's column type does not fit the schema's.
    Mismatch,
}

impl Fault {
    fn invalid(detail: impl Into<String>) -> Fault {
        Fault::Invalid(detail.into())
    }

    fn at(self, what: &'static str) -> RowsError {
        match self {
            Fault::Truncated => RowsError::Truncated { what },
            Fault::Invalid(detail) => RowsError::Malformed { what, detail },
            Fault::Mismatch => RowsError::Malformed {
                what,
                detail: "a column type does not fit".to_string(),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading bytes
// ---------------------------------------------------------------------------------------

/// Splits `n` bytes off the front of `buf`.
fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], Fault> {
    if buf.len() < n {
        return Err(Fault::Truncated);
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

/// [`take`] for the row path, where the caller names the column.
fn split<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Some(head)
}

fn take_byte(buf: &mut &[u8]) -> Result<u8, Fault> {
    let (&first, rest) = buf.split_first().ok_or(Fault::Truncated)?;
    *buf = rest;
    Ok(first)
}

/// A little-endian unsigned integer of up to 8 bytes.
fn uint_le(bytes: &[u8]) -> u64 {
    match *bytes {
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_le_bytes([a, b])),
        [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => bytes
            .iter()
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    }
}

/// A big-endian unsigned integer of up to 8 bytes.
fn uint_be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// The low `bits` bits of `raw` as a signed number.
fn sign_extend(raw: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((raw << shift) as i64) >> shift
}

/// A length-encoded integer (`net_field_length`): one byte below 251, else a 0xFC, 0xFD or
/// 0xFE marker and 2, 3 or 8 bytes.
fn lenenc(buf: &mut &[u8]) -> Result<u64, Fault> {
    let width = match take_byte(buf)? {
        b @ 0..=250 => return Ok(u64::from(b)),
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        other => {
            return Err(Fault::invalid(format!(
                "{other:#04x} does not start a length-encoded integer"
            )))
        }
    };
    Ok(uint_le(take(buf, width)?))
}

/// A length-encoded integer used as a count or a byte length.
fn length(buf: &mut &[u8]) -> Result<usize, Fault> {
    let n = lenenc(buf)?;
    usize::try_from(n).map_err(|_| Fault::invalid(format!("length {n} is out of range")))
}

/// A length-encoded string, as UTF-8 (invalid bytes replaced).
fn lenenc_string(buf: &mut &[u8]) -> Result<String, Fault> {
    let n = length(buf)?;
    Ok(String::from_utf8_lossy(take(buf, n)?).into_owned())
}

/// Bit `i` of a bitmap whose first column is the lowest bit of the first byte.
fn bit(bitmap: &[u8], i: usize) -> bool {
    bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Bit `i` of a bitmap whose first entry is the highest bit of the first byte (the
/// optional metadata's SIGNEDNESS and COLUMN_VISIBILITY).
fn bit_msb(bitmap: &[u8], i: usize) -> bool {
    bitmap
        .get(i / 8)
        .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
}

/// How many of the first `n` bits of a bitmap are set.
fn count_bits(bitmap: &[u8], n: usize) -> usize {
    let full = n / 8;
    let mut count: usize = bitmap
        .iter()
        .take(full)
        .map(|b| b.count_ones() as usize)
        .sum();
    let rest = n % 8;
    if rest > 0 {
        if let Some(last) = bitmap.get(full) {
            count += (last & ((1u8 << rest) - 1)).count_ones() as usize;
        }
    }
    count
}

// ---------------------------------------------------------------------------------------
// TABLE_MAP
// ---------------------------------------------------------------------------------------

/// How a column's values are laid out in row images: its binlog type plus the metadata
/// that reading needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// TINYINT .. BIGINT, little-endian; `bytes` is 1, 2, 3, 4 or 8.
    Int { bytes: u8 },
    /// FLOAT: 4 bytes, IEEE little-endian.
    Float,
    /// DOUBLE: 8 bytes, IEEE little-endian.
    Double,
    /// DECIMAL in MySQL's binary format (`decimal2bin`).
    Decimal { precision: u8, scale: u8 },
    /// YEAR: one byte, years since 1900, 0 for the zero year.
    Year,
    /// DATE: 3 bytes little-endian, `year << 9 | month << 5 | day`.
    Date,
    /// Pre-5.6 TIME: 3 bytes, a signed `HHMMSS` number.
    Time,
    /// Pre-5.6 DATETIME: 8 bytes, the number `YYYYMMDDHHMMSS`.
    DateTime,
    /// Pre-5.6 TIMESTAMP: 4 bytes of seconds since the epoch.
    Timestamp,
    /// TIME(fsp) of MySQL 5.6+ and MariaDB's `mysql56_temporal_format`.
    Time2 { fsp: u8 },
    /// DATETIME(fsp), 5.6 format.
    DateTime2 { fsp: u8 },
    /// TIMESTAMP(fsp), 5.6 format.
    Timestamp2 { fsp: u8 },
    /// BIT(bits): `ceil(bits / 8)` bytes, big-endian.
    Bit { bits: u8 },
    /// VARCHAR / VARBINARY: a 1-byte length when `max_length` (bytes) is below 256, else
    /// 2 bytes, then the bytes.
    VarString { max_length: u16 },
    /// CHAR / BINARY, stored like VARCHAR (the server strips trailing spaces or zeros).
    String { max_length: u16 },
    /// TEXT and BLOB of every size, and MySQL 9's VECTOR: a `pack_length`-byte length.
    Blob { pack_length: u8 },
    /// GEOMETRY, stored like a BLOB.
    Geometry { pack_length: u8 },
    /// MySQL's binary JSON, stored like a BLOB.
    Json { pack_length: u8 },
    /// ENUM: the 1-based index, `pack_length` (1 or 2) bytes.
    Enum { pack_length: u8 },
    /// SET: a bitmask of `pack_length` (1 to 8) bytes.
    Set { pack_length: u8 },
    /// MYSQL_TYPE_NULL: no bytes.
    Null,
}

impl ColumnKind {
    /// Reads the kind of a column of type `code`, consuming its metadata.
    fn read(code: u8, meta: &mut &[u8]) -> Result<ColumnKind, Fault> {
        use ColumnKind as K;
        let pack = |meta: &mut &[u8], max: u8| -> Result<u8, Fault> {
            let n = take_byte(meta)?;
            if (1..=max).contains(&n) {
                Ok(n)
            } else {
                Err(Fault::invalid(format!("length size {n} is not 1 to {max}")))
            }
        };
        let fsp = |meta: &mut &[u8]| -> Result<u8, Fault> {
            let fsp = take_byte(meta)?;
            if fsp <= 6 {
                Ok(fsp)
            } else {
                Err(Fault::invalid(format!(
                    "fractional precision {fsp} is over 6"
                )))
            }
        };
        Ok(match code {
            1 => K::Int { bytes: 1 },
            2 => K::Int { bytes: 2 },
            9 => K::Int { bytes: 3 },
            3 => K::Int { bytes: 4 },
            8 => K::Int { bytes: 8 },
            4 => {
                take(meta, 1)?;
                K::Float
            }
            5 => {
                take(meta, 1)?;
                K::Double
            }
            6 => K::Null,
            7 => K::Timestamp,
            10 | 14 => K::Date,
            11 => K::Time,
            12 => K::DateTime,
            13 => K::Year,
            15 | 253 => K::VarString {
                max_length: uint_le(take(meta, 2)?) as u16,
            },
            16 => {
                let m = take(meta, 2)?;
                let bits = u32::from(m[1]) * 8 + u32::from(m[0]);
                if m[0] > 7 || !(1..=64).contains(&bits) {
                    return Err(Fault::invalid(format!("BIT length {bits} is not 1 to 64")));
                }
                K::Bit { bits: bits as u8 }
            }
            17 => K::Timestamp2 { fsp: fsp(meta)? },
            18 => K::DateTime2 { fsp: fsp(meta)? },
            19 => K::Time2 { fsp: fsp(meta)? },
            245 => K::Json {
                pack_length: pack(meta, 4)?,
            },
            246 => {
                let m = take(meta, 2)?;
                let (precision, scale) = (m[0], m[1]);
                if !(1..=65).contains(&precision) || scale > precision || scale > 38 {
                    return Err(Fault::invalid(format!(
                        "DECIMAL({precision},{scale}) is out of range"
                    )));
                }
                K::Decimal { precision, scale }
            }
            247 => K::Enum {
                pack_length: enum_pack(take(meta, 2)?[1])?,
            },
            248 => K::Set {
                pack_length: set_pack(take(meta, 2)?[1])?,
            },
            242 | 249..=252 => K::Blob {
                pack_length: pack(meta, 4)?,
            },
            255 => K::Geometry {
                pack_length: pack(meta, 4)?,
            },
            254 => {
                // The real type (STRING, ENUM, SET) and the length; a CHAR longer than 255
                // bytes keeps the length's bits 8 and 9 in bits 4 and 5 of the real type,
                // inverted.
                let m = take(meta, 2)?;
                let (real, max_length) = if m[0] & 0x30 != 0x30 {
                    (
                        m[0] | 0x30,
                        u16::from(m[1]) | (u16::from((m[0] & 0x30) ^ 0x30) << 4),
                    )
                } else {
                    (m[0], u16::from(m[1]))
                };
                match real {
                    254 => K::String { max_length },
                    247 => K::Enum {
                        pack_length: enum_pack(m[1])?,
                    },
                    248 => K::Set {
                        pack_length: set_pack(m[1])?,
                    },
                    other => {
                        return Err(Fault::invalid(format!(
                            "CHAR metadata names real type {other}"
                        )))
                    }
                }
            }
            other => {
                return Err(Fault::invalid(format!(
                    "column type {other} cannot be read from row images"
                )))
            }
        })
    }

    /// Counted in SIGNEDNESS (MySQL and MariaDB both count YEAR).
    fn is_numeric(self) -> bool {
        matches!(
            self,
            ColumnKind::Int { .. }
                | ColumnKind::Float
                | ColumnKind::Double
                | ColumnKind::Decimal { .. }
                | ColumnKind::Year
        )
    }

    /// Counted in DEFAULT_CHARSET / COLUMN_CHARSET (MariaDB also counts GEOMETRY).
    fn is_character(self) -> bool {
        matches!(
            self,
            ColumnKind::String { .. } | ColumnKind::VarString { .. } | ColumnKind::Blob { .. }
        )
    }

    fn is_enum_or_set(self) -> bool {
        matches!(self, ColumnKind::Enum { .. } | ColumnKind::Set { .. })
    }
}

fn enum_pack(n: u8) -> Result<u8, Fault> {
    match n {
        1 | 2 => Ok(n),
        _ => Err(Fault::invalid(format!("ENUM size {n} is not 1 or 2"))),
    }
}

fn set_pack(n: u8) -> Result<u8, Fault> {
    match n {
        1..=8 => Ok(n),
        _ => Err(Fault::invalid(format!("SET size {n} is not 1 to 8"))),
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ColumnKind as K;
        match self {
            K::Int { bytes } => write!(f, "a {bytes}-byte integer"),
            K::Float => f.write_str("FLOAT"),
            K::Double => f.write_str("DOUBLE"),
            K::Decimal { precision, scale } => write!(f, "DECIMAL({precision},{scale})"),
            K::Year => f.write_str("YEAR"),
            K::Date => f.write_str("DATE"),
            K::Time => f.write_str("TIME (pre-5.6 format)"),
            K::DateTime => f.write_str("DATETIME (pre-5.6 format)"),
            K::Timestamp => f.write_str("TIMESTAMP (pre-5.6 format)"),
            K::Time2 { fsp } => write!(f, "TIME({fsp})"),
            K::DateTime2 { fsp } => write!(f, "DATETIME({fsp})"),
            K::Timestamp2 { fsp } => write!(f, "TIMESTAMP({fsp})"),
            K::Bit { bits } => write!(f, "BIT({bits})"),
            K::VarString { max_length } => write!(f, "VARCHAR of {max_length} bytes"),
            K::String { max_length } => write!(f, "CHAR of {max_length} bytes"),
            K::Blob { .. } => f.write_str("TEXT/BLOB"),
            K::Geometry { .. } => f.write_str("GEOMETRY"),
            K::Json { .. } => f.write_str("JSON"),
            K::Enum { .. } => f.write_str("ENUM"),
            K::Set { .. } => f.write_str("SET"),
            K::Null => f.write_str("NULL"),
        }
    }
}

/// One column as a TABLE_MAP event describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct MapColumn {
    /// The type code in the event (`MYSQL_TYPE_STRING`, 254, for CHAR, ENUM and SET alike).
    pub type_code: u8,
    /// How the column's values are laid out in row images.
    pub kind: ColumnKind,
    /// Whether the column accepts NULL.
    pub nullable: bool,
    /// The column's name; sent with `binlog_row_metadata=FULL`.
    pub name: Option<String>,
    /// For numeric columns (YEAR included): whether the column is UNSIGNED.
    pub unsigned: Option<bool>,
    /// For character, ENUM and SET columns: the collation id (`information_schema.COLLATIONS.ID`;
    /// 8 is `latin1_swedish_ci`, 63 `binary`).
    pub collation: Option<u32>,
    /// For ENUM and SET columns: the labels, in order; sent with `binlog_row_metadata=FULL`.
    /// Bytes that are not UTF-8 are replaced.
    pub labels: Option<Vec<String>>,
    /// Whether the column is visible; sent by MySQL 8.0.23+ with FULL metadata.
    pub visible: Option<bool>,
}

/// One column of the primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPart {
    /// The column's position in the table, from 0.
    pub column: usize,
    /// The length of an index prefix (`PRIMARY KEY (name(10))`), 0 for the whole column.
    pub prefix: u64,
}

/// A TABLE_MAP event: a table's column layout under a table id, which the rows events that
/// follow it refer to.
#[derive(Clone, Debug, PartialEq)]
pub struct TableMap {
    /// The number rows events use for the table until the next TABLE_MAP for it.
    pub table_id: u64,
    /// `TM_BIT_LEN_EXACT_F` and MySQL's foreign key / generated key flags.
    pub flags: u16,
    /// The table's database (schema).
    pub database: String,
    /// The table's name.
    pub table: String,
    /// One per column of the table, in order.
    pub columns: Vec<MapColumn>,
    /// The primary key's columns in key order; empty when the table has none or the server
    /// sent no key (`binlog_row_metadata=MINIMAL`).
    pub primary_key: Vec<KeyPart>,
}

/// The optional metadata fields (`binlog_row_metadata`), by type code.
mod field {
    pub const SIGNEDNESS: u8 = 1;
    pub const DEFAULT_CHARSET: u8 = 2;
    pub const COLUMN_CHARSET: u8 = 3;
    pub const COLUMN_NAME: u8 = 4;
    pub const SET_STR_VALUE: u8 = 5;
    pub const ENUM_STR_VALUE: u8 = 6;
    pub const SIMPLE_PRIMARY_KEY: u8 = 8;
    pub const PRIMARY_KEY_WITH_PREFIX: u8 = 9;
    pub const ENUM_AND_SET_DEFAULT_CHARSET: u8 = 10;
    pub const ENUM_AND_SET_COLUMN_CHARSET: u8 = 11;
    pub const COLUMN_VISIBILITY: u8 = 12;
}

/// The optional metadata fields of one event, not yet applied to the columns.
#[derive(Default)]
struct OptionalFields<'a> {
    signedness: Option<&'a [u8]>,
    default_charset: Option<&'a [u8]>,
    column_charset: Option<&'a [u8]>,
    column_name: Option<&'a [u8]>,
    set_labels: Option<&'a [u8]>,
    enum_labels: Option<&'a [u8]>,
    simple_key: Option<&'a [u8]>,
    prefix_key: Option<&'a [u8]>,
    enum_set_default_charset: Option<&'a [u8]>,
    enum_set_column_charset: Option<&'a [u8]>,
    visibility: Option<&'a [u8]>,
}

impl TableMap {
    /// Decodes a TABLE_MAP event body (no header, no checksum).
    ///
    /// Optional metadata whose entries do not match the columns it describes is left out
    /// (the column's field stays `None`) rather than guessed; a field that is cut short is
    /// an error.
    pub fn decode(body: &[u8]) -> Result<TableMap, RowsError> {
        decode_table_map(body).map_err(|f| f.at("TABLE_MAP event"))
    }

    /// `database.table`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.table)
    }

    /// A column's name, or `@n` (from 1, as mysqlbinlog shows it) without names.
    pub fn column_label(&self, index: usize) -> String {
        match self.columns.get(index).and_then(|c| c.name.as_deref()) {
            Some(name) => name.to_string(),
            None => format!("@{}", index + 1),
        }
    }

    #[cold]
    #[inline(never)]
    fn column_error(&self, index: usize, fault: Fault, ty: Option<&MyType>) -> RowsError {
        let detail = match fault {
            Fault::Truncated => "the row image ends inside this value".to_string(),
            Fault::Invalid(detail) => detail,
            Fault::Mismatch => format!(
                "the binlog has {} but the table's schema says {}; the table was altered after this change was written",
                self.columns
                    .get(index)
                    .map_or_else(|| "no column".to_string(), |c| c.kind.to_string()),
                ty.map_or_else(|| "nothing".to_string(), |t| format!("{t:?}"))
            ),
        };
        RowsError::Column {
            table: self.qualified_name(),
            index,
            column: self.column_label(index),
            detail,
        }
    }

    fn indices(&self, keep: impl Fn(ColumnKind) -> bool) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| keep(self.columns[i].kind))
            .collect()
    }

    fn apply_optional_metadata(&mut self, mut rest: &[u8]) -> Result<(), Fault> {
        let mut fields = OptionalFields::default();
        while !rest.is_empty() {
            let field_type = take_byte(&mut rest)?;
            let len = length(&mut rest)?;
            let value = take(&mut rest, len)?;
            let slot = match field_type {
                field::SIGNEDNESS => &mut fields.signedness,
                field::DEFAULT_CHARSET => &mut fields.default_charset,
                field::COLUMN_CHARSET => &mut fields.column_charset,
                field::COLUMN_NAME => &mut fields.column_name,
                field::SET_STR_VALUE => &mut fields.set_labels,
                field::ENUM_STR_VALUE => &mut fields.enum_labels,
                field::SIMPLE_PRIMARY_KEY => &mut fields.simple_key,
                field::PRIMARY_KEY_WITH_PREFIX => &mut fields.prefix_key,
                field::ENUM_AND_SET_DEFAULT_CHARSET => &mut fields.enum_set_default_charset,
                field::ENUM_AND_SET_COLUMN_CHARSET => &mut fields.enum_set_column_charset,
                field::COLUMN_VISIBILITY => &mut fields.visibility,
                // GEOMETRY_TYPE, VECTOR_DIMENSIONALITY and later additions.
                _ => continue,
            };
            *slot = Some(value);
        }

        if let Some(bits) = fields.signedness {
            let numeric = self.indices(ColumnKind::is_numeric);
            if bits.len() * 8 >= numeric.len() {
                for (j, &i) in numeric.iter().enumerate() {
                    self.columns[i].unsigned = Some(bit_msb(bits, j));
                }
            }
        }
        self.apply_text_collations(fields.default_charset, fields.column_charset)?;
        let enum_set = self.indices(ColumnKind::is_enum_or_set);
        self.apply_collations(
            &enum_set,
            fields.enum_set_default_charset,
            fields.enum_set_column_charset,
        )?;
        if let Some(mut value) = fields.column_name {
            let mut names = Vec::with_capacity(self.columns.len());
            while !value.is_empty() {
                names.push(lenenc_string(&mut value)?);
            }
            if names.len() == self.columns.len() {
                for (column, name) in self.columns.iter_mut().zip(names) {
                    column.name = Some(name);
                }
            }
        }
        for (value, is_set) in [(fields.set_labels, true), (fields.enum_labels, false)] {
            let Some(value) = value else { continue };
            let lists = label_lists(value)?;
            let group = self.indices(|k| {
                matches!(
                    (k, is_set),
                    (ColumnKind::Set { .. }, true) | (ColumnKind::Enum { .. }, false)
                )
            });
            if lists.len() == group.len() {
                for (i, labels) in group.into_iter().zip(lists) {
                    self.columns[i].labels = Some(labels);
                }
            }
        }
        let key = match (fields.simple_key, fields.prefix_key) {
            (_, Some(mut value)) => {
                let mut key = Vec::new();
                while !value.is_empty() {
                    let column = length(&mut value)?;
                    let prefix = lenenc(&mut value)?;
                    key.push(KeyPart { column, prefix });
                }
                key
            }
            (Some(mut value), None) => {
                let mut key = Vec::new();
                while !value.is_empty() {
                    let column = length(&mut value)?;
                    key.push(KeyPart { column, prefix: 0 });
                }
                key
            }
            (None, None) => Vec::new(),
        };
        if key.iter().all(|k| k.column < self.columns.len()) {
            self.primary_key = key;
        }
        if let Some(bits) = fields.visibility {
            if bits.len() * 8 >= self.columns.len() {
                for (i, column) in self.columns.iter_mut().enumerate() {
                    column.visible = Some(bit_msb(bits, i));
                }
            }
        }
        Ok(())
    }

    /// DEFAULT_CHARSET / COLUMN_CHARSET cover the character columns; MariaDB counts
    /// GEOMETRY columns among them (with the binary collation), MySQL does not. The number
    /// of COLUMN_CHARSET entries tells which; under DEFAULT_CHARSET, MariaDB's layout is
    /// recognised by a position only it has, or by every GEOMETRY column being listed as
    /// binary.
    fn apply_text_collations(
        &mut self,
        default: Option<&[u8]>,
        per_column: Option<&[u8]>,
    ) -> Result<(), Fault> {
        let mysql = self.indices(ColumnKind::is_character);
        let mariadb =
            self.indices(|k| k.is_character() || matches!(k, ColumnKind::Geometry { .. }));
        if mysql.len() == mariadb.len() {
            return self.apply_collations(&mysql, default, per_column);
        }
        let group = match (per_column, default) {
            (Some(mut value), _) => {
                let mut count = 0;
                while !value.is_empty() {
                    lenenc(&mut value)?;
                    count += 1;
                }
                if count == mariadb.len() {
                    &mariadb
                } else {
                    &mysql
                }
            }
            (None, Some(mut value)) => {
                lenenc(&mut value)?;
                let mut listed = Vec::new();
                while !value.is_empty() {
                    listed.push((length(&mut value)?, lenenc(&mut value)?));
                }
                let beyond_mysql = listed.iter().any(|&(p, _)| p >= mysql.len());
                let geometry_listed = mariadb
                    .iter()
                    .enumerate()
                    .filter(|(_, &i)| matches!(self.columns[i].kind, ColumnKind::Geometry { .. }))
                    .all(|(p, _)| listed.contains(&(p, u64::from(BINARY_COLLATION))));
                if beyond_mysql || geometry_listed {
                    &mariadb
                } else {
                    &mysql
                }
            }
            (None, None) => return Ok(()),
        };
        self.apply_collations(group, default, per_column)
    }

    /// Gives the columns of `group` their collations from a DEFAULT_CHARSET-style field
    /// (the most common collation, then `position, collation` pairs for the others) or a
    /// COLUMN_CHARSET-style one (a collation per column); positions count within `group`.
    fn apply_collations(
        &mut self,
        group: &[usize],
        default: Option<&[u8]>,
        per_column: Option<&[u8]>,
    ) -> Result<(), Fault> {
        let collation = |n: u64| u32::try_from(n).ok();
        if let Some(mut value) = per_column {
            let mut list = Vec::with_capacity(group.len());
            while !value.is_empty() {
                list.push(collation(lenenc(&mut value)?));
            }
            if list.len() == group.len() {
                for (&i, c) in group.iter().zip(list) {
                    self.columns[i].collation = c;
                }
            }
        } else if let Some(mut value) = default {
            let default = collation(lenenc(&mut value)?);
            let mut listed = Vec::new();
            while !value.is_empty() {
                listed.push((length(&mut value)?, collation(lenenc(&mut value)?)));
            }
            if listed.iter().all(|&(p, _)| p < group.len()) {
                for &i in group {
                    self.columns[i].collation = default;
                }
                for (p, c) in listed {
                    self.columns[group[p]].collation = c;
                }
            }
        }
        Ok(())
    }
}

/// SET_STR_VALUE / ENUM_STR_VALUE: per column a count, then that many strings.
fn label_lists(mut value: &[u8]) -> Result<Vec<Vec<String>>, Fault> {
    let mut lists = Vec::new();
    while !value.is_empty() {
        let count = length(&mut value)?;
        let mut labels = Vec::with_capacity(count.min(value.len()));
        for _ in 0..count {
            labels.push(lenenc_string(&mut value)?);
        }
        lists.push(labels);
    }
    Ok(lists)
}

fn decode_table_map(body: &[u8]) -> Result<TableMap, Fault> {
    let mut b = body;
    let table_id = uint_le(take(&mut b, 6)?);
    let flags = uint_le(take(&mut b, 2)?) as u16;
    let database = nul_terminated_name(&mut b)?;
    let table = nul_terminated_name(&mut b)?;
    let count = length(&mut b)?;
    let types = take(&mut b, count)?;
    let meta_len = length(&mut b)?;
    let mut meta = take(&mut b, meta_len)?;
    let mut columns = Vec::with_capacity(count);
    for (i, &code) in types.iter().enumerate() {
        let kind = ColumnKind::read(code, &mut meta).map_err(|f| match f {
            Fault::Invalid(d) => Fault::Invalid(format!("column @{}: {d}", i + 1)),
            other => other,
        })?;
        columns.push(MapColumn {
            type_code: code,
            kind,
            nullable: false,
            name: None,
            unsigned: None,
            collation: None,
            labels: None,
            visible: None,
        });
    }
    if !meta.is_empty() {
        return Err(Fault::invalid(format!(
            "{} bytes of column metadata are left over",
            meta.len()
        )));
    }
    let nulls = take(&mut b, count.div_ceil(8))?;
    for (i, column) in columns.iter_mut().enumerate() {
        column.nullable = bit(nulls, i);
    }
    let mut map = TableMap {
        table_id,
        flags,
        database,
        table,
        columns,
        primary_key: Vec::new(),
    };
    map.apply_optional_metadata(b)?;
    Ok(map)
}

/// A 1-byte length, the name, and a NUL.
fn nul_terminated_name(buf: &mut &[u8]) -> Result<String, Fault> {
    let len = usize::from(take_byte(buf)?);
    let name = String::from_utf8_lossy(take(buf, len)?).into_owned();
    if take_byte(buf)? != 0 {
        return Err(Fault::invalid(format!(
            "the name {name:?} is not NUL-terminated"
        )));
    }
    Ok(name)
}

// ---------------------------------------------------------------------------------------
// Rows events
// ---------------------------------------------------------------------------------------

/// A WRITE/UPDATE/DELETE_ROWS event (v1 or v2), borrowing the event's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowsEvent<'a> {
    /// The table, as the preceding TABLE_MAP event numbered it.
    pub table_id: u64,
    /// Insert, update or delete.
    pub kind: RowsKind,
    /// [`STMT_END_F`] and the foreign key / unique check flags.
    pub flags: u16,
    /// The table's column count as the event gives it.
    pub column_count: usize,
    /// The columns in each before image (UPDATE, DELETE), one bit per column.
    pub before_columns: Option<&'a [u8]>,
    /// The columns in each after image (INSERT, UPDATE).
    pub after_columns: Option<&'a [u8]>,
    /// The row images, back to back.
    rows: &'a [u8],
}

/// One row of a rows event: the before image of an UPDATE or DELETE, the after image of an
/// INSERT or UPDATE.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The row before the change (UPDATE, DELETE).
    pub before: Option<Row>,
    /// The row after the change (INSERT, UPDATE).
    pub after: Option<Row>,
}

/// What decoding a table's row images needs: its table map, one decoder per column (in
/// table order, excluded columns included) and the value options.
#[derive(Clone, Copy, Debug)]
pub struct RowContext<'c> {
    /// The TABLE_MAP of the rows' table id: how the values are laid out.
    pub map: &'c TableMap,
    /// The table's columns as the schema has them: what values come out.
    pub decoders: &'c [ColumnDecoder],
    /// `decimal.handling.mode`, `bigint.unsigned.handling.mode`, `time.precision.mode`.
    pub options: &'c TypeOptions,
}

impl<'a> RowsEvent<'a> {
    /// Decodes a rows event body (no header, no checksum) of type `event_type`.
    pub fn decode(event_type: u8, body: &'a [u8]) -> Result<RowsEvent<'a>, RowsError> {
        match event_type {
            PARTIAL_UPDATE_ROWS_EVENT => {
                return Err(RowsError::UnsupportedEvent {
                    event_type,
                    name: "PARTIAL_UPDATE_ROWS",
                    hint: "set binlog_row_value_options='' on the server so that updates log whole JSON values",
                })
            }
            t if MARIADB_COMPRESSED_ROWS_EVENTS.contains(&t) => {
                return Err(RowsError::UnsupportedEvent {
                    event_type,
                    name: "MariaDB compressed rows",
                    hint: "its row images must be uncompressed first (compressed::mariadb_rows)",
                })
            }
            _ => {}
        }
        let kind = is_rows_event(event_type).ok_or(RowsError::NotRowsEvent(event_type))?;
        let v2 = matches!(
            event_type,
            WRITE_ROWS_EVENT | UPDATE_ROWS_EVENT | DELETE_ROWS_EVENT
        );
        decode_rows_event(kind, v2, body).map_err(|f| f.at("rows event"))
    }

    /// Whether this event ends its statement.
    pub fn is_statement_end(&self) -> bool {
        self.flags & STMT_END_F != 0
    }

    /// The row images, back to back.
    pub fn row_bytes(&self) -> &'a [u8] {
        self.rows
    }

    /// The event's rows, decoded one by one with `ctx`, whose table map must be the one
    /// for this event's table id.
    pub fn changes<'c>(&self, ctx: RowContext<'c>) -> Result<Changes<'a, 'c>, RowsError> {
        self.check_map(ctx.map)?;
        if ctx.decoders.len() != ctx.map.columns.len() {
            return Err(RowsError::ColumnCount {
                table: ctx.map.qualified_name(),
                binlog: ctx.map.columns.len(),
                schema: ctx.decoders.len(),
            });
        }
        Ok(Changes {
            event: *self,
            rest: self.rows,
            ctx,
        })
    }

    /// How many rows the event holds, walking them without decoding values (for tables
    /// that are not captured but whose rows still count for positions).
    pub fn count_rows(&self, map: &TableMap) -> Result<usize, RowsError> {
        self.check_map(map)?;
        let mut rest = self.rows;
        let mut count = 0;
        while !rest.is_empty() {
            let before = rest.len();
            for present in [self.before_columns, self.after_columns]
                .into_iter()
                .flatten()
            {
                skip_image(&mut rest, present, map)?;
            }
            if rest.len() == before {
                return Err(empty_row(rest.len()));
            }
            count += 1;
        }
        Ok(count)
    }

    fn check_map(&self, map: &TableMap) -> Result<(), RowsError> {
        if map.table_id != self.table_id {
            return Err(RowsError::TableId {
                event: self.table_id,
                map: map.table_id,
            });
        }
        if map.columns.len() != self.column_count {
            return Err(RowsError::ColumnCount {
                table: map.qualified_name(),
                binlog: self.column_count,
                schema: map.columns.len(),
            });
        }
        Ok(())
    }
}

fn decode_rows_event(kind: RowsKind, v2: bool, body: &[u8]) -> Result<RowsEvent<'_>, Fault> {
    let mut b = body;
    let table_id = uint_le(take(&mut b, 6)?);
    let flags = uint_le(take(&mut b, 2)?) as u16;
    if v2 {
        // The extra-data length counts its own two bytes.
        let extra = uint_le(take(&mut b, 2)?) as usize;
        if extra < 2 {
            return Err(Fault::invalid(format!(
                "extra data length {extra} is below 2"
            )));
        }
        take(&mut b, extra - 2)?;
    }
    let column_count = length(&mut b)?;
    let bitmap_len = column_count.div_ceil(8);
    let first = take(&mut b, bitmap_len)?;
    let (before_columns, after_columns) = match kind {
        RowsKind::Insert => (None, Some(first)),
        RowsKind::Delete => (Some(first), None),
        RowsKind::Update => (Some(first), Some(take(&mut b, bitmap_len)?)),
    };
    Ok(RowsEvent {
        table_id,
        kind,
        flags,
        column_count,
        before_columns,
        after_columns,
        rows: b,
    })
}

/// The rows of a [`RowsEvent`], decoded as they are iterated. After an error the iterator
/// ends.
#[derive(Clone, Debug)]
pub struct Changes<'a, 'c> {
    event: RowsEvent<'a>,
    rest: &'a [u8],
    ctx: RowContext<'c>,
}

impl Changes<'_, '_> {
    fn decode_next(&mut self) -> Result<Change, RowsError> {
        let before = match self.event.before_columns {
            Some(present) => Some(decode_image(&mut self.rest, present, &self.ctx)?),
            None => None,
        };
        let after = match self.event.after_columns {
            Some(present) => Some(decode_image(&mut self.rest, present, &self.ctx)?),
            None => None,
        };
        Ok(Change { before, after })
    }
}

impl Iterator for Changes<'_, '_> {
    type Item = Result<Change, RowsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let before = self.rest.len();
        let mut change = self.decode_next();
        if change.is_ok() && self.rest.len() == before {
            change = Err(empty_row(before));
        }
        if change.is_err() {
            self.rest = &[];
        }
        Some(change)
    }
}

/// A row that takes no bytes while bytes are left: reading on would never end.
fn empty_row(left: usize) -> RowsError {
    RowsError::Malformed {
        what: "rows event",
        detail: format!("a row of no bytes (its images name no column) with {left} bytes left"),
    }
}

/// Decodes one row image from the front of `cursor` and advances it: a NULL bitmap over
/// the columns set in `present`, then their values. The row has a value per included
/// column ([`ColumnDecoder::included`]); excluded columns are read past, and included ones
/// missing from the image (a MINIMAL row image) are NULL.
pub fn decode_image(
    cursor: &mut &[u8],
    present: &[u8],
    ctx: &RowContext<'_>,
) -> Result<Row, RowsError> {
    let RowContext {
        map,
        decoders,
        options,
    } = *ctx;
    if decoders.len() != map.columns.len() {
        return Err(RowsError::ColumnCount {
            table: map.qualified_name(),
            binlog: map.columns.len(),
            schema: decoders.len(),
        });
    }
    let n = map.columns.len();
    let nulls = take(cursor, count_bits(present, n).div_ceil(8))
        .map_err(|_| RowsError::Truncated { what: "row image" })?;
    // One NULL per included column, then filled in place (see `put_value`).
    let mut values = Vec::with_capacity(n);
    values.resize_with(decoders.iter().filter(|d| d.included).count(), || {
        Value::Null
    });
    let mut slots = values.iter_mut();
    let mut in_image = 0;
    for (i, (column, decoder)) in map.columns.iter().zip(decoders).enumerate() {
        let slot = if decoder.included { slots.next() } else { None };
        if !bit(present, i) {
            continue;
        }
        let is_null = bit(nulls, in_image);
        in_image += 1;
        if is_null {
            continue;
        }
        let Some(bytes) = take_value(cursor, column.kind) else {
            return Err(map.column_error(i, Fault::Truncated, Some(&decoder.ty)));
        };
        if let Some(slot) = slot {
            put_value(slot, column.kind, bytes, &decoder.ty, options)
                .map_err(|f| map.column_error(i, f, Some(&decoder.ty)))?;
        }
    }
    Ok(Row(values))
}

/// Reads past one row image without decoding its values.
pub fn skip_image(cursor: &mut &[u8], present: &[u8], map: &TableMap) -> Result<(), RowsError> {
    let n = map.columns.len();
    let nulls = take(cursor, count_bits(present, n).div_ceil(8))
        .map_err(|_| RowsError::Truncated { what: "row image" })?;
    let mut in_image = 0;
    for (i, column) in map.columns.iter().enumerate() {
        if !bit(present, i) {
            continue;
        }
        let is_null = bit(nulls, in_image);
        in_image += 1;
        if !is_null && take_value(cursor, column.kind).is_none() {
            return Err(map.column_error(i, Fault::Truncated, None));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// Bytes of the fraction of TIME2 / DATETIME2 / TIMESTAMP2.
fn frac_bytes(fsp: u8) -> usize {
    usize::from(fsp).div_ceil(2)
}

/// Splits one value's bytes off the image: the fixed width of its type, or the bytes after
/// its length prefix; `None` when the image ends first.
fn take_value<'a>(cursor: &mut &'a [u8], kind: ColumnKind) -> Option<&'a [u8]> {
    use ColumnKind as K;
    let width = match kind {
        K::Int { bytes } => usize::from(bytes),
        K::Float | K::Timestamp => 4,
        K::Double | K::DateTime => 8,
        K::Year => 1,
        K::Date | K::Time => 3,
        K::Time2 { fsp } => 3 + frac_bytes(fsp),
        K::DateTime2 { fsp } => 5 + frac_bytes(fsp),
        K::Timestamp2 { fsp } => 4 + frac_bytes(fsp),
        K::Decimal { precision, scale } => decimal_size(precision, scale),
        K::Bit { bits } => usize::from(bits).div_ceil(8),
        K::Enum { pack_length } | K::Set { pack_length } => usize::from(pack_length),
        K::Null => 0,
        K::VarString { max_length } | K::String { max_length } => {
            let prefix = if max_length > 255 { 2 } else { 1 };
            uint_le(split(cursor, prefix)?) as usize
        }
        // At most 4 bytes of length: it fits.
        K::Blob { pack_length } | K::Geometry { pack_length } | K::Json { pack_length } => {
            uint_le(split(cursor, usize::from(pack_length))?) as usize
        }
    };
    split(cursor, width)
}

/// Puts a value's bytes, in the shape the schema's type gives them (exactly as
/// [`MyType::decode`] does), into `slot`, which holds `Value::Null`. Values are made in
/// their slot: returned or pushed, each went through a stack temporary whose copy stalled
/// on store forwarding for longer than the decoding took.
fn put_value(
    slot: &mut Value,
    kind: ColumnKind,
    b: &[u8],
    ty: &MyType,
    options: &TypeOptions,
) -> Result<(), Fault> {
    use ColumnKind as K;
    let connect_time = options.time_precision == TimePrecisionMode::Connect;
    let same = |fsp: u8, want: &u32| u32::from(fsp) == *want;
    match (kind, ty) {
        (K::Int { bytes: 1 }, MyType::Bool) => fill(slot, Value::Int(sign_extend(uint_le(b), 8))),
        (
            K::Int { bytes },
            MyType::Int {
                bytes: want,
                unsigned,
            },
        ) if bytes == *want => {
            let raw = uint_le(b);
            if !*unsigned {
                fill(slot, Value::Int(sign_extend(raw, 8 * u32::from(bytes))));
            } else if bytes == 8 && options.bigint_unsigned == BigintUnsignedMode::Precise {
                fill(
                    slot,
                    Value::Decimal {
                        unscaled: minimal_twos_complement(i128::from(raw)),
                        scale: 0,
                    },
                );
            } else {
                fill(slot, Value::Int(raw as i64));
            }
        }
        (K::Float, MyType::Float) => fill(slot, Value::Float32(f32::from_bits(uint_le(b) as u32))),
        (K::Double, MyType::Double) => fill(slot, Value::Float64(f64::from_bits(uint_le(b)))),
        (
            K::Decimal { precision, scale },
            MyType::Decimal {
                precision: want_precision,
                scale: want_scale,
            },
        ) if u32::from(precision) == *want_precision && u32::from(scale) == *want_scale => {
            let mut decimal = BinaryDecimal::EMPTY;
            let text = options.decimal != DecimalMode::Precise || precision > 38;
            decimal.read(b, precision, scale, text)?;
            fill(slot, decimal.value(options.decimal));
        }
        (K::Bit { bits: 1 }, MyType::Bit1) => fill(slot, Value::Bool(b.iter().any(|x| *x != 0))),
        (K::Bit { bits }, MyType::Bits { length }) if u32::from(bits) == *length => {
            // Big-endian in the binlog; Debezium's Bits are little-endian.
            let mut le: Vec<u8> = b.iter().rev().copied().collect();
            le.resize(length.div_ceil(8) as usize, 0);
            fill(slot, Value::Bytes(le));
        }
        (K::Date, MyType::Date) => {
            let v = uint_le(b);
            let (year, month, day) = (v >> 9, (v >> 5) & 15, v & 31);
            if year == 0 || month == 0 || day == 0 {
                fill(slot, Value::Null);
            } else {
                fill(
                    slot,
                    Value::Int(days_from_civil(year as i64, month as u32, day as u32)),
                );
            }
        }
        (K::Time2 { fsp }, MyType::Time { fsp: want }) if same(fsp, want) => {
            fill(slot, time_value(time2_micros(b, fsp), connect_time));
        }
        (K::Time, MyType::Time { fsp: 0 }) => {
            fill(slot, time_value(legacy_time_micros(b), connect_time));
        }
        (K::DateTime2 { fsp }, MyType::DateTime { fsp: want }) if same(fsp, want) => {
            fill(
                slot,
                datetime_value(datetime2_micros(b, fsp)?, *want, connect_time),
            );
        }
        (K::DateTime, MyType::DateTime { fsp: 0 }) => {
            fill(
                slot,
                datetime_value(legacy_datetime_micros(b)?, 0, connect_time),
            );
        }
        (K::Timestamp2 { fsp }, MyType::Timestamp { fsp: want }) if same(fsp, want) => {
            fill(slot, timestamp_value(timestamp2_micros(b, fsp), *want));
        }
        (K::Timestamp, MyType::Timestamp { fsp: 0 }) => {
            fill(slot, timestamp_value(uint_le(b) as i64 * 1_000_000, 0));
        }
        // Years count from 1900. The zero year (the server shows 0000) comes out as 1900,
        // as Debezium's binlog reader gives it (its snapshot gives 2000).
        (K::Year, MyType::Year) => fill(slot, Value::Int(1900 + uint_le(b) as i64)),
        (K::VarString { .. } | K::String { .. } | K::Blob { .. }, MyType::Text { latin1 }) => {
            let text = if *latin1 {
                b.iter().map(|&c| latin1_char(c)).collect()
            } else {
                utf8_lossy(b)
            };
            fill(slot, Value::String(text));
        }
        (
            K::VarString { .. } | K::String { .. } | K::Blob { .. } | K::Geometry { .. },
            MyType::Binary { pad_to },
        ) => {
            let mut bytes = b.to_vec();
            if let Some(n) = pad_to {
                if bytes.len() < *n as usize {
                    bytes.resize(*n as usize, 0);
                }
            }
            fill(slot, Value::Bytes(bytes));
        }
        // MariaDB's JSON is a LONGTEXT.
        (K::Blob { .. }, MyType::Json) => {
            fill(slot, Value::String(utf8_lossy(b)));
        }
        (K::Json { .. }, MyType::Json) => fill(slot, Value::String(jsonb::to_text(b)?)),
        (K::Enum { .. }, MyType::Enum { labels }) => {
            // 0 is the empty value MySQL stores for invalid input.
            let index = uint_le(b) as usize;
            fill(
                slot,
                Value::String(
                    index
                        .checked_sub(1)
                        .and_then(|i| labels.get(i))
                        .cloned()
                        .unwrap_or_default(),
                ),
            );
        }
        (K::Set { .. }, MyType::Set { labels }) => {
            let mask = uint_le(b);
            let mut chosen = String::new();
            let mut first = true;
            for (i, label) in labels.iter().enumerate().take(64) {
                if mask >> i & 1 == 1 {
                    if !first {
                        chosen.push(',');
                    }
                    chosen.push_str(label);
                    first = false;
                }
            }
            fill(slot, Value::String(chosen));
        }
        _ => return Err(Fault::Mismatch),
    }
    Ok(())
}

/// A byte of MySQL's `latin1` (which is cp1252, its five unassigned bytes mapped to the
/// code points of the same number) as a character.
pub(crate) fn latin1_char(b: u8) -> char {
    const CP1252_80_9F: [u16; 32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => char::from_u32(u32::from(CP1252_80_9F[usize::from(b - 0x80)]))
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(b),
    }
}

/// `String::from_utf8_lossy(b).into_owned()`, without the `Cow` in between.
fn utf8_lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Puts `v` in a slot that holds `Value::Null`, which needs no drop.
#[inline(always)]
fn fill(slot: &mut Value, v: Value) {
    std::mem::forget(std::mem::replace(slot, v));
}

/// Java `BigInteger.toByteArray` of `n`: big-endian two's complement, as few bytes as keep
/// the sign (the same bytes as [`twos_complement`] of its digits).
fn minimal_twos_complement(n: i128) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

// ---------------------------------------------------------------------------------------
// DECIMAL
// ---------------------------------------------------------------------------------------

/// Bytes per count (0 to 9) of leftover decimal digits.
const DIGITS_TO_BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
const DIGITS_PER_WORD: usize = 9;
const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Bytes of a DECIMAL(precision, scale) in binary form.
fn decimal_size(precision: u8, scale: u8) -> usize {
    let (intg, frac) = (
        usize::from(precision.saturating_sub(scale)),
        usize::from(scale),
    );
    (intg / DIGITS_PER_WORD) * 4
        + DIGITS_TO_BYTES[intg % DIGITS_PER_WORD]
        + (frac / DIGITS_PER_WORD) * 4
        + DIGITS_TO_BYTES[frac % DIGITS_PER_WORD]
}

/// A DECIMAL read from MySQL's binary format: groups of up to 9 digits, big-endian, the
/// first bit inverted, every byte inverted for negative numbers.
struct BinaryDecimal {
    negative: bool,
    /// The integer digits with leading zeros, then the fraction digits.
    digits: [u8; 65],
    int_len: usize,
    len: usize,
    /// The unscaled value, when it has at most 38 digits.
    unscaled: Option<i128>,
}

impl BinaryDecimal {
    const EMPTY: BinaryDecimal = BinaryDecimal {
        negative: false,
        digits: [b'0'; 65],
        int_len: 0,
        len: 0,
        unscaled: None,
    };

    /// Reads `b` as a DECIMAL(precision, scale) into `self` (filled in place: the struct
    /// is large enough that moving it shows in the row decoding time).
    fn read(&mut self, b: &[u8], precision: u8, scale: u8, digits: bool) -> Result<(), Fault> {
        if scale > precision || precision > 65 || b.len() != decimal_size(precision, scale) {
            return Err(Fault::invalid(format!(
                "{} bytes are not a DECIMAL({precision},{scale})",
                b.len()
            )));
        }
        let Some(&first) = b.first() else {
            return Err(Fault::Truncated);
        };
        self.negative = first & 0x80 == 0;
        let mask = if self.negative { 0xFF } else { 0x00 };
        let intg = usize::from(precision - scale);
        let frac = usize::from(scale);
        self.int_len = intg;
        self.len = 0;
        self.unscaled = (precision <= 38).then_some(0);
        let write_digits = digits;
        let mut at = 0;
        let mut group = |digits: usize, out: &mut BinaryDecimal| -> Result<(), Fault> {
            let width = if digits == DIGITS_PER_WORD {
                4
            } else {
                DIGITS_TO_BYTES[digits]
            };
            let bytes = b.get(at..at + width).ok_or(Fault::Truncated)?;
            let mut value = 0u64;
            for (k, &byte) in bytes.iter().enumerate() {
                let byte = if at + k == 0 { byte ^ 0x80 } else { byte } ^ mask;
                value = (value << 8) | u64::from(byte);
            }
            at += width;
            if value >= POW10[digits] {
                return Err(Fault::invalid(format!(
                    "{value} is not a group of {digits} decimal digits"
                )));
            }
            if write_digits {
                let mut v = value;
                for k in (0..digits).rev() {
                    out.digits[out.len + k] = b'0' + (v % 10) as u8;
                    v /= 10;
                }
            }
            out.len += digits;
            if let Some(u) = out.unscaled.as_mut() {
                *u = *u * POW10[digits] as i128 + value as i128;
            }
            Ok(())
        };
        if intg % DIGITS_PER_WORD > 0 {
            group(intg % DIGITS_PER_WORD, self)?;
        }
        for _ in 0..intg / DIGITS_PER_WORD {
            group(DIGITS_PER_WORD, self)?;
        }
        for _ in 0..frac / DIGITS_PER_WORD {
            group(DIGITS_PER_WORD, self)?;
        }
        if frac % DIGITS_PER_WORD > 0 {
            group(frac % DIGITS_PER_WORD, self)?;
        }
        Ok(())
    }

    /// The number as MySQL prints it: no leading zeros, `0` for a zero integer part, the
    /// scale's fraction digits. Like mysql_common (whose text the old decoder used), a zero
    /// with a fraction keeps a minus sign and one without drops it.
    fn write_text<'b>(&self, buf: &'b mut [u8; 68]) -> &'b str {
        let int = &self.digits[..self.int_len];
        let int = match int.iter().position(|&d| d != b'0') {
            Some(p) => &int[p..],
            None => &int[int.len()..],
        };
        let frac = &self.digits[self.int_len..self.len];
        let mut n = 0;
        let mut push = |bytes: &[u8], n: &mut usize| {
            buf[*n..*n + bytes.len()].copy_from_slice(bytes);
            *n += bytes.len();
        };
        if self.negative && !(int.is_empty() && frac.is_empty()) {
            push(b"-", &mut n);
        }
        push(if int.is_empty() { b"0" } else { int }, &mut n);
        if !frac.is_empty() {
            push(b".", &mut n);
            push(frac, &mut n);
        }
        // Only ASCII digits, '-' and '.' were written.
        std::str::from_utf8(&buf[..n]).unwrap_or("0")
    }

    /// Appends the value `decimal.handling.mode` gives.
    fn value(&self, mode: DecimalMode) -> Value {
        let mut buf = [0u8; 68];
        match mode {
            DecimalMode::String => Value::String(self.write_text(&mut buf).to_string()),
            DecimalMode::Double => Value::Float64(self.to_f64()),
            DecimalMode::Precise => Value::Decimal {
                unscaled: match self.unscaled {
                    Some(u) => minimal_twos_complement(if self.negative { -u } else { u }),
                    // Only ASCII digits were written.
                    None => twos_complement(
                        std::str::from_utf8(&self.digits[..self.len]).unwrap_or("0"),
                        self.negative,
                    ),
                },
                scale: (self.len - self.int_len) as u32,
            },
        }
    }

    /// The nearest double, as parsing the printed number gives it.
    fn to_f64(&self) -> f64 {
        let mut buf = [0u8; 68];
        self.write_text(&mut buf).parse().unwrap_or(0.0)
    }
}

// ---------------------------------------------------------------------------------------
// Temporal types
// ---------------------------------------------------------------------------------------

/// Micros of a packed time (`hms << 24 | micros`, negated for negative times).
fn packed_time_micros(packed: i64) -> i64 {
    let magnitude = packed.unsigned_abs();
    let hms = magnitude >> 24;
    let micros = (magnitude & 0xFF_FFFF) as i64;
    let (hours, minutes, seconds) = ((hms >> 12) & 0x3FF, (hms >> 6) & 0x3F, hms & 0x3F);
    let total = ((hours * 3600 + minutes * 60 + seconds) as i64) * 1_000_000 + micros;
    if packed < 0 {
        -total
    } else {
        total
    }
}

/// TIME2: 3 bytes of `hms` offset by 0x800000, then the fraction in 1 (hundredths), 2
/// (1/10000 s) or 3 (micros, with the whole value offset) bytes. Negative times with a
/// fraction store the integer part one lower and the fraction as its complement, so the
/// bytes sort; undo that.
fn time2_micros(b: &[u8], fsp: u8) -> i64 {
    let int_part = uint_be(&b[..3.min(b.len())]) as i64 - 0x80_0000;
    let packed = match fsp {
        0 => int_part << 24,
        1 | 2 => {
            let (mut int_part, mut frac) = (int_part, b.get(3).copied().map_or(0, i64::from));
            if int_part < 0 && frac != 0 {
                int_part += 1;
                frac -= 0x100;
            }
            (int_part << 24) + frac * 10_000
        }
        3 | 4 => {
            let (mut int_part, mut frac) = (int_part, uint_be(b.get(3..5).unwrap_or(&[])) as i64);
            if int_part < 0 && frac != 0 {
                int_part += 1;
                frac -= 0x1_0000;
            }
            (int_part << 24) + frac * 100
        }
        _ => uint_be(&b[..6.min(b.len())]) as i64 - 0x8000_0000_0000,
    };
    packed_time_micros(packed)
}

/// Pre-5.6 TIME: a signed 3-byte `HHMMSS` number.
fn legacy_time_micros(b: &[u8]) -> i64 {
    let v = sign_extend(uint_le(b), 24);
    let a = v.abs();
    let (hours, minutes, seconds) = (a / 10_000, a / 100 % 100, a % 100);
    let micros = (hours * 3600 + minutes * 60 + seconds) * 1_000_000;
    if v < 0 {
        -micros
    } else {
        micros
    }
}

fn time_value(micros: i64, connect_time: bool) -> Value {
    Value::Int(if connect_time { micros / 1000 } else { micros })
}

/// Micros since the epoch of a calendar date and time; `None` for a zero date.
fn civil_micros(ymd: (i64, u32, u32), hms: (i64, i64, i64), micros: i64) -> Option<i64> {
    let (year, month, day) = ymd;
    if year == 0 || month == 0 || day == 0 {
        return None;
    }
    let (h, m, s) = hms;
    Some(days_from_civil(year, month, day) * DAY_US + (h * 3600 + m * 60 + s) * 1_000_000 + micros)
}

/// DATETIME2: 5 bytes of `((year * 13 + month) << 5 | day) << 17 | hms`, offset by
/// 0x8000000000, then the fraction as for TIME2. `None` for a zero date.
fn datetime2_micros(b: &[u8], fsp: u8) -> Result<Option<i64>, Fault> {
    let int_part = uint_be(&b[..5.min(b.len())]) as i64 - 0x80_0000_0000;
    if int_part < 0 {
        return Err(Fault::invalid("a DATETIME before year 0"));
    }
    let frac = b.get(5..).unwrap_or(&[]);
    let micros = match fsp {
        0 => 0,
        1 | 2 => i64::from(frac.first().copied().unwrap_or(0) as i8) * 10_000,
        3 | 4 => sign_extend(uint_be(frac), 16) * 100,
        _ => sign_extend(uint_be(frac), 24),
    };
    let (ymd, hms) = packed_datetime_parts(int_part);
    Ok(civil_micros(ymd, hms, micros))
}

/// A calendar date and a time of day.
type DateAndTime = ((i64, u32, u32), (i64, i64, i64));

/// The date and time of `((year * 13 + month) << 5 | day) << 17 | hms`.
fn packed_datetime_parts(ymdhms: i64) -> DateAndTime {
    let ymd = ymdhms >> 17;
    let ym = ymd >> 5;
    let hms = ymdhms & 0x1_FFFF;
    (
        (ym / 13, (ym % 13) as u32, (ymd & 31) as u32),
        (hms >> 12, (hms >> 6) & 63, hms & 63),
    )
}

/// Pre-5.6 DATETIME: the number `YYYYMMDDHHMMSS`. `None` for a zero date.
fn legacy_datetime_micros(b: &[u8]) -> Result<Option<i64>, Fault> {
    let v = uint_le(b);
    if v > 99_991_231_235_959 {
        return Err(Fault::invalid(format!(
            "{v} is not a YYYYMMDDHHMMSS datetime"
        )));
    }
    let v = v as i64;
    let (date, time) = (v / 1_000_000, v % 1_000_000);
    Ok(civil_micros(
        (
            date / 10_000,
            (date / 100 % 100) as u32,
            (date % 100) as u32,
        ),
        (time / 10_000, time / 100 % 100, time % 100),
        0,
    ))
}

fn datetime_value(micros: Option<i64>, fsp: u32, connect_time: bool) -> Value {
    match micros {
        None => Value::Null,
        Some(m) if connect_time || fsp <= 3 => Value::Int(m.div_euclid(1000)),
        Some(m) => Value::Int(m),
    }
}

/// TIMESTAMP2: 4 bytes of seconds, big-endian, then the fraction as for TIME2.
fn timestamp2_micros(b: &[u8], fsp: u8) -> i64 {
    let seconds = uint_be(&b[..4.min(b.len())]) as i64;
    let frac = uint_be(b.get(4..).unwrap_or(&[])) as i64;
    let micros = match fsp {
        0 => 0,
        1 | 2 => frac * 10_000,
        3 | 4 => frac * 100,
        _ => frac,
    };
    seconds * 1_000_000 + micros
}

/// Debezium's ZonedTimestamp with the column's digits; the zero timestamp is NULL.
fn timestamp_value(micros: i64, fsp: u32) -> Value {
    if micros == 0 {
        Value::Null
    } else {
        Value::String(format_utc_timestamp(micros, Fraction::Fixed(fsp)))
    }
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

/// MySQL's binary JSON as JSON text, through `serde_json::Value` as the old decoder did (so
/// object keys come out in the same order under either `serde_json` map).
mod jsonb {
    use super::{take, take_byte, uint_le, BinaryDecimal, Fault};
    use base64::Engine as _;
    use serde_json::Value as Json;

    const SMALL_OBJECT: u8 = 0x00;
    const LARGE_OBJECT: u8 = 0x01;
    const SMALL_ARRAY: u8 = 0x02;
    const LARGE_ARRAY: u8 = 0x03;
    const LITERAL: u8 = 0x04;
    const INT16: u8 = 0x05;
    const UINT16: u8 = 0x06;
    const INT32: u8 = 0x07;
    const UINT32: u8 = 0x08;
    const INT64: u8 = 0x09;
    const UINT64: u8 = 0x0A;
    const DOUBLE: u8 = 0x0B;
    const STRING: u8 = 0x0C;
    const OPAQUE: u8 = 0x0F;

    /// Deeper than MySQL's limit of 100 is not a document the server wrote.
    const MAX_DEPTH: usize = 128;

    /// A document as JSON text; an empty document is `null`, as MySQL reads it.
    pub(super) fn to_text(doc: &[u8]) -> Result<String, Fault> {
        let Some((&ty, data)) = doc.split_first() else {
            return Ok("null".to_string());
        };
        // Every value takes at least one byte of its own, so more values than bytes means
        // offsets that point back into their container.
        let mut budget = doc.len();
        Ok(value(ty, data, 0, &mut budget)?.to_string())
    }

    fn value(ty: u8, data: &[u8], depth: usize, budget: &mut usize) -> Result<Json, Fault> {
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| Fault::invalid("JSON value offsets loop"))?;
        let fixed = |n: usize| data.get(..n).ok_or(Fault::Truncated);
        Ok(match ty {
            SMALL_OBJECT | LARGE_OBJECT | SMALL_ARRAY | LARGE_ARRAY => container(
                data,
                matches!(ty, LARGE_OBJECT | LARGE_ARRAY),
                matches!(ty, SMALL_OBJECT | LARGE_OBJECT),
                depth,
                budget,
            )?,
            LITERAL => literal(fixed(1)?[0])?,
            INT16 => Json::from(super::sign_extend(uint_le(fixed(2)?), 16)),
            UINT16 => Json::from(uint_le(fixed(2)?)),
            INT32 => Json::from(super::sign_extend(uint_le(fixed(4)?), 32)),
            UINT32 => Json::from(uint_le(fixed(4)?)),
            INT64 => Json::from(uint_le(fixed(8)?) as i64),
            UINT64 => Json::from(uint_le(fixed(8)?)),
            DOUBLE => Json::from(f64::from_bits(uint_le(fixed(8)?))),
            STRING => {
                let mut d = data;
                let len = var_length(&mut d)?;
                let s = std::str::from_utf8(take(&mut d, len)?)
                    .map_err(|_| Fault::invalid("a JSON string is not UTF-8"))?;
                Json::String(s.to_string())
            }
            OPAQUE => {
                let mut d = data;
                let field_type = take_byte(&mut d)?;
                let len = var_length(&mut d)?;
                opaque(field_type, take(&mut d, len)?)?
            }
            other => {
                return Err(Fault::invalid(format!(
                    "unknown JSON value type {other:#04x}"
                )))
            }
        })
    }

    fn literal(b: u8) -> Result<Json, Fault> {
        match b {
            0 => Ok(Json::Null),
            1 => Ok(Json::Bool(true)),
            2 => Ok(Json::Bool(false)),
            other => Err(Fault::invalid(format!("unknown JSON literal {other}"))),
        }
    }

    /// An object or array: element count and byte size, key entries (offset, length) for
    /// objects, value entries (type, then an offset or the value itself when it fits),
    /// then the keys and values. Offsets count from the start of the container.
    fn container(
        data: &[u8],
        large: bool,
        object: bool,
        depth: usize,
        budget: &mut usize,
    ) -> Result<Json, Fault> {
        if depth >= MAX_DEPTH {
            return Err(Fault::invalid("JSON is nested too deeply"));
        }
        let w = if large { 4 } else { 2 };
        let mut header = data;
        let count = uint_le(take(&mut header, w)?) as usize;
        let size = uint_le(take(&mut header, w)?) as usize;
        let data = data.get(..size).ok_or(Fault::Truncated)?;
        let key_entry = w + 2;
        let value_entry = 1 + w;
        let keys_at = 2 * w;
        let values_at = keys_at
            + if object {
                count.saturating_mul(key_entry)
            } else {
                0
            };
        count
            .checked_mul(value_entry)
            .and_then(|v| v.checked_add(values_at))
            .filter(|&end| end <= size)
            .ok_or(Fault::Truncated)?;
        let mut map = serde_json::Map::new();
        let mut array = Vec::with_capacity(if object { 0 } else { count });
        for i in 0..count {
            let entry = data
                .get(values_at + i * value_entry..values_at + (i + 1) * value_entry)
                .ok_or(Fault::Truncated)?;
            let (ty, field) = (entry[0], &entry[1..]);
            let inlined = match ty {
                LITERAL | INT16 | UINT16 => true,
                INT32 | UINT32 => large,
                _ => false,
            };
            let v = if inlined {
                value(ty, field, depth + 1, budget)?
            } else {
                let offset = uint_le(field) as usize;
                let at = data.get(offset..).ok_or(Fault::Truncated)?;
                value(ty, at, depth + 1, budget)?
            };
            if object {
                let entry = data
                    .get(keys_at + i * key_entry..keys_at + (i + 1) * key_entry)
                    .ok_or(Fault::Truncated)?;
                let offset = uint_le(&entry[..w]) as usize;
                let len = uint_le(&entry[w..]) as usize;
                let key = offset
                    .checked_add(len)
                    .and_then(|end| data.get(offset..end))
                    .ok_or(Fault::Truncated)?;
                let key = std::str::from_utf8(key)
                    .map_err(|_| Fault::invalid("a JSON key is not UTF-8"))?;
                map.insert(key.to_string(), v);
            } else {
                array.push(v);
            }
        }
        Ok(if object {
            Json::Object(map)
        } else {
            Json::Array(array)
        })
    }

    /// A length in 7-bit groups, least significant first, the high bit marking more.
    fn var_length(buf: &mut &[u8]) -> Result<usize, Fault> {
        let mut n: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = take_byte(buf)?;
            n |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(n as usize);
            }
        }
        Err(Fault::invalid("a JSON length runs past 5 bytes"))
    }

    /// A MySQL value inside JSON (`CAST(... AS JSON)` of a DECIMAL, date or time) as
    /// MySQL's own JSON text shows it; other types as `base64:type<n>:<data>`, as MySQL
    /// prints them. (The old decoder refused documents with such values.)
    fn opaque(field_type: u8, data: &[u8]) -> Result<Json, Fault> {
        const NEWDECIMAL: u8 = 246;
        const DATE: u8 = 10;
        const TIME: u8 = 11;
        const DATETIME: u8 = 12;
        const TIMESTAMP: u8 = 7;
        let packed =
            || -> Result<i64, Fault> { Ok(uint_le(data.get(..8).ok_or(Fault::Truncated)?) as i64) };
        Ok(match field_type {
            NEWDECIMAL => {
                let [precision, scale, bin @ ..] = data else {
                    return Err(Fault::Truncated);
                };
                let mut decimal = BinaryDecimal::EMPTY;
                decimal.read(bin, *precision, *scale, true)?;
                Json::from(decimal.to_f64())
            }
            DATE | DATETIME | TIMESTAMP => {
                let packed = packed()?;
                let micros = packed.unsigned_abs() & 0xFF_FFFF;
                let ((year, month, day), (h, m, s)) =
                    super::packed_datetime_parts((packed.unsigned_abs() >> 24) as i64);
                Json::String(if field_type == DATE {
                    format!("{year:04}-{month:02}-{day:02}")
                } else {
                    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}.{micros:06}")
                })
            }
            TIME => {
                let micros = super::packed_time_micros(packed()?);
                let a = micros.unsigned_abs();
                let seconds = a / 1_000_000;
                Json::String(format!(
                    "{}{:02}:{:02}:{:02}.{:06}",
                    if micros < 0 { "-" } else { "" },
                    seconds / 3600,
                    seconds / 60 % 60,
                    seconds % 60,
                    a % 1_000_000
                ))
            }
            other => Json::String(format!(
                "base64:type{other}:{}",
                base64::engine::general_purpose::STANDARD.encode(data)
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::Value as Old;

    fn options() -> TypeOptions {
        TypeOptions {
            decimal: DecimalMode::Precise,
            bigint_unsigned: BigintUnsignedMode::Long,
            time_precision: TimePrecisionMode::AdaptiveTimeMicroseconds,
        }
    }

    fn with(
        decimal: DecimalMode,
        bigint: BigintUnsignedMode,
        time: TimePrecisionMode,
    ) -> TypeOptions {
        TypeOptions {
            decimal,
            bigint_unsigned: bigint,
            time_precision: time,
        }
    }

    fn all_options() -> Vec<TypeOptions> {
        let mut all = Vec::new();
        for d in [
            DecimalMode::Precise,
            DecimalMode::Double,
            DecimalMode::String,
        ] {
            for b in [BigintUnsignedMode::Long, BigintUnsignedMode::Precise] {
                for t in [
                    TimePrecisionMode::AdaptiveTimeMicroseconds,
                    TimePrecisionMode::Connect,
                ] {
                    all.push(with(d, b, t));
                }
            }
        }
        all
    }

    /// What the old path (mysql_common's value, then `MyType::decode`) gives.
    fn old(ty: &MyType, value: Old, options: &TypeOptions) -> Value {
        ty.decode(&value, options, true)
            .unwrap_or_else(|e| panic!("the old decoder refused {value:?} as {ty:?}: {e}"))
    }

    fn lenenc_bytes(n: usize) -> Vec<u8> {
        match n {
            0..=250 => vec![n as u8],
            251..=0xFFFF => vec![0xFC, n as u8, (n >> 8) as u8],
            0x1_0000..=0xFF_FFFF => vec![0xFD, n as u8, (n >> 8) as u8, (n >> 16) as u8],
            _ => {
                let mut v = vec![0xFE];
                v.extend((n as u64).to_le_bytes());
                v
            }
        }
    }

    /// A column of a hand-built table: type code, metadata, schema type.
    #[derive(Clone)]
    struct Col {
        code: u8,
        meta: Vec<u8>,
        ty: MyType,
    }

    fn col(code: u8, meta: &[u8], ty: MyType) -> Col {
        Col {
            code,
            meta: meta.to_vec(),
            ty,
        }
    }

    fn table_map_body(table_id: u64, cols: &[Col], optional: &[u8]) -> Vec<u8> {
        let mut b = table_id.to_le_bytes()[..6].to_vec();
        b.extend([1, 0]);
        b.extend([2, b'd', b'b', 0, 1, b't', 0]);
        b.extend(lenenc_bytes(cols.len()));
        b.extend(cols.iter().map(|c| c.code));
        let meta: Vec<u8> = cols.iter().flat_map(|c| c.meta.clone()).collect();
        b.extend(lenenc_bytes(meta.len()));
        b.extend(meta);
        b.extend(vec![0xFF; cols.len().div_ceil(8)]);
        b.extend(optional);
        b
    }

    /// A row image over all columns: `None` is NULL, otherwise the value's bytes.
    fn image(values: &[Option<Vec<u8>>]) -> Vec<u8> {
        let mut out = vec![0u8; values.len().div_ceil(8)];
        for (i, v) in values.iter().enumerate() {
            if v.is_none() {
                out[i / 8] |= 1 << (i % 8);
            }
        }
        for v in values.iter().flatten() {
            out.extend(v);
        }
        out
    }

    fn all_columns(n: usize) -> Vec<u8> {
        let mut bitmap = vec![0u8; n.div_ceil(8)];
        for i in 0..n {
            bitmap[i / 8] |= 1 << (i % 8);
        }
        bitmap
    }

    fn rows_body(event_type: u8, table_id: u64, n: usize, rows: &[u8]) -> Vec<u8> {
        let mut b = table_id.to_le_bytes()[..6].to_vec();
        b.extend([1, 0]);
        if matches!(event_type, WRITE_ROWS_EVENT..=DELETE_ROWS_EVENT) {
            b.extend([4, 0, 0xAA, 0xBB]);
        }
        b.extend(lenenc_bytes(n));
        b.extend(all_columns(n));
        if is_rows_event(event_type) == Some(RowsKind::Update) {
            b.extend(all_columns(n));
        }
        b.extend(rows);
        b
    }

    fn decoders(cols: &[Col]) -> Vec<ColumnDecoder> {
        cols.iter()
            .map(|c| ColumnDecoder {
                ty: c.ty.clone(),
                included: true,
            })
            .collect()
    }

    /// Inserts of `rows` into a table of `cols`, decoded.
    fn decode_inserts(
        cols: &[Col],
        rows: &[Vec<Option<Vec<u8>>>],
        options: &TypeOptions,
    ) -> Result<Vec<Row>, RowsError> {
        let map = TableMap::decode(&table_map_body(7, cols, &[]))?;
        let bytes: Vec<u8> = rows.iter().flat_map(|r| image(r)).collect();
        let body = rows_body(WRITE_ROWS_EVENT_V1, 7, cols.len(), &bytes);
        let event = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body)?;
        let decoders = decoders(cols);
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options,
        };
        event
            .changes(ctx)?
            .map(|c| c.map(|c| c.after.expect("an insert has an after image")))
            .collect()
    }

    /// One value of one column, decoded.
    fn one(column: &Col, bytes: &[u8], options: &TypeOptions) -> Result<Value, RowsError> {
        let rows = decode_inserts(
            std::slice::from_ref(column),
            &[vec![Some(bytes.to_vec())]],
            options,
        )?;
        Ok(rows[0].0[0].clone())
    }

    fn ok(column: &Col, bytes: &[u8], options: &TypeOptions) -> Value {
        one(column, bytes, options)
            .unwrap_or_else(|e| panic!("{:?} {bytes:02x?} does not decode: {e}", column.ty))
    }

    #[test]
    fn integers_of_every_width_keep_their_extremes() {
        for (code, bytes) in [(1u8, 1u8), (2, 2), (9, 3), (3, 4), (8, 8)] {
            let bits = 8 * u32::from(bytes);
            let min = -(1i128 << (bits - 1));
            let max = (1i128 << (bits - 1)) - 1;
            let umax = (1i128 << bits) - 1;
            let encode = |n: i128| n.to_le_bytes()[..usize::from(bytes)].to_vec();
            for o in all_options() {
                let signed = col(
                    code,
                    &[],
                    MyType::Int {
                        bytes,
                        unsigned: false,
                    },
                );
                for n in [min, -1, 0, 1, max] {
                    let got = ok(&signed, &encode(n), &o);
                    assert_eq!(got, Value::Int(n as i64), "signed {bytes}-byte {n}");
                    assert_eq!(got, old(&signed.ty, Old::Int(n as i64), &o));
                }
                let unsigned = col(
                    code,
                    &[],
                    MyType::Int {
                        bytes,
                        unsigned: true,
                    },
                );
                for n in [0, 1, max, max + 1, umax] {
                    let got = ok(&unsigned, &encode(n), &o);
                    assert_eq!(
                        got,
                        old(&unsigned.ty, Old::UInt(n as u64), &o),
                        "unsigned {bytes}-byte {n}"
                    );
                    // mysql_common hands narrow unsigned values over as bit patterns too.
                    assert_eq!(got, old(&unsigned.ty, Old::Int(n as i64), &o));
                }
            }
        }
    }

    #[test]
    fn unsigned_bigint_max_is_minus_one_or_a_precise_decimal() {
        let c = col(
            8,
            &[],
            MyType::Int {
                bytes: 8,
                unsigned: true,
            },
        );
        let max = u64::MAX.to_le_bytes();
        assert_eq!(ok(&c, &max, &options()), Value::Int(-1));
        let precise = with(
            DecimalMode::Precise,
            BigintUnsignedMode::Precise,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        );
        assert_eq!(
            ok(&c, &max, &precise),
            Value::Decimal {
                unscaled: twos_complement("18446744073709551615", false),
                scale: 0
            }
        );
        assert_eq!(
            ok(&c, &0u64.to_le_bytes(), &precise),
            Value::Decimal {
                unscaled: vec![0],
                scale: 0
            }
        );
    }

    #[test]
    fn minimal_twos_complement_matches_the_digit_conversion() {
        let mut values: Vec<i128> = vec![0, 1, -1, 127, 128, -128, -129, 255, 256, -256, -257];
        let mut x: i128 = 1;
        for _ in 0..126 {
            values.extend([x - 1, x, x + 1, -x + 1, -x, -x - 1]);
            x <<= 1;
        }
        values.extend([
            i128::MAX,
            i128::MIN + 1,
            10i128.pow(38) - 1,
            -(10i128.pow(38) - 1),
        ]);
        for n in values {
            assert_eq!(
                minimal_twos_complement(n),
                twos_complement(&n.unsigned_abs().to_string(), n < 0),
                "{n}"
            );
        }
    }

    #[test]
    fn tinyint_1_is_a_small_signed_integer() {
        let c = col(1, &[], MyType::Bool);
        for n in [-128i8, -1, 0, 1, 127] {
            assert_eq!(
                ok(&c, &n.to_le_bytes(), &options()),
                Value::Int(i64::from(n))
            );
            assert_eq!(
                ok(&c, &n.to_le_bytes(), &options()),
                old(&c.ty, Old::Int(i64::from(n)), &options())
            );
        }
    }

    #[test]
    fn floats_and_doubles_keep_their_bits() {
        let f = col(4, &[4], MyType::Float);
        for x in [0.0f32, -0.0, 1.5, -2.25e-10, f32::MAX, f32::MIN_POSITIVE] {
            assert_eq!(ok(&f, &x.to_le_bytes(), &options()), Value::Float32(x));
            assert_eq!(
                ok(&f, &x.to_le_bytes(), &options()),
                old(&f.ty, Old::Float(x), &options())
            );
        }
        let d = col(5, &[8], MyType::Double);
        for x in [0.0f64, std::f64::consts::PI, -1e300, f64::MIN_POSITIVE] {
            assert_eq!(ok(&d, &x.to_le_bytes(), &options()), Value::Float64(x));
        }
    }

    /// MySQL's binary DECIMAL of a number written as `[-]int[.frac]`, from the format's
    /// description (groups of 9 digits, leftover digits in the fewest bytes, first bit
    /// inverted, negative numbers inverted).
    fn encode_decimal(text: &str, precision: usize, scale: usize) -> Vec<u8> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let int = int.trim_start_matches('0');
        let intg = precision - scale;
        let digits = format!("{int:0>intg$}{frac:0<scale$}");
        assert_eq!(
            digits.len(),
            precision,
            "{text} does not fit ({precision},{scale})"
        );
        let mut groups = Vec::new();
        let (int_digits, frac_digits) = digits.split_at(intg);
        let lead = intg % 9;
        groups.push(&int_digits[..lead]);
        groups.extend(
            int_digits.as_bytes()[lead..]
                .chunks(9)
                .map(|c| std::str::from_utf8(c).unwrap()),
        );
        groups.extend(
            frac_digits
                .as_bytes()
                .chunks(9)
                .map(|c| std::str::from_utf8(c).unwrap()),
        );
        let mut out: Vec<u8> = Vec::new();
        for g in groups.into_iter().filter(|g| !g.is_empty()) {
            let width = if g.len() == 9 {
                4
            } else {
                DIGITS_TO_BYTES[g.len()]
            };
            let v: u32 = g.parse().unwrap();
            out.extend(&v.to_be_bytes()[4 - width..]);
        }
        if negative {
            for b in &mut out {
                *b = !*b;
            }
        }
        out[0] ^= 0x80;
        out
    }

    #[test]
    fn decimals_match_the_mysql_documentation_bytes() {
        assert_eq!(
            encode_decimal("1234567890.1234", 14, 4),
            [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2]
        );
        assert_eq!(
            encode_decimal("-1234567890.1234", 14, 4),
            [0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D]
        );
        let c = col(
            246,
            &[14, 4],
            MyType::Decimal {
                precision: 14,
                scale: 4,
            },
        );
        let s = with(
            DecimalMode::String,
            BigintUnsignedMode::Long,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        );
        assert_eq!(
            ok(&c, &[0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D], &s),
            Value::String("-1234567890.1234".into())
        );
    }

    #[test]
    fn decimals_equal_the_old_path_in_every_mode() {
        // (precision, scale, the value as the server writes it)
        let cases: &[(usize, usize, &str)] = &[
            (10, 2, "1234.56"),
            (10, 2, "-1234.56"),
            (10, 2, "0.05"),
            (10, 2, "-0.05"),
            (10, 2, "0.00"),
            (10, 2, "99999999.99"),
            (10, 2, "-99999999.99"),
            (5, 0, "0"),
            (5, 0, "12345"),
            (5, 0, "-12345"),
            (1, 0, "-9"),
            (4, 4, "0.1234"),
            (4, 4, "-0.0001"),
            (9, 9, "0.123456789"),
            (18, 9, "123456789.123456789"),
            (19, 0, "-1000000000000000000"),
            (30, 10, "12345678901234567890.0123456789"),
            (30, 10, "-12345678901234567890.0123456789"),
            (30, 10, "1.0000000001"),
            (38, 0, "99999999999999999999999999999999999999"),
            (38, 0, "-99999999999999999999999999999999999999"),
            (38, 38, "0.99999999999999999999999999999999999999"),
            (39, 0, "-999999999999999999999999999999999999999"),
            (
                65,
                30,
                "12345678901234567890123456789012345.123456789012345678901234567890",
            ),
            (65, 30, "-0.000000000000000000000000000001"),
            (
                65,
                0,
                "-99999999999999999999999999999999999999999999999999999999999999999",
            ),
            (20, 0, "1000000000"),
            (20, 0, "12345678901234567890"),
        ];
        for &(p, s, text) in cases {
            let c = col(
                246,
                &[p as u8, s as u8],
                MyType::Decimal {
                    precision: p as u32,
                    scale: s as u32,
                },
            );
            let bytes = encode_decimal(text, p, s);
            assert_eq!(bytes.len(), decimal_size(p as u8, s as u8));
            for o in all_options() {
                assert_eq!(
                    ok(&c, &bytes, &o),
                    old(&c.ty, Old::Bytes(text.as_bytes().to_vec()), &o),
                    "DECIMAL({p},{s}) {text} under {:?}",
                    o.decimal
                );
            }
        }
    }

    #[test]
    fn a_negative_zero_decimal_prints_like_mysql_common() {
        // Never written by the server, but the old path printed "-0.00" and "0".
        let c = col(
            246,
            &[5, 2],
            MyType::Decimal {
                precision: 5,
                scale: 2,
            },
        );
        let s = with(
            DecimalMode::String,
            BigintUnsignedMode::Long,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        );
        let zero = encode_decimal("-0.00", 5, 2);
        assert_eq!(ok(&c, &zero, &s), Value::String("-0.00".into()));
        let c = col(
            246,
            &[5, 0],
            MyType::Decimal {
                precision: 5,
                scale: 0,
            },
        );
        assert_eq!(
            ok(&c, &encode_decimal("-0", 5, 0), &s),
            Value::String("0".into())
        );
        assert_eq!(
            ok(&c, &encode_decimal("-0", 5, 0), &options()),
            Value::Decimal {
                unscaled: vec![0],
                scale: 0
            }
        );
    }

    #[test]
    fn a_decimal_group_over_its_digits_is_an_error() {
        let c = col(
            246,
            &[2, 0],
            MyType::Decimal {
                precision: 2,
                scale: 0,
            },
        );
        let err = one(&c, &[0x80 | 100], &options()).unwrap_err();
        assert!(
            err.to_string().contains("not a group of 2 decimal digits"),
            "{err}"
        );
    }

    #[test]
    fn bits_are_little_endian_and_bit_1_is_a_boolean() {
        let b1 = col(16, &[1, 0], MyType::Bit1);
        assert_eq!(ok(&b1, &[1], &options()), Value::Bool(true));
        assert_eq!(ok(&b1, &[0], &options()), Value::Bool(false));
        let b10 = col(16, &[2, 1], MyType::Bits { length: 10 });
        // b'1000000001' = 0x0201, big-endian in the binlog.
        assert_eq!(
            ok(&b10, &[0x02, 0x01], &options()),
            Value::Bytes(vec![0x01, 0x02])
        );
        assert_eq!(
            ok(&b10, &[0x02, 0x01], &options()),
            old(&b10.ty, Old::Bytes(vec![0x02, 0x01]), &options())
        );
        let b64 = col(16, &[0, 8], MyType::Bits { length: 64 });
        let v = [0x80, 0, 0, 0, 0, 0, 0, 0x01];
        assert_eq!(
            ok(&b64, &v, &options()),
            Value::Bytes(vec![0x01, 0, 0, 0, 0, 0, 0, 0x80])
        );
    }

    fn date_bytes(y: u32, m: u32, d: u32) -> Vec<u8> {
        let v = y << 9 | m << 5 | d;
        v.to_le_bytes()[..3].to_vec()
    }

    #[test]
    fn dates_count_days_and_the_zero_date_is_null() {
        for code in [10, 14] {
            let c = col(code, &[], MyType::Date);
            for (y, m, d) in [
                (1970, 1, 1),
                (2020, 1, 2),
                (1000, 1, 1),
                (9999, 12, 31),
                (1969, 12, 31),
            ] {
                assert_eq!(
                    ok(&c, &date_bytes(y, m, d), &options()),
                    old(
                        &c.ty,
                        Old::Date(y as u16, m as u8, d as u8, 0, 0, 0, 0),
                        &options()
                    )
                );
            }
            assert_eq!(
                ok(&c, &date_bytes(2020, 1, 2), &options()),
                Value::Int(18263)
            );
            assert_eq!(ok(&c, &date_bytes(0, 0, 0), &options()), Value::Null);
            assert_eq!(ok(&c, &date_bytes(2020, 0, 1), &options()), Value::Null);
        }
    }

    /// MySQL's `my_time_packed_to_binary` of a time given as micros.
    fn encode_time2(micros: i64, fsp: u8) -> Vec<u8> {
        let negative = micros < 0;
        let a = micros.abs();
        let (secs, us) = (a / 1_000_000, a % 1_000_000);
        let hms = ((secs / 3600) << 12) | ((secs / 60 % 60) << 6) | (secs % 60);
        let packed = if negative {
            -((hms << 24) + us)
        } else {
            (hms << 24) + us
        };
        let int_part = packed >> 24;
        let frac = packed % (1 << 24);
        let mut out = ((0x80_0000 + int_part) as u32).to_be_bytes()[1..].to_vec();
        match fsp {
            0 => {}
            1 | 2 => out.push((frac / 10_000) as i8 as u8),
            3 | 4 => out.extend(((frac / 100) as i16).to_be_bytes()),
            _ => out = ((packed + 0x8000_0000_0000) as u64).to_be_bytes()[2..].to_vec(),
        }
        out
    }

    fn micros(negative: bool, h: i64, m: i64, s: i64, us: i64) -> i64 {
        let v = ((h * 60 + m) * 60 + s) * 1_000_000 + us;
        if negative {
            -v
        } else {
            v
        }
    }

    #[test]
    fn negative_time2_with_a_fraction_decodes_at_every_precision() {
        // (fsp, bytes as the server writes them, the time)
        let cases: &[(u8, &[u8], i64)] = &[
            (1, &[0x7F, 0xFF, 0xFF, 0xF6], micros(true, 0, 0, 0, 100_000)),
            (2, &[0x7F, 0xFF, 0xFF, 0xF6], micros(true, 0, 0, 0, 100_000)),
            (
                1,
                &[0x4B, 0x91, 0x04, 0xA6],
                micros(true, 838, 59, 59, 900_000),
            ),
            (
                2,
                &[0x4B, 0x91, 0x04, 0x9D],
                micros(true, 838, 59, 59, 990_000),
            ),
            (2, &[0x7F, 0xFF, 0xFE, 0xFF], micros(true, 0, 0, 1, 10_000)),
            (2, &[0x7F, 0xFF, 0xFF, 0x9D], micros(true, 0, 0, 0, 990_000)),
            (1, &[0x7F, 0xEF, 0xFF, 0xCE], micros(true, 1, 0, 0, 500_000)),
            (2, &[0x7F, 0xEF, 0xFF, 0xCE], micros(true, 1, 0, 0, 500_000)),
            (
                3,
                &[0x7F, 0xEF, 0xFF, 0xEC, 0x78],
                micros(true, 1, 0, 0, 500_000),
            ),
            (
                4,
                &[0x7F, 0xEF, 0xFF, 0xEC, 0x78],
                micros(true, 1, 0, 0, 500_000),
            ),
            (
                3,
                &[0x7F, 0x37, 0x47, 0xE1, 0x2E],
                micros(true, 12, 34, 56, 789_000),
            ),
            (
                5,
                &[0x7F, 0xEF, 0xFF, 0xF8, 0x5E, 0xE0],
                micros(true, 1, 0, 0, 500_000),
            ),
            (
                6,
                &[0x7F, 0xEF, 0xFF, 0xF8, 0x5E, 0xE0],
                micros(true, 1, 0, 0, 500_000),
            ),
            (
                6,
                &[0x4B, 0x91, 0x04, 0xF0, 0xBD, 0xC1],
                micros(true, 838, 59, 59, 999_999),
            ),
            (
                6,
                &[0xB4, 0x6E, 0xFB, 0x0F, 0x42, 0x3F],
                micros(false, 838, 59, 59, 999_999),
            ),
            (
                6,
                &[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                micros(true, 0, 0, 0, 1),
            ),
        ];
        for &(fsp, bytes, expected) in cases {
            assert_eq!(
                encode_time2(expected, fsp),
                bytes,
                "encoding {expected} at {fsp}"
            );
            let c = col(
                19,
                &[fsp],
                MyType::Time {
                    fsp: u32::from(fsp),
                },
            );
            assert_eq!(
                ok(&c, bytes, &options()),
                Value::Int(expected),
                "TIME({fsp}) {bytes:02x?}"
            );
            let connect = with(
                DecimalMode::Precise,
                BigintUnsignedMode::Long,
                TimePrecisionMode::Connect,
            );
            assert_eq!(ok(&c, bytes, &connect), Value::Int(expected / 1000));
        }
    }

    #[test]
    fn time2_round_trips_at_every_precision() {
        for fsp in 0u8..=6 {
            let unit = 10i64.pow(6 - u32::from(fsp));
            let c = col(
                19,
                &[fsp],
                MyType::Time {
                    fsp: u32::from(fsp),
                },
            );
            for negative in [false, true] {
                for (h, m, s, us) in [
                    (0, 0, 0, 0),
                    (0, 0, 0, 999_999),
                    (0, 0, 1, 0),
                    (0, 0, 1, 1),
                    (1, 0, 0, 500_000),
                    (23, 59, 59, 10_000),
                    (24, 0, 0, 0),
                    (838, 59, 59, 999_999),
                ] {
                    let t = micros(negative, h, m, s, us / unit * unit);
                    let bytes = encode_time2(t, fsp);
                    assert_eq!(ok(&c, &bytes, &options()), Value::Int(t), "TIME({fsp}) {t}");
                    // The old path agrees wherever mysql_common reads the value right.
                    if !(negative && (fsp == 1 || fsp == 2) && us / unit != 0) {
                        let a = t.unsigned_abs();
                        let secs = a / 1_000_000;
                        let mysql = Old::Time(
                            t < 0,
                            (secs / 86_400) as u32,
                            (secs / 3600 % 24) as u8,
                            (secs / 60 % 60) as u8,
                            (secs % 60) as u8,
                            (a % 1_000_000) as u32,
                        );
                        assert_eq!(ok(&c, &bytes, &options()), old(&c.ty, mysql, &options()));
                    }
                }
            }
        }
    }

    fn encode_datetime2(parts: (u32, u32, u32, u32, u32, u32), us: u32, fsp: u8) -> Vec<u8> {
        let (y, mo, d, h, mi, s) = parts;
        let ymd = u64::from((y * 13 + mo) << 5 | d);
        let hms = u64::from(h << 12 | mi << 6 | s);
        let int_part = ymd << 17 | hms;
        let mut out = (int_part + 0x80_0000_0000).to_be_bytes()[3..].to_vec();
        out.extend(frac_bytes_of(us, fsp));
        out
    }

    fn frac_bytes_of(us: u32, fsp: u8) -> Vec<u8> {
        match fsp {
            0 => vec![],
            1 | 2 => vec![(us / 10_000) as u8],
            3 | 4 => ((us / 100) as u16).to_be_bytes().to_vec(),
            _ => us.to_be_bytes()[1..].to_vec(),
        }
    }

    #[test]
    fn datetime2_gives_millis_up_to_fsp_3_and_micros_above() {
        for fsp in 0u8..=6 {
            let unit = 10u32.pow(6 - u32::from(fsp));
            let c = col(
                18,
                &[fsp],
                MyType::DateTime {
                    fsp: u32::from(fsp),
                },
            );
            for (parts, us) in [
                ((2020, 1, 2, 3, 4, 5), 678_901),
                ((1000, 1, 1, 0, 0, 0), 0),
                ((9999, 12, 31, 23, 59, 59), 999_999),
                ((1969, 12, 31, 23, 59, 59), 500_000),
            ] {
                let us = us / unit * unit;
                let bytes = encode_datetime2(parts, us, fsp);
                let (y, mo, d, h, mi, s) = parts;
                let mysql = Old::Date(y as u16, mo as u8, d as u8, h as u8, mi as u8, s as u8, us);
                for o in all_options() {
                    assert_eq!(
                        ok(&c, &bytes, &o),
                        old(&c.ty, mysql.clone(), &o),
                        "{parts:?} {fsp}"
                    );
                }
            }
            assert_eq!(
                ok(
                    &c,
                    &encode_datetime2((0, 0, 0, 0, 0, 0), 0, fsp),
                    &options()
                ),
                Value::Null
            );
        }
        let c = col(18, &[6], MyType::DateTime { fsp: 6 });
        assert_eq!(
            ok(
                &c,
                &encode_datetime2((1970, 1, 1, 0, 0, 1), 2, 6),
                &options()
            ),
            Value::Int(1_000_002)
        );
        let c = col(18, &[3], MyType::DateTime { fsp: 3 });
        assert_eq!(
            ok(
                &c,
                &encode_datetime2((1969, 12, 31, 23, 59, 59), 999_000, 3),
                &options()
            ),
            Value::Int(-1)
        );
    }

    #[test]
    fn timestamp2_is_a_utc_string_with_the_columns_digits() {
        for fsp in 0u8..=6 {
            let c = col(
                17,
                &[fsp],
                MyType::Timestamp {
                    fsp: u32::from(fsp),
                },
            );
            let unit = 10u32.pow(6 - u32::from(fsp));
            for (secs, us) in [
                (1u32, 0u32),
                (1_600_000_000, 123_456),
                (2_147_483_647, 999_999),
            ] {
                let us = us / unit * unit;
                let mut bytes = secs.to_be_bytes().to_vec();
                bytes.extend(frac_bytes_of(us, fsp));
                let text = if us == 0 {
                    secs.to_string()
                } else {
                    format!("{secs}.{us:06}")
                };
                assert_eq!(
                    ok(&c, &bytes, &options()),
                    old(&c.ty, Old::Bytes(text.into_bytes()), &options()),
                    "TIMESTAMP({fsp}) {secs}.{us}"
                );
            }
            let mut zero = vec![0; 4];
            zero.extend(frac_bytes_of(0, fsp));
            assert_eq!(ok(&c, &zero, &options()), Value::Null);
        }
        let c = col(17, &[3], MyType::Timestamp { fsp: 3 });
        let mut bytes = 1_600_000_000u32.to_be_bytes().to_vec();
        bytes.extend(1230u16.to_be_bytes());
        assert_eq!(
            ok(&c, &bytes, &options()),
            Value::String("2020-09-13T12:26:40.123Z".into())
        );
    }

    #[test]
    fn legacy_temporal_types_decode() {
        let t = col(11, &[], MyType::Time { fsp: 0 });
        let encode = |v: i32| v.to_le_bytes()[..3].to_vec();
        assert_eq!(
            ok(&t, &encode(123_456), &options()),
            Value::Int(micros(false, 12, 34, 56, 0))
        );
        assert_eq!(
            ok(&t, &encode(123_456), &options()),
            old(&t.ty, Old::Time(false, 0, 12, 34, 56, 0), &options())
        );
        // Negative and long times, which mysql_common reads wrongly.
        assert_eq!(
            ok(&t, &encode(-8_385_959), &options()),
            Value::Int(micros(true, 838, 59, 59, 0))
        );
        assert_eq!(ok(&t, &encode(-1), &options()), Value::Int(-1_000_000));
        let dt = col(12, &[], MyType::DateTime { fsp: 0 });
        let v: u64 = 20_200_102_030_405;
        assert_eq!(
            ok(&dt, &v.to_le_bytes(), &options()),
            old(&dt.ty, Old::Date(2020, 1, 2, 3, 4, 5, 0), &options())
        );
        assert_eq!(ok(&dt, &0u64.to_le_bytes(), &options()), Value::Null);
        let ts = col(7, &[], MyType::Timestamp { fsp: 0 });
        assert_eq!(
            ok(&ts, &1_600_000_000u32.to_le_bytes(), &options()),
            old(&ts.ty, Old::Int(1_600_000_000), &options())
        );
        assert_eq!(ok(&ts, &0u32.to_le_bytes(), &options()), Value::Null);
        // A pre-5.6 column with a fraction in the schema is another format: refused.
        let t3 = col(11, &[], MyType::Time { fsp: 3 });
        assert!(one(&t3, &encode(1), &options()).is_err());
    }

    #[test]
    fn years_count_from_1900_also_the_zero_year() {
        let c = col(13, &[], MyType::Year);
        assert_eq!(ok(&c, &[0], &options()), Value::Int(1900));
        assert_eq!(ok(&c, &[1], &options()), Value::Int(1901));
        assert_eq!(ok(&c, &[255], &options()), Value::Int(2155));
        assert_eq!(
            ok(&c, &[121], &options()),
            old(&c.ty, Old::Bytes(b"2021".to_vec()), &options())
        );
    }

    #[test]
    fn strings_read_their_length_prefix_and_charset() {
        let short = col(15, &[20, 0], MyType::Text { latin1: false });
        assert_eq!(
            ok(&short, b"\x03ab\xc3\xa9"[..4].as_ref(), &options()),
            Value::String("ab\u{fffd}".into())
        );
        assert_eq!(
            ok(&short, b"\x04ab\xc3\xa9", &options()),
            Value::String("abé".into())
        );
        let long = col(15, &[0x2C, 0x01], MyType::Text { latin1: false });
        let text = "x".repeat(300);
        let mut bytes = 300u16.to_le_bytes().to_vec();
        bytes.extend(text.as_bytes());
        assert_eq!(ok(&long, &bytes, &options()), Value::String(text));
        let latin1 = col(15, &[10, 0], MyType::Text { latin1: true });
        let bytes = b"\x03a\xe9\x7f";
        assert_eq!(
            ok(&latin1, bytes, &options()),
            Value::String("a\u{e9}\u{7f}".into())
        );
        assert_eq!(
            ok(&latin1, bytes, &options()),
            old(&latin1.ty, Old::Bytes(bytes[1..].to_vec()), &options())
        );
        // MySQL's latin1 is cp1252 with its five holes kept (what the server's own
        // CONVERT(... USING utf8mb4) gives for x'80818D8F909D9F').
        let bytes = b"\x07\x80\x81\x8d\x8f\x90\x9d\x9f";
        assert_eq!(
            ok(&latin1, bytes, &options()),
            Value::String("\u{20ac}\u{81}\u{8d}\u{8f}\u{90}\u{9d}\u{178}".into())
        );
        // CHAR(100) utf8mb4: 400 bytes, the length's high bits folded into the real type.
        let chr = col(254, &[0xEE, 0x90], MyType::Text { latin1: false });
        let text = "é".repeat(150);
        let mut bytes = (text.len() as u16).to_le_bytes().to_vec();
        bytes.extend(text.as_bytes());
        assert_eq!(ok(&chr, &bytes, &options()), Value::String(text));
        for pack in 1..=4u8 {
            let blob = col(252, &[pack], MyType::Text { latin1: false });
            let mut bytes = 5u32.to_le_bytes()[..usize::from(pack)].to_vec();
            bytes.extend(b"hello");
            assert_eq!(ok(&blob, &bytes, &options()), Value::String("hello".into()));
        }
        // MariaDB's JSON is a LONGTEXT.
        let json = col(252, &[4], MyType::Json);
        let mut bytes = 7u32.to_le_bytes().to_vec();
        bytes.extend(b"{\"a\":1}");
        assert_eq!(
            ok(&json, &bytes, &options()),
            Value::String("{\"a\":1}".into())
        );
    }

    #[test]
    fn binary_columns_are_padded_to_their_length() {
        let b4 = col(254, &[0xFE, 4], MyType::Binary { pad_to: Some(4) });
        assert_eq!(
            ok(&b4, b"\x02\x01\x02", &options()),
            Value::Bytes(vec![1, 2, 0, 0])
        );
        assert_eq!(
            ok(&b4, b"\x02\x01\x02", &options()),
            old(&b4.ty, Old::Bytes(vec![1, 2]), &options())
        );
        assert_eq!(ok(&b4, b"\x00", &options()), Value::Bytes(vec![0, 0, 0, 0]));
        let vb = col(15, &[10, 0], MyType::Binary { pad_to: None });
        assert_eq!(ok(&vb, b"\x01\xff", &options()), Value::Bytes(vec![0xFF]));
    }

    #[test]
    fn enums_and_sets_become_their_labels() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let e = col(
            254,
            &[0xF7, 1],
            MyType::Enum {
                labels: labels.clone(),
            },
        );
        assert_eq!(ok(&e, &[2], &options()), Value::String("b".into()));
        assert_eq!(ok(&e, &[0], &options()), Value::String(String::new()));
        assert_eq!(ok(&e, &[9], &options()), Value::String(String::new()));
        assert_eq!(
            ok(&e, &[3], &options()),
            old(&e.ty, Old::Int(3), &options())
        );
        let e2 = col(
            254,
            &[0xF7, 2],
            MyType::Enum {
                labels: labels.clone(),
            },
        );
        assert_eq!(ok(&e2, &[1, 0], &options()), Value::String("a".into()));
        let s = col(
            254,
            &[0xF8, 1],
            MyType::Set {
                labels: labels.clone(),
            },
        );
        assert_eq!(ok(&s, &[0b101], &options()), Value::String("a,c".into()));
        assert_eq!(ok(&s, &[0], &options()), Value::String(String::new()));
        assert_eq!(
            ok(&s, &[0b111], &options()),
            old(&s.ty, Old::Bytes(vec![0b111]), &options())
        );
        let empty_first = col(
            254,
            &[0xF8, 1],
            MyType::Set {
                labels: vec![String::new(), "x".into()],
            },
        );
        assert_eq!(
            ok(&empty_first, &[0b11], &options()),
            old(&empty_first.ty, Old::Bytes(vec![0b11]), &options())
        );
        let many: Vec<String> = (0..64).map(|i| format!("l{i}")).collect();
        let s8 = col(
            254,
            &[0xF8, 8],
            MyType::Set {
                labels: many.clone(),
            },
        );
        assert_eq!(
            ok(&s8, &(1u64 << 63 | 1).to_le_bytes(), &options()),
            Value::String("l0,l63".into())
        );
    }

    /// A JSON value for building MySQL binary JSON in tests.
    enum J {
        Null,
        Bool(bool),
        I16(i16),
        I32(i32),
        I64(i64),
        U64(u64),
        F64(f64),
        Str(String),
        Arr(Vec<J>),
        Obj(Vec<(String, J)>),
        Opaque(u8, Vec<u8>),
    }

    /// The type byte and value bytes of `j` in MySQL's binary JSON.
    fn jsonb(j: &J, large: bool) -> (u8, Vec<u8>) {
        match j {
            J::Null => (0x04, vec![0]),
            J::Bool(b) => (0x04, vec![if *b { 1 } else { 2 }]),
            J::I16(x) => (0x05, x.to_le_bytes().to_vec()),
            J::I32(x) => (0x07, x.to_le_bytes().to_vec()),
            J::I64(x) => (0x09, x.to_le_bytes().to_vec()),
            J::U64(x) => (0x0A, x.to_le_bytes().to_vec()),
            J::F64(x) => (0x0B, x.to_le_bytes().to_vec()),
            J::Str(s) => {
                let mut out = var_len(s.len());
                out.extend(s.as_bytes());
                (0x0C, out)
            }
            J::Opaque(t, data) => {
                let mut out = vec![*t];
                out.extend(var_len(data.len()));
                out.extend(data);
                (0x0F, out)
            }
            J::Arr(items) => (
                if large { 0x03 } else { 0x02 },
                container(items.iter().map(|v| (None, v)).collect(), large),
            ),
            J::Obj(items) => (
                if large { 0x01 } else { 0x00 },
                container(
                    items.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
                    large,
                ),
            ),
        }
    }

    fn var_len(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (n & 0x7F) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn container(items: Vec<(Option<&str>, &J)>, large: bool) -> Vec<u8> {
        let w = if large { 4 } else { 2 };
        let object = items.first().is_some_and(|(k, _)| k.is_some());
        let n = items.len();
        let entries = if object { n * (w + 2) } else { 0 } + n * (1 + w);
        let mut keys: Vec<u8> = Vec::new();
        let mut key_entries: Vec<u8> = Vec::new();
        let start = 2 * w + entries;
        let key_total: usize = items.iter().map(|(k, _)| k.map_or(0, str::len)).sum();
        for (k, _) in &items {
            if let Some(k) = k {
                key_entries.extend(&((start + keys.len()) as u32).to_le_bytes()[..w]);
                key_entries.extend((k.len() as u16).to_le_bytes());
                keys.extend(k.as_bytes());
            }
        }
        let mut values = Vec::new();
        let mut value_entries = Vec::new();
        for (_, v) in &items {
            let (t, bytes) = jsonb(v, large);
            let inline = matches!(t, 0x04..=0x06) || (large && matches!(t, 0x07 | 0x08));
            value_entries.push(t);
            if inline {
                let mut field = bytes.clone();
                field.resize(w, 0);
                value_entries.extend(field);
            } else {
                value_entries
                    .extend(&((start + key_total + values.len()) as u32).to_le_bytes()[..w]);
                values.extend(bytes);
            }
        }
        let size = start + keys.len() + values.len();
        let mut out = (n as u32).to_le_bytes()[..w].to_vec();
        out.extend(&(size as u32).to_le_bytes()[..w]);
        out.extend(key_entries);
        out.extend(value_entries);
        out.extend(keys);
        out.extend(values);
        out
    }

    fn doc(j: &J, large: bool) -> Vec<u8> {
        let (t, bytes) = jsonb(j, large);
        let mut out = vec![t];
        out.extend(bytes);
        out
    }

    fn json_column(document: &[u8]) -> Value {
        let c = col(245, &[4], MyType::Json);
        let mut bytes = (document.len() as u32).to_le_bytes().to_vec();
        bytes.extend(document);
        ok(&c, &bytes, &options())
    }

    #[test]
    fn binary_json_becomes_json_text() {
        let sample = || {
            J::Obj(vec![
                ("a".into(), J::I16(1)),
                (
                    "bb".into(),
                    J::Arr(vec![J::Bool(true), J::Null, J::Str("x\"y".into())]),
                ),
                ("c".into(), J::F64(1.5)),
                ("d".into(), J::I64(-9_000_000_000)),
                ("e".into(), J::U64(u64::MAX)),
                ("f".into(), J::I32(-70_000)),
                ("long".into(), J::Str("é".repeat(100))),
                ("nested".into(), J::Obj(vec![("k".into(), J::Arr(vec![]))])),
            ])
        };
        let expected = serde_json::json!({
            "a": 1, "bb": [true, null, "x\"y"], "c": 1.5, "d": -9_000_000_000i64,
            "e": u64::MAX, "f": -70_000, "long": "é".repeat(100), "nested": {"k": []}
        })
        .to_string();
        for large in [false, true] {
            assert_eq!(
                json_column(&doc(&sample(), large)),
                Value::String(expected.clone()),
                "large: {large}"
            );
        }
        assert_eq!(json_column(&[]), Value::String("null".into()));
        assert_eq!(
            json_column(&doc(&J::Str("top".into()), false)),
            Value::String("\"top\"".into())
        );
        assert_eq!(
            json_column(&doc(&J::I16(-5), false)),
            Value::String("-5".into())
        );
    }

    #[test]
    fn json_opaque_values_print_as_mysql_shows_them() {
        let date_packed: i64 = (((2020 * 13 + 1) << 5 | 2) << 17) << 24;
        let datetime_packed: i64 =
            ((((2020 * 13 + 1) << 5 | 2) << 17 | (3 << 12 | 4 << 6 | 5)) << 24) + 500_000;
        let time_packed: i64 = -(((1 << 12) << 24) + 250_000);
        let mut decimal = vec![5, 2];
        decimal.extend(encode_decimal("-12.50", 5, 2));
        let j = J::Arr(vec![
            J::Opaque(10, date_packed.to_le_bytes().to_vec()),
            J::Opaque(12, datetime_packed.to_le_bytes().to_vec()),
            J::Opaque(11, time_packed.to_le_bytes().to_vec()),
            J::Opaque(246, decimal),
            J::Opaque(252, vec![1, 2, 3]),
        ]);
        assert_eq!(
            json_column(&doc(&j, false)),
            Value::String(
                serde_json::json!([
                    "2020-01-02",
                    "2020-01-02 03:04:05.500000",
                    "-01:00:00.250000",
                    -12.5,
                    "base64:type252:AQID"
                ])
                .to_string()
            )
        );
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        // An array whose element points back at the array itself.
        let looping = [0x02, 1, 0, 8, 0, 0x02, 0, 0];
        assert!(one(
            &col(245, &[4], MyType::Json),
            &[&8u32.to_le_bytes()[..], &looping].concat(),
            &options()
        )
        .is_err());
        let good = doc(
            &J::Obj(vec![(
                "k".into(),
                J::Arr(vec![J::Str("v".into()), J::F64(2.0)]),
            )]),
            false,
        );
        for cut in 0..good.len() {
            let c = col(245, &[4], MyType::Json);
            let mut bytes = (cut as u32).to_le_bytes().to_vec();
            bytes.extend(&good[..cut]);
            let result = one(&c, &bytes, &options());
            assert!(
                cut == 0 || result.is_err(),
                "a JSON document cut at {cut} decoded"
            );
        }
    }

    /// A table of one column of every kind, with the row image of one value each.
    fn every_kind() -> (Vec<Col>, Vec<Option<Vec<u8>>>) {
        let labels = vec!["a".to_string(), "b".to_string()];
        let mut json = 3u32.to_le_bytes().to_vec();
        json.extend(doc(&J::I16(7), false));
        let cols = vec![
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            ),
            col(
                8,
                &[],
                MyType::Int {
                    bytes: 8,
                    unsigned: true,
                },
            ),
            col(4, &[4], MyType::Float),
            col(5, &[8], MyType::Double),
            col(
                246,
                &[30, 10],
                MyType::Decimal {
                    precision: 30,
                    scale: 10,
                },
            ),
            col(16, &[2, 1], MyType::Bits { length: 10 }),
            col(10, &[], MyType::Date),
            col(19, &[2], MyType::Time { fsp: 2 }),
            col(18, &[6], MyType::DateTime { fsp: 6 }),
            col(17, &[3], MyType::Timestamp { fsp: 3 }),
            col(13, &[], MyType::Year),
            col(15, &[0x2C, 0x01], MyType::Text { latin1: false }),
            col(254, &[0xFE, 4], MyType::Binary { pad_to: Some(4) }),
            col(252, &[2], MyType::Text { latin1: true }),
            col(
                254,
                &[0xF7, 1],
                MyType::Enum {
                    labels: labels.clone(),
                },
            ),
            col(254, &[0xF8, 1], MyType::Set { labels }),
            col(245, &[4], MyType::Json),
            col(255, &[4], MyType::Binary { pad_to: None }),
            col(11, &[], MyType::Time { fsp: 0 }),
            col(12, &[], MyType::DateTime { fsp: 0 }),
            col(7, &[], MyType::Timestamp { fsp: 0 }),
            col(14, &[], MyType::Date),
        ];
        let mut timestamp = 1_600_000_000u32.to_be_bytes().to_vec();
        timestamp.extend(10u16.to_be_bytes());
        let values = vec![
            Some((-5i32).to_le_bytes().to_vec()),
            Some(u64::MAX.to_le_bytes().to_vec()),
            Some(1.5f32.to_le_bytes().to_vec()),
            Some(2.5f64.to_le_bytes().to_vec()),
            Some(encode_decimal("-12345678901234567890.0123456789", 30, 10)),
            Some(vec![0x02, 0x01]),
            Some(date_bytes(2020, 1, 2)),
            Some(encode_time2(-100_000, 2)),
            Some(encode_datetime2((2020, 1, 2, 3, 4, 5), 6, 6)),
            Some(timestamp),
            Some(vec![121]),
            Some([&[5u8, 0][..], b"hello"].concat()),
            Some(vec![1, 0xAB]),
            Some([&[2u8, 0][..], b"\xe9t"].concat()),
            Some(vec![2]),
            Some(vec![3]),
            Some(json),
            Some([&[1u8, 0, 0, 0][..], b"\x01"].concat()),
            Some((-123_456i32).to_le_bytes()[..3].to_vec()),
            Some(20_200_102_030_405u64.to_le_bytes().to_vec()),
            Some(1_600_000_000u32.to_le_bytes().to_vec()),
            Some(date_bytes(1970, 1, 2)),
        ];
        (cols, values)
    }

    #[test]
    fn a_row_of_every_kind_decodes_and_nulls_are_null() {
        let (cols, values) = every_kind();
        let nulls = vec![None; cols.len()];
        let rows = decode_inserts(&cols, &[values, nulls], &options()).unwrap();
        assert_eq!(
            rows[0].0,
            vec![
                Value::Int(-5),
                Value::Int(-1),
                Value::Float32(1.5),
                Value::Float64(2.5),
                Value::Decimal {
                    unscaled: twos_complement("123456789012345678900123456789", true),
                    scale: 10
                },
                Value::Bytes(vec![0x01, 0x02]),
                Value::Int(18263),
                Value::Int(-100_000),
                Value::Int(1_577_934_245_000_006),
                Value::String("2020-09-13T12:26:40.001Z".into()),
                Value::Int(2021),
                Value::String("hello".into()),
                Value::Bytes(vec![0xAB, 0, 0, 0]),
                Value::String("ét".into()),
                Value::String("b".into()),
                Value::String("a,b".into()),
                Value::String("7".into()),
                Value::Bytes(vec![1]),
                Value::Int(-45_296_000_000),
                Value::Int(1_577_934_245_000),
                Value::String("2020-09-13T12:26:40Z".into()),
                Value::Int(1),
            ]
        );
        assert!(rows[1].0.iter().all(Value::is_null), "{:?}", rows[1]);
    }

    #[test]
    fn excluded_and_absent_columns_are_read_past() {
        let (cols, values) = every_kind();
        let map = TableMap::decode(&table_map_body(7, &cols, &[])).unwrap();
        let mut decoders = decoders(&cols);
        for d in decoders.iter_mut().step_by(2) {
            d.included = false;
        }
        // Only the columns at odd positions are in the image (a MINIMAL-style image).
        let mut present = vec![0u8; cols.len().div_ceil(8)];
        let mut image_values = Vec::new();
        for i in (1..cols.len()).step_by(2) {
            present[i / 8] |= 1 << (i % 8);
            image_values.push(values[i].clone());
        }
        let bytes = [image(&image_values), image(&values)].concat();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &options(),
        };
        let mut cursor = &bytes[..];
        let partial = decode_image(&mut cursor, &present, &ctx).unwrap();
        let full = decode_image(&mut cursor, &all_columns(cols.len()), &ctx).unwrap();
        assert!(cursor.is_empty());
        assert_eq!(partial, full);
        assert_eq!(full.0.len(), cols.len() / 2);
        // Absent and included: NULL. Present in the image, but excluded: read past.
        let mut decoders = self::decoders(&cols);
        decoders[1].included = false;
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &options(),
        };
        let mut cursor = &bytes[..];
        let row = decode_image(&mut cursor, &present, &ctx).unwrap();
        assert_eq!(row.0.len(), cols.len() - 1);
        assert_eq!(row.0[0], Value::Null);
        assert_eq!(row.0[2], Value::Float64(2.5));
    }

    #[test]
    fn updates_and_deletes_give_before_and_after_images_in_v1_and_v2() {
        let cols = vec![
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            ),
            col(15, &[10, 0], MyType::Text { latin1: false }),
        ];
        let map = TableMap::decode(&table_map_body(9, &cols, &[])).unwrap();
        let decoders = decoders(&cols);
        let o = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let row = |id: i32, v: Option<&str>| {
            image(&[
                Some(id.to_le_bytes().to_vec()),
                v.map(|v| [&[v.len() as u8][..], v.as_bytes()].concat()),
            ])
        };
        let value = |id: i64, v: Option<&str>| {
            Row(vec![
                Value::Int(id),
                v.map_or(Value::Null, |v| Value::String(v.into())),
            ])
        };
        for (update, delete) in [
            (UPDATE_ROWS_EVENT_V1, DELETE_ROWS_EVENT_V1),
            (UPDATE_ROWS_EVENT, DELETE_ROWS_EVENT),
        ] {
            let bytes = [
                row(1, Some("a")),
                row(1, None),
                row(2, None),
                row(2, Some("b")),
            ]
            .concat();
            let body = rows_body(update, 9, 2, &bytes);
            let event = RowsEvent::decode(update, &body).unwrap();
            assert_eq!(event.kind, RowsKind::Update);
            assert_eq!(event.table_id, 9);
            assert!(event.is_statement_end());
            assert_eq!(event.count_rows(&map).unwrap(), 2);
            let changes: Vec<Change> = event.changes(ctx).unwrap().map(Result::unwrap).collect();
            assert_eq!(
                changes,
                vec![
                    Change {
                        before: Some(value(1, Some("a"))),
                        after: Some(value(1, None))
                    },
                    Change {
                        before: Some(value(2, None)),
                        after: Some(value(2, Some("b")))
                    },
                ]
            );
            let body = rows_body(delete, 9, 2, &row(3, Some("c")));
            let event = RowsEvent::decode(delete, &body).unwrap();
            let changes: Vec<Change> = event.changes(ctx).unwrap().map(Result::unwrap).collect();
            assert_eq!(
                changes,
                vec![Change {
                    before: Some(value(3, Some("c"))),
                    after: None
                }]
            );
        }
    }

    #[test]
    fn rows_whose_images_name_no_column_end_in_an_error_not_an_endless_loop() {
        // Found by fuzzing: table id 1, flags, 1 column, an empty column bitmap, then bytes
        // no image ever consumes.
        let map = TableMap::decode(&[1, 0, 0, 0, 0, 0, 1, 0, 1, b'd', 0, 1, b't', 0, 1, 3, 0, 0])
            .unwrap();
        let body = [1, 0, 0, 0, 0, 0, 1, 0, 1, 0b0, 7, 7, 7];
        let event = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body).unwrap();
        let e = event.count_rows(&map).unwrap_err();
        assert!(e.to_string().contains("a row of no bytes"), "{e}");
        let decoders = [ColumnDecoder {
            ty: MyType::Int {
                bytes: 4,
                unsigned: false,
            },
            included: true,
        }];
        let options = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &options,
        };
        let changes: Vec<_> = event.changes(ctx).unwrap().take(5).collect();
        assert_eq!(changes.len(), 1);
        assert!(changes[0].is_err());
    }

    #[test]
    fn refused_events_name_the_setting_to_change() {
        let err = RowsEvent::decode(PARTIAL_UPDATE_ROWS_EVENT, &[]).unwrap_err();
        assert!(
            err.to_string().contains("binlog_row_value_options=''"),
            "{err}"
        );
        for t in 166..=171u8 {
            let err = RowsEvent::decode(t, &[]).unwrap_err();
            assert!(err.to_string().contains("uncompressed first"), "{err}");
            assert!(is_rows_event(t).is_some());
        }
        assert_eq!(
            RowsEvent::decode(TABLE_MAP_EVENT, &[]).unwrap_err(),
            RowsError::NotRowsEvent(TABLE_MAP_EVENT)
        );
        assert_eq!(is_rows_event(23), Some(RowsKind::Insert));
        assert_eq!(is_rows_event(31), Some(RowsKind::Update));
        assert_eq!(is_rows_event(39), Some(RowsKind::Update));
        assert_eq!(is_rows_event(32), Some(RowsKind::Delete));
        assert_eq!(is_rows_event(19), None);
        assert_eq!(is_rows_event(20), None);
    }

    #[test]
    fn a_type_that_no_longer_fits_names_the_column() {
        let names = [&[field::COLUMN_NAME][..], &[7, 2], b"id", &[3], b"qty"].concat();
        let cols = vec![
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            ),
            col(
                2,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            ),
        ];
        let map = TableMap::decode(&table_map_body(7, &cols, &names)).unwrap();
        let decoders = decoders(&cols);
        let body = rows_body(
            WRITE_ROWS_EVENT_V1,
            7,
            2,
            &image(&[Some(vec![1, 0, 0, 0]), Some(vec![2, 0])]),
        );
        let event = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body).unwrap();
        let o = options();
        let err = event
            .changes(RowContext {
                map: &map,
                decoders: &decoders,
                options: &o,
            })
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        match &err {
            RowsError::Column {
                table,
                index,
                column,
                detail,
            } => {
                assert_eq!(
                    (table.as_str(), *index, column.as_str()),
                    ("db.t", 1, "qty")
                );
                assert!(detail.contains("altered"), "{detail}");
            }
            other => panic!("expected a column error, got {other:?}"),
        }
        // Fewer schema columns than the binlog's.
        let err = event
            .changes(RowContext {
                map: &map,
                decoders: &decoders[..1],
                options: &o,
            })
            .unwrap_err();
        assert!(
            matches!(
                err,
                RowsError::ColumnCount {
                    binlog: 2,
                    schema: 1,
                    ..
                }
            ),
            "{err}"
        );
        // A table map for another table id.
        let other = TableMap::decode(&table_map_body(8, &cols, &[])).unwrap();
        assert!(event.count_rows(&other).is_err());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A TABLE_MAP body MariaDB 10.11 wrote (binlog_row_metadata=FULL) for
    /// `t (id int unsigned primary key, y year, u int unsigned, g geometry,
    /// v varchar(10) latin1, c char(3) utf8mb4, e enum('a','b') latin1, s set('x','y'),
    /// d date, dc decimal(5,2) unsigned, f float, b bit(3), j json, i6 inet6, tm time(2))`.
    const MARIADB_TABLE_MAP: &str = "9f01000000000100137370696c6c7761795f726f77735f70726f6265000174000f030d03ff0ffefefe0af60410fcfe1312040a00fe0cf701f801050204030004fe1002fe7f0101f003053f082d2e3f07010004220269640179017501670176016301650173016402646301660162016a02693602746d0b02082d0505020178017906050201610162080100";
    /// Its WRITE_ROWS_V1 of `(1, 2001, 7, POINT(1,2), 'ab', 'xy', 'b', 'x,y', '2020-01-02',
    /// 1.5, 1.25, b'101', '{"b":1,"a":[1,2]}', '::1', '-01:00:00.5')`.
    const MARIADB_WRITE_ROWS: &str = "9f010000000001000fff7f008001000000650700000019000000000000000101000000000000000000f03f0000000000000040026162027879020322c80f8001320000a03f05110000007b2262223a312c2261223a5b312c325d7d10000000000000000000000000000000017fefffce";

    #[test]
    fn a_mariadb_table_map_gives_names_signedness_collations_labels_and_key() {
        let map = TableMap::decode(&hex(MARIADB_TABLE_MAP)).unwrap();
        assert_eq!(
            (map.table_id, map.database.as_str(), map.table.as_str()),
            (415, "spillway_rows_probe", "t")
        );
        let names: Vec<&str> = map
            .columns
            .iter()
            .map(|c| c.name.as_deref().unwrap())
            .collect();
        assert_eq!(
            names,
            ["id", "y", "u", "g", "v", "c", "e", "s", "d", "dc", "f", "b", "j", "i6", "tm"]
        );
        let unsigned: Vec<Option<bool>> = map.columns.iter().map(|c| c.unsigned).collect();
        let (t, f) = (Some(true), Some(false));
        assert_eq!(
            unsigned,
            [t, t, t, None, None, None, None, None, None, t, f, None, None, None, None]
        );
        let collations: Vec<Option<u32>> = map.columns.iter().map(|c| c.collation).collect();
        assert_eq!(
            collations,
            [
                None,
                None,
                None,
                Some(63),
                Some(8),
                Some(45),
                Some(8),
                Some(45),
                None,
                None,
                None,
                None,
                Some(46),
                Some(63),
                None
            ]
        );
        assert_eq!(
            map.columns[6].labels,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            map.columns[7].labels,
            Some(vec!["x".to_string(), "y".to_string()])
        );
        assert_eq!(
            map.primary_key,
            [KeyPart {
                column: 0,
                prefix: 0
            }]
        );
        assert!(!map.columns[0].nullable && map.columns[1].nullable);
        assert_eq!(map.columns[5].kind, ColumnKind::String { max_length: 12 });
        assert_eq!(map.columns[13].kind, ColumnKind::String { max_length: 16 });
        assert_eq!(map.columns[14].kind, ColumnKind::Time2 { fsp: 2 });

        let ty = |t: MyType| ColumnDecoder {
            ty: t,
            included: true,
        };
        let decoders = vec![
            ty(MyType::Int {
                bytes: 4,
                unsigned: true,
            }),
            ty(MyType::Year),
            ty(MyType::Int {
                bytes: 4,
                unsigned: true,
            }),
            ColumnDecoder {
                ty: MyType::Binary { pad_to: None },
                included: false,
            },
            ty(MyType::Text { latin1: true }),
            ty(MyType::Text { latin1: false }),
            ty(MyType::Enum {
                labels: vec!["a".into(), "b".into()],
            }),
            ty(MyType::Set {
                labels: vec!["x".into(), "y".into()],
            }),
            ty(MyType::Date),
            ty(MyType::Decimal {
                precision: 5,
                scale: 2,
            }),
            ty(MyType::Float),
            ty(MyType::Bits { length: 3 }),
            ty(MyType::Text { latin1: false }),
            ty(MyType::Binary { pad_to: Some(16) }),
            ty(MyType::Time { fsp: 2 }),
        ];
        let body = hex(MARIADB_WRITE_ROWS);
        let event = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body).unwrap();
        let o = with(
            DecimalMode::String,
            BigintUnsignedMode::Long,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        );
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let changes: Vec<Change> = event.changes(ctx).unwrap().map(Result::unwrap).collect();
        let mut inet = vec![0u8; 16];
        inet[15] = 1;
        assert_eq!(
            changes[0].after.as_ref().unwrap().0,
            vec![
                Value::Int(1),
                Value::Int(2001),
                Value::Int(7),
                Value::String("ab".into()),
                Value::String("xy".into()),
                Value::String("b".into()),
                Value::String("x,y".into()),
                Value::Int(18263),
                Value::String("1.50".into()),
                Value::Float32(1.25),
                Value::Bytes(vec![0b101]),
                Value::String("{\"b\":1,\"a\":[1,2]}".into()),
                Value::Bytes(inet),
                Value::Int(-3_600_500_000),
            ]
        );
    }

    #[test]
    fn optional_metadata_is_matched_to_its_columns() {
        let cols = vec![
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: true,
                },
            ),
            col(15, &[20, 0], MyType::Text { latin1: false }),
            col(255, &[4], MyType::Binary { pad_to: None }),
            col(15, &[20, 0], MyType::Text { latin1: false }),
            col(15, &[5, 0], MyType::Text { latin1: true }),
            col(254, &[0xF7, 1], MyType::Enum { labels: vec![] }),
            col(
                8,
                &[],
                MyType::Int {
                    bytes: 8,
                    unsigned: false,
                },
            ),
        ];
        let tlv = |t: u8, v: &[u8]| [&[t][..], &lenenc_bytes(v.len()), v].concat();
        // MariaDB: GEOMETRY counted (position 1 is binary, position 3 latin1).
        let optional = [
            tlv(field::SIGNEDNESS, &[0b1000_0000]),
            tlv(field::DEFAULT_CHARSET, &[45, 1, 63, 3, 8]),
            tlv(field::ENUM_AND_SET_COLUMN_CHARSET, &[8]),
            tlv(field::ENUM_STR_VALUE, &[2, 1, b'p', 2, b'q', b'r']),
            tlv(field::PRIMARY_KEY_WITH_PREFIX, &[6, 0, 1, 4]),
            tlv(7, &[0]),
            tlv(99, &[1, 2, 3]),
            tlv(field::COLUMN_VISIBILITY, &[0b1111_1100]),
        ]
        .concat();
        let map = TableMap::decode(&table_map_body(1, &cols, &optional)).unwrap();
        let collations: Vec<Option<u32>> = map.columns.iter().map(|c| c.collation).collect();
        assert_eq!(
            collations,
            [None, Some(45), Some(63), Some(45), Some(8), Some(8), None]
        );
        assert_eq!(map.columns[0].unsigned, Some(true));
        assert_eq!(map.columns[6].unsigned, Some(false));
        assert_eq!(
            map.columns[5].labels,
            Some(vec!["p".to_string(), "qr".to_string()])
        );
        assert_eq!(
            map.primary_key,
            [
                KeyPart {
                    column: 6,
                    prefix: 0
                },
                KeyPart {
                    column: 1,
                    prefix: 4
                }
            ]
        );
        assert_eq!(map.columns[6].visible, Some(false));
        assert_eq!(map.columns[0].visible, Some(true));
        assert_eq!(map.column_label(0), "@1");

        // MySQL: GEOMETRY not counted (position 2 is the latin1 column).
        let optional = tlv(field::DEFAULT_CHARSET, &[45, 2, 8]);
        let map = TableMap::decode(&table_map_body(1, &cols, &optional)).unwrap();
        let collations: Vec<Option<u32>> = map.columns.iter().map(|c| c.collation).collect();
        assert_eq!(
            collations,
            [None, Some(45), None, Some(45), Some(8), None, None]
        );
        // COLUMN_CHARSET: the count tells.
        for (list, geometry) in [(&[45u8, 63, 45, 8][..], Some(63)), (&[45, 45, 8], None)] {
            let map =
                TableMap::decode(&table_map_body(1, &cols, &tlv(field::COLUMN_CHARSET, list)))
                    .unwrap();
            assert_eq!(map.columns[2].collation, geometry);
            assert_eq!(map.columns[4].collation, Some(8));
        }
        // Names that do not match the column count are left out.
        let names = tlv(field::COLUMN_NAME, &[1, b'a']);
        let map = TableMap::decode(&table_map_body(1, &cols, &names)).unwrap();
        assert!(map.columns.iter().all(|c| c.name.is_none()));
        // A field cut short is an error.
        let cut = [field::COLUMN_NAME, 3, 5, b'a'];
        assert!(TableMap::decode(&table_map_body(1, &cols, &cut)).is_err());
    }

    #[test]
    fn bad_column_metadata_is_an_error() {
        for (code, meta) in [
            (246u8, &[70u8, 2][..]),
            (246, &[5, 6]),
            (19, &[7]),
            (16, &[0, 9]),
            (252, &[5]),
            (254, &[0xF7, 3]),
            (254, &[0xF0, 3]),
            (0, &[]),
            (244, &[]),
        ] {
            let body = table_map_body(1, &[col(code, meta, MyType::Year)], &[]);
            assert!(TableMap::decode(&body).is_err(), "type {code} {meta:?}");
        }
        // Metadata left over.
        let mut body = table_map_body(1, &[col(3, &[], MyType::Year)], &[]);
        let at = body.iter().position(|&b| b == 3).unwrap() + 1;
        body.splice(at..at + 1, [1, 0]);
        assert!(TableMap::decode(&body).is_err());
    }

    #[test]
    fn truncated_events_are_errors_not_panics() {
        let (cols, values) = every_kind();
        let map_body = table_map_body(7, &cols, &[]);
        for cut in 0..map_body.len() {
            assert!(
                TableMap::decode(&map_body[..cut]).is_err(),
                "table map cut at {cut}"
            );
        }
        let real = hex(MARIADB_TABLE_MAP);
        let full = TableMap::decode(&real).unwrap();
        for cut in 0..real.len() {
            // Cut between two optional metadata fields the map is valid, with less.
            if let Ok(map) = TableMap::decode(&real[..cut]) {
                assert_ne!(map, full, "cut at {cut}");
            }
        }
        let map = TableMap::decode(&map_body).unwrap();
        let decoders = decoders(&cols);
        let o = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let body = rows_body(WRITE_ROWS_EVENT, 7, cols.len(), &image(&values));
        for cut in 0..body.len() {
            let decoded = RowsEvent::decode(WRITE_ROWS_EVENT, &body[..cut]).and_then(|event| {
                event.count_rows(&map)?;
                event.changes(ctx)?.collect::<Result<Vec<_>, _>>()
            });
            // Cut right after the bitmaps, the event is one without rows.
            if let Ok(rows) = decoded {
                assert!(rows.is_empty(), "rows event cut at {cut} decoded");
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (cols, values) = every_kind();
        let map = TableMap::decode(&table_map_body(7, &cols, &[])).unwrap();
        let decoders = decoders(&cols);
        let o = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let valid = rows_body(WRITE_ROWS_EVENT_V1, 7, cols.len(), &image(&values));
        let maps = [table_map_body(7, &cols, &[]), hex(MARIADB_TABLE_MAP)];
        let json = doc(
            &J::Obj(vec![
                (
                    "a".into(),
                    J::Arr(vec![J::I16(1), J::Str("x".into()), J::F64(0.5)]),
                ),
                ("b".into(), J::Obj(vec![("c".into(), J::Null)])),
            ]),
            false,
        );
        let mutate = |bytes: &[u8], next: &mut dyn FnMut() -> u64| {
            let mut b = bytes.to_vec();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            b
        };
        for round in 0..20_000 {
            // A valid event with a few bytes changed, or random bytes.
            let body = if round % 4 == 0 {
                (0..next() % 200).map(|_| next() as u8).collect()
            } else {
                mutate(&valid, &mut next)
            };
            if let Ok(event) = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body) {
                let _ = event.count_rows(&map);
                if let Ok(changes) = event.changes(ctx) {
                    changes.for_each(drop);
                }
            }
            let _ = TableMap::decode(&mutate(&maps[round % 2], &mut next));
            let _ = TableMap::decode(&body);
            let _ = jsonb::to_text(&mutate(&json, &mut next));
            let _ = jsonb::to_text(&body);
        }
    }

    fn time_rows(label: &str, cols: &[Col], values: &[Option<Vec<u8>>]) -> f64 {
        let map = TableMap::decode(&table_map_body(7, cols, &[])).unwrap();
        let decoders = decoders(cols);
        let o = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let row = image(values);
        let present = all_columns(cols.len());
        let n = 1_000_000;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            for _ in 0..n {
                let mut cursor = std::hint::black_box(&row[..]);
                let decoded = decode_image(&mut cursor, &present, &ctx).unwrap();
                std::hint::black_box(decoded);
            }
            best = best.min(start.elapsed().as_nanos() as f64 / f64::from(n));
        }
        println!("{label}: {best:.1} ns/row (best of 5 x 1M)");
        best
    }

    /// `cargo test --release -p spillway-mysql --lib rows::tests::decode_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn decode_speed() {
        let int = || {
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            )
        };
        let ints: Vec<Option<Vec<u8>>> = (0..5)
            .map(|i: i32| Some(i.to_le_bytes().to_vec()))
            .collect();
        time_rows("5 ints", &vec![int(); 5], &ints);
        let cols = vec![
            int(),
            col(15, &[0x2C, 0x01], MyType::Text { latin1: false }),
            col(18, &[0], MyType::DateTime { fsp: 0 }),
            col(
                246,
                &[10, 2],
                MyType::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            col(5, &[8], MyType::Double),
        ];
        let values = vec![
            Some(42i32.to_le_bytes().to_vec()),
            Some([&[11u8, 0][..], b"hello world"].concat()),
            Some(encode_datetime2((2024, 5, 6, 7, 8, 9), 0, 0)),
            Some(encode_decimal("1234.56", 10, 2)),
            Some(3.25f64.to_le_bytes().to_vec()),
        ];
        time_rows(
            "int, varchar, datetime, decimal(10,2), double",
            &cols,
            &values,
        );
        let start = std::time::Instant::now();
        for _ in 0..1_000_000 {
            let v = vec![
                Value::Int(1),
                Value::String(std::hint::black_box("hello world").to_string()),
                Value::Int(2),
                Value::Decimal {
                    unscaled: std::hint::black_box(&[1u8, 2, 3][..]).to_vec(),
                    scale: 2,
                },
                Value::Float64(1.0),
            ];
            std::hint::black_box(Row(v));
        }
        println!(
            "allocating the same row (3 allocations): {:.1} ns/row",
            start.elapsed().as_nanos() as f64 / 1e6
        );
    }
}
