//! MySQL's binary JSON (`json_binary`) as JSON text, through `serde_json::Value` as the old
//! decoder did (so object keys come out in the same order under either `serde_json` map).

use super::cursor::{sign_extend, take, take_byte, uint_le};
use super::decimal::BinaryDecimal;
use super::error::Fault;
use super::temporal::{packed_datetime_parts, packed_time_micros};
use base64::Engine as _;
use serde_json::Value as Json;

const SMALL_OBJECT: u8 = 0x00;
const LARGE_OBJECT: u8 = 0x01;
const SMALL_ARRAY: u8 = 0x02;
const LARGE_ARRAY: u8 = 0x03;
const LITERAL: u8 = 0x04;
const INT16: u8 = 0x05;
const UINT16: u8 = 0x06;
const INT32: u8 = 0x07;
const UINT32: u8 = 0x08;
const INT64: u8 = 0x09;
const UINT64: u8 = 0x0A;
const DOUBLE: u8 = 0x0B;
const STRING: u8 = 0x0C;
const OPAQUE: u8 = 0x0F;

/// Deeper than MySQL's limit of 100 is not a document the server wrote.
const MAX_DEPTH: usize = 128;

/// A document as JSON text; an empty document is `null`, as MySQL reads it.
pub(crate) fn to_text(doc: &[u8]) -> Result<String, Fault> {
    let Some((&ty, data)) = doc.split_first() else {
        return Ok("null".to_string());
    };
    // Every value takes at least one byte of its own, so more values than bytes means
    // offsets that point back into their container.
    let mut budget = doc.len();
    Ok(value(ty, data, 0, &mut budget)?.to_string())
}

fn value(ty: u8, data: &[u8], depth: usize, budget: &mut usize) -> Result<Json, Fault> {
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| Fault::invalid("JSON value offsets loop"))?;
    let fixed = |n: usize| data.get(..n).ok_or(Fault::Truncated);
    Ok(match ty {
        SMALL_OBJECT | LARGE_OBJECT | SMALL_ARRAY | LARGE_ARRAY => container(
            data,
            matches!(ty, LARGE_OBJECT | LARGE_ARRAY),
            matches!(ty, SMALL_OBJECT | LARGE_OBJECT),
            depth,
            budget,
        )?,
        LITERAL => literal(fixed(1)?[0])?,
        INT16 => Json::from(sign_extend(uint_le(fixed(2)?), 16)),
        UINT16 => Json::from(uint_le(fixed(2)?)),
        INT32 => Json::from(sign_extend(uint_le(fixed(4)?), 32)),
        UINT32 => Json::from(uint_le(fixed(4)?)),
        INT64 => Json::from(uint_le(fixed(8)?) as i64),
        UINT64 => Json::from(uint_le(fixed(8)?)),
        DOUBLE => Json::from(f64::from_bits(uint_le(fixed(8)?))),
        STRING => {
            let mut d = data;
            let len = var_length(&mut d)?;
            let s = std::str::from_utf8(take(&mut d, len)?)
                .map_err(|_| Fault::invalid("a JSON string is not UTF-8"))?;
            Json::String(s.to_string())
        }
        OPAQUE => {
            let mut d = data;
            let field_type = take_byte(&mut d)?;
            let len = var_length(&mut d)?;
            opaque(field_type, take(&mut d, len)?)?
        }
        other => {
            return Err(Fault::invalid(format!(
                "unknown JSON value type {other:#04x}"
            )))
        }
    })
}

fn literal(b: u8) -> Result<Json, Fault> {
    match b {
        0 => Ok(Json::Null),
        1 => Ok(Json::Bool(true)),
        2 => Ok(Json::Bool(false)),
        other => Err(Fault::invalid(format!("unknown JSON literal {other}"))),
    }
}

/// An object or array: element count and byte size, key entries (offset, length) for
/// objects, value entries (type, then an offset or the value itself when it fits),
/// then the keys and values. Offsets count from the start of the container.
fn container(
    data: &[u8],
    large: bool,
    object: bool,
    depth: usize,
    budget: &mut usize,
) -> Result<Json, Fault> {
    if depth >= MAX_DEPTH {
        return Err(Fault::invalid("JSON is nested too deeply"));
    }
    let w = if large { 4 } else { 2 };
    let mut header = data;
    let count = uint_le(take(&mut header, w)?) as usize;
    let size = uint_le(take(&mut header, w)?) as usize;
    let data = data.get(..size).ok_or(Fault::Truncated)?;
    let key_entry = w + 2;
    let value_entry = 1 + w;
    let keys_at = 2 * w;
    let values_at = keys_at
        + if object {
            count.saturating_mul(key_entry)
        } else {
            0
        };
    count
        .checked_mul(value_entry)
        .and_then(|v| v.checked_add(values_at))
        .filter(|&end| end <= size)
        .ok_or(Fault::Truncated)?;
    let mut map = serde_json::Map::new();
    let mut array = Vec::with_capacity(if object { 0 } else { count });
    for i in 0..count {
        let entry = data
            .get(values_at + i * value_entry..values_at + (i + 1) * value_entry)
            .ok_or(Fault::Truncated)?;
        let (ty, field) = (entry[0], &entry[1..]);
        let inlined = match ty {
            LITERAL | INT16 | UINT16 => true,
            INT32 | UINT32 => large,
            _ => false,
        };
        let v = if inlined {
            value(ty, field, depth + 1, budget)?
        } else {
            let offset = uint_le(field) as usize;
            let at = data.get(offset..).ok_or(Fault::Truncated)?;
            value(ty, at, depth + 1, budget)?
        };
        if object {
            let entry = data
                .get(keys_at + i * key_entry..keys_at + (i + 1) * key_entry)
                .ok_or(Fault::Truncated)?;
            let offset = uint_le(&entry[..w]) as usize;
            let len = uint_le(&entry[w..]) as usize;
            let key = offset
                .checked_add(len)
                .and_then(|end| data.get(offset..end))
                .ok_or(Fault::Truncated)?;
            let key =
                std::str::from_utf8(key).map_err(|_| Fault::invalid("a JSON key is not UTF-8"))?;
            map.insert(key.to_string(), v);
        } else {
            array.push(v);
        }
    }
    Ok(if object {
        Json::Object(map)
    } else {
        Json::Array(array)
    })
}

/// A length in 7-bit groups, least significant first, the high bit marking more.
fn var_length(buf: &mut &[u8]) -> Result<usize, Fault> {
    let mut n: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = take_byte(buf)?;
        n |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Ok(n as usize);
        }
    }
    Err(Fault::invalid("a JSON length runs past 5 bytes"))
}

/// A MySQL value inside JSON (`CAST(... AS JSON)` of a DECIMAL, date or time) as
/// MySQL's own JSON text shows it; other types as `base64:type<n>:<data>`, as MySQL
/// prints them. (The old decoder refused documents with such values.)
fn opaque(field_type: u8, data: &[u8]) -> Result<Json, Fault> {
    const NEWDECIMAL: u8 = 246;
    const DATE: u8 = 10;
    const TIME: u8 = 11;
    const DATETIME: u8 = 12;
    const TIMESTAMP: u8 = 7;
    let packed =
        || -> Result<i64, Fault> { Ok(uint_le(data.get(..8).ok_or(Fault::Truncated)?) as i64) };
    Ok(match field_type {
        NEWDECIMAL => {
            let [precision, scale, bin @ ..] = data else {
                return Err(Fault::Truncated);
            };
            let mut decimal = BinaryDecimal::EMPTY;
            decimal.read(bin, *precision, *scale, true)?;
            Json::from(decimal.to_f64())
        }
        DATE | DATETIME | TIMESTAMP => {
            let packed = packed()?;
            let micros = packed.unsigned_abs() & 0xFF_FFFF;
            let ((year, month, day), (h, m, s)) =
                packed_datetime_parts((packed.unsigned_abs() >> 24) as i64);
            Json::String(if field_type == DATE {
                format!("{year:04}-{month:02}-{day:02}")
            } else {
                format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}.{micros:06}")
            })
        }
        TIME => {
            let micros = packed_time_micros(packed()?);
            let a = micros.unsigned_abs();
            let seconds = a / 1_000_000;
            Json::String(format!(
                "{}{:02}:{:02}:{:02}.{:06}",
                if micros < 0 { "-" } else { "" },
                seconds / 3600,
                seconds / 60 % 60,
                seconds % 60,
                a % 1_000_000
            ))
        }
        other => Json::String(format!(
            "base64:type{other}:{}",
            base64::engine::general_purpose::STANDARD.encode(data)
        )),
    })
}

#[cfg(test)]
mod tests {
    use crate::decode::fixtures::*;

    fn json_column(document: &[u8]) -> Value {
        let c = col(245, &[4], MyType::Json);
        let mut bytes = (document.len() as u32).to_le_bytes().to_vec();
        bytes.extend(document);
        ok(&c, &bytes, &options())
    }

    #[test]
    fn binary_json_becomes_json_text() {
        let sample = || {
            J::Obj(vec![
                ("a".into(), J::I16(1)),
                (
                    "bb".into(),
                    J::Arr(vec![J::Bool(true), J::Null, J::Str("x\"y".into())]),
                ),
                ("c".into(), J::F64(1.5)),
                ("d".into(), J::I64(-9_000_000_000)),
                ("e".into(), J::U64(u64::MAX)),
                ("f".into(), J::I32(-70_000)),
                ("long".into(), J::Str("é".repeat(100))),
                ("nested".into(), J::Obj(vec![("k".into(), J::Arr(vec![]))])),
            ])
        };
        let expected = serde_json::json!({
            "a": 1, "bb": [true, null, "x\"y"], "c": 1.5, "d": -9_000_000_000i64,
            "e": u64::MAX, "f": -70_000, "long": "é".repeat(100), "nested": {"k": []}
        })
        .to_string();
        for large in [false, true] {
            assert_eq!(
                json_column(&doc(&sample(), large)),
                Value::String(expected.clone()),
                "large: {large}"
            );
        }
        assert_eq!(json_column(&[]), Value::String("null".into()));
        assert_eq!(
            json_column(&doc(&J::Str("top".into()), false)),
            Value::String("\"top\"".into())
        );
        assert_eq!(
            json_column(&doc(&J::I16(-5), false)),
            Value::String("-5".into())
        );
    }

    #[test]
    fn json_opaque_values_print_as_mysql_shows_them() {
        let date_packed: i64 = (((2020 * 13 + 1) << 5 | 2) << 17) << 24;
        let datetime_packed: i64 =
            ((((2020 * 13 + 1) << 5 | 2) << 17 | (3 << 12 | 4 << 6 | 5)) << 24) + 500_000;
        let time_packed: i64 = -(((1 << 12) << 24) + 250_000);
        let mut decimal = vec![5, 2];
        decimal.extend(encode_decimal("-12.50", 5, 2));
        let j = J::Arr(vec![
            J::Opaque(10, date_packed.to_le_bytes().to_vec()),
            J::Opaque(12, datetime_packed.to_le_bytes().to_vec()),
            J::Opaque(11, time_packed.to_le_bytes().to_vec()),
            J::Opaque(246, decimal),
            J::Opaque(252, vec![1, 2, 3]),
        ]);
        assert_eq!(
            json_column(&doc(&j, false)),
            Value::String(
                serde_json::json!([
                    "2020-01-02",
                    "2020-01-02 03:04:05.500000",
                    "-01:00:00.250000",
                    -12.5,
                    "base64:type252:AQID"
                ])
                .to_string()
            )
        );
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        // An array whose element points back at the array itself.
        let looping = [0x02, 1, 0, 8, 0, 0x02, 0, 0];
        assert!(one(
            &col(245, &[4], MyType::Json),
            &[&8u32.to_le_bytes()[..], &looping].concat(),
            &options()
        )
        .is_err());
        let good = doc(
            &J::Obj(vec![(
                "k".into(),
                J::Arr(vec![J::Str("v".into()), J::F64(2.0)]),
            )]),
            false,
        );
        for cut in 0..good.len() {
            let c = col(245, &[4], MyType::Json);
            let mut bytes = (cut as u32).to_le_bytes().to_vec();
            bytes.extend(&good[..cut]);
            let result = one(&c, &bytes, &options());
            assert!(
                cut == 0 || result.is_err(),
                "a JSON document cut at {cut} decoded"
            );
        }
    }
}
