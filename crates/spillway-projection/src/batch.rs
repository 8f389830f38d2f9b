//! Folding a run of changes into what a table must do in one transaction.
//!
//! A projection keeps the latest row per key, so of all the changes one key sees in a
//! batch only the last counts: a later write replaces an earlier one, and a delete drops
//! what was written before it in the batch. What is left is applied as a few multi-row
//! statements per table. A delete followed by a write of the same key keeps both (the
//! delete first), so `insert.mode=insert` sees the row gone before it is inserted again.
//! Values the source did not send (unchanged TOAST) are taken from an earlier write of the
//! batch when there is one; else the table keeps what it has.

use crate::cell::Cell;
use crate::shape::Column;
use std::collections::HashMap;
use std::sync::Arc;

/// What one key ends up as in a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key's values, in the order of the table's key columns.
    pub key: Vec<Cell>,
    /// Whether the row is deleted before `write` (or, without a write, at all).
    pub delete: bool,
    /// The row as written last: its columns and values.
    pub write: Option<(Arc<[Column]>, Vec<Cell>)>,
}

/// The changes of one table in a batch.
#[derive(Debug, Default)]
pub struct TableChanges {
    /// Every row goes first.
    pub truncate: bool,
    /// Key columns, by name (as the table's key).
    pub key_columns: Vec<Column>,
    entries: HashMap<Vec<u8>, usize>,
    list: Vec<Entry>,
    /// Rows without a key (`primary.key.mode=none`), inserted in order.
    unkeyed: Vec<(Arc<[Column]>, Vec<Cell>)>,
}

impl TableChanges {
    /// The folded entries, in the order their keys were first seen.
    pub fn entries(&self) -> &[Entry] {
        &self.list
    }

    /// Rows written without a key, in order.
    pub fn unkeyed(&self) -> &[(Arc<[Column]>, Vec<Cell>)] {
        &self.unkeyed
    }

    /// Whether nothing is to be done.
    pub fn is_empty(&self) -> bool {
        !self.truncate && self.list.is_empty() && self.unkeyed.is_empty()
    }

    fn entry(&mut self, key: Vec<Cell>) -> &mut Entry {
        let mut bytes = Vec::with_capacity(16);
        for cell in &key {
            cell.encode_key(&mut bytes);
        }
        let list = &mut self.list;
        let index = *self.entries.entry(bytes).or_insert_with(|| {
            list.push(Entry {
                key,
                delete: false,
                write: None,
            });
            list.len() - 1
        });
        &mut self.list[index]
    }

    /// The row of `key` is now `cells`.
    pub fn write(&mut self, key: Vec<Cell>, columns: Arc<[Column]>, mut cells: Vec<Cell>) {
        let entry = self.entry(key);
        if let Some((old_columns, old_cells)) = &entry.write {
            for (i, cell) in cells.iter_mut().enumerate() {
                if *cell == Cell::Unavailable {
                    let name = &columns[i].name;
                    if let Some(j) = old_columns.iter().position(|c| &c.name == name) {
                        *cell = old_cells[j].clone();
                    }
                }
            }
        }
        entry.write = Some((columns, cells));
    }

    /// The row of `key` is gone.
    pub fn delete(&mut self, key: Vec<Cell>) {
        let entry = self.entry(key);
        entry.delete = true;
        entry.write = None;
    }

    /// A row without a key, to insert.
    pub fn insert_unkeyed(&mut self, columns: Arc<[Column]>, cells: Vec<Cell>) {
        self.unkeyed.push((columns, cells));
    }

    /// Every row is gone: what the batch did to the table before no longer matters.
    pub fn truncate(&mut self) {
        self.truncate = true;
        self.entries.clear();
        self.list.clear();
        self.unkeyed.clear();
    }
}

/// Changes of every table in a batch, in the order tables were first seen.
#[derive(Debug, Default)]
pub struct Batch {
    tables: Vec<(String, TableChanges)>,
    index: HashMap<String, usize>,
}

impl Batch {
    /// The changes of `table`, created empty with `key_columns` on first use.
    pub fn table(&mut self, table: &str, key_columns: &[Column]) -> &mut TableChanges {
        let index = match self.index.get(table) {
            Some(i) => *i,
            None => {
                self.tables.push((
                    table.to_string(),
                    TableChanges {
                        key_columns: key_columns.to_vec(),
                        ..TableChanges::default()
                    },
                ));
                self.index.insert(table.to_string(), self.tables.len() - 1);
                self.tables.len() - 1
            }
        };
        &mut self.tables[index].1
    }

    /// Tables and their changes.
    pub fn tables(&self) -> impl Iterator<Item = (&str, &TableChanges)> {
        self.tables.iter().map(|(n, c)| (n.as_str(), c))
    }

    /// Whether no table has anything to do.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(|(_, c)| c.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::ColumnType;

    fn columns(names: &[&str]) -> Arc<[Column]> {
        names
            .iter()
            .map(|n| Column {
                name: n.to_string(),
                ty: ColumnType::Text,
                optional: true,
            })
            .collect()
    }

    fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    #[test]
    fn the_last_change_of_each_key_wins() {
        let cols = columns(&["id", "v"]);
        let mut t = TableChanges::default();
        t.write(
            vec![Cell::Int(1)],
            cols.clone(),
            vec![Cell::Int(1), text("a")],
        );
        t.write(
            vec![Cell::Int(2)],
            cols.clone(),
            vec![Cell::Int(2), text("b")],
        );
        t.write(
            vec![Cell::Int(1)],
            cols.clone(),
            vec![Cell::Int(1), text("c")],
        );
        t.delete(vec![Cell::Int(2)]);
        t.delete(vec![Cell::Int(3)]);
        t.write(
            vec![Cell::Int(3)],
            cols.clone(),
            vec![Cell::Int(3), text("d")],
        );
        let got: Vec<(Vec<Cell>, bool, Option<Vec<Cell>>)> = t
            .entries()
            .iter()
            .map(|e| {
                (
                    e.key.clone(),
                    e.delete,
                    e.write.as_ref().map(|w| w.1.clone()),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    vec![Cell::Int(1)],
                    false,
                    Some(vec![Cell::Int(1), text("c")])
                ),
                (vec![Cell::Int(2)], true, None),
                (
                    vec![Cell::Int(3)],
                    true,
                    Some(vec![Cell::Int(3), text("d")])
                ),
            ]
        );
    }

    #[test]
    fn unavailable_values_come_from_an_earlier_write_of_the_batch() {
        let cols = columns(&["id", "big", "v"]);
        let mut t = TableChanges::default();
        t.write(
            vec![Cell::Int(1)],
            cols.clone(),
            vec![Cell::Int(1), text("long"), text("a")],
        );
        t.write(
            vec![Cell::Int(1)],
            cols.clone(),
            vec![Cell::Int(1), Cell::Unavailable, text("b")],
        );
        t.write(
            vec![Cell::Int(2)],
            cols.clone(),
            vec![Cell::Int(2), Cell::Unavailable, text("c")],
        );
        let rows: Vec<Vec<Cell>> = t
            .entries()
            .iter()
            .map(|e| e.write.as_ref().unwrap().1.clone())
            .collect();
        assert_eq!(rows[0], vec![Cell::Int(1), text("long"), text("b")]);
        assert_eq!(rows[1], vec![Cell::Int(2), Cell::Unavailable, text("c")]);
    }

    #[test]
    fn a_truncate_forgets_what_came_before_it() {
        let cols = columns(&["id"]);
        let mut b = Batch::default();
        b.table("t", &cols)
            .write(vec![Cell::Int(1)], cols.clone(), vec![Cell::Int(1)]);
        b.table("t", &cols).truncate();
        b.table("t", &cols)
            .write(vec![Cell::Int(2)], cols.clone(), vec![Cell::Int(2)]);
        let (name, t) = b.tables().next().unwrap();
        assert_eq!(name, "t");
        assert!(t.truncate);
        assert_eq!(t.entries().len(), 1);
        assert_eq!(t.entries()[0].key, vec![Cell::Int(2)]);
    }
}
