//! The MySQL and MariaDB source: the binlog read as a replica.
//!
//! ```text
//!  information_schema ──> preflight (log_bin, ROW, FULL, privileges, server_id)
//!                          │
//!  snapshot: START TRANSACTION WITH CONSISTENT SNAPSHOT ──> binlog file:pos of the snapshot
//!            SELECT each table (op "r")                      │
//!                                                            ▼
//!  COM_BINLOG_DUMP from that position (or the committed offset)
//!    GTID/BEGIN ─ TABLE_MAP ─ WRITE/UPDATE/DELETE_ROWS ─ XID ──> ChangeEvents
//! ```
//!
//! **Snapshot.** MariaDB reports the binlog position of a consistent-snapshot transaction
//! without locks; MySQL takes a brief global read lock (`snapshot.locking.mode`). Streaming
//! starts exactly at that position.
//!
//! **Positions.** A change is `(binlog file, transaction start, row index)`; the offset
//! keeps the file and position to resume from plus the GTID position. After a restart in
//! the middle of a transaction, reading starts at the transaction and the rows already
//! committed are skipped. A purged binlog is an error that names the fix.
//!
//! **Schemas** come from `information_schema` and are read again after DDL in the binlog.
//!
//! **Decoding** of binlog bytes is pure ([`decode`]: no I/O, no async): event bodies go in,
//! table maps, rows, GTIDs and values come out, so unit tests and the fuzz targets feed it
//! bytes.
//!
//! # Layers
//!
//! A module uses only modules of the layers above its own (tests aside):
//!
//! 1. `error`, `tls`, [`source_info`] (the Debezium source block, timestamps)
//! 2. [`config`]
//! 3. [`decode`]: binlog bytes to values, pure, layered inside (see its doc)
//! 4. [`position`] (a binlog place with its parsed GTID set), [`table`] (what the catalog
//!    says about a table, as plain data)
//! 5. [`schema_change`] (renders Debezium's schema-change records), [`history`] (the
//!    durable schema history)
//! 6. [`ddl`] (classifies streamed statements), [`catalog`] (queries against
//!    `information_schema`), [`connection`], [`preflight`]
//! 7. [`schema`] (captured tables: their Connect schemas and row decoders)
//! 8. [`snapshot`], [`replication`] (streaming)
//! 9. `source` (runs them)

pub mod catalog;
pub mod config;
pub mod connection;
pub mod ddl;
pub mod decode;
pub mod error;
pub mod history;
pub mod position;
pub mod preflight;
pub mod replication;
pub mod schema;
pub mod schema_change;
pub mod snapshot;
mod source;
pub mod source_info;
pub mod table;
pub mod tls;

pub use config::MysqlConfig;
pub use error::{ErrorClass, MysqlError};
pub use source::MysqlSource;
