//! MySQL's temporal types: DATE, TIME, DATETIME and TIMESTAMP in their legacy and their
//! fractional (`TIME2`, `DATETIME2`, `TIMESTAMP2`, `my_time_packed_to_binary`) layouts.

use super::cursor::*;
use super::error::Fault;
use spillway_core::convert::{days_from_civil, format_utc_timestamp, Fraction, DAY_US};
use spillway_core::Value;

/// Micros of a packed time (`hms << 24 | micros`, negated for negative times).
pub(crate) fn packed_time_micros(packed: i64) -> i64 {
    let magnitude = packed.unsigned_abs();
    let hms = magnitude >> 24;
    let micros = (magnitude & 0xFF_FFFF) as i64;
    let (hours, minutes, seconds) = ((hms >> 12) & 0x3FF, (hms >> 6) & 0x3F, hms & 0x3F);
    let total = ((hours * 3600 + minutes * 60 + seconds) as i64) * 1_000_000 + micros;
    if packed < 0 {
        -total
    } else {
        total
    }
}

/// TIME2: 3 bytes of `hms` offset by 0x800000, then the fraction in 1 (hundredths), 2
/// (1/10000 s) or 3 (micros, with the whole value offset) bytes. Negative times with a
/// fraction store the integer part one lower and the fraction as its complement, so the
/// bytes sort; undo that.
pub(crate) fn time2_micros(b: &[u8], fsp: u8) -> i64 {
    let int_part = uint_be(&b[..3.min(b.len())]) as i64 - 0x80_0000;
    let packed = match fsp {
        0 => int_part << 24,
        1 | 2 => {
            let (mut int_part, mut frac) = (int_part, b.get(3).copied().map_or(0, i64::from));
            if int_part < 0 && frac != 0 {
                int_part += 1;
                frac -= 0x100;
            }
            (int_part << 24) + frac * 10_000
        }
        3 | 4 => {
            let (mut int_part, mut frac) = (int_part, uint_be(b.get(3..5).unwrap_or(&[])) as i64);
            if int_part < 0 && frac != 0 {
                int_part += 1;
                frac -= 0x1_0000;
            }
            (int_part << 24) + frac * 100
        }
        _ => uint_be(&b[..6.min(b.len())]) as i64 - 0x8000_0000_0000,
    };
    packed_time_micros(packed)
}

/// Pre-5.6 TIME: a signed 3-byte `HHMMSS` number.
pub(crate) fn legacy_time_micros(b: &[u8]) -> i64 {
    let v = sign_extend(uint_le(b), 24);
    let a = v.abs();
    let (hours, minutes, seconds) = (a / 10_000, a / 100 % 100, a % 100);
    let micros = (hours * 3600 + minutes * 60 + seconds) * 1_000_000;
    if v < 0 {
        -micros
    } else {
        micros
    }
}

pub(crate) fn time_value(micros: i64, connect_time: bool) -> Value {
    Value::Int(if connect_time { micros / 1000 } else { micros })
}

/// Micros since the epoch of a calendar date and time; `None` for a zero date.
pub(crate) fn civil_micros(ymd: (i64, u32, u32), hms: (i64, i64, i64), micros: i64) -> Option<i64> {
    let (year, month, day) = ymd;
    if year == 0 || month == 0 || day == 0 {
        return None;
    }
    let (h, m, s) = hms;
    Some(days_from_civil(year, month, day) * DAY_US + (h * 3600 + m * 60 + s) * 1_000_000 + micros)
}

/// DATETIME2: 5 bytes of `((year * 13 + month) << 5 | day) << 17 | hms`, offset by
/// 0x8000000000, then the fraction as for TIME2. `None` for a zero date.
pub(crate) fn datetime2_micros(b: &[u8], fsp: u8) -> Result<Option<i64>, Fault> {
    let int_part = uint_be(&b[..5.min(b.len())]) as i64 - 0x80_0000_0000;
    if int_part < 0 {
        return Err(Fault::invalid("a DATETIME before year 0"));
    }
    let frac = b.get(5..).unwrap_or(&[]);
    let micros = match fsp {
        0 => 0,
        1 | 2 => i64::from(frac.first().copied().unwrap_or(0) as i8) * 10_000,
        3 | 4 => sign_extend(uint_be(frac), 16) * 100,
        _ => sign_extend(uint_be(frac), 24),
    };
    let (ymd, hms) = packed_datetime_parts(int_part);
    Ok(civil_micros(ymd, hms, micros))
}

/// A calendar date and a time of day.
type DateAndTime = ((i64, u32, u32), (i64, i64, i64));

/// The date and time of `((year * 13 + month) << 5 | day) << 17 | hms`.
pub(crate) fn packed_datetime_parts(ymdhms: i64) -> DateAndTime {
    let ymd = ymdhms >> 17;
    let ym = ymd >> 5;
    let hms = ymdhms & 0x1_FFFF;
    (
        (ym / 13, (ym % 13) as u32, (ymd & 31) as u32),
        (hms >> 12, (hms >> 6) & 63, hms & 63),
    )
}

/// Pre-5.6 DATETIME: the number `YYYYMMDDHHMMSS`. `None` for a zero date.
pub(crate) fn legacy_datetime_micros(b: &[u8]) -> Result<Option<i64>, Fault> {
    let v = uint_le(b);
    if v > 99_991_231_235_959 {
        return Err(Fault::invalid(format!(
            "{v} is not a YYYYMMDDHHMMSS datetime"
        )));
    }
    let v = v as i64;
    let (date, time) = (v / 1_000_000, v % 1_000_000);
    Ok(civil_micros(
        (
            date / 10_000,
            (date / 100 % 100) as u32,
            (date % 100) as u32,
        ),
        (time / 10_000, time / 100 % 100, time % 100),
        0,
    ))
}

pub(crate) fn datetime_value(micros: Option<i64>, fsp: u32, connect_time: bool) -> Value {
    match micros {
        None => Value::Null,
        Some(m) if connect_time || fsp <= 3 => Value::Int(m.div_euclid(1000)),
        Some(m) => Value::Int(m),
    }
}

/// TIMESTAMP2: 4 bytes of seconds, big-endian, then the fraction as for TIME2.
pub(crate) fn timestamp2_micros(b: &[u8], fsp: u8) -> i64 {
    let seconds = uint_be(&b[..4.min(b.len())]) as i64;
    let frac = uint_be(b.get(4..).unwrap_or(&[])) as i64;
    let micros = match fsp {
        0 => 0,
        1 | 2 => frac * 10_000,
        3 | 4 => frac * 100,
        _ => frac,
    };
    seconds * 1_000_000 + micros
}

/// Debezium's ZonedTimestamp with the column's digits; the zero timestamp is NULL.
pub(crate) fn timestamp_value(micros: i64, fsp: u32) -> Value {
    if micros == 0 {
        Value::Null
    } else {
        Value::String(format_utc_timestamp(micros, Fraction::Fixed(fsp)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fixtures::*;

    #[test]
    fn dates_count_days_and_the_zero_date_is_null() {
        for code in [10, 14] {
            let c = col(code, &[], MyType::Date);
            for (y, m, d) in [
                (1970, 1, 1),
                (2020, 1, 2),
                (1000, 1, 1),
                (9999, 12, 31),
                (1969, 12, 31),
            ] {
                assert_eq!(
                    ok(&c, &date_bytes(y, m, d), &options()),
                    old(
                        &c.ty,
                        Old::Date(y as u16, m as u8, d as u8, 0, 0, 0, 0),
                        &options()
                    )
                );
            }
            assert_eq!(
                ok(&c, &date_bytes(2020, 1, 2), &options()),
                Value::Int(18263)
            );
            assert_eq!(ok(&c, &date_bytes(0, 0, 0), &options()), Value::Null);
            assert_eq!(ok(&c, &date_bytes(2020, 0, 1), &options()), Value::Null);
        }
    }

    #[test]
    fn negative_time2_with_a_fraction_decodes_at_every_precision() {
        // (fsp, bytes as the server writes them, the time)
        let cases: &[(u8, &[u8], i64)] = &[
            (1, &[0x7F, 0xFF, 0xFF, 0xF6], micros(true, 0, 0, 0, 100_000)),
            (2, &[0x7F, 0xFF, 0xFF, 0xF6], micros(true, 0, 0, 0, 100_000)),
            (
                1,
                &[0x4B, 0x91, 0x04, 0xA6],
                micros(true, 838, 59, 59, 900_000),
            ),
            (
                2,
                &[0x4B, 0x91, 0x04, 0x9D],
                micros(true, 838, 59, 59, 990_000),
            ),
            (2, &[0x7F, 0xFF, 0xFE, 0xFF], micros(true, 0, 0, 1, 10_000)),
            (2, &[0x7F, 0xFF, 0xFF, 0x9D], micros(true, 0, 0, 0, 990_000)),
            (1, &[0x7F, 0xEF, 0xFF, 0xCE], micros(true, 1, 0, 0, 500_000)),
            (2, &[0x7F, 0xEF, 0xFF, 0xCE], micros(true, 1, 0, 0, 500_000)),
            (
                3,
                &[0x7F, 0xEF, 0xFF, 0xEC, 0x78],
                micros(true, 1, 0, 0, 500_000),
            ),
            (
                4,
                &[0x7F, 0xEF, 0xFF, 0xEC, 0x78],
                micros(true, 1, 0, 0, 500_000),
            ),
            (
                3,
                &[0x7F, 0x37, 0x47, 0xE1, 0x2E],
                micros(true, 12, 34, 56, 789_000),
            ),
            (
                5,
                &[0x7F, 0xEF, 0xFF, 0xF8, 0x5E, 0xE0],
                micros(true, 1, 0, 0, 500_000),
            ),
            (
                6,
                &[0x7F, 0xEF, 0xFF, 0xF8, 0x5E, 0xE0],
                micros(true, 1, 0, 0, 500_000),
            ),
            (
                6,
                &[0x4B, 0x91, 0x04, 0xF0, 0xBD, 0xC1],
                micros(true, 838, 59, 59, 999_999),
            ),
            (
                6,
                &[0xB4, 0x6E, 0xFB, 0x0F, 0x42, 0x3F],
                micros(false, 838, 59, 59, 999_999),
            ),
            (
                6,
                &[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                micros(true, 0, 0, 0, 1),
            ),
        ];
        for &(fsp, bytes, expected) in cases {
            assert_eq!(
                encode_time2(expected, fsp),
                bytes,
                "encoding {expected} at {fsp}"
            );
            let c = col(
                19,
                &[fsp],
                MyType::Time {
                    fsp: u32::from(fsp),
                },
            );
            assert_eq!(
                ok(&c, bytes, &options()),
                Value::Int(expected),
                "TIME({fsp}) {bytes:02x?}"
            );
            let connect = with(
                DecimalMode::Precise,
                BigintUnsignedMode::Long,
                TimePrecisionMode::Connect,
            );
            assert_eq!(ok(&c, bytes, &connect), Value::Int(expected / 1000));
        }
    }

    #[test]
    fn time2_round_trips_at_every_precision() {
        for fsp in 0u8..=6 {
            let unit = 10i64.pow(6 - u32::from(fsp));
            let c = col(
                19,
                &[fsp],
                MyType::Time {
                    fsp: u32::from(fsp),
                },
            );
            for negative in [false, true] {
                for (h, m, s, us) in [
                    (0, 0, 0, 0),
                    (0, 0, 0, 999_999),
                    (0, 0, 1, 0),
                    (0, 0, 1, 1),
                    (1, 0, 0, 500_000),
                    (23, 59, 59, 10_000),
                    (24, 0, 0, 0),
                    (838, 59, 59, 999_999),
                ] {
                    let t = micros(negative, h, m, s, us / unit * unit);
                    let bytes = encode_time2(t, fsp);
                    assert_eq!(ok(&c, &bytes, &options()), Value::Int(t), "TIME({fsp}) {t}");
                    // The old path agrees wherever mysql_common reads the value right.
                    if !(negative && (fsp == 1 || fsp == 2) && us / unit != 0) {
                        let a = t.unsigned_abs();
                        let secs = a / 1_000_000;
                        let mysql = Old::Time(
                            t < 0,
                            (secs / 86_400) as u32,
                            (secs / 3600 % 24) as u8,
                            (secs / 60 % 60) as u8,
                            (secs % 60) as u8,
                            (a % 1_000_000) as u32,
                        );
                        assert_eq!(ok(&c, &bytes, &options()), old(&c.ty, mysql, &options()));
                    }
                }
            }
        }
    }

    #[test]
    fn datetime2_gives_millis_up_to_fsp_3_and_micros_above() {
        for fsp in 0u8..=6 {
            let unit = 10u32.pow(6 - u32::from(fsp));
            let c = col(
                18,
                &[fsp],
                MyType::DateTime {
                    fsp: u32::from(fsp),
                },
            );
            for (parts, us) in [
                ((2020, 1, 2, 3, 4, 5), 678_901),
                ((1000, 1, 1, 0, 0, 0), 0),
                ((9999, 12, 31, 23, 59, 59), 999_999),
                ((1969, 12, 31, 23, 59, 59), 500_000),
            ] {
                let us = us / unit * unit;
                let bytes = encode_datetime2(parts, us, fsp);
                let (y, mo, d, h, mi, s) = parts;
                let mysql = Old::Date(y as u16, mo as u8, d as u8, h as u8, mi as u8, s as u8, us);
                for o in all_options() {
                    assert_eq!(
                        ok(&c, &bytes, &o),
                        old(&c.ty, mysql.clone(), &o),
                        "{parts:?} {fsp}"
                    );
                }
            }
            assert_eq!(
                ok(
                    &c,
                    &encode_datetime2((0, 0, 0, 0, 0, 0), 0, fsp),
                    &options()
                ),
                Value::Null
            );
        }
        let c = col(18, &[6], MyType::DateTime { fsp: 6 });
        assert_eq!(
            ok(
                &c,
                &encode_datetime2((1970, 1, 1, 0, 0, 1), 2, 6),
                &options()
            ),
            Value::Int(1_000_002)
        );
        let c = col(18, &[3], MyType::DateTime { fsp: 3 });
        assert_eq!(
            ok(
                &c,
                &encode_datetime2((1969, 12, 31, 23, 59, 59), 999_000, 3),
                &options()
            ),
            Value::Int(-1)
        );
    }

    #[test]
    fn timestamp2_is_a_utc_string_with_the_columns_digits() {
        for fsp in 0u8..=6 {
            let c = col(
                17,
                &[fsp],
                MyType::Timestamp {
                    fsp: u32::from(fsp),
                },
            );
            let unit = 10u32.pow(6 - u32::from(fsp));
            for (secs, us) in [
                (1u32, 0u32),
                (1_600_000_000, 123_456),
                (2_147_483_647, 999_999),
            ] {
                let us = us / unit * unit;
                let mut bytes = secs.to_be_bytes().to_vec();
                bytes.extend(frac_bytes_of(us, fsp));
                let text = if us == 0 {
                    secs.to_string()
                } else {
                    format!("{secs}.{us:06}")
                };
                assert_eq!(
                    ok(&c, &bytes, &options()),
                    old(&c.ty, Old::Bytes(text.into_bytes()), &options()),
                    "TIMESTAMP({fsp}) {secs}.{us}"
                );
            }
            let mut zero = vec![0; 4];
            zero.extend(frac_bytes_of(0, fsp));
            assert_eq!(ok(&c, &zero, &options()), Value::Null);
        }
        let c = col(17, &[3], MyType::Timestamp { fsp: 3 });
        let mut bytes = 1_600_000_000u32.to_be_bytes().to_vec();
        bytes.extend(1230u16.to_be_bytes());
        assert_eq!(
            ok(&c, &bytes, &options()),
            Value::String("2020-09-13T12:26:40.123Z".into())
        );
    }

    #[test]
    fn legacy_temporal_types_decode() {
        let t = col(11, &[], MyType::Time { fsp: 0 });
        let encode = |v: i32| v.to_le_bytes()[..3].to_vec();
        assert_eq!(
            ok(&t, &encode(123_456), &options()),
            Value::Int(micros(false, 12, 34, 56, 0))
        );
        assert_eq!(
            ok(&t, &encode(123_456), &options()),
            old(&t.ty, Old::Time(false, 0, 12, 34, 56, 0), &options())
        );
        // Negative and long times, which mysql_common reads wrongly.
        assert_eq!(
            ok(&t, &encode(-8_385_959), &options()),
            Value::Int(micros(true, 838, 59, 59, 0))
        );
        assert_eq!(ok(&t, &encode(-1), &options()), Value::Int(-1_000_000));
        let dt = col(12, &[], MyType::DateTime { fsp: 0 });
        let v: u64 = 20_200_102_030_405;
        assert_eq!(
            ok(&dt, &v.to_le_bytes(), &options()),
            old(&dt.ty, Old::Date(2020, 1, 2, 3, 4, 5, 0), &options())
        );
        assert_eq!(ok(&dt, &0u64.to_le_bytes(), &options()), Value::Null);
        let ts = col(7, &[], MyType::Timestamp { fsp: 0 });
        assert_eq!(
            ok(&ts, &1_600_000_000u32.to_le_bytes(), &options()),
            old(&ts.ty, Old::Int(1_600_000_000), &options())
        );
        assert_eq!(ok(&ts, &0u32.to_le_bytes(), &options()), Value::Null);
        // A pre-5.6 column with a fraction in the schema is another format: refused.
        let t3 = col(11, &[], MyType::Time { fsp: 3 });
        assert!(one(&t3, &encode(1), &options()).is_err());
    }
}
