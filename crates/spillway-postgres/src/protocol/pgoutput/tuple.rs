//! Row values: [`TupleData`], one [`TupleValue`] per column, and their decoder. Values are
//! zero-copy slices of the buffer they were decoded from.

use bytes::Bytes;

use super::reader::{DecodeError, Reader};

/// One column value of a [`TupleData`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// SQL NULL.
    Null,
    /// A TOASTed value that the change did not modify; its value is not sent.
    UnchangedToast,
    /// The value in text format (the type's output function), in the server encoding.
    Text(Bytes),
    /// The value in binary format (only sent when binary mode was requested).
    Binary(Bytes),
}

/// A row: one [`TupleValue`] per column of the [`Relation`](super::Relation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TupleData {
    /// Values in the order of the relation's columns.
    pub columns: Vec<TupleValue>,
}

pub(super) fn decode_tuple(r: &mut Reader<'_>) -> Result<TupleData, DecodeError> {
    let n = r.len16("TupleData column count")?;
    // A value takes at least its 1-byte kind.
    let mut columns = Vec::with_capacity(n.min(r.remaining()));
    for _ in 0..n {
        let kind_offset = r.pos;
        let value = match r.u8("TupleData value kind")? {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::UnchangedToast,
            b't' => {
                let len = r.len32("TupleData text length")?;
                TupleValue::Text(r.slice(len, "TupleData text value")?)
            }
            b'b' => {
                let len = r.len32("TupleData binary length")?;
                TupleValue::Binary(r.slice(len, "TupleData binary value")?)
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "TupleData value kind",
                    tag,
                    offset: kind_offset,
                })
            }
        };
        columns.push(value);
    }
    Ok(TupleData { columns })
}
