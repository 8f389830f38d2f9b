//! The `source` block of MySQL and MariaDB events, as Debezium's binlog connectors write it.

use spillway_core::schema::{ConnectSchema, ConnectType, Field};
pub use spillway_core::SnapshotMarker;
use spillway_core::{SourceInfo, Value};
use std::sync::Arc;

/// The `version` the source block reports.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-spillway");

/// The struct schema of the block (`io.debezium.connector.mysql.Source`).
pub fn source_schema(connector: &str) -> Arc<ConnectSchema> {
    let s = ConnectSchema::new;
    let string = || s(ConnectType::String);
    let opt_string = || s(ConnectType::String).optional(true);
    let opt_i64 = || s(ConnectType::Int64).optional(true);
    Arc::new(
        s(ConnectType::Struct(vec![
            Field::new("version", string()),
            Field::new("connector", string()),
            Field::new("name", string()),
            Field::new("ts_ms", s(ConnectType::Int64)),
            Field::new("snapshot", SnapshotMarker::schema()),
            Field::new("db", string()),
            Field::new("sequence", opt_string()),
            Field::new("ts_us", opt_i64()),
            Field::new("ts_ns", opt_i64()),
            Field::new("table", opt_string()),
            Field::new("server_id", s(ConnectType::Int64)),
            Field::new("gtid", opt_string()),
            Field::new("file", string()),
            Field::new("pos", s(ConnectType::Int64)),
            Field::new("row", s(ConnectType::Int32)),
            Field::new("thread", opt_i64()),
            Field::new("query", opt_string()),
        ]))
        .named(format!("io.debezium.connector.{connector}.Source"))
        .version(1),
    )
}

/// Everything the block says about one event.
pub struct SourceFields<'a> {
    pub connector: &'a str,
    pub server_name: &'a str,
    pub db: &'a str,
    pub table: Option<&'a str>,
    /// Event time (the binlog event's timestamp, or the snapshot's read time), microseconds.
    pub ts_us: i64,
    pub snapshot: SnapshotMarker,
    pub server_id: u32,
    pub gtid: Option<&'a str>,
    pub file: &'a str,
    pub pos: u64,
    pub row: u32,
    pub thread: Option<u64>,
}

/// Builds the block for one event.
pub fn source_info(schema: &Arc<ConnectSchema>, f: SourceFields<'_>) -> SourceInfo {
    let opt_str = |v: Option<&str>| v.map_or(Value::Null, |s| Value::String(s.to_string()));
    SourceInfo {
        schema: schema.clone(),
        values: vec![
            Value::String(VERSION.to_string()),
            Value::String(f.connector.to_string()),
            Value::String(f.server_name.to_string()),
            Value::Int(f.ts_us.div_euclid(1000)),
            Value::String(f.snapshot.as_str().to_string()),
            Value::String(f.db.to_string()),
            Value::Null,
            Value::Int(f.ts_us),
            Value::Int(f.ts_us.saturating_mul(1000)),
            opt_str(f.table),
            Value::Int(i64::from(f.server_id)),
            opt_str(f.gtid),
            Value::String(f.file.to_string()),
            Value::Int(f.pos as i64),
            Value::Int(i64::from(f.row)),
            f.thread.map_or(Value::Null, |t| Value::Int(t as i64)),
            Value::Null,
        ],
    }
}

pub use spillway_core::connector::now_us;
