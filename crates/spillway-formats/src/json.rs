//! Debezium's envelope as Kafka Connect's `JsonConverter` writes it.
//!
//! With schemas (`schemas.enable=true`, the default) every document is
//! `{"schema": <Connect schema as JSON>, "payload": <value>}`; without, just the value.
//! Schemas are rendered in the converter's key order (`type`, `fields`/`items`, `optional`,
//! `name`, `version`, `parameters`, `default`, `field`) once per table shape and cached.

use crate::text::{write_base64, write_f32, write_f64, write_int, write_str};
use spillway_core::pipeline::{EncodeError, EventEncoder};
use spillway_core::schema::{ConnectSchema, ConnectType, Field, TableSchema};
use spillway_core::{ChangeEvent, Heartbeat, Row, StructRecord, Value};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

/// Debezium's default `unavailable.value.placeholder`.
pub const DEFAULT_UNAVAILABLE_PLACEHOLDER: &str = "__debezium_unavailable_value";

/// How the JSON documents are written.
#[derive(Clone, Debug)]
pub struct JsonOptions {
    /// `key.converter.schemas.enable`.
    pub key_schemas: bool,
    /// `value.converter.schemas.enable`.
    pub value_schemas: bool,
    /// `unavailable.value.placeholder`: written for values the database did not send.
    pub unavailable_placeholder: String,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            key_schemas: true,
            value_schemas: true,
            unavailable_placeholder: DEFAULT_UNAVAILABLE_PLACEHOLDER.to_string(),
        }
    }
}

struct Rendered {
    table: Arc<TableSchema>,
    source: Arc<ConnectSchema>,
    key_schema: Vec<u8>,
    value_schema: Vec<u8>,
    /// The table's column names, escaped, each followed by its colon.
    columns: Names,
    /// The source block's field names, likewise.
    source_fields: Names,
}

impl Rendered {
    fn new(table: &Arc<TableSchema>, source: &Arc<ConnectSchema>) -> Rendered {
        let mut key_schema = Vec::new();
        if let Some(schema) = key_schema_of(table) {
            write_schema(&mut key_schema, &schema, None);
        }
        let mut value_schema = Vec::new();
        write_schema(&mut value_schema, &envelope_schema(table, source), None);
        Rendered {
            table: table.clone(),
            source: source.clone(),
            key_schema,
            value_schema,
            columns: Names::of_columns(table),
            source_fields: Names::new(source.fields().iter().map(|f| &*f.name)),
        }
    }
}

/// Object member names rendered once: `"name":` for each, escaped.
struct Names {
    bytes: Vec<u8>,
    /// Where each name ends in `bytes`.
    ends: Vec<usize>,
}

impl Names {
    fn new<'a>(names: impl Iterator<Item = &'a str>) -> Names {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for name in names {
            write_str(&mut bytes, name);
            bytes.push(b':');
            ends.push(bytes.len());
        }
        Names { bytes, ends }
    }

    fn of_columns(table: &TableSchema) -> Names {
        Names::new(table.columns.iter().map(|c| &*c.name))
    }

    /// `"name":` of member `i`.
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// Encodes events as Debezium JSON documents.
pub struct JsonEncoder {
    options: JsonOptions,
    rendered: HashMap<Arc<str>, Rendered>,
    /// Length of the last value written: the next one's buffer starts a little larger, so
    /// that it seldom grows (and copies) while being written.
    last_value_len: usize,
}

/// Room left in a value's buffer beyond the last value's length.
const VALUE_HEADROOM: usize = 128;

impl JsonEncoder {
    pub fn new(options: JsonOptions) -> Self {
        JsonEncoder {
            options,
            rendered: HashMap::new(),
            last_value_len: 512,
        }
    }

    /// What is rendered once for `table` and `source`, rendered again when either changed.
    fn rendered<'a>(
        rendered: &'a mut HashMap<Arc<str>, Rendered>,
        table: &Arc<TableSchema>,
        source: &Arc<ConnectSchema>,
    ) -> &'a Rendered {
        match rendered.entry(table.topic.clone()) {
            Entry::Occupied(entry) => {
                let entry = entry.into_mut();
                if !Arc::ptr_eq(&entry.table, table) || !Arc::ptr_eq(&entry.source, source) {
                    *entry = Rendered::new(table, source);
                }
                entry
            }
            Entry::Vacant(entry) => entry.insert(Rendered::new(table, source)),
        }
    }

    /// What is rendered for `table`, if it is the table schema last rendered.
    fn rendered_for(&self, table: &TableSchema) -> Option<&Rendered> {
        self.rendered
            .get(&table.topic)
            .filter(|r| std::ptr::eq(&*r.table, table))
    }

    fn key_payload(
        &self,
        table: &TableSchema,
        row: &Row,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let placeholder = &self.options.unavailable_placeholder;
        let columns = table.key.iter().copied();
        match self.rendered_for(table) {
            Some(rendered) => {
                columns_payload(table, row, columns, &rendered.columns, placeholder, out)
            }
            None => columns_payload(
                table,
                row,
                columns,
                &Names::of_columns(table),
                placeholder,
                out,
            ),
        }
    }
}

/// Writes the given columns of `row` as a JSON object; `names` are the table's columns'.
fn columns_payload(
    table: &TableSchema,
    row: &Row,
    columns: impl Iterator<Item = usize>,
    names: &Names,
    placeholder: &str,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    out.push(b'{');
    for (n, i) in columns.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        let column = &table.columns[i];
        out.extend_from_slice(names.get(i));
        let value = row.0.get(i).unwrap_or(&Value::Null);
        write_value(out, value, &column.schema, placeholder)
            .map_err(|message| encode_error(table, Some(&column.name), message))?;
    }
    out.push(b'}');
    Ok(())
}

/// Writes the whole of `row` as a JSON object.
fn row_payload(
    table: &TableSchema,
    row: &Row,
    names: &Names,
    placeholder: &str,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    columns_payload(table, row, 0..table.columns.len(), names, placeholder, out)
}

/// Writes `value` as the JSON the converter produces for `schema`; values the database did
/// not send are written as `placeholder`.
pub fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    schema: &ConnectSchema,
    placeholder: &str,
) -> Result<(), String> {
    match (value, &schema.ty) {
        // Kafka Connect's JsonConverter writes a field's default in place of null
        // (`replace.null.with.default`, on by default).
        (Value::Null, _) => match &schema.default {
            Some(default) if !default.is_null() => write_value(out, default, schema, placeholder)?,
            _ => out.extend_from_slice(b"null"),
        },
        (Value::Unavailable, ty) => write_unavailable(out, ty, placeholder)?,
        (Value::Bool(b), ConnectType::Boolean) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" })
        }
        (
            Value::Int(v),
            ConnectType::Int8 | ConnectType::Int16 | ConnectType::Int32 | ConnectType::Int64,
        ) => write_int(out, *v),
        (Value::Float32(v), ConnectType::Float32) => write_f32(out, *v),
        (Value::Float64(v), ConnectType::Float64) => write_f64(out, *v),
        (Value::Float32(v), ConnectType::Float64) => write_f64(out, f64::from(*v)),
        (Value::String(s), ConnectType::String) => write_str(out, s),
        (Value::Bytes(b), ConnectType::Bytes) => write_base64(out, b),
        (Value::Decimal { unscaled, .. }, ConnectType::Bytes) => write_base64(out, unscaled),
        (Value::VariableDecimal { unscaled, scale }, ConnectType::Struct(_)) => {
            out.extend_from_slice(b"{\"scale\":");
            write_int(out, i64::from(*scale));
            out.extend_from_slice(b",\"value\":");
            write_base64(out, unscaled);
            out.push(b'}');
        }
        (Value::Array(items), ConnectType::Array(item_schema)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, item_schema, placeholder)?;
            }
            out.push(b']');
        }
        (Value::Struct(values), ConnectType::Struct(fields)) => {
            write_struct_named(out, values, fields, None, placeholder)?;
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

/// Writes a struct's values as a JSON object in field order, with the fields' names
/// rendered beforehand when `names` has them.
fn write_struct_named(
    out: &mut Vec<u8>,
    values: &[Value],
    fields: &[Field],
    names: Option<&Names>,
    placeholder: &str,
) -> Result<(), String> {
    out.push(b'{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match names {
            Some(names) => out.extend_from_slice(names.get(i)),
            None => {
                write_str(out, &field.name);
                out.push(b':');
            }
        }
        let value = values.get(i).unwrap_or(&Value::Null);
        write_value(out, value, &field.schema, placeholder)
            .map_err(|e| format!("field {}: {e}", field.name))?;
    }
    out.push(b'}');
    Ok(())
}

fn write_unavailable(out: &mut Vec<u8>, ty: &ConnectType, placeholder: &str) -> Result<(), String> {
    match ty {
        ConnectType::String => write_str(out, placeholder),
        ConnectType::Bytes => write_base64(out, placeholder.as_bytes()),
        ConnectType::Array(item) => {
            out.push(b'[');
            write_unavailable(out, &item.ty, placeholder)?;
            out.push(b']');
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

fn encode_error(table: &TableSchema, column: Option<&str>, message: String) -> EncodeError {
    EncodeError::new(table.qualified_name(), column.map(str::to_string), message)
}

impl EventEncoder for JsonEncoder {
    fn key(&mut self, table: &TableSchema, row: &Row) -> Result<Option<Vec<u8>>, EncodeError> {
        if !table.has_key() {
            return Ok(None);
        }
        let schema_len = match (self.options.key_schemas, self.rendered_for(table)) {
            (true, Some(rendered)) => rendered.key_schema.len(),
            _ => 0,
        };
        let mut out = Vec::with_capacity(64 + schema_len);
        if self.options.key_schemas {
            out.extend_from_slice(b"{\"schema\":");
            match self.rendered_for(table) {
                Some(rendered) => out.extend_from_slice(&rendered.key_schema),
                None => {
                    if let Some(schema) = key_schema_of(table) {
                        write_schema(&mut out, &schema, None);
                    }
                }
            }
            out.extend_from_slice(b",\"payload\":");
            self.key_payload(table, row, &mut out)?;
            out.push(b'}');
        } else {
            self.key_payload(table, row, &mut out)?;
        }
        Ok(Some(out))
    }

    fn value(&mut self, event: &ChangeEvent) -> Result<Vec<u8>, EncodeError> {
        let with_schema = self.options.value_schemas;
        let placeholder = &self.options.unavailable_placeholder;
        let rendered = Self::rendered(&mut self.rendered, &event.table, &event.source.schema);
        let table = &event.table;
        let mut out = Vec::with_capacity(self.last_value_len + VALUE_HEADROOM);
        if with_schema {
            out.extend_from_slice(b"{\"schema\":");
            out.extend_from_slice(&rendered.value_schema);
            out.extend_from_slice(b",\"payload\":");
        }
        out.extend_from_slice(b"{\"before\":");
        match &event.before {
            Some(row) => row_payload(table, row, &rendered.columns, placeholder, &mut out)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"after\":");
        match &event.after {
            Some(row) => row_payload(table, row, &rendered.columns, placeholder, &mut out)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"source\":");
        write_struct_named(
            &mut out,
            &event.source.values,
            event.source.schema.fields(),
            Some(&rendered.source_fields),
            placeholder,
        )
        .map_err(|m| encode_error(table, None, format!("source block: {m}")))?;
        out.extend_from_slice(b",\"transaction\":null,\"op\":");
        write_str(&mut out, event.op.code());
        let ts_ms = event.ts_us.div_euclid(1000);
        out.extend_from_slice(b",\"ts_ms\":");
        write_int(&mut out, ts_ms);
        out.extend_from_slice(b",\"ts_us\":");
        write_int(&mut out, event.ts_us);
        out.extend_from_slice(b",\"ts_ns\":");
        write_int(&mut out, event.ts_us.saturating_mul(1000));
        out.push(b'}');
        if with_schema {
            out.push(b'}');
        }
        self.last_value_len = out.len();
        Ok(out)
    }

    fn heartbeat(&mut self, heartbeat: &Heartbeat) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        let document = |schemas: bool, schema: ConnectSchema, payload: &[u8]| {
            let mut out = Vec::with_capacity(256);
            if schemas {
                out.extend_from_slice(b"{\"schema\":");
                write_schema(&mut out, &schema, None);
                out.extend_from_slice(b",\"payload\":");
                out.extend_from_slice(payload);
                out.push(b'}');
            } else {
                out.extend_from_slice(payload);
            }
            out
        };
        let key_schema = heartbeat_key_schema();
        let value_schema = heartbeat_value_schema();
        let mut key = b"{\"serverName\":".to_vec();
        write_str(&mut key, &heartbeat.server_name);
        key.push(b'}');
        let mut value = b"{\"ts_ms\":".to_vec();
        write_int(&mut value, heartbeat.ts_ms);
        value.push(b'}');
        Ok((
            document(self.options.key_schemas, key_schema, &key),
            document(self.options.value_schemas, value_schema, &value),
        ))
    }

    fn struct_record(&mut self, record: &StructRecord) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        let document = |schemas: bool, schema: &ConnectSchema, value: &Value| {
            let mut out = Vec::with_capacity(1024);
            if schemas {
                out.extend_from_slice(b"{\"schema\":");
                write_schema(&mut out, schema, None);
                out.extend_from_slice(b",\"payload\":");
            }
            write_value(&mut out, value, schema, "")
                .map_err(|message| EncodeError::new(record.topic.to_string(), None, message))?;
            if schemas {
                out.push(b'}');
            }
            Ok(out)
        };
        Ok((
            document(self.options.key_schemas, &record.key_schema, &record.key)?,
            document(
                self.options.value_schemas,
                &record.value_schema,
                &record.value,
            )?,
        ))
    }

    fn key_header(&mut self, table: &TableSchema, row: &Row) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        self.key_payload(table, row, &mut out)?;
        Ok(out)
    }
}

/// The key schema of heartbeat records.
pub fn heartbeat_key_schema() -> ConnectSchema {
    ConnectSchema::new(ConnectType::Struct(vec![Field::new(
        "serverName",
        ConnectSchema::new(ConnectType::String),
    )]))
    .named("io.debezium.connector.common.ServerNameKey")
    .version(1)
}

/// The value schema of heartbeat records.
pub fn heartbeat_value_schema() -> ConnectSchema {
    ConnectSchema::new(ConnectType::Struct(vec![Field::new(
        "ts_ms",
        ConnectSchema::new(ConnectType::Int64),
    )]))
    .named("io.debezium.connector.common.Heartbeat")
    .version(1)
}

/// The Connect schema of a table's key (`<prefix>.<schema>.<table>.Key`), if it has one.
pub fn key_schema_of(table: &TableSchema) -> Option<ConnectSchema> {
    if !table.has_key() {
        return None;
    }
    let fields = table
        .key_columns()
        .map(|c| Field::new(c.name.clone(), c.schema.clone()))
        .collect();
    Some(
        ConnectSchema::new(ConnectType::Struct(fields)).named(format!("{}.Key", table.schema_name)),
    )
}

/// The Connect schema of a table's row (`<prefix>.<schema>.<table>.Value`), optional.
pub fn row_schema_of(table: &TableSchema) -> ConnectSchema {
    let fields = table
        .columns
        .iter()
        .map(|c| Field::new(c.name.clone(), c.schema.clone()))
        .collect();
    ConnectSchema::new(ConnectType::Struct(fields))
        .optional(true)
        .named(format!("{}.Value", table.schema_name))
}

/// The schema of Debezium's `transaction` block.
pub fn transaction_block_schema() -> ConnectSchema {
    ConnectSchema::new(ConnectType::Struct(vec![
        Field::new("id", ConnectSchema::new(ConnectType::String)),
        Field::new("total_order", ConnectSchema::new(ConnectType::Int64)),
        Field::new(
            "data_collection_order",
            ConnectSchema::new(ConnectType::Int64),
        ),
    ]))
    .optional(true)
    .named("event.block")
    .version(1)
}

/// The envelope schema: before, after, source, transaction, op, ts_ms, ts_us, ts_ns.
pub fn envelope_schema(table: &TableSchema, source: &ConnectSchema) -> ConnectSchema {
    let row = row_schema_of(table);
    let ts = || ConnectSchema::new(ConnectType::Int64).optional(true);
    ConnectSchema::new(ConnectType::Struct(vec![
        Field::new("before", row.clone()),
        Field::new("after", row),
        Field::new("source", source.clone()),
        Field::new("transaction", transaction_block_schema()),
        Field::new("op", ConnectSchema::new(ConnectType::String)),
        Field::new("ts_ms", ts()),
        Field::new("ts_us", ts()),
        Field::new("ts_ns", ts()),
    ]))
    .named(format!("{}.Envelope", table.schema_name))
    .version(2)
}

/// Writes a Connect schema as `JsonConverter` renders it; `field` adds the `"field"` key.
pub fn write_schema(out: &mut Vec<u8>, schema: &ConnectSchema, field: Option<&str>) {
    out.extend_from_slice(b"{\"type\":");
    write_str(out, schema.ty.json_name());
    match &schema.ty {
        ConnectType::Struct(fields) => {
            out.extend_from_slice(b",\"fields\":[");
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schema(out, &f.schema, Some(&f.name));
            }
            out.push(b']');
        }
        ConnectType::Array(items) => {
            out.extend_from_slice(b",\"items\":");
            write_schema(out, items, None);
        }
        _ => {}
    }
    out.extend_from_slice(b",\"optional\":");
    out.extend_from_slice(if schema.optional { b"true" } else { b"false" });
    if let Some(name) = &schema.name {
        out.extend_from_slice(b",\"name\":");
        write_str(out, name);
    }
    if let Some(version) = schema.version {
        out.extend_from_slice(b",\"version\":");
        write_int(out, i64::from(version));
    }
    if let Some(doc) = &schema.doc {
        out.extend_from_slice(b",\"doc\":");
        write_str(out, doc);
    }
    if !schema.parameters.is_empty() {
        out.extend_from_slice(b",\"parameters\":{");
        for (i, (k, v)) in schema.parameters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        }
        out.push(b'}');
    }
    if let Some(default) = &schema.default {
        let mark = out.len();
        out.extend_from_slice(b",\"default\":");
        if write_value(out, default, schema, "").is_err() {
            out.truncate(mark);
        }
    }
    if let Some(field) = field {
        out.extend_from_slice(b",\"field\":");
        write_str(out, field);
    }
    out.push(b'}');
}
