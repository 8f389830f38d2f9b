//! Change events: what a source emits for every committed insert, update, delete and
//! truncate, and for every row a snapshot reads.

use crate::position::Position;
use crate::schema::{ConnectSchema, TableSchema};
use crate::value::{Row, Value};
use std::sync::Arc;

/// Debezium's operation codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `r`: a row read by a snapshot.
    Read,
    /// `c`: an insert.
    Create,
    /// `u`: an update.
    Update,
    /// `d`: a delete.
    Delete,
    /// `t`: a truncate of the whole table.
    Truncate,
}

impl Op {
    /// The one-letter code in the envelope's `op` field.
    pub fn code(self) -> &'static str {
        match self {
            Op::Read => "r",
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
        }
    }

    /// Parses a code as used in `skipped.operations`.
    pub fn from_code(code: &str) -> Option<Op> {
        match code {
            "r" => Some(Op::Read),
            "c" => Some(Op::Create),
            "u" => Some(Op::Update),
            "d" => Some(Op::Delete),
            "t" => Some(Op::Truncate),
            _ => None,
        }
    }
}

/// Values of Debezium's `source.snapshot` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotMarker {
    False,
    True,
    First,
    FirstInDataCollection,
    LastInDataCollection,
    Last,
}

impl SnapshotMarker {
    /// The text Debezium writes.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::False => "false",
            SnapshotMarker::True => "true",
            SnapshotMarker::First => "first",
            SnapshotMarker::FirstInDataCollection => "first_in_data_collection",
            SnapshotMarker::LastInDataCollection => "last_in_data_collection",
            SnapshotMarker::Last => "last",
        }
    }

    /// The schema of the `snapshot` field of Debezium's source blocks.
    pub fn schema() -> ConnectSchema {
        ConnectSchema::new(crate::schema::ConnectType::String)
            .optional(true)
            .named("io.debezium.data.Enum")
            .version(1)
            .param(
                "allowed",
                "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
            )
            .default_value(Value::String("false".to_string()))
    }

    /// The marker of one snapshot row, from where it sits: Debezium marks the very last row
    /// `last`, the very first `first`, and otherwise the last and first row of each table.
    pub fn for_row(
        first_overall: bool,
        first_in_table: bool,
        last_in_table: bool,
        last_overall: bool,
    ) -> Self {
        if last_overall {
            SnapshotMarker::Last
        } else if first_overall {
            SnapshotMarker::First
        } else if last_in_table {
            SnapshotMarker::LastInDataCollection
        } else if first_in_table {
            SnapshotMarker::FirstInDataCollection
        } else {
            SnapshotMarker::True
        }
    }
}

/// The `source` block of an event: a struct whose schema belongs to the connector kind
/// (Debezium's PostgreSQL and MySQL connectors each have their own fields).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// Struct schema of the block; shared by every event of a connector.
    pub schema: Arc<ConnectSchema>,
    /// One value per field of `schema`.
    pub values: Vec<Value>,
}

/// One change to one row (or, for truncate, to one table).
///
/// `before` is the old row for updates and deletes as far as the table's replica identity
/// sends it: the full row, only the key columns (the others `Null`), or nothing. `after` is
/// the new row for reads, inserts and updates; columns the database did not send (unchanged
/// TOAST) are [`Value::Unavailable`].
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeEvent {
    pub table: Arc<TableSchema>,
    pub op: Op,
    pub before: Option<Row>,
    pub after: Option<Row>,
    pub source: SourceInfo,
    /// Where the change sits in the source's log.
    pub position: Position,
    /// When the connector processed the event, microseconds since the epoch.
    pub ts_us: i64,
}

impl ChangeEvent {
    /// The row the event's key is taken from: `after` for reads, inserts and updates,
    /// `before` for deletes.
    pub fn key_row(&self) -> Option<&Row> {
        match self.op {
            Op::Delete => self.before.as_ref(),
            Op::Truncate => None,
            _ => self.after.as_ref().or(self.before.as_ref()),
        }
    }
}
