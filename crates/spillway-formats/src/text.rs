//! Low-level JSON text output: string escaping, numbers the way Java prints them, base64.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Appends `s` as a JSON string literal, escaped as Jackson escapes it.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none of them needs escaping (most text).
        if let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0..=0x1f => None,
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether one of the eight bytes of `word` is a control character, a quote or a backslash.
/// Exact as a whole: the zero-byte tests it builds on can only misplace a hit, not invent one.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    below_space | quote | backslash != 0
}

/// Appends an integer.
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

/// Appends base64 (standard alphabet, padded) of `data` as a JSON string.
pub fn write_base64(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, 0);
    let written = STANDARD
        .encode_slice(data, &mut out[start..])
        .unwrap_or_default();
    out.truncate(start + written);
    out.push(b'"');
}

/// Appends a double as Java's `Double.toString` prints it (Jackson's output).
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        write_non_finite(out, v.is_nan(), v.is_sign_negative());
        return;
    }
    let mut buf = ryu::Buffer::new();
    java_style(out, buf.format_finite(v));
}

/// Appends a float as Java's `Float.toString` prints it.
pub fn write_f32(out: &mut Vec<u8>, v: f32) {
    if !v.is_finite() {
        write_non_finite(out, v.is_nan(), v.is_sign_negative());
        return;
    }
    let mut buf = ryu::Buffer::new();
    java_style(out, buf.format_finite(v));
}

fn write_non_finite(out: &mut Vec<u8>, nan: bool, negative: bool) {
    out.extend_from_slice(match (nan, negative) {
        (true, _) => b"\"NaN\"".as_slice(),
        (false, false) => b"\"Infinity\"",
        (false, true) => b"\"-Infinity\"",
    });
}

/// Rewrites ryu's shortest representation in Java's layout: plain notation with at least one
/// fractional digit for 1e-3 <= |v| < 1e7, otherwise `d.dddE±n`.
fn java_style(out: &mut Vec<u8>, shortest: &str) {
    let (negative, body) = match shortest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, shortest),
    };
    // Split into decimal digits and a decimal exponent: value = 0.d1d2d3... * 10^point.
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let mut digits: String = format!("{int_part}{frac_part}");
    let mut point = int_part.len() as i32 + exp;
    let leading = digits.bytes().take_while(|&b| b == b'0').count();
    if leading == digits.len() {
        if negative {
            out.push(b'-');
        }
        out.extend_from_slice(b"0.0");
        return;
    }
    digits.drain(..leading);
    point -= leading as i32;
    let trimmed = digits.trim_end_matches('0').len();
    digits.truncate(trimmed);
    if negative {
        out.push(b'-');
    }
    // Java: plain for 10^-3 <= v < 10^7, i.e. -2 <= point <= 7.
    if (-2..=7).contains(&point) {
        if point <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-point) as usize));
            out.extend_from_slice(digits.as_bytes());
        } else if digits.len() as i32 <= point {
            out.extend_from_slice(digits.as_bytes());
            out.extend(std::iter::repeat_n(
                b'0',
                (point - digits.len() as i32) as usize,
            ));
            out.extend_from_slice(b".0");
        } else {
            let (a, b) = digits.split_at(point as usize);
            out.extend_from_slice(a.as_bytes());
            out.push(b'.');
            out.extend_from_slice(b.as_bytes());
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.extend_from_slice(first.as_bytes());
        out.push(b'.');
        if rest.is_empty() {
            out.push(b'0');
        } else {
            out.extend_from_slice(rest.as_bytes());
        }
        out.push(b'E');
        write_int(out, i64::from(point - 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64s(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn f32s(v: f32) -> String {
        let mut out = Vec::new();
        write_f32(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(f64s(1.0), "1.0");
        assert_eq!(f64s(-2.5), "-2.5");
        assert_eq!(f64s(100.0), "100.0");
        assert_eq!(f64s(0.001), "0.001");
        assert_eq!(f64s(0.0001), "1.0E-4");
        assert_eq!(f64s(1234567.0), "1234567.0");
        assert_eq!(f64s(12345678.0), "1.2345678E7");
        assert_eq!(f64s(1e21), "1.0E21");
        assert_eq!(f64s(0.0), "0.0");
        assert_eq!(f64s(2.71), "2.71");
        assert_eq!(f64s(f64::NAN), "\"NaN\"");
        assert_eq!(f64s(f64::NEG_INFINITY), "\"-Infinity\"");
    }

    #[test]
    fn floats_print_like_java() {
        assert_eq!(f32s(1.5), "1.5");
        assert_eq!(f32s(0.1), "0.1");
        assert_eq!(f32s(1e10), "1.0E10");
    }

    #[test]
    fn strings_escape_like_jackson() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é/");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001é/\""
        );
    }

    #[test]
    fn strings_escape_at_every_place_of_a_word() {
        // Every character that needs escaping, at each place in and around eight-byte words,
        // next to multi-byte UTF-8.
        for special in [
            '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{0}', '\u{1f}',
        ] {
            for before in 0..17 {
                let s: String = "é".repeat(before / 2)
                    + &"x".repeat(before % 2)
                    + &special.to_string()
                    + "abcdefghijé";
                let mut fast = Vec::new();
                write_str(&mut fast, &s);
                let mut expected = vec![b'"'];
                for c in s.chars() {
                    match c {
                        '"' => expected.extend_from_slice(b"\\\""),
                        '\\' => expected.extend_from_slice(b"\\\\"),
                        '\n' => expected.extend_from_slice(b"\\n"),
                        '\r' => expected.extend_from_slice(b"\\r"),
                        '\t' => expected.extend_from_slice(b"\\t"),
                        '\u{8}' => expected.extend_from_slice(b"\\b"),
                        '\u{c}' => expected.extend_from_slice(b"\\f"),
                        c if (c as u32) < 0x20 => {
                            expected.extend_from_slice(format!("\\u{:04X}", c as u32).as_bytes())
                        }
                        c => expected.extend_from_slice(c.to_string().as_bytes()),
                    }
                }
                expected.push(b'"');
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(expected).unwrap(),
                    "{s:?}"
                );
            }
        }
        // Bytes around the tested ranges pass unescaped.
        let mut out = Vec::new();
        write_str(&mut out, " !#[]~\u{7f}\u{80}\u{10ffff}abcdefgh");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\" !#[]~\u{7f}\u{80}\u{10ffff}abcdefgh\""
        );
    }

    #[test]
    fn base64_is_padded() {
        let mut out = Vec::new();
        write_base64(&mut out, &[1, 226]);
        assert_eq!(out, b"\"AeI=\"");
    }
}
