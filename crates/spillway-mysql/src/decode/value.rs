//! One column value of a row image: its bytes split off by the binlog's [`ColumnKind`],
//! then made into the value the schema's [`MyType`] gives it.

use super::charset::{latin1_char, utf8_lossy};
use super::column_kind::ColumnKind;
use super::column_type::MyType;
use super::cursor::*;
use super::decimal::*;
use super::error::Fault;
use super::json;
use super::temporal::*;
use crate::config::{BigintUnsignedMode, DecimalMode, TimePrecisionMode, TypeOptions};
use spillway_core::convert::days_from_civil;
use spillway_core::Value;

/// Bytes of the fraction of TIME2 / DATETIME2 / TIMESTAMP2.
pub(crate) fn frac_bytes(fsp: u8) -> usize {
    usize::from(fsp).div_ceil(2)
}

/// Splits one value's bytes off the image: the fixed width of its type, or the bytes after
/// its length prefix; `None` when the image ends first.
pub(crate) fn take_value<'a>(cursor: &mut &'a [u8], kind: ColumnKind) -> Option<&'a [u8]> {
    use ColumnKind as K;
    let width = match kind {
        K::Int { bytes } => usize::from(bytes),
        K::Float | K::Timestamp => 4,
        K::Double | K::DateTime => 8,
        K::Year => 1,
        K::Date | K::Time => 3,
        K::Time2 { fsp } => 3 + frac_bytes(fsp),
        K::DateTime2 { fsp } => 5 + frac_bytes(fsp),
        K::Timestamp2 { fsp } => 4 + frac_bytes(fsp),
        K::Decimal { precision, scale } => decimal_size(precision, scale),
        K::Bit { bits } => usize::from(bits).div_ceil(8),
        K::Enum { pack_length } | K::Set { pack_length } => usize::from(pack_length),
        K::Null => 0,
        K::VarString { max_length } | K::String { max_length } => {
            let prefix = if max_length > 255 { 2 } else { 1 };
            uint_le(split(cursor, prefix)?) as usize
        }
        // At most 4 bytes of length: it fits.
        K::Blob { pack_length } | K::Geometry { pack_length } | K::Json { pack_length } => {
            uint_le(split(cursor, usize::from(pack_length))?) as usize
        }
    };
    split(cursor, width)
}

/// Puts a value's bytes, in the shape the schema's type gives them (exactly as
/// [`MyType::decode`] does), into `slot`, which holds `Value::Null`. Values are made in
/// their slot: returned or pushed, each went through a stack temporary whose copy stalled
/// on store forwarding for longer than the decoding took.
pub(crate) fn put_value(
    slot: &mut Value,
    kind: ColumnKind,
    b: &[u8],
    ty: &MyType,
    options: &TypeOptions,
) -> Result<(), Fault> {
    use ColumnKind as K;
    let connect_time = options.values.time_precision == TimePrecisionMode::Connect;
    let same = |fsp: u8, want: &u32| u32::from(fsp) == *want;
    match (kind, ty) {
        (K::Int { bytes: 1 }, MyType::Bool) => fill(slot, Value::Int(sign_extend(uint_le(b), 8))),
        (
            K::Int { bytes },
            MyType::Int {
                bytes: want,
                unsigned,
            },
        ) if bytes == *want => {
            let raw = uint_le(b);
            if !*unsigned {
                fill(slot, Value::Int(sign_extend(raw, 8 * u32::from(bytes))));
            } else if bytes == 8 && options.bigint_unsigned == BigintUnsignedMode::Precise {
                fill(
                    slot,
                    Value::Decimal {
                        unscaled: minimal_twos_complement(i128::from(raw)),
                        scale: 0,
                    },
                );
            } else {
                fill(slot, Value::Int(raw as i64));
            }
        }
        (K::Float, MyType::Float) => fill(slot, Value::Float32(f32::from_bits(uint_le(b) as u32))),
        (K::Double, MyType::Double) => fill(slot, Value::Float64(f64::from_bits(uint_le(b)))),
        (
            K::Decimal { precision, scale },
            MyType::Decimal {
                precision: want_precision,
                scale: want_scale,
            },
        ) if u32::from(precision) == *want_precision && u32::from(scale) == *want_scale => {
            let mut decimal = BinaryDecimal::EMPTY;
            let text = options.values.decimal != DecimalMode::Precise || precision > 38;
            decimal.read(b, precision, scale, text)?;
            fill(slot, decimal.value(options.values.decimal));
        }
        (K::Bit { bits: 1 }, MyType::Bit1) => fill(slot, Value::Bool(b.iter().any(|x| *x != 0))),
        (K::Bit { bits }, MyType::Bits { length }) if u32::from(bits) == *length => {
            // Big-endian in the binlog; Debezium's Bits are little-endian.
            let mut le: Vec<u8> = b.iter().rev().copied().collect();
            le.resize(length.div_ceil(8) as usize, 0);
            fill(slot, Value::Bytes(le));
        }
        (K::Date, MyType::Date) => {
            let v = uint_le(b);
            let (year, month, day) = (v >> 9, (v >> 5) & 15, v & 31);
            if year == 0 || month == 0 || day == 0 {
                fill(slot, Value::Null);
            } else {
                fill(
                    slot,
                    Value::Int(days_from_civil(year as i64, month as u32, day as u32)),
                );
            }
        }
        (K::Time2 { fsp }, MyType::Time { fsp: want }) if same(fsp, want) => {
            fill(slot, time_value(time2_micros(b, fsp), connect_time));
        }
        (K::Time, MyType::Time { fsp: 0 }) => {
            fill(slot, time_value(legacy_time_micros(b), connect_time));
        }
        (K::DateTime2 { fsp }, MyType::DateTime { fsp: want }) if same(fsp, want) => {
            fill(
                slot,
                datetime_value(datetime2_micros(b, fsp)?, *want, connect_time),
            );
        }
        (K::DateTime, MyType::DateTime { fsp: 0 }) => {
            fill(
                slot,
                datetime_value(legacy_datetime_micros(b)?, 0, connect_time),
            );
        }
        (K::Timestamp2 { fsp }, MyType::Timestamp { fsp: want }) if same(fsp, want) => {
            fill(slot, timestamp_value(timestamp2_micros(b, fsp), *want));
        }
        (K::Timestamp, MyType::Timestamp { fsp: 0 }) => {
            fill(slot, timestamp_value(uint_le(b) as i64 * 1_000_000, 0));
        }
        // Years count from 1900. The zero year (the server shows 0000) comes out as 1900,
        // as Debezium's binlog reader gives it (its snapshot gives 2000).
        (K::Year, MyType::Year) => fill(slot, Value::Int(1900 + uint_le(b) as i64)),
        (K::VarString { .. } | K::String { .. } | K::Blob { .. }, MyType::Text { latin1 }) => {
            let text = if *latin1 {
                b.iter().map(|&c| latin1_char(c)).collect()
            } else {
                utf8_lossy(b)
            };
            fill(slot, Value::String(text));
        }
        (
            K::VarString { .. } | K::String { .. } | K::Blob { .. } | K::Geometry { .. },
            MyType::Binary { pad_to },
        ) => {
            let mut bytes = b.to_vec();
            if let Some(n) = pad_to {
                if bytes.len() < *n as usize {
                    bytes.resize(*n as usize, 0);
                }
            }
            fill(slot, options.values.binary.value(bytes));
        }
        // MariaDB's JSON is a LONGTEXT.
        (K::Blob { .. }, MyType::Json) => {
            fill(slot, Value::String(utf8_lossy(b)));
        }
        (K::Json { .. }, MyType::Json) => fill(slot, Value::String(json::to_text(b)?)),
        (K::Enum { .. }, MyType::Enum { labels }) => {
            // 0 is the empty value MySQL stores for invalid input.
            let index = uint_le(b) as usize;
            fill(
                slot,
                Value::String(
                    index
                        .checked_sub(1)
                        .and_then(|i| labels.get(i))
                        .cloned()
                        .unwrap_or_default(),
                ),
            );
        }
        (K::Set { .. }, MyType::Set { labels }) => {
            let mask = uint_le(b);
            let mut chosen = String::new();
            let mut first = true;
            for (i, label) in labels.iter().enumerate().take(64) {
                if mask >> i & 1 == 1 {
                    if !first {
                        chosen.push(',');
                    }
                    chosen.push_str(label);
                    first = false;
                }
            }
            fill(slot, Value::String(chosen));
        }
        _ => return Err(Fault::Mismatch),
    }
    Ok(())
}

/// Puts `v` in a slot that holds `Value::Null`, which needs no drop.
#[inline(always)]
pub(crate) fn fill(slot: &mut Value, v: Value) {
    std::mem::forget(std::mem::replace(slot, v));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fixtures::*;

    #[test]
    fn integers_of_every_width_keep_their_extremes() {
        for (code, bytes) in [(1u8, 1u8), (2, 2), (9, 3), (3, 4), (8, 8)] {
            let bits = 8 * u32::from(bytes);
            let min = -(1i128 << (bits - 1));
            let max = (1i128 << (bits - 1)) - 1;
            let umax = (1i128 << bits) - 1;
            let encode = |n: i128| n.to_le_bytes()[..usize::from(bytes)].to_vec();
            for o in all_options() {
                let signed = col(
                    code,
                    &[],
                    MyType::Int {
                        bytes,
                        unsigned: false,
                    },
                );
                for n in [min, -1, 0, 1, max] {
                    let got = ok(&signed, &encode(n), &o);
                    assert_eq!(got, Value::Int(n as i64), "signed {bytes}-byte {n}");
                    assert_eq!(got, old(&signed.ty, Old::Int(n as i64), &o));
                }
                let unsigned = col(
                    code,
                    &[],
                    MyType::Int {
                        bytes,
                        unsigned: true,
                    },
                );
                for n in [0, 1, max, max + 1, umax] {
                    let got = ok(&unsigned, &encode(n), &o);
                    assert_eq!(
                        got,
                        old(&unsigned.ty, Old::UInt(n as u64), &o),
                        "unsigned {bytes}-byte {n}"
                    );
                    // mysql_common hands narrow unsigned values over as bit patterns too.
                    assert_eq!(got, old(&unsigned.ty, Old::Int(n as i64), &o));
                }
            }
        }
    }

    #[test]
    fn unsigned_bigint_max_is_minus_one_or_a_precise_decimal() {
        let c = col(
            8,
            &[],
            MyType::Int {
                bytes: 8,
                unsigned: true,
            },
        );
        let max = u64::MAX.to_le_bytes();
        assert_eq!(ok(&c, &max, &options()), Value::Int(-1));
        let precise = with(
            DecimalMode::Precise,
            BigintUnsignedMode::Precise,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        );
        assert_eq!(
            ok(&c, &max, &precise),
            Value::Decimal {
                unscaled: twos_complement("18446744073709551615", false),
                scale: 0
            }
        );
        assert_eq!(
            ok(&c, &0u64.to_le_bytes(), &precise),
            Value::Decimal {
                unscaled: vec![0],
                scale: 0
            }
        );
    }

    #[test]
    fn minimal_twos_complement_matches_the_digit_conversion() {
        let mut values: Vec<i128> = vec![0, 1, -1, 127, 128, -128, -129, 255, 256, -256, -257];
        let mut x: i128 = 1;
        for _ in 0..126 {
            values.extend([x - 1, x, x + 1, -x + 1, -x, -x - 1]);
            x <<= 1;
        }
        values.extend([
            i128::MAX,
            i128::MIN + 1,
            10i128.pow(38) - 1,
            -(10i128.pow(38) - 1),
        ]);
        for n in values {
            assert_eq!(
                minimal_twos_complement(n),
                twos_complement(&n.unsigned_abs().to_string(), n < 0),
                "{n}"
            );
        }
    }

    #[test]
    fn tinyint_1_is_a_small_signed_integer() {
        let c = col(1, &[], MyType::Bool);
        for n in [-128i8, -1, 0, 1, 127] {
            assert_eq!(
                ok(&c, &n.to_le_bytes(), &options()),
                Value::Int(i64::from(n))
            );
            assert_eq!(
                ok(&c, &n.to_le_bytes(), &options()),
                old(&c.ty, Old::Int(i64::from(n)), &options())
            );
        }
    }

    #[test]
    fn floats_and_doubles_keep_their_bits() {
        let f = col(4, &[4], MyType::Float);
        for x in [0.0f32, -0.0, 1.5, -2.25e-10, f32::MAX, f32::MIN_POSITIVE] {
            assert_eq!(ok(&f, &x.to_le_bytes(), &options()), Value::Float32(x));
            assert_eq!(
                ok(&f, &x.to_le_bytes(), &options()),
                old(&f.ty, Old::Float(x), &options())
            );
        }
        let d = col(5, &[8], MyType::Double);
        for x in [0.0f64, std::f64::consts::PI, -1e300, f64::MIN_POSITIVE] {
            assert_eq!(ok(&d, &x.to_le_bytes(), &options()), Value::Float64(x));
        }
    }

    #[test]
    fn bits_are_little_endian_and_bit_1_is_a_boolean() {
        let b1 = col(16, &[1, 0], MyType::Bit1);
        assert_eq!(ok(&b1, &[1], &options()), Value::Bool(true));
        assert_eq!(ok(&b1, &[0], &options()), Value::Bool(false));
        let b10 = col(16, &[2, 1], MyType::Bits { length: 10 });
        // b'1000000001' = 0x0201, big-endian in the binlog.
        assert_eq!(
            ok(&b10, &[0x02, 0x01], &options()),
            Value::Bytes(vec![0x01, 0x02])
        );
        assert_eq!(
            ok(&b10, &[0x02, 0x01], &options()),
            old(&b10.ty, Old::Bytes(vec![0x02, 0x01]), &options())
        );
        let b64 = col(16, &[0, 8], MyType::Bits { length: 64 });
        let v = [0x80, 0, 0, 0, 0, 0, 0, 0x01];
        assert_eq!(
            ok(&b64, &v, &options()),
            Value::Bytes(vec![0x01, 0, 0, 0, 0, 0, 0, 0x80])
        );
    }

    #[test]
    fn years_count_from_1900_also_the_zero_year() {
        let c = col(13, &[], MyType::Year);
        assert_eq!(ok(&c, &[0], &options()), Value::Int(1900));
        assert_eq!(ok(&c, &[1], &options()), Value::Int(1901));
        assert_eq!(ok(&c, &[255], &options()), Value::Int(2155));
        assert_eq!(
            ok(&c, &[121], &options()),
            old(&c.ty, Old::Bytes(b"2021".to_vec()), &options())
        );
    }

    #[test]
    fn strings_read_their_length_prefix_and_charset() {
        let short = col(15, &[20, 0], MyType::Text { latin1: false });
        assert_eq!(
            ok(&short, b"\x03ab\xc3\xa9"[..4].as_ref(), &options()),
            Value::String("ab\u{fffd}".into())
        );
        assert_eq!(
            ok(&short, b"\x04ab\xc3\xa9", &options()),
            Value::String("abé".into())
        );
        let long = col(15, &[0x2C, 0x01], MyType::Text { latin1: false });
        let text = "x".repeat(300);
        let mut bytes = 300u16.to_le_bytes().to_vec();
        bytes.extend(text.as_bytes());
        assert_eq!(ok(&long, &bytes, &options()), Value::String(text));
        let latin1 = col(15, &[10, 0], MyType::Text { latin1: true });
        let bytes = b"\x03a\xe9\x7f";
        assert_eq!(
            ok(&latin1, bytes, &options()),
            Value::String("a\u{e9}\u{7f}".into())
        );
        assert_eq!(
            ok(&latin1, bytes, &options()),
            old(&latin1.ty, Old::Bytes(bytes[1..].to_vec()), &options())
        );
        // MySQL's latin1 is cp1252 with its five holes kept (what the server's own
        // CONVERT(... USING utf8mb4) gives for x'80818D8F909D9F').
        let bytes = b"\x07\x80\x81\x8d\x8f\x90\x9d\x9f";
        assert_eq!(
            ok(&latin1, bytes, &options()),
            Value::String("\u{20ac}\u{81}\u{8d}\u{8f}\u{90}\u{9d}\u{178}".into())
        );
        // CHAR(100) utf8mb4: 400 bytes, the length's high bits folded into the real type.
        let chr = col(254, &[0xEE, 0x90], MyType::Text { latin1: false });
        let text = "é".repeat(150);
        let mut bytes = (text.len() as u16).to_le_bytes().to_vec();
        bytes.extend(text.as_bytes());
        assert_eq!(ok(&chr, &bytes, &options()), Value::String(text));
        for pack in 1..=4u8 {
            let blob = col(252, &[pack], MyType::Text { latin1: false });
            let mut bytes = 5u32.to_le_bytes()[..usize::from(pack)].to_vec();
            bytes.extend(b"hello");
            assert_eq!(ok(&blob, &bytes, &options()), Value::String("hello".into()));
        }
        // MariaDB's JSON is a LONGTEXT.
        let json = col(252, &[4], MyType::Json);
        let mut bytes = 7u32.to_le_bytes().to_vec();
        bytes.extend(b"{\"a\":1}");
        assert_eq!(
            ok(&json, &bytes, &options()),
            Value::String("{\"a\":1}".into())
        );
    }

    #[test]
    fn binary_columns_are_padded_to_their_length() {
        let b4 = col(254, &[0xFE, 4], MyType::Binary { pad_to: Some(4) });
        assert_eq!(
            ok(&b4, b"\x02\x01\x02", &options()),
            Value::Bytes(vec![1, 2, 0, 0])
        );
        assert_eq!(
            ok(&b4, b"\x02\x01\x02", &options()),
            old(&b4.ty, Old::Bytes(vec![1, 2]), &options())
        );
        assert_eq!(ok(&b4, b"\x00", &options()), Value::Bytes(vec![0, 0, 0, 0]));
        let vb = col(15, &[10, 0], MyType::Binary { pad_to: None });
        assert_eq!(ok(&vb, b"\x01\xff", &options()), Value::Bytes(vec![0xFF]));
    }

    #[test]
    fn binary_handling_mode_gives_binary_columns_as_text_in_binlog_snapshot_and_schema() {
        use spillway_core::schema::ConnectType;
        let b4 = col(254, &[0xFE, 4], MyType::Binary { pad_to: Some(4) });
        let blob = col(252, &[2], MyType::Binary { pad_to: None });
        for (mode, padded, blob_text) in [
            (BinaryMode::Hex, "fb020000", "ff00"),
            (BinaryMode::Base64, "+wIAAA==", "/wA="),
            (BinaryMode::Base64UrlSafe, "-wIAAA==", "_wA="),
        ] {
            let mut o = options();
            o.values.binary = mode;
            let want = Value::String(padded.to_string());
            assert_eq!(ok(&b4, b"\x02\xfb\x02", &o), want, "{mode:?}");
            assert_eq!(old(&b4.ty, Old::Bytes(vec![0xfb, 2]), &o), want, "{mode:?}");
            assert_eq!(
                ok(&blob, b"\x02\x00\xff\x00", &o),
                Value::String(blob_text.to_string())
            );
            assert_eq!(b4.ty.schema(&o).ty, ConnectType::String);
            assert_eq!(b4.ty.fallback(&o), Some(Value::String(String::new())));
        }
        assert_eq!(b4.ty.schema(&options()).ty, ConnectType::Bytes);
        // BIT columns stay bytes whatever the mode, as Debezium's.
        let mut o = options();
        o.values.binary = BinaryMode::Hex;
        let bits = MyType::Bits { length: 10 };
        assert_eq!(bits.schema(&o).ty, ConnectType::Bytes);
    }

    #[test]
    fn enums_and_sets_become_their_labels() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let e = col(
            254,
            &[0xF7, 1],
            MyType::Enum {
                labels: labels.clone(),
            },
        );
        assert_eq!(ok(&e, &[2], &options()), Value::String("b".into()));
        assert_eq!(ok(&e, &[0], &options()), Value::String(String::new()));
        assert_eq!(ok(&e, &[9], &options()), Value::String(String::new()));
        assert_eq!(
            ok(&e, &[3], &options()),
            old(&e.ty, Old::Int(3), &options())
        );
        let e2 = col(
            254,
            &[0xF7, 2],
            MyType::Enum {
                labels: labels.clone(),
            },
        );
        assert_eq!(ok(&e2, &[1, 0], &options()), Value::String("a".into()));
        let s = col(
            254,
            &[0xF8, 1],
            MyType::Set {
                labels: labels.clone(),
            },
        );
        assert_eq!(ok(&s, &[0b101], &options()), Value::String("a,c".into()));
        assert_eq!(ok(&s, &[0], &options()), Value::String(String::new()));
        assert_eq!(
            ok(&s, &[0b111], &options()),
            old(&s.ty, Old::Bytes(vec![0b111]), &options())
        );
        let empty_first = col(
            254,
            &[0xF8, 1],
            MyType::Set {
                labels: vec![String::new(), "x".into()],
            },
        );
        assert_eq!(
            ok(&empty_first, &[0b11], &options()),
            old(&empty_first.ty, Old::Bytes(vec![0b11]), &options())
        );
        let many: Vec<String> = (0..64).map(|i| format!("l{i}")).collect();
        let s8 = col(
            254,
            &[0xF8, 8],
            MyType::Set {
                labels: many.clone(),
            },
        );
        assert_eq!(
            ok(&s8, &(1u64 << 63 | 1).to_le_bytes(), &options()),
            Value::String("l0,l63".into())
        );
    }
}
