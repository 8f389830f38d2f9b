//! Binlog bytes to values, with no I/O: every function here takes a byte slice (an event
//! body, a row image, a GTID's text) and returns a value or an error naming what is wrong.
//! Unit tests and the fuzz targets feed it bytes; [`crate::replication`] feeds it the
//! events mysql_async's binlog stream yields.
//!
//! ```text
//!  event body ─┬─ TABLE_MAP ──────> table_map::TableMap     (column kinds and metadata)
//!              ├─ *_ROWS ─────────> rows::RowsEvent ─ changes(RowContext) ─> rows::Change
//!              │                      each value: value (ColumnKind + column_type::MyType)
//!              │                        └ decimal, temporal, json, charset
//!              ├─ *_COMPRESSED, TRANSACTION_PAYLOAD ─> compressed (then as the plain ones)
//!              ├─ GTID, GTID_LIST, ... (MariaDB) ──> mariadb_events
//!              └─ ROTATE, header, CRC32 ──────────> event
//!  GTID text ──────> gtid (MySQL uuid:interval sets, MariaDB domain-server-seq lists)
//! ```
//!
//! Layers, each file using only files of the layers above its own (tests aside):
//!
//! 1. `error`, `charset`, [`gtid`]
//! 2. `cursor` (byte reading), [`column_kind`], [`column_type`]
//! 3. `decimal`, `temporal`, [`event`]
//! 4. `json`, [`table_map`], [`mariadb_events`]
//! 5. `value` (one column value)
//! 6. [`rows`]
//! 7. [`compressed`]

pub mod column_kind;
pub mod column_type;
pub mod compressed;
pub mod event;
pub mod gtid;
pub mod mariadb_events;
pub mod rows;
pub mod table_map;

mod charset;
mod cursor;
mod decimal;
mod error;
mod json;
mod temporal;
mod value;

#[cfg(test)]
mod fixtures;

pub use column_kind::ColumnKind;
pub use column_type::{ColumnDecoder, MyType};
pub use error::{DecodeError, RowsError};
pub use rows::{Change, RowContext, RowsEvent, RowsKind};
pub use table_map::TableMap;
