//! Reading Confluent wire-format Avro back as JSON, with the writer schemas of the embedded
//! registry: what `spillway tail` prints for Avro topics.
//!
//! The JSON has the shape of the schemaless JSON format: unions are their value, bytes and
//! decimals base64 (a decimal's unscaled two's-complement bytes, as Kafka Connect's JSON
//! converter writes them).

use crate::Registry;
use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// Decodes wire-format records with the schemas of the registry in a directory, re-reading
/// the registry when a record names an id it did not have yet.
pub struct AvroDecoder {
    dir: PathBuf,
    registry: Option<Registry>,
    /// Parsed writer schemas by id, with their JSON text.
    schemas: HashMap<u32, (Schema, String)>,
}

impl AvroDecoder {
    /// A decoder for the registry kept in `dir` (`<data dir>/registry`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AvroDecoder {
            dir: dir.into(),
            registry: None,
            schemas: HashMap::new(),
        }
    }

    /// The record as JSON, or `None` when it is not in the wire format or its schema id is
    /// not in the registry.
    pub fn decode(&mut self, bytes: &[u8]) -> Option<Result<Value, String>> {
        self.decode_with_schema(bytes)
            .map(|r| r.map(|(value, _, _)| value))
    }

    /// [`AvroDecoder::decode`], with the writer schema's id and JSON text (its Connect
    /// properties, such as `connect.name`, included).
    pub fn decode_with_schema(
        &mut self,
        bytes: &[u8],
    ) -> Option<Result<(Value, u32, &str), String>> {
        if bytes.len() < 5 || bytes[0] != 0 || !self.dir.join("schemas.jsonl").exists() {
            return None;
        }
        let id = u32::from_be_bytes(bytes[1..5].try_into().ok()?);
        if !self.schemas.contains_key(&id) {
            let mut text = self.registry.as_ref().and_then(|r| r.schema(id));
            if text.is_none() {
                self.registry = Registry::open(&self.dir).ok();
                text = self.registry.as_ref().and_then(|r| r.schema(id));
            }
            let text = text?;
            let schema = match Schema::parse_str(&text) {
                Ok(s) => s,
                Err(e) => return Some(Err(format!("schema {id} is not Avro: {e}"))),
            };
            self.schemas.insert(id, (schema, text));
        }
        let (schema, text) = &self.schemas[&id];
        let mut rest = &bytes[5..];
        let result = apache_avro::reader::datum::GenericDatumReader::builder(schema)
            .build()
            .and_then(|r| r.read_value(&mut rest))
            .map(|v| (avro_to_json(&v), id, text.as_str()))
            .map_err(|e| format!("cannot decode with schema {id}: {e}"));
        Some(result)
    }
}

/// The integer of any of Avro's int and long values (their logical types included).
pub fn avro_integer(value: &Avro) -> Option<i64> {
    match value {
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Some(i64::from(*i)),
        Avro::Long(i)
        | Avro::TimeMicros(i)
        | Avro::TimestampMillis(i)
        | Avro::TimestampMicros(i)
        | Avro::TimestampNanos(i)
        | Avro::LocalTimestampMillis(i)
        | Avro::LocalTimestampMicros(i)
        | Avro::LocalTimestampNanos(i) => Some(*i),
        _ => None,
    }
}

/// An Avro value as the schemaless JSON format writes it: unions as their value, bytes and
/// decimals base64.
pub fn avro_to_json(value: &Avro) -> Value {
    match value {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => json!(b),
        Avro::Int(_)
        | Avro::Date(_)
        | Avro::TimeMillis(_)
        | Avro::Long(_)
        | Avro::TimeMicros(_)
        | Avro::TimestampMillis(_)
        | Avro::TimestampMicros(_)
        | Avro::TimestampNanos(_)
        | Avro::LocalTimestampMillis(_)
        | Avro::LocalTimestampMicros(_)
        | Avro::LocalTimestampNanos(_) => json!(avro_integer(value)),
        Avro::Float(f) => json!(f),
        Avro::Double(f) => json!(f),
        Avro::Bytes(b) | Avro::Fixed(_, b) => json!(STANDARD.encode(b)),
        Avro::String(s) | Avro::Enum(_, s) => json!(s),
        Avro::Union(_, v) => avro_to_json(v),
        Avro::Array(items) => Value::Array(items.iter().map(avro_to_json).collect()),
        Avro::Map(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), avro_to_json(v)))
                .collect(),
        ),
        Avro::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), avro_to_json(v)))
                .collect(),
        ),
        Avro::Decimal(d) => match <Vec<u8>>::try_from(d) {
            Ok(bytes) => json!(STANDARD.encode(bytes)),
            Err(e) => json!(format!("<decimal: {e}>")),
        },
        Avro::BigDecimal(d) => json!(d.to_string()),
        Avro::Uuid(u) => json!(u.to_string()),
        Avro::Duration(d) => json!(format!("{d:?}")),
    }
}
