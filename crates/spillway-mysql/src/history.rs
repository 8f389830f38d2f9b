//! The schema history: table definitions as of each DDL read from the binlog, kept durably
//! beside the offsets, so a restart decodes the rows that follow its position with the
//! definitions they were written with, also when the tables were altered while stopped.
//!
//! One JSON object per line of the connector's `schema-history` state log (a file beside
//! the offsets, or a Kafka topic): the binlog place after the statement, the statement, and
//! the definitions it produced or the tables it dropped. A line is durable before the
//! statement's position can be committed; a torn last line (a crash while writing it) is
//! ignored, as its statement is read again from the binlog.

use crate::error::MysqlError;
use crate::position::{file_sequence, BinlogPosition};
use crate::table::{RawTable, TableId};
use serde::{Deserialize, Serialize};
use spillway_core::state::StateLog;
use std::collections::HashMap;
use tracing::{info, warn};

/// The name of the history's state log.
pub const LOG_NAME: &str = "schema-history";

/// One history line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The binlog place right after the statement.
    pub position: BinlogPosition,
    /// The statement, or `snapshot` for the definitions read when capture started.
    pub ddl: String,
    /// Definitions as they are after the statement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<RawTable>,
    /// Tables the statement removed (or renamed away).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<(String, String)>,
}

/// The history of one connector: where it is kept and the definitions as of the last
/// entry read.
pub struct SchemaHistory {
    log: Option<Box<dyn StateLog>>,
    tables: HashMap<TableId, RawTable>,
}

fn order(p: &BinlogPosition) -> (u64, u64) {
    (file_sequence(&p.file), p.pos)
}

impl SchemaHistory {
    /// A history kept in memory only.
    pub fn in_memory() -> Self {
        SchemaHistory {
            log: None,
            tables: HashMap::new(),
        }
    }

    /// Opens the history kept in `log` and applies its entries up to `upto` (everything
    /// when `None`). Entries after `upto` describe statements that will be read again, and
    /// are removed.
    pub fn open(
        mut log: Box<dyn StateLog>,
        upto: Option<&BinlogPosition>,
    ) -> Result<Self, MysqlError> {
        let where_ = log.describe();
        let fail = |detail: String| MysqlError::History {
            path: where_.clone(),
            detail,
        };
        let lines = log.read().map_err(fail)?;
        let mut kept: Vec<String> = Vec::new();
        let mut tables = HashMap::new();
        let mut dropped_later = 0usize;
        let mut torn = false;
        let count = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            let entry: Entry = match serde_json::from_str(&line) {
                Ok(e) => e,
                Err(_) if i + 1 == count => {
                    warn!(history = %where_, "ignoring a torn last line of the schema history");
                    torn = true;
                    break;
                }
                Err(e) => return Err(fail(format!("line {} is not a history entry: {e}", i + 1))),
            };
            if upto.is_some_and(|u| order(&entry.position) > order(u)) {
                dropped_later += 1;
                continue;
            }
            apply(&mut tables, &entry);
            kept.push(line);
        }
        // Rewrite what is kept, so appends follow the last applied entry.
        if torn || dropped_later > 0 {
            log.replace(&kept).map_err(fail)?;
        }
        if !kept.is_empty() || dropped_later > 0 {
            info!(
                entries = kept.len(),
                after_position = dropped_later,
                tables = tables.len(),
                "schema history loaded"
            );
        }
        Ok(SchemaHistory {
            log: Some(log),
            tables,
        })
    }

    /// Starts the history afresh (a new snapshot) with `entry`.
    pub fn reset(&mut self, entry: Entry) -> Result<(), MysqlError> {
        self.tables.clear();
        if let Some(log) = self.log.as_mut() {
            log.replace(&[]).map_err(|detail| MysqlError::History {
                path: log.describe(),
                detail,
            })?;
        }
        self.record(entry)
    }

    /// Appends `entry` durably and applies it.
    pub fn record(&mut self, entry: Entry) -> Result<(), MysqlError> {
        if let Some(log) = self.log.as_mut() {
            let line = serde_json::to_string(&entry).map_err(|e| MysqlError::History {
                path: log.describe(),
                detail: e.to_string(),
            })?;
            log.append(&line).map_err(|detail| MysqlError::History {
                path: log.describe(),
                detail,
            })?;
        }
        apply(&mut self.tables, &entry);
        Ok(())
    }

    /// A table's definition as of the last entry, if the history has it.
    pub fn table(&self, id: &TableId) -> Option<&RawTable> {
        self.tables.get(id)
    }

    /// The tables of `database` the history knows.
    pub fn tables_of<'a>(&'a self, database: &'a str) -> impl Iterator<Item = &'a TableId> + 'a {
        self.tables.keys().filter(move |id| id.database == database)
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

fn apply(tables: &mut HashMap<TableId, RawTable>, entry: &Entry) {
    for (database, table) in &entry.dropped {
        tables.remove(&TableId {
            database: database.clone(),
            table: table.clone(),
        });
    }
    for t in &entry.tables {
        tables.insert(
            TableId {
                database: t.database.clone(),
                table: t.table.clone(),
            },
            t.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spillway_core::state::{FileStateStore, StateStore};

    fn log(dir: &std::path::Path) -> Box<dyn StateLog> {
        FileStateStore::new(dir).open(LOG_NAME).unwrap()
    }

    fn table(name: &str, columns: &[&str]) -> RawTable {
        RawTable {
            database: "d".into(),
            table: name.into(),
            mariadb: true,
            collation: None,
            comment: None,
            columns: columns
                .iter()
                .map(|c| crate::table::RawColumn {
                    name: c.to_string(),
                    ..Default::default()
                })
                .collect(),
            primary_key: Vec::new(),
        }
    }

    fn at(pos: u64) -> BinlogPosition {
        BinlogPosition {
            file: "b.000001".into(),
            pos,
            gtid: None,
        }
    }

    fn id(t: &str) -> TableId {
        TableId {
            database: "d".into(),
            table: t.into(),
        }
    }

    #[test]
    fn reopening_at_a_position_gives_the_definitions_of_that_position() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = SchemaHistory::open(log(dir.path()), None).unwrap();
        h.reset(Entry {
            position: at(100),
            ddl: "snapshot".into(),
            tables: vec![table("t", &["a"])],
            dropped: vec![],
        })
        .unwrap();
        h.record(Entry {
            position: at(200),
            ddl: "ALTER TABLE t ADD b int".into(),
            tables: vec![table("t", &["a", "b"])],
            dropped: vec![],
        })
        .unwrap();
        h.record(Entry {
            position: at(300),
            ddl: "DROP TABLE t".into(),
            tables: vec![],
            dropped: vec![("d".into(), "t".into())],
        })
        .unwrap();
        drop(h);

        let h = SchemaHistory::open(log(dir.path()), Some(&at(250))).unwrap();
        assert_eq!(h.table(&id("t")).unwrap().columns.len(), 2);
        drop(h);
        // The entry after 250 was removed: reading everything now ends at the ALTER.
        let h = SchemaHistory::open(log(dir.path()), None).unwrap();
        assert_eq!(h.table(&id("t")).unwrap().columns.len(), 2);
        let h = SchemaHistory::open(log(dir.path()), Some(&at(150))).unwrap();
        assert_eq!(h.table(&id("t")).unwrap().columns.len(), 1);
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_a_corrupt_one_before_it_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = SchemaHistory::open(log(dir.path()), None).unwrap();
        h.record(Entry {
            position: at(100),
            ddl: "snapshot".into(),
            tables: vec![table("t", &["a"])],
            dropped: vec![],
        })
        .unwrap();
        drop(h);
        let path = dir.path().join(format!("{LOG_NAME}.jsonl"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"position\":{\"fi");
        std::fs::write(&path, &text).unwrap();
        let h = SchemaHistory::open(log(dir.path()), None).unwrap();
        assert!(h.table(&id("t")).is_some());
        drop(h);
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        let err = SchemaHistory::open(log(dir.path()), None).err().unwrap();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
