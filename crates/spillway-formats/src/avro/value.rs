//! The Avro binary encoding of values under the Avro schema [`avro_schema_json`] gives.
//!
//! [`avro_schema_json`]: super::avro_schema_json

use spillway_core::schema::{ConnectSchema, ConnectType, Field};
use spillway_core::Value;

use super::schema::null_last;

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

/// Appends the Avro binary encoding of `value` under the Avro schema [`avro_schema_json`](super::avro_schema_json)
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
pub(super) fn write_fields(
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
