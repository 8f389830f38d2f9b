//! Schemas in Kafka Connect's type system, which Debezium events are described in.
//!
//! A [`TableSchema`] says how a captured table's rows look: its columns, each with the
//! Connect schema Debezium gives that column type, and which columns form the primary key.
//! Formats turn these into JSON schemas or Avro schemas; sources build them from catalogs.

use crate::value::Value;
use std::sync::Arc;

/// A Kafka Connect primitive or container type.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    /// An array whose elements all have the given schema.
    Array(Box<ConnectSchema>),
    /// A struct with named fields in order.
    Struct(Vec<Field>),
}

impl ConnectType {
    /// The name Kafka Connect's JSON converter writes in `"type"`.
    pub fn json_name(&self) -> &'static str {
        match self {
            ConnectType::Int8 => "int8",
            ConnectType::Int16 => "int16",
            ConnectType::Int32 => "int32",
            ConnectType::Int64 => "int64",
            ConnectType::Float32 => "float",
            ConnectType::Float64 => "double",
            ConnectType::Boolean => "boolean",
            ConnectType::String => "string",
            ConnectType::Bytes => "bytes",
            ConnectType::Array(_) => "array",
            ConnectType::Struct(_) => "struct",
        }
    }
}

/// A Connect schema: a type plus optionality, logical name, version, parameters and default.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectSchema {
    pub ty: ConnectType,
    pub optional: bool,
    /// Logical type name, such as `io.debezium.time.Date`.
    pub name: Option<String>,
    pub version: Option<i32>,
    /// Documentation, written by the JSON converter as `doc`.
    pub doc: Option<String>,
    /// Logical type parameters, in the order they are written.
    pub parameters: Vec<(String, String)>,
    /// Default value, written as the schema's `default`.
    pub default: Option<Value>,
}

impl ConnectSchema {
    /// A schema of the given type with no logical name.
    pub fn new(ty: ConnectType) -> Self {
        ConnectSchema {
            ty,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default: None,
        }
    }

    /// Sets whether null is allowed.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// Sets the logical name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the schema version.
    pub fn version(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }

    /// Sets the documentation string.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = Some(doc.into());
        self
    }

    /// Adds a logical type parameter.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.push((key.into(), value.into()));
        self
    }

    /// Sets the default value.
    pub fn default_value(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }

    /// The fields of a struct schema, or an empty slice.
    pub fn fields(&self) -> &[Field] {
        match &self.ty {
            ConnectType::Struct(fields) => fields,
            _ => &[],
        }
    }
}

/// A named field of a struct schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: ConnectSchema,
}

impl Field {
    pub fn new(name: impl Into<String>, schema: ConnectSchema) -> Self {
        Field {
            name: name.into(),
            schema,
        }
    }
}

/// A captured column: its name, the Connect schema of its values and the source type name.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub schema: ConnectSchema,
    /// The type as the database names it (`int4`, `varchar`, `_text`, a domain or enum name).
    pub type_name: String,
}

/// The shape of a captured table at one point in time.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    /// Database (PostgreSQL: `database.dbname`; MySQL: the schema/database).
    pub database: String,
    /// PostgreSQL schema; `None` for sources without schemas.
    pub schema: Option<String>,
    pub table: String,
    /// Columns in table order, after column filters.
    pub columns: Vec<Column>,
    /// Indices into `columns` of the primary key, in key order; empty when there is none.
    pub key: Vec<usize>,
    /// Topic the table's events go to.
    pub topic: Arc<str>,
    /// Schema name prefix for the Key, Value and Envelope schemas (`prefix.schema.table`).
    pub schema_name: String,
}

impl TableSchema {
    /// `schema.table`, or `database.table` for sources without schemas.
    pub fn qualified_name(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.table),
            None => format!("{}.{}", self.database, self.table),
        }
    }

    /// The columns of the primary key.
    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.key.iter().map(|&i| &self.columns[i])
    }

    /// Whether the table has a primary key.
    pub fn has_key(&self) -> bool {
        !self.key.is_empty()
    }
}
