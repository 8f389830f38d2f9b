//! [`AvroEncoder`]: registers each table shape's key and value schemas and writes events,
//! heartbeats and struct records as Confluent wire-format documents.

use std::collections::HashMap;
use std::sync::Arc;

use spillway_core::pipeline::{EncodeError, EventEncoder};
use spillway_core::schema::{ConnectSchema, TableSchema};
use spillway_core::{ChangeEvent, Heartbeat, Row, StructRecord, Value};

use super::schema::{avro_schema_json, DEFAULT_RECORD_NAME};
use super::value::{write_bytes, write_fields, write_long, write_value};
use super::{SchemaIds, SubjectNameStrategy, MAGIC_BYTE};
use crate::json::{self, envelope_schema, key_schema_of, JsonEncoder, JsonOptions};

/// How the Avro documents are written.
#[derive(Clone, Debug)]
pub struct AvroOptions {
    pub key_subjects: SubjectNameStrategy,
    pub value_subjects: SubjectNameStrategy,
    /// `unavailable.value.placeholder`: written for values the database did not send.
    pub unavailable_placeholder: String,
}

impl Default for AvroOptions {
    fn default() -> Self {
        AvroOptions {
            key_subjects: SubjectNameStrategy::Topic,
            value_subjects: SubjectNameStrategy::Topic,
            unavailable_placeholder: json::DEFAULT_UNAVAILABLE_PLACEHOLDER.to_string(),
        }
    }
}

/// The Avro side of one table shape: schemas and their registry ids.
struct TableAvro {
    table: Arc<TableSchema>,
    source: Arc<ConnectSchema>,
    key_id: Option<u32>,
    value_id: u32,
}

/// Encodes events as Confluent Avro documents, registering schemas as they appear.
pub struct AvroEncoder {
    options: AvroOptions,
    ids: Box<dyn SchemaIds>,
    tables: HashMap<Arc<str>, TableAvro>,
    /// Ids of the schemas of heartbeats and struct records, by subject and schema text.
    other_ids: HashMap<(String, String), u32>,
    /// Primary-key-change headers are written by the header converter, not this one.
    headers: JsonEncoder,
}

impl AvroEncoder {
    pub fn new(options: AvroOptions, ids: Box<dyn SchemaIds>) -> Self {
        let headers = JsonEncoder::new(JsonOptions {
            key_schemas: false,
            value_schemas: false,
            unavailable_placeholder: options.unavailable_placeholder.clone(),
        });
        AvroEncoder {
            options,
            ids,
            tables: HashMap::new(),
            other_ids: HashMap::new(),
            headers,
        }
    }

    fn table_avro(
        &mut self,
        table: &Arc<TableSchema>,
        source: &Arc<ConnectSchema>,
    ) -> Result<&TableAvro, EncodeError> {
        let stale = match self.tables.get(&table.topic) {
            Some(t) => !Arc::ptr_eq(&t.table, table) || !Arc::ptr_eq(&t.source, source),
            None => true,
        };
        if stale {
            let fail = |message: String| encode_error(table, message);
            let key_id = match key_schema_of(table) {
                Some(key) => Some(self.other_id(&table.topic, true, &key)?),
                None => None,
            };
            let envelope = envelope_schema(table, source);
            let text = avro_schema_json(&envelope).map_err(fail)?;
            let subject = self.options.value_subjects.subject(
                &table.topic,
                false,
                envelope.name.as_deref().unwrap_or_default(),
            );
            let value_id = self.ids.id_for(&subject, &text).map_err(|e| EncodeError {
                class: e.class,
                ..fail(format!("cannot register value schema as {subject}: {e}"))
            })?;
            self.tables.insert(
                table.topic.clone(),
                TableAvro {
                    table: table.clone(),
                    source: source.clone(),
                    key_id,
                    value_id,
                },
            );
        }
        Ok(&self.tables[&table.topic])
    }

    /// The id of a schema other than a table's, registered once per subject and text.
    fn other_id(
        &mut self,
        topic: &str,
        is_key: bool,
        schema: &ConnectSchema,
    ) -> Result<u32, EncodeError> {
        let fail = |message: String| EncodeError::new(topic.to_string(), None, message);
        let text = avro_schema_json(schema).map_err(fail)?;
        let strategy = if is_key {
            self.options.key_subjects
        } else {
            self.options.value_subjects
        };
        let subject = strategy.subject(
            topic,
            is_key,
            schema.name.as_deref().unwrap_or(DEFAULT_RECORD_NAME),
        );
        let cache_key = (subject, text);
        if let Some(id) = self.other_ids.get(&cache_key) {
            return Ok(*id);
        }
        let id = self
            .ids
            .id_for(&cache_key.0, &cache_key.1)
            .map_err(|e| EncodeError {
                class: e.class,
                ..fail(format!("cannot register schema as {}: {e}", cache_key.0))
            })?;
        self.other_ids.insert(cache_key, id);
        Ok(id)
    }

    fn document(
        &mut self,
        topic: &str,
        is_key: bool,
        schema: &ConnectSchema,
        value: &Value,
    ) -> Result<Vec<u8>, EncodeError> {
        let id = self.other_id(topic, is_key, schema)?;
        let mut out = header(id);
        write_value(
            &mut out,
            value,
            schema,
            &self.options.unavailable_placeholder,
        )
        .map_err(|message| EncodeError::new(topic.to_string(), None, message))?;
        Ok(out)
    }

    fn row(&self, table: &TableSchema, row: &Row, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        for (i, column) in table.columns.iter().enumerate() {
            let value = row.0.get(i).unwrap_or(&Value::Null);
            write_value(
                out,
                value,
                &column.schema,
                &self.options.unavailable_placeholder,
            )
            .map_err(|m| EncodeError::new(table.qualified_name(), Some(column.name.clone()), m))?;
        }
        Ok(())
    }
}

fn encode_error(table: &TableSchema, message: String) -> EncodeError {
    EncodeError::new(table.qualified_name(), None, message)
}

/// The 5-byte wire-format header for schema `id`.
fn header(id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

impl EventEncoder for AvroEncoder {
    fn key(&mut self, table: &TableSchema, row: &Row) -> Result<Option<Vec<u8>>, EncodeError> {
        if !table.has_key() {
            return Ok(None);
        }
        let key_id = match self
            .tables
            .get(&table.topic)
            .filter(|t| std::ptr::eq(&*t.table, table))
        {
            Some(t) => t.key_id,
            None => {
                // A key asked for before any value of this shape: register it alone.
                let key = key_schema_of(table).expect("table has a key");
                Some(self.other_id(&table.topic, true, &key)?)
            }
        };
        let Some(id) = key_id else {
            return Ok(None);
        };
        let mut out = header(id);
        for i in table.key.iter().copied() {
            let column = &table.columns[i];
            let value = row.0.get(i).unwrap_or(&Value::Null);
            write_value(
                &mut out,
                value,
                &column.schema,
                &self.options.unavailable_placeholder,
            )
            .map_err(|m| EncodeError::new(table.qualified_name(), Some(column.name.clone()), m))?;
        }
        Ok(Some(out))
    }

    fn value(&mut self, event: &ChangeEvent) -> Result<Vec<u8>, EncodeError> {
        let table = &event.table;
        let id = self.table_avro(table, &event.source.schema)?.value_id;
        let mut out = header(id);
        // before and after: optional records, unions of null and the Value record.
        for row in [&event.before, &event.after] {
            match row {
                Some(row) => {
                    write_long(&mut out, 1);
                    self.row(table, row, &mut out)?;
                }
                None => write_long(&mut out, 0),
            }
        }
        let source = &event.source;
        write_fields(
            &mut out,
            &source.values,
            source.schema.fields(),
            &self.options.unavailable_placeholder,
        )
        .map_err(|m| encode_error(table, format!("source block: {m}")))?;
        // transaction: null; op; ts_ms, ts_us, ts_ns: optional longs.
        write_long(&mut out, 0);
        write_bytes(&mut out, event.op.code().as_bytes());
        for ts in [
            event.ts_us.div_euclid(1000),
            event.ts_us,
            event.ts_us.saturating_mul(1000),
        ] {
            write_long(&mut out, 1);
            write_long(&mut out, ts);
        }
        Ok(out)
    }

    fn key_header(&mut self, table: &TableSchema, row: &Row) -> Result<Vec<u8>, EncodeError> {
        self.headers.key_header(table, row)
    }

    fn heartbeat(&mut self, heartbeat: &Heartbeat) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        let key = self.document(
            &heartbeat.topic,
            true,
            &json::heartbeat_key_schema(),
            &Value::Struct(vec![Value::String(heartbeat.server_name.clone())]),
        )?;
        let value = self.document(
            &heartbeat.topic,
            false,
            &json::heartbeat_value_schema(),
            &Value::Struct(vec![Value::Int(heartbeat.ts_ms)]),
        )?;
        Ok((key, value))
    }

    fn struct_record(&mut self, record: &StructRecord) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        let key = self.document(&record.topic, true, &record.key_schema, &record.key)?;
        let value = self.document(&record.topic, false, &record.value_schema, &record.value)?;
        Ok((key, value))
    }
}
