//! Property tests of the PostgreSQL source's text forms: LSNs and the flush LSN an offset
//! confirms, numerics into Connect decimals, and dates and timestamps into day and
//! microsecond counts, each checked against a plain reference.

use proptest::prelude::*;
use spillway_core::convert::{decimal_text, format_utc_timestamp, Fraction, DAY_US};
use spillway_core::{Offset, Position, Value};
use spillway_postgres::config::DecimalMode;
use spillway_postgres::protocol::{format_lsn, parse_lsn};
use spillway_postgres::replication::flush_lsn;
use spillway_postgres::values::{decimal_value, parse_date, parse_timestamp};

fn lsn() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        any::<u32>().prop_map(u64::from),
        Just(0),
        Just(u64::MAX),
        (any::<u32>(), prop_oneof![Just(0u32), Just(u32::MAX)])
            .prop_map(|(hi, lo)| (u64::from(hi) << 32) | u64::from(lo)),
    ]
}

proptest! {
    #[test]
    fn lsn_text_round_trips(lsn in lsn()) {
        let text = format_lsn(lsn);
        prop_assert_eq!(parse_lsn(&text), Ok(lsn));
        // Lower case and leading zeros (up to eight digits a half) read the same.
        prop_assert_eq!(parse_lsn(&text.to_ascii_lowercase()), Ok(lsn));
        let padded = format!("{:08X}/{:08X}", lsn >> 32, lsn as u32);
        prop_assert_eq!(parse_lsn(&padded), Ok(lsn));
    }

    #[test]
    fn lsn_order_is_the_order_of_the_numbers(a in lsn(), b in lsn()) {
        let (ta, tb) = (format_lsn(a), format_lsn(b));
        let read = |t: &str| parse_lsn(t).expect("a rendered LSN reads back");
        prop_assert_eq!(read(&ta).cmp(&read(&tb)), a.cmp(&b));
        prop_assert_eq!(ta == tb, a == b);
    }

    #[test]
    fn confirmed_flush_lsn_never_moves_back_as_offsets_advance(
        a in (lsn(), prop_oneof![Just(Position::END_OF_TRANSACTION), 0u64..10]),
        b in (lsn(), prop_oneof![Just(Position::END_OF_TRANSACTION), 0u64..10]),
    ) {
        let offset = |(log, row): (u64, u64)| Offset::new(Position::stream(log, 0, row));
        let (oa, ob) = (offset(a), offset(b));
        if oa.position <= ob.position {
            prop_assert!(flush_lsn(&oa) <= flush_lsn(&ob), "{:?} {:?}", oa, ob);
        }
        // A finished transaction is confirmed past its commit, a partial one at it.
        let want = if oa.position.is_end_of_transaction() { a.0.saturating_add(1) } else { a.0 };
        prop_assert_eq!(flush_lsn(&oa), want);
    }

    #[test]
    fn snapshot_offsets_confirm_nothing(log in lsn(), row in any::<u64>()) {
        prop_assert_eq!(flush_lsn(&Offset::new(Position::snapshot(log, row))), 0);
    }
}

/// A numeric's text as the server writes it: optional sign, digits, optional fraction.
fn numeric_text() -> impl Strategy<Value = (bool, String, String)> {
    (any::<bool>(), "[1-9][0-9]{0,40}|0", "[0-9]{0,20}")
}

proptest! {
    #[test]
    fn numerics_become_decimals_that_read_back_as_the_same_number(
        (negative, int, frac) in numeric_text(),
        extra_scale in 0u32..6,
    ) {
        let sign = if negative { "-" } else { "" };
        let text = if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") };
        let scale = frac.len() as u32 + extra_scale;
        let value = decimal_value(&text, Some(scale), DecimalMode::Precise).expect("a numeric");
        let Value::Decimal { unscaled, scale: got } = value else {
            return Err(TestCaseError::fail(format!("not a Decimal: {value:?}")));
        };
        prop_assert_eq!(got, scale);
        // The reference: the text padded to the declared scale, a zero without its sign.
        let padded = format!("{frac}{}", "0".repeat(extra_scale as usize));
        let digits_zero = int == "0" && padded.bytes().all(|b| b == b'0');
        let sign = if negative && !digits_zero { "-" } else { "" };
        let expected = if padded.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{padded}") };
        prop_assert_eq!(decimal_text(&unscaled, scale), expected);
        // Where the number fits in i128, the bytes are its two's complement.
        if let Ok(n) = format!("{sign}{int}{padded}").parse::<i128>() {
            let bytes = n.to_be_bytes();
            prop_assert_eq!(&unscaled[..], &bytes[16 - unscaled.len()..]);
            let fill = if n < 0 { 0xff } else { 0 };
            prop_assert!(bytes[..16 - unscaled.len()].iter().all(|&b| b == fill));
        }
        // Unconstrained numerics keep the text's own scale.
        let variable = decimal_value(&text, None, DecimalMode::Precise).expect("a numeric");
        let Value::VariableDecimal { unscaled, scale } = variable else {
            return Err(TestCaseError::fail(format!("not a VariableDecimal: {variable:?}")));
        };
        prop_assert_eq!(scale, frac.len() as u32);
        let text_zero = int == "0" && frac.bytes().all(|b| b == b'0');
        let shown = if text_zero { text.trim_start_matches('-').to_string() } else { text.clone() };
        prop_assert_eq!(decimal_text(&unscaled, scale), shown);
    }
}

fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 counted a year and a month at a time (year 0 is 1 BC).
fn reference_days(year: i64, month: u32, day: u32) -> i64 {
    let year_len = |y: i64| if is_leap(y) { 366 } else { 365 };
    let mut days: i64 = if year >= 1970 {
        (1970..year).map(year_len).sum()
    } else {
        -(year..1970).map(year_len).sum::<i64>()
    };
    days += (1..month)
        .map(|m| i64::from(days_in_month(year, m)))
        .sum::<i64>();
    days + i64::from(day) - 1
}

/// A proleptic Gregorian date from 4713 BC to 9999 AD.
fn date() -> impl Strategy<Value = (i64, u32, u32)> {
    (-4712i64..=9999, 1u32..=12).prop_flat_map(|(y, m)| (Just(y), Just(m), 1..=days_in_month(y, m)))
}

/// The date as PostgreSQL writes it (ISO DateStyle): `YYYY-MM-DD`, with ` BC` before year 1.
fn date_text((y, m, d): (i64, u32, u32)) -> String {
    if y >= 1 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{:04}-{m:02}-{d:02} BC", 1 - y)
    }
}

proptest! {
    #[test]
    fn dates_read_as_days_since_the_epoch(date in date()) {
        prop_assert_eq!(parse_date(&date_text(date)), Ok(reference_days(date.0, date.1, date.2)));
    }

    #[test]
    fn timestamps_read_as_micros_and_format_back(
        date in (1i64..=9999, 1u32..=12).prop_flat_map(|(y, m)| (Just(y), Just(m), 1..=days_in_month(y, m))),
        micros_of_day in 0i64..DAY_US,
    ) {
        let secs = micros_of_day / 1_000_000;
        let clock = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        let fraction = format!("{:06}", micros_of_day % 1_000_000);
        let fraction = fraction.trim_end_matches('0');
        let shown = if fraction.is_empty() { clock } else { format!("{clock}.{fraction}") };
        let text = format!("{} {shown}", date_text(date));
        let micros = parse_timestamp(&text).expect("a timestamp as the server writes it");
        prop_assert_eq!(micros, reference_days(date.0, date.1, date.2) * DAY_US + micros_of_day);
        prop_assert_eq!(
            format_utc_timestamp(micros, Fraction::Trimmed),
            format!("{}T{shown}Z", date_text(date))
        );
    }
}

#[test]
fn a_finished_transaction_at_the_last_lsn_confirms_without_overflow() {
    // An offset file may hold any position; confirming one past u64::MAX overflowed.
    let offset = Offset::new(Position::stream(u64::MAX, 0, Position::END_OF_TRANSACTION));
    assert_eq!(flush_lsn(&offset), u64::MAX);
}

/// A field as `COPY ... TO STDOUT` writes it: NULL as `\N`, backslash, tab, newline and
/// carriage return escaped.
fn copy_field(field: &Option<Vec<u8>>) -> Vec<u8> {
    let Some(bytes) = field else {
        return b"\\N".to_vec();
    };
    let mut out = Vec::new();
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b => out.push(b),
        }
    }
    out
}

proptest! {
    #[test]
    fn copy_rows_split_into_the_fields_they_were_written_from(
        fields in proptest::collection::vec(
            proptest::option::weighted(0.9, proptest::collection::vec(any::<u8>(), 0..12)),
            1..8,
        )
    ) {
        let line = fields.iter().map(copy_field).collect::<Vec<_>>().join(&b'\t');
        let mut read = Vec::new();
        spillway_postgres::copy_text::split_row(&line, &mut read).expect("a line COPY writes");
        prop_assert_eq!(read, fields);
    }
}
