//! Captured tables: which tables are captured, and the [`TableSchema`]s and row decoders
//! built from their catalog facts ([`crate::catalog`]) or from a table map's metadata.

use crate::catalog::read_raw_table;
use crate::config::MysqlConfig;
use crate::decode::column_type::{ColumnDecoder, MyType, Unsupported};
use crate::error::MysqlError;
use crate::table::{RawTable, TableId};
use spillway_core::filter::NameFilter;
use spillway_core::schema::{Column, TableSchema};
use std::sync::Arc;

/// Schemas that are never captured.
pub const SYSTEM_DATABASES: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

/// A captured table's schema plus what decoding its rows needs.
#[derive(Clone, Debug)]
pub struct CapturedTable {
    pub id: TableId,
    pub schema: Arc<TableSchema>,
    /// One per column of the table, in column order (including excluded ones).
    pub decoders: Vec<ColumnDecoder>,
    /// Every column's name, in column order.
    pub column_names: Vec<String>,
}

impl CapturedTable {
    /// Whether rows described by `map` have this table's layout: as many columns, and,
    /// where the binlog names them (`binlog_row_metadata=FULL`), the same names.
    pub fn fits(&self, map: &crate::decode::table_map::TableMap) -> bool {
        map.columns.len() == self.decoders.len()
            && map
                .columns
                .iter()
                .zip(&self.column_names)
                .all(|(c, name)| c.name.as_ref().is_none_or(|n| n.eq_ignore_ascii_case(name)))
    }
}

/// Whether `database` is one of the server's own schemas.
pub fn is_system_database(database: &str) -> bool {
    SYSTEM_DATABASES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(database))
}

/// Whether a table is captured under the database and table filters.
pub fn table_selected(config: &MysqlConfig, database: &str, table: &str) -> bool {
    !is_system_database(database)
        && config.common.containers.matches(database)
        && config.common.tables.matches(&format!("{database}.{table}"))
}

/// The captured tables, in the order the include list names them.
pub fn select(config: &MysqlConfig, all: &[TableId]) -> Vec<TableId> {
    let mut selected: Vec<TableId> = all
        .iter()
        .filter(|t| table_selected(config, &t.database, &t.table))
        .cloned()
        .collect();
    selected.sort_by_key(|t| config.common.tables.include_rank(&t.to_string()));
    selected
}

/// Reads a table's columns and primary key and builds its schema.
pub async fn load_table(
    conn: &mut mysql_async::Conn,
    config: &MysqlConfig,
    id: &TableId,
    mariadb: bool,
) -> Result<CapturedTable, MysqlError> {
    let raw = read_raw_table(conn, &id.database, &id.table, mariadb)
        .await?
        .ok_or_else(|| MysqlError::Binlog {
            detail: format!("table {id} no longer exists"),
            transient: false,
        })?;
    captured_table(config, &raw)
}

/// Builds a captured table's schema and decoders from its `information_schema` facts.
pub fn captured_table(config: &MysqlConfig, raw: &RawTable) -> Result<CapturedTable, MysqlError> {
    let id = TableId {
        database: raw.database.clone(),
        table: raw.table.clone(),
    };
    let key = &raw.primary_key;
    let mut unsupported: Vec<(String, Unsupported)> = Vec::new();
    let mut columns = Vec::with_capacity(raw.columns.len());
    let mut decoders = Vec::with_capacity(raw.columns.len());
    for c in &raw.columns {
        let in_key = key.contains(&c.name);
        let included = in_key || column_selected(&config.common.columns, &id, &c.name);
        let ty = match MyType::from_information_schema(
            &c.data_type,
            &c.column_type,
            c.numeric_precision,
            c.numeric_scale,
            c.datetime_precision,
            c.charset.as_deref(),
            c.octet_length,
        ) {
            Ok(t) => t,
            Err(u) => {
                if included {
                    unsupported.push((c.name.clone(), u));
                }
                decoders.push(ColumnDecoder {
                    ty: MyType::Binary { pad_to: None },
                    included: false,
                });
                continue;
            }
        };
        if included {
            columns.push(column(
                config,
                &ty,
                &c.name,
                c.column_type.clone(),
                c.nullable && !in_key,
                c.default.as_deref(),
            ));
        }
        decoders.push(ColumnDecoder { ty, included });
    }
    if !unsupported.is_empty() {
        return Err(MysqlError::UnsupportedTypes {
            table: id.to_string(),
            columns: unsupported
                .into_iter()
                .map(|(c, u)| format!("{c} ({})", u.0))
                .collect(),
        });
    }
    let names = raw.columns.iter().map(|c| c.name.clone()).collect();
    Ok(assemble(config, id, columns, key, decoders, names))
}

/// A captured column's name, Connect schema (optional or not) and default.
fn column(
    config: &MysqlConfig,
    ty: &MyType,
    name: &str,
    type_name: String,
    optional: bool,
    default: Option<&str>,
) -> Column {
    let mut schema = ty.schema(&config.types).optional(optional);
    schema.default = default.and_then(|d| ty.default_value(d, optional, &config.types));
    Column {
        name: name.to_string(),
        schema,
        type_name,
    }
}

/// A captured table from its included columns, the names of its key columns, its decoders
/// and all its column names: the topic and schema names follow `topic.prefix`.
fn assemble(
    config: &MysqlConfig,
    id: TableId,
    columns: Vec<Column>,
    key: &[String],
    decoders: Vec<ColumnDecoder>,
    column_names: Vec<String>,
) -> CapturedTable {
    let key_indices = key
        .iter()
        .filter_map(|k| columns.iter().position(|c| &c.name == k))
        .collect();
    let prefix = format!(
        "{}.{}.{}",
        config.common.topic_prefix,
        sanitize(&id.database),
        sanitize(&id.table)
    );
    CapturedTable {
        schema: Arc::new(TableSchema {
            database: id.database.clone(),
            schema: None,
            table: id.table.clone(),
            columns,
            key: key_indices,
            topic: Arc::from(prefix.as_str()),
            schema_name: prefix,
        }),
        id,
        decoders,
        column_names,
    }
}

/// Collation ids of `latin1` (`information_schema.COLLATIONS`).
const LATIN1_COLLATIONS: &[u32] = &[5, 8, 15, 31, 47, 48, 49, 94];
/// The `binary` collation.
const BINARY_COLLATION: u32 = 63;

/// Builds a captured table from a TABLE_MAP's own column metadata
/// (`binlog_row_metadata=FULL`: names, signedness, character sets, enum and set labels,
/// primary key): the definition the rows were written with, when neither the history nor
/// the server has it any more. Defaults are taken from `current` where a column of the same
/// name and type is there. The error says what the binlog lacks.
pub fn captured_from_map(
    config: &MysqlConfig,
    map: &crate::decode::table_map::TableMap,
    current: Option<&RawTable>,
) -> Result<CapturedTable, String> {
    use crate::decode::column_kind::ColumnKind as K;
    let id = TableId {
        database: map.database.clone(),
        table: map.table.clone(),
    };
    let names: Vec<String> = map
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect::<Option<_>>()
        .ok_or("the binlog does not name the columns (set binlog_row_metadata=FULL)")?;
    let key: Vec<usize> = map.primary_key.iter().map(|k| k.column).collect();
    let mut columns = Vec::new();
    let mut decoders = Vec::new();
    for (i, (c, name)) in map.columns.iter().zip(&names).enumerate() {
        let text = |collation: Option<u32>| match collation {
            Some(BINARY_COLLATION) => None,
            c => Some(c.is_some_and(|c| LATIN1_COLLATIONS.contains(&c))),
        };
        let labels = || {
            c.labels
                .clone()
                .ok_or_else(|| format!("the binlog does not list the labels of column {name}"))
        };
        let ty = match c.kind {
            K::Int { bytes } => MyType::Int {
                bytes,
                unsigned: c.unsigned.unwrap_or(false),
            },
            K::Float => MyType::Float,
            K::Double => MyType::Double,
            K::Decimal { precision, scale } => MyType::Decimal {
                precision: u32::from(precision),
                scale: u32::from(scale),
            },
            K::Year => MyType::Year,
            K::Date => MyType::Date,
            K::Time => MyType::Time { fsp: 0 },
            K::Time2 { fsp } => MyType::Time {
                fsp: u32::from(fsp),
            },
            K::DateTime => MyType::DateTime { fsp: 0 },
            K::DateTime2 { fsp } => MyType::DateTime {
                fsp: u32::from(fsp),
            },
            K::Timestamp => MyType::Timestamp { fsp: 0 },
            K::Timestamp2 { fsp } => MyType::Timestamp {
                fsp: u32::from(fsp),
            },
            K::Bit { bits: 1 } => MyType::Bit1,
            K::Bit { bits } => MyType::Bits {
                length: u32::from(bits),
            },
            K::VarString { .. } | K::Blob { .. } => match text(c.collation) {
                Some(latin1) => MyType::Text { latin1 },
                None => MyType::Binary { pad_to: None },
            },
            K::String { max_length } => match text(c.collation) {
                Some(latin1) => MyType::Text { latin1 },
                None => MyType::Binary {
                    pad_to: Some(u32::from(max_length)),
                },
            },
            K::Enum { .. } => MyType::Enum { labels: labels()? },
            K::Set { .. } => MyType::Set { labels: labels()? },
            K::Json { .. } => MyType::Json,
            K::Geometry { .. } | K::Null => {
                return Err(format!("column {name} has a type that is not captured"))
            }
        };
        let in_key = key.contains(&i);
        let included = in_key || column_selected(&config.common.columns, &id, name);
        if included {
            // The server's default, where it has a column of that name and type.
            let same = current
                .and_then(|t| t.columns.iter().find(|rc| &rc.name == name))
                .filter(|rc| {
                    MyType::from_information_schema(
                        &rc.data_type,
                        &rc.column_type,
                        rc.numeric_precision,
                        rc.numeric_scale,
                        rc.datetime_precision,
                        rc.charset.as_deref(),
                        rc.octet_length,
                    )
                    .is_ok_and(|t| t == ty)
                });
            columns.push(column(
                config,
                &ty,
                name,
                c.kind.to_string().to_ascii_lowercase(),
                c.nullable && !in_key,
                same.and_then(|rc| rc.default.as_deref()),
            ));
        }
        decoders.push(ColumnDecoder { ty, included });
    }
    let key_names: Vec<String> = key.iter().filter_map(|&k| names.get(k).cloned()).collect();
    Ok(assemble(config, id, columns, &key_names, decoders, names))
}

fn column_selected(filter: &NameFilter, id: &TableId, column: &str) -> bool {
    filter.is_empty() || filter.matches(&format!("{}.{}.{column}", id.database, id.table))
}

/// A name with characters Kafka topic names refuse replaced by `_`.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
