//! Typed column values, already in the representation Debezium gives them.
//!
//! Sources decode the database's text or binary form into these; formats write them out
//! without looking at the database type again. A [`Row`] is aligned with the columns of its
//! [`TableSchema`](crate::TableSchema).

/// One value, shaped like the Connect value Debezium produces for the column.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Any Connect integer type (int8 to int64); the schema says which.
    Int(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    /// Connect `Decimal`: the unscaled value as big-endian two's complement bytes.
    Decimal {
        unscaled: Vec<u8>,
        scale: u32,
    },
    /// Debezium `VariableScaleDecimal`: a struct of `scale` and unscaled `value`.
    VariableDecimal {
        unscaled: Vec<u8>,
        scale: u32,
    },
    Array(Vec<Value>),
    Struct(Vec<Value>),
    /// The value was not sent by the database (PostgreSQL unchanged TOAST); formats write
    /// the configured placeholder.
    Unavailable,
}

impl Value {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// One row's values, aligned with the table's columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    pub fn values(&self) -> &[Value] {
        &self.0
    }
}
