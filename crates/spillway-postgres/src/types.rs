//! PostgreSQL types: which Connect schema Debezium gives each, and decoding of the text
//! representation (as pgoutput and `COPY ... TO STDOUT` send it) into that shape.
//!
//! Sessions that produce text set `DateStyle=ISO`, `IntervalStyle=iso_8601`, `TimeZone=UTC`,
//! `bytea_output=hex` and `extra_float_digits=3`, so the formats parsed here are fixed.

use crate::config::{BinaryMode, DecimalMode, IntervalMode, TimePrecisionMode, TypeOptions};
use crate::values::{self, TextError};
use spillway_core::schema::{ConnectSchema, ConnectType, Field};
use spillway_core::Value;

/// A resolved column type.
#[derive(Clone, Debug, PartialEq)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(p, s)`, or unconstrained when `precision` is `None`.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Money,
    /// text, varchar, char(n), name, citext and other types Debezium reads as plain strings.
    Text,
    Bytea,
    Date,
    Time {
        precision: u32,
    },
    TimeTz {
        precision: u32,
    },
    Timestamp {
        precision: u32,
    },
    TimestampTz {
        precision: u32,
    },
    Interval,
    Uuid,
    Json,
    Xml,
    Ltree,
    /// `bit(1)`.
    Bit1,
    /// `bit(n)` with n > 1, or `varbit(n)`; `length` is n (0 when unbounded).
    Bits {
        length: u32,
    },
    Point,
    Enum {
        labels: Vec<String>,
    },
    Array(Box<PgType>),
}

/// A type Debezium does not capture, reported for a column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("type {type_name} is not supported")]
pub struct Unsupported {
    pub type_name: String,
}

impl PgType {
    /// The built-in scalar type for an OID, given the column's type modifier.
    pub fn builtin(oid: u32, typmod: i32) -> Option<PgType> {
        let precision = |default: u32| {
            if typmod >= 0 {
                typmod as u32
            } else {
                default
            }
        };
        Some(match oid {
            16 => PgType::Bool,
            21 => PgType::Int2,
            23 => PgType::Int4,
            20 => PgType::Int8,
            26 => PgType::Int8, // oid
            700 => PgType::Float4,
            701 => PgType::Float8,
            1700 => {
                if typmod >= 4 {
                    let t = (typmod - 4) as u32;
                    PgType::Numeric {
                        precision: Some((t >> 16) & 0xffff),
                        scale: Some(t & 0xffff),
                    }
                } else {
                    PgType::Numeric {
                        precision: None,
                        scale: None,
                    }
                }
            }
            790 => PgType::Money,
            25 | 1043 | 1042 | 18 | 19 => PgType::Text,
            // inet, cidr, macaddr, macaddr8, ranges, tsvector, tsquery, txid_snapshot
            869 | 650 | 829 | 774 | 3904 | 3906 | 3908 | 3910 | 3912 | 3926 | 3614 | 3615 => {
                PgType::Text
            }
            17 => PgType::Bytea,
            1082 => PgType::Date,
            1083 => PgType::Time {
                precision: precision(6),
            },
            1266 => PgType::TimeTz {
                precision: precision(6),
            },
            1114 => PgType::Timestamp {
                precision: precision(6),
            },
            1184 => PgType::TimestampTz {
                precision: precision(6),
            },
            1186 => PgType::Interval,
            2950 => PgType::Uuid,
            114 | 3802 => PgType::Json,
            142 => PgType::Xml,
            1560 if typmod == 1 => PgType::Bit1,
            1560 => PgType::Bits {
                length: precision(1),
            },
            1562 => PgType::Bits {
                length: precision(i32::MAX as u32),
            },
            600 => PgType::Point,
            _ => return None,
        })
    }

    /// The Connect schema Debezium uses for this type.
    pub fn schema(&self, options: &TypeOptions) -> ConnectSchema {
        use ConnectType as T;
        let s = ConnectSchema::new;
        let adaptive = options.values.time_precision != TimePrecisionMode::Connect;
        match self {
            PgType::Bool | PgType::Bit1 => s(T::Boolean),
            PgType::Int2 => s(T::Int16),
            PgType::Int4 => s(T::Int32),
            PgType::Int8 => s(T::Int64),
            PgType::Float4 => s(T::Float32),
            PgType::Float8 => s(T::Float64),
            PgType::Numeric { precision, scale } => match options.values.decimal {
                DecimalMode::Double => s(T::Float64),
                DecimalMode::String => s(T::String),
                DecimalMode::Precise => match (precision, scale) {
                    (Some(p), Some(sc)) => decimal_schema(*sc, Some(*p)),
                    _ => variable_decimal_schema(),
                },
            },
            PgType::Money => match options.values.decimal {
                DecimalMode::Double => s(T::Float64),
                DecimalMode::String => s(T::String),
                DecimalMode::Precise => decimal_schema(options.money_fraction_digits, None),
            },
            PgType::Text => s(T::String),
            PgType::Bytea => match options.values.binary {
                BinaryMode::Bytes => s(T::Bytes),
                _ => s(T::String),
            },
            PgType::Date => {
                if adaptive {
                    s(T::Int32).named("io.debezium.time.Date").version(1)
                } else {
                    s(T::Int32)
                        .named("org.apache.kafka.connect.data.Date")
                        .version(1)
                }
            }
            PgType::Time { precision } => match options.values.time_precision {
                TimePrecisionMode::Connect => s(T::Int32)
                    .named("org.apache.kafka.connect.data.Time")
                    .version(1),
                TimePrecisionMode::Adaptive if *precision <= 3 => {
                    s(T::Int32).named("io.debezium.time.Time").version(1)
                }
                _ => s(T::Int64).named("io.debezium.time.MicroTime").version(1),
            },
            PgType::TimeTz { .. } => s(T::String).named("io.debezium.time.ZonedTime").version(1),
            PgType::Timestamp { precision } => match options.values.time_precision {
                TimePrecisionMode::Connect => s(T::Int64)
                    .named("org.apache.kafka.connect.data.Timestamp")
                    .version(1),
                _ if *precision <= 3 => s(T::Int64).named("io.debezium.time.Timestamp").version(1),
                _ => s(T::Int64)
                    .named("io.debezium.time.MicroTimestamp")
                    .version(1),
            },
            PgType::TimestampTz { .. } => s(T::String)
                .named("io.debezium.time.ZonedTimestamp")
                .version(1),
            PgType::Interval => match options.interval {
                IntervalMode::Numeric => s(T::Int64)
                    .named("io.debezium.time.MicroDuration")
                    .version(1),
                IntervalMode::String => s(T::String).named("io.debezium.time.Interval").version(1),
            },
            PgType::Uuid => s(T::String).named("io.debezium.data.Uuid").version(1),
            PgType::Json => s(T::String).named("io.debezium.data.Json").version(1),
            PgType::Xml => s(T::String).named("io.debezium.data.Xml").version(1),
            PgType::Ltree => s(T::String).named("io.debezium.data.Ltree").version(1),
            PgType::Bits { length } => s(T::Bytes)
                .named("io.debezium.data.Bits")
                .version(1)
                .param("length", length.to_string()),
            PgType::Point => s(T::Struct(vec![
                Field::new("x", s(T::Float64)),
                Field::new("y", s(T::Float64)),
                Field::new("wkb", s(T::Bytes).optional(true)),
                Field::new("srid", s(T::Int32).optional(true)),
            ]))
            .named("io.debezium.data.geometry.Point")
            .version(1)
            .doc("Geometry (POINT)"),
            PgType::Enum { labels } => s(T::String)
                .named("io.debezium.data.Enum")
                .version(1)
                .param("allowed", labels.join(",")),
            PgType::Array(element) => s(T::Array(Box::new(element.schema(options).optional(true)))),
        }
    }

    /// Decodes the text representation of a non-null value.
    pub fn decode_text(&self, text: &[u8], options: &TypeOptions) -> Result<Value, TextError> {
        let str_of = |t: &[u8]| {
            std::str::from_utf8(t)
                .map(str::to_string)
                .map_err(|_| TextError::new("value is not valid UTF-8"))
        };
        Ok(match self {
            PgType::Bool | PgType::Bit1 => Value::Bool(matches!(text, b"t" | b"1" | b"true")),
            PgType::Int2 | PgType::Int4 | PgType::Int8 => Value::Int(values::parse_int(text)?),
            PgType::Float4 => Value::Float32(values::parse_float(text)? as f32),
            PgType::Float8 => Value::Float64(values::parse_float(text)?),
            PgType::Numeric { scale, .. } => {
                values::decimal_value(values::ascii(text)?, *scale, options.values.decimal)?
            }
            PgType::Money => {
                let plain = values::money_to_plain(values::ascii(text)?)?;
                values::decimal_value(
                    &plain,
                    Some(options.money_fraction_digits),
                    options.values.decimal,
                )?
            }
            PgType::Text
            | PgType::Uuid
            | PgType::Json
            | PgType::Xml
            | PgType::Ltree
            | PgType::Enum { .. } => Value::String(str_of(text)?),
            PgType::Bytea => {
                let bytes = values::parse_bytea(text)?;
                options.values.binary.value(bytes)
            }
            PgType::Date => Value::Int(values::parse_date(values::ascii(text)?)?),
            PgType::Time { precision } => {
                let micros = values::parse_time(values::ascii(text)?)?;
                match options.values.time_precision {
                    TimePrecisionMode::Connect => Value::Int(micros / 1000),
                    TimePrecisionMode::Adaptive if *precision <= 3 => Value::Int(micros / 1000),
                    _ => Value::Int(micros),
                }
            }
            PgType::TimeTz { .. } => Value::String(values::zoned_time(values::ascii(text)?)?),
            PgType::Timestamp { precision } => {
                let micros = values::parse_timestamp(values::ascii(text)?)?;
                if options.values.time_precision == TimePrecisionMode::Connect || *precision <= 3 {
                    Value::Int(micros.div_euclid(1000))
                } else {
                    Value::Int(micros)
                }
            }
            PgType::TimestampTz { precision } => {
                Value::String(values::zoned_timestamp(values::ascii(text)?, *precision)?)
            }
            PgType::Interval => {
                let interval = values::parse_interval(values::ascii(text)?)?;
                match options.interval {
                    IntervalMode::Numeric => Value::Int(interval.micros()),
                    IntervalMode::String => Value::String(interval.iso_string()),
                }
            }
            PgType::Bits { .. } => Value::Bytes(values::bits_to_bytes(text)?),
            PgType::Point => {
                let (x, y) = values::parse_point(values::ascii(text)?)?;
                Value::Struct(vec![
                    Value::Float64(x),
                    Value::Float64(y),
                    Value::Bytes(values::point_wkb(x, y)),
                    Value::Null,
                ])
            }
            PgType::Array(element) => {
                let items = values::parse_array(text)?;
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(match item {
                        None => Value::Null,
                        Some(t) => element.decode_text(&t, options)?,
                    });
                }
                Value::Array(out)
            }
        })
    }
}

/// Connect's `Decimal` logical type.
fn decimal_schema(scale: u32, precision: Option<u32>) -> ConnectSchema {
    let schema = ConnectSchema::new(ConnectType::Bytes)
        .named("org.apache.kafka.connect.data.Decimal")
        .version(1)
        .param("scale", scale.to_string());
    match precision {
        Some(p) => schema.param("connect.decimal.precision", p.to_string()),
        None => schema,
    }
}

/// Debezium's `VariableScaleDecimal`.
fn variable_decimal_schema() -> ConnectSchema {
    ConnectSchema::new(ConnectType::Struct(vec![
        Field::new("scale", ConnectSchema::new(ConnectType::Int32)),
        Field::new("value", ConnectSchema::new(ConnectType::Bytes)),
    ]))
    .named("io.debezium.data.VariableScaleDecimal")
    .version(1)
    .doc("Variable scaled decimal")
}
