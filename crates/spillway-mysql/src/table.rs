//! A table as the server's catalog describes it: its id, and the `information_schema` facts
//! that both the captured table's schema and its schema-change record are built from, and
//! that the schema history keeps. Plain data; [`crate::catalog`] reads it.

use serde::{Deserialize, Serialize};

/// A table of the server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    pub database: String,
    pub table: String,
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

/// A table as `information_schema` describes it: what both the captured table's schema and
/// its `tableChanges` entry are built from, and what the schema history keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawTable {
    pub database: String,
    pub table: String,
    /// Whether the server is MariaDB (its `COLUMN_DEFAULT` is an SQL expression).
    pub mariadb: bool,
    /// `TABLES.TABLE_COLLATION`.
    pub collation: Option<String>,
    /// `TABLES.TABLE_COMMENT`; `None` when empty.
    pub comment: Option<String>,
    pub columns: Vec<RawColumn>,
    /// Primary key columns in key order; without a primary key, the columns of the first
    /// unique index whose columns are all NOT NULL (Debezium's message key); else empty.
    pub primary_key: Vec<String>,
}

/// One row of `information_schema.COLUMNS`, as read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawColumn {
    pub name: String,
    pub position: i32,
    /// `COLUMN_DEFAULT`: on MariaDB an SQL expression (`'text'`, `1.50`, `NULL`,
    /// `current_timestamp()`), on MySQL the bare value.
    pub default: Option<String>,
    pub nullable: bool,
    pub column_type: String,
    pub charset: Option<String>,
    pub extra: String,
    pub comment: Option<String>,
    /// `DATA_TYPE` (`int`, `varchar`).
    #[serde(default)]
    pub data_type: String,
    #[serde(default)]
    pub numeric_precision: Option<u64>,
    #[serde(default)]
    pub numeric_scale: Option<u64>,
    #[serde(default)]
    pub datetime_precision: Option<u64>,
    /// `CHARACTER_OCTET_LENGTH`.
    #[serde(default)]
    pub octet_length: Option<u64>,
}
