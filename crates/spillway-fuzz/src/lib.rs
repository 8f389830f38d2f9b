//! The bodies of spillway's fuzz targets: one function per decoder of bytes that come from
//! a server, a file or a user, each taking arbitrary bytes and required never to panic.
//!
//! ```text
//!  fuzz/fuzz_targets/<target>.rs ── libFuzzer ──> spillway_fuzz::<target>(bytes)
//!  fuzz/corpus/<target>/*  ─────── tests/corpus.rs replays each file through the same
//!                                   function on every `cargo test` (and so in CI)
//! ```
//!
//! `scripts/fuzz.sh [SECONDS]` runs every target with cargo-fuzz; what a run finds is kept
//! in the target's corpus directory, fixed, and replayed from then on. [`TARGETS`] lists
//! every target with its function.

use std::sync::OnceLock;

pub mod avro_records;

/// A fuzz target's body: arbitrary bytes in, never a panic.
pub type Body = fn(&[u8]);

/// Every target: its name (the file under `fuzz/fuzz_targets/` and the corpus directory)
/// and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("pgoutput", pgoutput),
    ("pg_text_values", pg_text_values),
    ("pg_replication_frames", pg_replication_frames),
    ("pem_certificates", pem_certificates),
    ("pg_copy_rows", pg_copy_rows),
    ("binlog_table_map", binlog_table_map),
    ("binlog_rows", binlog_rows),
    ("mariadb_events", mariadb_events),
    ("gtid_text", gtid_text),
    ("compressed_binlog", compressed_binlog),
    ("log_record", log_record),
    ("log_segment", log_segment),
    ("log_batch", log_batch),
    ("log_journal", log_journal),
    ("topic_meta", topic_meta),
    ("projection_json", projection_json),
    ("projection_avro", projection_avro),
    ("query_guard", query_guard),
    ("secrets_and_text", secrets_and_text),
    ("properties", properties),
];

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// pgoutput logical messages and the replication stream's CopyData payloads.
pub fn pgoutput(data: &[u8]) {
    use spillway_postgres::protocol::{LogicalMessage, ReplicationMessage, StandbyStatusUpdate};
    let buf = bytes::Bytes::copy_from_slice(data);
    let _ = LogicalMessage::decode(&buf);
    let _ = ReplicationMessage::decode(&buf);
    let _ = StandbyStatusUpdate::decode(&buf);
}

/// Bytes from the server as the replication connection reads them: backend message frames,
/// each body through its parser, a CopyData as a replication message (XLogData, primary
/// keepalive) and an XLogData's payload as a pgoutput message.
pub fn pg_replication_frames(data: &[u8]) {
    let _ = spillway_postgres::protocol::decode_backend_stream(data);
}

/// Rows of `COPY ... TO STDOUT` text as the snapshot reads them, a line at a time.
pub fn pg_copy_rows(data: &[u8]) {
    let mut fields = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let _ = spillway_postgres::copy_text::split_row(line, &mut fields);
    }
}

/// Certificate and key files (`database.sslrootcert`, `sslcert`, `sslkey`) read from their
/// PEM bytes, and the DER walk over each certificate read (and over the raw bytes, as a
/// server presents its certificate).
pub fn pem_certificates(data: &[u8]) {
    use spillway_postgres::protocol::{
        cert_info, certificates_from_pem_bytes, private_key_from_pem_bytes,
    };
    if let Ok(certificates) = certificates_from_pem_bytes(data) {
        for certificate in &certificates {
            let _ = cert_info(certificate.as_ref());
        }
    }
    let _ = private_key_from_pem_bytes(data);
    let _ = cert_info(data);
}

/// PostgreSQL text-format values, as pgoutput and COPY send them.
pub fn pg_text_values(data: &[u8]) {
    use spillway_postgres::values as v;
    let _ = v::parse_int(data);
    let _ = v::parse_float(data);
    let _ = v::parse_bytea(data);
    let _ = v::bits_to_bytes(data);
    let _ = v::parse_array(data);
    let s = text(data);
    let _ = v::money_to_plain(&s);
    let _ = v::parse_date(&s);
    let _ = v::parse_time(&s);
    let _ = v::zoned_time(&s);
    let _ = v::parse_timestamp(&s);
    let _ = v::zoned_timestamp(&s, 6);
    let _ = v::parse_interval(&s);
    let _ = v::parse_point(&s);
}

/// A binlog TABLE_MAP event body.
pub fn binlog_table_map(data: &[u8]) {
    if let Ok(map) = spillway_mysql::decode::TableMap::decode(data) {
        let _ = map.qualified_name();
    }
}

/// A config that decodes rows with the defaults (no I/O: nothing it names is read).
fn mysql_config() -> &'static spillway_mysql::MysqlConfig {
    static CONFIG: OnceLock<spillway_mysql::MysqlConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let map = spillway_core::ConfigMap::from_pairs([
            (
                "connector.class",
                "io.debezium.connector.mysql.MySqlConnector",
            ),
            ("database.hostname", "127.0.0.1"),
            ("database.user", "fuzz"),
            ("topic.prefix", "fuzz"),
            ("database.server.id", "1"),
            ("database.ssl.mode", "disabled"),
        ]);
        spillway_mysql::MysqlConfig::from_config(&map).expect("a valid fuzzing config")
    })
}

/// A TABLE_MAP and a rows event (first byte: the rows event's type; next two: the table
/// map's length), decoded into values with the table map's own column metadata.
pub fn binlog_rows(data: &[u8]) {
    use spillway_mysql::decode::{RowContext, RowsEvent, TableMap};
    if data.len() < 3 {
        return;
    }
    let event_type = data[0];
    let map_len = usize::from(u16::from_le_bytes([data[1], data[2]]));
    let rest = &data[3..];
    let (map_bytes, rows_bytes) = rest.split_at(map_len.min(rest.len()));
    let Ok(event) = RowsEvent::decode(event_type, rows_bytes) else {
        return;
    };
    let Ok(map) = TableMap::decode(map_bytes) else {
        return;
    };
    let config = mysql_config();
    let _ = event.count_rows(&map);
    let Ok(table) = spillway_mysql::schema::captured_from_map(config, &map, None) else {
        return;
    };
    let ctx = RowContext {
        map: &map,
        decoders: &table.decoders,
        options: &config.types,
    };
    if let Ok(changes) = event.changes(ctx) {
        for change in changes.take(10_000) {
            if change.is_err() {
                break;
            }
        }
    }
}

/// A MariaDB-specific event: its 19-byte header, then its body.
pub fn mariadb_events(data: &[u8]) {
    use spillway_mysql::decode::event::EventHeader;
    use spillway_mysql::decode::mariadb_events::decode_mariadb_event;
    let Ok(header) = EventHeader::decode(data) else {
        return;
    };
    let body = &data[EventHeader::LEN.min(data.len())..];
    let _ = decode_mariadb_event(&header, body);
}

/// GTIDs and GTID sets in their text forms, as offsets and servers write them.
pub fn gtid_text(data: &[u8]) {
    use spillway_mysql::decode::gtid::{MariaGtid, MariaGtidList, MysqlGtidSet};
    let s = text(data);
    let _ = s.parse::<MariaGtid>();
    let _ = s.parse::<MariaGtidList>().map(|l| l.to_string());
    let _ = s.parse::<MysqlGtidSet>().map(|g| g.to_string());
    let _ = spillway_mysql::decode::gtid::parse_uuid(&s);
}

/// MariaDB's compressed events and MySQL 8's transaction payloads (first byte: which).
pub fn compressed_binlog(data: &[u8]) {
    use spillway_mysql::decode::compressed as c;
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            let _ = c::mariadb_uncompress("fuzz", body);
        }
        1 => {
            let _ = c::mariadb_rows(166 + which % 6, body);
        }
        2 => {
            let _ = c::query(
                if which & 0x80 == 0 {
                    c::QUERY_EVENT
                } else {
                    c::QUERY_COMPRESSED_EVENT
                },
                body,
            );
        }
        _ => {
            if let Ok(mut events) = c::payload_events(body) {
                for _ in 0..10_000 {
                    if !matches!(events.next_event(), Ok(Some(_))) {
                        break;
                    }
                }
            }
        }
    }
}

/// One record of the embedded log, its content after the checksum.
pub fn log_record(data: &[u8]) {
    let _ = spillway_streams::segment::decode_record(data);
}

/// A whole segment file of the embedded log: verified, and recovered by the writer.
pub fn log_segment(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let partition = dir.path().join("topics/t/0");
    if std::fs::create_dir_all(&partition).is_err() {
        return;
    }
    let _ = std::fs::write(
        dir.path().join("topics/t/topic.json"),
        br#"{"partitions":1}"#,
    );
    let _ = std::fs::write(partition.join("00000000000000000000.log"), data);
    let _ = spillway_streams::verify(dir.path());
    if let Ok(reader) = spillway_streams::LogReader::open(dir.path()) {
        let _ = reader.read("t", 0, 0, 10_000);
    }
    let _ = spillway_streams::repair(dir.path());
}

/// The content of a record batch frame of the embedded log (after its CRC): header checks,
/// decompression (none, lz4, zstd) and the records inside. A segment scan reaches this
/// only past a matching checksum, which fuzzing rarely forges: this target starts there.
pub fn log_batch(data: &[u8]) {
    let _ = spillway_streams::batch::decode_batch(data);
}

/// The embedded log's commit journal: its entries decoded, then the bytes as the journal
/// of a log the writer opens (and recovers against it).
pub fn log_journal(data: &[u8]) {
    let _ = spillway_streams::journal::decode_entries(data);
    let Ok(dir) = tempfile::tempdir() else { return };
    if std::fs::write(
        dir.path().join(spillway_streams::journal::JOURNAL_FILE),
        data,
    )
    .is_err()
    {
        return;
    }
    let _ = spillway_streams::LogWriter::open(dir.path(), spillway_streams::LogOptions::default());
}

/// A topic's `topic.json` (partition count and topic configs): decoded, then read as a
/// log's metadata by a reader and by the configs lookup `spillway topics` makes.
pub fn topic_meta(data: &[u8]) {
    let _ = spillway_streams::decode_topic_meta(data);
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let topic = dir.path().join("topics/t");
    if std::fs::create_dir_all(topic.join("0")).is_err() {
        return;
    }
    let _ = std::fs::write(topic.join("topic.json"), data);
    if let Ok(reader) = spillway_streams::LogReader::open(dir.path()) {
        let _ = reader.topics();
        let _ = reader.read("t", 0, 0, 10);
    }
    let _ = spillway_streams::topic_config(dir.path(), "t");
}

/// A change record as a projection reads it (first two bytes: the key's length; then the
/// key's bytes, then the value's).
pub fn projection_json(data: &[u8]) {
    use spillway_projection::{Decoder, SchemaSource};
    if data.len() < 2 {
        return;
    }
    let key_len = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let rest = &data[2..];
    let (key, value) = rest.split_at(key_len.min(rest.len()));
    let mut decoder = Decoder::new(
        SchemaSource::Embedded {
            dir: std::path::PathBuf::from("/nonexistent/spillway-fuzz-registry"),
            registry: None,
        },
        "__debezium_unavailable_value",
    );
    let record = spillway_core::StreamRecord {
        topic: std::sync::Arc::from("fuzz.public.t"),
        partition: 0,
        offset: 0,
        key: (!key.is_empty()).then(|| key.to_vec()),
        value: (!value.is_empty()).then(|| value.to_vec()),
        headers: Vec::new(),
        timestamp_ms: 0,
    };
    let _ = decoder.decode(&record);
}

/// A change record in Confluent's Avro wire format as a projection reads it, decoded with the
/// schemas spillway's Avro encoder registered (see [`avro_records`] for the input layout).
pub fn projection_avro(data: &[u8]) {
    let _ = avro_records::decode(data);
}

/// The allow-list check of PostgreSQL projection queries.
pub fn query_guard(data: &[u8]) {
    let _ = spillway_projection::query::guard::check(&text(data));
}

/// Secret masking and control-character escaping of config values, and provider
/// references (resolving with no provider declared never reads anything).
pub fn secrets_and_text(data: &[u8]) {
    use spillway_core::secret;
    let s = text(data);
    let masked = secret::mask_in_text(&s);
    assert_eq!(
        secret::mask_in_text(&masked),
        masked,
        "masking is idempotent"
    );
    let _ = secret::is_secret_key(&s);
    let _ = secret::shown_value(&s, &s);
    assert!(!secret::printable(&s).chars().any(char::is_control));
    let _ = spillway_core::providers::Providers::default().resolve("key", &s);
}

/// Java `.properties` text (worker files, FileConfigProvider files).
pub fn properties(data: &[u8]) {
    let _ = spillway_core::properties::parse(&text(data));
}
