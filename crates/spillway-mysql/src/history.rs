//! The schema history: table definitions as of each DDL read from the binlog, kept durably
//! beside the offsets, so a restart decodes the rows that follow its position with the
//! definitions they were written with, also when the tables were altered while stopped.
//!
//! One JSON object per line in `<state dir>/schema-history.jsonl`: the binlog place after
//! the statement, the statement, and the definitions it produced or the tables it dropped.
//! A line is fsynced before the statement's position can be committed; a torn last line
//! (a crash while writing it) is ignored, as its statement is read again from the binlog.

use crate::error::MysqlError;
use crate::position::{file_sequence, BinlogPosition};
use crate::schema::TableId;
use crate::schema_change::RawTable;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use tracing::{info, warn};

const FILE_NAME: &str = "schema-history.jsonl";

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

/// The history of one connector: the file and the definitions as of the last entry read.
pub struct SchemaHistory {
    path: Option<PathBuf>,
    file: Option<File>,
    tables: HashMap<TableId, RawTable>,
}

fn order(p: &BinlogPosition) -> (u64, u64) {
    (file_sequence(&p.file), p.pos)
}

impl SchemaHistory {
    /// A history kept in memory only.
    pub fn in_memory() -> Self {
        SchemaHistory {
            path: None,
            file: None,
            tables: HashMap::new(),
        }
    }

    /// Opens the history in `dir` and applies its entries up to `upto` (everything when
    /// `None`). Entries after `upto` describe statements that will be read again, and are
    /// removed from the file.
    pub fn open(dir: &Path, upto: Option<&BinlogPosition>) -> Result<Self, MysqlError> {
        let io = |e: std::io::Error, what: &str| MysqlError::History {
            path: dir.join(FILE_NAME).display().to_string(),
            detail: format!("{what}: {e}"),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(e, "cannot create the directory"))?;
        let path = dir.join(FILE_NAME);
        let mut kept: Vec<String> = Vec::new();
        let mut tables = HashMap::new();
        let mut dropped_later = 0usize;
        match File::open(&path) {
            Ok(f) => {
                let lines: Vec<String> = BufReader::new(f)
                    .lines()
                    .collect::<Result<_, _>>()
                    .map_err(|e| io(e, "cannot read"))?;
                let count = lines.len();
                for (i, line) in lines.into_iter().enumerate() {
                    let entry: Entry = match serde_json::from_str(&line) {
                        Ok(e) => e,
                        Err(_) if i + 1 == count => {
                            warn!(path = %path.display(), "ignoring a torn last line of the schema history");
                            break;
                        }
                        Err(e) => {
                            return Err(MysqlError::History {
                                path: path.display().to_string(),
                                detail: format!("line {} is not a history entry: {e}", i + 1),
                            })
                        }
                    };
                    if upto.is_some_and(|u| order(&entry.position) > order(u)) {
                        dropped_later += 1;
                        continue;
                    }
                    apply(&mut tables, &entry);
                    kept.push(line);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e, "cannot open")),
        }
        // Rewrite what is kept (atomically), so appends follow the last applied entry.
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        {
            let mut f = File::create(&tmp).map_err(|e| io(e, "cannot write"))?;
            for line in &kept {
                writeln!(f, "{line}").map_err(|e| io(e, "cannot write"))?;
            }
            f.sync_all().map_err(|e| io(e, "cannot sync"))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io(e, "cannot replace"))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        if !kept.is_empty() || dropped_later > 0 {
            info!(
                entries = kept.len(),
                after_position = dropped_later,
                tables = tables.len(),
                "schema history loaded"
            );
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io(e, "cannot open for appending"))?;
        Ok(SchemaHistory {
            path: Some(path),
            file: Some(file),
            tables,
        })
    }

    /// Starts the history afresh (a new snapshot) with `entry`.
    pub fn reset(&mut self, entry: Entry) -> Result<(), MysqlError> {
        self.tables.clear();
        if let Some(path) = &self.path {
            let file = File::create(path).map_err(|e| MysqlError::History {
                path: path.display().to_string(),
                detail: format!("cannot truncate: {e}"),
            })?;
            // Written from the start on: this handle is the history's only writer.
            self.file = Some(file);
        }
        self.record(entry)
    }

    /// Appends `entry` durably and applies it.
    pub fn record(&mut self, entry: Entry) -> Result<(), MysqlError> {
        if let (Some(file), Some(path)) = (self.file.as_mut(), self.path.as_ref()) {
            let mut line = serde_json::to_vec(&entry).map_err(|e| MysqlError::History {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
            line.push(b'\n');
            file.write_all(&line)
                .and_then(|_| file.sync_data())
                .map_err(|e| MysqlError::History {
                    path: path.display().to_string(),
                    detail: format!("cannot append: {e}"),
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

    fn table(name: &str, columns: &[&str]) -> RawTable {
        RawTable {
            database: "d".into(),
            table: name.into(),
            mariadb: true,
            collation: None,
            comment: None,
            columns: columns
                .iter()
                .map(|c| crate::schema_change::RawColumn {
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
        let mut h = SchemaHistory::open(dir.path(), None).unwrap();
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

        let h = SchemaHistory::open(dir.path(), Some(&at(250))).unwrap();
        assert_eq!(h.table(&id("t")).unwrap().columns.len(), 2);
        drop(h);
        // The entry after 250 was removed: reading everything now ends at the ALTER.
        let h = SchemaHistory::open(dir.path(), None).unwrap();
        assert_eq!(h.table(&id("t")).unwrap().columns.len(), 2);
        let h = SchemaHistory::open(dir.path(), Some(&at(150))).unwrap();
        assert_eq!(h.table(&id("t")).unwrap().columns.len(), 1);
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_a_corrupt_one_before_it_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = SchemaHistory::open(dir.path(), None).unwrap();
        h.record(Entry {
            position: at(100),
            ddl: "snapshot".into(),
            tables: vec![table("t", &["a"])],
            dropped: vec![],
        })
        .unwrap();
        drop(h);
        let path = dir.path().join(FILE_NAME);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"position\":{\"fi");
        std::fs::write(&path, &text).unwrap();
        let h = SchemaHistory::open(dir.path(), None).unwrap();
        assert!(h.table(&id("t")).is_some());
        drop(h);
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        let err = SchemaHistory::open(dir.path(), None).err().unwrap();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
