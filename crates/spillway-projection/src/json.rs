//! Rows straight from the JSON converter's payload into cells: serde seeds that know each
//! field's column type, so no `serde_json::Value` tree is built per record and field names
//! are compared where they lie in the record's bytes.

use crate::cell::{decimal, Cell, CellContext};
use crate::shape::{Column, ColumnType};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The `before`, `after` and `op` of a Debezium change event's payload.
pub struct Envelope {
    pub op: Option<String>,
    pub before: Option<Vec<Cell>>,
    pub after: Option<Vec<Cell>>,
}

/// Reads an envelope payload whose rows have `columns`.
pub struct EnvelopeSeed<'a> {
    pub columns: &'a [Column],
    pub cx: &'a CellContext<'a>,
}

/// Reads a row object of `columns` (fields missing from it are null).
pub struct RowSeed<'a> {
    pub columns: &'a [Column],
    pub cx: &'a CellContext<'a>,
}

/// Reads one value of a column of type `ty`.
pub struct CellSeed<'a> {
    pub ty: &'a ColumnType,
    pub cx: &'a CellContext<'a>,
}

/// A map key, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Envelope;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Envelope, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a change event payload")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut envelope = Envelope {
            op: None,
            before: None,
            after: None,
        };
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                side @ ("before" | "after") => {
                    let row = map.next_value_seed(OptionalRow(RowSeed {
                        columns: self.columns,
                        cx: self.cx,
                    }))?;
                    if side == "before" {
                        envelope.before = row;
                    } else {
                        envelope.after = row;
                    }
                }
                "op" => envelope.op = map.next_value::<Option<String>>()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(envelope)
    }
}

/// A row, or null.
struct OptionalRow<'a>(RowSeed<'a>);

impl<'de> DeserializeSeed<'de> for OptionalRow<'_> {
    type Value = Option<Vec<Cell>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptionalRow<'_> {
    type Value = Option<Vec<Cell>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Vec<Cell>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Cell>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Vec<Cell>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Cell>, A::Error> {
        let mut cells = vec![Cell::Null; self.columns.len()];
        // Fields come in schema order: the next column is the first guess.
        let mut next = 0;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let name = key.as_str();
            let index = match self.columns.get(next) {
                Some(c) if c.name == name => Some(next),
                _ => self.columns.iter().position(|c| c.name == name),
            };
            match index {
                Some(i) => {
                    cells[i] = map
                        .next_value_seed(CellSeed {
                            ty: &self.columns[i].ty,
                            cx: self.cx,
                        })
                        .map_err(|e| de::Error::custom(format!("field {name:?}: {e}")))?;
                    next = i + 1;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(cells)
    }
}

impl<'de> DeserializeSeed<'de> for CellSeed<'_> {
    type Value = Cell;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cell, D::Error> {
        if *self.ty == ColumnType::Document {
            // A document keeps its JSON text.
            let raw: Box<RawValue> = de::Deserialize::deserialize(d)?;
            return Ok(match raw.get() {
                "null" => Cell::Null,
                text => Cell::Text(text.to_string()),
            });
        }
        d.deserialize_any(self)
    }
}

impl CellSeed<'_> {
    fn mismatch<E: de::Error>(&self, what: impl fmt::Display) -> E {
        E::custom(format!("{what} is not a {:?} value", self.ty))
    }

    fn integer<E: de::Error>(&self, v: i64) -> Result<Cell, E> {
        match self.ty {
            ColumnType::Int16
            | ColumnType::Int32
            | ColumnType::Int64
            | ColumnType::Date
            | ColumnType::Interval => Ok(Cell::Int(v)),
            ColumnType::Time { unit } | ColumnType::Timestamp { unit } => {
                Ok(Cell::Int(unit.to_micros(v)))
            }
            ColumnType::Float32 | ColumnType::Float64 => Ok(Cell::Float(v as f64)),
            _ => Err(self.mismatch(v)),
        }
    }
}

fn base64_bytes<E: de::Error>(v: &str) -> Result<Vec<u8>, E> {
    STANDARD
        .decode(v)
        .map_err(|e| E::custom(format!("{v:?} is not base64: {e}")))
}

impl<'de> Visitor<'de> for CellSeed<'_> {
    type Value = Cell;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {:?} value", self.ty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Cell, E> {
        Ok(Cell::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Cell, E> {
        Ok(Cell::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Cell, D::Error> {
        self.deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Cell, E> {
        match self.ty {
            ColumnType::Boolean => Ok(Cell::Bool(v)),
            _ => Err(self.mismatch(v)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell, E> {
        self.integer(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell, E> {
        match i64::try_from(v) {
            Ok(i) => self.integer(i),
            Err(_) => Err(self.mismatch(v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell, E> {
        match self.ty {
            ColumnType::Float32 | ColumnType::Float64 => Ok(Cell::Float(v)),
            _ => Err(self.mismatch(v)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell, E> {
        // The placeholder of a value the source did not send, whatever the column's type.
        if v == self.cx.placeholder {
            return Ok(Cell::Unavailable);
        }
        Ok(match self.ty {
            ColumnType::Text
            | ColumnType::ZonedTimestamp
            | ColumnType::ZonedTime
            | ColumnType::Json
            | ColumnType::Uuid
            | ColumnType::Xml => Cell::Text(v.to_string()),
            ColumnType::Bytes => {
                let bytes = base64_bytes(v)?;
                if bytes == self.cx.placeholder.as_bytes() {
                    Cell::Unavailable
                } else {
                    Cell::Bytes(bytes)
                }
            }
            ColumnType::Decimal { scale, .. } => {
                decimal(&base64_bytes(v)?, *scale).map_err(E::custom)?
            }
            // Non-finite floats are strings in JSON.
            ColumnType::Float32 | ColumnType::Float64 => Cell::Float(match v {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                _ => return Err(self.mismatch(format!("{v:?}"))),
            }),
            _ => return Err(self.mismatch(format!("{v:?}"))),
        })
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Cell, E> {
        if matches!(
            self.ty,
            ColumnType::Text | ColumnType::Json | ColumnType::Xml
        ) && v != self.cx.placeholder
        {
            return Ok(Cell::Text(v));
        }
        self.visit_str(&v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell, A::Error> {
        let ColumnType::Array(item) = self.ty else {
            return Err(self.mismatch("an array"));
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(cell) = seq.next_element_seed(CellSeed {
            ty: item,
            cx: self.cx,
        })? {
            items.push(cell);
        }
        // An unchanged TOASTed array is a one-element array of the placeholder.
        if items.len() == 1 && items[0] == Cell::Unavailable {
            return Ok(Cell::Unavailable);
        }
        Ok(Cell::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell, A::Error> {
        if *self.ty != ColumnType::VariableDecimal {
            return Err(self.mismatch("an object"));
        }
        let (mut scale, mut value) = (None, None);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "scale" => scale = Some(map.next_value::<u32>()?),
                "value" => value = Some(map.next_value::<String>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (scale, value) {
            (Some(scale), Some(value)) => {
                decimal(&base64_bytes(&value)?, scale).map_err(de::Error::custom)
            }
            _ => Err(self.mismatch("a decimal without scale or value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Unit;

    const CX: CellContext<'static> = CellContext {
        placeholder: "__debezium_unavailable_value",
    };

    fn cell(ty: ColumnType, json: &str) -> Result<Cell, String> {
        let mut d = serde_json::Deserializer::from_str(json);
        CellSeed { ty: &ty, cx: &CX }
            .deserialize(&mut d)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn json_values_become_cells_by_their_column_type() {
        let cases = [
            (ColumnType::Int32, "5", Cell::Int(5)),
            (
                ColumnType::Timestamp { unit: Unit::Millis },
                "1500",
                Cell::Int(1_500_000),
            ),
            (ColumnType::Time { unit: Unit::Nanos }, "1999", Cell::Int(1)),
            (ColumnType::Float64, "2.5", Cell::Float(2.5)),
            (ColumnType::Float64, "3", Cell::Float(3.0)),
            (
                ColumnType::Decimal {
                    precision: Some(5),
                    scale: 2,
                },
                "\"MDk=\"",
                Cell::Text("123.45".into()),
            ),
            (
                ColumnType::VariableDecimal,
                r#"{"scale": 3, "value": "/w=="}"#,
                Cell::Text("-0.001".into()),
            ),
            (ColumnType::Bytes, "\"AP8=\"", Cell::Bytes(vec![0, 255])),
            (ColumnType::Text, "\"a\\\"b\"", Cell::Text("a\"b".into())),
            (
                ColumnType::Text,
                "\"__debezium_unavailable_value\"",
                Cell::Unavailable,
            ),
            (
                ColumnType::Array(Box::new(ColumnType::Int32)),
                "[1, null]",
                Cell::Array(vec![Cell::Int(1), Cell::Null]),
            ),
            (
                ColumnType::Array(Box::new(ColumnType::Int32)),
                "[\"__debezium_unavailable_value\"]",
                Cell::Unavailable,
            ),
            (
                ColumnType::Document,
                r#"{"a":1}"#,
                Cell::Text("{\"a\":1}".into()),
            ),
            (ColumnType::Boolean, "null", Cell::Null),
        ];
        for (ty, json, want) in cases {
            assert_eq!(cell(ty.clone(), json).unwrap(), want, "{ty:?} {json}");
        }
        assert!(matches!(cell(ColumnType::Float64, "\"NaN\""), Ok(Cell::Float(f)) if f.is_nan()));
        let e = cell(ColumnType::Int32, "\"x\"").unwrap_err();
        assert!(e.contains("Int32"), "{e}");
        let e = cell(
            ColumnType::VariableDecimal,
            r#"{"scale": 4294967295, "value": "AQ=="}"#,
        )
        .unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        assert!(cell(ColumnType::Bytes, "\"not base64!\"")
            .unwrap_err()
            .contains("base64"));
    }

    #[test]
    fn rows_take_fields_by_name_in_any_order() {
        let columns = vec![
            Column::new("id", ColumnType::Int32, false),
            Column::new("name", ColumnType::Text, true),
            Column::new("gone", ColumnType::Text, true),
        ];
        let mut d =
            serde_json::Deserializer::from_str(r#"{"name": "a", "extra": [1, {"x": 2}], "id": 7}"#);
        let row = RowSeed {
            columns: &columns,
            cx: &CX,
        }
        .deserialize(&mut d)
        .unwrap();
        assert_eq!(row, vec![Cell::Int(7), Cell::Text("a".into()), Cell::Null]);
        let mut d = serde_json::Deserializer::from_str(r#"{"id": "seven"}"#);
        let e = RowSeed {
            columns: &columns,
            cx: &CX,
        }
        .deserialize(&mut d)
        .unwrap_err();
        assert!(e.to_string().contains("field \"id\""), "{e}");
    }
}
