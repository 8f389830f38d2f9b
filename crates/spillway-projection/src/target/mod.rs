//! The databases a projection writes to.
//!
//! A [`Target`] knows its tables (read from its catalog, or made by the projection), turns a
//! folded [`Batch`] into multi-row statements with its SQL dialect, and commits them with
//! the consumed offsets in one transaction: the offsets a target returns from
//! [`Target::load_offsets`] are exactly those of the rows it holds.

pub mod postgres;
pub mod sqlite;

use crate::batch::{Batch, Entry};
use crate::cell::Cell;
use crate::config::InsertMode;
use crate::shape::{Column, ColumnType};
use spillway_core::TopicPartition;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// An error of the target database.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The database cannot be reached or dropped the connection: retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The database refused what was asked (a constraint, a type, a privilege).
    #[error("{0}")]
    Refused(String),
    /// A table does not fit the records (a missing column without schema evolution, a
    /// column of another type, another key).
    #[error("{0}")]
    Conflict(String),
}

impl spillway_core::Classify for TargetError {
    fn class(&self) -> spillway_core::ErrorClass {
        use spillway_core::ErrorClass;
        match self {
            TargetError::Unavailable(_) => ErrorClass::Transient,
            // A constraint, a type or a table that does not fit: it comes back with the
            // same records.
            TargetError::Refused(_) | TargetError::Conflict(_) => ErrorClass::Definite,
        }
    }
}

/// A table as the database has it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableInfo {
    /// Columns in table order: name and declared type.
    pub columns: Vec<(String, String)>,
    /// Primary key columns, in key order (empty without a primary key).
    pub key: Vec<String>,
}

impl TableInfo {
    /// The declared type of a column.
    pub fn column(&self, name: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }
}

/// A database a projection writes to.
pub trait Target: Send {
    /// Creates the offsets table when missing and reads the offsets `connector` committed.
    fn load_offsets(
        &mut self,
        connector: &str,
    ) -> impl Future<Output = Result<HashMap<TopicPartition, u64>, TargetError>> + Send;

    /// The table as it is, or `None` when there is none.
    fn describe(
        &mut self,
        table: &str,
    ) -> impl Future<Output = Result<Option<TableInfo>, TargetError>> + Send;

    /// Creates a table with these columns and primary key (none when `key` is empty).
    fn create_table(
        &mut self,
        table: &str,
        columns: &[Column],
        key: &[String],
    ) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// Adds nullable columns to a table.
    fn add_columns(
        &mut self,
        table: &str,
        columns: &[Column],
    ) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// Applies a batch and stores `offsets` (the next offset to read, per partition) for
    /// `connector`, in one transaction. `tables` has the current description of every
    /// table of the batch.
    fn apply(
        &mut self,
        batch: &Batch,
        mode: InsertMode,
        tables: &HashMap<String, TableInfo>,
        connector: &str,
        offsets: &[(TopicPartition, u64)],
    ) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// Changes the offsets `connector` committed as an operator asks (Kafka Connect's
    /// alter and reset of a stopped connector's offsets): each partition given moves to
    /// its offset, or is forgotten (`None`: read from the start again). In one
    /// transaction; the offsets table is created when missing.
    fn alter_offsets(
        &mut self,
        connector: &str,
        offsets: &[(TopicPartition, Option<u64>)],
    ) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// The SQL type this target gives a column it creates.
    fn sql_type(&self, ty: &ColumnType) -> String;
}

/// Kinds of column types, to tell whether a column holds what records carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Integer,
    Real,
    Numeric,
    Text,
    Bytes,
    Boolean,
    Date,
    Time,
    Timestamp,
    Json,
    Uuid,
    Array,
    /// A type this check does not know; the database decides.
    Other,
}

impl Family {
    /// The family of a declared SQL type (either dialect).
    pub fn of_declared(declared: &str) -> Family {
        let t = declared.trim().to_ascii_lowercase();
        if t.ends_with("[]") || t.starts_with('_') || t == "array" {
            return Family::Array;
        }
        let base = t.split('(').next().unwrap_or("").trim();
        match base {
            "smallint" | "integer" | "int" | "bigint" | "int2" | "int4" | "int8" | "tinyint"
            | "mediumint" | "serial" | "bigserial" | "smallserial" => Family::Integer,
            "real" | "double precision" | "double" | "float" | "float4" | "float8" => Family::Real,
            "numeric" | "decimal" => Family::Numeric,
            "text" | "character varying" | "varchar" | "character" | "char" | "bpchar" | "name"
            | "citext" | "clob" => Family::Text,
            "bytea" | "blob" => Family::Bytes,
            "boolean" | "bool" => Family::Boolean,
            "date" => Family::Date,
            "time" | "time without time zone" | "time with time zone" | "timetz" => Family::Time,
            "timestamp"
            | "timestamp without time zone"
            | "timestamp with time zone"
            | "timestamptz"
            | "datetime" => Family::Timestamp,
            "json" | "jsonb" => Family::Json,
            "uuid" => Family::Uuid,
            "" => Family::Other,
            other if other.contains("int") => Family::Integer,
            other if other.contains("char") || other.contains("text") => Family::Text,
            _ => Family::Other,
        }
    }

    /// The family of the values of a column type.
    pub fn of_type(ty: &ColumnType) -> Family {
        match ty {
            ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64 => Family::Integer,
            ColumnType::Float32 | ColumnType::Float64 => Family::Real,
            ColumnType::Decimal { .. } | ColumnType::VariableDecimal => Family::Numeric,
            ColumnType::Text | ColumnType::Xml => Family::Text,
            ColumnType::Bytes => Family::Bytes,
            ColumnType::Boolean => Family::Boolean,
            ColumnType::Date => Family::Date,
            ColumnType::Time { .. } | ColumnType::ZonedTime => Family::Time,
            ColumnType::Timestamp { .. } | ColumnType::ZonedTimestamp => Family::Timestamp,
            ColumnType::Json | ColumnType::Document => Family::Json,
            ColumnType::Uuid => Family::Uuid,
            ColumnType::Array(_) => Family::Array,
            ColumnType::Interval => Family::Other,
        }
    }

    /// Whether a column of this family takes values of `values`.
    pub fn takes(self, values: Family) -> bool {
        use Family::*;
        match (self, values) {
            (Other, _) | (_, Other) | (Text, _) => true,
            (a, b) if a == b => true,
            (Real | Numeric, Integer | Real | Numeric) => true,
            (Timestamp, Date) => true,
            (Json, Text | Array) => true,
            (Uuid, Text) => true,
            _ => false,
        }
    }
}

/// Checks that a table fits records of `columns` keyed by `key`: every column there (or
/// listed in `missing` when the caller may add it), of a type that takes the values, and
/// the table's key equal to the records' key when rows are upserted by it.
pub fn check_table(
    table: &str,
    info: &TableInfo,
    columns: &[Column],
    key: &[String],
    needs_key: bool,
) -> Result<Vec<Column>, TargetError> {
    let mut missing = Vec::new();
    for column in columns {
        match info.column(&column.name) {
            None => missing.push(column.clone()),
            Some(declared) => {
                let values = Family::of_type(&column.ty);
                if !Family::of_declared(declared).takes(values) {
                    return Err(TargetError::Conflict(format!(
                        "column {:?} of table {table:?} is {declared}, but records carry {} values ({:?}) for it: change the column's type or write the records to another table (table.name.format)",
                        column.name,
                        format!("{values:?}").to_lowercase(),
                        column.ty
                    )));
                }
            }
        }
    }
    if needs_key && !key.is_empty() {
        let mut have: Vec<&str> = info.key.iter().map(String::as_str).collect();
        let mut want: Vec<&str> = key.iter().map(String::as_str).collect();
        have.sort_unstable();
        want.sort_unstable();
        if have != want {
            return Err(TargetError::Conflict(format!(
                "table {table:?} has primary key ({}) but its records are keyed by ({}): upserts and deletes need the table's primary key on exactly those columns",
                info.key.join(", "),
                key.join(", ")
            )));
        }
    }
    Ok(missing)
}

/// Splits `n` rows into statement sizes: full chunks, then powers of two.
pub fn chunks(n: usize, max_rows: usize) -> Vec<usize> {
    let mut out = vec![max_rows; n / max_rows];
    let mut rest = n % max_rows;
    let mut size = max_rows.next_power_of_two();
    while rest > 0 {
        while size > rest {
            size /= 2;
        }
        out.push(size);
        rest -= size;
    }
    out
}

/// Rows written with the same columns present.
pub struct WriteGroup<'a> {
    /// Indexes of the columns whose values are there (not unavailable).
    pub present: Vec<usize>,
    pub columns: Arc<[Column]>,
    pub rows: Vec<&'a Vec<Cell>>,
}

/// Rows of the batch that go in one statement shape: the same columns, the same values
/// unavailable.
pub fn write_groups(entries: &[Entry]) -> Vec<WriteGroup<'_>> {
    let mut groups: Vec<WriteGroup<'_>> = Vec::new();
    for entry in entries {
        let Some((columns, cells)) = &entry.write else {
            continue;
        };
        let present: Vec<usize> = (0..cells.len())
            .filter(|i| cells[*i] != Cell::Unavailable)
            .collect();
        match groups
            .iter_mut()
            .find(|g| Arc::ptr_eq(&g.columns, columns) && g.present == present)
        {
            Some(group) => group.rows.push(cells),
            None => groups.push(WriteGroup {
                present,
                columns: columns.clone(),
                rows: vec![cells],
            }),
        }
    }
    groups
}

/// `CREATE TABLE IF NOT EXISTS` of `columns` with `key` as primary key (key columns NOT
/// NULL), each column's type named by `sql_type`.
pub fn create_table_sql(
    table: &str,
    columns: &[Column],
    key: &[String],
    sql_type: impl Fn(&ColumnType) -> String,
) -> String {
    let mut defs: Vec<String> = columns
        .iter()
        .map(|c| {
            let not_null = if key.contains(&c.name) {
                " NOT NULL"
            } else {
                ""
            };
            format!("{} {}{not_null}", quote(&c.name), sql_type(&c.ty))
        })
        .collect();
    if !key.is_empty() {
        let keys: Vec<String> = key.iter().map(|k| quote(k)).collect();
        defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        quote(table),
        defs.join(", ")
    )
}

/// Quotes an identifier for either dialect (`"` doubled).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Days since the epoch as `YYYY-MM-DD` (`-YYYY` before year 0, ISO style).
pub fn date_text(days: i64) -> String {
    let (y, m, d) = spillway_core::convert::civil_from_days(days);
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y:+05}-{m:02}-{d:02}")
    }
}

/// Microseconds as `HH:MM:SS[.ffffff]`; MySQL's `TIME` goes below zero and past 24 hours,
/// which keep their sign and hours (`-01:02:03`, `838:59:59`).
pub fn time_text(micros: i64) -> String {
    let mut out = String::with_capacity(16);
    if micros < 0 {
        out.push('-');
    }
    let abs = micros.unsigned_abs();
    let secs = abs / 1_000_000;
    let _ = std::fmt::Write::write_fmt(
        &mut out,
        format_args!(
            "{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        ),
    );
    push_fraction(&mut out, (abs % 1_000_000) as i64);
    out
}

/// Microseconds since the epoch as `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC wall clock).
pub fn timestamp_text(micros: i64) -> String {
    let day = spillway_core::convert::DAY_US;
    let mut out = date_text(micros.div_euclid(day));
    out.push(' ');
    spillway_core::convert::push_hms(&mut out, micros.rem_euclid(day));
    push_fraction(&mut out, micros.rem_euclid(1_000_000));
    out
}

fn push_fraction(out: &mut String, micros: i64) {
    if micros != 0 {
        let digits = format!("{micros:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remainders_split_into_powers_of_two() {
        assert_eq!(chunks(0, 256), Vec::<usize>::new());
        assert_eq!(chunks(600, 256), vec![256, 256, 64, 16, 8]);
        assert_eq!(chunks(7, 256), vec![4, 2, 1]);
        assert_eq!(chunks(10, 3), vec![3, 3, 3, 1]);
    }

    #[test]
    fn times_print_as_sql_reads_them() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(-719_529), "-0001-12-31");
        assert_eq!(time_text(3_723_000_500), "01:02:03.0005");
        assert_eq!(time_text(-3_723_000_000), "-01:02:03");
        assert_eq!(time_text(3_020_399_000_000), "838:59:59");
        assert_eq!(
            timestamp_text(1_715_000_000_123_000),
            "2024-05-06 12:53:20.123"
        );
        assert_eq!(timestamp_text(-1), "1969-12-31 23:59:59.999999");
    }

    #[test]
    fn a_column_of_another_kind_is_a_conflict_naming_it() {
        let info = TableInfo {
            columns: vec![
                ("id".into(), "integer".into()),
                ("name".into(), "integer".into()),
            ],
            key: vec!["id".into()],
        };
        let columns = vec![
            Column::new("id", ColumnType::Int32, false),
            Column::new("name", ColumnType::Text, true),
        ];
        let e = check_table("t", &info, &columns, &["id".into()], true).unwrap_err();
        assert!(
            e.to_string()
                .contains("column \"name\" of table \"t\" is integer"),
            "{e}"
        );
        let e = check_table("t", &info, &columns[..1], &["name".into()], true).unwrap_err();
        assert!(e.to_string().contains("primary key (id)"), "{e}");
        let extra = Column::new("new", ColumnType::Text, true);
        let missing = check_table(
            "t",
            &info,
            &[columns[0].clone(), extra.clone()],
            &["id".into()],
            true,
        )
        .unwrap();
        assert_eq!(missing, vec![extra]);
    }
}
