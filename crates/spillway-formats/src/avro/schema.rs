//! Connect schemas translated to Avro schemas as JSON text, the way the converter's
//! `AvroData` does.

use std::collections::HashSet;

use spillway_core::schema::{ConnectSchema, ConnectType};
use spillway_core::Value;

use crate::text::{write_f32, write_f64, write_int, write_str};

/// Whether an optional schema becomes `[T, "null"]` (a non-null default must come first in
/// an Avro union) rather than `["null", T]`. Optional structs are always `["null", T]`.
pub(super) fn null_last(schema: &ConnectSchema) -> bool {
    !matches!(schema.ty, ConnectType::Struct(_))
        && schema.default.as_ref().is_some_and(|d| !d.is_null())
}

pub(super) const DEFAULT_RECORD_NAME: &str = "io.confluent.connect.avro.ConnectDefault";
pub(super) const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
pub(super) const DECIMAL_PRECISION: &str = "connect.decimal.precision";
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
