//! How a column's values are laid out in row images: its binlog type code and the column
//! metadata of the TABLE_MAP event (sizes, precisions, fractional digits, length prefixes).

use super::cursor::*;
use super::error::Fault;
use std::fmt;

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
    pub(crate) fn read(code: u8, meta: &mut &[u8]) -> Result<ColumnKind, Fault> {
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
    pub(crate) fn is_numeric(self) -> bool {
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
    pub(crate) fn is_character(self) -> bool {
        matches!(
            self,
            ColumnKind::String { .. } | ColumnKind::VarString { .. } | ColumnKind::Blob { .. }
        )
    }

    pub(crate) fn is_enum_or_set(self) -> bool {
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
