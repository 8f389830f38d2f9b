//! Which tables a DDL statement from the binlog changes, and the schema-change records
//! Debezium writes for it (one per statement, or one per table of a multi-table `DROP`).
//!
//! Only the statement's head is read (`ALTER TABLE <name>`, `DROP TABLE <a>, <b>`, ...): the
//! tables' new definitions are read from the server, not parsed from the statement.

use crate::schema_change::{quote, TableChangeKind};
use crate::table::TableId;

/// What one schema-change record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DdlRecord {
    /// The `ddl` text.
    pub ddl: String,
    /// `databaseName`, the key and `source.db`.
    pub database: String,
    /// `source.table`: `None` for database statements, `""` for `CREATE INDEX`.
    pub source_table: Option<String>,
    /// The `tableChanges` entries.
    pub changes: Vec<(TableChangeKind, TableId)>,
}

/// A DDL statement's effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ddl {
    pub records: Vec<DdlRecord>,
    /// Tables whose definition is gone or changed (to be read again or forgotten).
    pub touched: Vec<TableId>,
    /// A database dropped as a whole.
    pub dropped_database: Option<String>,
}

/// Reads a statement of a binlog `Query` event run with `session_db` as default database.
/// `None` for statements that change no table definition (TRUNCATE, views, grants, ...).
pub fn classify(sql: &str, session_db: &str) -> Option<Ddl> {
    let mut t = Tokens::new(sql);
    let first = t.word()?;
    let id = |db: Option<String>, table: String| TableId {
        database: db.unwrap_or_else(|| session_db.to_string()),
        table,
    };
    match first.as_str() {
        "CREATE" => {
            let mut next = t.word()?;
            if next == "OR" {
                t.word()?; // REPLACE
                next = t.word()?;
            }
            if next == "TEMPORARY" {
                // Temporary tables are not written to a row-based binlog.
                return None;
            }
            match next.as_str() {
                "TABLE" => {
                    t.skip_words(&["IF", "NOT", "EXISTS"]);
                    let (db, table) = t.name()?;
                    let table = id(db, table);
                    Some(one(sql, &table, TableChangeKind::Create))
                }
                "DATABASE" | "SCHEMA" => {
                    t.skip_words(&["IF", "NOT", "EXISTS"]);
                    let (_, name) = t.name()?;
                    Some(database_statement(sql, name, false))
                }
                "UNIQUE" | "FULLTEXT" | "SPATIAL" | "INDEX" => {
                    let unique = next == "UNIQUE";
                    while t.word()? != "ON" {}
                    let (db, table) = t.name()?;
                    let table = id(db, table);
                    Some(if unique {
                        // Debezium's record drops the statement's leading `CREATE `.
                        Ddl {
                            records: vec![DdlRecord {
                                ddl: streaming_ddl_text(sql),
                                database: table.database.clone(),
                                source_table: Some(table.table.clone()),
                                changes: vec![(TableChangeKind::Alter, table.clone())],
                            }],
                            touched: vec![table],
                            dropped_database: None,
                        }
                    } else {
                        Ddl {
                            records: vec![DdlRecord {
                                ddl: sql.to_string(),
                                database: table.database.clone(),
                                source_table: Some(String::new()),
                                changes: Vec::new(),
                            }],
                            touched: vec![table],
                            dropped_database: None,
                        }
                    })
                }
                _ => None,
            }
        }
        "ALTER" => {
            let mut next = t.word()?;
            while matches!(next.as_str(), "ONLINE" | "OFFLINE" | "IGNORE") {
                next = t.word()?;
            }
            match next.as_str() {
                "TABLE" => {
                    t.skip_words(&["IF", "EXISTS"]);
                    let (db, table) = t.name()?;
                    let old = id(db, table);
                    // `ALTER TABLE a ..., RENAME [TO|AS] b`: the change is reported under b.
                    let mut new = old.clone();
                    while let Some(tok) = t.token() {
                        if tok.eq_ignore_ascii_case("RENAME") {
                            let mut after = t.clone();
                            match after.word().as_deref() {
                                Some("TO" | "AS") => {
                                    if let Some((db, table)) = after.name() {
                                        new = id(db, table);
                                    }
                                }
                                Some("COLUMN" | "INDEX" | "KEY") | None => {}
                                Some(_) => {
                                    let mut again = t.clone();
                                    if let Some((db, table)) = again.name() {
                                        new = id(db, table);
                                    }
                                }
                            }
                        }
                    }
                    let mut ddl = one(sql, &new, TableChangeKind::Alter);
                    if new != old {
                        ddl.touched.push(old);
                    }
                    Some(ddl)
                }
                "DATABASE" | "SCHEMA" => {
                    let name = t.name().map(|(_, n)| n).unwrap_or(session_db.to_string());
                    Some(database_statement(sql, name, false))
                }
                _ => None,
            }
        }
        "RENAME" => {
            if t.word()? != "TABLE" {
                return None;
            }
            let mut changes = Vec::new();
            let mut touched = Vec::new();
            loop {
                let (db, table) = t.name()?;
                touched.push(id(db, table));
                if t.word()? != "TO" {
                    return None;
                }
                let (db, table) = t.name()?;
                let new = id(db, table);
                touched.push(new.clone());
                changes.push((TableChangeKind::Alter, new));
                if t.token().as_deref() != Some(",") {
                    break;
                }
            }
            let first = changes.first()?.1.clone();
            Some(Ddl {
                records: vec![DdlRecord {
                    ddl: sql.to_string(),
                    database: first.database.clone(),
                    source_table: Some(first.table.clone()),
                    changes,
                }],
                touched,
                dropped_database: None,
            })
        }
        "DROP" => {
            let next = t.word()?;
            match next.as_str() {
                "TABLE" | "TABLES" | "TEMPORARY" => {
                    let dropped = split_drop_table(sql, session_db)?;
                    let names = dropped
                        .iter()
                        .map(|d| d.table.as_str())
                        .collect::<Vec<_>>()
                        .join(",");
                    let touched = dropped
                        .iter()
                        .map(|d| id(Some(d.database.clone()), d.table.clone()))
                        .collect();
                    Some(Ddl {
                        records: dropped
                            .into_iter()
                            .map(|d| DdlRecord {
                                ddl: d.ddl,
                                database: d.database.clone(),
                                source_table: Some(names.clone()),
                                changes: vec![(
                                    TableChangeKind::Drop,
                                    id(Some(d.database), d.table),
                                )],
                            })
                            .collect(),
                        touched,
                        dropped_database: None,
                    })
                }
                "DATABASE" | "SCHEMA" => {
                    t.skip_words(&["IF", "EXISTS"]);
                    let (_, name) = t.name()?;
                    Some(database_statement(sql, name, true))
                }
                "INDEX" => {
                    t.name()?;
                    if t.word()? != "ON" {
                        return None;
                    }
                    let (db, table) = t.name()?;
                    Some(one(sql, &id(db, table), TableChangeKind::Alter))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The table a `TRUNCATE [TABLE] [db.]name` statement empties, run with `session_db` as
/// default database; `None` for any other statement.
pub fn truncated_table(sql: &str, session_db: &str) -> Option<TableId> {
    let mut t = Tokens::new(sql);
    if t.word()? != "TRUNCATE" {
        return None;
    }
    t.skip_words(&["TABLE"]);
    let (db, table) = t.name()?;
    Some(TableId {
        database: db.unwrap_or_else(|| session_db.to_string()),
        table,
    })
}

fn one(sql: &str, table: &TableId, kind: TableChangeKind) -> Ddl {
    Ddl {
        records: vec![DdlRecord {
            ddl: sql.to_string(),
            database: table.database.clone(),
            source_table: Some(table.table.clone()),
            changes: vec![(kind, table.clone())],
        }],
        touched: vec![table.clone()],
        dropped_database: None,
    }
}

fn database_statement(sql: &str, name: String, dropped: bool) -> Ddl {
    Ddl {
        records: vec![DdlRecord {
            ddl: sql.to_string(),
            database: name.clone(),
            source_table: None,
            changes: Vec::new(),
        }],
        touched: Vec::new(),
        dropped_database: dropped.then_some(name),
    }
}

/// A cursor over SQL tokens: words (upper-cased by [`Tokens::word`]), quoted names, strings
/// and single punctuation characters; comments and whitespace are skipped.
#[derive(Clone)]
struct Tokens<'a> {
    sql: &'a str,
    at: usize,
}

impl<'a> Tokens<'a> {
    fn new(sql: &'a str) -> Self {
        Tokens { sql, at: 0 }
    }

    fn skip_space(&mut self) {
        loop {
            let rest = &self.sql[self.at..];
            let trimmed = rest.trim_start();
            self.at += rest.len() - trimmed.len();
            if let Some(body) = trimmed.strip_prefix("/*") {
                self.at += 2 + body.find("*/").map_or(body.len(), |i| i + 2);
            } else if trimmed.starts_with("-- ") || trimmed.starts_with('#') {
                self.at += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return;
            }
        }
    }

    /// The next token as written (a quoted name without its quotes).
    fn token(&mut self) -> Option<String> {
        self.skip_space();
        let rest = &self.sql[self.at..];
        let c = rest.chars().next()?;
        if c == '`' || c == '\'' || c == '"' {
            let mut out = String::new();
            let mut chars = rest.char_indices().skip(1).peekable();
            while let Some((i, ch)) = chars.next() {
                if ch == c {
                    if chars.peek().map(|(_, n)| *n) == Some(c) {
                        chars.next();
                        out.push(c);
                        continue;
                    }
                    self.at += i + 1;
                    return Some(out);
                }
                if ch == '\\' && c != '`' {
                    if let Some((_, n)) = chars.next() {
                        out.push(n);
                    }
                    continue;
                }
                out.push(ch);
            }
            self.at = self.sql.len();
            return Some(out);
        }
        if c.is_alphanumeric() || c == '_' || c == '$' {
            let len = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '$'))
                .unwrap_or(rest.len());
            self.at += len;
            return Some(rest[..len].to_string());
        }
        self.at += c.len_utf8();
        Some(c.to_string())
    }

    /// The next token, upper-cased.
    fn word(&mut self) -> Option<String> {
        self.token().map(|w| w.to_ascii_uppercase())
    }

    /// Skips `words` if they come next, in order.
    fn skip_words(&mut self, words: &[&str]) {
        let mut probe = self.clone();
        for w in words {
            if probe.word().as_deref() != Some(*w) {
                return;
            }
        }
        *self = probe;
    }

    /// A possibly qualified name: `(database, name)`.
    fn name(&mut self) -> Option<(Option<String>, String)> {
        let first = self.token()?;
        let mut probe = self.clone();
        if probe.sql[probe.at..].starts_with('.') {
            probe.at += 1;
            let second = probe.token()?;
            *self = probe;
            return Some((Some(first), second));
        }
        Some((None, first))
    }
}

/// One table of a streamed DROP TABLE, with the `ddl` Debezium writes for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedTable {
    pub database: String,
    pub table: String,
    pub ddl: String,
}

/// A streamed `DROP TABLE` split the way Debezium splits it: one record per table, its ddl
/// being the statement's text up to the table list, the table as `` `db`.`table` `` and a
/// trailing RESTRICT/CASCADE; the server's `/* generated by server */` is dropped. `None`
/// when `statement` is not a DROP TABLE.
pub fn split_drop_table(statement: &str, default_database: &str) -> Option<Vec<DroppedTable>> {
    let s = statement.trim_start();
    let mut pos = 0;
    let expect = |word: &str, pos: &mut usize| -> bool {
        let rest = &s[*pos..];
        let trimmed = rest.trim_start();
        let skipped = rest.len() - trimmed.len();
        if trimmed.len() >= word.len()
            && trimmed[..word.len()].eq_ignore_ascii_case(word)
            && trimmed[word.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_')
        {
            *pos += skipped + word.len();
            true
        } else {
            false
        }
    };
    if !expect("DROP", &mut pos) {
        return None;
    }
    expect("TEMPORARY", &mut pos);
    if !expect("TABLE", &mut pos) && !expect("TABLES", &mut pos) {
        return None;
    }
    let mut if_exists = pos;
    if expect("IF", &mut if_exists) && expect("EXISTS", &mut if_exists) {
        pos = if_exists;
    }
    // The prefix keeps the statement's own spelling and the one space before the list.
    let rest = &s[pos..];
    let list_start = pos + (rest.len() - rest.trim_start().len());
    let prefix = format!("{} ", s[..pos].trim_end());
    let mut tables = Vec::new();
    let mut i = list_start;
    let bytes = s.as_bytes();
    loop {
        let (first, next) = identifier(s, i)?;
        let (database, table, next) = if bytes.get(next) == Some(&b'.') {
            let (second, after) = identifier(s, next + 1)?;
            (first, second, after)
        } else {
            (default_database.to_string(), first, next)
        };
        tables.push((database, table));
        i = next;
        while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        if bytes.get(i) == Some(&b',') {
            i += 1;
            while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
                i += 1;
            }
            continue;
        }
        break;
    }
    let tail = s[i..].trim_start().to_ascii_uppercase();
    let suffix = if tail.starts_with("RESTRICT") {
        " RESTRICT"
    } else if tail.starts_with("CASCADE") {
        " CASCADE"
    } else {
        ""
    };
    Some(
        tables
            .into_iter()
            .map(|(database, table)| DroppedTable {
                ddl: format!("{prefix}{}.{}{suffix}", quote(&database), quote(&table)),
                database,
                table,
            })
            .collect(),
    )
}

/// Reads one identifier (backquoted or bare) at byte `i`; returns it and the byte after it.
fn identifier(s: &str, i: usize) -> Option<(String, usize)> {
    let bytes = s.as_bytes();
    if bytes.get(i) == Some(&b'`') {
        let mut name = String::new();
        let mut j = i + 1;
        loop {
            let c = s[j..].chars().next()?;
            if c == '`' {
                if bytes.get(j + 1) == Some(&b'`') {
                    name.push('`');
                    j += 2;
                    continue;
                }
                return Some((name, j + 1));
            }
            name.push(c);
            j += c.len_utf8();
        }
    }
    let len = s[i..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(s.len() - i);
    (len > 0).then(|| (s[i..i + len].to_string(), i + len))
}

/// A streamed statement's text as Debezium puts it in `ddl`. Debezium drops the `CREATE `
/// of `CREATE UNIQUE INDEX` (observed with 3.6: `UNIQUE INDEX nk_a ON nk (a)`); everything
/// else is the binlog's statement text unchanged (DROP TABLE: see [`split_drop_table`]).
pub fn streaming_ddl_text(statement: &str) -> String {
    let trimmed = statement.trim_start();
    let mut words = trimmed.split_whitespace();
    if words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("CREATE"))
        && words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("UNIQUE"))
    {
        return trimmed["CREATE".len()..].trim_start().to_string();
    }
    statement.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(db: &str, table: &str) -> TableId {
        TableId {
            database: db.into(),
            table: table.into(),
        }
    }

    #[test]
    fn table_statements_name_their_tables() {
        let d = classify("ALTER TABLE ddl ADD COLUMN c varchar(5)", "db").unwrap();
        assert_eq!(
            d.records[0].changes,
            vec![(TableChangeKind::Alter, t("db", "ddl"))]
        );
        assert_eq!(d.records[0].source_table.as_deref(), Some("ddl"));

        let d = classify("CREATE TABLE IF NOT EXISTS `o`.`t 1` (k int)", "db").unwrap();
        assert_eq!(
            d.records[0].changes,
            vec![(TableChangeKind::Create, t("o", "t 1"))]
        );
        assert_eq!(d.records[0].database, "o");

        let d = classify(
            "/* c */ alter table a rename column x to y, RENAME TO b",
            "db",
        )
        .unwrap();
        assert_eq!(
            d.records[0].changes,
            vec![(TableChangeKind::Alter, t("db", "b"))]
        );
        assert_eq!(d.touched, vec![t("db", "b"), t("db", "a")]);

        let d = classify("RENAME TABLE a TO b, c TO x.d", "db").unwrap();
        assert_eq!(
            d.records[0].changes,
            vec![
                (TableChangeKind::Alter, t("db", "b")),
                (TableChangeKind::Alter, t("x", "d"))
            ]
        );
    }

    #[test]
    fn multi_table_drops_become_one_record_per_table() {
        let d = classify("DROP TABLE `a`,`b` /* generated by server */", "db").unwrap();
        assert_eq!(d.records.len(), 2);
        assert_eq!(d.records[1].ddl, "DROP TABLE `db`.`b`");
        assert_eq!(d.records[0].source_table.as_deref(), Some("a,b"));
        assert_eq!(
            d.records[1].changes,
            vec![(TableChangeKind::Drop, t("db", "b"))]
        );
    }

    #[test]
    fn indexes_and_databases() {
        let d = classify("CREATE INDEX i ON t (v)", "db").unwrap();
        assert!(d.records[0].changes.is_empty());
        assert_eq!(d.records[0].source_table.as_deref(), Some(""));
        assert_eq!(d.touched, vec![t("db", "t")]);

        let d = classify("CREATE UNIQUE INDEX u ON t (a)", "db").unwrap();
        assert_eq!(d.records[0].ddl, "UNIQUE INDEX u ON t (a)");
        assert_eq!(
            d.records[0].changes,
            vec![(TableChangeKind::Alter, t("db", "t"))]
        );

        let d = classify("DROP DATABASE IF EXISTS `x`", "db").unwrap();
        assert_eq!(d.dropped_database.as_deref(), Some("x"));
        assert_eq!(d.records[0].database, "x");
        assert_eq!(d.records[0].source_table, None);
    }

    #[test]
    fn statements_that_change_no_table_are_not_schema_changes() {
        for sql in [
            "TRUNCATE TABLE t",
            "CREATE VIEW v AS SELECT 1",
            "DROP VIEW v",
            "GRANT SELECT ON *.* TO x",
            "ANALYZE TABLE t",
            "CREATE TEMPORARY TABLE t (i int)",
            "",
        ] {
            assert_eq!(classify(sql, "db"), None, "{sql}");
        }
    }

    #[test]
    fn truncate_names_its_table() {
        let id = |d: &str, t: &str| TableId {
            database: d.to_string(),
            table: t.to_string(),
        };
        assert_eq!(
            truncated_table("TRUNCATE TABLE t", "db"),
            Some(id("db", "t"))
        );
        assert_eq!(
            truncated_table("truncate `o`.`t t`", "db"),
            Some(id("o", "t t"))
        );
        assert_eq!(
            truncated_table("/* c */ TRUNCATE TABLE other.t", "db"),
            Some(id("other", "t"))
        );
        assert_eq!(truncated_table("TRUNCATE", "db"), None);
        assert_eq!(truncated_table("DROP TABLE t", "db"), None);
        assert_eq!(classify("TRUNCATE TABLE t", "db"), None);
    }

    #[test]
    fn drop_table_is_split_per_table_like_debezium() {
        let dropped = |database: &str, table: &str, ddl: &str| DroppedTable {
            database: database.into(),
            table: table.into(),
            ddl: ddl.into(),
        };
        assert_eq!(
            split_drop_table(
                "DROP TABLE `ddl_types_r`,`ddl_types_nokey` /* generated by server */",
                "dbzref",
            ),
            Some(vec![
                dropped("dbzref", "ddl_types_r", "DROP TABLE `dbzref`.`ddl_types_r`"),
                dropped(
                    "dbzref",
                    "ddl_types_nokey",
                    "DROP TABLE `dbzref`.`ddl_types_nokey`"
                ),
            ])
        );
        assert_eq!(
            split_drop_table(
                "DROP TABLE IF EXISTS `uk2`,other.`missing_table` /* generated by server */",
                "dbzref",
            ),
            Some(vec![
                dropped("dbzref", "uk2", "DROP TABLE IF EXISTS `dbzref`.`uk2`"),
                dropped(
                    "other",
                    "missing_table",
                    "DROP TABLE IF EXISTS `other`.`missing_table`"
                ),
            ])
        );
        assert!(split_drop_table("DROP DATABASE x", "d").is_none());
        assert!(split_drop_table("ALTER TABLE x", "d").is_none());
    }

    #[test]
    fn streamed_ddl_texts() {
        assert_eq!(
            streaming_ddl_text("CREATE UNIQUE INDEX nk_a ON nk (a)"),
            "UNIQUE INDEX nk_a ON nk (a)"
        );
        assert_eq!(
            streaming_ddl_text("CREATE INDEX i ON t (v)"),
            "CREATE INDEX i ON t (v)"
        );
    }
}
