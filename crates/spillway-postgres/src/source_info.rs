//! The `source` block of PostgreSQL events, as Debezium's PostgreSQL connector writes it.

use spillway_core::schema::{ConnectSchema, ConnectType, Field};
pub use spillway_core::SnapshotMarker;
use spillway_core::{SourceInfo, Value};
use std::sync::Arc;

/// The `version` the source block reports.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-spillway");

/// The struct schema of the block (`io.debezium.connector.postgresql.Source`).
pub fn source_schema() -> Arc<ConnectSchema> {
    let s = ConnectSchema::new;
    let string = || s(ConnectType::String);
    let opt_i64 = || s(ConnectType::Int64).optional(true);
    Arc::new(
        s(ConnectType::Struct(vec![
            Field::new("version", string()),
            Field::new("connector", string()),
            Field::new("name", string()),
            Field::new("ts_ms", s(ConnectType::Int64)),
            Field::new("snapshot", SnapshotMarker::schema()),
            Field::new("db", string()),
            Field::new("sequence", string().optional(true)),
            Field::new("ts_us", opt_i64()),
            Field::new("ts_ns", opt_i64()),
            Field::new("schema", string()),
            Field::new("table", string()),
            Field::new("txId", opt_i64()),
            Field::new("lsn", opt_i64()),
            Field::new("xmin", opt_i64()),
            Field::new("origin", string().optional(true)),
            Field::new("origin_lsn", opt_i64()),
        ]))
        .named("io.debezium.connector.postgresql.Source")
        .version(1),
    )
}

/// Everything the block says about one event.
pub struct SourceFields<'a> {
    pub server_name: &'a str,
    pub db: &'a str,
    pub schema: &'a str,
    pub table: &'a str,
    /// Commit time (streaming) or read time (snapshot), microseconds since the epoch.
    pub ts_us: i64,
    pub snapshot: SnapshotMarker,
    pub tx_id: Option<i64>,
    pub lsn: Option<u64>,
    /// LSN of the last commit before this event, for `sequence`.
    pub last_commit_lsn: Option<u64>,
}

/// Builds the block for one event.
pub fn source_info(schema: &Arc<ConnectSchema>, f: SourceFields<'_>) -> SourceInfo {
    let opt_int = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
    let sequence = match f.lsn {
        Some(lsn) => {
            let last = f
                .last_commit_lsn
                .map_or("null".to_string(), |l| format!("\"{l}\""));
            Value::String(format!("[{last},\"{lsn}\"]"))
        }
        None => Value::Null,
    };
    SourceInfo {
        schema: schema.clone(),
        values: vec![
            Value::String(VERSION.to_string()),
            Value::String("postgresql".to_string()),
            Value::String(f.server_name.to_string()),
            Value::Int(f.ts_us.div_euclid(1000)),
            Value::String(f.snapshot.as_str().to_string()),
            Value::String(f.db.to_string()),
            sequence,
            Value::Int(f.ts_us),
            Value::Int(f.ts_us.saturating_mul(1000)),
            Value::String(f.schema.to_string()),
            Value::String(f.table.to_string()),
            opt_int(f.tx_id),
            opt_int(f.lsn.map(|l| l as i64)),
            Value::Null,
            Value::Null,
            Value::Null,
        ],
    }
}
