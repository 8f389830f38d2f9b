//! [`DecodeError`] and [`Reader`], the bounds-checked big-endian reader that every decoder
//! of the replication protocol reads its bytes with.

use bytes::Bytes;

/// A malformed message. `what` names the field or message being read, `offset` is the
/// byte offset within the decoded buffer where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer ended before `what` was complete.
    #[error("truncated {what} at offset {offset}")]
    Truncated { what: &'static str, offset: usize },
    /// A tag byte that the protocol does not define here.
    #[error("unknown {what} tag {tag:#04x} at offset {offset}")]
    UnknownTag {
        what: &'static str,
        tag: u8,
        offset: usize,
    },
    /// A field whose value is out of range or otherwise not allowed.
    #[error("invalid {what} at offset {offset}: {reason}")]
    Invalid {
        what: &'static str,
        offset: usize,
        reason: &'static str,
    },
    /// Bytes left over after a complete message.
    #[error("{count} trailing bytes after {what} at offset {offset}")]
    Trailing {
        what: &'static str,
        offset: usize,
        count: usize,
    },
}

impl DecodeError {
    /// The byte offset at which decoding failed.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Truncated { offset, .. }
            | DecodeError::UnknownTag { offset, .. }
            | DecodeError::Invalid { offset, .. }
            | DecodeError::Trailing { offset, .. } => *offset,
        }
    }
}

/// A bounds-checked big-endian reader over a [`Bytes`] buffer.
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                what,
                offset: self.pos,
            });
        }
        let buf: &'a Bytes = self.buf;
        let s = &buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A non-negative `Int32` count or length.
    pub(crate) fn len32(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let n = self.i32(what)?;
        usize::try_from(n).map_err(|_| DecodeError::Invalid {
            what,
            offset,
            reason: "negative length",
        })
    }

    /// A non-negative `Int16` count.
    pub(crate) fn len16(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let n = self.i16(what)?;
        usize::try_from(n).map_err(|_| DecodeError::Invalid {
            what,
            offset,
            reason: "negative count",
        })
    }

    /// `n` bytes as a zero-copy slice of the buffer.
    pub(crate) fn slice(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                what,
                offset: self.pos,
            });
        }
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// A NUL-terminated string's bytes, without the NUL.
    pub(crate) fn cstr_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let buf: &'a Bytes = self.buf;
        let rest = &buf[start..];
        let Some(nul) = memchr::memchr(0, rest) else {
            return Err(DecodeError::Truncated {
                what,
                offset: start,
            });
        };
        self.pos += nul + 1;
        Ok(&rest[..nul])
    }

    /// A NUL-terminated UTF-8 string.
    pub(crate) fn cstr(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let start = self.pos;
        let s = self.cstr_bytes(what)?;
        match std::str::from_utf8(s) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => {
                self.pos = start;
                Err(DecodeError::Invalid {
                    what,
                    offset: start,
                    reason: "not valid UTF-8",
                })
            }
        }
    }

    pub(crate) fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::Trailing {
                what,
                offset: self.pos,
                count,
            }),
        }
    }
}
