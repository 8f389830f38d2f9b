//! Records to rows: keys and values in Kafka Connect's JSON with embedded schemas, or in
//! Confluent's Avro wire format with schemas from a registry, read as Debezium change
//! events (`before`, `after`, `op`) or as flat rows.
//!
//! Schemas are parsed once: the JSON path keeps the last schema text of each topic and a
//! map of all texts seen, the Avro path a map by schema id.

use crate::cell::{self, Cell, CellContext};
use crate::json::{EnvelopeSeed, RowSeed};
use crate::shape::{Column, SchemaNode};
use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use serde::de::DeserializeSeed;
use serde_json::value::RawValue;
use serde_json::Value as Json;
use spillway_core::{ErrorClass, StreamRecord};
use spillway_registry::{Registry, RemoteRegistry};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Some fields of a record (a key, or a row) with the columns they fill.
#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    pub columns: Arc<[Column]>,
    pub cells: Vec<Cell>,
}

impl Fields {
    /// The cell of a named column.
    pub fn get(&self, name: &str) -> Option<&Cell> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .map(|i| &self.cells[i])
    }
}

/// What a record asks of a table.
#[derive(Debug, PartialEq)]
pub enum Change {
    /// `c`, `r` or `u`, or a flat row: the row is now this.
    Write { key: Option<Fields>, after: Fields },
    /// `d`: the row is gone.
    Delete {
        key: Option<Fields>,
        before: Option<Fields>,
    },
    /// A null value for a key.
    Tombstone { key: Option<Fields> },
    /// `t`: every row of the table is gone.
    Truncate,
    /// A record that is not a row change (schema-change records, `m` messages).
    Skip(&'static str),
}

/// Where Avro schemas come from.
pub enum SchemaSource {
    /// The embedded registry's store (`<data dir>/registry`), re-read when a record names
    /// an id it does not have yet.
    Embedded {
        dir: PathBuf,
        registry: Option<Registry>,
    },
    /// A Confluent-compatible registry over HTTP.
    Remote(RemoteRegistry),
}

impl SchemaSource {
    /// The schema with `id`; the flag says whether the failure may pass (a registry that
    /// did not answer).
    fn schema(&mut self, id: u32) -> Result<String, DecodeError> {
        match self {
            SchemaSource::Remote(remote) => remote.schema(id).map_err(|e| {
                // Refusals (no such id) stay; an unreachable or overloaded registry is
                // retried.
                use spillway_core::Classify;
                DecodeError {
                    class: e.class(),
                    reason: e.to_string(),
                }
            }),
            SchemaSource::Embedded { dir, registry } => {
                if let Some(text) = registry.as_ref().and_then(|r| r.schema(id)) {
                    return Ok(text);
                }
                let reopened = Registry::open(dir).map_err(|e| {
                    let reason =
                        format!("cannot read the schema registry in {}: {e}", dir.display());
                    DecodeError::from(reason)
                })?;
                let text = reopened.schema(id);
                *registry = Some(reopened);
                text.ok_or_else(|| {
                    let reason = format!(
                        "schema id {id} is not in the embedded registry at {} (set schema.registry.url when another registry holds it)",
                        dir.display()
                    );
                    DecodeError::from(reason)
                })
            }
        }
    }
}

/// How records of one schema are read.
#[derive(Debug)]
enum Plan {
    /// A Debezium envelope: `op`, `before` and `after` of these columns.
    Envelope { row: Arc<[Column]> },
    /// A struct that is the row itself (a flattened record, or a key).
    Flat { row: Arc<[Column]> },
    /// Records that carry no rows.
    Skip(&'static str),
}

impl Plan {
    fn of(node: &SchemaNode) -> Result<Plan, String> {
        if node.ty != "struct" {
            return Err(format!(
                "records of Connect type {} are not rows (a projection needs struct keys and values)",
                node.ty
            ));
        }
        let name = node.name.as_deref().unwrap_or("");
        if name.ends_with(".SchemaChangeValue") || name.ends_with(".SchemaChangeKey") {
            return Ok(Plan::Skip("schema-change record"));
        }
        if node.field("op").is_some() {
            if let Some(row) = node.field("after").or_else(|| node.field("before")) {
                return Ok(Plan::Envelope {
                    row: Column::of_struct(row).into(),
                });
            }
        }
        Ok(Plan::Flat {
            row: Column::of_struct(node).into(),
        })
    }
}

/// The bytes a topic's JSON records start with up to their payload, and their plan.
type KnownPrefix = (Box<[u8]>, Arc<Plan>);

struct AvroPlan {
    schema: Schema,
    plan: Plan,
}

/// Decodes records of any topic.
pub struct Decoder {
    placeholder: String,
    /// JSON schemas by their text.
    json_plans: HashMap<Box<str>, Arc<Plan>>,
    /// Per topic, the bytes before the payload of its last JSON value (and key), and their
    /// schema's plan.
    value_prefixes: HashMap<Arc<str>, KnownPrefix>,
    key_prefixes: HashMap<Arc<str>, KnownPrefix>,
    avro_plans: HashMap<u32, Arc<AvroPlan>>,
    schemas: SchemaSource,
}

/// Why a record cannot be decoded, and whether that may pass (a schema registry that did
/// not answer) or comes back every time (the record itself).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DecodeError {
    pub reason: String,
    pub class: ErrorClass,
}

impl From<String> for DecodeError {
    /// A fault of the record itself.
    fn from(reason: String) -> Self {
        DecodeError {
            reason,
            class: ErrorClass::Definite,
        }
    }
}

impl From<&str> for DecodeError {
    fn from(reason: &str) -> Self {
        DecodeError::from(reason.to_string())
    }
}

/// The JSON converter's envelope, borrowed.
#[derive(serde::Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    schema: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

impl Decoder {
    /// A decoder that takes Avro schemas from `schemas` and reads `placeholder` as an
    /// unavailable value.
    pub fn new(schemas: SchemaSource, placeholder: impl Into<String>) -> Self {
        Decoder {
            placeholder: placeholder.into(),
            json_plans: HashMap::new(),
            value_prefixes: HashMap::new(),
            key_prefixes: HashMap::new(),
            avro_plans: HashMap::new(),
            schemas,
        }
    }

    /// What `record` asks of its table.
    pub fn decode(&mut self, record: &StreamRecord) -> Result<Change, DecodeError> {
        let key = match record.key.as_deref() {
            None => None,
            Some(bytes) => match self.decode_struct(&record.topic, bytes, false)? {
                Decoded::Fields(f) => Some(f),
                Decoded::Skip(reason) => return Ok(Change::Skip(reason)),
                Decoded::Envelope { .. } => {
                    return Err("the record key is a change envelope, not a key".into())
                }
            },
        };
        let Some(value) = record.value.as_deref() else {
            return Ok(Change::Tombstone { key });
        };
        match self.decode_struct(&record.topic, value, true)? {
            Decoded::Fields(after) => Ok(Change::Write { key, after }),
            Decoded::Skip(reason) => Ok(Change::Skip(reason)),
            Decoded::Envelope { op, before, after } => match op.as_str() {
                "c" | "r" | "u" => match after {
                    Some(after) => Ok(Change::Write { key, after }),
                    None => Err(format!("a change with op {op:?} has no \"after\" row").into()),
                },
                "d" => Ok(Change::Delete { key, before }),
                "t" => Ok(Change::Truncate),
                "m" => Ok(Change::Skip("logical decoding message")),
                other => Err(format!("unknown change op {other:?}").into()),
            },
        }
    }

    fn decode_struct(
        &mut self,
        topic: &Arc<str>,
        bytes: &[u8],
        is_value: bool,
    ) -> Result<Decoded, DecodeError> {
        match bytes.first() {
            Some(0) if bytes.len() >= 5 => self.decode_avro(bytes),
            Some(b'{') | Some(b' ') | Some(b'\n') | Some(b'\t') | Some(b'\r') => {
                Ok(self.decode_json(topic, bytes, is_value)?)
            }
            _ => Err(format!(
                "the record's {} is neither JSON nor Confluent's Avro wire format",
                if is_value { "value" } else { "key" }
            )
            .into()),
        }
    }

    fn cx(&self) -> CellContext<'_> {
        CellContext {
            placeholder: &self.placeholder,
        }
    }

    fn decode_json(
        &mut self,
        topic: &Arc<str>,
        bytes: &[u8],
        is_value: bool,
    ) -> Result<Decoded, String> {
        // Fast path: the record starts with the same `{"schema":…,"payload":` as the
        // topic's last one, so the schema is not scanned again.
        let known = if is_value {
            &self.value_prefixes
        } else {
            &self.key_prefixes
        };
        if let Some((prefix, plan)) = known.get(topic) {
            if bytes.len() > prefix.len() && bytes.starts_with(prefix) && bytes.ends_with(b"}") {
                let plan = plan.clone();
                if let Ok(decoded) = self.json_payload(&plan, &bytes[prefix.len()..bytes.len() - 1])
                {
                    return Ok(decoded);
                }
            }
        }
        let which = if is_value { "value" } else { "key" };
        let wire: Wire<'_> = serde_json::from_slice(bytes)
            .map_err(|e| format!("the record's {which} is not valid JSON: {e}"))?;
        let (Some(schema), Some(payload)) = (wire.schema, wire.payload) else {
            return Err(format!(
                "the record's {which} is JSON without an embedded schema: a projection needs column types, so the source must write JSON with schemas (value.converter.schemas.enable=true, no output.data.format=JSON) or Avro"
            ));
        };
        let plan = self.json_plan(schema.get())?;
        // Remember the layout `{"schema":S,"payload":P}` for the next records of the topic.
        let offset = |raw: &RawValue| raw.get().as_ptr() as usize - bytes.as_ptr() as usize;
        let (schema_at, payload_at) = (offset(schema), offset(payload));
        let schema_end = schema_at + schema.get().len();
        if &bytes[..schema_at] == b"{\"schema\":"
            && &bytes[schema_end..payload_at] == b",\"payload\":"
            && payload_at + payload.get().len() + 1 == bytes.len()
        {
            let known = if is_value {
                &mut self.value_prefixes
            } else {
                &mut self.key_prefixes
            };
            known.insert(topic.clone(), (bytes[..payload_at].into(), plan.clone()));
        }
        self.json_payload(&plan, payload.get().as_bytes())
            .map_err(|e| format!("the record's {which}: {e}"))
    }

    /// A payload of a schema's plan.
    fn json_payload(&self, plan: &Plan, payload: &[u8]) -> Result<Decoded, String> {
        let cx = self.cx();
        let mut d = serde_json::Deserializer::from_slice(payload);
        let decoded = match plan {
            Plan::Skip(reason) => return Ok(Decoded::Skip(reason)),
            Plan::Flat { row } => {
                let cells = RowSeed {
                    columns: row,
                    cx: &cx,
                }
                .deserialize(&mut d)
                .map_err(|e| e.to_string())?;
                Decoded::Fields(Fields {
                    columns: row.clone(),
                    cells,
                })
            }
            Plan::Envelope { row } => {
                let envelope = EnvelopeSeed {
                    columns: row,
                    cx: &cx,
                }
                .deserialize(&mut d)
                .map_err(|e| e.to_string())?;
                let fields = |cells: Option<Vec<Cell>>| {
                    cells.map(|cells| Fields {
                        columns: row.clone(),
                        cells,
                    })
                };
                Decoded::Envelope {
                    op: envelope.op.ok_or("a change event has no \"op\"")?,
                    before: fields(envelope.before),
                    after: fields(envelope.after),
                }
            }
        };
        d.end().map_err(|e| e.to_string())?;
        Ok(decoded)
    }

    fn json_plan(&mut self, schema: &str) -> Result<Arc<Plan>, String> {
        if let Some(plan) = self.json_plans.get(schema) {
            return Ok(plan.clone());
        }
        let node: Json = serde_json::from_str(schema)
            .map_err(|e| format!("the record's schema is not valid JSON: {e}"))?;
        let plan = Arc::new(Plan::of(&SchemaNode::from_connect_json(&node)?)?);
        self.json_plans.insert(schema.into(), plan.clone());
        Ok(plan)
    }

    fn decode_avro(&mut self, bytes: &[u8]) -> Result<Decoded, DecodeError> {
        let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let plan = match self.avro_plans.get(&id) {
            Some(plan) => plan.clone(),
            None => {
                let text = self.schemas.schema(id)?;
                let schema = Schema::parse_str(&text)
                    .map_err(|e| format!("schema {id} is not Avro: {e}"))?;
                let node: Json = serde_json::from_str(&text)
                    .map_err(|e| format!("schema {id} is not JSON: {e}"))?;
                let plan = Arc::new(AvroPlan {
                    schema,
                    plan: Plan::of(&SchemaNode::from_avro_json(&node)?)?,
                });
                self.avro_plans.insert(id, plan.clone());
                plan
            }
        };
        let mut rest = &bytes[5..];
        let value = apache_avro::reader::datum::GenericDatumReader::builder(&plan.schema)
            .build()
            .and_then(|r| r.read_value(&mut rest))
            .map_err(|e| format!("cannot decode Avro with schema {id}: {e}"))?;
        let cx = self.cx();
        match &plan.plan {
            Plan::Skip(reason) => Ok(Decoded::Skip(reason)),
            Plan::Flat { row } => Ok(Decoded::Fields(avro_fields(row, &value, &cx)?)),
            Plan::Envelope { row } => {
                let Avro::Record(fields) = &value else {
                    return Err("an Avro change event is not a record".into());
                };
                let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
                let op = match field("op").map(strip_union) {
                    Some(Avro::String(op)) => op.clone(),
                    _ => return Err("a change event has no \"op\"".into()),
                };
                let side = |name: &str| -> Result<Option<Fields>, String> {
                    match field(name).map(strip_union) {
                        None | Some(Avro::Null) => Ok(None),
                        Some(v) => avro_fields(row, v, &cx).map(Some),
                    }
                };
                Ok(Decoded::Envelope {
                    before: side("before")?,
                    after: side("after")?,
                    op,
                })
            }
        }
    }
}

enum Decoded {
    Fields(Fields),
    Envelope {
        op: String,
        before: Option<Fields>,
        after: Option<Fields>,
    },
    Skip(&'static str),
}

fn strip_union(value: &Avro) -> &Avro {
    match value {
        Avro::Union(_, inner) => inner,
        other => other,
    }
}

fn avro_fields(
    columns: &Arc<[Column]>,
    value: &Avro,
    cx: &CellContext<'_>,
) -> Result<Fields, String> {
    let Avro::Record(fields) = value else {
        return Err(format!("a row must be an Avro record, not {value:?}"));
    };
    let cells = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // Fields come in schema order, as the columns do.
            let v = match fields.get(i) {
                Some((name, v)) if *name == c.name => v,
                _ => fields
                    .iter()
                    .find(|(n, _)| *n == c.name)
                    .map(|(_, v)| v)
                    .unwrap_or(&Avro::Null),
            };
            cell::from_avro(c, v, cx).map_err(|e| format!("field {:?}: {e}", c.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fields {
        columns: columns.clone(),
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(key: Option<Json>, value: Option<Json>) -> StreamRecord {
        StreamRecord {
            topic: Arc::from("p.public.t"),
            partition: 0,
            offset: 0,
            key: key.map(|k| k.to_string().into_bytes()),
            value: value.map(|v| v.to_string().into_bytes()),
            headers: Vec::new(),
            timestamp_ms: 0,
        }
    }

    fn decoder() -> Decoder {
        Decoder::new(
            SchemaSource::Embedded {
                dir: PathBuf::from("/nonexistent"),
                registry: None,
            },
            "__debezium_unavailable_value",
        )
    }

    fn key(id: i64) -> Json {
        json!({"schema": {"type": "struct", "name": "p.public.t.Key", "optional": false,
                          "fields": [{"type": "int32", "optional": false, "field": "id"}]},
               "payload": {"id": id}})
    }

    fn envelope(op: &str, before: Json, after: Json) -> Json {
        let row = json!({"type": "struct", "name": "p.public.t.Value", "optional": true, "fields": [
            {"type": "int32", "optional": false, "field": "id"},
            {"type": "string", "optional": true, "field": "name"}]});
        let mut before_schema = row.clone();
        before_schema["field"] = json!("before");
        let mut after_schema = row;
        after_schema["field"] = json!("after");
        json!({"schema": {"type": "struct", "name": "p.public.t.Envelope", "optional": false, "fields": [
                   before_schema, after_schema,
                   {"type": "string", "optional": false, "field": "op"}]},
               "payload": {"before": before, "after": after, "op": op}})
    }

    #[test]
    fn debezium_envelopes_become_writes_deletes_and_tombstones() {
        let mut d = decoder();
        let c = d
            .decode(&record(
                Some(key(1)),
                Some(envelope("c", json!(null), json!({"id": 1, "name": "a"}))),
            ))
            .unwrap();
        let Change::Write {
            key: Some(k),
            after,
        } = c
        else {
            panic!("{c:?}")
        };
        assert_eq!(k.cells, vec![Cell::Int(1)]);
        assert_eq!(after.cells, vec![Cell::Int(1), Cell::Text("a".into())]);
        assert_eq!(after.get("name"), Some(&Cell::Text("a".into())));
        let del = d
            .decode(&record(
                Some(key(1)),
                Some(envelope("d", json!({"id": 1, "name": "a"}), json!(null))),
            ))
            .unwrap();
        assert!(
            matches!(
                del,
                Change::Delete {
                    before: Some(_),
                    ..
                }
            ),
            "{del:?}"
        );
        let tomb = d.decode(&record(Some(key(1)), None)).unwrap();
        assert!(matches!(tomb, Change::Tombstone { key: Some(_) }));
        let t = d
            .decode(&record(None, Some(envelope("t", json!(null), json!(null)))))
            .unwrap();
        assert_eq!(t, Change::Truncate);
    }

    #[test]
    fn records_without_schemas_or_not_json_are_refused_with_the_reason() {
        let mut d = decoder();
        let e = d
            .decode(&record(
                None,
                Some(json!({"before": null, "after": {"id": 1}, "op": "c"})),
            ))
            .unwrap_err();
        assert!(e.reason.contains("without an embedded schema"), "{e}");
        let mut r = record(None, None);
        r.value = Some(b"\x07garbage".to_vec());
        let e = d.decode(&r).unwrap_err();
        assert!(e.reason.contains("neither JSON nor"), "{e}");
        let mut r = record(None, None);
        r.value = Some(b"\x00\x00\x00\x00\x09rest".to_vec());
        let e = d.decode(&r).unwrap_err();
        assert!(e.reason.contains("schema id 9"), "{e}");
        assert_eq!(
            e.class,
            ErrorClass::Definite,
            "an id the registry lacks stays"
        );
    }

    #[test]
    fn a_registry_that_does_not_answer_is_a_transient_failure_of_the_record() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let remote = RemoteRegistry::new(spillway_registry::RemoteRegistryOptions {
            urls: vec![format!("http://127.0.0.1:{port}")],
            attempts: 1,
            timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        });
        let mut d = Decoder::new(SchemaSource::Remote(remote), "__unavailable");
        let mut r = record(None, None);
        r.value = Some(b"\x00\x00\x00\x00\x09rest".to_vec());
        let e = d.decode(&r).unwrap_err();
        assert!(e.reason.contains("schema registry unreachable"), "{e}");
        assert_eq!(e.class, ErrorClass::Transient);
    }
}
