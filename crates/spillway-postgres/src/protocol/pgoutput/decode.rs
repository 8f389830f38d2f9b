//! [`LogicalMessage::decode`]: one pgoutput message from bytes, with the decoders of the
//! relation metadata and of the tuple markers it needs.

use bytes::Bytes;

use super::message::{
    Begin, Commit, Delete, Insert, LogicalDecodingMessage, LogicalMessage, Origin, Relation,
    RelationColumn, Truncate, TypeMessage, Update, OLD_KIND_FULL, OLD_KIND_KEY,
};
use super::reader::{DecodeError, Reader};
use super::tuple::decode_tuple;

impl LogicalMessage {
    /// Decodes one pgoutput message. Tuple values are zero-copy slices of `buf`.
    ///
    /// Only protocol version 1 is understood: the streaming (`S`, `E`, `c`, `A`) and
    /// two-phase messages of later versions are [`DecodeError::UnknownTag`].
    pub fn decode(buf: &Bytes) -> Result<LogicalMessage, DecodeError> {
        let mut r = Reader::new(buf);
        let tag_offset = r.pos;
        let tag = r.u8("logical message tag")?;
        let msg = match tag {
            b'B' => LogicalMessage::Begin(Begin {
                final_lsn: r.u64("Begin final LSN")?,
                commit_time_us: r.i64("Begin commit time")?,
                xid: r.u32("Begin xid")?,
            }),
            b'C' => LogicalMessage::Commit(Commit {
                flags: r.u8("Commit flags")?,
                commit_lsn: r.u64("Commit LSN")?,
                end_lsn: r.u64("Commit end LSN")?,
                commit_time_us: r.i64("Commit time")?,
            }),
            b'O' => LogicalMessage::Origin(Origin {
                commit_lsn: r.u64("Origin commit LSN")?,
                name: r.cstr("Origin name")?,
            }),
            b'R' => LogicalMessage::Relation(decode_relation(&mut r)?),
            b'Y' => LogicalMessage::Type(TypeMessage {
                oid: r.u32("Type OID")?,
                namespace: r.cstr("Type namespace")?,
                name: r.cstr("Type name")?,
            }),
            b'I' => {
                let relation = r.u32("Insert relation OID")?;
                expect_tag(&mut r, b'N', "Insert new-tuple marker")?;
                let new = decode_tuple(&mut r)?;
                LogicalMessage::Insert(Insert { relation, new })
            }
            b'U' => {
                let relation = r.u32("Update relation OID")?;
                let kind_offset = r.pos;
                let (old_kind, old) = match r.u8("Update tuple marker")? {
                    k @ (OLD_KIND_KEY | OLD_KIND_FULL) => {
                        let old = decode_tuple(&mut r)?;
                        expect_tag(&mut r, b'N', "Update new-tuple marker")?;
                        (Some(k), Some(old))
                    }
                    b'N' => (None, None),
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "Update tuple marker",
                            tag,
                            offset: kind_offset,
                        })
                    }
                };
                let new = decode_tuple(&mut r)?;
                LogicalMessage::Update(Update {
                    relation,
                    old_kind,
                    old,
                    new,
                })
            }
            b'D' => {
                let relation = r.u32("Delete relation OID")?;
                let kind_offset = r.pos;
                let old_kind = match r.u8("Delete tuple marker")? {
                    k @ (OLD_KIND_KEY | OLD_KIND_FULL) => k,
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "Delete tuple marker",
                            tag,
                            offset: kind_offset,
                        })
                    }
                };
                let old = decode_tuple(&mut r)?;
                LogicalMessage::Delete(Delete {
                    relation,
                    old_kind,
                    old,
                })
            }
            b'T' => {
                let n = r.len32("Truncate relation count")?;
                let options = r.u8("Truncate options")?;
                // Each OID takes 4 bytes: bound the allocation by what the buffer holds.
                let mut relations = Vec::with_capacity(n.min(r.remaining() / 4));
                for _ in 0..n {
                    relations.push(r.u32("Truncate relation OID")?);
                }
                LogicalMessage::Truncate(Truncate { options, relations })
            }
            b'M' => {
                let flags_offset = r.pos;
                let transactional = match r.u8("Message flags")? {
                    0 => false,
                    1 => true,
                    _ => {
                        return Err(DecodeError::Invalid {
                            what: "Message flags",
                            offset: flags_offset,
                            reason: "not 0 or 1",
                        })
                    }
                };
                let lsn = r.u64("Message LSN")?;
                let prefix = r.cstr("Message prefix")?;
                let len = r.len32("Message content length")?;
                let content = r.slice(len, "Message content")?;
                LogicalMessage::Message(LogicalDecodingMessage {
                    transactional,
                    lsn,
                    prefix,
                    content,
                })
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "logical message",
                    tag,
                    offset: tag_offset,
                })
            }
        };
        r.finish(msg.name())?;
        Ok(msg)
    }
}

fn expect_tag(r: &mut Reader<'_>, want: u8, what: &'static str) -> Result<(), DecodeError> {
    let offset = r.pos;
    let tag = r.u8(what)?;
    if tag == want {
        Ok(())
    } else {
        Err(DecodeError::UnknownTag { what, tag, offset })
    }
}

fn decode_relation(r: &mut Reader<'_>) -> Result<Relation, DecodeError> {
    let oid = r.u32("Relation OID")?;
    let namespace = r.cstr("Relation namespace")?;
    let name = r.cstr("Relation name")?;
    let ri_offset = r.pos;
    let replica_identity = r.u8("Relation replica identity")?;
    if !matches!(replica_identity, b'd' | b'n' | b'f' | b'i') {
        return Err(DecodeError::Invalid {
            what: "Relation replica identity",
            offset: ri_offset,
            reason: "not one of d, n, f, i",
        });
    }
    let n = r.len16("Relation column count")?;
    // A column takes at least 10 bytes (flags, empty name, type, modifier).
    let mut columns = Vec::with_capacity(n.min(r.remaining() / 10));
    for _ in 0..n {
        columns.push(RelationColumn {
            flags: r.u8("Relation column flags")?,
            name: r.cstr("Relation column name")?,
            type_oid: r.u32("Relation column type OID")?,
            type_modifier: r.i32("Relation column type modifier")?,
        });
    }
    Ok(Relation {
        oid,
        namespace,
        name,
        replica_identity,
        columns,
    })
}
