//! The binlog decoders against events captured from MariaDB 10.11 (binlog_format=ROW,
//! binlog_checksum=CRC32), framed by mysql_common's `Event::read` as mysql_async's binlog
//! stream frames them in production, and against truncated and random input.

use mysql_async::binlog::events::{Event, EventData, FormatDescriptionEvent};
use mysql_async::binlog::{BinlogChecksumAlg, BinlogVersion};
use spillway_mysql::decode::event::{
    event_crc32, strip_valid_crc32, EventHeader, Rotate, FORMAT_DESCRIPTION_EVENT,
    MARIADB_GTID_EVENT,
};
use spillway_mysql::decode::gtid::{
    format_uuid, parse_uuid, MariaGtid, MariaGtidList, MysqlGtidSet,
};
use spillway_mysql::decode::mariadb_events::{
    decode_mariadb_event, BinlogCheckpoint, GtidEvent, GtidList, MariaEvent,
};

/// A binlog's events, whole (header, body, CRC32), in order: the file's first three, then a
/// scratch database's history: CREATE DATABASE, CREATE TABLE, a transaction with an INSERT and
/// an UPDATE, an XA transaction (XA START, INSERT, XA END, XA PREPARE; XA COMMIT), DROP
/// DATABASE.
const CAPTURE: &[&str] = &[
    // FORMAT_DESCRIPTION_EVENT
    "4347066b0f01000000fc000000000100000000040031302e31312e31392d4d6172696144422d302b64656231\
     3275312d6c6f6700000000000000000000000000000000000000004347066b13380d00080012000404040412\
     0000e400041a08000000080808020000000a0a0a0000000000000a0a0a000000000000000000000000000000\
     0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
     0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
     00000000000000000000000000000000041304000d0808080a0a0a01dda46f29",
    // GTID_LIST_EVENT []
    "4347066ba3010000001d0000001d010000000000000000000012e8bd58",
    // BINLOG_CHECKPOINT_EVENT mysql-bin.000002
    "4347066ba1010000002b000000480100000000100000006d7973716c2d62696e2e303030303032d14d9f5d",
    // GTID 0-1-3, CREATE DATABASE
    "4648066ba2010000002a000000f80200000800030000000000000000000000290000000000002bbc8a6f",
    "4648066b02010000007900000071030000080010000000000000001500001a00000000000101000020540000\
     0000060373746404210021002d007370696c6c7761795f677469645f66697874757265004352454154452044\
     41544142415345207370696c6c7761795f677469645f666978747572650312e994",
    // GTID 0-1-4, CREATE TABLE
    "4648066ba2010000002a0000009b03000008000400000000000000000000002900000000000031317f9a",
    "4648066b02010000009e00000039040000000010000000000000000000002300000000000101000020540000\
     0000060373746404210021002d0081230000000000000000435245415445205441424c45207370696c6c7761\
     795f677469645f666978747572652e742028696420494e54205052494d415259204b45592c20762056415243\
     484152283230292920454e47494e453d496e6e6f4442088387d9",
    // GTID 0-1-5, BEGIN
    "4648066ba2010000002a0000006304000008000500000000000000000000000c0000000000006ac03533",
    // ANNOTATE_ROWS, TABLE_MAP, WRITE_ROWS_V1
    "4648066ba00100000051000000b40400000000494e5345525420494e544f207370696c6c7761795f67746964\
     5f666978747572652e742056414c5545532028312c276127292c28322c2762272903216e7a",
    "4648066b1301000000500000000405000000001600000000000100157370696c6c7761795f677469645f6669\
     78747572650001740002030f0250000201010002012d040502696401760801009fdb0503",
    "4648066b17010000002f00000033050000000016000000000001000203fc010000000161fc02000000016293\
     b1697a",
    // ANNOTATE_ROWS, TABLE_MAP, UPDATE_ROWS_V1, XID
    "4648066ba0010000004a0000007d0500000000555044415445207370696c6c7761795f677469645f66697874\
     7572652e742053455420763d2763272057484552452069643d328df03808",
    "4648066b130100000050000000cd05000000001600000000000100157370696c6c7761795f677469645f6669\
     78747572650001740002030f0250000201010002012d0405026964017608010044e535cd",
    "4648066b180100000030000000fd05000000001600000000000100020303fc020000000162fc020000000163\
     ed7de334",
    "4648066b10010000001f0000001c060000000025000000000000005317033f",
    // GTID 0-1-6, XA START 'gx1','bq',7 ... XA PREPARE
    "5248066ba201000000310000004d06000008000600000000000000000000004c070000000302677831627101\
     ffc9952cfa",
    "5248066ba00100000049000000960600000000494e5345525420494e544f207370696c6c7761795f67746964\
     5f666978747572652e742056414c5545532028332c27782729d6e65111",
    "5248066b130100000050000000e606000000001600000000000100157370696c6c7761795f677469645f6669\
     78747572650001740002030f0250000201010002012d040502696401760801004aacf91e",
    "5248066b1701000000280000000e070000000016000000000001000203fc03000000017862b67cdc",
    "5248066b02010000005900000067070000080014000000000000000000001a00000000000101000020540000\
     0000060373746404210021002d0000584120454e44205827363737383331272c582736323731272c37a0aa7c\
     6b",
    "5248066b260100000029000000900700000000000700000003000000020000006778316271d106b63d",
    // GTID 0-1-7, XA COMMIT
    "5248066ba2010000002f000000bf07000008000700000000000000000000008d0700000003026778316271ce\
     fc62fc",
    "5248066b02010000005c0000001b080000080014000000000000000000001a00000000000101000020540000\
     0000060373746404210021002d0000584120434f4d4d4954205827363737383331272c582736323731272c37\
     f1b65102",
    // GTID 0-1-8, DROP DATABASE
    "5248066ba2010000002a00000045080000080008000000000000000000000029000000000000d3c86717",
    "5248066b020100000080000000c50800000c0014000000000000001500002300000000000101000020540000\
     0000060373746404210021002d00813a000000000000007370696c6c7761795f677469645f66697874757265\
     0044524f50204441544142415345207370696c6c7761795f677469645f666978747572656db4fb86",
];

/// The artificial GTID_LIST_EVENT [0-1-4] the server sends first on a GTID connect at 0-1-4.
const CONNECT_GTID_LIST: &str =
    "00000000a3010000002b000000390400002000010000000000000001000000040000000000000016b900a1";

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn capture() -> Vec<Vec<u8>> {
    CAPTURE.iter().map(|h| hex(h)).collect()
}

#[test]
fn captured_binlog_walks_with_valid_checksums_and_gtids_in_order() {
    let events = capture();
    let stream: Vec<u8> = events.concat();
    let mut input = &stream[..];
    // What mysql_common's EventStreamReader (inside mysql_async's BinlogStream) does: each
    // event is read with the latest FORMAT_DESCRIPTION_EVENT, which says whether it has a CRC32.
    let mut format = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let mut crc32 = false;
    let mut read = 0;
    let mut position = MariaGtidList::new();
    let mut gtids = Vec::new();
    let mut annotations = Vec::new();
    let mut standalone = Vec::new();
    while !input.is_empty() {
        let event = Event::read(&format, &mut input).unwrap();
        let header = EventHeader::from(event.header());
        read += header.event_size as usize;
        if header.event_type == FORMAT_DESCRIPTION_EVENT {
            crc32 = event.footer().get_checksum_alg().unwrap()
                == Some(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32);
            let read = event.read_event::<FormatDescriptionEvent<'_>>().unwrap();
            format = read.into_owned().with_footer(event.footer());
        } else {
            // The CRC32 production checks the first ROTATE_EVENT with is the server's.
            let stored = event.checksum().map(u32::from_le_bytes);
            assert_eq!(
                stored,
                Some(event_crc32(&header, event.data())),
                "{}",
                header.type_name()
            );
        }
        match decode_mariadb_event(&header, event.data()).unwrap() {
            Some(MariaEvent::Gtid { gtid, event }) => {
                assert!(!position.contains(&gtid));
                position.update(gtid);
                assert!(position.contains(&gtid));
                gtids.push(gtid);
                standalone.push(event.is_standalone());
            }
            Some(MariaEvent::AnnotateRows(a)) => annotations.push(a.query_lossy().into_owned()),
            Some(MariaEvent::GtidList(l)) => assert!(l.gtids.is_empty()),
            Some(MariaEvent::BinlogCheckpoint(c)) => assert_eq!(c.file, "mysql-bin.000002"),
            Some(MariaEvent::StartEncryption) => panic!("not in this binlog"),
            None => {}
        }
    }
    assert!(crc32);
    assert_eq!(read, stream.len());
    assert_eq!(
        gtids,
        (3..=8).map(|s| MariaGtid::new(0, 1, s)).collect::<Vec<_>>()
    );
    assert_eq!(position.to_string(), "0-1-8");
    // DDL and XA COMMIT stand alone; the row transactions end with XID / XA PREPARE.
    assert_eq!(standalone, [true, true, false, false, true, true]);
    assert_eq!(
        annotations,
        [
            "INSERT INTO spillway_gtid_fixture.t VALUES (1,'a'),(2,'b')",
            "UPDATE spillway_gtid_fixture.t SET v='c' WHERE id=2",
            "INSERT INTO spillway_gtid_fixture.t VALUES (3,'x')",
        ]
    );
}

/// What a caller holding mysql_common events passes: `event.data()` is the body without
/// header and checksum.
#[test]
fn mysql_common_event_data_is_the_body_without_checksum() {
    let events = capture();
    let mut fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let mut gtids = Vec::new();
    for bytes in &events {
        let event = Event::read(&fde, &bytes[..]).unwrap();
        let header = EventHeader::from(event.header());
        assert_eq!(header, EventHeader::decode(bytes).unwrap());
        if header.event_type == FORMAT_DESCRIPTION_EVENT {
            let read = event.read_event::<FormatDescriptionEvent<'_>>().unwrap();
            fde = read.into_owned().with_footer(event.footer());
            continue;
        }
        let (body, crc32) = bytes[EventHeader::LEN..].split_at(bytes.len() - EventHeader::LEN - 4);
        assert_eq!(event.data(), body, "{}", header.type_name());
        assert_eq!(
            event.checksum(),
            Some(<[u8; 4]>::try_from(crc32).unwrap()),
            "{}",
            header.type_name()
        );
        if header.event_type == MARIADB_GTID_EVENT {
            let g = GtidEvent::decode(event.data()).unwrap();
            gtids.push(g.gtid(event.header().server_id()).to_string());
        }
    }
    assert_eq!(
        gtids,
        ["0-1-3", "0-1-4", "0-1-5", "0-1-6", "0-1-7", "0-1-8"]
    );
}

#[test]
fn connect_gtid_list_folds_to_the_connect_position() {
    let bytes = hex(CONNECT_GTID_LIST);
    let event = Event::read(&crc32_format(), &bytes[..]).unwrap();
    let header = EventHeader::from(event.header());
    assert_eq!(
        event.checksum().map(u32::from_le_bytes),
        Some(event_crc32(&header, event.data()))
    );
    assert!(header.is_artificial());
    let list = GtidList::decode(event.data()).unwrap();
    assert_eq!(
        list.to_position(),
        "0-1-4".parse::<MariaGtidList>().unwrap()
    );
}

#[test]
fn strip_valid_crc32_recovers_a_rotate_read_before_the_format_description() {
    // An artificial ROTATE as a server sends it first, with a CRC32 a reader cannot expect yet.
    let mut body = 4u64.to_le_bytes().to_vec();
    body.extend_from_slice(b"mysql-bin.000002");
    let mut header = EventHeader {
        timestamp: 0,
        event_type: 4,
        server_id: 1,
        event_size: (19 + body.len() + 4) as u32,
        log_pos: 0,
        flags: 0x20,
    };
    let crc = event_crc32(&header, &body);
    let mut data = body.clone();
    data.extend_from_slice(&crc.to_le_bytes());
    let rotate = Rotate::decode(strip_valid_crc32(&header, &data)).unwrap();
    assert_eq!(rotate.next_file, "mysql-bin.000002");
    assert_eq!(rotate.position, 4);
    // Without a checksum, nothing is stripped.
    header.event_size -= 4;
    assert_eq!(strip_valid_crc32(&header, &body), &body[..]);
}

/// Every decoder, fed every prefix of every captured event, returns (never panics), and a
/// prefix of a fixed-layout event is an error naming where it ran out.
#[test]
fn every_prefix_of_every_event_decodes_or_errs() {
    let mut all = capture();
    all.push(hex(CONNECT_GTID_LIST));
    for bytes in &all {
        for end in 0..=bytes.len() {
            let prefix = &bytes[..end];
            feed_everything(prefix);
        }
        let body = &bytes[19..bytes.len() - 4];
        let header = EventHeader::decode(bytes).unwrap();
        if header.event_type == MARIADB_GTID_EVENT {
            for end in 0..13 {
                assert!(
                    GtidEvent::decode(&body[..end]).is_err(),
                    "GTID prefix {end}"
                );
            }
        }
    }
}

/// Random bytes, of random lengths, through every decoder.
#[test]
fn random_bytes_never_panic() {
    let mut state = 0x853c_49e6_748f_ea9b_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let events = capture();
    for round in 0..30_000 {
        let len = (next() % 300) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 3 == 0 && len >= 19 {
            // A plausible header over random bytes reaches the body decoders more often.
            let types = [4u8, 15, 33, 34, 160, 161, 162, 163, 164, 165];
            buf[4] = types[(next() % types.len() as u64) as usize];
            buf[9..13].copy_from_slice(&(len as u32).to_le_bytes());
        }
        if round % 5 == 0 {
            // A captured event with a few bytes flipped.
            let e = &events[(next() % events.len() as u64) as usize];
            buf = e.clone();
            for _ in 0..(1 + next() % 4) {
                let i = (next() % buf.len() as u64) as usize;
                buf[i] ^= next() as u8;
            }
        }
        feed_everything(&buf);
    }
}

fn feed_everything(bytes: &[u8]) {
    let _ = EventHeader::decode(bytes);
    // mysql_common frames events in production (and panics on a cut one: `Event::read`
    // unwraps the read of the body), so bytes go straight to the body decoders here.
    if let Ok(header) = EventHeader::decode(bytes) {
        let data = bytes.get(EventHeader::LEN..).unwrap_or_default();
        let _ = strip_valid_crc32(&header, data);
    }
    let body = bytes.get(19..).unwrap_or_default();
    for b in [bytes, body] {
        let _ = GtidEvent::decode(b);
        let _ = GtidList::decode(b);
        let _ = BinlogCheckpoint::decode(b);
        let _ = Rotate::decode(b);
        if let Ok(h) = EventHeader::decode(bytes) {
            let _ = decode_mariadb_event(&h, b);
        }
    }
    // Bytes as text, through the GTID parsers.
    let text = String::from_utf8_lossy(bytes);
    let _ = text.parse::<MariaGtid>();
    let _ = text.parse::<MariaGtidList>();
    let _ = text.parse::<MysqlGtidSet>();
}

/// The format description of a binlog whose events end with a CRC32: what mysql_common
/// frames events with once the server's FORMAT_DESCRIPTION_EVENT has been read.
fn crc32_format() -> FormatDescriptionEvent<'static> {
    let bytes = hex(CAPTURE[0]);
    let event = Event::read(
        &FormatDescriptionEvent::new(BinlogVersion::Version4),
        &bytes[..],
    )
    .unwrap();
    let format = event.read_event::<FormatDescriptionEvent<'_>>().unwrap();
    format.into_owned().with_footer(event.footer())
}

/// MariaDB's FORMAT_DESCRIPTION_EVENT as production reads it: the server's version, and a
/// CRC32 after every event.
#[test]
fn the_captured_format_description_announces_crc32() {
    let bytes = hex(CAPTURE[0]);
    let event = Event::read(
        &FormatDescriptionEvent::new(BinlogVersion::Version4),
        &bytes[..],
    )
    .unwrap();
    let format = event.read_event::<FormatDescriptionEvent<'_>>().unwrap();
    assert_eq!(
        format.server_version().trim_end_matches('\0'),
        "10.11.19-MariaDB-0+deb12u1-log"
    );
    assert_eq!(
        event.footer().get_checksum_alg().unwrap(),
        Some(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32)
    );
    // The event's own CRC32 covers its header and body, the algorithm byte included.
    let header = EventHeader::decode(&bytes).unwrap();
    let end = bytes.len() - 4;
    assert_eq!(
        event_crc32(&header, &bytes[EventHeader::LEN..end]).to_le_bytes(),
        bytes[end..]
    );
}

/// MySQL's GTID_LOG_EVENT as production reads it (mysql_common's `GtidEvent`), from the
/// bytes of a 5.6 event and of an 8.0 one with the logical clock and more after it.
#[test]
fn mysql_gtid_events_give_the_server_uuid_and_transaction_number() {
    let sid = parse_uuid("3E11FA47-71CA-11E1-9E33-C80AA9429562").unwrap();
    let mut body = vec![1u8];
    body.extend_from_slice(&sid);
    body.extend_from_slice(&23u64.to_le_bytes());
    let read = |body: &[u8]| {
        let mut bytes = EventHeader {
            timestamp: 0,
            event_type: 33,
            server_id: 1,
            event_size: (EventHeader::LEN + body.len()) as u32,
            log_pos: 0,
            flags: 0,
        }
        .to_bytes()
        .to_vec();
        bytes.extend_from_slice(body);
        let format = FormatDescriptionEvent::new(BinlogVersion::Version4);
        let event = Event::read(&format, &bytes[..]).unwrap();
        match event.read_data() {
            Ok(Some(EventData::GtidEvent(g))) => Ok((
                format_uuid(&g.sid()),
                g.gno(),
                g.last_committed(),
                g.sequence_number(),
            )),
            Ok(other) => panic!("not a GTID event: {other:?}"),
            Err(e) => Err(e),
        }
    };
    let (uuid, gno, _, _) = read(&body).unwrap();
    assert_eq!(
        (uuid.as_str(), gno),
        ("3e11fa47-71ca-11e1-9e33-c80aa9429562", 23)
    );
    body.push(2);
    body.extend_from_slice(&5u64.to_le_bytes());
    body.extend_from_slice(&6u64.to_le_bytes());
    body.extend_from_slice(&[0x11; 7]);
    let (_, gno, last_committed, sequence_number) = read(&body).unwrap();
    assert_eq!((gno, last_committed, sequence_number), (23, 5, 6));
    assert!(read(&body[..30]).is_err());
}
