//! Tests of the decoders from bytes: every message kind, errors naming the field and
//! offset, and malformed input that must never panic.

use bytes::{Bytes, BytesMut};

use super::*;

/// Builds messages field by field.
#[derive(Default)]
struct B(Vec<u8>);

impl B {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn cstr(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn text(self, s: &str) -> Self {
        self.u8(b't').i32(s.len() as i32).raw(s.as_bytes())
    }
    fn bytes(self) -> Bytes {
        Bytes::from(self.0)
    }
}

fn decode(b: B) -> Result<LogicalMessage, DecodeError> {
    LogicalMessage::decode(&b.bytes())
}

fn text(s: &str) -> TupleValue {
    TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn begin() -> B {
    B::default()
        .u8(b'B')
        .u64(0x16_B374_D848)
        .i64(747_000_000_123_456)
        .u32(4242)
}

fn commit() -> B {
    B::default()
        .u8(b'C')
        .u8(0)
        .u64(0x16_B374_D848)
        .u64(0x16_B374_D878)
        .i64(747_000_000_123_456)
}

fn origin() -> B {
    B::default().u8(b'O').u64(77).cstr("node_a")
}

fn relation() -> B {
    B::default()
        .u8(b'R')
        .u32(16384)
        .cstr("public")
        .cstr("orders")
        .u8(b'd')
        .i16(3)
        .u8(1)
        .cstr("id")
        .u32(23)
        .i32(-1)
        .u8(0)
        .cstr("note")
        .u32(1043)
        .i32(68)
        .u8(0)
        .cstr("amount")
        .u32(1700)
        .i32(655_366)
}

fn type_msg() -> B {
    B::default().u8(b'Y').u32(70000).cstr("public").cstr("mood")
}

fn tuple3(b: B) -> B {
    b.i16(3).text("1").u8(b'n').u8(b'u')
}

fn insert() -> B {
    B::default()
        .u8(b'I')
        .u32(16384)
        .u8(b'N')
        .i16(3)
        .text("1")
        .text("héllo")
        .u8(b'b')
        .i32(2)
        .raw(&[0xde, 0xad])
}

fn update_plain() -> B {
    tuple3(B::default().u8(b'U').u32(16384).u8(b'N'))
}

fn update_key() -> B {
    let b = B::default()
        .u8(b'U')
        .u32(16384)
        .u8(b'K')
        .i16(3)
        .text("1")
        .u8(b'n')
        .u8(b'n')
        .u8(b'N');
    tuple3(b)
}

fn update_full() -> B {
    let b = B::default()
        .u8(b'U')
        .u32(16384)
        .u8(b'O')
        .i16(3)
        .text("1")
        .text("old")
        .text("2.50")
        .u8(b'N');
    tuple3(b)
}

fn delete() -> B {
    B::default()
        .u8(b'D')
        .u32(16384)
        .u8(b'K')
        .i16(3)
        .text("9")
        .u8(b'n')
        .u8(b'n')
}

fn truncate() -> B {
    B::default().u8(b'T').i32(2).u8(3).u32(16384).u32(16390)
}

fn message() -> B {
    B::default()
        .u8(b'M')
        .u8(1)
        .u64(0x1_0000_0010)
        .cstr("spillway")
        .i32(5)
        .raw(b"hello")
}

fn all_valid() -> Vec<Bytes> {
    vec![
        begin().bytes(),
        commit().bytes(),
        origin().bytes(),
        relation().bytes(),
        type_msg().bytes(),
        insert().bytes(),
        update_plain().bytes(),
        update_key().bytes(),
        update_full().bytes(),
        delete().bytes(),
        truncate().bytes(),
        message().bytes(),
        B::default().u8(b'I').u32(1).u8(b'N').i16(0).bytes(),
        B::default()
            .u8(b'R')
            .u32(1)
            .cstr("")
            .cstr("t")
            .u8(b'n')
            .i16(0)
            .bytes(),
    ]
}

#[test]
fn begin_and_commit() {
    assert_eq!(
        decode(begin()).unwrap(),
        LogicalMessage::Begin(Begin {
            final_lsn: 0x16_B374_D848,
            commit_time_us: 747_000_000_123_456,
            xid: 4242,
        })
    );
    assert_eq!(
        decode(commit()).unwrap(),
        LogicalMessage::Commit(Commit {
            flags: 0,
            commit_lsn: 0x16_B374_D848,
            end_lsn: 0x16_B374_D878,
            commit_time_us: 747_000_000_123_456,
        })
    );
}

#[test]
fn origin_message() {
    assert_eq!(
        decode(origin()).unwrap(),
        LogicalMessage::Origin(Origin {
            commit_lsn: 77,
            name: "node_a".into()
        })
    );
}

#[test]
fn relation_message() {
    let LogicalMessage::Relation(rel) = decode(relation()).unwrap() else {
        panic!("not a relation");
    };
    assert_eq!(rel.oid, 16384);
    assert_eq!(rel.namespace, "public");
    assert_eq!(rel.name, "orders");
    assert_eq!(rel.replica_identity, Relation::REPLICA_IDENTITY_DEFAULT);
    assert_eq!(rel.columns.len(), 3);
    assert!(rel.columns[0].is_key());
    assert!(!rel.columns[1].is_key());
    assert_eq!(
        rel.columns[2],
        RelationColumn {
            flags: 0,
            name: "amount".into(),
            type_oid: 1700,
            type_modifier: 655_366,
        }
    );
    assert_eq!(rel.columns[1].type_modifier, 68);
}

#[test]
fn relation_rejects_bad_replica_identity() {
    let b = B::default()
        .u8(b'R')
        .u32(1)
        .cstr("")
        .cstr("t")
        .u8(b'x')
        .i16(0);
    let err = decode(b).unwrap_err();
    assert_eq!(err.offset(), 8);
    assert!(err.to_string().contains("replica identity"), "{err}");
}

#[test]
fn type_message() {
    assert_eq!(
        decode(type_msg()).unwrap(),
        LogicalMessage::Type(TypeMessage {
            oid: 70000,
            namespace: "public".into(),
            name: "mood".into()
        })
    );
}

#[test]
fn insert_message_is_zero_copy() {
    let buf = insert().bytes();
    let LogicalMessage::Insert(ins) = LogicalMessage::decode(&buf).unwrap() else {
        panic!("not an insert");
    };
    assert_eq!(ins.relation, 16384);
    assert_eq!(
        ins.new.columns,
        vec![
            text("1"),
            text("héllo"),
            TupleValue::Binary(Bytes::from_static(&[0xde, 0xad]))
        ]
    );
    // The value points into the message buffer.
    let TupleValue::Text(v) = &ins.new.columns[1] else {
        unreachable!()
    };
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    assert!(range.contains(&(v.as_ptr() as usize)));
}

#[test]
fn update_messages() {
    let new = TupleData {
        columns: vec![text("1"), TupleValue::Null, TupleValue::UnchangedToast],
    };
    assert_eq!(
        decode(update_plain()).unwrap(),
        LogicalMessage::Update(Update {
            relation: 16384,
            old_kind: None,
            old: None,
            new: new.clone(),
        })
    );
    assert_eq!(
        decode(update_key()).unwrap(),
        LogicalMessage::Update(Update {
            relation: 16384,
            old_kind: Some(OLD_KIND_KEY),
            old: Some(TupleData {
                columns: vec![text("1"), TupleValue::Null, TupleValue::Null]
            }),
            new: new.clone(),
        })
    );
    assert_eq!(
        decode(update_full()).unwrap(),
        LogicalMessage::Update(Update {
            relation: 16384,
            old_kind: Some(OLD_KIND_FULL),
            old: Some(TupleData {
                columns: vec![text("1"), text("old"), text("2.50")]
            }),
            new,
        })
    );
}

#[test]
fn update_rejects_unknown_marker() {
    let err = decode(B::default().u8(b'U').u32(1).u8(b'X').i16(0)).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnknownTag {
            what: "Update tuple marker",
            tag: b'X',
            offset: 5
        }
    );
}

#[test]
fn delete_message() {
    assert_eq!(
        decode(delete()).unwrap(),
        LogicalMessage::Delete(Delete {
            relation: 16384,
            old_kind: OLD_KIND_KEY,
            old: TupleData {
                columns: vec![text("9"), TupleValue::Null, TupleValue::Null]
            },
        })
    );
    let err = decode(B::default().u8(b'D').u32(1).u8(b'N').i16(0)).unwrap_err();
    assert!(matches!(err, DecodeError::UnknownTag { tag: b'N', .. }));
}

#[test]
fn truncate_message() {
    let LogicalMessage::Truncate(t) = decode(truncate()).unwrap() else {
        panic!("not a truncate");
    };
    assert_eq!(t.relations, vec![16384, 16390]);
    assert!(t.cascade());
    assert!(t.restart_identity());
    let err = decode(B::default().u8(b'T').i32(-1).u8(0)).unwrap_err();
    assert!(
        matches!(err, DecodeError::Invalid { offset: 1, .. }),
        "{err}"
    );
}

#[test]
fn logical_decoding_message() {
    assert_eq!(
        decode(message()).unwrap(),
        LogicalMessage::Message(LogicalDecodingMessage {
            transactional: true,
            lsn: 0x1_0000_0010,
            prefix: "spillway".into(),
            content: Bytes::from_static(b"hello"),
        })
    );
}

#[test]
fn errors_name_field_and_offset() {
    let mut b = begin().0;
    b.truncate(12);
    let err = LogicalMessage::decode(&Bytes::from(b)).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Truncated {
            what: "Begin commit time",
            offset: 9
        }
    );
    assert_eq!(err.to_string(), "truncated Begin commit time at offset 9");

    let err = decode(begin().u8(0)).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Trailing {
            what: "Begin",
            offset: 21,
            count: 1
        }
    );

    let err = decode(B::default().u8(b'S')).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown logical message tag 0x53 at offset 0"
    );

    let err = LogicalMessage::decode(&Bytes::new()).unwrap_err();
    assert!(matches!(err, DecodeError::Truncated { offset: 0, .. }));

    // A negative text length.
    let err = decode(
        B::default()
            .u8(b'I')
            .u32(1)
            .u8(b'N')
            .i16(1)
            .u8(b't')
            .i32(-5),
    )
    .unwrap_err();
    assert_eq!(err.offset(), 9);

    // A name that is not UTF-8.
    let err = decode(B::default().u8(b'O').u64(1).raw(&[0xff, 0])).unwrap_err();
    assert!(
        matches!(err, DecodeError::Invalid { offset: 9, .. }),
        "{err}"
    );
}

#[test]
fn xlogdata_and_keepalive() {
    let payload = insert().0;
    let buf = B::default()
        .u8(b'w')
        .u64(100)
        .u64(200)
        .i64(300)
        .raw(&payload)
        .bytes();
    let msg = ReplicationMessage::decode(&buf).unwrap();
    assert_eq!(
        msg,
        ReplicationMessage::XLogData {
            wal_start: 100,
            wal_end: 200,
            server_time_us: 300,
            data: Bytes::from(payload),
        }
    );

    let buf = B::default().u8(b'k').u64(500).i64(-7).u8(1).bytes();
    assert_eq!(
        ReplicationMessage::decode(&buf).unwrap(),
        ReplicationMessage::Keepalive {
            wal_end: 500,
            server_time_us: -7,
            reply_requested: true
        }
    );
    let buf = B::default().u8(b'k').u64(500).i64(-7).u8(2).bytes();
    assert!(ReplicationMessage::decode(&buf).is_err());
    let buf = B::default().u8(b'x').bytes();
    assert_eq!(
        ReplicationMessage::decode(&buf).unwrap_err().to_string(),
        "unknown replication message tag 0x78 at offset 0"
    );
}

#[test]
fn standby_status_update_roundtrip() {
    let msg = StandbyStatusUpdate {
        write_lsn: 0x16_B374_D848,
        flush_lsn: 0x16_B374_D800,
        apply_lsn: 0x16_B374_D000,
        client_time_us: 123_456_789,
        reply_requested: true,
    };
    let mut buf = BytesMut::new();
    msg.encode(&mut buf);
    assert_eq!(buf.len(), StandbyStatusUpdate::LEN);
    assert_eq!(buf[0], b'r');
    assert_eq!(&buf[1..9], &0x16_B374_D848u64.to_be_bytes());
    assert_eq!(buf[33], 1);
    assert_eq!(StandbyStatusUpdate::decode(&buf.freeze()).unwrap(), msg);
}

/// A small deterministic generator (xorshift64*), enough to shake the decoder.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn decode_both(buf: &Bytes) {
    let _ = LogicalMessage::decode(buf);
    let _ = ReplicationMessage::decode(buf);
    let _ = StandbyStatusUpdate::decode(buf);
}

#[test]
fn malformed_input_never_panics() {
    let valid = all_valid();
    for msg in &valid {
        LogicalMessage::decode(msg).unwrap();
        // Every strict prefix is incomplete and must be an error.
        for len in 0..msg.len() {
            let prefix = msg.slice(..len);
            let err = LogicalMessage::decode(&prefix).unwrap_err();
            assert!(err.offset() <= len, "{err} for prefix {len}");
            decode_both(&prefix);
        }
        // Wrapped into XLogData, prefixes of the envelope too.
        let wrapped = B::default().u8(b'w').u64(1).u64(2).i64(3).raw(msg).bytes();
        for len in 0..wrapped.len() {
            decode_both(&wrapped.slice(..len));
        }
    }

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let tags = b"BCORYIUDTMwkrSEcAN";
    for _ in 0..20_000 {
        // Random bytes, often with a valid tag in front.
        let len = rng.below(64);
        let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if !v.is_empty() && rng.below(4) != 0 {
            v[0] = tags[rng.below(tags.len())];
        }
        decode_both(&Bytes::from(v));

        // Valid messages with a few bytes flipped, cut or extended.
        let mut m = valid[rng.below(valid.len())].to_vec();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(m.len());
            m[i] = rng.next() as u8;
        }
        match rng.below(3) {
            0 => m.truncate(rng.below(m.len() + 1)),
            1 => m.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
            _ => {}
        }
        decode_both(&Bytes::from(m));
    }
}
