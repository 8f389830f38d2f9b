//! Debezium's schema-change events (`include.schema.changes=true`): one record per DDL on the
//! topic named `topic.prefix`, keyed by database.
//!
//! ```text
//!  key    io.debezium.connector.mysql.SchemaChangeKey    {databaseName}
//!  value  io.debezium.connector.mysql.SchemaChangeValue  {source, ts_ms, databaseName,
//!         schemaName, ddl, tableChanges: [{type, id, table: {defaultCharsetName,
//!         primaryKeyColumnNames, columns: [...], comment}}]}
//! ```
//!
//! Debezium builds `tableChanges` from its own DDL parser; here a [`TableDefinition`] is read
//! from `information_schema` instead and rendered the way Debezium renders the same table
//! when it parses `SHOW CREATE TABLE` (which is what its snapshot does). Where the two differ
//! (a streamed `CREATE TABLE t (i int)` gives Debezium no display width, `information_schema`
//! says `int(11)`) see compat/debezium/SCHEMA_CHANGES.md.
//!
//! The definitions come from [`crate::catalog`]; this module only renders them.
//!
//! A [`TableDefinition`] serializes to JSON (camelCase names like Debezium's history file),
//! so it can be kept in a durable schema history and rendered again later.

use crate::table::{RawColumn, RawTable};
use serde::{Deserialize, Serialize};
use spillway_core::schema::{ConnectSchema, ConnectType, Field};
use spillway_core::Value;

/// The `java.sql.Types` constants Debezium's MySQL DDL parser gives column types.
pub mod jdbc {
    pub const BIT: i32 = -7;
    pub const SMALLINT: i32 = 5;
    pub const INTEGER: i32 = 4;
    pub const BIGINT: i32 = -5;
    pub const FLOAT: i32 = 6;
    pub const REAL: i32 = 7;
    pub const DOUBLE: i32 = 8;
    pub const NUMERIC: i32 = 2;
    pub const DECIMAL: i32 = 3;
    pub const CHAR: i32 = 1;
    pub const VARCHAR: i32 = 12;
    pub const NCHAR: i32 = -15;
    pub const NVARCHAR: i32 = -9;
    pub const DATE: i32 = 91;
    pub const TIME: i32 = 92;
    pub const TIMESTAMP: i32 = 93;
    pub const TIMESTAMP_WITH_TIMEZONE: i32 = 2014;
    pub const BINARY: i32 = -2;
    pub const VARBINARY: i32 = -3;
    pub const BLOB: i32 = 2004;
    pub const BOOLEAN: i32 = 16;
    pub const OTHER: i32 = 1111;
}

/// What Debezium writes as `defaultValueExpression` for a `CURRENT_TIMESTAMP` default.
pub const EPOCH_DEFAULT: &str = "1970-01-01 00:00:00";

/// The `type` of one entry of `tableChanges`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TableChangeKind {
    Create,
    Alter,
    Drop,
}

impl TableChangeKind {
    /// `CREATE`, `ALTER` or `DROP`.
    pub fn as_str(self) -> &'static str {
        match self {
            TableChangeKind::Create => "CREATE",
            TableChangeKind::Alter => "ALTER",
            TableChangeKind::Drop => "DROP",
        }
    }
}

/// One table as `tableChanges` describes it, read from `information_schema`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDefinition {
    pub database: String,
    pub table: String,
    /// Character set of the table's default collation (`TABLES.TABLE_COLLATION`).
    #[serde(rename = "defaultCharsetName", default)]
    pub default_charset: Option<String>,
    /// Primary key columns in key order; without a primary key, the columns of the first
    /// unique index whose columns are all NOT NULL (as Debezium's parser does); else empty.
    #[serde(rename = "primaryKeyColumnNames", default)]
    pub primary_key: Vec<String>,
    pub columns: Vec<ColumnDefinition>,
    /// `TABLES.TABLE_COMMENT` as stored (unescaped); `None` when empty.
    #[serde(default)]
    pub comment: Option<String>,
}

/// One column of a [`TableDefinition`], already in Debezium's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnDefinition {
    pub name: String,
    /// `java.sql.Types` constant (see [`jdbc`]).
    pub jdbc_type: i32,
    /// Always `None` for MySQL/MariaDB.
    #[serde(default)]
    pub native_type: Option<i32>,
    /// Upper-case base type plus ` UNSIGNED`/` ZEROFILL` (`INT UNSIGNED`, `VARCHAR`).
    pub type_name: String,
    /// Same as `type_name` in everything Debezium wrote for MySQL.
    #[serde(default)]
    pub type_expression: Option<String>,
    /// `COLUMNS.CHARACTER_SET_NAME` (string, enum and set columns only).
    #[serde(default)]
    pub charset_name: Option<String>,
    #[serde(default)]
    pub length: Option<i32>,
    #[serde(default)]
    pub scale: Option<i32>,
    /// 1-based `ORDINAL_POSITION`.
    pub position: i32,
    pub optional: bool,
    /// AUTO_INCREMENT or `ON UPDATE CURRENT_TIMESTAMP`.
    pub auto_incremented: bool,
    /// Same as `auto_incremented` (Debezium sets both); virtual/stored columns are `false`.
    pub generated: bool,
    /// `COLUMNS.COLUMN_COMMENT` as stored (unescaped); `None` when empty.
    #[serde(default)]
    pub comment: Option<String>,
    /// Whether the column has a DEFAULT clause (DEFAULT NULL included). Not part of the
    /// Connect form of `tableChanges`; Debezium's history file keeps it.
    #[serde(default)]
    pub has_default_value: bool,
    #[serde(default)]
    pub default_value_expression: Option<String>,
    /// ENUM/SET labels as SQL literals, quotes included (`'a'`, `'it''s'`).
    #[serde(default)]
    pub enum_values: Option<Vec<String>>,
    /// `COLUMNS.COLUMN_TYPE` as the server reported it.
    #[serde(default)]
    pub column_type: String,
}

impl RawTable {
    /// The table in Debezium's `tableChanges` terms.
    pub fn definition(&self) -> TableDefinition {
        TableDefinition {
            database: self.database.clone(),
            table: self.table.clone(),
            default_charset: self.collation.as_deref().map(charset_of_collation),
            primary_key: self.primary_key.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| column_definition(c.clone(), self.mariadb))
                .collect(),
            comment: self.comment.clone(),
        }
    }
}

/// Turns one `information_schema.COLUMNS` row into Debezium's column attributes.
pub fn column_definition(raw: RawColumn, mariadb: bool) -> ColumnDefinition {
    let parsed = parse_column_type(&raw.column_type);
    let mut type_name = parsed.base.to_ascii_uppercase();
    if parsed.unsigned {
        type_name.push_str(" UNSIGNED");
    }
    if parsed.zerofill {
        type_name.push_str(" ZEROFILL");
    }
    let is_collection = matches!(parsed.base.as_str(), "enum" | "set");
    let (length, scale) = match parsed.base.as_str() {
        "enum" => (Some(1), None),
        // One character per label plus the commas between them.
        "set" => (Some((2 * parsed.args.len() as i32 - 1).max(0)), None),
        _ => (
            parsed.args.first().and_then(|a| a.parse().ok()),
            parsed.args.get(1).and_then(|a| a.parse().ok()),
        ),
    };
    let extra = raw.extra.to_ascii_lowercase();
    let auto = extra.contains("auto_increment") || extra.contains("on update");
    let has_default_value = match &raw.default {
        Some(_) => true,
        // MySQL reports DEFAULT NULL and "no default" alike; a nullable column defaults to NULL.
        None => !mariadb && raw.nullable,
    };
    ColumnDefinition {
        jdbc_type: jdbc_type(&parsed.base),
        native_type: None,
        type_expression: Some(type_name.clone()),
        type_name,
        charset_name: raw.charset,
        length,
        scale,
        position: raw.position,
        optional: raw.nullable,
        auto_incremented: auto,
        generated: auto,
        comment: raw.comment.filter(|c| !c.is_empty()),
        has_default_value,
        default_value_expression: default_value_expression(raw.default.as_deref(), &extra, mariadb),
        enum_values: is_collection.then(|| parsed.args.clone()),
        column_type: raw.column_type,
        name: raw.name,
    }
}

/// The `java.sql.Types` constant of a base type name (lower case, as in `DATA_TYPE`).
pub fn jdbc_type(base: &str) -> i32 {
    match base {
        "tinyint" | "smallint" | "int1" | "int2" => jdbc::SMALLINT,
        "mediumint" | "int" | "integer" | "int3" | "int4" | "middleint" | "year" => jdbc::INTEGER,
        "bigint" | "int8" | "serial" => jdbc::BIGINT,
        "float" | "float4" => jdbc::FLOAT,
        "double" | "float8" => jdbc::DOUBLE,
        "real" => jdbc::REAL,
        "decimal" | "dec" | "fixed" => jdbc::DECIMAL,
        "numeric" => jdbc::NUMERIC,
        "bit" => jdbc::BIT,
        "bool" | "boolean" => jdbc::BOOLEAN,
        "date" => jdbc::DATE,
        "time" => jdbc::TIME,
        "datetime" => jdbc::TIMESTAMP,
        "timestamp" => jdbc::TIMESTAMP_WITH_TIMEZONE,
        "char" | "character" | "enum" | "set" => jdbc::CHAR,
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "long" => jdbc::VARCHAR,
        "nchar" => jdbc::NCHAR,
        "nvarchar" => jdbc::NVARCHAR,
        "binary" => jdbc::BINARY,
        "varbinary" => jdbc::VARBINARY,
        "tinyblob" | "blob" | "mediumblob" | "longblob" => jdbc::BLOB,
        // json (MySQL), the geometry types, MariaDB's uuid/inet4/inet6, ...
        _ => jdbc::OTHER,
    }
}

/// `COLUMN_TYPE` taken apart: `int(10) unsigned zerofill`, `enum('a','it''s')`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnType {
    /// Lower-case base name (`int`, `varchar`, `enum`).
    pub base: String,
    /// The parenthesized arguments, trimmed; ENUM/SET labels keep their quotes.
    pub args: Vec<String>,
    pub unsigned: bool,
    pub zerofill: bool,
}

/// Splits a `COLUMN_TYPE` into base name, arguments and attributes.
pub fn parse_column_type(column_type: &str) -> ColumnType {
    let s = column_type.trim();
    let split = s
        .find(|c: char| c == '(' || c.is_whitespace())
        .unwrap_or(s.len());
    let base = s[..split].to_ascii_lowercase();
    let mut rest = &s[split..];
    let mut args = Vec::new();
    if rest.starts_with('(') {
        let mut current = String::new();
        let mut in_quote = false;
        let mut end = rest.len();
        let mut chars = rest.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if in_quote {
                current.push(c);
                if c == '\\' {
                    if let Some((_, next)) = chars.next() {
                        current.push(next);
                    }
                } else if c == '\'' {
                    if matches!(chars.peek(), Some((_, '\''))) {
                        current.push('\'');
                        chars.next();
                    } else {
                        in_quote = false;
                    }
                }
                continue;
            }
            match c {
                '\'' => {
                    in_quote = true;
                    current.push(c);
                }
                ',' => args.push(std::mem::take(&mut current).trim().to_string()),
                ')' => {
                    args.push(std::mem::take(&mut current).trim().to_string());
                    end = i + 1;
                    break;
                }
                _ => current.push(c),
            }
        }
        if args.len() == 1 && args[0].is_empty() {
            args.clear();
        }
        rest = &rest[end.min(rest.len())..];
    }
    let words = rest.to_ascii_lowercase();
    ColumnType {
        base,
        args,
        unsigned: words.split_whitespace().any(|w| w == "unsigned"),
        zerofill: words.split_whitespace().any(|w| w == "zerofill"),
    }
}

/// Debezium's `defaultValueExpression` from `COLUMN_DEFAULT`: the literal without its quotes
/// (escapes kept, as Debezium keeps them), bits without `b'...'`, `CURRENT_TIMESTAMP` as
/// [`EPOCH_DEFAULT`]; `None` for no default, DEFAULT NULL and expressions.
pub fn default_value_expression(
    default: Option<&str>,
    extra: &str,
    mariadb: bool,
) -> Option<String> {
    let raw = default?;
    let lower = raw.trim().to_ascii_lowercase();
    if is_current_timestamp(&lower) {
        return Some(EPOCH_DEFAULT.to_string());
    }
    if let Some(bits) = lower
        .strip_prefix("b'")
        .and_then(|b| b.strip_suffix('\''))
        .filter(|b| b.chars().all(|c| c == '0' || c == '1'))
    {
        return Some(bits.to_string());
    }
    if mariadb {
        if raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'') {
            return Some(raw[1..raw.len() - 1].to_string());
        }
        if lower == "null" || !is_number(raw) {
            return None;
        }
        Some(raw.to_string())
    } else {
        // MySQL: the bare value, or an expression when EXTRA says DEFAULT_GENERATED.
        if extra.to_ascii_lowercase().contains("default_generated") {
            return None;
        }
        Some(escape_literal_body(raw))
    }
}

fn is_current_timestamp(lower: &str) -> bool {
    ["current_timestamp", "now(", "localtime", "localtimestamp"]
        .iter()
        .any(|p| lower.starts_with(p))
}

fn is_number(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.')
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
}

/// A string as the body of a quoted SQL literal the way `SHOW CREATE TABLE` writes it
/// (`'` doubled, backslash, NUL, CR and LF escaped): what Debezium shows for comments.
pub fn escape_literal_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The character set a collation belongs to (`utf8mb4_general_ci` -> `utf8mb4`).
pub fn charset_of_collation(collation: &str) -> String {
    collation.split('_').next().unwrap_or(collation).to_string()
}

// ---- DDL text as Debezium writes it ---------------------------------------------------------

/// An identifier in backticks, as Debezium quotes it (no escaping).
pub fn quote(name: &str) -> String {
    format!("`{name}`")
}

/// A table id as `tableChanges[].id` writes it: `"db"."table"`.
pub fn table_id(database: &str, table: &str) -> String {
    format!("\"{database}\".\"{table}\"")
}

/// Snapshot record 1: `SET character_set_server=..., collation_server=...`.
pub fn set_server_locale_ddl(charset: &str, collation: &str) -> String {
    format!("SET character_set_server={charset}, collation_server={collation}")
}

/// Snapshot: `DROP TABLE IF EXISTS `db`.`table``.
pub fn drop_table_if_exists_ddl(database: &str, table: &str) -> String {
    format!("DROP TABLE IF EXISTS {}.{}", quote(database), quote(table))
}

/// Snapshot: `DROP DATABASE IF EXISTS `db``.
pub fn drop_database_if_exists_ddl(database: &str) -> String {
    format!("DROP DATABASE IF EXISTS {}", quote(database))
}

/// Snapshot: `CREATE DATABASE `db` CHARSET utf8mb4 COLLATE utf8mb4_general_ci`.
pub fn create_database_ddl(
    database: &str,
    charset: Option<&str>,
    collation: Option<&str>,
) -> String {
    let mut ddl = format!("CREATE DATABASE {}", quote(database));
    if let Some(c) = charset {
        ddl.push_str(" CHARSET ");
        ddl.push_str(c);
    }
    if let Some(c) = collation {
        ddl.push_str(" COLLATE ");
        ddl.push_str(c);
    }
    ddl
}

/// Snapshot: `USE `db``.
pub fn use_database_ddl(database: &str) -> String {
    format!("USE {}", quote(database))
}

// ---- Connect schemas and values -------------------------------------------------------------

fn s(ty: ConnectType) -> ConnectSchema {
    ConnectSchema::new(ty)
}

fn string_array() -> ConnectType {
    ConnectType::Array(Box::new(s(ConnectType::String)))
}

/// `io.debezium.connector.schema.Column`.
pub fn column_schema() -> ConnectSchema {
    let opt = |ty| s(ty).optional(true);
    s(ConnectType::Struct(vec![
        Field::new("name", s(ConnectType::String)),
        Field::new("jdbcType", s(ConnectType::Int32)),
        Field::new("nativeType", opt(ConnectType::Int32)),
        Field::new("typeName", s(ConnectType::String)),
        Field::new("typeExpression", opt(ConnectType::String)),
        Field::new("charsetName", opt(ConnectType::String)),
        Field::new("length", opt(ConnectType::Int32)),
        Field::new("scale", opt(ConnectType::Int32)),
        Field::new("position", s(ConnectType::Int32)),
        Field::new("optional", opt(ConnectType::Boolean)),
        Field::new("autoIncremented", opt(ConnectType::Boolean)),
        Field::new("generated", opt(ConnectType::Boolean)),
        Field::new("comment", opt(ConnectType::String)),
        Field::new("defaultValueExpression", opt(ConnectType::String)),
        Field::new("enumValues", opt(string_array())),
    ]))
    .named("io.debezium.connector.schema.Column")
    .version(1)
}

/// `io.debezium.connector.schema.Table` (optional: null for DROP).
pub fn table_schema() -> ConnectSchema {
    s(ConnectType::Struct(vec![
        Field::new("defaultCharsetName", s(ConnectType::String).optional(true)),
        Field::new("primaryKeyColumnNames", s(string_array()).optional(true)),
        Field::new("columns", s(ConnectType::Array(Box::new(column_schema())))),
        Field::new("comment", s(ConnectType::String).optional(true)),
    ]))
    .optional(true)
    .named("io.debezium.connector.schema.Table")
    .version(1)
}

/// `io.debezium.connector.schema.Change`: one element of `tableChanges`.
pub fn table_change_schema() -> ConnectSchema {
    s(ConnectType::Struct(vec![
        Field::new("type", s(ConnectType::String)),
        Field::new("id", s(ConnectType::String)),
        Field::new("table", table_schema()),
    ]))
    .named("io.debezium.connector.schema.Change")
    .version(1)
}

/// `io.debezium.connector.mysql.SchemaChangeKey`.
pub fn schema_change_key_schema() -> ConnectSchema {
    schema_change_key_schema_for("mysql")
}

/// `io.debezium.connector.<connector>.SchemaChangeKey` (`mysql` or `mariadb`).
pub fn schema_change_key_schema_for(connector: &str) -> ConnectSchema {
    s(ConnectType::Struct(vec![Field::new(
        "databaseName",
        s(ConnectType::String),
    )]))
    .named(format!("io.debezium.connector.{connector}.SchemaChangeKey"))
    .version(1)
}

/// `io.debezium.connector.<connector>.SchemaChangeValue`, the connector taken from the name
/// of `source_schema` (`io.debezium.connector.<connector>.Source`, else `mysql`).
pub fn schema_change_value_schema(source_schema: &ConnectSchema) -> ConnectSchema {
    let connector = source_schema
        .name
        .as_deref()
        .and_then(|n| n.strip_prefix("io.debezium.connector."))
        .and_then(|n| n.strip_suffix(".Source"))
        .unwrap_or("mysql");
    let opt_string = || s(ConnectType::String).optional(true);
    s(ConnectType::Struct(vec![
        Field::new("source", source_schema.clone()),
        Field::new("ts_ms", s(ConnectType::Int64)),
        Field::new("databaseName", opt_string()),
        Field::new("schemaName", opt_string()),
        Field::new("ddl", opt_string()),
        Field::new(
            "tableChanges",
            s(ConnectType::Array(Box::new(table_change_schema()))),
        ),
    ]))
    .named(format!(
        "io.debezium.connector.{connector}.SchemaChangeValue"
    ))
    .version(1)
}

fn opt_string(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.to_string()))
}

fn opt_int(v: Option<i32>) -> Value {
    v.map_or(Value::Null, |i| Value::Int(i64::from(i)))
}

/// The value of one column (fits [`column_schema`]).
pub fn column_value(c: &ColumnDefinition, include_comments: bool) -> Value {
    let comment = if include_comments {
        c.comment.as_deref().map(escape_literal_body)
    } else {
        None
    };
    Value::Struct(vec![
        Value::String(c.name.clone()),
        Value::Int(i64::from(c.jdbc_type)),
        opt_int(c.native_type),
        Value::String(c.type_name.clone()),
        opt_string(c.type_expression.as_deref()),
        opt_string(c.charset_name.as_deref()),
        opt_int(c.length),
        opt_int(c.scale),
        Value::Int(i64::from(c.position)),
        Value::Bool(c.optional),
        Value::Bool(c.auto_incremented),
        Value::Bool(c.generated),
        opt_string(comment.as_deref()),
        opt_string(c.default_value_expression.as_deref()),
        c.enum_values.as_ref().map_or(Value::Null, |labels| {
            Value::Array(labels.iter().map(|l| Value::String(l.clone())).collect())
        }),
    ])
}

/// The value of the `table` struct (fits [`table_schema`]).
pub fn table_value(def: &TableDefinition, include_comments: bool) -> Value {
    let comment = if include_comments {
        def.comment.as_deref().map(escape_literal_body)
    } else {
        None
    };
    Value::Struct(vec![
        opt_string(def.default_charset.as_deref()),
        Value::Array(
            def.primary_key
                .iter()
                .map(|c| Value::String(c.clone()))
                .collect(),
        ),
        Value::Array(
            def.columns
                .iter()
                .map(|c| column_value(c, include_comments))
                .collect(),
        ),
        opt_string(comment.as_deref()),
    ])
}

/// One element of `tableChanges` (fits [`table_change_schema`]), with Debezium's default
/// `include.schema.comments=false`: comments are null. DROP carries `"table": null`.
pub fn table_change_value(kind: TableChangeKind, def: &TableDefinition) -> Value {
    table_change_value_with(kind, def, false)
}

/// [`table_change_value`] with `include.schema.comments` given.
pub fn table_change_value_with(
    kind: TableChangeKind,
    def: &TableDefinition,
    include_comments: bool,
) -> Value {
    match kind {
        TableChangeKind::Drop => dropped_table_change(&def.database, &def.table),
        _ => Value::Struct(vec![
            Value::String(kind.as_str().to_string()),
            Value::String(table_id(&def.database, &def.table)),
            table_value(def, include_comments),
        ]),
    }
}

/// A DROP entry, which needs no definition: `{"type":"DROP","id":"\"db\".\"t\"","table":null}`.
pub fn dropped_table_change(database: &str, table: &str) -> Value {
    Value::Struct(vec![
        Value::String(TableChangeKind::Drop.as_str().to_string()),
        Value::String(table_id(database, table)),
        Value::Null,
    ])
}

/// The key and value structs of one schema-change record (fitting
/// [`schema_change_key_schema`] and [`schema_change_value_schema`]).
///
/// `source` is the source block's struct (`Value::Struct(source_info.values)`); `ts_ms` the
/// time the record is made (Debezium: wall clock, not the binlog time); `database_name` the
/// key's and value's `databaseName` (`""` for the snapshot's `SET character_set_server`);
/// `schema_name` is `None` for MySQL/MariaDB.
pub fn schema_change_record(
    source: Value,
    ts_ms: i64,
    database_name: &str,
    schema_name: Option<&str>,
    ddl: &str,
    table_changes: Vec<Value>,
) -> (Value, Value) {
    let key = Value::Struct(vec![Value::String(database_name.to_string())]);
    let value = Value::Struct(vec![
        source,
        Value::Int(ts_ms),
        Value::String(database_name.to_string()),
        opt_string(schema_name),
        Value::String(ddl.to_string()),
        Value::Array(table_changes),
    ]);
    (key, value)
}

/// Makes the connector's schema-change records: the topic, the schemas and the options.
pub struct SchemaRecords {
    topic: std::sync::Arc<str>,
    key_schema: std::sync::Arc<ConnectSchema>,
    value_schema: std::sync::Arc<ConnectSchema>,
    include_comments: bool,
}

impl SchemaRecords {
    pub fn new(config: &crate::config::MysqlConfig, source_schema: &ConnectSchema) -> Self {
        SchemaRecords {
            topic: std::sync::Arc::from(config.common.topic_prefix.as_str()),
            key_schema: std::sync::Arc::new(schema_change_key_schema_for(
                config.flavor.connector_name(),
            )),
            value_schema: std::sync::Arc::new(schema_change_value_schema(source_schema)),
            include_comments: config.include_schema_comments,
        }
    }

    /// One `tableChanges` entry.
    pub fn change(&self, kind: TableChangeKind, table: &RawTable) -> Value {
        table_change_value_with(kind, &table.definition(), self.include_comments)
    }

    /// A record for `ddl` on `database` with the given source block and table changes.
    pub fn record(
        &self,
        source: spillway_core::SourceInfo,
        database: &str,
        ddl: &str,
        changes: Vec<Value>,
    ) -> spillway_core::StructRecord {
        let ts_ms = crate::source_info::now_us() / 1000;
        let (key, value) = schema_change_record(
            Value::Struct(source.values),
            ts_ms,
            database,
            None,
            ddl,
            changes,
        );
        spillway_core::StructRecord {
            topic: self.topic.clone(),
            key_schema: self.key_schema.clone(),
            key,
            value_schema: self.value_schema.clone(),
            value,
            ts_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, column_type: &str) -> RawColumn {
        RawColumn {
            name: name.to_string(),
            position: 1,
            nullable: true,
            column_type: column_type.to_string(),
            ..RawColumn::default()
        }
    }

    #[test]
    fn column_types_are_taken_apart() {
        let t = parse_column_type("int(10) unsigned zerofill");
        assert_eq!(t.base, "int");
        assert_eq!(t.args, vec!["10"]);
        assert!(t.unsigned && t.zerofill);
        let t = parse_column_type("enum('a','b,c','it''s','x\\'y')");
        assert_eq!(t.base, "enum");
        assert_eq!(t.args, vec!["'a'", "'b,c'", "'it''s'", "'x\\'y'"]);
        let t = parse_column_type("decimal(10,2)");
        assert_eq!(t.args, vec!["10", "2"]);
        let t = parse_column_type("double");
        assert_eq!((t.base.as_str(), t.args.len()), ("double", 0));
    }

    #[test]
    fn attributes_follow_what_debezium_wrote_for_show_create_table() {
        // (COLUMN_TYPE, typeName, jdbcType, length, scale) from the ddl_types reference case.
        type Case = (&'static str, &'static str, i32, Option<i32>, Option<i32>);
        let cases: &[Case] = &[
            ("int(10) unsigned", "INT UNSIGNED", 4, Some(10), None),
            ("int(11)", "INT", 4, Some(11), None),
            ("tinyint(1)", "TINYINT", 5, Some(1), None),
            (
                "smallint(5) unsigned zerofill",
                "SMALLINT UNSIGNED ZEROFILL",
                5,
                Some(5),
                None,
            ),
            ("mediumint(9)", "MEDIUMINT", 4, Some(9), None),
            ("bigint(20) unsigned", "BIGINT UNSIGNED", -5, Some(20), None),
            ("decimal(10,2)", "DECIMAL", 3, Some(10), Some(2)),
            ("float", "FLOAT", 6, None, None),
            ("float(7,3)", "FLOAT", 6, Some(7), Some(3)),
            ("double(10,4)", "DOUBLE", 8, Some(10), Some(4)),
            ("bit(5)", "BIT", -7, Some(5), None),
            ("char(3)", "CHAR", 1, Some(3), None),
            ("varchar(20)", "VARCHAR", 12, Some(20), None),
            ("text", "TEXT", 12, None, None),
            ("longtext", "LONGTEXT", 12, None, None),
            ("blob", "BLOB", 2004, None, None),
            ("varbinary(16)", "VARBINARY", -3, Some(16), None),
            ("binary(4)", "BINARY", -2, Some(4), None),
            ("date", "DATE", 91, None, None),
            ("time(2)", "TIME", 92, Some(2), None),
            ("datetime(3)", "DATETIME", 93, Some(3), None),
            ("timestamp", "TIMESTAMP", 2014, None, None),
            ("timestamp(6)", "TIMESTAMP", 2014, Some(6), None),
            ("year(4)", "YEAR", 4, Some(4), None),
            ("enum('a','b','it''s')", "ENUM", 1, Some(1), None),
            ("set('x','y','z')", "SET", 1, Some(5), None),
        ];
        for &(ct, name, jdbc, length, scale) in cases {
            let c = column_definition(raw("c", ct), true);
            assert_eq!(
                (c.type_name.as_str(), c.jdbc_type, c.length, c.scale),
                (name, jdbc, length, scale),
                "{ct}"
            );
            assert_eq!(c.type_expression.as_deref(), Some(name));
        }
        let e = column_definition(raw("e", "enum('a','b','it''s')"), true);
        assert_eq!(
            e.enum_values,
            Some(vec!["'a'".into(), "'b'".into(), "'it''s'".into()])
        );
    }

    #[test]
    fn defaults_follow_what_debezium_wrote() {
        let d = |v: &str| default_value_expression(Some(v), "", true);
        assert_eq!(d("'b'").as_deref(), Some("b"));
        assert_eq!(d("'x,z'").as_deref(), Some("x,z"));
        assert_eq!(d("1.50").as_deref(), Some("1.50"));
        assert_eq!(d("-1").as_deref(), Some("-1"));
        assert_eq!(d("''").as_deref(), Some(""));
        assert_eq!(d("'it''s'").as_deref(), Some("it''s"));
        assert_eq!(d("'\\nA'").as_deref(), Some("\\nA"));
        assert_eq!(d("b'101'").as_deref(), Some("101"));
        assert_eq!(d("current_timestamp()").as_deref(), Some(EPOCH_DEFAULT));
        assert_eq!(d("current_timestamp(3)").as_deref(), Some(EPOCH_DEFAULT));
        assert_eq!(d("NULL"), None);
        assert_eq!(d("(1 + 1)"), None);
        assert_eq!(default_value_expression(None, "", true), None);
        // MySQL gives bare values.
        assert_eq!(
            default_value_expression(Some("it's"), "", false).as_deref(),
            Some("it''s")
        );
        assert_eq!(
            default_value_expression(Some("CURRENT_TIMESTAMP"), "DEFAULT_GENERATED", false)
                .as_deref(),
            Some(EPOCH_DEFAULT)
        );
    }

    #[test]
    fn auto_increment_and_on_update_mark_the_column_generated() {
        let mut r = raw("id", "int(10) unsigned");
        r.extra = "auto_increment".into();
        let c = column_definition(r, true);
        assert!(c.auto_incremented && c.generated);
        let mut r = raw("ts", "timestamp");
        r.extra = "on update current_timestamp()".into();
        let c = column_definition(r, true);
        assert!(c.auto_incremented && c.generated);
        let mut r = raw("gv", "int(11)");
        r.extra = "VIRTUAL GENERATED".into();
        let c = column_definition(r, true);
        assert!(!c.auto_incremented && !c.generated);
    }

    #[test]
    fn ddl_texts() {
        assert_eq!(
            create_database_ddl("dbzref", Some("utf8mb4"), Some("utf8mb4_general_ci")),
            "CREATE DATABASE `dbzref` CHARSET utf8mb4 COLLATE utf8mb4_general_ci"
        );
        assert_eq!(
            drop_table_if_exists_ddl("dbzref", "ddl"),
            "DROP TABLE IF EXISTS `dbzref`.`ddl`"
        );
        assert_eq!(table_id("dbzref", "ddl"), "\"dbzref\".\"ddl\"");
        assert_eq!(
            escape_literal_body("a 'quoted' \\ comment"),
            "a ''quoted'' \\\\ comment"
        );
        assert_eq!(charset_of_collation("latin1_swedish_ci"), "latin1");
    }

    #[test]
    fn values_fit_their_schemas() {
        let def = TableDefinition {
            database: "db".into(),
            table: "t".into(),
            default_charset: Some("utf8mb4".into()),
            primary_key: vec!["id".into()],
            columns: vec![column_definition(raw("id", "int(11)"), true)],
            comment: Some("it's".into()),
        };
        let fields = |schema: &ConnectSchema| schema.fields().len();
        let Value::Struct(change) = table_change_value_with(TableChangeKind::Create, &def, true)
        else {
            panic!()
        };
        assert_eq!(change.len(), fields(&table_change_schema()));
        let Value::Struct(table) = &change[2] else {
            panic!()
        };
        assert_eq!(table.len(), fields(&table_schema()));
        assert_eq!(table[3], Value::String("it''s".into()));
        let Value::Array(columns) = &table[2] else {
            panic!()
        };
        let Value::Struct(column) = &columns[0] else {
            panic!()
        };
        assert_eq!(column.len(), fields(&column_schema()));
        let json = serde_json::to_string(&def).unwrap();
        assert!(
            json.contains("\"primaryKeyColumnNames\":[\"id\"]"),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<TableDefinition>(&json).unwrap(), def);
        let Value::Struct(drop) = table_change_value(TableChangeKind::Drop, &def) else {
            panic!()
        };
        assert_eq!(drop[2], Value::Null);
    }
}
