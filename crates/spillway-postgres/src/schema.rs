//! Catalog look-ups: which tables are captured, their columns, keys and types, and the
//! [`TableSchema`]s built from them.

use crate::config::{PostgresConfig, TypeOptions};
use crate::error::PostgresError;
use crate::types::{PgType, Unsupported};
use spillway_core::filter::NameFilter;
use spillway_core::schema::{Column, TableSchema};
use spillway_core::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_postgres::Client;

/// A table the catalog lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `d` default, `n` nothing, `f` full, `i` index.
    pub replica_identity: char,
    pub has_primary_key: bool,
}

impl TableInfo {
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// A column as the catalog or a relation message describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
    pub not_null: bool,
    /// The column's default expression (`pg_get_expr` of `pg_attrdef`), if any.
    pub default_expr: Option<String>,
}

/// How to decode one column of a captured table.
#[derive(Clone, Debug)]
pub struct ColumnDecoder {
    pub pg_type: PgType,
    /// Whether the column passes `column.include.list`/`exclude.list`.
    pub included: bool,
}

/// A captured table's schema plus what decoding its tuples needs.
#[derive(Clone, Debug)]
pub struct CapturedTable {
    pub schema: Arc<TableSchema>,
    /// One per column of the relation (including excluded columns, in relation order).
    pub decoders: Vec<ColumnDecoder>,
}

/// Whether a table is captured under the schema and table filters.
pub fn table_selected(config: &PostgresConfig, schema: &str, table: &str) -> bool {
    !is_system_schema(schema)
        && config.common.containers.matches(schema)
        && config.common.tables.matches(&format!("{schema}.{table}"))
}

fn is_system_schema(schema: &str) -> bool {
    schema == "pg_catalog"
        || schema == "information_schema"
        || schema.starts_with("pg_toast")
        || schema.starts_with("pg_temp")
}

/// Lists all user tables of the database (ordinary and partitioned), sorted by name.
pub async fn list_tables(client: &Client) -> Result<Vec<TableInfo>, PostgresError> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname, c.relname, c.relreplident::text,
                    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
                AND NOT c.relispartition
              ORDER BY n.nspname, c.relname",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("listing tables", e))?;
    Ok(rows
        .iter()
        .map(|r| TableInfo {
            oid: r.get(0),
            schema: r.get(1),
            name: r.get(2),
            replica_identity: r.get::<_, String>(3).chars().next().unwrap_or('d'),
            has_primary_key: r.get(4),
        })
        .collect())
}

/// The tables selected by the filters.
pub async fn selected_tables(
    client: &Client,
    config: &PostgresConfig,
) -> Result<(Vec<TableInfo>, Vec<TableInfo>), PostgresError> {
    let all = list_tables(client).await?;
    let mut selected: Vec<TableInfo> = all
        .iter()
        .filter(|t| table_selected(config, &t.schema, &t.name))
        .cloned()
        .collect();
    // Tables are snapshotted in the order the include list names them (stable, so tables
    // matched by one pattern stay sorted by name).
    selected.sort_by_key(|t| config.common.tables.include_rank(&t.qualified()));
    Ok((selected, all))
}

/// Columns of a table from the catalog, in column order.
pub async fn table_columns(client: &Client, oid: u32) -> Result<Vec<ColumnInfo>, PostgresError> {
    let rows = client
        .query(
            "SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
               FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
            &[&oid],
        )
        .await
        .map_err(|e| PostgresError::query("reading columns", e))?;
    Ok(rows
        .iter()
        .map(|r| ColumnInfo {
            name: r.get(0),
            type_oid: r.get(1),
            type_modifier: r.get(2),
            not_null: r.get(3),
            default_expr: r.get(4),
        })
        .collect())
}

/// Primary key column names of a table, in key order.
pub async fn primary_key(client: &Client, oid: u32) -> Result<Vec<String>, PostgresError> {
    let rows = client
        .query(
            "SELECT a.attname
               FROM pg_index i
               JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = $1 AND i.indisprimary
              ORDER BY k.ord",
            &[&oid],
        )
        .await
        .map_err(|e| PostgresError::query("reading the primary key", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Resolves type OIDs to [`PgType`]s, asking the catalog for non-built-in types.
#[derive(Default)]
pub struct TypeResolver {
    cache: HashMap<u32, Result<PgTypeTemplate, Unsupported>>,
}

/// A catalog type before the column's modifier is applied.
#[derive(Clone, Debug)]
enum PgTypeTemplate {
    /// A built-in type: apply the column's typmod.
    Builtin(u32),
    Enum(Vec<String>),
    Ltree,
    Text,
    Domain {
        base: u32,
        typmod: i32,
    },
    Array(u32),
}

impl TypeResolver {
    /// The type of a column with type `oid` and modifier `typmod`.
    pub async fn resolve(
        &mut self,
        client: &Client,
        oid: u32,
        typmod: i32,
    ) -> Result<Result<PgType, Unsupported>, PostgresError> {
        let mut oid = oid;
        let mut typmod = typmod;
        // Domains over domains are resolved step by step (bounded against cycles).
        for _ in 0..16 {
            if let Some(t) = PgType::builtin(oid, typmod) {
                return Ok(Ok(t));
            }
            let template = self.template(client, oid).await?;
            return Ok(match template {
                Err(u) => Err(u),
                Ok(PgTypeTemplate::Builtin(b)) => PgType::builtin(b, typmod).ok_or(Unsupported {
                    type_name: b.to_string(),
                }),
                Ok(PgTypeTemplate::Enum(labels)) => Ok(PgType::Enum { labels }),
                Ok(PgTypeTemplate::Ltree) => Ok(PgType::Ltree),
                Ok(PgTypeTemplate::Text) => Ok(PgType::Text),
                Ok(PgTypeTemplate::Domain { base, typmod: t }) => {
                    oid = base;
                    typmod = if t >= 0 { t } else { typmod };
                    continue;
                }
                Ok(PgTypeTemplate::Array(element)) => {
                    match Box::pin(self.resolve(client, element, typmod)).await? {
                        Ok(PgType::Array(_)) => Err(Unsupported {
                            type_name: "nested array".to_string(),
                        }),
                        Ok(inner) => Ok(PgType::Array(Box::new(inner))),
                        Err(u) => Err(Unsupported {
                            type_name: format!("{}[]", u.type_name),
                        }),
                    }
                }
            });
        }
        Ok(Err(Unsupported {
            type_name: format!("domain chain at oid {oid}"),
        }))
    }

    async fn template(
        &mut self,
        client: &Client,
        oid: u32,
    ) -> Result<Result<PgTypeTemplate, Unsupported>, PostgresError> {
        if let Some(t) = self.cache.get(&oid) {
            return Ok(t.clone());
        }
        let row = client
            .query_opt(
                "SELECT t.typname, t.typtype::text, t.typelem, t.typbasetype, t.typtypmod,
                        t.typcategory::text, t.typlen,
                        ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid
                              ORDER BY e.enumsortorder)
                   FROM pg_type t WHERE t.oid = $1",
                &[&oid],
            )
            .await
            .map_err(|e| PostgresError::query("reading a type", e))?;
        let template = match row {
            None => Err(Unsupported {
                type_name: format!("unknown type oid {oid}"),
            }),
            Some(r) => {
                let name: String = r.get(0);
                let typtype: String = r.get(1);
                let elem: u32 = r.get(2);
                let base: u32 = r.get(3);
                let base_typmod: i32 = r.get(4);
                let category: String = r.get(5);
                let typlen: i16 = r.get(6);
                let labels: Vec<String> = r.get(7);
                match (typtype.as_str(), category.as_str()) {
                    ("e", _) => Ok(PgTypeTemplate::Enum(labels)),
                    ("d", _) => Ok(PgTypeTemplate::Domain {
                        base,
                        typmod: base_typmod,
                    }),
                    ("r", _) | ("m", _) => Ok(PgTypeTemplate::Text),
                    (_, "A") if elem != 0 && typlen == -1 => Ok(PgTypeTemplate::Array(elem)),
                    ("b", _) if name == "ltree" => Ok(PgTypeTemplate::Ltree),
                    ("b", _) if name == "citext" => Ok(PgTypeTemplate::Text),
                    ("b", _) if PgType::builtin(oid, -1).is_some() => {
                        Ok(PgTypeTemplate::Builtin(oid))
                    }
                    _ => Err(Unsupported { type_name: name }),
                }
            }
        };
        self.cache.insert(oid, template.clone());
        Ok(template)
    }
}

/// Topic and schema-name part for a name, with characters Kafka and Avro refuse replaced.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Error for columns whose types cannot be captured.
pub fn unsupported_columns_error(
    table: &str,
    columns: Vec<(String, Unsupported)>,
) -> PostgresError {
    PostgresError::UnsupportedTypes {
        table: table.to_string(),
        columns: columns
            .into_iter()
            .map(|(c, u)| format!("{c} ({})", u.type_name))
            .collect(),
    }
}

/// Builds the schema of a captured table from its columns and primary key.
pub async fn build_table(
    client: &Client,
    resolver: &mut TypeResolver,
    config: &PostgresConfig,
    schema_name: &str,
    table_name: &str,
    columns: &[ColumnInfo],
    primary_key: &[String],
) -> Result<CapturedTable, PostgresError> {
    let mut decoders = Vec::with_capacity(columns.len());
    let mut out_columns = Vec::with_capacity(columns.len());
    let mut unsupported = Vec::new();
    let qualified = format!("{schema_name}.{table_name}");
    for column in columns {
        let included = column_selected(&config.common.columns, &qualified, &column.name)
            || primary_key.contains(&column.name);
        let pg_type = match resolver
            .resolve(client, column.type_oid, column.type_modifier)
            .await?
        {
            Ok(t) => t,
            Err(u) => {
                if included {
                    unsupported.push((column.name.clone(), u));
                }
                decoders.push(ColumnDecoder {
                    pg_type: PgType::Text,
                    included: false,
                });
                continue;
            }
        };
        if included {
            let in_key = primary_key.contains(&column.name);
            let mut schema = pg_type
                .schema(&config.types)
                .optional(!column.not_null && !in_key);
            if let Some(expr) = &column.default_expr {
                schema.default = column_default(&pg_type, expr, schema.optional, &config.types);
            }
            out_columns.push(Column {
                name: column.name.clone(),
                schema,
                type_name: format!("{:?}", pg_type),
            });
        }
        decoders.push(ColumnDecoder { pg_type, included });
    }
    if !unsupported.is_empty() {
        return Err(unsupported_columns_error(&qualified, unsupported));
    }
    let key = primary_key
        .iter()
        .filter_map(|k| out_columns.iter().position(|c| &c.name == k))
        .collect();
    let prefix = format!(
        "{}.{}.{}",
        config.common.topic_prefix,
        sanitize(schema_name),
        sanitize(table_name)
    );
    Ok(CapturedTable {
        schema: Arc::new(TableSchema {
            database: config.dbname.clone(),
            schema: Some(schema_name.to_string()),
            table: table_name.to_string(),
            columns: out_columns,
            key,
            topic: Arc::from(prefix.as_str()),
            schema_name: prefix,
        }),
        decoders,
    })
}

/// Whether a column passes the column filter (`schema.table.column`).
fn column_selected(filter: &NameFilter, qualified_table: &str, column: &str) -> bool {
    filter.is_empty() || filter.matches(&format!("{qualified_table}.{column}"))
}

/// The value of a column default as Debezium reports it: constants are decoded like column
/// values. A default that is not a constant (a sequence, `now()`, a function call) gives a
/// required column the type's fallback value, as Debezium's converters do, and an optional
/// column no default.
pub fn column_default(
    pg_type: &PgType,
    expr: &str,
    optional: bool,
    options: &TypeOptions,
) -> Option<Value> {
    match default_literal(expr.trim()) {
        Some(literal) if literal.eq_ignore_ascii_case("null") => None,
        Some(literal) => pg_type.decode_text(literal.as_bytes(), options).ok(),
        None if optional => None,
        // Debezium's schema default for time with time zone stays unset.
        None if matches!(pg_type, PgType::TimeTz { .. }) => None,
        None => fallback_value(pg_type, options),
    }
}

/// The value Debezium's converters substitute when a required column has no value (a
/// non-key column of a key-only old row, or a default that is not a constant).
pub fn fallback_value(pg_type: &PgType, options: &TypeOptions) -> Option<Value> {
    let zero = |text: &str| pg_type.decode_text(text.as_bytes(), options).ok();
    match pg_type {
        PgType::Int2 | PgType::Int4 | PgType::Int8 => Some(Value::Int(0)),
        PgType::Float4 | PgType::Float8 | PgType::Numeric { .. } => zero("0"),
        PgType::Money => zero("$0.00"),
        PgType::Bool | PgType::Bit1 => Some(Value::Bool(false)),
        PgType::Date => zero("1970-01-01"),
        PgType::Time { .. } => zero("00:00:00"),
        PgType::TimeTz { .. } => zero("00:00:00+00"),
        PgType::Timestamp { .. } => zero("1970-01-01 00:00:00"),
        PgType::TimestampTz { .. } => zero("1970-01-01 00:00:00+00"),
        PgType::Interval => zero("PT0S"),
        PgType::Uuid => Some(Value::String(
            "00000000-0000-0000-0000-000000000000".to_string(),
        )),
        PgType::Text => Some(Value::String(String::new())),
        _ => None,
    }
}

/// The literal text of a constant default: `'x'::text` → `x`, `(-1)` → `-1`, `42` → `42`.
fn default_literal(expr: &str) -> Option<String> {
    let mut e = expr.trim();
    while e.starts_with('(') && e.ends_with(')') {
        e = e[1..e.len() - 1].trim();
    }
    if let Some(rest) = e.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                let tail: String = chars.collect();
                let tail = tail.trim();
                // Only casts may follow the literal.
                return (tail.is_empty() || tail.starts_with("::")).then_some(out);
            }
            out.push(c);
        }
        return None;
    }
    let bare = match e.find("::") {
        Some(i) => e[..i].trim(),
        None => e,
    };
    let bare = bare.trim_start_matches('(').trim_end_matches(')');
    let is_constant = bare.eq_ignore_ascii_case("true")
        || bare.eq_ignore_ascii_case("false")
        || bare.eq_ignore_ascii_case("null")
        || (!bare.is_empty()
            && bare
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')));
    is_constant.then(|| bare.to_string())
}
