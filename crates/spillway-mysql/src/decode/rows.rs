//! Row-based binlog events decoded straight from their bytes: a TABLE_MAP event into a
//! [`TableMap`], a WRITE/UPDATE/DELETE_ROWS event into a borrowing [`RowsEvent`], and each
//! row image into a [`spillway_core::Row`] in the shape the column's
//! [`MyType`](super::column_type::MyType) gives it.
//!
//! ```text
//!  TABLE_MAP body ──> TableMap   types and metadata, names, signedness, collations,
//!                                ENUM/SET labels, primary key (decoded once per table id)
//!  ROWS body ─────> RowsEvent    table id, kind, column bitmaps, row bytes (borrowed)
//!                      └─ changes(RowContext) ──> Change { before, after }
//!                           each column: ColumnKind (how its bytes are laid out)
//!                                      + MyType     (what value Debezium gives it)
//! ```
//!
//! **Layout and shape.** The binlog's column type and metadata say how a value's bytes are
//! read; the schema's [`MyType`](super::column_type::MyType) says what value comes out,
//! exactly as [`MyType::decode`](super::column_type::MyType::decode)
//! gives it for the same column. When the two disagree (the table was altered after the
//! event was written) decoding stops with an error naming the column.
//!
//! **Bodies.** Every `decode` takes an event body: no 19-byte header and no CRC32 footer.
//! That is what mysql_async's `Event::data()` returns for every event after the format
//! description event (mysql_common cuts the checksum the format description announces).
//!
//! **Cost.** Nothing is allocated per row but the row's `Vec<Value>` and the strings and
//! byte vectors inside its values; the table map is parsed once and reused.
//!
//! **Refused**, with the server setting that avoids it: MySQL's PARTIAL_UPDATE_ROWS_EVENT
//! (`binlog_row_value_options=''`). MariaDB's compressed rows events are decoded here once
//! [`super::compressed::mariadb_rows`] has uncompressed their row images.
//!
//! The formats are those of the MySQL source documentation (`Table_map_event`,
//! `Rows_event`, `decimal2bin`, `my_time_packed_to_binary`, `json_binary`) and the MariaDB
//! knowledge base (TABLE_MAP_EVENT, ROWS_EVENT_V1).

use super::column_type::ColumnDecoder;
use super::cursor::*;
use super::error::Fault;
pub use super::error::RowsError;
use super::table_map::TableMap;
use super::value::{put_value, take_value};
use crate::config::TypeOptions;
use spillway_core::{Row, Value};

/// WRITE_ROWS_EVENT v1 (MySQL 5.1 to 5.5, and every MariaDB).
pub const WRITE_ROWS_EVENT_V1: u8 = 23;
/// UPDATE_ROWS_EVENT v1.
pub const UPDATE_ROWS_EVENT_V1: u8 = 24;
/// DELETE_ROWS_EVENT v1.
pub const DELETE_ROWS_EVENT_V1: u8 = 25;
/// WRITE_ROWS_EVENT v2 (MySQL 5.6 and later): v1 plus an extra-data block.
pub const WRITE_ROWS_EVENT: u8 = 30;
/// UPDATE_ROWS_EVENT v2.
pub const UPDATE_ROWS_EVENT: u8 = 31;
/// DELETE_ROWS_EVENT v2.
pub const DELETE_ROWS_EVENT: u8 = 32;
/// MySQL 8's UPDATE with partial JSON after-images (`binlog_row_value_options=PARTIAL_JSON`).
pub const PARTIAL_UPDATE_ROWS_EVENT: u8 = 39;
/// MariaDB's compressed WRITE/UPDATE/DELETE_ROWS events, v1 then v2 (`log_bin_compress=ON`).
pub const MARIADB_COMPRESSED_ROWS_EVENTS: std::ops::RangeInclusive<u8> = 166..=171;

/// The rows event flag that ends a statement.
pub const STMT_END_F: u16 = 0x0001;

/// What a rows event does to its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowsKind {
    /// WRITE_ROWS: after images only.
    Insert,
    /// UPDATE_ROWS: a before and an after image per row.
    Update,
    /// DELETE_ROWS: before images only.
    Delete,
}

/// The kind of a rows event type, `None` for other events. Events [`RowsEvent::decode`]
/// refuses (partial JSON updates, MariaDB's compressed rows) are rows events too, so that
/// routing them there turns them into an error that names the fix.
pub fn is_rows_event(event_type: u8) -> Option<RowsKind> {
    match event_type {
        WRITE_ROWS_EVENT_V1 | WRITE_ROWS_EVENT | 166 | 169 => Some(RowsKind::Insert),
        UPDATE_ROWS_EVENT_V1 | UPDATE_ROWS_EVENT | PARTIAL_UPDATE_ROWS_EVENT | 167 | 170 => {
            Some(RowsKind::Update)
        }
        DELETE_ROWS_EVENT_V1 | DELETE_ROWS_EVENT | 168 | 171 => Some(RowsKind::Delete),
        _ => None,
    }
}

/// A WRITE/UPDATE/DELETE_ROWS event (v1 or v2), borrowing the event's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowsEvent<'a> {
    /// The table, as the preceding TABLE_MAP event numbered it.
    pub table_id: u64,
    /// Insert, update or delete.
    pub kind: RowsKind,
    /// [`STMT_END_F`] and the foreign key / unique check flags.
    pub flags: u16,
    /// The table's column count as the event gives it.
    pub column_count: usize,
    /// The columns in each before image (UPDATE, DELETE), one bit per column.
    pub before_columns: Option<&'a [u8]>,
    /// The columns in each after image (INSERT, UPDATE).
    pub after_columns: Option<&'a [u8]>,
    /// The row images, back to back.
    rows: &'a [u8],
}

/// One row of a rows event: the before image of an UPDATE or DELETE, the after image of an
/// INSERT or UPDATE.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The row before the change (UPDATE, DELETE).
    pub before: Option<Row>,
    /// The row after the change (INSERT, UPDATE).
    pub after: Option<Row>,
}

/// What decoding a table's row images needs: its table map, one decoder per column (in
/// table order, excluded columns included) and the value options.
#[derive(Clone, Copy, Debug)]
pub struct RowContext<'c> {
    /// The TABLE_MAP of the rows' table id: how the values are laid out.
    pub map: &'c TableMap,
    /// The table's columns as the schema has them: what values come out.
    pub decoders: &'c [ColumnDecoder],
    /// `decimal.handling.mode`, `bigint.unsigned.handling.mode`, `time.precision.mode`.
    pub options: &'c TypeOptions,
}

impl<'a> RowsEvent<'a> {
    /// Decodes a rows event body (no header, no checksum) of type `event_type`.
    pub fn decode(event_type: u8, body: &'a [u8]) -> Result<RowsEvent<'a>, RowsError> {
        match event_type {
            PARTIAL_UPDATE_ROWS_EVENT => {
                return Err(RowsError::UnsupportedEvent {
                    event_type,
                    name: "PARTIAL_UPDATE_ROWS",
                    hint: "set binlog_row_value_options='' on the server so that updates log whole JSON values",
                })
            }
            t if MARIADB_COMPRESSED_ROWS_EVENTS.contains(&t) => {
                return Err(RowsError::UnsupportedEvent {
                    event_type,
                    name: "MariaDB compressed rows",
                    hint: "its row images must be uncompressed first (compressed::mariadb_rows)",
                })
            }
            _ => {}
        }
        let kind = is_rows_event(event_type).ok_or(RowsError::NotRowsEvent(event_type))?;
        let v2 = matches!(
            event_type,
            WRITE_ROWS_EVENT | UPDATE_ROWS_EVENT | DELETE_ROWS_EVENT
        );
        decode_rows_event(kind, v2, body).map_err(|f| f.at("rows event"))
    }

    /// Whether this event ends its statement.
    pub fn is_statement_end(&self) -> bool {
        self.flags & STMT_END_F != 0
    }

    /// The row images, back to back.
    pub fn row_bytes(&self) -> &'a [u8] {
        self.rows
    }

    /// The event's rows, decoded one by one with `ctx`, whose table map must be the one
    /// for this event's table id.
    pub fn changes<'c>(&self, ctx: RowContext<'c>) -> Result<Changes<'a, 'c>, RowsError> {
        self.check_map(ctx.map)?;
        if ctx.decoders.len() != ctx.map.columns.len() {
            return Err(RowsError::ColumnCount {
                table: ctx.map.qualified_name(),
                binlog: ctx.map.columns.len(),
                schema: ctx.decoders.len(),
            });
        }
        Ok(Changes {
            event: *self,
            rest: self.rows,
            ctx,
        })
    }

    /// How many rows the event holds, walking them without decoding values (for tables
    /// that are not captured but whose rows still count for positions).
    pub fn count_rows(&self, map: &TableMap) -> Result<usize, RowsError> {
        self.check_map(map)?;
        let mut rest = self.rows;
        let mut count = 0;
        while !rest.is_empty() {
            let before = rest.len();
            for present in [self.before_columns, self.after_columns]
                .into_iter()
                .flatten()
            {
                skip_image(&mut rest, present, map)?;
            }
            if rest.len() == before {
                return Err(empty_row(rest.len()));
            }
            count += 1;
        }
        Ok(count)
    }

    fn check_map(&self, map: &TableMap) -> Result<(), RowsError> {
        if map.table_id != self.table_id {
            return Err(RowsError::TableId {
                event: self.table_id,
                map: map.table_id,
            });
        }
        if map.columns.len() != self.column_count {
            return Err(RowsError::ColumnCount {
                table: map.qualified_name(),
                binlog: self.column_count,
                schema: map.columns.len(),
            });
        }
        Ok(())
    }
}

fn decode_rows_event(kind: RowsKind, v2: bool, body: &[u8]) -> Result<RowsEvent<'_>, Fault> {
    let mut b = body;
    let table_id = uint_le(take(&mut b, 6)?);
    let flags = uint_le(take(&mut b, 2)?) as u16;
    if v2 {
        // The extra-data length counts its own two bytes.
        let extra = uint_le(take(&mut b, 2)?) as usize;
        if extra < 2 {
            return Err(Fault::invalid(format!(
                "extra data length {extra} is below 2"
            )));
        }
        take(&mut b, extra - 2)?;
    }
    let column_count = length(&mut b)?;
    let bitmap_len = column_count.div_ceil(8);
    let first = take(&mut b, bitmap_len)?;
    let (before_columns, after_columns) = match kind {
        RowsKind::Insert => (None, Some(first)),
        RowsKind::Delete => (Some(first), None),
        RowsKind::Update => (Some(first), Some(take(&mut b, bitmap_len)?)),
    };
    Ok(RowsEvent {
        table_id,
        kind,
        flags,
        column_count,
        before_columns,
        after_columns,
        rows: b,
    })
}

/// The rows of a [`RowsEvent`], decoded as they are iterated. After an error the iterator
/// ends.
#[derive(Clone, Debug)]
pub struct Changes<'a, 'c> {
    event: RowsEvent<'a>,
    rest: &'a [u8],
    ctx: RowContext<'c>,
}

impl Changes<'_, '_> {
    fn decode_next(&mut self) -> Result<Change, RowsError> {
        let before = match self.event.before_columns {
            Some(present) => Some(decode_image(&mut self.rest, present, &self.ctx)?),
            None => None,
        };
        let after = match self.event.after_columns {
            Some(present) => Some(decode_image(&mut self.rest, present, &self.ctx)?),
            None => None,
        };
        Ok(Change { before, after })
    }
}

impl Iterator for Changes<'_, '_> {
    type Item = Result<Change, RowsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let before = self.rest.len();
        let mut change = self.decode_next();
        if change.is_ok() && self.rest.len() == before {
            change = Err(empty_row(before));
        }
        if change.is_err() {
            self.rest = &[];
        }
        Some(change)
    }
}

/// A row that takes no bytes while bytes are left: reading on would never end.
fn empty_row(left: usize) -> RowsError {
    RowsError::Malformed {
        what: "rows event",
        detail: format!("a row of no bytes (its images name no column) with {left} bytes left"),
    }
}

/// Decodes one row image from the front of `cursor` and advances it: a NULL bitmap over
/// the columns set in `present`, then their values. The row has a value per included
/// column ([`ColumnDecoder::included`]); excluded columns are read past, and included ones
/// missing from the image (a MINIMAL row image) are NULL.
pub fn decode_image(
    cursor: &mut &[u8],
    present: &[u8],
    ctx: &RowContext<'_>,
) -> Result<Row, RowsError> {
    let RowContext {
        map,
        decoders,
        options,
    } = *ctx;
    if decoders.len() != map.columns.len() {
        return Err(RowsError::ColumnCount {
            table: map.qualified_name(),
            binlog: map.columns.len(),
            schema: decoders.len(),
        });
    }
    let n = map.columns.len();
    let nulls = take(cursor, count_bits(present, n).div_ceil(8))
        .map_err(|_| RowsError::Truncated { what: "row image" })?;
    // One NULL per included column, then filled in place (see `put_value`).
    let mut values = Vec::with_capacity(n);
    values.resize_with(decoders.iter().filter(|d| d.included).count(), || {
        Value::Null
    });
    let mut slots = values.iter_mut();
    let mut in_image = 0;
    for (i, (column, decoder)) in map.columns.iter().zip(decoders).enumerate() {
        let slot = if decoder.included { slots.next() } else { None };
        if !bit(present, i) {
            continue;
        }
        let is_null = bit(nulls, in_image);
        in_image += 1;
        if is_null {
            continue;
        }
        let Some(bytes) = take_value(cursor, column.kind) else {
            return Err(map.column_error(i, Fault::Truncated, Some(&decoder.ty)));
        };
        if let Some(slot) = slot {
            put_value(slot, column.kind, bytes, &decoder.ty, options)
                .map_err(|f| map.column_error(i, f, Some(&decoder.ty)))?;
        }
    }
    Ok(Row(values))
}

/// Reads past one row image without decoding its values.
pub fn skip_image(cursor: &mut &[u8], present: &[u8], map: &TableMap) -> Result<(), RowsError> {
    let n = map.columns.len();
    let nulls = take(cursor, count_bits(present, n).div_ceil(8))
        .map_err(|_| RowsError::Truncated { what: "row image" })?;
    let mut in_image = 0;
    for (i, column) in map.columns.iter().enumerate() {
        if !bit(present, i) {
            continue;
        }
        let is_null = bit(nulls, in_image);
        in_image += 1;
        if !is_null && take_value(cursor, column.kind).is_none() {
            return Err(map.column_error(i, Fault::Truncated, None));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fixtures::*;

    #[test]
    fn a_row_of_every_kind_decodes_and_nulls_are_null() {
        let (cols, values) = every_kind();
        let nulls = vec![None; cols.len()];
        let rows = decode_inserts(&cols, &[values, nulls], &options()).unwrap();
        assert_eq!(
            rows[0].0,
            vec![
                Value::Int(-5),
                Value::Int(-1),
                Value::Float32(1.5),
                Value::Float64(2.5),
                Value::Decimal {
                    unscaled: twos_complement("123456789012345678900123456789", true),
                    scale: 10
                },
                Value::Bytes(vec![0x01, 0x02]),
                Value::Int(18263),
                Value::Int(-100_000),
                Value::Int(1_577_934_245_000_006),
                Value::String("2020-09-13T12:26:40.001Z".into()),
                Value::Int(2021),
                Value::String("hello".into()),
                Value::Bytes(vec![0xAB, 0, 0, 0]),
                Value::String("ét".into()),
                Value::String("b".into()),
                Value::String("a,b".into()),
                Value::String("7".into()),
                Value::Bytes(vec![1]),
                Value::Int(-45_296_000_000),
                Value::Int(1_577_934_245_000),
                Value::String("2020-09-13T12:26:40Z".into()),
                Value::Int(1),
            ]
        );
        assert!(rows[1].0.iter().all(Value::is_null), "{:?}", rows[1]);
    }

    #[test]
    fn excluded_and_absent_columns_are_read_past() {
        let (cols, values) = every_kind();
        let map = TableMap::decode(&table_map_body(7, &cols, &[])).unwrap();
        let mut decoders = decoders(&cols);
        for d in decoders.iter_mut().step_by(2) {
            d.included = false;
        }
        // Only the columns at odd positions are in the image (a MINIMAL-style image).
        let mut present = vec![0u8; cols.len().div_ceil(8)];
        let mut image_values = Vec::new();
        for i in (1..cols.len()).step_by(2) {
            present[i / 8] |= 1 << (i % 8);
            image_values.push(values[i].clone());
        }
        let bytes = [image(&image_values), image(&values)].concat();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &options(),
        };
        let mut cursor = &bytes[..];
        let partial = decode_image(&mut cursor, &present, &ctx).unwrap();
        let full = decode_image(&mut cursor, &all_columns(cols.len()), &ctx).unwrap();
        assert!(cursor.is_empty());
        assert_eq!(partial, full);
        assert_eq!(full.0.len(), cols.len() / 2);
        // Absent and included: NULL. Present in the image, but excluded: read past.
        let mut decoders = self::decoders(&cols);
        decoders[1].included = false;
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &options(),
        };
        let mut cursor = &bytes[..];
        let row = decode_image(&mut cursor, &present, &ctx).unwrap();
        assert_eq!(row.0.len(), cols.len() - 1);
        assert_eq!(row.0[0], Value::Null);
        assert_eq!(row.0[2], Value::Float64(2.5));
    }

    #[test]
    fn updates_and_deletes_give_before_and_after_images_in_v1_and_v2() {
        let cols = vec![
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            ),
            col(15, &[10, 0], MyType::Text { latin1: false }),
        ];
        let map = TableMap::decode(&table_map_body(9, &cols, &[])).unwrap();
        let decoders = decoders(&cols);
        let o = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let row = |id: i32, v: Option<&str>| {
            image(&[
                Some(id.to_le_bytes().to_vec()),
                v.map(|v| [&[v.len() as u8][..], v.as_bytes()].concat()),
            ])
        };
        let value = |id: i64, v: Option<&str>| {
            Row(vec![
                Value::Int(id),
                v.map_or(Value::Null, |v| Value::String(v.into())),
            ])
        };
        for (update, delete) in [
            (UPDATE_ROWS_EVENT_V1, DELETE_ROWS_EVENT_V1),
            (UPDATE_ROWS_EVENT, DELETE_ROWS_EVENT),
        ] {
            let bytes = [
                row(1, Some("a")),
                row(1, None),
                row(2, None),
                row(2, Some("b")),
            ]
            .concat();
            let body = rows_body(update, 9, 2, &bytes);
            let event = RowsEvent::decode(update, &body).unwrap();
            assert_eq!(event.kind, RowsKind::Update);
            assert_eq!(event.table_id, 9);
            assert!(event.is_statement_end());
            assert_eq!(event.count_rows(&map).unwrap(), 2);
            let changes: Vec<Change> = event.changes(ctx).unwrap().map(Result::unwrap).collect();
            assert_eq!(
                changes,
                vec![
                    Change {
                        before: Some(value(1, Some("a"))),
                        after: Some(value(1, None))
                    },
                    Change {
                        before: Some(value(2, None)),
                        after: Some(value(2, Some("b")))
                    },
                ]
            );
            let body = rows_body(delete, 9, 2, &row(3, Some("c")));
            let event = RowsEvent::decode(delete, &body).unwrap();
            let changes: Vec<Change> = event.changes(ctx).unwrap().map(Result::unwrap).collect();
            assert_eq!(
                changes,
                vec![Change {
                    before: Some(value(3, Some("c"))),
                    after: None
                }]
            );
        }
    }

    #[test]
    fn rows_whose_images_name_no_column_end_in_an_error_not_an_endless_loop() {
        // Found by fuzzing: table id 1, flags, 1 column, an empty column bitmap, then bytes
        // no image ever consumes.
        let map = TableMap::decode(&[1, 0, 0, 0, 0, 0, 1, 0, 1, b'd', 0, 1, b't', 0, 1, 3, 0, 0])
            .unwrap();
        let body = [1, 0, 0, 0, 0, 0, 1, 0, 1, 0b0, 7, 7, 7];
        let event = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body).unwrap();
        let e = event.count_rows(&map).unwrap_err();
        assert!(e.to_string().contains("a row of no bytes"), "{e}");
        let decoders = [ColumnDecoder {
            ty: MyType::Int {
                bytes: 4,
                unsigned: false,
            },
            included: true,
        }];
        let options = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &options,
        };
        let changes: Vec<_> = event.changes(ctx).unwrap().take(5).collect();
        assert_eq!(changes.len(), 1);
        assert!(changes[0].is_err());
    }

    #[test]
    fn refused_events_name_the_setting_to_change() {
        let err = RowsEvent::decode(PARTIAL_UPDATE_ROWS_EVENT, &[]).unwrap_err();
        assert!(
            err.to_string().contains("binlog_row_value_options=''"),
            "{err}"
        );
        for t in 166..=171u8 {
            let err = RowsEvent::decode(t, &[]).unwrap_err();
            assert!(err.to_string().contains("uncompressed first"), "{err}");
            assert!(is_rows_event(t).is_some());
        }
        assert_eq!(
            RowsEvent::decode(TABLE_MAP_EVENT, &[]).unwrap_err(),
            RowsError::NotRowsEvent(TABLE_MAP_EVENT)
        );
        assert_eq!(is_rows_event(23), Some(RowsKind::Insert));
        assert_eq!(is_rows_event(31), Some(RowsKind::Update));
        assert_eq!(is_rows_event(39), Some(RowsKind::Update));
        assert_eq!(is_rows_event(32), Some(RowsKind::Delete));
        assert_eq!(is_rows_event(19), None);
        assert_eq!(is_rows_event(20), None);
    }

    #[test]
    fn a_type_that_no_longer_fits_names_the_column() {
        let names = [
            &[super::super::table_map::field::COLUMN_NAME][..],
            &[7, 2],
            b"id",
            &[3],
            b"qty",
        ]
        .concat();
        let cols = vec![
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            ),
            col(
                2,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            ),
        ];
        let map = TableMap::decode(&table_map_body(7, &cols, &names)).unwrap();
        let decoders = decoders(&cols);
        let body = rows_body(
            WRITE_ROWS_EVENT_V1,
            7,
            2,
            &image(&[Some(vec![1, 0, 0, 0]), Some(vec![2, 0])]),
        );
        let event = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body).unwrap();
        let o = options();
        let err = event
            .changes(RowContext {
                map: &map,
                decoders: &decoders,
                options: &o,
            })
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        match &err {
            RowsError::Column {
                table,
                index,
                column,
                detail,
            } => {
                assert_eq!(
                    (table.as_str(), *index, column.as_str()),
                    ("db.t", 1, "qty")
                );
                assert!(detail.contains("altered"), "{detail}");
            }
            other => panic!("expected a column error, got {other:?}"),
        }
        // Fewer schema columns than the binlog's.
        let err = event
            .changes(RowContext {
                map: &map,
                decoders: &decoders[..1],
                options: &o,
            })
            .unwrap_err();
        assert!(
            matches!(
                err,
                RowsError::ColumnCount {
                    binlog: 2,
                    schema: 1,
                    ..
                }
            ),
            "{err}"
        );
        // A table map for another table id.
        let other = TableMap::decode(&table_map_body(8, &cols, &[])).unwrap();
        assert!(event.count_rows(&other).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (cols, values) = every_kind();
        let map = TableMap::decode(&table_map_body(7, &cols, &[])).unwrap();
        let decoders = decoders(&cols);
        let o = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let valid = rows_body(WRITE_ROWS_EVENT_V1, 7, cols.len(), &image(&values));
        let maps = [table_map_body(7, &cols, &[]), hex(MARIADB_TABLE_MAP)];
        let json = doc(
            &J::Obj(vec![
                (
                    "a".into(),
                    J::Arr(vec![J::I16(1), J::Str("x".into()), J::F64(0.5)]),
                ),
                ("b".into(), J::Obj(vec![("c".into(), J::Null)])),
            ]),
            false,
        );
        let mutate = |bytes: &[u8], next: &mut dyn FnMut() -> u64| {
            let mut b = bytes.to_vec();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            b
        };
        for round in 0..20_000 {
            // A valid event with a few bytes changed, or random bytes.
            let body = if round % 4 == 0 {
                (0..next() % 200).map(|_| next() as u8).collect()
            } else {
                mutate(&valid, &mut next)
            };
            if let Ok(event) = RowsEvent::decode(WRITE_ROWS_EVENT_V1, &body) {
                let _ = event.count_rows(&map);
                if let Ok(changes) = event.changes(ctx) {
                    changes.for_each(drop);
                }
            }
            let _ = TableMap::decode(&mutate(&maps[round % 2], &mut next));
            let _ = TableMap::decode(&body);
            let _ = super::super::json::to_text(&mutate(&json, &mut next));
            let _ = super::super::json::to_text(&body);
        }
    }

    fn time_rows(label: &str, cols: &[Col], values: &[Option<Vec<u8>>]) -> f64 {
        let map = TableMap::decode(&table_map_body(7, cols, &[])).unwrap();
        let decoders = decoders(cols);
        let o = options();
        let ctx = RowContext {
            map: &map,
            decoders: &decoders,
            options: &o,
        };
        let row = image(values);
        let present = all_columns(cols.len());
        let n = 1_000_000;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            for _ in 0..n {
                let mut cursor = std::hint::black_box(&row[..]);
                let decoded = decode_image(&mut cursor, &present, &ctx).unwrap();
                std::hint::black_box(decoded);
            }
            best = best.min(start.elapsed().as_nanos() as f64 / f64::from(n));
        }
        println!("{label}: {best:.1} ns/row (best of 5 x 1M)");
        best
    }

    /// `cargo test --release -p spillway-mysql --lib rows::tests::decode_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn decode_speed() {
        let int = || {
            col(
                3,
                &[],
                MyType::Int {
                    bytes: 4,
                    unsigned: false,
                },
            )
        };
        let ints: Vec<Option<Vec<u8>>> = (0..5)
            .map(|i: i32| Some(i.to_le_bytes().to_vec()))
            .collect();
        time_rows("5 ints", &vec![int(); 5], &ints);
        let cols = vec![
            int(),
            col(15, &[0x2C, 0x01], MyType::Text { latin1: false }),
            col(18, &[0], MyType::DateTime { fsp: 0 }),
            col(
                246,
                &[10, 2],
                MyType::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            col(5, &[8], MyType::Double),
        ];
        let values = vec![
            Some(42i32.to_le_bytes().to_vec()),
            Some([&[11u8, 0][..], b"hello world"].concat()),
            Some(encode_datetime2((2024, 5, 6, 7, 8, 9), 0, 0)),
            Some(encode_decimal("1234.56", 10, 2)),
            Some(3.25f64.to_le_bytes().to_vec()),
        ];
        time_rows(
            "int, varchar, datetime, decimal(10,2), double",
            &cols,
            &values,
        );
        let start = std::time::Instant::now();
        for _ in 0..1_000_000 {
            let v = vec![
                Value::Int(1),
                Value::String(std::hint::black_box("hello world").to_string()),
                Value::Int(2),
                Value::Decimal {
                    unscaled: std::hint::black_box(&[1u8, 2, 3][..]).to_vec(),
                    scale: 2,
                },
                Value::Float64(1.0),
            ];
            std::hint::black_box(Row(v));
        }
        println!(
            "allocating the same row (3 allocations): {:.1} ns/row",
            start.elapsed().as_nanos() as f64 / 1e6
        );
    }
}
