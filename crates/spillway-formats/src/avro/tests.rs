//! Documents decoded with the schemas they name, and names Avro cannot hold.

use super::schema::{DECIMAL, DECIMAL_PRECISION};
use super::*;
use crate::json::{self, envelope_schema};
use apache_avro::types::Value as Avro;
use spillway_core::pipeline::EventEncoder;
use spillway_core::schema::Column;
use spillway_core::schema::{ConnectSchema, ConnectType, Field, TableSchema};
use spillway_core::{ChangeEvent, Row, Value};
use spillway_core::{Op, Position, SourceInfo};
use std::sync::Arc;

/// Hands out ids in order and remembers the schemas.
#[derive(Default)]
struct Ids(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl SchemaIds for Ids {
    fn id_for(&mut self, subject: &str, schema: &str) -> Result<u32, SchemaIdError> {
        let mut seen = self.0.lock().unwrap();
        if let Some(i) = seen.iter().position(|(s, t)| s == subject && t == schema) {
            return Ok(i as u32 + 1);
        }
        seen.push((subject.to_string(), schema.to_string()));
        Ok(seen.len() as u32)
    }
}

fn column(name: &str, schema: ConnectSchema) -> Column {
    Column {
        name: name.to_string(),
        schema,
        type_name: String::new(),
    }
}

fn table() -> Arc<TableSchema> {
    let opt = |ty| ConnectSchema::new(ty).optional(true);
    let variable = ConnectSchema::new(ConnectType::Struct(vec![
        Field::new("scale", ConnectSchema::new(ConnectType::Int32)),
        Field::new("value", ConnectSchema::new(ConnectType::Bytes)),
    ]))
    .optional(true)
    .named("io.debezium.data.VariableScaleDecimal")
    .version(1)
    .doc("Variable scaled decimal");
    Arc::new(TableSchema {
        database: "db".into(),
        schema: Some("public".into()),
        table: "t".into(),
        columns: vec![
            column(
                "id",
                ConnectSchema::new(ConnectType::Int32).default_value(Value::Int(0)),
            ),
            column("small", opt(ConnectType::Int16)),
            column("big", opt(ConnectType::Int64)),
            column(
                "price",
                opt(ConnectType::Bytes)
                    .named(DECIMAL)
                    .version(1)
                    .param("scale", "2")
                    .param(DECIMAL_PRECISION, "10"),
            ),
            column("n1", variable.clone()),
            column("n2", variable),
            column("r", opt(ConnectType::Float32)),
            column(
                "status",
                opt(ConnectType::String).default_value(Value::String("new".into())),
            ),
            column(
                "tags",
                opt(ConnectType::Array(Box::new(opt(ConnectType::String)))),
            ),
            column("blob", opt(ConnectType::Bytes)),
            column("ok", opt(ConnectType::Boolean)),
        ],
        key: vec![0],
        topic: "p.public.t".into(),
        schema_name: "p.public.t".into(),
    })
}

fn source() -> SourceInfo {
    SourceInfo {
        schema: Arc::new(
            ConnectSchema::new(ConnectType::Struct(vec![
                Field::new("name", ConnectSchema::new(ConnectType::String)),
                Field::new("snapshot", spillway_core::SnapshotMarker::schema()),
            ]))
            .named("io.debezium.connector.postgresql.Source"),
        ),
        values: vec![Value::String("p".into()), Value::Null],
    }
}

fn decode(bytes: &[u8], schemas: &[(String, String)]) -> Avro {
    assert_eq!(bytes[0], MAGIC_BYTE);
    let id = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
    let schema = apache_avro::Schema::parse_str(&schemas[id - 1].1)
        .unwrap_or_else(|e| panic!("not Avro: {e}\n{}", schemas[id - 1].1));
    let mut rest = &bytes[5..];
    let value = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
        .build()
        .unwrap()
        .read_value(&mut rest)
        .unwrap();
    assert!(rest.is_empty(), "{} bytes left over", rest.len());
    value
}

fn field<'a>(record: &'a Avro, name: &str) -> &'a Avro {
    match record {
        Avro::Record(fields) => &fields.iter().find(|(n, _)| n == name).unwrap().1,
        Avro::Union(_, inner) => field(inner, name),
        other => panic!("not a record: {other:?}"),
    }
}

#[test]
fn avro_documents_decode_with_the_schemas_they_name() {
    let seen = Ids::default();
    let schemas = seen.0.clone();
    let mut encoder = AvroEncoder::new(AvroOptions::default(), Box::new(seen));
    let table = table();
    let row = Row(vec![
        Value::Int(7),
        Value::Int(-3),
        Value::Int(i64::MIN),
        Value::Decimal {
            unscaled: vec![0x04, 0xd2],
            scale: 2,
        },
        Value::VariableDecimal {
            unscaled: vec![0xff],
            scale: 3,
        },
        Value::Null,
        Value::Float32(1.5),
        Value::Null,
        Value::Array(vec![Value::String("a".into()), Value::Null]),
        Value::Unavailable,
        Value::Bool(true),
    ]);
    let event = ChangeEvent {
        table: table.clone(),
        op: Op::Update,
        before: None,
        after: Some(row.clone()),
        source: source(),
        position: Position::stream(1, 0, 0),
        ts_us: 1_700_000_000_123_456,
    };
    let key = encoder.key(&table, &row).unwrap().unwrap();
    let value = encoder.value(&event).unwrap();
    let schemas = schemas.lock().unwrap().clone();
    assert_eq!(schemas[0].0, "p.public.t-key");
    assert_eq!(schemas[1].0, "p.public.t-value");
    // The second VariableScaleDecimal refers to the first by name.
    assert_eq!(
        schemas[1]
            .1
            .matches("\"name\":\"VariableScaleDecimal\"")
            .count(),
        1
    );
    assert!(schemas[1]
        .1
        .contains("[\"null\",\"io.debezium.data.VariableScaleDecimal\"]"));

    assert_eq!(
        decode(&key, &schemas),
        Avro::Record(vec![("id".into(), Avro::Int(7))])
    );
    let value = decode(&value, &schemas);
    assert_eq!(
        field(&value, "before"),
        &Avro::Union(0, Box::new(Avro::Null))
    );
    let after = field(&value, "after");
    assert_eq!(field(after, "id"), &Avro::Int(7));
    assert_eq!(
        field(after, "small"),
        &Avro::Union(1, Box::new(Avro::Int(-3)))
    );
    assert_eq!(
        field(after, "big"),
        &Avro::Union(1, Box::new(Avro::Long(i64::MIN)))
    );
    assert!(matches!(field(after, "price"), Avro::Union(1, d) if matches!(**d, Avro::Decimal(_))));
    assert_eq!(field(field(after, "n1"), "value"), &Avro::Bytes(vec![0xff]));
    assert_eq!(field(after, "n2"), &Avro::Union(0, Box::new(Avro::Null)));
    assert_eq!(
        field(after, "r"),
        &Avro::Union(1, Box::new(Avro::Float(1.5)))
    );
    // A null in a field with a default is the default, first in its union.
    assert_eq!(
        field(after, "status"),
        &Avro::Union(0, Box::new(Avro::String("new".into())))
    );
    assert_eq!(
        field(after, "tags"),
        &Avro::Union(
            1,
            Box::new(Avro::Array(vec![
                Avro::Union(1, Box::new(Avro::String("a".into()))),
                Avro::Union(0, Box::new(Avro::Null)),
            ]))
        )
    );
    assert_eq!(
        field(after, "blob"),
        &Avro::Union(
            1,
            Box::new(Avro::Bytes(DEFAULT_UNAVAILABLE.as_bytes().to_vec()))
        )
    );
    assert_eq!(
        field(field(&value, "source"), "snapshot"),
        &Avro::Union(0, Box::new(Avro::String("false".into())))
    );
    assert_eq!(field(&value, "op"), &Avro::String("u".into()));
    assert_eq!(
        field(&value, "ts_us"),
        &Avro::Union(1, Box::new(Avro::Long(1_700_000_000_123_456)))
    );
}

#[test]
fn names_avro_cannot_hold_are_refused_with_the_name() {
    let mut bad = (*table()).clone();
    bad.schema_name = "my-prefix.public.t".into();
    let error = avro_schema_json(&envelope_schema(&bad, &source().schema)).unwrap_err();
    assert!(
        error.contains("'my-prefix.public.t.Envelope' is not a valid Avro name"),
        "{error}"
    );
}

const DEFAULT_UNAVAILABLE: &str = json::DEFAULT_UNAVAILABLE_PLACEHOLDER;
