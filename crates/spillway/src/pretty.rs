//! `spillway tail --pretty`: keys and values with Kafka Connect's and Debezium's logical
//! types decoded through their schemas, for people to read.
//!
//! A JSON document with a schema envelope (`{"schema":…, "payload":…}`) is walked together
//! with its Connect schema; an Avro record with its writer schema (whose Connect
//! properties, `connect.name` and `connect.parameters`, name the logical types); schemaless
//! JSON has nothing to decode by and is printed as it is. Decimals become exact JSON
//! numbers, dates and times ISO 8601 text, durations ISO 8601 durations, bit strings `0`s
//! and `1`s, other bytes hex or base64. Anything else, and any value that does not decode
//! (a wrong type, an out-of-range number), is printed as it was.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use spillway_registry::AvroDecoder;
use std::collections::HashMap;
use std::path::PathBuf;

/// What `--pretty` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrettyFormat {
    /// One JSON object per record, key and value decoded (their schemas left out).
    Json,
    /// One compact line per record: offset, time, op, key and row.
    Table,
}

/// How `--pretty` prints bytes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BytesAs {
    /// Lowercase hexadecimal, two digits a byte.
    #[default]
    Hex,
    /// Standard base64, as the JSON converter writes bytes.
    Base64,
}

pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const VARIABLE_SCALE_DECIMAL: &str = "io.debezium.data.VariableScaleDecimal";
const CONNECT_DATE: &str = "org.apache.kafka.connect.data.Date";
const CONNECT_TIME: &str = "org.apache.kafka.connect.data.Time";
const CONNECT_TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
const MICRO_TIME: &str = "io.debezium.time.MicroTime";
const MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";

/// Unscaled decimals longer than this many bytes (about 9,800 digits) are left as they are:
/// converting them costs time quadratic in their length.
const MAX_DECIMAL_BYTES: usize = 4096;
/// Longest bit string padded to its declared length.
const MAX_BIT_STRING: usize = 1 << 16;
/// Largest scale, either way, a decimal is written out with.
const MAX_SCALE: i64 = 10_000;

/// A Connect schema, as far as decoding needs it.
#[derive(Clone, Debug, PartialEq)]
pub enum Schema {
    Struct {
        name: Option<String>,
        fields: Vec<(String, Schema)>,
    },
    Array(Box<Schema>),
    Map {
        keys: Box<Schema>,
        values: Box<Schema>,
    },
    /// A primitive: its logical name and parameters, and whether it is `bytes`.
    Leaf {
        bytes: bool,
        name: Option<String>,
        parameters: Vec<(String, String)>,
    },
    /// Nothing is known of the value: it is printed as it is.
    Unknown,
}

impl Schema {
    fn parameter(&self, key: &str) -> Option<&str> {
        match self {
            Schema::Leaf { parameters, .. } => parameters
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    /// A schema as the JSON converter embeds it (`{"type":"struct","fields":[…],…}`).
    pub fn from_connect(json: &Value) -> Schema {
        let Some(object) = json.as_object() else {
            return Schema::Unknown;
        };
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        match object.get("type").and_then(Value::as_str) {
            Some("struct") => Schema::Struct {
                name,
                fields: object
                    .get("fields")
                    .and_then(Value::as_array)
                    .map(|fields| {
                        fields
                            .iter()
                            .filter_map(|f| {
                                let field = f.get("field")?.as_str()?;
                                Some((field.to_string(), Schema::from_connect(f)))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            Some("array") => Schema::Array(Box::new(
                object
                    .get("items")
                    .map_or(Schema::Unknown, Schema::from_connect),
            )),
            Some("map") => Schema::Map {
                keys: Box::new(
                    object
                        .get("keys")
                        .map_or(Schema::Unknown, Schema::from_connect),
                ),
                values: Box::new(
                    object
                        .get("values")
                        .map_or(Schema::Unknown, Schema::from_connect),
                ),
            },
            Some(ty) => Schema::Leaf {
                bytes: ty == "bytes",
                name,
                parameters: string_map(object.get("parameters")),
            },
            None => Schema::Unknown,
        }
    }

    /// An Avro writer schema as Confluent's `AvroConverter` (and spillway) register them:
    /// the Connect name is `connect.name`, else one of Avro's logical types.
    pub fn from_avro(json: &Value) -> Schema {
        AvroSchemas::default().schema(json, "")
    }
}

/// `{"k":"v",…}` as pairs, values that are not strings left out.
fn string_map(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Named Avro types defined so far, by full name: later uses refer to them by name.
#[derive(Default)]
struct AvroSchemas {
    named: HashMap<String, Schema>,
}

impl AvroSchemas {
    fn schema(&mut self, json: &Value, namespace: &str) -> Schema {
        match json {
            Value::String(name) => self.primitive_or_named(name, namespace),
            // A union: Connect's optional types are `["null", T]` or `[T, "null"]`. With more
            // branches the JSON of a value does not tell which one it took.
            Value::Array(branches) => {
                let mut kept: Vec<Schema> = branches
                    .iter()
                    .filter(|b| b.as_str() != Some("null"))
                    .map(|b| self.schema(b, namespace))
                    .collect();
                if kept.len() == 1 {
                    kept.remove(0)
                } else {
                    Schema::Unknown
                }
            }
            Value::Object(object) => self.complex(object, namespace),
            _ => Schema::Unknown,
        }
    }

    fn primitive_or_named(&self, name: &str, namespace: &str) -> Schema {
        match name {
            "null" | "boolean" | "int" | "long" | "float" | "double" | "string" => Schema::Leaf {
                bytes: false,
                name: None,
                parameters: Vec::new(),
            },
            "bytes" => Schema::Leaf {
                bytes: true,
                name: None,
                parameters: Vec::new(),
            },
            _ => {
                let qualified = format!("{namespace}.{name}");
                if !name.contains('.') && !namespace.is_empty() {
                    if let Some(schema) = self.named.get(&qualified) {
                        return schema.clone();
                    }
                }
                self.named.get(name).cloned().unwrap_or(Schema::Unknown)
            }
        }
    }

    fn complex(&mut self, object: &Map<String, Value>, namespace: &str) -> Schema {
        let ty = match object.get("type") {
            Some(Value::String(ty)) => ty.as_str(),
            // `{"type": {…}}` and `{"type": […]}`: the schema is the inner one.
            Some(inner) => return self.schema(inner, namespace),
            None => return Schema::Unknown,
        };
        let connect_name = object
            .get("connect.name")
            .and_then(Value::as_str)
            .map(str::to_string);
        match ty {
            "record" | "error" | "enum" | "fixed" => {
                let (full, inner_space) = full_name(object, namespace);
                let schema = match ty {
                    "record" | "error" => Schema::Struct {
                        name: connect_name.or_else(|| full.clone()),
                        fields: object
                            .get("fields")
                            .and_then(Value::as_array)
                            .map(|fields| {
                                fields
                                    .iter()
                                    .filter_map(|f| {
                                        let name = f.get("name")?.as_str()?;
                                        let schema = f.get("type").map_or(Schema::Unknown, |t| {
                                            self.schema(t, &inner_space)
                                        });
                                        Some((name.to_string(), schema))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    },
                    _ => self.leaf(object, ty == "fixed", connect_name),
                };
                if let Some(full) = full {
                    self.named.insert(full, schema.clone());
                }
                schema
            }
            "array" => Schema::Array(Box::new(
                object
                    .get("items")
                    .map_or(Schema::Unknown, |i| self.schema(i, namespace)),
            )),
            "map" => Schema::Map {
                keys: Box::new(Schema::Leaf {
                    bytes: false,
                    name: None,
                    parameters: Vec::new(),
                }),
                values: Box::new(
                    object
                        .get("values")
                        .map_or(Schema::Unknown, |v| self.schema(v, namespace)),
                ),
            },
            _ => self.leaf(object, ty == "bytes", connect_name),
        }
    }

    /// A primitive with properties: the Connect name, else the one its Avro logical type
    /// stands for.
    fn leaf(
        &self,
        object: &Map<String, Value>,
        bytes: bool,
        connect_name: Option<String>,
    ) -> Schema {
        let logical = object.get("logicalType").and_then(Value::as_str);
        let name = connect_name.or_else(|| {
            Some(
                match logical? {
                    "decimal" => DECIMAL,
                    "date" => CONNECT_DATE,
                    "time-millis" => CONNECT_TIME,
                    "time-micros" => MICRO_TIME,
                    "timestamp-millis" | "local-timestamp-millis" => CONNECT_TIMESTAMP,
                    "timestamp-micros" | "local-timestamp-micros" => MICRO_TIMESTAMP,
                    "timestamp-nanos" | "local-timestamp-nanos" => "io.debezium.time.NanoTimestamp",
                    _ => return None,
                }
                .to_string(),
            )
        });
        let mut parameters = string_map(object.get("connect.parameters"));
        if !parameters.iter().any(|(k, _)| k == "scale") {
            if let Some(scale) = object.get("scale").and_then(Value::as_i64) {
                parameters.push(("scale".to_string(), scale.to_string()));
            } else if logical == Some("decimal") {
                // Avro's decimal scale defaults to 0.
                parameters.push(("scale".to_string(), "0".to_string()));
            }
        }
        Schema::Leaf {
            bytes,
            name,
            parameters,
        }
    }
}

/// A named type's full name, and the namespace its own fields use.
fn full_name(object: &Map<String, Value>, namespace: &str) -> (Option<String>, String) {
    let Some(name) = object.get("name").and_then(Value::as_str) else {
        return (None, namespace.to_string());
    };
    if let Some(dot) = name.rfind('.') {
        return (Some(name.to_string()), name[..dot].to_string());
    }
    let space = object
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(namespace);
    if space.is_empty() {
        (Some(name.to_string()), String::new())
    } else {
        (Some(format!("{space}.{name}")), space.to_string())
    }
}

/// A decoded document: JSON whose numbers may be exact decimal text.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    /// A JSON value printed as it is.
    Json(Value),
    /// A number as exact decimal text (valid JSON number syntax).
    Number(String),
    Array(Vec<Out>),
    Object(Vec<(String, Out)>),
}

impl Out {
    fn string(text: String) -> Out {
        Out::Json(Value::String(text))
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("\"<{e}>\""))
    }
}

impl serde::Serialize for Out {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Json(value) => value.serialize(serializer),
            Out::Number(text) => match RawValue::from_string(text.clone()) {
                Ok(raw) => raw.serialize(serializer),
                Err(_) => serializer.serialize_str(text),
            },
            Out::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Out::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// The payload of a JSON document with a schema envelope, decoded; schemaless JSON as it is.
pub fn decode_json_document(document: &Value, bytes: BytesAs) -> Out {
    match document.as_object() {
        Some(o) if o.len() == 2 && o.contains_key("schema") && o.contains_key("payload") => {
            decode(&o["payload"], &Schema::from_connect(&o["schema"]), bytes)
        }
        _ => Out::Json(document.clone()),
    }
}

/// A value decoded through its schema.
pub fn decode(value: &Value, schema: &Schema, bytes: BytesAs) -> Out {
    if value.is_null() {
        return Out::Json(Value::Null);
    }
    match schema {
        Schema::Unknown => Out::Json(value.clone()),
        Schema::Struct { name, fields } => {
            if name.as_deref() == Some(VARIABLE_SCALE_DECIMAL) {
                if let Some(number) = variable_scale_decimal(value) {
                    return Out::Number(number);
                }
                return Out::Json(value.clone());
            }
            let Some(object) = value.as_object() else {
                return Out::Json(value.clone());
            };
            Out::Object(
                object
                    .iter()
                    .map(|(k, v)| {
                        let field = fields.iter().find(|(f, _)| f == k).map(|(_, s)| s);
                        (
                            k.clone(),
                            decode(v, field.unwrap_or(&Schema::Unknown), bytes),
                        )
                    })
                    .collect(),
            )
        }
        Schema::Array(items) => match value.as_array() {
            Some(values) => Out::Array(values.iter().map(|v| decode(v, items, bytes)).collect()),
            None => Out::Json(value.clone()),
        },
        Schema::Map { keys, values } => match value {
            Value::Object(entries) => Out::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), decode(v, values, bytes)))
                    .collect(),
            ),
            // Maps with keys that are not strings: `[[key, value], …]`.
            Value::Array(pairs) => Out::Array(
                pairs
                    .iter()
                    .map(|pair| match pair.as_array().map(Vec::as_slice) {
                        Some([k, v]) => {
                            Out::Array(vec![decode(k, keys, bytes), decode(v, values, bytes)])
                        }
                        _ => Out::Json(pair.clone()),
                    })
                    .collect(),
            ),
            _ => Out::Json(value.clone()),
        },
        Schema::Leaf {
            bytes: is_bytes,
            name,
            ..
        } => {
            let decoded = match name.as_deref() {
                Some(name) => logical(value, name, schema, bytes),
                None => None,
            };
            match decoded {
                Some(out) => out,
                None if *is_bytes => match value.as_str().and_then(|s| STANDARD.decode(s).ok()) {
                    Some(raw) => Out::string(render_bytes(&raw, bytes)),
                    None => Out::Json(value.clone()),
                },
                None => Out::Json(value.clone()),
            }
        }
    }
}

/// A value of a named (logical) type, or `None` when the name is not one decoded here or
/// the value does not decode.
fn logical(value: &Value, name: &str, schema: &Schema, bytes: BytesAs) -> Option<Out> {
    let int = || value.as_i64();
    let text = match name {
        DECIMAL => {
            // The converter's `decimal.format=NUMERIC` writes a number already.
            if value.is_number() {
                return Some(Out::Json(value.clone()));
            }
            let scale = schema.parameter("scale")?.parse().ok()?;
            let unscaled = STANDARD.decode(value.as_str()?).ok()?;
            return decimal_text(&unscaled, scale).map(Out::Number);
        }
        CONNECT_DATE | "io.debezium.time.Date" => date(int()?)?,
        CONNECT_TIME | "io.debezium.time.Time" => time_of_day(int()?, 3)?,
        MICRO_TIME => time_of_day(int()?, 6)?,
        "io.debezium.time.NanoTime" => time_of_day(int()?, 9)?,
        CONNECT_TIMESTAMP | "io.debezium.time.Timestamp" => timestamp(int()?, 3)?,
        MICRO_TIMESTAMP => timestamp(int()?, 6)?,
        "io.debezium.time.NanoTimestamp" => timestamp(int()?, 9)?,
        "io.debezium.time.MicroDuration" => duration(int()?, 6),
        "io.debezium.time.NanoDuration" => duration(int()?, 9),
        "io.debezium.data.Bits" => {
            let raw = STANDARD.decode(value.as_str()?).ok()?;
            let length = schema.parameter("length").and_then(|l| l.parse().ok());
            match length.and_then(|l| bit_string(&raw, l)) {
                Some(bits) => bits,
                None => render_bytes(&raw, bytes),
            }
        }
        _ => return None,
    };
    Some(Out::string(text))
}

/// Bytes as `--bytes` asks.
pub fn render_bytes(raw: &[u8], bytes: BytesAs) -> String {
    match bytes {
        BytesAs::Hex => {
            let mut out = String::with_capacity(raw.len() * 2);
            for b in raw {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
        BytesAs::Base64 => STANDARD.encode(raw),
    }
}

/// Debezium's `Bits` (bit i of the string from the right is bit i of the little-endian
/// bytes, high zero bytes dropped) as a bit string of `length` characters; `None` when a
/// bit at or past `length` is set. A length past [`MAX_BIT_STRING`] (a `varbit` without a
/// limit is `2147483647`) prints the bits from the highest one set: the leading zeros are
/// not in the event.
pub fn bit_string(raw: &[u8], length: usize) -> Option<String> {
    let bit = |i: usize| raw.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1);
    let available = raw.len().checked_mul(8)?;
    let length = if length > MAX_BIT_STRING {
        (0..available).rev().find(|&i| bit(i)).map_or(1, |i| i + 1)
    } else {
        length
    };
    if (length..available).any(bit) {
        return None;
    }
    Some(
        (0..length)
            .rev()
            .map(|i| if bit(i) { '1' } else { '0' })
            .collect(),
    )
}

/// Debezium's `VariableScaleDecimal`: `{"scale": s, "value": base64 unscaled}`.
fn variable_scale_decimal(value: &Value) -> Option<String> {
    let scale = value.get("scale")?.as_i64()?;
    let unscaled = STANDARD.decode(value.get("value")?.as_str()?).ok()?;
    decimal_text(&unscaled, scale)
}

/// A decimal of big-endian two's-complement unscaled bytes and a scale, as exact decimal
/// text (`-0.01`, `120.50`, `12300` for a negative scale); `None` for no bytes, more than
/// [`MAX_DECIMAL_BYTES`] of them, or a scale beyond [`MAX_SCALE`].
pub fn decimal_text(unscaled: &[u8], scale: i64) -> Option<String> {
    if unscaled.is_empty()
        || unscaled.len() > MAX_DECIMAL_BYTES
        || scale.unsigned_abs() > MAX_SCALE as u64
    {
        return None;
    }
    let negative = unscaled[0] & 0x80 != 0;
    let magnitude: Vec<u8> = if negative {
        // Two's complement: invert and add one.
        let mut m: Vec<u8> = unscaled.iter().map(|b| !b).collect();
        for byte in m.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
        m
    } else {
        unscaled.to_vec()
    };
    let mut digits = magnitude_digits(&magnitude);
    let zero = digits == "0";
    if scale < 0 {
        if !zero {
            digits.push_str(&"0".repeat(scale.unsigned_abs() as usize));
        }
    } else if scale > 0 {
        let scale = scale as usize;
        if digits.len() <= scale {
            digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
        }
        digits.insert(digits.len() - scale, '.');
    }
    Some(if negative && !zero {
        format!("-{digits}")
    } else {
        digits
    })
}

/// An unsigned big-endian integer in decimal digits.
fn magnitude_digits(bytes: &[u8]) -> String {
    // Little-endian limbs of nine decimal digits each.
    let mut limbs: Vec<u32> = Vec::new();
    for &byte in bytes {
        let mut carry = u64::from(byte);
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * 256 + carry;
            *limb = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push((carry % 1_000_000_000) as u32);
            carry /= 1_000_000_000;
        }
    }
    let Some((top, rest)) = limbs.split_last() else {
        return "0".to_string();
    };
    let mut out = top.to_string();
    for limb in rest.iter().rev() {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

/// Days since 1970-01-01 as a proleptic Gregorian `(year, month, day)`.
fn civil(days: i64) -> Option<(i64, u32, u32)> {
    // Howard Hinnant's days_from_civil inverse, in eras of 400 years.
    let z = days.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = era.checked_mul(400)?.checked_add(yoe)? + i64::from(month <= 2);
    Some((year, month, day))
}

/// `YYYY-MM-DD`; years past 9999 with `+`, before year 0 with `-` (as Java prints them).
pub fn date(days: i64) -> Option<String> {
    let (year, month, day) = civil(days)?;
    let year = if year > 9999 {
        format!("+{year}")
    } else if year < 0 {
        format!("-{:04}", year.unsigned_abs())
    } else {
        format!("{year:04}")
    };
    Some(format!("{year}-{month:02}-{day:02}"))
}

/// `.fff…` of `fraction` units of 10^-`digits` s, trailing zeros dropped; empty for none.
fn fraction(fraction: u64, digits: u32) -> String {
    if fraction == 0 {
        return String::new();
    }
    let text = format!("{fraction:0width$}", width = digits as usize);
    format!(".{}", text.trim_end_matches('0'))
}

/// A time of day in units of 10^-`digits` s since midnight: `HH:MM:SS[.fff]`. MySQL's TIME
/// is a duration: it may be negative or past 24 hours (`-838:59:59`).
pub fn time_of_day(value: i64, digits: u32) -> Option<String> {
    let per_second = 10u64.pow(digits);
    let sign = if value < 0 { "-" } else { "" };
    let units = value.unsigned_abs();
    let seconds = units / per_second;
    Some(format!(
        "{sign}{:02}:{:02}:{:02}{}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        fraction(units % per_second, digits)
    ))
}

/// A timestamp in units of 10^-`digits` s since the epoch, without a zone (Debezium's and
/// Connect's timestamps carry the wall-clock time as if in UTC): `YYYY-MM-DDTHH:MM:SS[.fff]`.
pub fn timestamp(value: i64, digits: u32) -> Option<String> {
    let per_second = 10i64.pow(digits);
    let per_day = per_second.checked_mul(86_400)?;
    let day = date(value.div_euclid(per_day))?;
    let of_day = value.rem_euclid(per_day);
    let seconds = of_day / per_second;
    Some(format!(
        "{day}T{:02}:{:02}:{:02}{}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        fraction((of_day % per_second) as u64, digits)
    ))
}

/// A duration in units of 10^-`digits` s as ISO 8601, in days of 24 hours (`P429DT7H5M6.789S`,
/// `-P1DT1S`, `PT0S`); Debezium counts a month as 30.4375 days and a year as 365.25.
pub fn duration(value: i64, digits: u32) -> String {
    let per_second = 10u64.pow(digits);
    let units = value.unsigned_abs();
    let total = units / per_second;
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let frac = fraction(units % per_second, digits);
    let mut out = String::from(if value < 0 { "-P" } else { "P" });
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || !frac.is_empty() || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || !frac.is_empty() || (hours == 0 && minutes == 0) {
            out.push_str(&format!("{seconds}{frac}S"));
        }
    }
    out
}

/// A record's timestamp (ms since the epoch) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn record_time(ms: i64) -> String {
    let Some(day) = date(ms.div_euclid(86_400_000)) else {
        return ms.to_string();
    };
    let of_day = ms.rem_euclid(86_400_000);
    format!(
        "{day}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// A decoded record as one line of `--pretty=table`: offset, time, op, key and row (the
/// row after the change, or before it for a delete; the whole value when it is not a
/// change event; `tombstone` for none).
pub fn table_line(
    offset: &str,
    timestamp_ms: i64,
    key: Option<&Out>,
    value: Option<&Out>,
) -> String {
    let key = key.map_or_else(|| "-".to_string(), Out::to_json);
    let (op, row) = match value {
        None => ("-".to_string(), "tombstone".to_string()),
        Some(value) => change(value).unwrap_or_else(|| ("-".to_string(), value.to_json())),
    };
    format!(
        "{offset}  {}  {op}  {key}  {row}",
        record_time(timestamp_ms)
    )
}

/// `(op, row)` of a change event's envelope.
fn change<'a>(value: &'a Out) -> Option<(String, String)> {
    let entries: Vec<(&str, &Out)> = match value {
        Out::Object(entries) => entries.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Out::Json(Value::Object(map)) => return change_json(map),
        _ => return None,
    };
    let get = |key: &str| entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let Some(Out::Json(Value::String(op))) = get("op") else {
        return None;
    };
    let present = |o: Option<&'a Out>| o.filter(|v| **v != Out::Json(Value::Null));
    let row = present(get("after"))
        .or_else(|| present(get("before")))
        .or_else(|| present(get("message")))
        .map_or_else(|| "-".to_string(), Out::to_json);
    Some((op.clone(), row))
}

fn change_json(map: &Map<String, Value>) -> Option<(String, String)> {
    let op = map.get("op")?.as_str()?.to_string();
    let present = |k: &str| map.get(k).filter(|v| !v.is_null());
    let row = present("after")
        .or_else(|| present("before"))
        .or_else(|| present("message"))
        .map_or_else(|| "-".to_string(), Value::to_string);
    Some((op, row))
}

/// Decodes keys and values as `--pretty` prints them, keeping the Avro writer schemas it
/// has translated.
pub struct Decoder {
    avro: AvroDecoder,
    avro_schemas: HashMap<u32, Schema>,
    bytes: BytesAs,
}

impl Decoder {
    /// A decoder reading Avro schemas from the embedded registry in `registry_dir`.
    pub fn new(registry_dir: PathBuf, bytes: BytesAs) -> Decoder {
        Decoder {
            avro: AvroDecoder::new(registry_dir),
            avro_schemas: HashMap::new(),
            bytes,
        }
    }

    /// A key or value decoded: Avro through its writer schema, JSON through its schema
    /// envelope (schemaless JSON as it is), other text as a string and other bytes as
    /// `--bytes` asks.
    pub fn document(&mut self, raw: &[u8]) -> Out {
        if let Some(Ok((value, id, text))) = self.avro.decode_with_schema(raw) {
            let schema = self.avro_schemas.entry(id).or_insert_with(|| {
                serde_json::from_str(text).map_or(Schema::Unknown, |j| Schema::from_avro(&j))
            });
            return decode(&value, schema, self.bytes);
        }
        match serde_json::from_slice::<Value>(raw) {
            Ok(document) => decode_json_document(&document, self.bytes),
            Err(_) => Out::string(match std::str::from_utf8(raw) {
                Ok(text) => text.to_string(),
                Err(_) => render_bytes(raw, self.bytes),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use spillway_core::schema::{ConnectSchema, ConnectType, Field};
    use spillway_core::Value as Row;

    fn b64(bytes: &[u8]) -> Value {
        Value::String(STANDARD.encode(bytes))
    }

    #[test]
    fn decimals_are_exact_at_any_scale_sign_and_precision() {
        assert_eq!(decimal_text(&[0x2f, 0x12], 2).unwrap(), "120.50");
        assert_eq!(decimal_text(&[0xff], 2).unwrap(), "-0.01");
        assert_eq!(decimal_text(&[0x64], 0).unwrap(), "100");
        assert_eq!(decimal_text(&[0x00], 0).unwrap(), "0");
        assert_eq!(decimal_text(&[0x00], 3).unwrap(), "0.000");
        assert_eq!(decimal_text(&[0x7b], -2).unwrap(), "12300");
        assert_eq!(decimal_text(&[0x00], -2).unwrap(), "0");
        assert_eq!(decimal_text(&[73, 150, 2, 211], 2).unwrap(), "12345678.91");
        assert_eq!(
            decimal_text(&[253, 171, 244, 28, 1], 2).unwrap(),
            "-99999999.99"
        );
        assert_eq!(decimal_text(&[0x80], 0).unwrap(), "-128");
        assert_eq!(decimal_text(&[0x00, 0x80], 0).unwrap(), "128");
        assert_eq!(decimal_text(&[0xff, 0x00], 1).unwrap(), "-25.6");
        // numeric 3.14159265358979323846264338327950288: 36 digits, scale 35.
        let pi = [
            60, 129, 63, 102, 54, 217, 132, 242, 89, 91, 106, 55, 42, 83, 208,
        ];
        assert_eq!(
            decimal_text(&pi, 35).unwrap(),
            "3.14159265358979323846264338327950288"
        );
        // 2^255 - 1 and -2^255: 77 digits, exact.
        let mut max = vec![0xffu8; 32];
        max[0] = 0x7f;
        assert_eq!(
            decimal_text(&max, 0).unwrap(),
            "57896044618658097711785492504343953926634992332820282019728792003956564819967"
        );
        let mut min = vec![0u8; 32];
        min[0] = 0x80;
        assert_eq!(
            decimal_text(&min, 76).unwrap(),
            "-5.7896044618658097711785492504343953926634992332820282019728792003956564819968"
        );
        // Nothing to decode, too long, or a scale out of reach: left as they were.
        assert_eq!(decimal_text(&[], 2), None);
        assert_eq!(decimal_text(&vec![1u8; MAX_DECIMAL_BYTES + 1], 0), None);
        assert_eq!(decimal_text(&[1], MAX_SCALE + 1), None);
        assert_eq!(decimal_text(&[1], i64::MIN), None);
    }

    #[test]
    fn decimals_print_as_raw_json_numbers() {
        let schema = Schema::from_connect(&json!({
            "type": "struct",
            "fields": [
                {"type": "bytes", "optional": true, "name": DECIMAL,
                 "parameters": {"scale": "2", "connect.decimal.precision": "10"}, "field": "p"},
                {"type": "struct", "optional": true, "name": VARIABLE_SCALE_DECIMAL,
                 "fields": [{"type": "int32", "field": "scale"}, {"type": "bytes", "field": "value"}],
                 "field": "v"},
            ]
        }));
        let out = decode(
            &json!({"p": b64(&[0x2f, 0x12]), "v": {"scale": 35, "value": b64(&[
                60, 129, 63, 102, 54, 217, 132, 242, 89, 91, 106, 55, 42, 83, 208,
            ])}}),
            &schema,
            BytesAs::Hex,
        );
        assert_eq!(
            out.to_json(),
            r#"{"p":120.50,"v":3.14159265358979323846264338327950288}"#
        );
        // A decimal written as a number (`decimal.format=NUMERIC`) stays one; one that does
        // not decode stays as it was.
        let out = decode(
            &json!({"p": 120.5, "v": {"scale": "x", "value": "AA=="}}),
            &schema,
            BytesAs::Hex,
        );
        assert_eq!(
            out.to_json(),
            r#"{"p":120.5,"v":{"scale":"x","value":"AA=="}}"#
        );
        let out = decode(&json!({"p": "not base64!"}), &schema, BytesAs::Hex);
        assert_eq!(out.to_json(), r#"{"p":"not base64!"}"#);
    }

    #[test]
    fn dates_cover_leap_years_centuries_and_far_years() {
        assert_eq!(date(0).unwrap(), "1970-01-01");
        assert_eq!(date(-1).unwrap(), "1969-12-31");
        assert_eq!(date(19782).unwrap(), "2024-02-29");
        assert_eq!(date(-165).unwrap(), "1969-07-20");
        assert_eq!(date(-25509).unwrap(), "1900-02-28");
        assert_eq!(date(-25508).unwrap(), "1900-03-01");
        assert_eq!(date(11016).unwrap(), "2000-02-29");
        assert_eq!(date(-719162).unwrap(), "0001-01-01");
        assert_eq!(date(-719163).unwrap(), "0000-12-31");
        assert_eq!(date(-719162 - 366 - 1).unwrap(), "-0001-12-31");
        assert_eq!(date(-354285).unwrap(), "1000-01-01");
        assert_eq!(date(2932896).unwrap(), "9999-12-31");
        assert_eq!(date(2932897).unwrap(), "+10000-01-01");
        assert_eq!(date(i64::from(i32::MAX)).unwrap(), "+5881580-07-11");
        assert_eq!(date(i64::from(i32::MIN)).unwrap(), "-5877641-06-23");
        // No panic at the ends of the range.
        assert_eq!(date(i64::MAX), None);
        assert!(date(i64::MIN).is_some());
    }

    #[test]
    fn times_of_day_and_mysql_durations() {
        assert_eq!(time_of_day(0, 6).unwrap(), "00:00:00");
        assert_eq!(time_of_day(86_399_999_999, 6).unwrap(), "23:59:59.999999");
        assert_eq!(time_of_day(45_296_789, 3).unwrap(), "12:34:56.789");
        assert_eq!(time_of_day(1, 3).unwrap(), "00:00:00.001");
        assert_eq!(
            time_of_day(45_296_000_000_001, 9).unwrap(),
            "12:34:56.000000001"
        );
        // PostgreSQL's 24:00:00, MySQL's TIME range and negative TIMEs.
        assert_eq!(time_of_day(86_400_000_000, 6).unwrap(), "24:00:00");
        assert_eq!(time_of_day(3_020_399_000_000, 6).unwrap(), "838:59:59");
        assert_eq!(time_of_day(-3_020_399_000_000, 6).unwrap(), "-838:59:59");
        assert_eq!(time_of_day(-1_500_000, 6).unwrap(), "-00:00:01.5");
        assert_eq!(time_of_day(-500_000, 6).unwrap(), "-00:00:00.5");
        assert!(time_of_day(i64::MIN, 9).is_some());
    }

    #[test]
    fn timestamps_before_and_after_the_epoch() {
        assert_eq!(timestamp(0, 3).unwrap(), "1970-01-01T00:00:00");
        assert_eq!(
            timestamp(1_710_074_096_789_012, 6).unwrap(),
            "2024-03-10T12:34:56.789012"
        );
        assert_eq!(
            timestamp(1_710_074_096_789, 3).unwrap(),
            "2024-03-10T12:34:56.789"
        );
        assert_eq!(
            timestamp(1_710_074_096_789_012_345, 9).unwrap(),
            "2024-03-10T12:34:56.789012345"
        );
        assert_eq!(
            timestamp(-14_182_939_500_000, 6).unwrap(),
            "1969-07-20T20:17:40.5"
        );
        assert_eq!(timestamp(-1, 6).unwrap(), "1969-12-31T23:59:59.999999");
        assert_eq!(
            timestamp(-2_208_988_799_999, 3).unwrap(),
            "1900-01-01T00:00:00.001"
        );
        assert_eq!(
            timestamp(i64::MAX, 6).unwrap(),
            "+294247-01-10T04:00:54.775807"
        );
        assert_eq!(
            timestamp(i64::MIN, 6).unwrap(),
            "-290308-12-21T19:59:05.224192"
        );
        assert!(timestamp(i64::MIN, 9).is_some() && timestamp(i64::MAX, 3).is_some());
        assert_eq!(record_time(1_710_074_096_789), "2024-03-10T12:34:56.789Z");
        assert_eq!(record_time(-1), "1969-12-31T23:59:59.999Z");
        assert!(!record_time(i64::MIN).is_empty());
    }

    #[test]
    fn durations_in_days_of_24_hours() {
        assert_eq!(duration(0, 6), "PT0S");
        // '1 year 2 mons 3 days 04:05:06.789' as Debezium counts it (months of 30.4375 days).
        assert_eq!(duration(37_091_106_789_000, 6), "P429DT7H5M6.789S");
        assert_eq!(duration(-86_401_000_000, 6), "-P1DT1S");
        assert_eq!(duration(3_600_000_000, 6), "PT1H");
        assert_eq!(duration(86_400_000_000, 6), "P1D");
        assert_eq!(duration(60_000_000_001, 9), "PT1M0.000000001S");
        assert_eq!(duration(1, 6), "PT0.000001S");
        assert!(duration(i64::MIN, 6).starts_with("-P106751991D"));
    }

    #[test]
    fn bits_read_as_bit_strings() {
        assert_eq!(bit_string(&[0x05], 3).unwrap(), "101");
        assert_eq!(bit_string(&[], 3).unwrap(), "000");
        assert_eq!(bit_string(&[0x6b], 7).unwrap(), "1101011");
        assert_eq!(bit_string(&[0x01, 0x02], 10).unwrap(), "1000000001");
        assert_eq!(bit_string(&[0x83, 0x02], 10).unwrap(), "1010000011");
        // A bit past the length: not a bit string of that length.
        assert_eq!(bit_string(&[0x08], 3), None);
        // Without a limit (varbit): from the highest bit set.
        assert_eq!(bit_string(&[0x6b], 2147483647).unwrap(), "1101011");
        assert_eq!(bit_string(&[0x01, 0x02], 2147483647).unwrap(), "1000000001");
        assert_eq!(bit_string(&[], usize::MAX).unwrap(), "0");
        assert_eq!(bit_string(&[0x00, 0x00], usize::MAX).unwrap(), "0");
        assert_eq!(render_bytes(&[0x00, 0x01, 0xff], BytesAs::Hex), "0001ff");
        assert_eq!(render_bytes(&[0x00, 0x01, 0xff], BytesAs::Base64), "AAH/");
        assert_eq!(render_bytes(&[], BytesAs::Hex), "");
    }

    /// A row of every logical type the connectors write, as the JSON converter writes it.
    fn typed_row() -> (ConnectSchema, Row) {
        let s = |ty| ConnectSchema::new(ty).optional(true);
        let fields = vec![
            Field::new("id", ConnectSchema::new(ConnectType::Int32)),
            Field::new(
                "price",
                s(ConnectType::Bytes)
                    .named(DECIMAL)
                    .version(1)
                    .param("scale", "2")
                    .param("connect.decimal.precision", "10"),
            ),
            Field::new(
                "anything",
                s(ConnectType::Struct(vec![
                    Field::new("scale", ConnectSchema::new(ConnectType::Int32)),
                    Field::new("value", ConnectSchema::new(ConnectType::Bytes)),
                ]))
                .named(VARIABLE_SCALE_DECIMAL)
                .version(1),
            ),
            Field::new("d", s(ConnectType::Int32).named("io.debezium.time.Date")),
            Field::new("cd", s(ConnectType::Int32).named(CONNECT_DATE)),
            Field::new("t", s(ConnectType::Int64).named(MICRO_TIME)),
            Field::new("t3", s(ConnectType::Int32).named("io.debezium.time.Time")),
            Field::new("ts", s(ConnectType::Int64).named(MICRO_TIMESTAMP)),
            Field::new(
                "ts3",
                s(ConnectType::Int64).named("io.debezium.time.Timestamp"),
            ),
            Field::new("cts", s(ConnectType::Int64).named(CONNECT_TIMESTAMP)),
            Field::new(
                "tstz",
                s(ConnectType::String).named("io.debezium.time.ZonedTimestamp"),
            ),
            Field::new(
                "iv",
                s(ConnectType::Int64).named("io.debezium.time.MicroDuration"),
            ),
            Field::new("raw", s(ConnectType::Bytes)),
            Field::new(
                "bits",
                s(ConnectType::Bytes)
                    .named("io.debezium.data.Bits")
                    .param("length", "10"),
            ),
            Field::new("u", s(ConnectType::String).named("io.debezium.data.Uuid")),
            Field::new(
                "dates",
                s(ConnectType::Array(Box::new(
                    s(ConnectType::Int32).named("io.debezium.time.Date"),
                ))),
            ),
            Field::new(
                "pt",
                s(ConnectType::Struct(vec![
                    Field::new("x", ConnectSchema::new(ConnectType::Float64)),
                    Field::new("y", ConnectSchema::new(ConnectType::Float64)),
                    Field::new("wkb", s(ConnectType::Bytes)),
                    Field::new("srid", s(ConnectType::Int32)),
                ]))
                .named("io.debezium.data.geometry.Point"),
            ),
            Field::new("ts_ms", s(ConnectType::Int64)),
        ];
        let row = Row::Struct(vec![
            Row::Int(1),
            Row::Decimal {
                unscaled: vec![0xd0, 0xee],
                scale: 2,
            },
            Row::VariableDecimal {
                unscaled: vec![0x64],
                scale: 0,
            },
            Row::Int(19782),
            Row::Int(-165),
            Row::Int(-1_500_000),
            Row::Int(45_296_789),
            Row::Int(-14_182_939_500_000),
            Row::Int(1_710_074_096_789),
            Row::Int(0),
            Row::String("2024-03-10T10:34:56.789012Z".into()),
            Row::Int(37_091_106_789_000),
            Row::Bytes(vec![0x00, 0x01, 0xff]),
            Row::Bytes(vec![0x83, 0x02]),
            Row::String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
            Row::Array(vec![Row::Int(0), Row::Null]),
            Row::Struct(vec![
                Row::Float64(1.5),
                Row::Float64(-2.25),
                Row::Bytes(vec![1, 1, 0, 0, 0]),
                Row::Null,
            ]),
            Row::Int(1_710_074_096_000),
        ]);
        (
            ConnectSchema::new(ConnectType::Struct(fields)).named("t.Value"),
            row,
        )
    }

    fn expected_row(bits: &str, raw: &str, wkb: &str) -> Value {
        json!({
            "id": 1, "price": -120.50, "anything": 100, "d": "2024-02-29", "cd": "1969-07-20",
            "t": "-00:00:01.5", "t3": "12:34:56.789", "ts": "1969-07-20T20:17:40.5",
            "ts3": "2024-03-10T12:34:56.789", "cts": "1970-01-01T00:00:00",
            "tstz": "2024-03-10T10:34:56.789012Z", "iv": "P429DT7H5M6.789S", "raw": raw,
            "bits": bits, "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "dates": ["1970-01-01", null],
            "pt": {"x": 1.5, "y": -2.25, "wkb": wkb, "srid": null},
            "ts_ms": 1_710_074_096_000_i64,
        })
    }

    #[test]
    fn a_json_envelope_decodes_every_logical_type() {
        let (schema, row) = typed_row();
        let mut doc = b"{\"schema\":".to_vec();
        spillway_formats::json::write_schema(&mut doc, &schema, None);
        doc.extend_from_slice(b",\"payload\":");
        spillway_formats::json::write_value(&mut doc, &row, &schema, "").unwrap();
        doc.push(b'}');
        let document: Value = serde_json::from_slice(&doc).unwrap();
        let out = decode_json_document(&document, BytesAs::Hex);
        let text = out.to_json();
        assert!(text.contains(r#""price":-120.50,"#), "{text}");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, expected_row("1010000011", "0001ff", "0101000000"));
        let parsed: Value =
            serde_json::from_str(&decode_json_document(&document, BytesAs::Base64).to_json())
                .unwrap();
        // Bit strings stay bit strings; other bytes follow --bytes.
        assert_eq!(parsed, expected_row("1010000011", "AAH/", "AQEAAAA="));
        // Schemaless JSON has nothing to decode by.
        let schemaless = json!({"id": 1, "price": "0O4="});
        assert_eq!(
            decode_json_document(&schemaless, BytesAs::Hex),
            Out::Json(schemaless)
        );
    }

    #[test]
    fn an_avro_writer_schema_decodes_every_logical_type() {
        let (schema, row) = typed_row();
        let avro = spillway_formats::avro::avro_schema_json(&schema).unwrap();
        let avro: Value = serde_json::from_str(&avro).unwrap();
        // What the registry's decoder makes of an Avro record: the schemaless JSON shape.
        let mut payload = Vec::new();
        spillway_formats::json::write_value(&mut payload, &row, &schema, "").unwrap();
        let payload: Value = serde_json::from_slice(&payload).unwrap();
        let out = decode(&payload, &Schema::from_avro(&avro), BytesAs::Hex);
        let parsed: Value = serde_json::from_str(&out.to_json()).unwrap();
        assert_eq!(parsed, expected_row("1010000011", "0001ff", "0101000000"));
    }

    #[test]
    fn avro_logical_types_named_types_and_unions() {
        let schema = Schema::from_avro(&json!({
            "type": "record", "name": "Envelope", "namespace": "app.t",
            "fields": [
                {"name": "before", "type": ["null", {"type": "record", "name": "Value",
                    "fields": [
                        {"name": "d", "type": {"type": "int", "logicalType": "date"}},
                        {"name": "n", "type": {"type": "bytes", "logicalType": "decimal",
                            "precision": 5, "scale": 1}},
                        {"name": "m", "type": {"type": "map", "values":
                            {"type": "long", "logicalType": "timestamp-micros"}}},
                        {"name": "f", "type": {"type": "fixed", "name": "F", "size": 2}},
                        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["a"]}},
                        {"name": "either", "type": ["null", "int", "string"]},
                    ]}]},
                {"name": "after", "type": ["null", "Value"]},
                {"name": "again", "type": ["null", "app.t.Value"]},
            ]
        }));
        let row = json!({"d": 19782, "n": "/w==", "m": {"k": 0}, "f": "AAE=", "e": "a",
            "either": 5});
        let out = decode(
            &json!({"before": row, "after": row, "again": row}),
            &schema,
            BytesAs::Hex,
        );
        let decoded = r#"{"d":"2024-02-29","n":-0.1,"m":{"k":"1970-01-01T00:00:00"},"f":"0001","e":"a","either":5}"#;
        assert_eq!(
            out.to_json(),
            format!(r#"{{"before":{decoded},"after":{decoded},"again":{decoded}}}"#)
        );
    }

    #[test]
    fn values_of_the_wrong_type_stay_as_they_were() {
        let schema = Schema::from_connect(&json!({
            "type": "struct", "fields": [
                {"type": "int32", "name": "io.debezium.time.Date", "field": "d"},
                {"type": "int64", "name": MICRO_TIMESTAMP, "field": "ts"},
                {"type": "bytes", "name": "io.debezium.data.Bits", "parameters": {"length": "2"},
                 "field": "b"},
                {"type": "bytes", "field": "raw"},
                {"type": "map", "keys": {"type": "int32", "name": "io.debezium.time.Date"},
                 "values": {"type": "int32", "name": "io.debezium.time.Date"}, "field": "m"},
            ]
        }));
        let value = json!({"d": "x", "ts": 1.5, "b": "Dw==", "raw": "%%", "extra": 9,
            "m": [[0, 1], "odd"]});
        let out = decode(&value, &schema, BytesAs::Hex);
        assert_eq!(
            out.to_json(),
            r#"{"d":"x","ts":1.5,"b":"0f","raw":"%%","extra":9,"m":[["1970-01-01","1970-01-02"],"odd"]}"#
        );
        assert_eq!(
            decode(
                &json!(u64::MAX),
                &Schema::from_connect(&json!({"type": "int64",
                "name": MICRO_TIMESTAMP})),
                BytesAs::Hex
            ),
            Out::Json(json!(u64::MAX))
        );
    }

    #[test]
    fn table_lines_show_the_row_of_each_change() {
        let key = Out::Json(json!({"id": 1}));
        let change = |op: &str, before: Value, after: Value| {
            Out::Object(vec![
                ("before".into(), Out::Json(before)),
                ("after".into(), Out::Json(after)),
                ("op".into(), Out::Json(json!(op))),
            ])
        };
        let created = change("c", Value::Null, json!({"id": 1}));
        assert_eq!(
            table_line("7", 1_710_074_096_789, Some(&key), Some(&created)),
            r#"7  2024-03-10T12:34:56.789Z  c  {"id":1}  {"id":1}"#
        );
        let deleted = change("d", json!({"id": 1, "v": 2}), Value::Null);
        assert_eq!(
            table_line("0:8", 0, Some(&key), Some(&deleted)),
            r#"0:8  1970-01-01T00:00:00.000Z  d  {"id":1}  {"id":1,"v":2}"#
        );
        assert_eq!(
            table_line("9", 0, Some(&key), None),
            r#"9  1970-01-01T00:00:00.000Z  -  {"id":1}  tombstone"#
        );
        let truncated = change("t", Value::Null, Value::Null);
        assert!(table_line("10", 0, None, Some(&truncated)).ends_with("  t  -  -"));
        let plain = Out::Json(json!({"id": 1, "op": "c"}));
        assert!(table_line("11", 0, None, Some(&plain)).ends_with(r#"  c  -  -"#));
        let other = Out::Json(json!({"ddl": "CREATE"}));
        assert!(table_line("12", 0, None, Some(&other)).ends_with(r#"  -  -  {"ddl":"CREATE"}"#));
    }
}
