//! Debezium's envelope as Confluent's `AvroConverter` writes it.
//!
//! Every document is Confluent's wire format: a zero magic byte, the 4-byte big-endian id
//! of the writer's schema in a schema registry, then the Avro binary encoding of the value.
//! Connect schemas are translated to Avro schemas the way the converter's `AvroData` does
//! (`connect.*` properties, `connect.type` for int8/int16, the Decimal, Date, Time and
//! Timestamp logical types, optional values as unions with `null`, named records written
//! once and referred to by name after), so the schemas a registry holds and the bytes a
//! consumer reads are the ones a Kafka Connect pipeline with Debezium would produce.
//!
//! - `schema`: Connect schema to Avro schema JSON ([`avro_schema_json`]);
//! - `value`: values to Avro binary under that schema ([`write_value`]);
//! - `subject`: registry subject names ([`SubjectNameStrategy`]);
//! - `encoder`: [`AvroEncoder`], which registers schemas and writes the documents.

use spillway_core::ErrorClass;

mod encoder;
mod schema;
mod subject;
mod value;

#[cfg(test)]
mod tests;

pub use encoder::{AvroEncoder, AvroOptions};
pub use schema::avro_schema_json;
pub use subject::SubjectNameStrategy;
pub use value::{write_bytes, write_long, write_value};

/// Magic byte that starts every document in Confluent's wire format.
pub const MAGIC_BYTE: u8 = 0;

/// Where schema ids come from: a schema registry, embedded or remote.
pub trait SchemaIds: Send {
    /// Registers `schema` (an Avro schema as JSON) under `subject`, or finds it there, and
    /// returns its id.
    fn id_for(&mut self, subject: &str, schema: &str) -> Result<u32, SchemaIdError>;
}

/// Why a registry gave no id: the registry's error, its class (unreachable registries are
/// transient, a schema refused until the subject's compatibility level changes needs the
/// operator) and what fixes it.
#[derive(Debug, thiserror::Error)]
#[error("{source}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
pub struct SchemaIdError {
    pub class: ErrorClass,
    pub hint: Option<String>,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl SchemaIdError {
    pub fn new(class: ErrorClass, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        SchemaIdError {
            class,
            hint: None,
            source: Box::new(source),
        }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}
