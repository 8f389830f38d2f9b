//! Parsers for PostgreSQL's text output formats, and the conversions Debezium applies.

use crate::config::DecimalMode;
pub use spillway_core::convert::{
    civil_from_days, days_from_civil, format_utc_timestamp, push_hms, twos_complement, Fraction,
    DAY_US,
};
use spillway_core::Value;

/// A value whose text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TextError {
    pub message: String,
}

impl TextError {
    pub fn new(message: impl Into<String>) -> Self {
        TextError {
            message: message.into(),
        }
    }
}

fn bad(what: &str, text: &str) -> TextError {
    let shown: String = text.chars().take(64).collect();
    TextError::new(format!("cannot read {what} from {shown:?}"))
}

/// The text as ASCII/UTF-8 `&str`.
pub fn ascii(text: &[u8]) -> Result<&str, TextError> {
    std::str::from_utf8(text).map_err(|_| TextError::new("value is not valid UTF-8"))
}

pub fn parse_int(text: &[u8]) -> Result<i64, TextError> {
    let s = ascii(text)?;
    s.parse().map_err(|_| bad("an integer", s))
}

pub fn parse_float(text: &[u8]) -> Result<f64, TextError> {
    let s = ascii(text)?;
    match s {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|_| bad("a floating-point number", s)),
    }
}

/// A numeric's text as Debezium represents it under `decimal.handling.mode`: the shared
/// conversion, with this module's error.
pub fn decimal_value(
    text: &str,
    scale: Option<u32>,
    mode: DecimalMode,
) -> Result<Value, TextError> {
    spillway_core::connector::decimal_value(text, scale, mode)
        .map_err(|e| TextError::new(e.to_string()))
}

/// `$1,234.56`, `-$1,234.56` or `($1.00)` to `1234.56` / `-1234.56`.
pub fn money_to_plain(text: &str) -> Result<String, TextError> {
    let negative = text.contains('-') || (text.starts_with('(') && text.ends_with(')'));
    let mut out = String::with_capacity(text.len());
    if negative {
        out.push('-');
    }
    out.extend(text.chars().filter(|c| c.is_ascii_digit() || *c == '.'));
    if out.trim_start_matches('-').is_empty() {
        return Err(bad("a money amount", text));
    }
    Ok(out)
}

/// `\x0a0b` (hex output) to bytes.
pub fn parse_bytea(text: &[u8]) -> Result<Vec<u8>, TextError> {
    let hex = text
        .strip_prefix(b"\\x")
        .ok_or_else(|| TextError::new("bytea value is not in hex format (set bytea_output=hex)"))?;
    if hex.len() % 2 != 0 {
        return Err(TextError::new(
            "bytea hex value has an odd number of digits",
        ));
    }
    hex.chunks_exact(2)
        .map(|pair| Ok((hex_digit(pair[0])? << 4) | hex_digit(pair[1])?))
        .collect()
}

fn hex_digit(b: u8) -> Result<u8, TextError> {
    match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(TextError::new("bytea value has a non-hex digit")),
    }
}

/// Days Debezium reports for `infinity` / `-infinity` dates: PostgreSQL's extreme day
/// numbers (counted from 2000-01-01) moved to the Unix epoch in 32-bit arithmetic.
pub const DATE_POSITIVE_INFINITY: i64 = i32::MAX.wrapping_add(10_957) as i64;
pub const DATE_NEGATIVE_INFINITY: i64 = i32::MIN.wrapping_add(10_957) as i64;
/// Microseconds Debezium reports for `infinity` / `-infinity` timestamps (the JDBC
/// driver's infinity constants).
pub const TIMESTAMP_POSITIVE_INFINITY_US: i64 = 9_223_372_036_825_200_000;
pub const TIMESTAMP_NEGATIVE_INFINITY_US: i64 = -9_223_372_036_832_400_000;

/// A year beyond PostgreSQL's date range, and far from overflowing a day count.
const MAX_YEAR: i64 = 10_000_000;

/// `YYYY-MM-DD[ BC]` to days since the epoch.
pub fn parse_date(text: &str) -> Result<i64, TextError> {
    match text {
        "infinity" => return Ok(DATE_POSITIVE_INFINITY),
        "-infinity" => return Ok(DATE_NEGATIVE_INFINITY),
        _ => {}
    }
    let (body, bc) = match text.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (text, false),
    };
    let mut parts = body.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("a date", text));
    };
    let year: i64 = y.parse().map_err(|_| bad("a date", text))?;
    // PostgreSQL's dates end in 5874897 AD and begin in 4714 BC: anything far beyond is
    // not a date (and would overflow the day count).
    if !(0..=MAX_YEAR).contains(&year) {
        return Err(bad("a date", text));
    }
    let month: u32 = m.parse().map_err(|_| bad("a date", text))?;
    let day: u32 = d.parse().map_err(|_| bad("a date", text))?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad("a date", text));
    }
    // 1 BC is year 0 in the proleptic calendar.
    let year = if bc { 1 - year } else { year };
    Ok(days_from_civil(year, month, day))
}

/// `HH:MM:SS[.ffffff]` to microseconds since midnight; returns the rest of the string.
fn parse_clock(text: &str) -> Result<(i64, &str), TextError> {
    let b = text.as_bytes();
    let digits_at = |i: usize| b[i].is_ascii_digit() && b[i + 1].is_ascii_digit();
    if b.len() < 8
        || b[2] != b':'
        || b[5] != b':'
        || !digits_at(0)
        || !digits_at(3)
        || !digits_at(6)
    {
        return Err(bad("a time", text));
    }
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad("a time", text));
    let h = num(&text[0..2])?;
    let m = num(&text[3..5])?;
    let s = num(&text[6..8])?;
    let mut micros = ((h * 60 + m) * 60 + s) * 1_000_000;
    let mut rest = &text[8..];
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        let digits = &frac[..len];
        let mut value = 0i64;
        for (i, d) in digits.bytes().take(6).enumerate() {
            value += i64::from(d - b'0') * 10i64.pow(5 - i as u32);
        }
        micros += value;
        rest = &frac[len..];
    }
    Ok((micros, rest))
}

/// `HH:MM:SS[.ffffff]` to microseconds since midnight.
pub fn parse_time(text: &str) -> Result<i64, TextError> {
    let (micros, rest) = parse_clock(text)?;
    if !rest.is_empty() {
        return Err(bad("a time", text));
    }
    Ok(micros)
}

/// A `+HH[:MM[:SS]]` offset to seconds east of UTC.
fn parse_offset(text: &str) -> Result<i64, TextError> {
    let (sign, body) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad("a time zone offset", text)),
    };
    // `+HH`, `+HH:MM` or `+HH:MM:SS`, as PostgreSQL prints them.
    let mut secs = 0i64;
    for (i, part) in body.split(':').enumerate() {
        let unit = [3600, 60, 1]
            .get(i)
            .copied()
            .ok_or_else(|| bad("a time zone offset", text))?;
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("a time zone offset", text));
        }
        let v: i64 = part.parse().map_err(|_| bad("a time zone offset", text))?;
        secs += v * unit;
    }
    Ok(sign * secs)
}

/// Appends `.ffffff` with trailing zeros removed (Java's ISO formatters), nothing for zero.
fn push_fraction(out: &mut String, micros: i64) {
    if micros == 0 {
        return;
    }
    let mut frac = format!("{micros:06}");
    while frac.ends_with('0') {
        frac.pop();
    }
    out.push('.');
    out.push_str(&frac);
}

/// Appends `HH:MM:SS[.f]` with the fraction trimmed.
fn push_clock(out: &mut String, micros_of_day: i64) {
    push_hms(out, micros_of_day);
    push_fraction(out, micros_of_day % 1_000_000);
}

/// `timetz` text to Debezium's `ZonedTime`: the time in UTC, ISO-8601 with `Z`.
pub fn zoned_time(text: &str) -> Result<String, TextError> {
    let (micros, rest) = parse_clock(text)?;
    let offset = parse_offset(rest)?;
    let utc = (micros - offset * 1_000_000).rem_euclid(DAY_US);
    let mut out = String::with_capacity(20);
    push_clock(&mut out, utc);
    out.push('Z');
    Ok(out)
}

/// Splits `YYYY-MM-DD HH:MM:SS[.f][+TZ][ BC]` into micros since the epoch (as local) and
/// the offset text.
fn parse_datetime(text: &str) -> Result<(i64, &str), TextError> {
    let (body, bc) = match text.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (text, false),
    };
    let (date, time) = body
        .split_once(' ')
        .ok_or_else(|| bad("a timestamp", text))?;
    let mut days = parse_date(date)?;
    if bc {
        days = parse_date(&format!("{date} BC"))?;
    }
    let (micros, rest) = parse_clock(time)?;
    let at = days
        .checked_mul(DAY_US)
        .and_then(|d| d.checked_add(micros))
        .ok_or_else(|| bad("a timestamp", text))?;
    Ok((at, rest))
}

/// `timestamp` text to microseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Result<i64, TextError> {
    match text {
        "infinity" => return Ok(TIMESTAMP_POSITIVE_INFINITY_US),
        "-infinity" => return Ok(TIMESTAMP_NEGATIVE_INFINITY_US),
        _ => {}
    }
    let (micros, rest) = parse_datetime(text)?;
    if !rest.is_empty() {
        return Err(bad("a timestamp", text));
    }
    Ok(micros)
}

/// `timestamptz` text to Debezium's `ZonedTimestamp`: ISO-8601 in UTC with `Z` and exactly
/// `precision` fractional digits (the column's precision).
pub fn zoned_timestamp(text: &str, precision: u32) -> Result<String, TextError> {
    match text {
        "infinity" => return Ok("infinity".to_string()),
        "-infinity" => return Ok("-infinity".to_string()),
        _ => {}
    }
    let (local, rest) = parse_datetime(text)?;
    let utc = local
        .checked_sub(parse_offset(rest)? * 1_000_000)
        .ok_or_else(|| bad("a timestamp", text))?;
    Ok(format_utc_timestamp(utc, Fraction::Fixed(precision)))
}

/// Debezium's average month, in days (365.25 / 12).
const DAYS_PER_MONTH_AVG: f64 = 365.25 / 12.0;

/// The components of an interval as PostgreSQL keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Interval {
    pub years: f64,
    pub months: f64,
    pub days: f64,
    pub hours: f64,
    pub minutes: f64,
    pub seconds: f64,
}

impl Interval {
    /// Debezium's `MicroDuration`, computed as Debezium computes it (months of 30.4375 days).
    pub fn micros(&self) -> i64 {
        let number_of_days = (self.years * 12.0 + self.months) * DAYS_PER_MONTH_AVG + self.days;
        let number_of_seconds =
            ((number_of_days * 24.0 + self.hours) * 60.0 + self.minutes) * 60.0 + self.seconds;
        (number_of_seconds * 1e6) as i64
    }

    /// Debezium's `Interval` string: every component, `P1Y2M3DT4H5M6.789S`.
    pub fn iso_string(&self) -> String {
        let seconds = format!("{:.6}", self.seconds);
        let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
        let seconds = if seconds == "-0" { "0" } else { seconds };
        format!(
            "P{}Y{}M{}DT{}H{}M{}S",
            self.years as i64,
            self.months as i64,
            self.days as i64,
            self.hours as i64,
            self.minutes as i64,
            seconds
        )
    }
}

/// An ISO-8601 interval to Debezium's `MicroDuration`.
pub fn parse_interval_micros(text: &str) -> Result<i64, TextError> {
    parse_interval(text).map(|i| i.micros())
}

/// An ISO-8601 interval (`IntervalStyle=iso_8601`, e.g. `P1Y2M3DT4H5M6.5S`).
pub fn parse_interval(text: &str) -> Result<Interval, TextError> {
    let body = text
        .strip_prefix('P')
        .ok_or_else(|| bad("an interval", text))?;
    let (mut years, mut months, mut days, mut hours, mut minutes) = (0f64, 0f64, 0f64, 0f64, 0f64);
    let mut seconds = 0f64;
    let mut in_time = false;
    let mut number = String::new();
    for c in body.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' | '.' | '-' | '+' => number.push(c),
            unit => {
                let v: f64 = number.parse().map_err(|_| bad("an interval", text))?;
                number.clear();
                match (in_time, unit) {
                    (false, 'Y') => years = v,
                    (false, 'M') => months = v,
                    (false, 'W') => days += v * 7.0,
                    (false, 'D') => days += v,
                    (true, 'H') => hours = v,
                    (true, 'M') => minutes = v,
                    (true, 'S') => seconds = v,
                    _ => return Err(bad("an interval", text)),
                }
            }
        }
    }
    if !number.is_empty() {
        return Err(bad("an interval", text));
    }
    Ok(Interval {
        years,
        months,
        days,
        hours,
        minutes,
        seconds,
    })
}

/// A bit string (`0101`) to Debezium's `Bits` bytes: bit i is the i-th character from the
/// right, little-endian bytes, with high zero bytes dropped (Java's `BitSet.toByteArray`).
pub fn bits_to_bytes(text: &[u8]) -> Result<Vec<u8>, TextError> {
    let len = text.len();
    let mut out = vec![0u8; len.div_ceil(8)];
    for (i, &c) in text.iter().rev().enumerate() {
        match c {
            b'1' => out[i / 8] |= 1 << (i % 8),
            b'0' => {}
            _ => {
                return Err(TextError::new(
                    "bit string has a character other than 0 or 1",
                ))
            }
        }
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    Ok(out)
}

/// `(x,y)` to its coordinates.
pub fn parse_point(text: &str) -> Result<(f64, f64), TextError> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| bad("a point", text))?;
    let (x, y) = inner.split_once(',').ok_or_else(|| bad("a point", text))?;
    Ok((
        parse_float(x.trim().as_bytes())?,
        parse_float(y.trim().as_bytes())?,
    ))
}

/// Well-known binary of a 2D point, little-endian, as Debezium's `Point` carries it.
pub fn point_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut wkb = Vec::with_capacity(21);
    wkb.push(1);
    wkb.extend_from_slice(&1u32.to_le_bytes());
    wkb.extend_from_slice(&x.to_le_bytes());
    wkb.extend_from_slice(&y.to_le_bytes());
    wkb
}

/// Splits a one-dimensional array literal (`{1,"a b",NULL}`) into element texts.
pub fn parse_array(text: &[u8]) -> Result<Vec<Option<Vec<u8>>>, TextError> {
    let mut body = text;
    if body.first() == Some(&b'[') {
        // Explicit bounds: `[1:3]={...}`.
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| TextError::new("array literal has bounds but no '='"))?;
        body = &body[eq + 1..];
    }
    let inner = body
        .strip_prefix(b"{")
        .and_then(|b| b.strip_suffix(b"}"))
        .ok_or_else(|| TextError::new("array literal is not enclosed in braces"))?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Ok(items);
    }
    let mut i = 0;
    loop {
        if inner.get(i) == Some(&b'{') {
            return Err(TextError::new("multi-dimensional arrays are not supported"));
        }
        if inner.get(i) == Some(&b'"') {
            let mut item = Vec::new();
            i += 1;
            loop {
                match inner.get(i) {
                    None => return Err(TextError::new("array literal has an unterminated quote")),
                    Some(b'\\') => {
                        let escaped = inner
                            .get(i + 1)
                            .ok_or_else(|| TextError::new("array literal ends in an escape"))?;
                        item.push(*escaped);
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&b) => {
                        item.push(b);
                        i += 1;
                    }
                }
            }
            items.push(Some(item));
        } else {
            let end = inner[i..]
                .iter()
                .position(|&b| b == b',')
                .map_or(inner.len(), |p| i + p);
            let raw = &inner[i..end];
            items.push(if raw == b"NULL" {
                None
            } else {
                Some(raw.to_vec())
            });
            i = end;
        }
        match inner.get(i) {
            None => break,
            Some(b',') => i += 1,
            Some(_) => {
                return Err(TextError::new(
                    "array literal has text after a quoted element",
                ))
            }
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {

    #[test]
    fn dates_and_timestamps_far_out_of_range_are_errors_not_overflows() {
        // Found by fuzzing: a year of seven digits overflowed the microsecond count.
        assert!(parse_timestamp("2002024-02-29 12:34:56.-222-429").is_err());
        assert!(parse_timestamp("294277-01-01 00:00:00").is_err());
        assert!(parse_date("99999999999-01-01").is_err());
        assert!(parse_date("9223372036854775807-01-01 BC").is_err());
        assert!(parse_timestamp("294246-12-31 23:59:59").is_ok());
        assert!(parse_date("5874897-12-31").is_ok());
        assert!(zoned_timestamp("2024-02-29 12:34:56.789++8888888880290291", 6).is_err());
        assert!(zoned_time("12:00:00+99:99:99:99").is_err());
        assert_eq!(
            zoned_timestamp("2024-02-29 12:34:56.789+05:30", 3).unwrap(),
            "2024-02-29T07:04:56.789Z"
        );
    }

    use super::*;

    #[test]
    fn twos_complement_matches_java_big_integer() {
        assert_eq!(twos_complement("0", false), vec![0]);
        assert_eq!(twos_complement("127", false), vec![0x7f]);
        assert_eq!(twos_complement("128", false), vec![0x00, 0x80]);
        assert_eq!(twos_complement("482", false), vec![0x01, 0xe2]);
        assert_eq!(twos_complement("1", true), vec![0xff]);
        assert_eq!(twos_complement("128", true), vec![0x80]);
        assert_eq!(twos_complement("129", true), vec![0xff, 0x7f]);
        assert_eq!(twos_complement("256", true), vec![0xff, 0x00]);
    }

    #[test]
    fn numerics_keep_their_scale() {
        assert_eq!(
            decimal_value("4.82", Some(2), DecimalMode::Precise).unwrap(),
            Value::Decimal {
                unscaled: vec![0x01, 0xe2],
                scale: 2
            }
        );
        assert_eq!(
            decimal_value("-1.5", None, DecimalMode::Precise).unwrap(),
            Value::VariableDecimal {
                unscaled: vec![0xf1],
                scale: 1
            }
        );
    }

    #[test]
    fn dates_count_days_from_the_epoch() {
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("2024-02-29").unwrap(), 19782);
        assert_eq!(parse_date("1969-12-31").unwrap(), -1);
        assert_eq!(
            parse_date("0001-01-01 BC").unwrap(),
            days_from_civil(0, 1, 1)
        );
    }

    #[test]
    fn timestamps_convert_to_utc() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5").unwrap(), 1_500_000);
        assert_eq!(
            zoned_timestamp("2024-01-02 03:04:05.25+02", 6).unwrap(),
            "2024-01-02T01:04:05.250000Z"
        );
        assert_eq!(
            zoned_timestamp("2024-01-02 03:04:05+00", 0).unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(zoned_time("10:00:00+05:30").unwrap(), "04:30:00Z");
    }

    #[test]
    fn intervals_use_average_months() {
        assert_eq!(parse_interval_micros("PT1H").unwrap(), 3_600_000_000);
        assert_eq!(parse_interval_micros("P1M").unwrap(), 2_629_800_000_000);
        assert_eq!(parse_interval_micros("P-1DT-1S").unwrap(), -86_401_000_000);
    }

    #[test]
    fn arrays_split_quoted_and_null_elements() {
        let items = parse_array(br#"{1,"a,b",NULL,"x\"y"}"#).unwrap();
        assert_eq!(
            items,
            vec![
                Some(b"1".to_vec()),
                Some(b"a,b".to_vec()),
                None,
                Some(b"x\"y".to_vec())
            ]
        );
        assert!(parse_array(b"{{1,2},{3,4}}").is_err());
        assert_eq!(parse_array(b"{}").unwrap(), vec![]);
    }

    #[test]
    fn bits_are_little_endian() {
        assert_eq!(bits_to_bytes(b"101").unwrap(), vec![0b101]);
        assert_eq!(bits_to_bytes(b"100000000").unwrap(), vec![0, 1]);
        assert_eq!(bits_to_bytes(b"000").unwrap(), Vec::<u8>::new());
        assert_eq!(bits_to_bytes(b"1000000001").unwrap(), vec![1, 2]);
        assert_eq!(bits_to_bytes(b"000").unwrap(), Vec::<u8>::new());
        assert_eq!(bits_to_bytes(b"1000000001").unwrap(), vec![1, 2]);
    }

    #[test]
    fn no_text_makes_a_decoder_panic() {
        use crate::config::{
            BinaryMode, IntervalMode, TimePrecisionMode, TypeOptions, ValueOptions,
        };
        use crate::types::PgType;
        let options = TypeOptions {
            values: ValueOptions {
                decimal: DecimalMode::Precise,
                time_precision: TimePrecisionMode::Adaptive,
                binary: BinaryMode::Bytes,
            },
            money_fraction_digits: 2,
            interval: IntervalMode::String,
        };
        let types = [
            PgType::Bool,
            PgType::Int4,
            PgType::Float8,
            PgType::Numeric {
                precision: Some(5),
                scale: Some(2),
            },
            PgType::Numeric {
                precision: None,
                scale: None,
            },
            PgType::Money,
            PgType::Bytea,
            PgType::Date,
            PgType::Time { precision: 6 },
            PgType::TimeTz { precision: 6 },
            PgType::Timestamp { precision: 3 },
            PgType::TimestampTz { precision: 6 },
            PgType::Interval,
            PgType::Bits { length: 8 },
            PgType::Point,
            PgType::Array(Box::new(PgType::Int4)),
            PgType::Array(Box::new(PgType::Date)),
        ];
        let samples: &[&[u8]] = &[
            b"",
            b"-",
            b".",
            b"+",
            b"e",
            b"00:00:0\xc3\xa9",
            "12:34:5é".as_bytes(),
            b"1970-01-01 ",
            b"1970-01-01 00:00:00+",
            b"P",
            b"PT",
            b"P1",
            b"P-",
            b"\\x1",
            b"\\xzz",
            b"(1,",
            b"()",
            b"{",
            b"}",
            b"{\"",
            b"{\\",
            b"[1:2]",
            b"[1:2]={1,2}",
            b"99999999999999999999999",
            b"-0.",
            b"1e999",
            b"NaN",
            b"$",
            b"($1.00)",
            b"24:00:00",
            b"9999-99-99",
            b"0000-00-00 BC",
            "\u{0}\u{ff}".as_bytes(),
            &[0xff, 0xfe, 0x00],
        ];
        for t in &types {
            for s in samples {
                let _ = t.decode_text(s, &options);
            }
        }
        // A small deterministic generator over printable bytes, digits and separators.
        let alphabet = b"0123456789-+:.,{}()[]=\\\"xPTYMDHS BCe$ ";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut s = Vec::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            for t in &types {
                let _ = t.decode_text(&s, &options);
            }
        }
    }

    #[test]
    fn money_drops_symbols_and_grouping() {
        assert_eq!(money_to_plain("$1,234.56").unwrap(), "1234.56");
        assert_eq!(money_to_plain("-$0.50").unwrap(), "-0.50");
    }
}
