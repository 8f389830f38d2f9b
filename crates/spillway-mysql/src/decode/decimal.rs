//! MySQL's binary DECIMAL (`decimal2bin`): groups of nine digits in four bytes, leftover
//! digits in the fewest bytes, the first bit inverted, negative numbers inverted.

use super::error::Fault;
use crate::config::DecimalMode;
use spillway_core::convert::twos_complement;
use spillway_core::Value;

/// Java `BigInteger.toByteArray` of `n`: big-endian two's complement, as few bytes as keep
/// the sign (the same bytes as [`twos_complement`] of its digits).
pub(crate) fn minimal_twos_complement(n: i128) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// Bytes per count (0 to 9) of leftover decimal digits.
pub(crate) const DIGITS_TO_BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
pub(crate) const DIGITS_PER_WORD: usize = 9;
pub(crate) const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Bytes of a DECIMAL(precision, scale) in binary form.
pub(crate) fn decimal_size(precision: u8, scale: u8) -> usize {
    let (intg, frac) = (
        usize::from(precision.saturating_sub(scale)),
        usize::from(scale),
    );
    (intg / DIGITS_PER_WORD) * 4
        + DIGITS_TO_BYTES[intg % DIGITS_PER_WORD]
        + (frac / DIGITS_PER_WORD) * 4
        + DIGITS_TO_BYTES[frac % DIGITS_PER_WORD]
}

/// A DECIMAL read from MySQL's binary format: groups of up to 9 digits, big-endian, the
/// first bit inverted, every byte inverted for negative numbers.
pub(crate) struct BinaryDecimal {
    negative: bool,
    /// The integer digits with leading zeros, then the fraction digits.
    digits: [u8; 65],
    int_len: usize,
    len: usize,
    /// The unscaled value, when it has at most 38 digits.
    unscaled: Option<i128>,
}

impl BinaryDecimal {
    pub(crate) const EMPTY: BinaryDecimal = BinaryDecimal {
        negative: false,
        digits: [b'0'; 65],
        int_len: 0,
        len: 0,
        unscaled: None,
    };

    /// Reads `b` as a DECIMAL(precision, scale) into `self` (filled in place: the struct
    /// is large enough that moving it shows in the row decoding time).
    pub(crate) fn read(
        &mut self,
        b: &[u8],
        precision: u8,
        scale: u8,
        digits: bool,
    ) -> Result<(), Fault> {
        if scale > precision || precision > 65 || b.len() != decimal_size(precision, scale) {
            return Err(Fault::invalid(format!(
                "{} bytes are not a DECIMAL({precision},{scale})",
                b.len()
            )));
        }
        let Some(&first) = b.first() else {
            return Err(Fault::Truncated);
        };
        self.negative = first & 0x80 == 0;
        let mask = if self.negative { 0xFF } else { 0x00 };
        let intg = usize::from(precision - scale);
        let frac = usize::from(scale);
        self.int_len = intg;
        self.len = 0;
        self.unscaled = (precision <= 38).then_some(0);
        let write_digits = digits;
        let mut at = 0;
        let mut group = |digits: usize, out: &mut BinaryDecimal| -> Result<(), Fault> {
            let width = if digits == DIGITS_PER_WORD {
                4
            } else {
                DIGITS_TO_BYTES[digits]
            };
            let bytes = b.get(at..at + width).ok_or(Fault::Truncated)?;
            let mut value = 0u64;
            for (k, &byte) in bytes.iter().enumerate() {
                let byte = if at + k == 0 { byte ^ 0x80 } else { byte } ^ mask;
                value = (value << 8) | u64::from(byte);
            }
            at += width;
            if value >= POW10[digits] {
                return Err(Fault::invalid(format!(
                    "{value} is not a group of {digits} decimal digits"
                )));
            }
            if write_digits {
                let mut v = value;
                for k in (0..digits).rev() {
                    out.digits[out.len + k] = b'0' + (v % 10) as u8;
                    v /= 10;
                }
            }
            out.len += digits;
            if let Some(u) = out.unscaled.as_mut() {
                *u = *u * POW10[digits] as i128 + value as i128;
            }
            Ok(())
        };
        if intg % DIGITS_PER_WORD > 0 {
            group(intg % DIGITS_PER_WORD, self)?;
        }
        for _ in 0..intg / DIGITS_PER_WORD {
            group(DIGITS_PER_WORD, self)?;
        }
        for _ in 0..frac / DIGITS_PER_WORD {
            group(DIGITS_PER_WORD, self)?;
        }
        if frac % DIGITS_PER_WORD > 0 {
            group(frac % DIGITS_PER_WORD, self)?;
        }
        Ok(())
    }

    /// The number as MySQL prints it: no leading zeros, `0` for a zero integer part, the
    /// scale's fraction digits. Like mysql_common (whose text the old decoder used), a zero
    /// with a fraction keeps a minus sign and one without drops it.
    pub(crate) fn write_text<'b>(&self, buf: &'b mut [u8; 68]) -> &'b str {
        let int = &self.digits[..self.int_len];
        let int = match int.iter().position(|&d| d != b'0') {
            Some(p) => &int[p..],
            None => &int[int.len()..],
        };
        let frac = &self.digits[self.int_len..self.len];
        let mut n = 0;
        let mut push = |bytes: &[u8], n: &mut usize| {
            buf[*n..*n + bytes.len()].copy_from_slice(bytes);
            *n += bytes.len();
        };
        if self.negative && !(int.is_empty() && frac.is_empty()) {
            push(b"-", &mut n);
        }
        push(if int.is_empty() { b"0" } else { int }, &mut n);
        if !frac.is_empty() {
            push(b".", &mut n);
            push(frac, &mut n);
        }
        // Only ASCII digits, '-' and '.' were written.
        std::str::from_utf8(&buf[..n]).unwrap_or("0")
    }

    /// Appends the value `decimal.handling.mode` gives.
    pub(crate) fn value(&self, mode: DecimalMode) -> Value {
        let mut buf = [0u8; 68];
        match mode {
            DecimalMode::String => Value::String(self.write_text(&mut buf).to_string()),
            DecimalMode::Double => Value::Float64(self.to_f64()),
            DecimalMode::Precise => Value::Decimal {
                unscaled: match self.unscaled {
                    Some(u) => minimal_twos_complement(if self.negative { -u } else { u }),
                    // Only ASCII digits were written.
                    None => twos_complement(
                        std::str::from_utf8(&self.digits[..self.len]).unwrap_or("0"),
                        self.negative,
                    ),
                },
                scale: (self.len - self.int_len) as u32,
            },
        }
    }

    /// The nearest double, as parsing the printed number gives it.
    pub(crate) fn to_f64(&self) -> f64 {
        let mut buf = [0u8; 68];
        self.write_text(&mut buf).parse().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fixtures::*;

    #[test]
    fn decimals_match_the_mysql_documentation_bytes() {
        assert_eq!(
            encode_decimal("1234567890.1234", 14, 4),
            [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2]
        );
        assert_eq!(
            encode_decimal("-1234567890.1234", 14, 4),
            [0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D]
        );
        let c = col(
            246,
            &[14, 4],
            MyType::Decimal {
                precision: 14,
                scale: 4,
            },
        );
        let s = with(
            DecimalMode::String,
            BigintUnsignedMode::Long,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        );
        assert_eq!(
            ok(&c, &[0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D], &s),
            Value::String("-1234567890.1234".into())
        );
    }

    #[test]
    fn decimals_equal_the_old_path_in_every_mode() {
        // (precision, scale, the value as the server writes it)
        let cases: &[(usize, usize, &str)] = &[
            (10, 2, "1234.56"),
            (10, 2, "-1234.56"),
            (10, 2, "0.05"),
            (10, 2, "-0.05"),
            (10, 2, "0.00"),
            (10, 2, "99999999.99"),
            (10, 2, "-99999999.99"),
            (5, 0, "0"),
            (5, 0, "12345"),
            (5, 0, "-12345"),
            (1, 0, "-9"),
            (4, 4, "0.1234"),
            (4, 4, "-0.0001"),
            (9, 9, "0.123456789"),
            (18, 9, "123456789.123456789"),
            (19, 0, "-1000000000000000000"),
            (30, 10, "12345678901234567890.0123456789"),
            (30, 10, "-12345678901234567890.0123456789"),
            (30, 10, "1.0000000001"),
            (38, 0, "99999999999999999999999999999999999999"),
            (38, 0, "-99999999999999999999999999999999999999"),
            (38, 38, "0.99999999999999999999999999999999999999"),
            (39, 0, "-999999999999999999999999999999999999999"),
            (
                65,
                30,
                "12345678901234567890123456789012345.123456789012345678901234567890",
            ),
            (65, 30, "-0.000000000000000000000000000001"),
            (
                65,
                0,
                "-99999999999999999999999999999999999999999999999999999999999999999",
            ),
            (20, 0, "1000000000"),
            (20, 0, "12345678901234567890"),
        ];
        for &(p, s, text) in cases {
            let c = col(
                246,
                &[p as u8, s as u8],
                MyType::Decimal {
                    precision: p as u32,
                    scale: s as u32,
                },
            );
            let bytes = encode_decimal(text, p, s);
            assert_eq!(bytes.len(), decimal_size(p as u8, s as u8));
            for o in all_options() {
                assert_eq!(
                    ok(&c, &bytes, &o),
                    old(&c.ty, Old::Bytes(text.as_bytes().to_vec()), &o),
                    "DECIMAL({p},{s}) {text} under {:?}",
                    o.values.decimal
                );
            }
        }
    }

    #[test]
    fn a_negative_zero_decimal_prints_like_mysql_common() {
        // Never written by the server, but the old path printed "-0.00" and "0".
        let c = col(
            246,
            &[5, 2],
            MyType::Decimal {
                precision: 5,
                scale: 2,
            },
        );
        let s = with(
            DecimalMode::String,
            BigintUnsignedMode::Long,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
        );
        let zero = encode_decimal("-0.00", 5, 2);
        assert_eq!(ok(&c, &zero, &s), Value::String("-0.00".into()));
        let c = col(
            246,
            &[5, 0],
            MyType::Decimal {
                precision: 5,
                scale: 0,
            },
        );
        assert_eq!(
            ok(&c, &encode_decimal("-0", 5, 0), &s),
            Value::String("0".into())
        );
        assert_eq!(
            ok(&c, &encode_decimal("-0", 5, 0), &options()),
            Value::Decimal {
                unscaled: vec![0],
                scale: 0
            }
        );
    }

    #[test]
    fn a_decimal_group_over_its_digits_is_an_error() {
        let c = col(
            246,
            &[2, 0],
            MyType::Decimal {
                precision: 2,
                scale: 0,
            },
        );
        let err = one(&c, &[0x80 | 100], &options()).unwrap_err();
        assert!(
            err.to_string().contains("not a group of 2 decimal digits"),
            "{err}"
        );
    }
}
