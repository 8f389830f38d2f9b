//! MySQL and MariaDB column types: the Connect schema Debezium gives each, and decoding of
//! the values the binlog and the snapshot deliver into that shape.

use crate::config::{BigintUnsignedMode, BinaryMode, DecimalMode, TimePrecisionMode, TypeOptions};
use spillway_core::convert::{
    days_from_civil, format_utc_timestamp, twos_complement, Fraction, DAY_US,
};
use spillway_core::schema::{ConnectSchema, ConnectType};
use spillway_core::Value;

/// A resolved column type.
#[derive(Clone, Debug, PartialEq)]
pub enum MyType {
    /// tinyint .. bigint; `bytes` is the storage size (1, 2, 3, 4, 8).
    Int {
        bytes: u8,
        unsigned: bool,
    },
    /// `tinyint(1)` / `boolean`.
    Bool,
    Float,
    Double,
    Decimal {
        precision: u32,
        scale: u32,
    },
    /// `bit(1)`.
    Bit1,
    Bits {
        length: u32,
    },
    Date,
    Time {
        fsp: u32,
    },
    DateTime {
        fsp: u32,
    },
    Timestamp {
        fsp: u32,
    },
    Year,
    /// Character data; `latin1` says the bytes are Latin-1, otherwise UTF-8.
    Text {
        latin1: bool,
    },
    /// Bytes; `pad_to` is the declared length of `binary(n)`, whose trailing zero bytes the
    /// binlog leaves out.
    Binary {
        pad_to: Option<u32>,
    },
    Enum {
        labels: Vec<String>,
    },
    Set {
        labels: Vec<String>,
    },
    Json,
}

/// How to decode one column of a captured table.
#[derive(Clone, Debug)]
pub struct ColumnDecoder {
    pub ty: MyType,
    /// Whether the column passes the column filters.
    pub included: bool,
}

/// A type that is not captured, reported per column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("type {0} is not supported")]
pub struct Unsupported(pub String);

/// A value that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl MyType {
    /// Resolves `information_schema.COLUMNS` facts: `data_type` (`int`), `column_type`
    /// (`int(10) unsigned`, `enum('a','b')`), precision and scale, datetime precision and
    /// character set.
    pub fn from_information_schema(
        data_type: &str,
        column_type: &str,
        numeric_precision: Option<u64>,
        numeric_scale: Option<u64>,
        datetime_precision: Option<u64>,
        charset: Option<&str>,
        char_length: Option<u64>,
    ) -> Result<MyType, Unsupported> {
        let unsigned = column_type.contains("unsigned");
        let fsp = datetime_precision.unwrap_or(0) as u32;
        Ok(match data_type.to_ascii_lowercase().as_str() {
            "tinyint" if column_type.starts_with("tinyint(1)") && !unsigned => MyType::Bool,
            "bool" | "boolean" => MyType::Bool,
            "tinyint" => MyType::Int { bytes: 1, unsigned },
            "smallint" => MyType::Int { bytes: 2, unsigned },
            "mediumint" => MyType::Int { bytes: 3, unsigned },
            "int" | "integer" => MyType::Int { bytes: 4, unsigned },
            "bigint" => MyType::Int { bytes: 8, unsigned },
            "float" => MyType::Float,
            "double" | "real" => MyType::Double,
            "decimal" | "numeric" => MyType::Decimal {
                precision: numeric_precision.unwrap_or(10) as u32,
                scale: numeric_scale.unwrap_or(0) as u32,
            },
            "bit" => {
                let length = numeric_precision.unwrap_or(1) as u32;
                if length == 1 {
                    MyType::Bit1
                } else {
                    MyType::Bits { length }
                }
            }
            "date" => MyType::Date,
            "time" => MyType::Time { fsp },
            "datetime" => MyType::DateTime { fsp },
            "timestamp" => MyType::Timestamp { fsp },
            "year" => MyType::Year,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
                // MariaDB's JSON is a LONGTEXT with a JSON check constraint.
                MyType::Text {
                    latin1: charset.is_some_and(|c| c.eq_ignore_ascii_case("latin1")),
                }
            }
            "binary" => MyType::Binary {
                pad_to: char_length.map(|n| n as u32),
            },
            "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                MyType::Binary { pad_to: None }
            }
            "enum" => MyType::Enum {
                labels: parse_labels(column_type),
            },
            "set" => MyType::Set {
                labels: parse_labels(column_type),
            },
            "json" => MyType::Json,
            other => return Err(Unsupported(other.to_string())),
        })
    }

    /// The Connect schema Debezium gives the type.
    pub fn schema(&self, options: &TypeOptions) -> ConnectSchema {
        use ConnectType as T;
        let s = ConnectSchema::new;
        let connect_time = options.values.time_precision == TimePrecisionMode::Connect;
        match self {
            // Debezium reads tinyint(1) and boolean as the small integers they are.
            MyType::Bool => s(T::Int16),
            MyType::Bit1 => s(T::Boolean),
            MyType::Int { bytes, unsigned } => match (bytes, unsigned) {
                (1, _) => s(T::Int16),
                (2, false) => s(T::Int16),
                (2, true) | (3, _) | (4, false) => s(T::Int32),
                (4, true) => s(T::Int64),
                (_, true) if options.bigint_unsigned == BigintUnsignedMode::Precise => {
                    decimal_schema(0, 20)
                }
                _ => s(T::Int64),
            },
            MyType::Float => s(T::Float32),
            MyType::Double => s(T::Float64),
            MyType::Decimal { precision, scale } => match options.values.decimal {
                DecimalMode::Precise => decimal_schema(*scale, *precision),
                DecimalMode::Double => s(T::Float64),
                DecimalMode::String => s(T::String),
            },
            MyType::Bits { length } => s(T::Bytes)
                .named("io.debezium.data.Bits")
                .version(1)
                .param("length", length.to_string()),
            MyType::Date if connect_time => s(T::Int32)
                .named("org.apache.kafka.connect.data.Date")
                .version(1),
            MyType::Date => s(T::Int32).named("io.debezium.time.Date").version(1),
            MyType::Time { .. } if connect_time => s(T::Int32)
                .named("org.apache.kafka.connect.data.Time")
                .version(1),
            MyType::Time { .. } => s(T::Int64).named("io.debezium.time.MicroTime").version(1),
            MyType::DateTime { .. } if connect_time => s(T::Int64)
                .named("org.apache.kafka.connect.data.Timestamp")
                .version(1),
            MyType::DateTime { fsp } if *fsp <= 3 => {
                s(T::Int64).named("io.debezium.time.Timestamp").version(1)
            }
            MyType::DateTime { .. } => s(T::Int64)
                .named("io.debezium.time.MicroTimestamp")
                .version(1),
            MyType::Timestamp { .. } => s(T::String)
                .named("io.debezium.time.ZonedTimestamp")
                .version(1),
            MyType::Year => s(T::Int32).named("io.debezium.time.Year").version(1),
            MyType::Text { .. } => s(T::String),
            // binary.handling.mode: bytes, or their text.
            MyType::Binary { .. } if options.values.binary == BinaryMode::Bytes => s(T::Bytes),
            MyType::Binary { .. } => s(T::String),
            MyType::Enum { labels } => s(T::String)
                .named("io.debezium.data.Enum")
                .version(1)
                .param("allowed", labels.join(",")),
            MyType::Set { labels } => s(T::String)
                .named("io.debezium.data.EnumSet")
                .version(1)
                .param("allowed", labels.join(",")),
            MyType::Json => s(T::String).named("io.debezium.data.Json").version(1),
        }
    }

    /// Decodes a value as the binlog (`binlog`) or the binary protocol of a snapshot query
    /// delivers it; they differ for sets (a bitmask in the binlog, text otherwise).
    pub fn decode(
        &self,
        value: &mysql_async::Value,
        options: &TypeOptions,
        binlog: bool,
    ) -> Result<Value, DecodeError> {
        use mysql_async::Value as V;
        let connect_time = options.values.time_precision == TimePrecisionMode::Connect;
        Ok(match (self, value) {
            (_, V::NULL) => Value::Null,
            (MyType::Bool, V::Int(i)) => Value::Int(*i),
            (MyType::Bool, V::UInt(i)) => Value::Int(*i as i64),
            (MyType::Bool, V::Bytes(b)) => Value::Int(parse_int(b)? as i64),
            (MyType::Int { bytes, unsigned }, v) => {
                let n: i128 = match v {
                    V::Int(i) => i128::from(*i),
                    V::UInt(u) => i128::from(*u),
                    V::Bytes(b) => parse_int(b)?,
                    other => return Err(mismatch(self, other)),
                };
                // The binlog's signedness can disagree with the column (narrow types arrive as
                // bit patterns): the column's type decides.
                let bits = 8 * u32::from(*bytes);
                let n = if *unsigned && n < 0 {
                    n + (1i128 << bits)
                } else if !*unsigned && n >= (1i128 << (bits - 1)) {
                    n - (1i128 << bits)
                } else {
                    n
                };
                if *bytes == 8
                    && *unsigned
                    && options.bigint_unsigned == BigintUnsignedMode::Precise
                {
                    Value::Decimal {
                        unscaled: twos_complement(&n.to_string(), false),
                        scale: 0,
                    }
                } else {
                    Value::Int(n as i64)
                }
            }
            (MyType::Float, V::Float(f)) => Value::Float32(*f),
            (MyType::Float, V::Double(f)) => Value::Float32(*f as f32),
            (MyType::Double, V::Double(f)) => Value::Float64(*f),
            (MyType::Double, V::Float(f)) => Value::Float64(f64::from(*f)),
            (MyType::Float | MyType::Double, V::Bytes(b)) => {
                let f: f64 = text(b)?.parse().map_err(|_| {
                    DecodeError(format!("not a number: {}", text(b).unwrap_or_default()))
                })?;
                if matches!(self, MyType::Float) {
                    Value::Float32(f as f32)
                } else {
                    Value::Float64(f)
                }
            }
            (MyType::Decimal { scale, .. }, V::Bytes(b)) => {
                decimal(text(b)?, *scale, options.values.decimal)?
            }
            (MyType::Bit1, V::Bytes(b)) => Value::Bool(b.iter().any(|x| *x != 0)),
            (MyType::Bit1, V::Int(i)) => Value::Bool(*i != 0),
            (MyType::Bits { length }, V::Bytes(b)) => {
                // Big-endian on the wire; Debezium's Bits are little-endian bytes, as many as
                // the declared length needs.
                let mut le: Vec<u8> = b.iter().rev().copied().collect();
                le.resize(length.div_ceil(8) as usize, 0);
                Value::Bytes(le)
            }
            (MyType::Date, V::Date(y, m, d, ..)) => {
                if *y == 0 || *m == 0 || *d == 0 {
                    return Ok(Value::Null);
                }
                Value::Int(days_from_civil(i64::from(*y), u32::from(*m), u32::from(*d)))
            }
            (MyType::Time { .. }, V::Time(negative, days, h, m, s, us)) => {
                let micros = ((i64::from(*days) * 24 + i64::from(*h)) * 3600
                    + i64::from(*m) * 60
                    + i64::from(*s))
                    * 1_000_000
                    + i64::from(*us);
                let micros = if *negative { -micros } else { micros };
                if connect_time {
                    Value::Int(micros / 1000)
                } else {
                    Value::Int(micros)
                }
            }
            (MyType::DateTime { fsp }, V::Date(y, mo, d, h, mi, s, us)) => {
                if *y == 0 || *mo == 0 || *d == 0 {
                    return Ok(Value::Null);
                }
                let micros = days_from_civil(i64::from(*y), u32::from(*mo), u32::from(*d)) * DAY_US
                    + (i64::from(*h) * 3600 + i64::from(*mi) * 60 + i64::from(*s)) * 1_000_000
                    + i64::from(*us);
                if connect_time || *fsp <= 3 {
                    Value::Int(micros.div_euclid(1000))
                } else {
                    Value::Int(micros)
                }
            }
            (MyType::Timestamp { fsp }, v) => {
                // The binlog sends `seconds[.micros]` since the epoch; a query a datetime in
                // the session's UTC. Debezium writes the binlog's with exactly `fsp` digits
                // and the snapshot's trimmed.
                let micros = match v {
                    V::Bytes(b) => {
                        let t = text(b)?;
                        let (secs, frac) = t.split_once('.').unwrap_or((t, "0"));
                        let secs: i64 = secs
                            .parse()
                            .map_err(|_| DecodeError(format!("not a timestamp: {t}")))?;
                        let frac: i64 = format!("{frac:0<6}")[..6].parse().unwrap_or(0);
                        secs * 1_000_000 + frac
                    }
                    V::Int(secs) => secs * 1_000_000,
                    V::Date(0, ..) => 0,
                    V::Date(y, mo, d, h, mi, s, us) => {
                        days_from_civil(i64::from(*y), u32::from(*mo), u32::from(*d)) * DAY_US
                            + (i64::from(*h) * 3600 + i64::from(*mi) * 60 + i64::from(*s))
                                * 1_000_000
                            + i64::from(*us)
                    }
                    other => return Err(mismatch(self, other)),
                };
                if micros == 0 {
                    return Ok(Value::Null);
                }
                let fraction = if binlog {
                    Fraction::Fixed(*fsp)
                } else {
                    Fraction::Trimmed
                };
                Value::String(format_utc_timestamp(micros, fraction))
            }
            (MyType::Year, v) => {
                let year = match v {
                    V::Bytes(b) => parse_int(b)? as i64,
                    V::Int(y) => *y,
                    V::UInt(y) => *y as i64,
                    other => return Err(mismatch(self, other)),
                };
                // Debezium's snapshot reads the zero year through JDBC, which makes it 2000.
                Value::Int(if year == 0 && !binlog { 2000 } else { year })
            }
            // The binlog carries the column's own bytes; queries return UTF-8.
            (MyType::Text { latin1 }, V::Bytes(b)) => Value::String(if *latin1 && binlog {
                b.iter().map(|&c| super::charset::latin1_char(c)).collect()
            } else {
                String::from_utf8_lossy(b).into_owned()
            }),
            (MyType::Json, V::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
            (MyType::Binary { pad_to }, V::Bytes(b)) => {
                let mut bytes = b.clone();
                if let Some(n) = pad_to {
                    if bytes.len() < *n as usize {
                        bytes.resize(*n as usize, 0);
                    }
                }
                options.values.binary.value(bytes)
            }
            (MyType::Enum { labels }, V::Int(i)) => Value::String(label(labels, *i)),
            (MyType::Enum { labels }, V::UInt(i)) => Value::String(label(labels, *i as i64)),
            (MyType::Enum { .. }, V::Bytes(b)) => {
                Value::String(String::from_utf8_lossy(b).into_owned())
            }
            (MyType::Set { labels }, V::Bytes(b)) if binlog => {
                let mut mask = 0u64;
                for (i, byte) in b.iter().enumerate().take(8) {
                    mask |= u64::from(*byte) << (8 * i);
                }
                let chosen: Vec<&str> = labels
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, l)| l.as_str())
                    .collect();
                Value::String(chosen.join(","))
            }
            (MyType::Set { .. }, V::Bytes(b)) => {
                Value::String(String::from_utf8_lossy(b).into_owned())
            }
            (_, other) => return Err(mismatch(self, other)),
        })
    }
}

fn label(labels: &[String], index: i64) -> String {
    // 0 is the empty "invalid" value MySQL stores for bad input.
    usize::try_from(index - 1)
        .ok()
        .and_then(|i| labels.get(i))
        .cloned()
        .unwrap_or_default()
}

fn mismatch(ty: &MyType, value: &mysql_async::Value) -> DecodeError {
    DecodeError(format!("value {value:?} does not fit column type {ty:?}"))
}

fn text(bytes: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|_| DecodeError("value is not valid UTF-8".to_string()))
}

fn parse_int(bytes: &[u8]) -> Result<i128, DecodeError> {
    let t = text(bytes)?;
    t.trim()
        .parse()
        .map_err(|_| DecodeError(format!("not an integer: {t}")))
}

/// A decimal's text as Debezium represents it under `decimal.handling.mode`.
fn decimal(text: &str, scale: u32, mode: DecimalMode) -> Result<Value, DecodeError> {
    match mode {
        DecimalMode::String => return Ok(Value::String(text.to_string())),
        DecimalMode::Double => {
            return text
                .parse()
                .map(Value::Float64)
                .map_err(|_| DecodeError(format!("not a decimal: {text}")))
        }
        DecimalMode::Precise => {}
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac) = body.split_once('.').unwrap_or((body, ""));
    if !int_part
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
        || frac.len() > scale as usize
    {
        return Err(DecodeError(format!(
            "not a decimal of scale {scale}: {text}"
        )));
    }
    let mut digits = String::with_capacity(int_part.len() + scale as usize);
    digits.push_str(int_part);
    digits.push_str(frac);
    digits.extend(std::iter::repeat_n('0', scale as usize - frac.len()));
    Ok(Value::Decimal {
        unscaled: twos_complement(&digits, negative),
        scale,
    })
}

fn decimal_schema(scale: u32, precision: u32) -> ConnectSchema {
    ConnectSchema::new(ConnectType::Bytes)
        .named("org.apache.kafka.connect.data.Decimal")
        .version(1)
        .param("scale", scale.to_string())
        .param("connect.decimal.precision", precision.to_string())
}

/// The labels of `enum('a','b')` / `set('x','y')`, with `''` unescaped.
pub fn parse_labels(column_type: &str) -> Vec<String> {
    let Some(start) = column_type.find('(') else {
        return Vec::new();
    };
    let inner = column_type[start + 1..].trim_end_matches(')');
    let mut labels = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        label.push(n);
                    }
                }
                other => label.push(other),
            }
        }
        labels.push(label);
    }
    labels
}

impl MyType {
    /// The value Debezium's converters give a required column that has none (a zero date,
    /// or a default that is not a constant).
    pub fn fallback(&self, options: &TypeOptions) -> Option<Value> {
        let zero = |v: mysql_async::Value| self.decode(&v, options, false).ok();
        match self {
            MyType::Int { .. } | MyType::Bool | MyType::Year => Some(Value::Int(0)),
            MyType::Float | MyType::Double | MyType::Decimal { .. } => {
                zero(mysql_async::Value::Bytes(b"0".to_vec()))
            }
            MyType::Bit1 => Some(Value::Bool(false)),
            MyType::Bits { length } => Some(Value::Bytes(vec![0; length.div_ceil(8) as usize])),
            MyType::Date | MyType::Time { .. } | MyType::DateTime { .. } => Some(Value::Int(0)),
            MyType::Timestamp { .. } => {
                Some(Value::String(format_utc_timestamp(0, Fraction::Trimmed)))
            }
            MyType::Text { .. } | MyType::Json => Some(Value::String(String::new())),
            MyType::Binary { .. } => Some(options.values.binary.value(Vec::new())),
            MyType::Enum { .. } | MyType::Set { .. } => None,
        }
    }

    /// A column default as `information_schema.COLUMNS.COLUMN_DEFAULT` shows it (MariaDB
    /// quotes string literals; functions such as `current_timestamp()` are not constants),
    /// as Debezium puts it in the schema.
    pub fn default_value(
        &self,
        text: &str,
        optional: bool,
        options: &TypeOptions,
    ) -> Option<Value> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("NULL") {
            return None;
        }
        let literal = if let Some(body) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\''))
        {
            Some(body.replace("''", "'").replace("\\\\", "\\"))
        } else if let Some(bits) = text.strip_prefix("b'").and_then(|t| t.strip_suffix('\'')) {
            Some(bits.to_string())
        } else if !text.contains('(') {
            Some(text.to_string())
        } else {
            None
        };
        let Some(literal) = literal else {
            return (!optional).then(|| self.fallback(options)).flatten();
        };
        let value = match self {
            MyType::Bits { .. } | MyType::Bit1 => {
                let mut bytes = vec![0u8; literal.len().div_ceil(8)];
                for (i, c) in literal.bytes().rev().enumerate() {
                    if c == b'1' {
                        let n = bytes.len();
                        bytes[n - 1 - i / 8] |= 1 << (i % 8);
                    }
                }
                mysql_async::Value::Bytes(bytes)
            }
            MyType::Date | MyType::DateTime { .. } | MyType::Timestamp { .. } => {
                parse_datetime(&literal)?
            }
            MyType::Time { .. } => parse_time(&literal)?,
            MyType::Int {
                bytes: 8,
                unsigned: true,
            } if options.bigint_unsigned == BigintUnsignedMode::Long => {
                // Debezium clamps an unsigned default beyond a long to the largest long.
                let n: u64 = literal.parse().ok()?;
                return Some(Value::Int(n.min(i64::MAX as u64) as i64));
            }
            _ => mysql_async::Value::Bytes(literal.into_bytes()),
        };
        match self.decode(&value, options, false).ok()? {
            Value::Null if !optional => self.fallback(options),
            Value::Null => None,
            v => Some(v),
        }
    }
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` as a driver value.
fn parse_datetime(text: &str) -> Option<mysql_async::Value> {
    let (date, time) = text.split_once(' ').unwrap_or((text, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<u32>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    let us: u32 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    Some(mysql_async::Value::Date(
        y as u16, m as u8, day as u8, h as u8, mi as u8, s as u8, us,
    ))
}

/// `[-]HH:MM:SS[.ffffff]` as a driver value.
fn parse_time(text: &str) -> Option<mysql_async::Value> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (hms, frac) = body.split_once('.').unwrap_or((body, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<u32>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    let us: u32 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    Some(mysql_async::Value::Time(
        negative,
        h / 24,
        (h % 24) as u8,
        mi as u8,
        s as u8,
        us,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        BigintUnsignedMode, BinaryMode, DecimalMode, TimePrecisionMode, ValueOptions,
    };

    fn options() -> TypeOptions {
        TypeOptions {
            values: ValueOptions {
                decimal: DecimalMode::Precise,
                time_precision: TimePrecisionMode::AdaptiveTimeMicroseconds,
                binary: BinaryMode::Bytes,
            },
            bigint_unsigned: BigintUnsignedMode::Long,
        }
    }

    #[test]
    fn enum_and_set_labels_are_unquoted() {
        assert_eq!(
            parse_labels("enum('a','b''c','d,e')"),
            vec!["a", "b'c", "d,e"]
        );
        assert_eq!(parse_labels("set('x')"), vec!["x"]);
    }

    #[test]
    fn unsigned_values_are_widened() {
        let t = MyType::Int {
            bytes: 1,
            unsigned: true,
        };
        assert_eq!(
            t.decode(&mysql_async::Value::Int(-1), &options(), true)
                .unwrap(),
            Value::Int(255)
        );
        let t = MyType::Int {
            bytes: 4,
            unsigned: true,
        };
        assert_eq!(
            t.decode(&mysql_async::Value::Int(-1), &options(), true)
                .unwrap(),
            Value::Int(4_294_967_295)
        );
    }

    #[test]
    fn set_bitmask_becomes_labels() {
        let t = MyType::Set {
            labels: vec!["a".into(), "b".into(), "c".into()],
        };
        assert_eq!(
            t.decode(&mysql_async::Value::Bytes(vec![0b101]), &options(), true)
                .unwrap(),
            Value::String("a,c".into())
        );
        assert_eq!(
            t.decode(
                &mysql_async::Value::Bytes(b"a,c".to_vec()),
                &options(),
                false
            )
            .unwrap(),
            Value::String("a,c".into())
        );
    }

    #[test]
    fn decimals_keep_their_scale() {
        assert_eq!(
            decimal("-1.5", 2, DecimalMode::Precise).unwrap(),
            Value::Decimal {
                unscaled: twos_complement("150", true),
                scale: 2
            }
        );
    }
}
