//! Reading a row image or event body: little-endian and big-endian integers, MySQL's
//! length-encoded integers and strings, and column bitmaps. Every read that would run past
//! the end is a [`Fault::Truncated`]. [`Reader`] reads an event body field by field, naming
//! the field and offset where it runs out.

use super::error::{DecodeError, Fault};

/// Splits `n` bytes off the front of `buf`.
pub(crate) fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], Fault> {
    if buf.len() < n {
        return Err(Fault::Truncated);
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

/// [`take`] for the row path, where the caller names the column.
pub(crate) fn split<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Some(head)
}

pub(crate) fn take_byte(buf: &mut &[u8]) -> Result<u8, Fault> {
    let (&first, rest) = buf.split_first().ok_or(Fault::Truncated)?;
    *buf = rest;
    Ok(first)
}

/// A little-endian unsigned integer of up to 8 bytes.
pub(crate) fn uint_le(bytes: &[u8]) -> u64 {
    match *bytes {
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_le_bytes([a, b])),
        [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => bytes
            .iter()
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    }
}

/// A big-endian unsigned integer of up to 8 bytes.
pub(crate) fn uint_be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// The low `bits` bits of `raw` as a signed number.
pub(crate) fn sign_extend(raw: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((raw << shift) as i64) >> shift
}

/// A length-encoded integer (`net_field_length`): one byte below 251, else a 0xFC, 0xFD or
/// 0xFE marker and 2, 3 or 8 bytes.
pub(crate) fn lenenc(buf: &mut &[u8]) -> Result<u64, Fault> {
    let width = match take_byte(buf)? {
        b @ 0..=250 => return Ok(u64::from(b)),
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        other => {
            return Err(Fault::invalid(format!(
                "{other:#04x} does not start a length-encoded integer"
            )))
        }
    };
    Ok(uint_le(take(buf, width)?))
}

/// A length-encoded integer used as a count or a byte length.
pub(crate) fn length(buf: &mut &[u8]) -> Result<usize, Fault> {
    let n = lenenc(buf)?;
    usize::try_from(n).map_err(|_| Fault::invalid(format!("length {n} is out of range")))
}

/// A length-encoded string, as UTF-8 (invalid bytes replaced).
pub(crate) fn lenenc_string(buf: &mut &[u8]) -> Result<String, Fault> {
    let n = length(buf)?;
    Ok(String::from_utf8_lossy(take(buf, n)?).into_owned())
}

/// Bit `i` of a bitmap whose first column is the lowest bit of the first byte.
pub(crate) fn bit(bitmap: &[u8], i: usize) -> bool {
    bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Bit `i` of a bitmap whose first entry is the highest bit of the first byte (the
/// optional metadata's SIGNEDNESS and COLUMN_VISIBILITY).
pub(crate) fn bit_msb(bitmap: &[u8], i: usize) -> bool {
    bitmap
        .get(i / 8)
        .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
}

/// How many of the first `n` bits of a bitmap are set.
pub(crate) fn count_bits(bitmap: &[u8], n: usize) -> usize {
    let full = n / 8;
    let mut count: usize = bitmap
        .iter()
        .take(full)
        .map(|b| b.count_ones() as usize)
        .sum();
    let rest = n % 8;
    if rest > 0 {
        if let Some(last) = bitmap.get(full) {
            count += (last & ((1u8 << rest) - 1)).count_ones() as usize;
        }
    }
    count
}

/// A cursor over an event's bytes that turns every short read into [`DecodeError::Truncated`].
pub(crate) struct Reader<'a> {
    event: &'static str,
    buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(event: &'static str, buf: &'a [u8]) -> Self {
        Reader { event, buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                event: self.event,
                field,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn invalid(
        &self,
        field: &'static str,
        offset: usize,
        reason: impl Into<String>,
    ) -> DecodeError {
        DecodeError::Invalid {
            event: self.event,
            field,
            offset,
            reason: reason.into(),
        }
    }

    /// Reads `n` bytes as a UTF-8 name (binlog file names are ASCII).
    pub(crate) fn name(&mut self, n: usize, field: &'static str) -> Result<String, DecodeError> {
        let at = self.pos;
        let raw = self.bytes(n, field)?;
        String::from_utf8(raw.to_vec()).map_err(|e| self.invalid(field, at, e.to_string()))
    }
}
