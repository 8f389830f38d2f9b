//! Column values as a projection holds them between a record and a table: few kinds, the
//! column's [`ColumnType`] saying what they mean (an `Int` of a `Date` column is a day
//! number, of a `Timestamp` column microseconds since the epoch).

use crate::shape::{Column, ColumnType};
use apache_avro::types::Value as Avro;
use spillway_core::convert::decimal_text;
use spillway_registry::{avro_integer, avro_to_json};

/// One column value.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    /// Integers, days, microseconds.
    Int(i64),
    Float(f64),
    /// Text, decimals (exact digits), zoned times, JSON documents, UUIDs.
    Text(String),
    Bytes(Vec<u8>),
    Array(Vec<Cell>),
    /// The source did not send this value (PostgreSQL's unchanged TOAST): the table keeps
    /// the value it has.
    Unavailable,
}

impl Cell {
    /// Appends a canonical encoding (equal cells, equal bytes) for keying rows.
    pub fn encode_key(&self, out: &mut Vec<u8>) {
        match self {
            Cell::Null => out.push(0),
            Cell::Bool(b) => out.extend([1, u8::from(*b)]),
            Cell::Int(i) => {
                out.push(2);
                out.extend(i.to_be_bytes());
            }
            Cell::Float(f) => {
                out.push(3);
                out.extend(f.to_bits().to_be_bytes());
            }
            Cell::Text(s) => {
                out.push(4);
                out.extend((s.len() as u64).to_be_bytes());
                out.extend(s.as_bytes());
            }
            Cell::Bytes(b) => {
                out.push(5);
                out.extend((b.len() as u64).to_be_bytes());
                out.extend(b);
            }
            Cell::Array(items) => {
                out.push(6);
                out.extend((items.len() as u64).to_be_bytes());
                for item in items {
                    item.encode_key(out);
                }
            }
            Cell::Unavailable => out.push(7),
        }
    }
}

/// The largest decimal scale a value may have (PostgreSQL's numeric allows 1000): a
/// larger one from a record is refused rather than written out digit by digit.
pub const MAX_SCALE: u32 = 1000;

/// The exact text of an unscaled decimal, refusing scales past [`MAX_SCALE`].
pub fn decimal(unscaled: &[u8], scale: u32) -> Result<Cell, String> {
    if scale > MAX_SCALE {
        return Err(format!(
            "a decimal scale of {scale} is out of range (at most {MAX_SCALE})"
        ));
    }
    Ok(Cell::Text(decimal_text(unscaled, scale)))
}

/// What decoding needs besides the column: the placeholder of unavailable values.
pub struct CellContext<'a> {
    pub placeholder: &'a str,
}

/// A value of a record decoded from Avro.
pub fn from_avro(column: &Column, value: &Avro, cx: &CellContext<'_>) -> Result<Cell, String> {
    from_avro_typed(&column.ty, value, cx)
}

fn from_avro_typed(ty: &ColumnType, value: &Avro, cx: &CellContext<'_>) -> Result<Cell, String> {
    let value = match value {
        Avro::Union(_, inner) => inner.as_ref(),
        other => other,
    };
    if matches!(value, Avro::Null) {
        return Ok(Cell::Null);
    }
    let mismatch = || format!("{value:?} is not a {ty:?} value");
    let integer = avro_integer;
    let text = |v: &Avro| -> Option<String> {
        match v {
            Avro::String(s) | Avro::Enum(_, s) => Some(s.clone()),
            Avro::Uuid(u) => Some(u.to_string()),
            _ => None,
        }
    };
    let bytes = |v: &Avro| -> Option<Vec<u8>> {
        match v {
            Avro::Bytes(b) | Avro::Fixed(_, b) => Some(b.clone()),
            Avro::Decimal(d) => <Vec<u8>>::try_from(d).ok(),
            _ => None,
        }
    };
    Ok(match ty {
        ColumnType::Int16
        | ColumnType::Int32
        | ColumnType::Int64
        | ColumnType::Date
        | ColumnType::Interval => Cell::Int(integer(value).ok_or_else(mismatch)?),
        ColumnType::Time { unit } | ColumnType::Timestamp { unit } => {
            Cell::Int(unit.to_micros(integer(value).ok_or_else(mismatch)?))
        }
        ColumnType::Float32 | ColumnType::Float64 => Cell::Float(match value {
            Avro::Float(f) => f64::from(*f),
            Avro::Double(f) => *f,
            _ => return Err(mismatch()),
        }),
        ColumnType::Boolean => match value {
            Avro::Boolean(b) => Cell::Bool(*b),
            _ => return Err(mismatch()),
        },
        ColumnType::Text
        | ColumnType::ZonedTimestamp
        | ColumnType::ZonedTime
        | ColumnType::Json
        | ColumnType::Uuid
        | ColumnType::Xml => {
            let s = text(value).ok_or_else(mismatch)?;
            if s == cx.placeholder {
                Cell::Unavailable
            } else {
                Cell::Text(s)
            }
        }
        ColumnType::Bytes => {
            let b = bytes(value).ok_or_else(mismatch)?;
            if b == cx.placeholder.as_bytes() {
                Cell::Unavailable
            } else {
                Cell::Bytes(b)
            }
        }
        ColumnType::Decimal { scale, .. } => match value {
            Avro::BigDecimal(d) => Cell::Text(d.to_string()),
            _ => decimal(&bytes(value).ok_or_else(mismatch)?, *scale)?,
        },
        ColumnType::VariableDecimal => match value {
            Avro::Record(fields) => {
                let scale = fields
                    .iter()
                    .find(|(n, _)| n == "scale")
                    .and_then(|(_, v)| integer(v))
                    .ok_or_else(mismatch)?;
                let unscaled = fields
                    .iter()
                    .find(|(n, _)| n == "value")
                    .and_then(|(_, v)| bytes(v))
                    .ok_or_else(mismatch)?;
                let scale = u32::try_from(scale)
                    .map_err(|_| format!("a decimal scale of {scale} is out of range"))?;
                decimal(&unscaled, scale)?
            }
            _ => return Err(mismatch()),
        },
        ColumnType::Array(item) => match value {
            Avro::Array(items) => {
                if let [single] = items.as_slice() {
                    if text(strip_union(single)).as_deref() == Some(cx.placeholder) {
                        return Ok(Cell::Unavailable);
                    }
                }
                Cell::Array(
                    items
                        .iter()
                        .map(|v| from_avro_typed(item, v, cx))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => return Err(mismatch()),
        },
        ColumnType::Document => Cell::Text(avro_to_json(value).to_string()),
    })
}

fn strip_union(value: &Avro) -> &Avro {
    match value {
        Avro::Union(_, inner) => inner,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Unit;

    fn col(ty: ColumnType) -> Column {
        Column {
            name: "c".into(),
            ty,
            optional: true,
        }
    }

    const CX: CellContext<'static> = CellContext {
        placeholder: "__debezium_unavailable_value",
    };

    #[test]
    fn avro_values_become_the_same_cells() {
        let d = col(ColumnType::Decimal {
            precision: Some(5),
            scale: 2,
        });
        let v = Avro::Union(1, Box::new(Avro::Bytes(vec![0x30, 0x39])));
        assert_eq!(from_avro(&d, &v, &CX).unwrap(), Cell::Text("123.45".into()));
        let t = col(ColumnType::Timestamp { unit: Unit::Micros });
        assert_eq!(from_avro(&t, &Avro::Long(7), &CX).unwrap(), Cell::Int(7));
        let n = col(ColumnType::Int32);
        assert_eq!(
            from_avro(&n, &Avro::Union(0, Box::new(Avro::Null)), &CX).unwrap(),
            Cell::Null
        );
    }
}
