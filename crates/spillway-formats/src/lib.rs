//! Event encodings: Debezium's envelope written the way Kafka Connect's `JsonConverter`
//! writes it, with or without embedded schemas, and the way Confluent's `AvroConverter`
//! writes it, with schemas in a registry.
//!
//! Encoders write straight into byte buffers: no `serde_json::Value` trees per row. The
//! schema part of a document depends only on the table's shape, so it is rendered once per
//! table schema and copied into every record.

pub mod avro;
pub mod json;
mod text;

pub use avro::{AvroEncoder, AvroOptions, SchemaIdError, SchemaIds, SubjectNameStrategy};
pub use json::{JsonEncoder, JsonOptions};
