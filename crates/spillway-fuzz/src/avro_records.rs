//! The projection's Avro path: records in Confluent's wire format (magic byte, schema id,
//! Avro body) decoded with schemas from the embedded registry, as a projection reads a
//! topic written with `AvroConverter`.
//!
//! The registry is filled once, by spillway's own Avro encoder writing one table's key and
//! value schemas; [`seeds`] are records that encoder writes, so a run starts from real
//! documents. An input names which registered schema its bodies are read with, so every
//! input takes the decoding path rather than a registry miss.

use spillway_core::pipeline::EventEncoder;
use spillway_core::schema::{Column, ConnectSchema, ConnectType, Field, TableSchema};
use spillway_core::{ChangeEvent, Op, Position, Row, SourceInfo, StreamRecord, Value};
use spillway_formats::avro::{AvroEncoder, AvroOptions};
use spillway_projection::decode::Change;
use spillway_projection::{Decoder, SchemaSource};
use spillway_registry::{EmbeddedIds, Registry};
use std::sync::{Arc, Mutex, OnceLock};

/// The key's schema id and the value's, as the encoder registered them.
struct Ids {
    key: u32,
    value: u32,
}

struct Fixture {
    decoder: Mutex<Decoder>,
    ids: Ids,
    seeds: Vec<(&'static str, Vec<u8>)>,
}

fn optional(ty: ConnectType) -> ConnectSchema {
    ConnectSchema::new(ty).optional(true)
}

fn column(name: &str, schema: ConnectSchema) -> Column {
    Column {
        name: name.to_string(),
        schema,
        type_name: String::new(),
    }
}

fn table() -> Arc<TableSchema> {
    let variable = optional(ConnectType::Struct(vec![
        Field::new("scale", ConnectSchema::new(ConnectType::Int32)),
        Field::new("value", ConnectSchema::new(ConnectType::Bytes)),
    ]))
    .named("io.debezium.data.VariableScaleDecimal")
    .version(1);
    Arc::new(TableSchema {
        database: "db".into(),
        schema: Some("public".into()),
        table: "t".into(),
        columns: vec![
            column("id", ConnectSchema::new(ConnectType::Int32)),
            column("big", optional(ConnectType::Int64)),
            column(
                "price",
                optional(ConnectType::Bytes)
                    .named("org.apache.kafka.connect.data.Decimal")
                    .version(1)
                    .param("scale", "2")
                    .param("connect.decimal.precision", "10"),
            ),
            column("amount", variable),
            column("ratio", optional(ConnectType::Float64)),
            column("name", optional(ConnectType::String)),
            column(
                "tags",
                optional(ConnectType::Array(Box::new(optional(ConnectType::String)))),
            ),
            column("blob", optional(ConnectType::Bytes)),
            column("ok", optional(ConnectType::Boolean)),
            column(
                "day",
                optional(ConnectType::Int32)
                    .named("io.debezium.time.Date")
                    .version(1),
            ),
            column(
                "at",
                optional(ConnectType::Int64)
                    .named("io.debezium.time.MicroTimestamp")
                    .version(1),
            ),
        ],
        key: vec![0],
        topic: "p.public.t".into(),
        schema_name: "p.public.t".into(),
    })
}

fn row(id: i64, name: Option<&str>) -> Row {
    Row(vec![
        Value::Int(id),
        Value::Int(i64::MIN + id),
        Value::Decimal {
            unscaled: vec![0x04, 0xd2],
            scale: 2,
        },
        Value::VariableDecimal {
            unscaled: vec![0xff, 0x01],
            scale: 3,
        },
        Value::Float64(-1.5e300),
        name.map_or(Value::Null, |n| Value::String(n.to_string())),
        Value::Array(vec![Value::String("a".into()), Value::Null]),
        Value::Unavailable,
        Value::Bool(true),
        Value::Int(-719_162),
        Value::Int(1_700_000_000_123_456),
    ])
}

fn event(table: &Arc<TableSchema>, op: Op, before: Option<Row>, after: Option<Row>) -> ChangeEvent {
    ChangeEvent {
        table: table.clone(),
        op,
        before,
        after,
        source: SourceInfo {
            schema: Arc::new(
                ConnectSchema::new(ConnectType::Struct(vec![
                    Field::new("name", ConnectSchema::new(ConnectType::String)),
                    Field::new("ts_ms", ConnectSchema::new(ConnectType::Int64)),
                    Field::new("snapshot", spillway_core::SnapshotMarker::schema()),
                ]))
                .named("io.debezium.connector.postgresql.Source"),
            ),
            values: vec![
                Value::String("p".into()),
                Value::Int(1_700_000_000_000),
                Value::String("false".into()),
            ],
        },
        position: Position::stream(1, 0, 0),
        ts_us: 1_700_000_000_123_456,
    }
}

/// An input: first byte 1 when a key follows, then (with a key) the key body's length as
/// one byte and the key body, then the value body. Bodies go without the 5-byte header,
/// which the target adds with the registered ids.
fn input(key: Option<&[u8]>, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match key {
        Some(key) => {
            out.push(1);
            out.push(key.len() as u8);
            out.extend_from_slice(key);
        }
        None => out.push(0),
    }
    out.extend_from_slice(value);
    out
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // The registry lives in a directory only while it is filled: the decoder keeps it
        // in memory, and a registered id never sends it back to the directory.
        let dir = tempfile::tempdir().expect("a temporary directory for the registry");
        let registry = Arc::new(Registry::open(dir.path()).expect("an empty registry"));
        let mut encoder = AvroEncoder::new(
            AvroOptions::default(),
            Box::new(EmbeddedIds(registry.clone())),
        );
        let t = table();
        let records = [
            (
                "create",
                event(&t, Op::Create, None, Some(row(7, Some("seven")))),
            ),
            ("read", event(&t, Op::Read, None, Some(row(8, None)))),
            (
                "update",
                event(
                    &t,
                    Op::Update,
                    Some(row(7, Some("seven"))),
                    Some(row(7, Some(""))),
                ),
            ),
            (
                "delete",
                event(&t, Op::Delete, Some(row(9, Some("nine"))), None),
            ),
        ];
        let mut seeds = Vec::new();
        let mut ids = Ids { key: 0, value: 0 };
        for (name, event) in &records {
            let key_row = event.key_row().expect("each seed event has a row");
            let key = encoder
                .key(&t, key_row)
                .expect("the key encodes")
                .expect("the table has a key");
            let value = encoder.value(event).expect("the value encodes");
            ids.key = u32::from_be_bytes([key[1], key[2], key[3], key[4]]);
            ids.value = u32::from_be_bytes([value[1], value[2], value[3], value[4]]);
            seeds.push((*name, input(Some(&key[5..]), &value[5..])));
            if *name == "create" {
                seeds.push(("create-without-key", input(None, &value[5..])));
            }
        }
        let registry = Registry::open(dir.path()).expect("the registry just written");
        let decoder = Decoder::new(
            SchemaSource::Embedded {
                dir: dir.path().to_path_buf(),
                registry: Some(registry),
            },
            "__debezium_unavailable_value",
        );
        Fixture {
            decoder: Mutex::new(decoder),
            ids,
            seeds,
        }
    })
}

/// Real records as the Avro encoder writes them, as inputs of the target.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    fixture().seeds.clone()
}

/// Decodes an input as the target does; `None` when it is too short to name its parts.
pub fn decode(data: &[u8]) -> Option<Result<Change, spillway_projection::decode::DecodeError>> {
    let fixture = fixture();
    let (&has_key, rest) = data.split_first()?;
    let (key, value) = if has_key == 1 {
        let (&len, rest) = rest.split_first()?;
        let (key, value) = rest.split_at(usize::from(len).min(rest.len()));
        (Some(key), value)
    } else {
        (None, rest)
    };
    let framed = |id: u32, body: &[u8]| {
        let mut out = vec![0];
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(body);
        out
    };
    let record = StreamRecord {
        topic: Arc::from("p.public.t"),
        partition: 0,
        offset: 0,
        key: key.map(|k| framed(fixture.ids.key, k)),
        value: Some(framed(fixture.ids.value, value)),
        headers: Vec::new(),
        timestamp_ms: 0,
    };
    let mut decoder = fixture
        .decoder
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Some(decoder.decode(&record))
}
