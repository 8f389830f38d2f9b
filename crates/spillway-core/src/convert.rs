//! Conversions both sources need to produce Debezium's representations: decimal digits
//! to Java `BigInteger` bytes, calendar arithmetic, ISO-8601 timestamps.

use std::fmt::Write as _;

/// Micros per day.
pub const DAY_US: i64 = 86_400_000_000;

/// Big-endian two's complement bytes of a decimal digit string, as Java's
/// `BigInteger.toByteArray` gives them (minimal length, at least one byte).
pub fn twos_complement(digits: &str, negative: bool) -> Vec<u8> {
    // Magnitude in base 256, little-endian, by repeated multiply-add.
    let mut mag: Vec<u8> = Vec::with_capacity(digits.len() / 2 + 1);
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for byte in mag.iter_mut() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            mag.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    while mag.last() == Some(&0) {
        mag.pop();
    }
    let is_zero = mag.is_empty();
    if negative && !is_zero {
        // Two's complement: invert and add one.
        let mut carry = 1u16;
        for byte in mag.iter_mut() {
            let v = u16::from(!*byte) + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        if mag.last().is_some_and(|b| b & 0x80 == 0) {
            mag.push(0xff);
        }
        // Drop redundant leading 0xff bytes.
        while mag.len() > 1 && mag[mag.len() - 1] == 0xff && mag[mag.len() - 2] & 0x80 != 0 {
            mag.pop();
        }
    } else if mag.last().is_none_or(|b| b & 0x80 != 0) {
        mag.push(0);
    }
    mag.reverse();
    mag
}

/// The decimal text of an unscaled big-endian two's complement integer (Java's
/// `BigInteger` bytes, as Connect's `Decimal` carries them) with `scale` digits after the
/// point: the inverse of [`twos_complement`]. No bytes read as zero.
pub fn decimal_text(unscaled: &[u8], scale: u32) -> String {
    let negative = unscaled.first().is_some_and(|b| b & 0x80 != 0);
    // Magnitude, big-endian.
    let mut mag: Vec<u8> = unscaled.to_vec();
    if negative {
        for byte in mag.iter_mut() {
            *byte = !*byte;
        }
        for byte in mag.iter_mut().rev() {
            let (v, carry) = byte.overflowing_add(1);
            *byte = v;
            if !carry {
                break;
            }
        }
    }
    // Decimal digits by repeated division by 10^9 over base-256 limbs.
    let mut chunks: Vec<u32> = Vec::new();
    let mut rest: Vec<u8> = mag.into_iter().skip_while(|b| *b == 0).collect();
    while !rest.is_empty() {
        let mut remainder = 0u64;
        let mut quotient = Vec::with_capacity(rest.len());
        for byte in &rest {
            let acc = (remainder << 8) | u64::from(*byte);
            let q = acc / 1_000_000_000;
            remainder = acc % 1_000_000_000;
            if !(quotient.is_empty() && q == 0) {
                quotient.push(q as u8);
            }
        }
        chunks.push(remainder as u32);
        rest = quotient;
    }
    let mut digits = String::with_capacity(chunks.len() * 9 + 2);
    match chunks.split_last() {
        None => digits.push('0'),
        Some((first, others)) => {
            let _ = write!(digits, "{first}");
            for chunk in others.iter().rev() {
                let _ = write!(digits, "{chunk:09}");
            }
        }
    }
    let scale = scale as usize;
    let mut out = String::with_capacity(digits.len() + scale + 3);
    if negative {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    }
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Appends `HH:MM:SS` of a time of day.
pub fn push_hms(out: &mut String, micros_of_day: i64) {
    let secs = micros_of_day / 1_000_000;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
}

/// Micros since the epoch as `YYYY-MM-DDTHH:MM:SS[.f]Z` with `precision` fraction digits.
pub fn format_utc_timestamp(micros: i64, fraction: Fraction) -> String {
    let days = micros.div_euclid(DAY_US);
    let (y, m, d) = civil_from_days(days);
    let mut out = String::with_capacity(32);
    if (0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}T");
    } else {
        let _ = write!(out, "{y:+05}-{m:02}-{d:02}T");
    }
    let of_day = micros.rem_euclid(DAY_US);
    push_hms(&mut out, of_day);
    let digits = format!("{:06}", of_day % 1_000_000);
    let shown = match fraction {
        Fraction::Fixed(precision) => &digits[..precision.min(6) as usize],
        Fraction::Trimmed => digits.trim_end_matches('0'),
    };
    if !shown.is_empty() {
        out.push('.');
        out.push_str(shown);
    }
    out.push('Z');
    out
}

/// How many fractional-second digits a timestamp string shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fraction {
    /// Exactly this many (PostgreSQL's `ZonedTimestamp` uses the column's precision).
    Fixed(u32),
    /// As many as needed, none for whole seconds (Java's ISO formatter).
    Trimmed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_inverts_twos_complement() {
        for (digits, negative, scale, text) in [
            ("0", false, 0, "0"),
            ("0", false, 2, "0.00"),
            ("1", false, 0, "1"),
            ("5", true, 3, "-0.005"),
            ("12345", false, 2, "123.45"),
            ("12345", true, 2, "-123.45"),
            ("128", false, 0, "128"),
            ("128", true, 0, "-128"),
            ("255", true, 1, "-25.5"),
            (
                "9999999999999999999999999999999999999",
                false,
                10,
                "999999999999999999999999999.9999999999",
            ),
            ("1000000000000000000000", true, 0, "-1000000000000000000000"),
        ] {
            let bytes = twos_complement(digits, negative);
            assert_eq!(
                decimal_text(&bytes, scale),
                text,
                "{digits} {negative} {scale}"
            );
        }
        assert_eq!(decimal_text(&[], 0), "0");
        assert_eq!(decimal_text(&[0xff], 0), "-1");
        assert_eq!(decimal_text(&[0x80], 0), "-128");
    }
}
