//! Catalog reads: the queries against `information_schema` (and `SHOW INDEX`,
//! `SHOW CREATE TABLE`) that say which tables exist and what they look like. Rendering what
//! they return as Debezium's schema-change records is [`crate::schema_change`]'s.

use crate::error::MysqlError;
use crate::schema_change::TableDefinition;
use crate::table::{RawColumn, RawTable, TableId};
use mysql_async::prelude::Queryable;

/// All base tables of the server outside the system schemas, sorted.
pub async fn list_tables(conn: &mut mysql_async::Conn) -> Result<Vec<TableId>, MysqlError> {
    let rows: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
              WHERE TABLE_TYPE = 'BASE TABLE'
                AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
              ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(|e| MysqlError::query("listing tables", e))?;
    Ok(rows
        .into_iter()
        .map(|(database, table)| TableId { database, table })
        .collect())
}

/// Reads a table's definition; `None` when there is no such table (or it is a view).
pub async fn read_table_definition(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
    mariadb: bool,
) -> Result<Option<TableDefinition>, MysqlError> {
    Ok(read_raw_table(conn, database, table, mariadb)
        .await?
        .map(|t| t.definition()))
}

/// Reads a table from `information_schema`; `None` when there is no such table (or it is a
/// view).
pub async fn read_raw_table(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
    mariadb: bool,
) -> Result<Option<RawTable>, MysqlError> {
    let context = || format!("reading the definition of {database}.{table}");
    let mut tables: Vec<mysql_async::Row> = conn
        .exec(
            "SELECT TABLE_TYPE, TABLE_COLLATION, TABLE_COMMENT FROM information_schema.TABLES
              WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (database, table),
        )
        .await
        .map_err(|e| MysqlError::query(context(), e))?;
    let Some(mut t) = tables.pop() else {
        return Ok(None);
    };
    let table_type = text(&mut t, 0).unwrap_or_default();
    if table_type.eq_ignore_ascii_case("VIEW") {
        return Ok(None);
    }
    let collation = text(&mut t, 1);
    let table_comment = text(&mut t, 2).filter(|c| !c.is_empty());

    let rows: Vec<mysql_async::Row> = conn
        .exec(
            "SELECT COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, COLUMN_TYPE,
                    CHARACTER_SET_NAME, EXTRA, COLUMN_COMMENT, DATA_TYPE, NUMERIC_PRECISION,
                    NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_OCTET_LENGTH
               FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
              ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| MysqlError::query(context(), e))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let number = |r: &mut mysql_async::Row, i: usize| text(r, i).and_then(|v| v.parse().ok());
    let columns = rows
        .into_iter()
        .map(|mut r| RawColumn {
            name: text(&mut r, 0).unwrap_or_default(),
            position: text(&mut r, 1).and_then(|p| p.parse().ok()).unwrap_or(0),
            default: text(&mut r, 2),
            nullable: text(&mut r, 3).is_some_and(|n| n.eq_ignore_ascii_case("YES")),
            column_type: text(&mut r, 4).unwrap_or_default(),
            charset: text(&mut r, 5),
            extra: text(&mut r, 6).unwrap_or_default(),
            comment: text(&mut r, 7),
            data_type: text(&mut r, 8).unwrap_or_default(),
            numeric_precision: number(&mut r, 9),
            numeric_scale: number(&mut r, 10),
            datetime_precision: number(&mut r, 11),
            octet_length: number(&mut r, 12),
        })
        .collect::<Vec<_>>();

    let mut primary_key: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
              WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'
              ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| MysqlError::query(context(), e))?;
    if primary_key.is_empty() {
        // SHOW INDEX lists keys in the server's key order, the order SHOW CREATE TABLE (and
        // so Debezium's parser) sees them in.
        let indexes: Vec<mysql_async::Row> = match conn
            .query(format!(
                "SHOW INDEX FROM {}.{}",
                quote_escaped(database),
                quote_escaped(table)
            ))
            .await
        {
            Ok(rows) => rows,
            // Dropped meanwhile (ER_NO_SUCH_TABLE).
            Err(mysql_async::Error::Server(e)) if e.code == 1146 => return Ok(None),
            Err(e) => return Err(MysqlError::query(context(), e)),
        };
        primary_key = first_not_null_unique_key(indexes.into_iter().map(|mut r| IndexPart {
            non_unique: named_text(&mut r, "Non_unique").is_none_or(|v| v != "0"),
            key_name: named_text(&mut r, "Key_name").unwrap_or_default(),
            column: named_text(&mut r, "Column_name"),
            nullable: named_text(&mut r, "Null").is_some_and(|v| v.eq_ignore_ascii_case("YES")),
        }));
    }

    Ok(Some(RawTable {
        database: database.to_string(),
        table: table.to_string(),
        mariadb,
        collation,
        comment: table_comment,
        columns,
        primary_key,
    }))
}

/// `SHOW CREATE TABLE` (the `ddl` of a snapshot's CREATE TABLE record); `None` when the table
/// does not exist.
pub async fn show_create_table(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
) -> Result<Option<String>, MysqlError> {
    let result: Result<Option<(String, String)>, _> = conn
        .query_first(format!(
            "SHOW CREATE TABLE {}.{}",
            quote_escaped(database),
            quote_escaped(table)
        ))
        .await;
    match result {
        Ok(row) => Ok(row.map(|(_, ddl)| ddl)),
        // ER_NO_SUCH_TABLE
        Err(mysql_async::Error::Server(e)) if e.code == 1146 => Ok(None),
        Err(e) => Err(MysqlError::query(
            format!("reading SHOW CREATE TABLE of {database}.{table}"),
            e,
        )),
    }
}

/// The server's `character_set_server` and `collation_server` (the snapshot's first record).
pub async fn read_server_locale(
    conn: &mut mysql_async::Conn,
) -> Result<(String, String), MysqlError> {
    let row: Option<(String, String)> = conn
        .query_first("SELECT @@character_set_server, @@collation_server")
        .await
        .map_err(|e| MysqlError::query("reading the server character set", e))?;
    Ok(row.unwrap_or_default())
}

/// A database's default character set and collation (`information_schema.SCHEMATA`).
pub async fn read_database_locale(
    conn: &mut mysql_async::Conn,
    database: &str,
) -> Result<Option<(Option<String>, Option<String>)>, MysqlError> {
    let mut rows: Vec<mysql_async::Row> = conn
        .exec(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME
               FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (database,),
        )
        .await
        .map_err(|e| MysqlError::query(format!("reading the character set of {database}"), e))?;
    Ok(rows.pop().map(|mut r| (text(&mut r, 0), text(&mut r, 1))))
}

/// One row of `SHOW INDEX`.
struct IndexPart {
    non_unique: bool,
    key_name: String,
    column: Option<String>,
    nullable: bool,
}

/// The columns of the first unique key whose columns are all NOT NULL.
fn first_not_null_unique_key(parts: impl Iterator<Item = IndexPart>) -> Vec<String> {
    let mut keys: Vec<(String, Option<Vec<String>>)> = Vec::new();
    for p in parts {
        if p.non_unique {
            continue;
        }
        if keys.last().is_none_or(|(name, _)| *name != p.key_name) {
            keys.push((p.key_name.clone(), Some(Vec::new())));
        }
        let entry = &mut keys.last_mut().expect("pushed above").1;
        match (&p.column, p.nullable) {
            (Some(column), false) => {
                if let Some(columns) = entry {
                    columns.push(column.clone());
                }
            }
            // A nullable or functional key part disqualifies the key.
            _ => *entry = None,
        }
    }
    keys.into_iter()
        .find_map(|(_, columns)| columns.filter(|c| !c.is_empty()))
        .unwrap_or_default()
}

/// Takes column `i` of a row as text, whatever type the protocol gave it.
fn text(row: &mut mysql_async::Row, i: usize) -> Option<String> {
    value_text(row.take::<mysql_async::Value, usize>(i)?)
}

fn named_text(row: &mut mysql_async::Row, name: &str) -> Option<String> {
    value_text(row.take::<mysql_async::Value, &str>(name)?)
}

fn value_text(value: mysql_async::Value) -> Option<String> {
    match value {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        mysql_async::Value::Int(i) => Some(i.to_string()),
        mysql_async::Value::UInt(u) => Some(u.to_string()),
        other => Some(other.as_sql(true)),
    }
}

/// An identifier in backticks with backticks doubled (for statements run here).
fn quote_escaped(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_not_null_unique_key_stands_in_for_a_missing_primary_key() {
        let part = |non_unique, key: &str, column: &str, nullable| IndexPart {
            non_unique,
            key_name: key.into(),
            column: Some(column.into()),
            nullable,
        };
        let key = first_not_null_unique_key(
            vec![
                part(false, "u_null", "a", true),
                part(true, "plain", "b", false),
                part(false, "u2", "c", false),
                part(false, "u2", "d", false),
                part(false, "u3", "e", false),
            ]
            .into_iter(),
        );
        assert_eq!(key, vec!["c", "d"]);
        assert!(
            first_not_null_unique_key(vec![part(false, "u", "a", true)].into_iter()).is_empty()
        );
    }
}
