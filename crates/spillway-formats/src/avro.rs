//! Debezium's envelope as Confluent's `AvroConverter` writes it.
//!
//! Every document is Confluent's wire format: a zero magic byte, the 4-byte big-endian id
//! of the writer's schema in a schema registry, then the Avro binary encoding of the value.
//! Connect schemas are translated to Avro schemas the way the converter's `AvroData` does
//! (`connect.*` properties, `connect.type` for int8/int16, the Decimal, Date, Time and
//! Timestamp logical types, optional values as unions with `null`, named records written
//! once and referred to by name after), so the schemas a registry holds and the bytes a
//! consumer reads are the ones a Kafka Connect pipeline with Debezium would produce.

use crate::json::{self, envelope_schema, key_schema_of, JsonEncoder, JsonOptions};
use crate::text::{write_f32, write_f64, write_int, write_str};
use spillway_core::pipeline::{EncodeError, EventEncoder};
use spillway_core::schema::{ConnectSchema, ConnectType, Field, TableSchema};
use spillway_core::ErrorClass;
use spillway_core::{ChangeEvent, Heartbeat, Row, StructRecord, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

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

/// How the registry subject of a schema is named (Confluent's `*.subject.name.strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (the default).
    #[default]
    Topic,
    /// The record's full name.
    Record,
    /// `<topic>-<record full name>`.
    TopicRecord,
}

impl SubjectNameStrategy {
    /// The strategy a Confluent class name stands for.
    pub fn from_class(class: &str) -> Option<Self> {
        let simple = class.rsplit('.').next().unwrap_or(class);
        match simple {
            "TopicNameStrategy" => Some(SubjectNameStrategy::Topic),
            "RecordNameStrategy" => Some(SubjectNameStrategy::Record),
            "TopicRecordNameStrategy" => Some(SubjectNameStrategy::TopicRecord),
            _ => None,
        }
    }

    fn subject(self, topic: &str, is_key: bool, record_name: &str) -> String {
        match self {
            SubjectNameStrategy::Topic => {
                format!("{topic}-{}", if is_key { "key" } else { "value" })
            }
            SubjectNameStrategy::Record => record_name.to_string(),
            SubjectNameStrategy::TopicRecord => format!("{topic}-{record_name}"),
        }
    }
}

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

// ------------------------------------------------------------------------------ values

/// Appends an Avro `long` (or `int`): zig-zag, then base-128 varint.
pub fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends Avro `bytes` or `string`: the length as a long, then the bytes.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// Whether an optional schema becomes `[T, "null"]` (a non-null default must come first in
/// an Avro union) rather than `["null", T]`. Optional structs are always `["null", T]`.
fn null_last(schema: &ConnectSchema) -> bool {
    !matches!(schema.ty, ConnectType::Struct(_))
        && schema.default.as_ref().is_some_and(|d| !d.is_null())
}

/// Appends the Avro binary encoding of `value` under the Avro schema [`avro_schema_json`]
/// gives for `schema`. A null in a field with a default is written as the default, as
/// Kafka Connect's `Struct` hands it to the converter.
pub fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    schema: &ConnectSchema,
    placeholder: &str,
) -> Result<(), String> {
    let value = match (value, &schema.default) {
        (Value::Null, Some(default)) => default,
        _ => value,
    };
    if schema.optional {
        let null_last = null_last(schema);
        if value.is_null() {
            write_long(out, if null_last { 1 } else { 0 });
            return Ok(());
        }
        write_long(out, if null_last { 0 } else { 1 });
    }
    match (value, &schema.ty) {
        (Value::Null, _) => return Err("null for a required value".to_string()),
        (Value::Unavailable, ty) => write_unavailable(out, ty, placeholder)?,
        (Value::Bool(b), ConnectType::Boolean) => out.push(u8::from(*b)),
        (Value::Int(v), ConnectType::Int8 | ConnectType::Int16 | ConnectType::Int32) => {
            if i32::try_from(*v).is_err() {
                return Err(format!("value {v} does not fit an Avro int"));
            }
            write_long(out, *v);
        }
        (Value::Int(v), ConnectType::Int64) => write_long(out, *v),
        (Value::Float32(v), ConnectType::Float32) => out.extend_from_slice(&v.to_le_bytes()),
        (Value::Float64(v), ConnectType::Float64) => out.extend_from_slice(&v.to_le_bytes()),
        (Value::Float32(v), ConnectType::Float64) => {
            out.extend_from_slice(&f64::from(*v).to_le_bytes())
        }
        (Value::String(s), ConnectType::String) => write_bytes(out, s.as_bytes()),
        (Value::Bytes(b), ConnectType::Bytes) => write_bytes(out, b),
        (Value::Decimal { unscaled, .. }, ConnectType::Bytes) => write_bytes(out, unscaled),
        (Value::VariableDecimal { unscaled, scale }, ConnectType::Struct(_)) => {
            write_long(out, i64::from(*scale));
            write_bytes(out, unscaled);
        }
        (Value::Array(items), ConnectType::Array(item_schema)) => {
            if !items.is_empty() {
                write_long(out, items.len() as i64);
                for item in items {
                    write_value(out, item, item_schema, placeholder)?;
                }
            }
            write_long(out, 0);
        }
        (Value::Struct(values), ConnectType::Struct(fields)) => {
            write_fields(out, values, fields, placeholder)?
        }
        (value, ty) => {
            return Err(format!(
                "value {value:?} does not fit schema type {}",
                ty.json_name()
            ))
        }
    }
    Ok(())
}

/// Appends a record's fields in order.
fn write_fields(
    out: &mut Vec<u8>,
    values: &[Value],
    fields: &[Field],
    placeholder: &str,
) -> Result<(), String> {
    for (i, field) in fields.iter().enumerate() {
        let value = values.get(i).unwrap_or(&Value::Null);
        write_value(out, value, &field.schema, placeholder)
            .map_err(|e| format!("field {}: {e}", field.name))?;
    }
    Ok(())
}

fn write_unavailable(out: &mut Vec<u8>, ty: &ConnectType, placeholder: &str) -> Result<(), String> {
    match ty {
        ConnectType::String | ConnectType::Bytes => write_bytes(out, placeholder.as_bytes()),
        ConnectType::Array(item) => {
            write_long(out, 1);
            if item.optional {
                write_long(out, if null_last(item) { 0 } else { 1 });
            }
            write_unavailable(out, &item.ty, placeholder)?;
            write_long(out, 0);
        }
        other => {
            return Err(format!(
                "the database did not send the value and type {} has no placeholder",
                other.json_name()
            ))
        }
    }
    Ok(())
}

// ----------------------------------------------------------------------------- schemas

const DEFAULT_RECORD_NAME: &str = "io.confluent.connect.avro.ConnectDefault";
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DECIMAL_PRECISION: &str = "connect.decimal.precision";
const DEFAULT_DECIMAL_PRECISION: i64 = 64;

/// The Avro schema, as JSON text, that Confluent's `AvroConverter` makes of a Connect
/// schema, in the key order Avro's Java library prints it.
pub fn avro_schema_json(schema: &ConnectSchema) -> Result<String, String> {
    let mut writer = SchemaWriter {
        out: Vec::with_capacity(2048),
        defined: HashSet::new(),
        unnamed: 0,
    };
    writer.schema(schema, None)?;
    String::from_utf8(writer.out).map_err(|e| e.to_string())
}

struct SchemaWriter {
    out: Vec<u8>,
    /// Full names of the records written so far: later uses refer to them by name.
    defined: HashSet<String>,
    /// Unnamed structs so far (`ConnectDefault`, `ConnectDefault2`, ...).
    unnamed: u32,
}

impl SchemaWriter {
    fn schema(&mut self, schema: &ConnectSchema, namespace: Option<&str>) -> Result<(), String> {
        if let ConnectType::Struct(_) = schema.ty {
            if schema.optional {
                self.out.extend_from_slice(b"[\"null\",");
                self.record(schema, namespace)?;
                self.out.push(b']');
                return Ok(());
            }
            return self.record(schema, namespace);
        }
        if !schema.optional {
            return self.base(schema, namespace);
        }
        if null_last(schema) {
            self.out.push(b'[');
            self.base(schema, namespace)?;
            self.out.extend_from_slice(b",\"null\"]");
        } else {
            self.out.extend_from_slice(b"[\"null\",");
            self.base(schema, namespace)?;
            self.out.push(b']');
        }
        Ok(())
    }

    fn record(&mut self, schema: &ConnectSchema, namespace: Option<&str>) -> Result<(), String> {
        let full = match &schema.name {
            Some(name) => name.clone(),
            None => {
                self.unnamed += 1;
                match self.unnamed {
                    1 => DEFAULT_RECORD_NAME.to_string(),
                    n => format!("{DEFAULT_RECORD_NAME}{n}"),
                }
            }
        };
        let (space, name) = split_name(&full);
        check_name(&full, space, name)?;
        if self.defined.contains(&full) {
            if space.is_none() || space == namespace {
                write_str(&mut self.out, name);
            } else {
                write_str(&mut self.out, &full);
            }
            return Ok(());
        }
        self.defined.insert(full.clone());
        self.out
            .extend_from_slice(b"{\"type\":\"record\",\"name\":");
        write_str(&mut self.out, name);
        match space {
            Some(space) if Some(space) != namespace => {
                self.out.extend_from_slice(b",\"namespace\":");
                write_str(&mut self.out, space);
            }
            None if namespace.is_some() => self.out.extend_from_slice(b",\"namespace\":\"\""),
            _ => {}
        }
        self.out.extend_from_slice(b",\"fields\":[");
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            check_name(&field.name, None, &field.name)?;
            self.out.extend_from_slice(b"{\"name\":");
            write_str(&mut self.out, &field.name);
            self.out.extend_from_slice(b",\"type\":");
            self.schema(&field.schema, space)?;
            match &field.schema.default {
                Some(default) if !default.is_null() => {
                    self.out.extend_from_slice(b",\"default\":");
                    write_default(&mut self.out, default, &field.schema)?;
                }
                _ if field.schema.optional => self.out.extend_from_slice(b",\"default\":null"),
                _ => {}
            }
            self.out.push(b'}');
        }
        self.out.push(b']');
        self.connect_props(schema)?;
        self.out.push(b'}');
        Ok(())
    }

    /// A non-struct type with its properties, without the optional union.
    fn base(&mut self, schema: &ConnectSchema, namespace: Option<&str>) -> Result<(), String> {
        let (avro_type, connect_type) = match &schema.ty {
            ConnectType::Int8 => ("int", Some("int8")),
            ConnectType::Int16 => ("int", Some("int16")),
            ConnectType::Int32 => ("int", None),
            ConnectType::Int64 => ("long", None),
            ConnectType::Float32 => ("float", None),
            ConnectType::Float64 => ("double", None),
            ConnectType::Boolean => ("boolean", None),
            ConnectType::String => ("string", None),
            ConnectType::Bytes => ("bytes", None),
            ConnectType::Array(_) => ("array", None),
            ConnectType::Struct(_) => return self.record(schema, namespace),
        };
        let decimal = schema.ty == ConnectType::Bytes && schema.name.as_deref() == Some(DECIMAL);
        let decimal_scale = decimal.then(|| param(schema, "scale").unwrap_or(0));
        let precision_param = param(schema, DECIMAL_PRECISION);
        let logical_type = match schema.name.as_deref() {
            Some(DECIMAL) if schema.ty == ConnectType::Bytes => {
                let precision = precision_param.unwrap_or(DEFAULT_DECIMAL_PRECISION);
                let scale = decimal_scale.unwrap_or(0);
                // A scale Avro's decimal cannot hold keeps only the legacy property, and
                // only when the precision was given.
                if (0..=precision).contains(&scale) || precision_param.is_some() {
                    Some("decimal")
                } else {
                    None
                }
            }
            Some("org.apache.kafka.connect.data.Time") => Some("time-millis"),
            Some("org.apache.kafka.connect.data.Timestamp") => Some("timestamp-millis"),
            Some("org.apache.kafka.connect.data.Date") => Some("date"),
            _ => None,
        };
        let has_props = connect_type.is_some()
            || decimal
            || logical_type.is_some()
            || schema.name.is_some()
            || schema.version.is_some()
            || schema.doc.is_some()
            || !schema.parameters.is_empty()
            || schema.default.as_ref().is_some_and(|d| !d.is_null());
        if !has_props && !matches!(schema.ty, ConnectType::Array(_)) {
            write_str(&mut self.out, avro_type);
            return Ok(());
        }
        self.out.extend_from_slice(b"{\"type\":");
        write_str(&mut self.out, avro_type);
        if let ConnectType::Array(items) = &schema.ty {
            self.out.extend_from_slice(b",\"items\":");
            self.schema(items, namespace)?;
        }
        if let Some(scale) = decimal_scale {
            self.out.extend_from_slice(b",\"scale\":");
            write_int(&mut self.out, scale);
            self.out.extend_from_slice(b",\"precision\":");
            write_int(
                &mut self.out,
                precision_param.unwrap_or(DEFAULT_DECIMAL_PRECISION),
            );
        }
        self.connect_props(schema)?;
        if let Some(connect_type) = connect_type {
            self.out.extend_from_slice(b",\"connect.type\":");
            write_str(&mut self.out, connect_type);
        }
        if let Some(logical_type) = logical_type {
            self.out.extend_from_slice(b",\"logicalType\":");
            write_str(&mut self.out, logical_type);
        }
        self.out.push(b'}');
        Ok(())
    }

    /// `connect.doc`, `connect.version`, `connect.parameters`, `connect.default` and
    /// `connect.name`, in that order.
    fn connect_props(&mut self, schema: &ConnectSchema) -> Result<(), String> {
        if let Some(doc) = &schema.doc {
            self.out.extend_from_slice(b",\"connect.doc\":");
            write_str(&mut self.out, doc);
        }
        if let Some(version) = schema.version {
            self.out.extend_from_slice(b",\"connect.version\":");
            write_int(&mut self.out, i64::from(version));
        }
        if !schema.parameters.is_empty() {
            self.out.extend_from_slice(b",\"connect.parameters\":{");
            for (i, (k, v)) in schema.parameters.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                write_str(&mut self.out, k);
                self.out.push(b':');
                write_str(&mut self.out, v);
            }
            self.out.push(b'}');
        }
        if let Some(default) = schema.default.as_ref().filter(|d| !d.is_null()) {
            self.out.extend_from_slice(b",\"connect.default\":");
            write_default(&mut self.out, default, schema)?;
        }
        if let Some(name) = &schema.name {
            self.out.extend_from_slice(b",\"connect.name\":");
            write_str(&mut self.out, name);
        }
        Ok(())
    }
}

fn param(schema: &ConnectSchema, key: &str) -> Option<i64> {
    schema
        .parameters
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
}

/// Splits a full name at its last dot into namespace and name.
fn split_name(full: &str) -> (Option<&str>, &str) {
    match full.rfind('.') {
        Some(dot) => (Some(&full[..dot]), &full[dot + 1..]),
        None => (None, full),
    }
}

/// Avro names: letters, digits and `_`, not starting with a digit, per dotted part.
fn check_name(full: &str, space: Option<&str>, name: &str) -> Result<(), String> {
    let valid = |part: &str| {
        let mut bytes = part.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if valid(name) && space.is_none_or(|s| s.split('.').all(valid)) {
        Ok(())
    } else {
        Err(format!(
            "'{full}' is not a valid Avro name (letters, digits and '_' only, per dotted part); \
             rename the topic prefix, schema, table or column, or use the JSON format"
        ))
    }
}

/// A default value as Avro JSON: bytes as ISO-8859-1 text, as Avro's Java library writes.
fn write_default(out: &mut Vec<u8>, value: &Value, schema: &ConnectSchema) -> Result<(), String> {
    match (value, &schema.ty) {
        (Value::Bytes(b), _) | (Value::Decimal { unscaled: b, .. }, _) => {
            let text: String = b.iter().map(|&c| char::from(c)).collect();
            write_str(out, &text);
        }
        (Value::Int(v), _) => write_int(out, *v),
        (Value::Float32(v), _) => write_f32(out, *v),
        (Value::Float64(v), _) => write_f64(out, *v),
        (Value::Bool(b), _) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        (Value::String(s), _) => write_str(out, s),
        (Value::Array(items), ConnectType::Array(item_schema)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_default(out, item, item_schema)?;
            }
            out.push(b']');
        }
        (Value::Struct(values), ConnectType::Struct(fields)) => {
            out.push(b'{');
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, &field.name);
                out.push(b':');
                write_default(out, values.get(i).unwrap_or(&Value::Null), &field.schema)?;
            }
            out.push(b'}');
        }
        (Value::VariableDecimal { unscaled, scale }, _) => {
            out.extend_from_slice(b"{\"scale\":");
            write_int(out, i64::from(*scale));
            out.extend_from_slice(b",\"value\":");
            let text: String = unscaled.iter().map(|&c| char::from(c)).collect();
            write_str(out, &text);
            out.push(b'}');
        }
        (Value::Null, _) => out.extend_from_slice(b"null"),
        (value, _) => return Err(format!("default {value:?} has no Avro form")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Value as Avro;
    use spillway_core::schema::Column;
    use spillway_core::{Op, Position, SourceInfo};

    /// Hands out ids in order and remembers the schemas.
    #[derive(Default)]
    struct Ids(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

    impl SchemaIds for Ids {
        fn id_for(&mut self, subject: &str, schema: &str) -> Result<u32, SchemaIdError> {
            let mut seen = self.0.lock().unwrap();
            if let Some(i) = seen.iter().position(|(s, t)| s == subject && t == schema) {
                return Ok(i as u32 + 1);
            }
            seen.push((subject.to_string(), schema.to_string()));
            Ok(seen.len() as u32)
        }
    }

    fn column(name: &str, schema: ConnectSchema) -> Column {
        Column {
            name: name.to_string(),
            schema,
            type_name: String::new(),
        }
    }

    fn table() -> Arc<TableSchema> {
        let opt = |ty| ConnectSchema::new(ty).optional(true);
        let variable = ConnectSchema::new(ConnectType::Struct(vec![
            Field::new("scale", ConnectSchema::new(ConnectType::Int32)),
            Field::new("value", ConnectSchema::new(ConnectType::Bytes)),
        ]))
        .optional(true)
        .named("io.debezium.data.VariableScaleDecimal")
        .version(1)
        .doc("Variable scaled decimal");
        Arc::new(TableSchema {
            database: "db".into(),
            schema: Some("public".into()),
            table: "t".into(),
            columns: vec![
                column(
                    "id",
                    ConnectSchema::new(ConnectType::Int32).default_value(Value::Int(0)),
                ),
                column("small", opt(ConnectType::Int16)),
                column("big", opt(ConnectType::Int64)),
                column(
                    "price",
                    opt(ConnectType::Bytes)
                        .named(DECIMAL)
                        .version(1)
                        .param("scale", "2")
                        .param(DECIMAL_PRECISION, "10"),
                ),
                column("n1", variable.clone()),
                column("n2", variable),
                column("r", opt(ConnectType::Float32)),
                column(
                    "status",
                    opt(ConnectType::String).default_value(Value::String("new".into())),
                ),
                column(
                    "tags",
                    opt(ConnectType::Array(Box::new(opt(ConnectType::String)))),
                ),
                column("blob", opt(ConnectType::Bytes)),
                column("ok", opt(ConnectType::Boolean)),
            ],
            key: vec![0],
            topic: "p.public.t".into(),
            schema_name: "p.public.t".into(),
        })
    }

    fn source() -> SourceInfo {
        SourceInfo {
            schema: Arc::new(
                ConnectSchema::new(ConnectType::Struct(vec![
                    Field::new("name", ConnectSchema::new(ConnectType::String)),
                    Field::new("snapshot", spillway_core::SnapshotMarker::schema()),
                ]))
                .named("io.debezium.connector.postgresql.Source"),
            ),
            values: vec![Value::String("p".into()), Value::Null],
        }
    }

    fn decode(bytes: &[u8], schemas: &[(String, String)]) -> Avro {
        assert_eq!(bytes[0], MAGIC_BYTE);
        let id = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
        let schema = apache_avro::Schema::parse_str(&schemas[id - 1].1)
            .unwrap_or_else(|e| panic!("not Avro: {e}\n{}", schemas[id - 1].1));
        let mut rest = &bytes[5..];
        let value = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
            .build()
            .unwrap()
            .read_value(&mut rest)
            .unwrap();
        assert!(rest.is_empty(), "{} bytes left over", rest.len());
        value
    }

    fn field<'a>(record: &'a Avro, name: &str) -> &'a Avro {
        match record {
            Avro::Record(fields) => &fields.iter().find(|(n, _)| n == name).unwrap().1,
            Avro::Union(_, inner) => field(inner, name),
            other => panic!("not a record: {other:?}"),
        }
    }

    #[test]
    fn avro_documents_decode_with_the_schemas_they_name() {
        let seen = Ids::default();
        let schemas = seen.0.clone();
        let mut encoder = AvroEncoder::new(AvroOptions::default(), Box::new(seen));
        let table = table();
        let row = Row(vec![
            Value::Int(7),
            Value::Int(-3),
            Value::Int(i64::MIN),
            Value::Decimal {
                unscaled: vec![0x04, 0xd2],
                scale: 2,
            },
            Value::VariableDecimal {
                unscaled: vec![0xff],
                scale: 3,
            },
            Value::Null,
            Value::Float32(1.5),
            Value::Null,
            Value::Array(vec![Value::String("a".into()), Value::Null]),
            Value::Unavailable,
            Value::Bool(true),
        ]);
        let event = ChangeEvent {
            table: table.clone(),
            op: Op::Update,
            before: None,
            after: Some(row.clone()),
            source: source(),
            position: Position::stream(1, 0, 0),
            ts_us: 1_700_000_000_123_456,
        };
        let key = encoder.key(&table, &row).unwrap().unwrap();
        let value = encoder.value(&event).unwrap();
        let schemas = schemas.lock().unwrap().clone();
        assert_eq!(schemas[0].0, "p.public.t-key");
        assert_eq!(schemas[1].0, "p.public.t-value");
        // The second VariableScaleDecimal refers to the first by name.
        assert_eq!(
            schemas[1]
                .1
                .matches("\"name\":\"VariableScaleDecimal\"")
                .count(),
            1
        );
        assert!(schemas[1]
            .1
            .contains("[\"null\",\"io.debezium.data.VariableScaleDecimal\"]"));

        assert_eq!(
            decode(&key, &schemas),
            Avro::Record(vec![("id".into(), Avro::Int(7))])
        );
        let value = decode(&value, &schemas);
        assert_eq!(
            field(&value, "before"),
            &Avro::Union(0, Box::new(Avro::Null))
        );
        let after = field(&value, "after");
        assert_eq!(field(after, "id"), &Avro::Int(7));
        assert_eq!(
            field(after, "small"),
            &Avro::Union(1, Box::new(Avro::Int(-3)))
        );
        assert_eq!(
            field(after, "big"),
            &Avro::Union(1, Box::new(Avro::Long(i64::MIN)))
        );
        assert!(
            matches!(field(after, "price"), Avro::Union(1, d) if matches!(**d, Avro::Decimal(_)))
        );
        assert_eq!(field(field(after, "n1"), "value"), &Avro::Bytes(vec![0xff]));
        assert_eq!(field(after, "n2"), &Avro::Union(0, Box::new(Avro::Null)));
        assert_eq!(
            field(after, "r"),
            &Avro::Union(1, Box::new(Avro::Float(1.5)))
        );
        // A null in a field with a default is the default, first in its union.
        assert_eq!(
            field(after, "status"),
            &Avro::Union(0, Box::new(Avro::String("new".into())))
        );
        assert_eq!(
            field(after, "tags"),
            &Avro::Union(
                1,
                Box::new(Avro::Array(vec![
                    Avro::Union(1, Box::new(Avro::String("a".into()))),
                    Avro::Union(0, Box::new(Avro::Null)),
                ]))
            )
        );
        assert_eq!(
            field(after, "blob"),
            &Avro::Union(
                1,
                Box::new(Avro::Bytes(DEFAULT_UNAVAILABLE.as_bytes().to_vec()))
            )
        );
        assert_eq!(
            field(field(&value, "source"), "snapshot"),
            &Avro::Union(0, Box::new(Avro::String("false".into())))
        );
        assert_eq!(field(&value, "op"), &Avro::String("u".into()));
        assert_eq!(
            field(&value, "ts_us"),
            &Avro::Union(1, Box::new(Avro::Long(1_700_000_000_123_456)))
        );
    }

    #[test]
    fn names_avro_cannot_hold_are_refused_with_the_name() {
        let mut bad = (*table()).clone();
        bad.schema_name = "my-prefix.public.t".into();
        let error = avro_schema_json(&envelope_schema(&bad, &source().schema)).unwrap_err();
        assert!(
            error.contains("'my-prefix.public.t.Envelope' is not a valid Avro name"),
            "{error}"
        );
    }

    const DEFAULT_UNAVAILABLE: &str = json::DEFAULT_UNAVAILABLE_PLACEHOLDER;
}
