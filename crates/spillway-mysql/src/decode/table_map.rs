//! TABLE_MAP events: the table's name and columns (each column's layout is a
//! [`ColumnKind`]), and the optional metadata (`binlog_row_metadata`): names, signedness,
//! collations, ENUM/SET labels, primary key.

use super::column_kind::ColumnKind;
use super::column_type::MyType;
use super::cursor::*;
use super::error::{Fault, RowsError};

/// TABLE_MAP_EVENT.
pub const TABLE_MAP_EVENT: u8 = 19;

/// The binary collation, which MariaDB gives GEOMETRY columns.
const BINARY_COLLATION: u32 = 63;

/// One column as a TABLE_MAP event describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct MapColumn {
    /// The type code in the event (`MYSQL_TYPE_STRING`, 254, for CHAR, ENUM and SET alike).
    pub type_code: u8,
    /// How the column's values are laid out in row images.
    pub kind: ColumnKind,
    /// Whether the column accepts NULL.
    pub nullable: bool,
    /// The column's name; sent with `binlog_row_metadata=FULL`.
    pub name: Option<String>,
    /// For numeric columns (YEAR included): whether the column is UNSIGNED.
    pub unsigned: Option<bool>,
    /// For character, ENUM and SET columns: the collation id (`information_schema.COLLATIONS.ID`;
    /// 8 is `latin1_swedish_ci`, 63 `binary`).
    pub collation: Option<u32>,
    /// For ENUM and SET columns: the labels, in order; sent with `binlog_row_metadata=FULL`.
    /// Bytes that are not UTF-8 are replaced.
    pub labels: Option<Vec<String>>,
    /// Whether the column is visible; sent by MySQL 8.0.23+ with FULL metadata.
    pub visible: Option<bool>,
}

/// One column of the primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPart {
    /// The column's position in the table, from 0.
    pub column: usize,
    /// The length of an index prefix (`PRIMARY KEY (name(10))`), 0 for the whole column.
    pub prefix: u64,
}

/// A TABLE_MAP event: a table's column layout under a table id, which the rows events that
/// follow it refer to.
#[derive(Clone, Debug, PartialEq)]
pub struct TableMap {
    /// The number rows events use for the table until the next TABLE_MAP for it.
    pub table_id: u64,
    /// `TM_BIT_LEN_EXACT_F` and MySQL's foreign key / generated key flags.
    pub flags: u16,
    /// The table's database (schema).
    pub database: String,
    /// The table's name.
    pub table: String,
    /// One per column of the table, in order.
    pub columns: Vec<MapColumn>,
    /// The primary key's columns in key order; empty when the table has none or the server
    /// sent no key (`binlog_row_metadata=MINIMAL`).
    pub primary_key: Vec<KeyPart>,
}

/// The optional metadata fields (`binlog_row_metadata`), by type code.
pub(crate) mod field {
    pub const SIGNEDNESS: u8 = 1;
    pub const DEFAULT_CHARSET: u8 = 2;
    pub const COLUMN_CHARSET: u8 = 3;
    pub const COLUMN_NAME: u8 = 4;
    pub const SET_STR_VALUE: u8 = 5;
    pub const ENUM_STR_VALUE: u8 = 6;
    pub const SIMPLE_PRIMARY_KEY: u8 = 8;
    pub const PRIMARY_KEY_WITH_PREFIX: u8 = 9;
    pub const ENUM_AND_SET_DEFAULT_CHARSET: u8 = 10;
    pub const ENUM_AND_SET_COLUMN_CHARSET: u8 = 11;
    pub const COLUMN_VISIBILITY: u8 = 12;
}

/// The optional metadata fields of one event, not yet applied to the columns.
#[derive(Default)]
struct OptionalFields<'a> {
    signedness: Option<&'a [u8]>,
    default_charset: Option<&'a [u8]>,
    column_charset: Option<&'a [u8]>,
    column_name: Option<&'a [u8]>,
    set_labels: Option<&'a [u8]>,
    enum_labels: Option<&'a [u8]>,
    simple_key: Option<&'a [u8]>,
    prefix_key: Option<&'a [u8]>,
    enum_set_default_charset: Option<&'a [u8]>,
    enum_set_column_charset: Option<&'a [u8]>,
    visibility: Option<&'a [u8]>,
}

impl TableMap {
    /// Decodes a TABLE_MAP event body (no header, no checksum).
    ///
    /// Optional metadata whose entries do not match the columns it describes is left out
    /// (the column's field stays `None`) rather than guessed; a field that is cut short is
    /// an error.
    pub fn decode(body: &[u8]) -> Result<TableMap, RowsError> {
        decode_table_map(body).map_err(|f| f.at("TABLE_MAP event"))
    }

    /// `database.table`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.table)
    }

    /// A column's name, or `@n` (from 1, as mysqlbinlog shows it) without names.
    pub fn column_label(&self, index: usize) -> String {
        match self.columns.get(index).and_then(|c| c.name.as_deref()) {
            Some(name) => name.to_string(),
            None => format!("@{}", index + 1),
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn column_error(
        &self,
        index: usize,
        fault: Fault,
        ty: Option<&MyType>,
    ) -> RowsError {
        let detail = match fault {
            Fault::Truncated => "the row image ends inside this value".to_string(),
            Fault::Invalid(detail) => detail,
            Fault::Mismatch => format!(
                "the binlog has {} but the table's schema says {}; the table was altered after this change was written",
                self.columns
                    .get(index)
                    .map_or_else(|| "no column".to_string(), |c| c.kind.to_string()),
                ty.map_or_else(|| "nothing".to_string(), |t| format!("{t:?}"))
            ),
        };
        RowsError::Column {
            table: self.qualified_name(),
            index,
            column: self.column_label(index),
            detail,
        }
    }

    fn indices(&self, keep: impl Fn(ColumnKind) -> bool) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| keep(self.columns[i].kind))
            .collect()
    }

    fn apply_optional_metadata(&mut self, mut rest: &[u8]) -> Result<(), Fault> {
        let mut fields = OptionalFields::default();
        while !rest.is_empty() {
            let field_type = take_byte(&mut rest)?;
            let len = length(&mut rest)?;
            let value = take(&mut rest, len)?;
            let slot = match field_type {
                field::SIGNEDNESS => &mut fields.signedness,
                field::DEFAULT_CHARSET => &mut fields.default_charset,
                field::COLUMN_CHARSET => &mut fields.column_charset,
                field::COLUMN_NAME => &mut fields.column_name,
                field::SET_STR_VALUE => &mut fields.set_labels,
                field::ENUM_STR_VALUE => &mut fields.enum_labels,
                field::SIMPLE_PRIMARY_KEY => &mut fields.simple_key,
                field::PRIMARY_KEY_WITH_PREFIX => &mut fields.prefix_key,
                field::ENUM_AND_SET_DEFAULT_CHARSET => &mut fields.enum_set_default_charset,
                field::ENUM_AND_SET_COLUMN_CHARSET => &mut fields.enum_set_column_charset,
                field::COLUMN_VISIBILITY => &mut fields.visibility,
                // GEOMETRY_TYPE, VECTOR_DIMENSIONALITY and later additions.
                _ => continue,
            };
            *slot = Some(value);
        }

        if let Some(bits) = fields.signedness {
            let numeric = self.indices(ColumnKind::is_numeric);
            if bits.len() * 8 >= numeric.len() {
                for (j, &i) in numeric.iter().enumerate() {
                    self.columns[i].unsigned = Some(bit_msb(bits, j));
                }
            }
        }
        self.apply_text_collations(fields.default_charset, fields.column_charset)?;
        let enum_set = self.indices(ColumnKind::is_enum_or_set);
        self.apply_collations(
            &enum_set,
            fields.enum_set_default_charset,
            fields.enum_set_column_charset,
        )?;
        if let Some(mut value) = fields.column_name {
            let mut names = Vec::with_capacity(self.columns.len());
            while !value.is_empty() {
                names.push(lenenc_string(&mut value)?);
            }
            if names.len() == self.columns.len() {
                for (column, name) in self.columns.iter_mut().zip(names) {
                    column.name = Some(name);
                }
            }
        }
        for (value, is_set) in [(fields.set_labels, true), (fields.enum_labels, false)] {
            let Some(value) = value else { continue };
            let lists = label_lists(value)?;
            let group = self.indices(|k| {
                matches!(
                    (k, is_set),
                    (ColumnKind::Set { .. }, true) | (ColumnKind::Enum { .. }, false)
                )
            });
            if lists.len() == group.len() {
                for (i, labels) in group.into_iter().zip(lists) {
                    self.columns[i].labels = Some(labels);
                }
            }
        }
        let key = match (fields.simple_key, fields.prefix_key) {
            (_, Some(mut value)) => {
                let mut key = Vec::new();
                while !value.is_empty() {
                    let column = length(&mut value)?;
                    let prefix = lenenc(&mut value)?;
                    key.push(KeyPart { column, prefix });
                }
                key
            }
            (Some(mut value), None) => {
                let mut key = Vec::new();
                while !value.is_empty() {
                    let column = length(&mut value)?;
                    key.push(KeyPart { column, prefix: 0 });
                }
                key
            }
            (None, None) => Vec::new(),
        };
        if key.iter().all(|k| k.column < self.columns.len()) {
            self.primary_key = key;
        }
        if let Some(bits) = fields.visibility {
            if bits.len() * 8 >= self.columns.len() {
                for (i, column) in self.columns.iter_mut().enumerate() {
                    column.visible = Some(bit_msb(bits, i));
                }
            }
        }
        Ok(())
    }

    /// DEFAULT_CHARSET / COLUMN_CHARSET cover the character columns; MariaDB counts
    /// GEOMETRY columns among them (with the binary collation), MySQL does not. The number
    /// of COLUMN_CHARSET entries tells which; under DEFAULT_CHARSET, MariaDB's layout is
    /// recognised by a position only it has, or by every GEOMETRY column being listed as
    /// binary.
    fn apply_text_collations(
        &mut self,
        default: Option<&[u8]>,
        per_column: Option<&[u8]>,
    ) -> Result<(), Fault> {
        let mysql = self.indices(ColumnKind::is_character);
        let mariadb =
            self.indices(|k| k.is_character() || matches!(k, ColumnKind::Geometry { .. }));
        if mysql.len() == mariadb.len() {
            return self.apply_collations(&mysql, default, per_column);
        }
        let group = match (per_column, default) {
            (Some(mut value), _) => {
                let mut count = 0;
                while !value.is_empty() {
                    lenenc(&mut value)?;
                    count += 1;
                }
                if count == mariadb.len() {
                    &mariadb
                } else {
                    &mysql
                }
            }
            (None, Some(mut value)) => {
                lenenc(&mut value)?;
                let mut listed = Vec::new();
                while !value.is_empty() {
                    listed.push((length(&mut value)?, lenenc(&mut value)?));
                }
                let beyond_mysql = listed.iter().any(|&(p, _)| p >= mysql.len());
                let geometry_listed = mariadb
                    .iter()
                    .enumerate()
                    .filter(|(_, &i)| matches!(self.columns[i].kind, ColumnKind::Geometry { .. }))
                    .all(|(p, _)| listed.contains(&(p, u64::from(BINARY_COLLATION))));
                if beyond_mysql || geometry_listed {
                    &mariadb
                } else {
                    &mysql
                }
            }
            (None, None) => return Ok(()),
        };
        self.apply_collations(group, default, per_column)
    }

    /// Gives the columns of `group` their collations from a DEFAULT_CHARSET-style field
    /// (the most common collation, then `position, collation` pairs for the others) or a
    /// COLUMN_CHARSET-style one (a collation per column); positions count within `group`.
    fn apply_collations(
        &mut self,
        group: &[usize],
        default: Option<&[u8]>,
        per_column: Option<&[u8]>,
    ) -> Result<(), Fault> {
        let collation = |n: u64| u32::try_from(n).ok();
        if let Some(mut value) = per_column {
            let mut list = Vec::with_capacity(group.len());
            while !value.is_empty() {
                list.push(collation(lenenc(&mut value)?));
            }
            if list.len() == group.len() {
                for (&i, c) in group.iter().zip(list) {
                    self.columns[i].collation = c;
                }
            }
        } else if let Some(mut value) = default {
            let default = collation(lenenc(&mut value)?);
            let mut listed = Vec::new();
            while !value.is_empty() {
                listed.push((length(&mut value)?, collation(lenenc(&mut value)?)));
            }
            if listed.iter().all(|&(p, _)| p < group.len()) {
                for &i in group {
                    self.columns[i].collation = default;
                }
                for (p, c) in listed {
                    self.columns[group[p]].collation = c;
                }
            }
        }
        Ok(())
    }
}

/// SET_STR_VALUE / ENUM_STR_VALUE: per column a count, then that many strings.
fn label_lists(mut value: &[u8]) -> Result<Vec<Vec<String>>, Fault> {
    let mut lists = Vec::new();
    while !value.is_empty() {
        let count = length(&mut value)?;
        let mut labels = Vec::with_capacity(count.min(value.len()));
        for _ in 0..count {
            labels.push(lenenc_string(&mut value)?);
        }
        lists.push(labels);
    }
    Ok(lists)
}

fn decode_table_map(body: &[u8]) -> Result<TableMap, Fault> {
    let mut b = body;
    let table_id = uint_le(take(&mut b, 6)?);
    let flags = uint_le(take(&mut b, 2)?) as u16;
    let database = nul_terminated_name(&mut b)?;
    let table = nul_terminated_name(&mut b)?;
    let count = length(&mut b)?;
    let types = take(&mut b, count)?;
    let meta_len = length(&mut b)?;
    let mut meta = take(&mut b, meta_len)?;
    let mut columns = Vec::with_capacity(count);
    for (i, &code) in types.iter().enumerate() {
        let kind = ColumnKind::read(code, &mut meta).map_err(|f| match f {
            Fault::Invalid(d) => Fault::Invalid(format!("column @{}: {d}", i + 1)),
            other => other,
        })?;
        columns.push(MapColumn {
            type_code: code,
            kind,
            nullable: false,
            name: None,
            unsigned: None,
            collation: None,
            labels: None,
            visible: None,
        });
    }
    if !meta.is_empty() {
        return Err(Fault::invalid(format!(
            "{} bytes of column metadata are left over",
            meta.len()
        )));
    }
    let nulls = take(&mut b, count.div_ceil(8))?;
    for (i, column) in columns.iter_mut().enumerate() {
        column.nullable = bit(nulls, i);
    }
    let mut map = TableMap {
        table_id,
        flags,
        database,
        table,
        columns,
        primary_key: Vec::new(),
    };
    map.apply_optional_metadata(b)?;
    Ok(map)
}

/// A 1-byte length, the name, and a NUL.
fn nul_terminated_name(buf: &mut &[u8]) -> Result<String, Fault> {
    let len = usize::from(take_byte(buf)?);
    let name = String::from_utf8_lossy(take(buf, len)?).into_owned();
    if take_byte(buf)? != 0 {
        return Err(Fault::invalid(format!(
            "the name {name:?} is not NUL-terminated"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fixtures::*;

    #[test]
    fn a_mariadb_table_map_gives_names_signedness_collations_labels_and_key() {
        let map = TableMap::decode(&hex(MARIADB_TABLE_MAP)).unwrap();
        assert_eq!(
            (map.table_id, map.database.as_str(), map.table.as_str()),
            (415, "spillway_rows_probe", "t")
        );
        let names: Vec<&str> = map
            .columns
            .iter()
            .map(|c| c.name.as_deref().unwrap())
            .collect();
        assert_eq!(
            names,
            ["id", "y", "u", "g", "v", "c", "e", "s", "d", "dc", "f", "b", "j", "i6", "tm"]
        );
        let unsigned: Vec<Option<bool>> = map.columns.iter().map(|c| c.unsigned).collect();
        let (t, f) = (Some(true), Some(false));
        assert_eq!(
            unsigned,
            [t, t, t, None, None, None, None, None, None, t, f, None, None, None, None]
        );
        let collations: Vec<Option<u32>> = map.columns.iter().map(|c| c.collation).collect();
        assert_eq!(
            collations,
            [
                None,
                None,
                None,
                Some(63),
                Some(8),
                Some(45),
                Some(8),
                Some(45),
                None,
                None,
                None,
                None,
                Some(46),
                Some(63),
                None
            ]
        );
        assert_eq!(
            map.columns[6].labels,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            map.columns[7].labels,
            Some(vec!["x".to_string(), "y".to_string()])
        );
        assert_eq!(
            map.primary_key,
            [KeyPart {
                column: 0,
                prefix: 0
            }]
        );
        assert!(!map.columns[0].nullable && map.columns[1].nullable);
        assert_eq!(map.columns[5].kind, ColumnKind::String { max_length: 12 });
        assert_eq!(map.columns[13].kind, ColumnKind::String { max_length: 16 });
        assert_eq!(map.columns[14].kind, ColumnKind::Time2 { fsp: 2 });

        let ty = |t: MyType| ColumnDecoder {
            ty: t,
            included: true,
        };
        let decoders = vec![
            ty(MyType::Int {
                bytes: 4,
                unsigned: true,
            }),
            ty(MyType::Year),
            ty(MyType::Int {
                bytes: 4,
                unsigned: true,
            }),
            ColumnDecoder {
                ty: MyType::Binary { pad_to: None },
                included: false,
            },
            ty(MyType::Text { latin1: true }),
            ty(MyType::Text { latin1: false }),
            ty(MyType::Enum {
                labels: vec!["a".into(), "b".into()],
            }),
            ty(MyType::Set {
                labels: vec!["x".into(), "y".into()],
            }),
            ty(MyType::Date),
            ty(MyType::Decimal {
                precision: 5,
                scale: 2,
            }),
            ty(MyType::Float),
            ty(MyType::Bits { length: 3 }),
            ty(MyType::Text { latin1: false }),
            ty(MyType::Binary { pad_to: Some(16) }),
            ty(MyType::Time { fsp: 2 }),
        ];
        let body = hex(MARIADB_WRITE_ROWS);
        let event = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body).unwrap();
        let o = with(
            DecimalMode::String,
            BigintUnsignedMode::Long,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        );
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let changes: Vec<Change> = event.changes(ctx).unwrap().map(Result::unwrap).collect();
        let mut inet = vec![0u8; 16];
        inet[15] = 1;
        assert_eq!(
            changes[0].after.as_ref().unwrap().0,
            vec![
                Value::Int(1),
                Value::Int(2001),
                Value::Int(7),
                Value::String("ab".into()),
                Value::String("xy".into()),
                Value::String("b".into()),
                Value::String("x,y".into()),
                Value::Int(18263),
                Value::String("1.50".into()),
                Value::Float32(1.25),
                Value::Bytes(vec![0b101]),
                Value::String("{\"b\":1,\"a\":[1,2]}".into()),
                Value::Bytes(inet),
                Value::Int(-3_600_500_000),
            ]
        );
    }

    #[test]
    fn optional_metadata_is_matched_to_its_columns() {
        let cols = vec![
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: true,
                },
            ),
            col(15, &[20, 0], MyType::Text { latin1: false }),
            col(255, &[4], MyType::Binary { pad_to: None }),
            col(15, &[20, 0], MyType::Text { latin1: false }),
            col(15, &[5, 0], MyType::Text { latin1: true }),
            col(254, &[0xF7, 1], MyType::Enum { labels: vec![] }),
            col(
                8,
                &[],
                MyType::Int {
                    bytes: 8,
                    unsigned: false,
                },
            ),
        ];
        let tlv = |t: u8, v: &[u8]| [&[t][..], &lenenc_bytes(v.len()), v].concat();
        // MariaDB: GEOMETRY counted (position 1 is binary, position 3 latin1).
        let optional = [
            tlv(field::SIGNEDNESS, &[0b1000_0000]),
            tlv(field::DEFAULT_CHARSET, &[45, 1, 63, 3, 8]),
            tlv(field::ENUM_AND_SET_COLUMN_CHARSET, &[8]),
            tlv(field::ENUM_STR_VALUE, &[2, 1, b'p', 2, b'q', b'r']),
            tlv(field::PRIMARY_KEY_WITH_PREFIX, &[6, 0, 1, 4]),
            tlv(7, &[0]),
            tlv(99, &[1, 2, 3]),
            tlv(field::COLUMN_VISIBILITY, &[0b1111_1100]),
        ]
        .concat();
        let map = TableMap::decode(&table_map_body(1, &cols, &optional)).unwrap();
        let collations: Vec<Option<u32>> = map.columns.iter().map(|c| c.collation).collect();
        assert_eq!(
            collations,
            [None, Some(45), Some(63), Some(45), Some(8), Some(8), None]
        );
        assert_eq!(map.columns[0].unsigned, Some(true));
        assert_eq!(map.columns[6].unsigned, Some(false));
        assert_eq!(
            map.columns[5].labels,
            Some(vec!["p".to_string(), "qr".to_string()])
        );
        assert_eq!(
            map.primary_key,
            [
                KeyPart {
                    column: 6,
                    prefix: 0
                },
                KeyPart {
                    column: 1,
                    prefix: 4
                }
            ]
        );
        assert_eq!(map.columns[6].visible, Some(false));
        assert_eq!(map.columns[0].visible, Some(true));
        assert_eq!(map.column_label(0), "@1");

        // MySQL: GEOMETRY not counted (position 2 is the latin1 column).
        let optional = tlv(field::DEFAULT_CHARSET, &[45, 2, 8]);
        let map = TableMap::decode(&table_map_body(1, &cols, &optional)).unwrap();
        let collations: Vec<Option<u32>> = map.columns.iter().map(|c| c.collation).collect();
        assert_eq!(
            collations,
            [None, Some(45), None, Some(45), Some(8), None, None]
        );
        // COLUMN_CHARSET: the count tells.
        for (list, geometry) in [(&[45u8, 63, 45, 8][..], Some(63)), (&[45, 45, 8], None)] {
            let map =
                TableMap::decode(&table_map_body(1, &cols, &tlv(field::COLUMN_CHARSET, list)))
                    .unwrap();
            assert_eq!(map.columns[2].collation, geometry);
            assert_eq!(map.columns[4].collation, Some(8));
        }
        // Names that do not match the column count are left out.
        let names = tlv(field::COLUMN_NAME, &[1, b'a']);
        let map = TableMap::decode(&table_map_body(1, &cols, &names)).unwrap();
        assert!(map.columns.iter().all(|c| c.name.is_none()));
        // A field cut short is an error.
        let cut = [field::COLUMN_NAME, 3, 5, b'a'];
        assert!(TableMap::decode(&table_map_body(1, &cols, &cut)).is_err());
    }

    #[test]
    fn bad_column_metadata_is_an_error() {
        for (code, meta) in [
            (246u8, &[70u8, 2][..]),
            (246, &[5, 6]),
            (19, &[7]),
            (16, &[0, 9]),
            (252, &[5]),
            (254, &[0xF7, 3]),
            (254, &[0xF0, 3]),
            (0, &[]),
            (244, &[]),
        ] {
            let body = table_map_body(1, &[col(code, meta, MyType::Year)], &[]);
            assert!(TableMap::decode(&body).is_err(), "type {code} {meta:?}");
        }
        // Metadata left over.
        let mut body = table_map_body(1, &[col(3, &[], MyType::Year)], &[]);
        let at = body.iter().position(|&b| b == 3).unwrap() + 1;
        body.splice(at..at + 1, [1, 0]);
        assert!(TableMap::decode(&body).is_err());
    }

    #[test]
    fn truncated_events_are_errors_not_panics() {
        let (cols, values) = every_kind();
        let map_body = table_map_body(7, &cols, &[]);
        for cut in 0..map_body.len() {
            assert!(
                TableMap::decode(&map_body[..cut]).is_err(),
                "table map cut at {cut}"
            );
        }
        let real = hex(MARIADB_TABLE_MAP);
        let full = TableMap::decode(&real).unwrap();
        for cut in 0..real.len() {
            // Cut between two optional metadata fields the map is valid, with less.
            if let Ok(map) = TableMap::decode(&real[..cut]) {
                assert_ne!(map, full, "cut at {cut}");
            }
        }
        let map = TableMap::decode(&map_body).unwrap();
        let decoders = decoders(&cols);
        let o = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let body = rows_body(WRITE_ROWS_EVENT, 7, cols.len(), &image(&values));
        for cut in 0..body.len() {
            let decoded = RowsEvent::decode(WRITE_ROWS_EVENT, &body[..cut]).and_then(|event| {
                event.count_rows(&map)?;
                event.changes(ctx)?.collect::<Result<Vec<_>, _>>()
            });
            // Cut right after the bitmaps, the event is one without rows.
            if let Ok(rows) = decoded {
                assert!(rows.is_empty(), "rows event cut at {cut} decoded");
            }
        }
    }
}
