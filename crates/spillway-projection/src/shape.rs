//! What records look like to a projection: the Connect schema of a record, read from the
//! JSON converter's embedded schema or from an Avro schema written by Confluent's
//! `AvroConverter`, turned into table columns with SQL-worthy types.

use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// A Connect schema node, from either format.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaNode {
    /// Connect's type name: `int8` … `int64`, `float`, `double`, `boolean`, `string`,
    /// `bytes`, `array`, `map`, `struct`.
    pub ty: String,
    pub optional: bool,
    /// The logical name (`io.debezium.time.Date`, `org.apache.kafka.connect.data.Decimal`).
    pub name: Option<String>,
    pub parameters: BTreeMap<String, String>,
    /// An array's element schema.
    pub items: Option<Box<SchemaNode>>,
    /// A struct's fields, in order.
    pub fields: Vec<(String, SchemaNode)>,
}

impl SchemaNode {
    fn new(ty: &str) -> Self {
        SchemaNode {
            ty: ty.to_string(),
            optional: false,
            name: None,
            parameters: BTreeMap::new(),
            items: None,
            fields: Vec::new(),
        }
    }

    /// A struct field by name.
    pub fn field(&self, name: &str) -> Option<&SchemaNode> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// Reads the schema Kafka Connect's JSON converter embeds (`"schema"` of a record).
    pub fn from_connect_json(schema: &Json) -> Result<SchemaNode, String> {
        let object = schema
            .as_object()
            .ok_or_else(|| format!("a schema must be a JSON object, not {schema}"))?;
        let ty = object
            .get("type")
            .and_then(Json::as_str)
            .ok_or("a schema has no \"type\"")?;
        let mut node = SchemaNode::new(ty);
        node.optional = object
            .get("optional")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        node.name = object
            .get("name")
            .and_then(Json::as_str)
            .map(str::to_string);
        node.parameters = string_map(object.get("parameters"));
        match ty {
            "struct" => {
                for field in object
                    .get("fields")
                    .and_then(Json::as_array)
                    .ok_or("a struct schema has no \"fields\"")?
                {
                    let name = field
                        .get("field")
                        .and_then(Json::as_str)
                        .ok_or("a struct field has no \"field\" name")?;
                    node.fields
                        .push((name.to_string(), SchemaNode::from_connect_json(field)?));
                }
            }
            "array" => {
                let items = object
                    .get("items")
                    .ok_or("an array schema has no \"items\"")?;
                node.items = Some(Box::new(SchemaNode::from_connect_json(items)?));
            }
            _ => {}
        }
        Ok(node)
    }

    /// Reads an Avro schema as Confluent's `AvroConverter` writes Connect schemas (with
    /// `connect.name`, `connect.type` and `connect.parameters`).
    pub fn from_avro_json(schema: &Json) -> Result<SchemaNode, String> {
        let mut named = BTreeMap::new();
        avro_node(schema, &mut named)
    }
}

fn string_map(value: Option<&Json>) -> BTreeMap<String, String> {
    value
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One Avro schema to a node; `named` keeps records by full name for later references.
fn avro_node(
    schema: &Json,
    named: &mut BTreeMap<String, SchemaNode>,
) -> Result<SchemaNode, String> {
    match schema {
        Json::String(name) => avro_primitive(name, &Map::new())
            .or_else(|| named.get(name.as_str()).cloned())
            .or_else(|| {
                named
                    .iter()
                    .find(|(full, _)| full.rsplit('.').next() == Some(name.as_str()))
                    .map(|(_, n)| n.clone())
            })
            .ok_or_else(|| format!("unknown Avro type {name:?}")),
        Json::Array(branches) => {
            let non_null: Vec<&Json> = branches
                .iter()
                .filter(|b| b.as_str() != Some("null"))
                .collect();
            if non_null.len() != 1 {
                return Err(format!(
                    "Avro union {schema} is not an optional value (null and one type)"
                ));
            }
            let mut node = avro_node(non_null[0], named)?;
            node.optional = branches.len() > 1;
            Ok(node)
        }
        Json::Object(object) => {
            let ty = object
                .get("type")
                .ok_or_else(|| format!("Avro schema {schema} has no type"))?;
            let mut node = match ty.as_str() {
                Some("record") => {
                    let mut node = SchemaNode::new("struct");
                    for field in object
                        .get("fields")
                        .and_then(Json::as_array)
                        .ok_or("an Avro record has no fields")?
                    {
                        let name = field
                            .get("name")
                            .and_then(Json::as_str)
                            .ok_or("an Avro field has no name")?;
                        let ty = field.get("type").ok_or("an Avro field has no type")?;
                        node.fields.push((name.to_string(), avro_node(ty, named)?));
                    }
                    node
                }
                Some("array") => {
                    let mut node = SchemaNode::new("array");
                    let items = object.get("items").ok_or("an Avro array has no items")?;
                    node.items = Some(Box::new(avro_node(items, named)?));
                    node
                }
                Some("map") => SchemaNode::new("map"),
                Some("enum") => SchemaNode::new("string"),
                Some("fixed") => SchemaNode::new("bytes"),
                Some(primitive) => avro_primitive(primitive, object)
                    .ok_or_else(|| format!("unknown Avro type {primitive:?}"))?,
                None => avro_node(ty, named)?,
            };
            if let Some(name) = object.get("connect.name").and_then(Json::as_str) {
                node.name = Some(name.to_string());
            }
            if object.contains_key("connect.parameters") {
                node.parameters = string_map(object.get("connect.parameters"));
            }
            if object.get("type").and_then(Json::as_str) == Some("record") {
                if let Some(name) = object.get("name").and_then(Json::as_str) {
                    let full = match object.get("namespace").and_then(Json::as_str) {
                        Some(ns) if !name.contains('.') => format!("{ns}.{name}"),
                        _ => name.to_string(),
                    };
                    named.insert(full, node.clone());
                }
            }
            Ok(node)
        }
        other => Err(format!("{other} is not an Avro schema")),
    }
}

fn avro_primitive(name: &str, props: &Map<String, Json>) -> Option<SchemaNode> {
    let connect_type = props.get("connect.type").and_then(Json::as_str);
    let ty = match name {
        "int" => connect_type
            .filter(|t| matches!(*t, "int8" | "int16"))
            .unwrap_or("int32"),
        "long" => "int64",
        "float" => "float",
        "double" => "double",
        "boolean" => "boolean",
        "string" => "string",
        "bytes" => "bytes",
        "null" => "null",
        _ => return None,
    };
    let mut node = SchemaNode::new(ty);
    // Avro's own logical types, when no Connect name says more.
    node.name = match props.get("logicalType").and_then(Json::as_str) {
        Some("decimal") => Some(names::DECIMAL.to_string()),
        Some("date") => Some(names::DATE.to_string()),
        Some("time-millis") => Some(names::TIME.to_string()),
        Some("timestamp-millis") => Some(names::TIMESTAMP.to_string()),
        Some("time-micros") => Some(names::MICRO_TIME.to_string()),
        Some("timestamp-micros") => Some(names::MICRO_TIMESTAMP.to_string()),
        _ => None,
    };
    if node.name.as_deref() == Some(names::DECIMAL) {
        if let Some(scale) = props.get("scale") {
            node.parameters
                .insert("scale".to_string(), scale.to_string());
        }
        if let Some(precision) = props.get("precision") {
            node.parameters.insert(
                "connect.decimal.precision".to_string(),
                precision.to_string(),
            );
        }
    }
    Some(node)
}

/// Logical type names of Kafka Connect and Debezium.
pub mod names {
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
    pub const DBZ_DATE: &str = "io.debezium.time.Date";
    pub const DBZ_TIME: &str = "io.debezium.time.Time";
    pub const MICRO_TIME: &str = "io.debezium.time.MicroTime";
    pub const NANO_TIME: &str = "io.debezium.time.NanoTime";
    pub const DBZ_TIMESTAMP: &str = "io.debezium.time.Timestamp";
    pub const MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";
    pub const NANO_TIMESTAMP: &str = "io.debezium.time.NanoTimestamp";
    pub const ZONED_TIMESTAMP: &str = "io.debezium.time.ZonedTimestamp";
    pub const ZONED_TIME: &str = "io.debezium.time.ZonedTime";
    pub const MICRO_DURATION: &str = "io.debezium.time.MicroDuration";
    pub const YEAR: &str = "io.debezium.time.Year";
    pub const JSON: &str = "io.debezium.data.Json";
    pub const UUID: &str = "io.debezium.data.Uuid";
    pub const XML: &str = "io.debezium.data.Xml";
    pub const VARIABLE_DECIMAL: &str = "io.debezium.data.VariableScaleDecimal";
}

/// Units of an integer time value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Millis,
    Micros,
    Nanos,
}

impl Unit {
    /// A value in this unit as microseconds (nanoseconds truncated toward minus infinity).
    pub fn to_micros(self, value: i64) -> i64 {
        match self {
            Unit::Millis => value.saturating_mul(1000),
            Unit::Micros => value,
            Unit::Nanos => value.div_euclid(1000),
        }
    }
}

/// A column's type, by meaning; each target names it in its own SQL.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnType {
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    Text,
    Bytes,
    /// Exact decimal; `precision` when the schema gives it.
    Decimal {
        precision: Option<u32>,
        scale: u32,
    },
    /// Debezium's `VariableScaleDecimal`: exact, scale per value.
    VariableDecimal,
    /// Days since the epoch.
    Date,
    /// Time of day; values in microseconds, `unit` as the events carry it.
    Time {
        unit: Unit,
    },
    /// Date and time without a zone (UTC wall clock); values in `unit` since the epoch.
    Timestamp {
        unit: Unit,
    },
    /// ISO-8601 text with an offset.
    ZonedTimestamp,
    ZonedTime,
    /// A duration in microseconds.
    Interval,
    Json,
    Uuid,
    Xml,
    Array(Box<ColumnType>),
    /// Any other struct or map, kept as a JSON document.
    Document,
}

impl ColumnType {
    /// The column type for a Connect schema.
    pub fn of(node: &SchemaNode) -> ColumnType {
        use names::*;
        let name = node.name.as_deref().unwrap_or("");
        match node.ty.as_str() {
            "int8" | "int16" => ColumnType::Int16,
            "int32" => match name {
                DATE | DBZ_DATE => ColumnType::Date,
                TIME | DBZ_TIME => ColumnType::Time { unit: Unit::Millis },
                _ => ColumnType::Int32,
            },
            "int64" => match name {
                TIMESTAMP | DBZ_TIMESTAMP => ColumnType::Timestamp { unit: Unit::Millis },
                MICRO_TIMESTAMP => ColumnType::Timestamp { unit: Unit::Micros },
                NANO_TIMESTAMP => ColumnType::Timestamp { unit: Unit::Nanos },
                MICRO_TIME => ColumnType::Time { unit: Unit::Micros },
                NANO_TIME => ColumnType::Time { unit: Unit::Nanos },
                MICRO_DURATION => ColumnType::Interval,
                _ => ColumnType::Int64,
            },
            "float" => ColumnType::Float32,
            "double" => ColumnType::Float64,
            "boolean" => ColumnType::Boolean,
            "string" => match name {
                ZONED_TIMESTAMP => ColumnType::ZonedTimestamp,
                ZONED_TIME => ColumnType::ZonedTime,
                JSON => ColumnType::Json,
                UUID => ColumnType::Uuid,
                XML => ColumnType::Xml,
                _ => ColumnType::Text,
            },
            "bytes" => match name {
                DECIMAL => ColumnType::Decimal {
                    precision: node
                        .parameters
                        .get("connect.decimal.precision")
                        .and_then(|p| p.parse().ok()),
                    scale: node
                        .parameters
                        .get("scale")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0),
                },
                _ => ColumnType::Bytes,
            },
            // Arrays of scalars are arrays; nested arrays and arrays of documents are JSON.
            "array" => match node.items.as_deref().map(ColumnType::of) {
                Some(ColumnType::Array(_) | ColumnType::Document | ColumnType::Json) | None => {
                    ColumnType::Document
                }
                Some(item) => ColumnType::Array(Box::new(item)),
            },
            "struct" if name == VARIABLE_DECIMAL => ColumnType::VariableDecimal,
            _ => ColumnType::Document,
        }
    }
}

/// A column of a projected table.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub optional: bool,
}

impl Column {
    /// A column.
    pub fn new(name: impl Into<String>, ty: ColumnType, optional: bool) -> Column {
        Column {
            name: name.into(),
            ty,
            optional,
        }
    }

    /// The columns of a struct schema's fields.
    pub fn of_struct(node: &SchemaNode) -> Vec<Column> {
        node.fields
            .iter()
            .map(|(name, field)| Column {
                name: name.clone(),
                ty: ColumnType::of(field),
                optional: field.optional,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_formats_describe_the_same_columns() {
        let connect = json!({"type": "struct", "name": "p.public.t.Value", "optional": true, "fields": [
            {"type": "int32", "optional": false, "field": "id"},
            {"type": "int16", "optional": true, "field": "small"},
            {"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
             "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "10"}, "field": "amount"},
            {"type": "int64", "optional": true, "name": "io.debezium.time.MicroTimestamp", "version": 1, "field": "at"},
            {"type": "int32", "optional": true, "name": "io.debezium.time.Date", "version": 1, "field": "d"},
            {"type": "string", "optional": true, "name": "io.debezium.time.ZonedTimestamp", "version": 1, "field": "z"},
            {"type": "array", "optional": true, "items": {"type": "string", "optional": true}, "field": "tags"},
            {"type": "struct", "optional": true, "name": "io.debezium.data.VariableScaleDecimal", "version": 1,
             "fields": [{"type": "int32", "optional": false, "field": "scale"},
                        {"type": "bytes", "optional": false, "field": "value"}], "field": "n"}
        ]});
        let avro = json!({"type": "record", "name": "Value", "namespace": "p.public.t", "fields": [
            {"name": "id", "type": "int"},
            {"name": "small", "type": ["null", {"type": "int", "connect.type": "int16"}], "default": null},
            {"name": "amount", "type": ["null", {"type": "bytes", "scale": 2, "precision": 10, "connect.version": 1,
              "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"},
              "connect.name": "org.apache.kafka.connect.data.Decimal", "logicalType": "decimal"}], "default": null},
            {"name": "at", "type": ["null", {"type": "long", "connect.version": 1, "connect.name": "io.debezium.time.MicroTimestamp"}], "default": null},
            {"name": "d", "type": ["null", {"type": "int", "connect.version": 1, "connect.name": "io.debezium.time.Date"}], "default": null},
            {"name": "z", "type": ["null", {"type": "string", "connect.version": 1, "connect.name": "io.debezium.time.ZonedTimestamp"}], "default": null},
            {"name": "tags", "type": ["null", {"type": "array", "items": ["null", "string"]}], "default": null},
            {"name": "n", "type": ["null", {"type": "record", "name": "VariableScaleDecimal", "namespace": "io.debezium.data",
              "fields": [{"name": "scale", "type": "int"}, {"name": "value", "type": "bytes"}],
              "connect.doc": "Variable scaled decimal", "connect.version": 1, "connect.name": "io.debezium.data.VariableScaleDecimal"}], "default": null}
        ], "connect.name": "p.public.t.Value"});
        let from_connect = Column::of_struct(&SchemaNode::from_connect_json(&connect).unwrap());
        let from_avro = Column::of_struct(&SchemaNode::from_avro_json(&avro).unwrap());
        assert_eq!(from_connect, from_avro);
        let types: Vec<&ColumnType> = from_connect.iter().map(|c| &c.ty).collect();
        assert_eq!(
            types,
            vec![
                &ColumnType::Int32,
                &ColumnType::Int16,
                &ColumnType::Decimal {
                    precision: Some(10),
                    scale: 2
                },
                &ColumnType::Timestamp { unit: Unit::Micros },
                &ColumnType::Date,
                &ColumnType::ZonedTimestamp,
                &ColumnType::Array(Box::new(ColumnType::Text)),
                &ColumnType::VariableDecimal,
            ]
        );
        assert!(!from_connect[0].optional && from_connect[1].optional);
    }
}
