//! MariaDB's own binlog events (type codes 160 and up), which mysql_common leaves
//! undecoded: GTID_EVENT (production reads each transaction's GTID and its standalone flag
//! from it), GTID_LIST_EVENT, BINLOG_CHECKPOINT_EVENT, ANNOTATE_ROWS_EVENT and
//! START_ENCRYPTION_EVENT.
//!
//! Every decoder reads an event body and returns an error naming the field and its offset
//! when the bytes do not hold what they should; none panics, whatever the input.

use std::borrow::Cow;
use std::fmt;

use super::cursor::Reader;
use super::error::DecodeError;
use super::event::*;
use super::gtid::{MariaGtid, MariaGtidList};

/// An ANNOTATE_ROWS_EVENT (160): the statement whose row events follow (MariaDB sends it
/// when `binlog_annotate_row_events` is on and the dump asked for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnotateRows<'a> {
    /// The statement as the client sent it, in the client's character set.
    pub query: &'a [u8],
}

impl<'a> AnnotateRows<'a> {
    /// The body is the statement, nothing else.
    pub fn decode(body: &'a [u8]) -> Self {
        AnnotateRows { query: body }
    }

    /// The statement as text, invalid UTF-8 replaced.
    pub fn query_lossy(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.query)
    }
}

/// A BINLOG_CHECKPOINT_EVENT (161): the oldest binlog file crash recovery may still need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogCheckpoint {
    pub file: String,
}

impl BinlogCheckpoint {
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("BINLOG_CHECKPOINT_EVENT", body);
        let len = r.u32("file name length")?;
        let file = r.name(len as usize, "file name")?;
        Ok(BinlogCheckpoint { file })
    }
}

/// `flags2` bits of MariaDB's GTID_EVENT.
pub mod gtid_flags {
    /// No terminating COMMIT/XID event: a DDL or non-transactional statement on its own.
    pub const FL_STANDALONE: u8 = 1;
    /// Part of a group commit; `commit_id` follows.
    pub const FL_GROUP_COMMIT_ID: u8 = 2;
    /// The group can be rolled back safely (no non-transactional tables).
    pub const FL_TRANSACTIONAL: u8 = 4;
    /// May be applied in parallel (negation of `skip_parallel_replication`).
    pub const FL_ALLOW_PARALLEL: u8 = 8;
    /// A row lock wait happened while the transaction ran.
    pub const FL_WAITED: u8 = 16;
    /// The group contains DDL.
    pub const FL_DDL: u8 = 32;
    /// The group ends in `XA PREPARE`; the XID follows.
    pub const FL_PREPARED_XA: u8 = 64;
    /// The group is `XA COMMIT`/`XA ROLLBACK` of a prepared transaction; the XID follows.
    pub const FL_COMPLETED_XA: u8 = 128;

    /// `flags_extra`: `extra_engines` follows.
    pub const FL_EXTRA_MULTI_ENGINE: u8 = 1;
    /// `flags_extra`: first part of a two-phase `ALTER TABLE`.
    pub const FL_START_ALTER: u8 = 2;
    /// `flags_extra`: commit of a two-phase `ALTER TABLE`; `sa_seq_no` follows.
    pub const FL_COMMIT_ALTER: u8 = 4;
    /// `flags_extra`: rollback of a two-phase `ALTER TABLE`; `sa_seq_no` follows.
    pub const FL_ROLLBACK_ALTER: u8 = 8;
    /// `flags_extra` (MariaDB 11.5+): the originating session's thread id follows.
    pub const FL_EXTRA_THREAD_ID: u8 = 16;
}

use gtid_flags::*;

/// The XID of an XA transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xid {
    pub format_id: i32,
    pub gtrid: Vec<u8>,
    pub bqual: Vec<u8>,
}

/// MariaDB's GTID_EVENT (162): starts a transaction (or a standalone statement) and names its
/// GTID, whose server id is the event header's (see [`gtid`](Self::gtid)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidEvent {
    pub seq_no: u64,
    pub domain_id: u32,
    /// See [`gtid_flags`].
    pub flags2: u8,
    /// Set with [`FL_GROUP_COMMIT_ID`]: transactions with the same id committed together.
    pub commit_id: Option<u64>,
    /// Set with [`FL_PREPARED_XA`] or [`FL_COMPLETED_XA`].
    pub xid: Option<Xid>,
    /// Extra flags (MariaDB 10.5+), 0 when absent; see [`gtid_flags`].
    pub flags_extra: u8,
    /// Set with [`FL_EXTRA_MULTI_ENGINE`]: engines beyond the first in the transaction.
    pub extra_engines: Option<u8>,
    /// Set with [`FL_COMMIT_ALTER`] or [`FL_ROLLBACK_ALTER`]: the START ALTER's seq_no.
    pub sa_seq_no: Option<u64>,
    /// Set with [`FL_EXTRA_THREAD_ID`]: the originating session's thread id.
    pub thread_id: Option<u64>,
}

impl GtidEvent {
    /// Decodes the body.
    ///
    /// Layout: `seq_no` u64, `domain_id` u32, `flags2` u8; `commit_id` u64 with
    /// FL_GROUP_COMMIT_ID; with an XA flag `format_id` u32, `gtrid_length` u8, `bqual_length`
    /// u8 and the two strings; then, if bytes remain, `flags_extra` u8 and the fields it
    /// announces. Servers pad the body with zeros to 19 bytes (a zero `flags_extra` then)
    /// and later versions may append fields, so bytes after the known ones are ignored.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("GTID_EVENT", body);
        let seq_no = r.u64("seq_no")?;
        let domain_id = r.u32("domain_id")?;
        let flags2 = r.u8("flags2")?;
        let commit_id = if flags2 & FL_GROUP_COMMIT_ID != 0 {
            Some(r.u64("commit_id")?)
        } else {
            None
        };
        let xid = if flags2 & (FL_PREPARED_XA | FL_COMPLETED_XA) != 0 {
            let format_id = i32::from_le_bytes(r.array("xid format_id")?);
            let gtrid_len = r.u8("xid gtrid_length")?;
            let bqual_len = r.u8("xid bqual_length")?;
            let gtrid = r.bytes(gtrid_len.into(), "xid gtrid")?.to_vec();
            let bqual = r.bytes(bqual_len.into(), "xid bqual")?.to_vec();
            Some(Xid {
                format_id,
                gtrid,
                bqual,
            })
        } else {
            None
        };
        let mut event = GtidEvent {
            seq_no,
            domain_id,
            flags2,
            commit_id,
            xid,
            flags_extra: 0,
            extra_engines: None,
            sa_seq_no: None,
            thread_id: None,
        };
        if r.remaining() == 0 {
            return Ok(event);
        }
        let flags_extra = r.u8("flags_extra")?;
        event.flags_extra = flags_extra;
        if flags_extra & FL_EXTRA_MULTI_ENGINE != 0 {
            event.extra_engines = Some(r.u8("extra_engines")?);
        }
        if flags_extra & (FL_COMMIT_ALTER | FL_ROLLBACK_ALTER) != 0 {
            event.sa_seq_no = Some(r.u64("sa_seq_no")?);
        }
        if flags_extra & FL_EXTRA_THREAD_ID != 0 {
            // The last field: 8 bytes where they remain, else 4 (then padded to 19 bytes).
            event.thread_id = Some(if r.remaining() >= 8 {
                r.u64("thread_id")?
            } else {
                u64::from(r.u32("thread_id")?)
            });
        }
        Ok(event)
    }

    /// The GTID, given the `server_id` of the event header.
    pub fn gtid(&self, server_id: u32) -> MariaGtid {
        MariaGtid::new(self.domain_id, server_id, self.seq_no)
    }

    /// No COMMIT/XID event closes the group: the next statement event is the whole of it.
    pub fn is_standalone(&self) -> bool {
        self.flags2 & FL_STANDALONE != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.flags2 & FL_TRANSACTIONAL != 0
    }

    pub fn is_ddl(&self) -> bool {
        self.flags2 & FL_DDL != 0
    }
}

/// A GTID_LIST_EVENT (163): the binlog state when the file started (one GTID per domain and
/// server, the domain's latest last), or, artificial, the position a GTID connect starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidList {
    /// The top four bits of the count field: 1 = FLAG_UNTIL_REACHED, 2 = FLAG_IGN_GTIDS.
    pub flags: u8,
    pub gtids: Vec<MariaGtid>,
}

impl GtidList {
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("GTID_LIST_EVENT", body);
        let count_field = r.u32("count")?;
        let count = (count_field & 0x0fff_ffff) as usize;
        let flags = (count_field >> 28) as u8;
        let needed = count * 16;
        if r.remaining() < needed {
            return Err(DecodeError::Truncated {
                event: "GTID_LIST_EVENT",
                field: "gtids",
                offset: r.pos,
                needed,
                available: r.remaining(),
            });
        }
        let mut gtids = Vec::with_capacity(count);
        for _ in 0..count {
            let domain = r.u32("domain_id")?;
            let server = r.u32("server_id")?;
            let seq = r.u64("seq_no")?;
            gtids.push(MariaGtid::new(domain, server, seq));
        }
        Ok(GtidList { flags, gtids })
    }

    /// The list folded to a position: per domain, the last GTID listed.
    pub fn to_position(&self) -> MariaGtidList {
        MariaGtidList::from_gtids(self.gtids.iter().copied())
    }
}

/// A MariaDB event decoded by [`decode_mariadb_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MariaEvent<'a> {
    AnnotateRows(AnnotateRows<'a>),
    BinlogCheckpoint(BinlogCheckpoint),
    /// A GTID_EVENT with its GTID (the server id taken from the header).
    Gtid {
        gtid: MariaGtid,
        event: GtidEvent,
    },
    GtidList(GtidList),
    /// START_ENCRYPTION_EVENT as a server's replication stream sends it: the server has
    /// decrypted the binlog for its replica and marked this event ignorable. Nothing to do.
    StartEncryption,
}

impl fmt::Display for MariaEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MariaEvent::AnnotateRows(a) => write!(f, "ANNOTATE_ROWS {}", a.query_lossy()),
            MariaEvent::BinlogCheckpoint(c) => write!(f, "BINLOG_CHECKPOINT {}", c.file),
            MariaEvent::Gtid { gtid, .. } => write!(f, "GTID {gtid}"),
            MariaEvent::GtidList(l) => write!(f, "GTID_LIST [{}]", l.to_position()),
            MariaEvent::StartEncryption => {
                f.write_str("START_ENCRYPTION (decrypted by the server)")
            }
        }
    }
}

/// Decodes the MariaDB-specific event `header` introduces, `body` being its bytes after the
/// header without the checksum (`event.data()` with mysql_common). `Ok(None)` for every
/// other event type: those are mysql_common's to decode.
///
/// An error for what cannot be followed: an encrypted binlog (a START_ENCRYPTION_EVENT that
/// is not marked ignorable, i.e. the bytes were not decrypted by a server). MariaDB's
/// compressed events are not decoded here but by [`super::compressed`].
pub fn decode_mariadb_event<'a>(
    header: &EventHeader,
    body: &'a [u8],
) -> Result<Option<MariaEvent<'a>>, DecodeError> {
    Ok(Some(match header.event_type {
        ANNOTATE_ROWS_EVENT => MariaEvent::AnnotateRows(AnnotateRows::decode(body)),
        BINLOG_CHECKPOINT_EVENT => MariaEvent::BinlogCheckpoint(BinlogCheckpoint::decode(body)?),
        MARIADB_GTID_EVENT => {
            let event = GtidEvent::decode(body)?;
            MariaEvent::Gtid {
                gtid: event.gtid(header.server_id),
                event,
            }
        }
        GTID_LIST_EVENT => MariaEvent::GtidList(GtidList::decode(body)?),
        START_ENCRYPTION_EVENT if header.is_ignorable() => MariaEvent::StartEncryption,
        START_ENCRYPTION_EVENT => return Err(DecodeError::EncryptedBinlog),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fixtures::*;

    fn decoded(h: &str) -> MariaEvent<'static> {
        let bytes: &'static [u8] = Box::leak(hex(h).into_boxed_slice());
        let header = EventHeader::decode(bytes).unwrap();
        assert_eq!(header.event_size as usize, bytes.len());
        let (body, crc32) = bytes[EventHeader::LEN..].split_at(bytes.len() - EventHeader::LEN - 4);
        assert_eq!(event_crc32(&header, body).to_le_bytes(), crc32);
        decode_mariadb_event(&header, body).unwrap().unwrap()
    }

    #[test]
    fn captured_transaction_gtid() {
        let MariaEvent::Gtid { gtid, event: g } = decoded(GTID_0_1_5) else {
            panic!()
        };
        assert_eq!(gtid, MariaGtid::new(0, 1, 5));
        assert_eq!(g.flags2, FL_TRANSACTIONAL | FL_ALLOW_PARALLEL);
        assert!(!g.is_standalone() && g.is_transactional() && !g.is_ddl());
        assert_eq!((g.commit_id, &g.xid, g.flags_extra), (None, &None, 0));
    }

    #[test]
    fn captured_ddl_gtid() {
        let MariaEvent::Gtid { gtid, event: g } = decoded(GTID_0_1_3_DDL) else {
            panic!()
        };
        assert_eq!(gtid, MariaGtid::new(0, 1, 3));
        assert_eq!(g.flags2, FL_STANDALONE | FL_ALLOW_PARALLEL | FL_DDL);
        assert!(g.is_standalone() && g.is_ddl());
    }

    #[test]
    fn captured_xa_gtids() {
        let MariaEvent::Gtid { gtid, event: p } = decoded(GTID_0_1_6_XA_PREPARE) else {
            panic!()
        };
        assert_eq!(gtid, MariaGtid::new(0, 1, 6));
        assert_eq!(
            p.flags2,
            FL_TRANSACTIONAL | FL_ALLOW_PARALLEL | FL_PREPARED_XA
        );
        let xid = Xid {
            format_id: 7,
            gtrid: b"gx1".to_vec(),
            bqual: b"bq".to_vec(),
        };
        assert_eq!(p.xid.as_ref(), Some(&xid));
        assert_eq!(p.flags_extra, FL_EXTRA_MULTI_ENGINE);
        assert_eq!(p.extra_engines, Some(255));

        let MariaEvent::Gtid { gtid, event: c } = decoded(GTID_0_1_7_XA_COMMIT) else {
            panic!()
        };
        assert_eq!(gtid, MariaGtid::new(0, 1, 7));
        assert_eq!(
            c.flags2,
            FL_STANDALONE | FL_TRANSACTIONAL | FL_ALLOW_PARALLEL | FL_COMPLETED_XA
        );
        assert_eq!(c.xid, Some(xid));
        assert_eq!((c.flags_extra, c.extra_engines), (0, None));
    }

    #[test]
    fn captured_gtid_lists() {
        let bytes = hex(GTID_LIST_0_1_4);
        let h = EventHeader::decode(&bytes).unwrap();
        assert!(h.is_artificial());
        assert_eq!(h.timestamp, 0);
        let MariaEvent::GtidList(l) = decoded(GTID_LIST_0_1_4) else {
            panic!()
        };
        assert_eq!(l.flags, 0);
        assert_eq!(l.gtids, [MariaGtid::new(0, 1, 4)]);
        assert_eq!(l.to_position().to_string(), "0-1-4");

        let MariaEvent::GtidList(e) = decoded(GTID_LIST_EMPTY) else {
            panic!()
        };
        assert!(e.gtids.is_empty());
    }

    #[test]
    fn captured_checkpoint_and_annotate() {
        assert_eq!(
            decoded(CHECKPOINT),
            MariaEvent::BinlogCheckpoint(BinlogCheckpoint {
                file: "mysql-bin.000002".into()
            })
        );
        let MariaEvent::AnnotateRows(a) = decoded(ANNOTATE_INSERT) else {
            panic!()
        };
        assert_eq!(
            a.query_lossy(),
            "INSERT INTO spillway_gtid_fixture.t VALUES (1,'a'),(2,'b')"
        );
    }

    fn gtid_body(seq: u64, domain: u32, flags2: u8, tail: &[u8]) -> Vec<u8> {
        let mut b = seq.to_le_bytes().to_vec();
        b.extend_from_slice(&domain.to_le_bytes());
        b.push(flags2);
        b.extend_from_slice(tail);
        b
    }

    #[test]
    fn gtid_with_group_commit_id() {
        let b = gtid_body(
            9,
            3,
            FL_GROUP_COMMIT_ID | FL_TRANSACTIONAL,
            &77u64.to_le_bytes(),
        );
        let g = GtidEvent::decode(&b).unwrap();
        assert_eq!(g.gtid(12), MariaGtid::new(3, 12, 9));
        assert_eq!(g.commit_id, Some(77));
        assert_eq!(g.flags_extra, 0);
    }

    #[test]
    fn gtid_with_alter_and_thread_id() {
        // Commit of a two-phase ALTER: flags_extra, sa_seq_no, then an 8-byte thread id.
        let mut tail = vec![FL_COMMIT_ALTER | FL_EXTRA_THREAD_ID];
        tail.extend_from_slice(&41u64.to_le_bytes());
        tail.extend_from_slice(&1234u64.to_le_bytes());
        let g = GtidEvent::decode(&gtid_body(50, 0, FL_STANDALONE | FL_DDL, &tail)).unwrap();
        assert_eq!(g.sa_seq_no, Some(41));
        assert_eq!(g.thread_id, Some(1234));
        // A 4-byte thread id padded to 19 bytes reads the same.
        let tail = [FL_EXTRA_THREAD_ID, 0xd2, 0x04, 0, 0, 0];
        let g = GtidEvent::decode(&gtid_body(1, 0, 0, &tail)).unwrap();
        assert_eq!(g.thread_id, Some(1234));
        // Announced but missing.
        let err = GtidEvent::decode(&gtid_body(1, 0, 0, &[FL_COMMIT_ALTER, 1, 2]));
        assert_eq!(
            err,
            Err(DecodeError::Truncated {
                event: "GTID_EVENT",
                field: "sa_seq_no",
                offset: 14,
                needed: 8,
                available: 2
            })
        );
    }

    #[test]
    fn truncated_gtid_names_field_and_offset() {
        let bytes = hex(GTID_0_1_6_XA_PREPARE);
        let body = &bytes[19..bytes.len() - 4];
        // Cut inside the gtrid (3 bytes at offset 19).
        let err = GtidEvent::decode(&body[..20]).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Truncated {
                event: "GTID_EVENT",
                field: "xid gtrid",
                offset: 19,
                needed: 3,
                available: 1
            }
        );
        assert_eq!(
            err.to_string(),
            "GTID_EVENT: xid gtrid needs 3 bytes at offset 19, but only 1 remain"
        );
    }

    #[test]
    fn gtid_list_with_flags_and_several_domains() {
        let mut b = ((2u32 << 28) | 2).to_le_bytes().to_vec();
        for (d, s, q) in [(0u32, 1u32, 10u64), (0, 2, 12)] {
            b.extend_from_slice(&d.to_le_bytes());
            b.extend_from_slice(&s.to_le_bytes());
            b.extend_from_slice(&q.to_le_bytes());
        }
        let l = GtidList::decode(&b).unwrap();
        assert_eq!(l.flags, 2);
        assert_eq!(l.gtids.len(), 2);
        assert_eq!(l.to_position().to_string(), "0-2-12");
        // A count far beyond the bytes fails before allocating.
        let huge = 0x0fff_ffffu32.to_le_bytes();
        assert!(matches!(
            GtidList::decode(&huge),
            Err(DecodeError::Truncated { field: "gtids", .. })
        ));
    }

    #[test]
    fn checkpoint_rejects_a_name_longer_than_the_body() {
        let mut b = 100u32.to_le_bytes().to_vec();
        b.extend_from_slice(b"x.000001");
        assert!(matches!(
            BinlogCheckpoint::decode(&b),
            Err(DecodeError::Truncated {
                field: "file name",
                offset: 4,
                ..
            })
        ));
        let mut b = 2u32.to_le_bytes().to_vec();
        b.extend_from_slice(&[0xff, 0xfe]);
        assert!(matches!(
            BinlogCheckpoint::decode(&b),
            Err(DecodeError::Invalid {
                field: "file name",
                offset: 4,
                ..
            })
        ));
    }

    #[test]
    fn start_encryption_and_compressed_events() {
        let mut h = EventHeader::decode(&hex(GTID_LIST_EMPTY)).unwrap();
        h.event_type = START_ENCRYPTION_EVENT;
        let body = [1u8; 17];
        let err = decode_mariadb_event(&h, &body).unwrap_err();
        assert_eq!(err, DecodeError::EncryptedBinlog);
        assert!(err.to_string().contains("encrypt_binlog=OFF"));
        h.flags |= LOG_EVENT_IGNORABLE_F;
        assert_eq!(
            decode_mariadb_event(&h, &body),
            Ok(Some(MariaEvent::StartEncryption))
        );
        // Compressed events are `compressed`'s to decode, like every other type but these.
        for t in [2u8, 15, 19, 30, 33, 165, 166, 171, 172, 255] {
            h.event_type = t;
            assert_eq!(decode_mariadb_event(&h, &body), Ok(None));
        }
    }
}
