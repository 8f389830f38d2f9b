//! A connector's offsets as Kafka Connect shows and changes them (KIP-875): read
//! ([`read`]), altered ([`alter`], `PATCH /connectors/{name}/offsets`) and reset ([`reset`],
//! `DELETE`), the last two only while the connector is stopped.
//!
//! A source has one partition, `{"server": <topic.prefix>}`, whose offset is the one its
//! offset store keeps (a file in the data directory, or the Kafka offsets topic with a
//! Kafka stream): `{"position": {"phase", "log", "sub", "row"}, "state"}` exactly as `GET`
//! shows it, so a `GET`, edited, is a `PATCH` body. A projection has a partition
//! `{"kafka_topic", "kafka_partition"}` per partition it read, its offset
//! `{"kafka_offset"}` the next offset to read, kept in the offsets table of its target
//! database. A `null` offset forgets its partition: a source then starts as new
//! (snapshotting as `snapshot.mode` says), a projection reads that partition from the start.

use super::WorkerError;
use crate::connector::{Connector, ConnectorSpec, ProjectionSpec, SourceConfig};
use crate::run::target_of;
use serde_json::{json, Map, Value};
use spillway_core::{Offset, OffsetStore, OffsetStoreError, Phase, Position, TopicPartition};
use spillway_projection::target::postgres::PostgresTargetClient;
use spillway_projection::target::sqlite::SqliteTarget;
use spillway_projection::target::{Target, TargetError};
use spillway_projection::TargetUrl;
use std::path::Path;

/// Kafka Connect's answer to an alter.
pub const ALTERED: &str = "The offsets for this connector have been altered successfully";
/// Kafka Connect's answer to a reset.
pub const RESET: &str = "The offsets for this connector have been reset successfully";

/// One `{"partition", "offset"}` of a `PATCH` body; `offset` `None` forgets the partition.
pub struct Entry {
    partition: Map<String, Value>,
    offset: Option<Map<String, Value>>,
}

fn bad(message: impl Into<String>) -> WorkerError {
    WorkerError::BadRequest(message.into())
}

/// The entries of a `PATCH` body, `{"offsets": [{"partition": {...}, "offset": {...} |
/// null}, ...]}`, checked for shape; what the keys of a partition and an offset may be
/// depends on the connector ([`alter`]).
pub fn parse_body(body: &Value) -> Result<Vec<Entry>, WorkerError> {
    let shape = "the body must be {\"offsets\": [{\"partition\": {...}, \"offset\": {...}}, ...]}";
    let Some(object) = body.as_object() else {
        return Err(bad(shape));
    };
    if let Some(key) = object.keys().find(|k| *k != "offsets") {
        return Err(bad(format!("unknown key `{key}`: {shape}")));
    }
    let list = match object.get("offsets") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        // Kafka Connect's words.
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err(bad(
                "Partitions / offsets need to be provided for an alter offsets request",
            ))
        }
        Some(_) => return Err(bad(format!("`offsets` is not a list: {shape}"))),
    };
    let mut entries = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let at = format!("offsets[{i}]");
        let Some(item) = item.as_object() else {
            return Err(bad(format!(
                "{at} is not an object of \"partition\" and \"offset\""
            )));
        };
        if let Some(key) = item.keys().find(|k| *k != "partition" && *k != "offset") {
            return Err(bad(format!(
                "{at}: unknown key `{key}` (an entry has \"partition\" and \"offset\")"
            )));
        }
        let partition = match item.get("partition") {
            Some(Value::Object(p)) => p.clone(),
            None | Some(Value::Null) => {
                return Err(bad(format!(
                    "{at}: the partition cannot be null or missing"
                )))
            }
            Some(_) => return Err(bad(format!("{at}: the partition must be an object"))),
        };
        let offset = match item.get("offset") {
            Some(Value::Object(o)) => Some(o.clone()),
            Some(Value::Null) => None,
            None => {
                return Err(bad(format!(
                    "{at}: no \"offset\" (give null to reset the partition)"
                )))
            }
            Some(_) => {
                return Err(bad(format!(
                    "{at}: the offset must be an object, or null to reset the partition"
                )))
            }
        };
        if entries.iter().any(|e: &Entry| e.partition == partition) {
            return Err(bad(format!(
                "{at}: partition {} is given twice",
                Value::Object(partition)
            )));
        }
        entries.push(Entry { partition, offset });
    }
    Ok(entries)
}

/// The connector's offsets, `[{"partition", "offset"}, ...]`.
pub async fn read(connector: &Connector, data_dir: &Path) -> Result<Value, WorkerError> {
    match connector {
        Connector::Source(spec) => {
            let offset = with_store(spec, data_dir, "read", |store| store.load()).await?;
            Ok(match offset {
                None => json!([]),
                Some(offset) => json!([{
                    "partition": source_partition(spec),
                    "offset": serde_json::to_value(&offset).unwrap_or(Value::Null),
                }]),
            })
        }
        Connector::Projection(spec) => projection_offsets(spec, data_dir).await,
    }
}

/// Alters a stopped connector's offsets as `entries` say.
pub async fn alter(
    connector: &Connector,
    data_dir: &Path,
    entries: Vec<Entry>,
) -> Result<(), WorkerError> {
    match connector {
        Connector::Source(spec) => {
            let mut wanted = None;
            for (i, entry) in entries.into_iter().enumerate() {
                check_source_partition(spec, i, &entry.partition)?;
                wanted = Some(match entry.offset {
                    None => None,
                    Some(offset) => Some(source_offset(spec, i, &offset)?),
                });
            }
            let Some(wanted) = wanted else {
                return Ok(());
            };
            if let Some(offset) = &wanted {
                let stored = with_store(spec, data_dir, "read", |store| store.load()).await?;
                check_against_server(spec, stored.as_ref(), offset).await?;
            }
            with_store(spec, data_dir, "alter", move |store| {
                store.replace(wanted.as_ref())
            })
            .await
        }
        Connector::Projection(spec) => {
            let mut changes = Vec::with_capacity(entries.len());
            for (i, entry) in entries.into_iter().enumerate() {
                let tp = projection_partition(spec, i, &entry.partition)?;
                let next = match &entry.offset {
                    None => None,
                    Some(offset) => Some(projection_offset(i, offset)?),
                };
                changes.push((tp, next));
            }
            alter_projection(spec, data_dir, &changes, false).await
        }
    }
}

/// Resets a stopped connector's offsets: a source starts as new, a projection reads every
/// partition from the start.
pub async fn reset(connector: &Connector, data_dir: &Path) -> Result<(), WorkerError> {
    match connector {
        Connector::Source(spec) => {
            with_store(spec, data_dir, "reset", |store| store.replace(None)).await
        }
        Connector::Projection(spec) => alter_projection(spec, data_dir, &[], true).await,
    }
}

fn source_partition(spec: &ConnectorSpec) -> Value {
    json!({"server": spec.logical_name})
}

/// Runs `work` on the source's offset store (as its run opens it: a file, or the Kafka
/// offsets topic that took a file's offset over) off the async threads.
async fn with_store<T: Send + 'static>(
    spec: &ConnectorSpec,
    data_dir: &Path,
    action: &'static str,
    work: impl FnOnce(&mut dyn OffsetStore) -> Result<T, OffsetStoreError> + Send + 'static,
) -> Result<T, WorkerError> {
    let name = spec.name.clone();
    let failed = move |e: &dyn std::fmt::Display| {
        WorkerError::Internal(format!("cannot {action} the offsets of {name}: {e}"))
    };
    let data_dir = data_dir.to_path_buf();
    let (name, server, kafka) = (
        spec.name.clone(),
        spec.logical_name.clone(),
        spec.kafka.clone(),
    );
    let done = tokio::task::spawn_blocking(move || -> Result<T, OffsetStoreError> {
        let file = spillway_streams::FileOffsetStore::open(&data_dir, &name)?;
        let mut store: Box<dyn OffsetStore> = match kafka {
            Some(kafka) => Box::new(spillway_kafka::KafkaOffsetStore::new(
                kafka,
                &name,
                &server,
                Some(Box::new(file)),
            )?),
            None => Box::new(spillway_streams::LogOffsetStore::stopped(
                file, &data_dir, &name,
            )),
        };
        work(store.as_mut())
    })
    .await
    .map_err(|e| failed(&e))?;
    done.map_err(|e| failed(&e))
}

/// A source's partition must be its own server's.
fn check_source_partition(
    spec: &ConnectorSpec,
    i: usize,
    partition: &Map<String, Value>,
) -> Result<(), WorkerError> {
    let own = source_partition(spec);
    if let Some(key) = partition.keys().find(|k| *k != "server") {
        return Err(bad(format!(
            "offsets[{i}].partition: unknown key `{key}`; this source's only partition is {own}"
        )));
    }
    match partition.get("server") {
        Some(Value::String(server)) if *server == spec.logical_name => Ok(()),
        Some(Value::String(server)) => Err(bad(format!(
            "offsets[{i}].partition: server {server:?} is not this connector's; its partition is {own}"
        ))),
        Some(_) => Err(bad(format!(
            "offsets[{i}].partition: `server` must be a string; this source's partition is {own}"
        ))),
        None => Err(bad(format!(
            "offsets[{i}].partition has no `server`; this source's partition is {own}"
        ))),
    }
}

fn whole_number(at: &str, value: Option<&Value>) -> Result<u64, WorkerError> {
    match value {
        Some(v) => v.as_u64().ok_or_else(|| {
            bad(format!(
                "`{at}` must be a whole number from 0 to {}, not {v}",
                u64::MAX
            ))
        }),
        None => Err(bad(format!("`{at}` is missing"))),
    }
}

/// A source offset as `GET` shows it: `{"position": {...}, "state": ...}`, checked for
/// the connector's kind of source.
fn source_offset(
    spec: &ConnectorSpec,
    i: usize,
    offset: &Map<String, Value>,
) -> Result<Offset, WorkerError> {
    let at = format!("offsets[{i}].offset");
    if let Some(key) = offset.keys().find(|k| *k != "position" && *k != "state") {
        return Err(bad(format!(
            "{at}: unknown key `{key}` (a source offset has \"position\" and \"state\", as GET shows it)"
        )));
    }
    let Some(Value::Object(position)) = offset.get("position") else {
        return Err(bad(format!(
            "{at}.position must be an object {{\"phase\", \"log\", \"sub\", \"row\"}}"
        )));
    };
    if let Some(key) = position
        .keys()
        .find(|k| !["phase", "log", "sub", "row"].contains(&k.as_str()))
    {
        return Err(bad(format!(
            "{at}.position: unknown key `{key}` (a position has \"phase\", \"log\", \"sub\" and \"row\")"
        )));
    }
    let phase = match position.get("phase").and_then(Value::as_str) {
        Some("stream") => Phase::Stream,
        Some("snapshot") => Phase::Snapshot,
        _ => {
            return Err(bad(format!(
                "`{at}.position.phase` must be \"stream\" or \"snapshot\""
            )))
        }
    };
    let position = Position {
        phase,
        log: whole_number(&format!("{at}.position.log"), position.get("log"))?,
        sub: whole_number(&format!("{at}.position.sub"), position.get("sub"))?,
        row: whole_number(&format!("{at}.position.row"), position.get("row"))?,
    };
    let state = offset.get("state").filter(|s| !s.is_null());
    match &spec.source {
        SourceConfig::Postgres(_) => {
            if state.is_some() {
                return Err(bad(format!(
                    "{at}.state: a PostgreSQL source keeps no state beside its position; leave it out or null"
                )));
            }
            if position.sub != 0 {
                return Err(bad(format!(
                    "`{at}.position.sub` is 0 for a PostgreSQL source (`log` is the transaction's commit LSN, `row` its change, {} when it is done)",
                    Position::END_OF_TRANSACTION
                )));
            }
            Ok(Offset::new(position))
        }
        SourceConfig::Mysql(_) => {
            let binlog = match state {
                Some(state) => Some(binlog_state(&at, state)?),
                None if phase == Phase::Snapshot => None,
                None => {
                    return Err(bad(format!(
                        "{at}.state is missing: a binlog source resumes from {{\"file\", \"pos\", \"gtid\"}}"
                    )))
                }
            };
            if let (Some(binlog), Phase::Stream) = (&binlog, phase) {
                // The position orders what is skipped after the restart: it must be the
                // mark of `file:pos` or a change of the transaction that starts there.
                let from = binlog.checkpoint().position;
                let to = Position::stream(
                    spillway_mysql::position::file_sequence(&binlog.file),
                    binlog.pos,
                    Position::END_OF_TRANSACTION,
                );
                if position < from || position >= to {
                    return Err(bad(format!(
                        "`{at}.position` does not match `{at}.state` ({}:{}): give {}, everything before that place done",
                        binlog.file,
                        binlog.pos,
                        serde_json::to_value(from).unwrap_or(Value::Null)
                    )));
                }
            }
            Ok(Offset {
                position,
                state: binlog.map(|b| b.to_state()),
            })
        }
    }
}

/// A binlog source's state: `{"file", "pos", "gtid"}` (`gtid` optional).
fn binlog_state(
    at: &str,
    state: &Value,
) -> Result<spillway_mysql::position::BinlogPosition, WorkerError> {
    let Some(map) = state.as_object() else {
        return Err(bad(format!(
            "{at}.state must be an object {{\"file\", \"pos\", \"gtid\"}}"
        )));
    };
    if let Some(key) = map
        .keys()
        .find(|k| !["file", "pos", "gtid"].contains(&k.as_str()))
    {
        return Err(bad(format!(
            "{at}.state: unknown key `{key}` (a binlog source keeps \"file\", \"pos\" and \"gtid\")"
        )));
    }
    let file = match map.get("file") {
        Some(Value::String(f)) if !f.trim().is_empty() => f.clone(),
        _ => {
            return Err(bad(format!(
                "`{at}.state.file` must be the name of a binlog file"
            )))
        }
    };
    let pos = whole_number(&format!("{at}.state.pos"), map.get("pos"))?;
    let gtid = match map.get("gtid") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let set = spillway_mysql::decode::gtid::GtidSet::read(text);
            if set.mariadb().is_err() && set.mysql().is_err() {
                return Err(bad(format!(
                    "`{at}.state.gtid` {text:?} is neither a MariaDB GTID position (domain-server-seq,...) nor a MySQL GTID set (uuid:1-5,...)"
                )));
            }
            Some(set)
        }
        Some(_) => return Err(bad(format!("`{at}.state.gtid` must be text (or null)"))),
    };
    Ok(spillway_mysql::position::BinlogPosition { file, pos, gtid })
}

/// What the source server says about an offset before it is kept: a PostgreSQL slot
/// cannot go back before what it confirmed (the server would start there, and what lies
/// before would silently not come again), nor start past the server's WAL.
///
/// The slot may have confirmed past the stored offset: with nothing in flight, the WAL the
/// server went through without a captured change is confirmed too. An offset from there
/// up to the confirmed place resumes at the confirmed place, which skips nothing captured,
/// so only going back before both is refused.
async fn check_against_server(
    spec: &ConnectorSpec,
    stored: Option<&Offset>,
    offset: &Offset,
) -> Result<(), WorkerError> {
    let SourceConfig::Postgres(pg) = &spec.source else {
        return Ok(());
    };
    if offset.position.phase != Phase::Stream {
        return Ok(());
    }
    use spillway_postgres::protocol::format_lsn;
    use spillway_postgres::replication::flush_lsn;
    let start = flush_lsn(offset);
    let (confirmed, wal_end) = spillway_postgres::slot_positions(pg).await.map_err(|e| {
        WorkerError::Internal(format!(
            "cannot check the offset against replication slot {}: {e}",
            pg.slot_name
        ))
    })?;
    if let Some(confirmed) = confirmed {
        let stored = stored
            .filter(|s| s.position.phase == Phase::Stream)
            .map(flush_lsn);
        let earliest = stored.map_or(confirmed, |s| s.min(confirmed));
        if start < earliest {
            return Err(bad(format!(
                "replication slot {:?} has confirmed everything before {} (log {confirmed}){}: PostgreSQL cannot send the changes before {} again, so the offset cannot resume at {}; give a position at or after it, or reset the offsets (DELETE) to take a new snapshot",
                pg.slot_name,
                format_lsn(confirmed),
                match stored {
                    Some(s) if s < confirmed => format!(
                        " and the connector's offset is at {}",
                        format_lsn(s)
                    ),
                    _ => String::new(),
                },
                format_lsn(earliest),
                format_lsn(start)
            )));
        }
    }
    if start > wal_end {
        return Err(bad(format!(
            "the offset resumes at {}, past the server's WAL position {}",
            format_lsn(start),
            format_lsn(wal_end)
        )));
    }
    Ok(())
}

/// A number as Kafka Connect takes it in a sink offset: a JSON number, or its text.
fn sink_number(at: &str, what: &str, value: Option<&Value>) -> Result<u64, WorkerError> {
    let parsed = match value {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        None | Some(Value::Null) => {
            return Err(bad(format!(
                "`{at}` is missing: {what} must be a valid number and may not be null"
            )))
        }
        Some(_) => None,
    };
    parsed.ok_or_else(|| {
        bad(format!(
            "`{at}`: {what} must be a whole number of 0 or more, not {}",
            value.unwrap_or(&Value::Null)
        ))
    })
}

/// A projection's partition, `{"kafka_topic", "kafka_partition"}`, of a topic it reads.
fn projection_partition(
    spec: &ProjectionSpec,
    i: usize,
    partition: &Map<String, Value>,
) -> Result<TopicPartition, WorkerError> {
    let at = format!("offsets[{i}].partition");
    if let Some(key) = partition
        .keys()
        .find(|k| *k != "kafka_topic" && *k != "kafka_partition")
    {
        return Err(bad(format!(
            "{at}: unknown key `{key}` (the partition of a sink connector offset has \"kafka_topic\" and \"kafka_partition\")"
        )));
    }
    let topic = match partition.get("kafka_topic") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => {
            return Err(bad(format!(
                "`{at}.kafka_topic`: Kafka topic names must be valid strings and may not be null"
            )))
        }
    };
    let number = sink_number(
        &format!("{at}.kafka_partition"),
        "a Kafka partition",
        partition.get("kafka_partition"),
    )?;
    let number = u32::try_from(number).map_err(|_| {
        bad(format!(
            "`{at}.kafka_partition`: partition {number} is out of range"
        ))
    })?;
    if !spec.config.topics.matches(&topic) {
        return Err(bad(format!(
            "`{at}.kafka_topic`: {topic:?} is not a topic this projection reads ({})",
            spec.config.topics.describe()
        )));
    }
    Ok(TopicPartition::new(topic, number))
}

fn projection_offset(i: usize, offset: &Map<String, Value>) -> Result<u64, WorkerError> {
    let at = format!("offsets[{i}].offset");
    if let Some(key) = offset.keys().find(|k| *k != "kafka_offset") {
        return Err(bad(format!(
            "{at}: unknown key `{key}` (the offset for a sink connector should either be null or contain the key 'kafka_offset')"
        )));
    }
    sink_number(
        &format!("{at}.kafka_offset"),
        "an offset",
        offset.get("kafka_offset"),
    )
}

/// Moves or forgets a projection's offsets in its target's offsets table; `reset` forgets
/// every partition it has.
async fn alter_projection(
    spec: &ProjectionSpec,
    data_dir: &Path,
    changes: &[(TopicPartition, Option<u64>)],
    reset: bool,
) -> Result<(), WorkerError> {
    let url = target_of(spec, data_dir);
    let config = &spec.config;
    let failed = |e: TargetError| {
        WorkerError::Internal(format!(
            "cannot {} the offsets of {} in {}: {e}",
            if reset { "reset" } else { "alter" },
            config.name,
            url.display()
        ))
    };
    match &url {
        TargetUrl::Sqlite(path) => {
            if reset && !path.exists() {
                return Ok(());
            }
            let mut target = SqliteTarget::open(path, &config.offsets_table).map_err(failed)?;
            apply(&mut target, &config.name, changes, reset)
                .await
                .map_err(failed)
        }
        TargetUrl::Postgres(pg) => {
            let mut target = PostgresTargetClient::connect(pg, &config.offsets_table)
                .await
                .map_err(failed)?;
            apply(&mut target, &config.name, changes, reset)
                .await
                .map_err(failed)
        }
    }
}

async fn apply<T: Target>(
    target: &mut T,
    connector: &str,
    changes: &[(TopicPartition, Option<u64>)],
    reset: bool,
) -> Result<(), TargetError> {
    if reset {
        let all: Vec<(TopicPartition, Option<u64>)> = target
            .load_offsets(connector)
            .await?
            .into_keys()
            .map(|tp| (tp, None))
            .collect();
        target.alter_offsets(connector, &all).await
    } else {
        target.alter_offsets(connector, changes).await
    }
}

/// A projection's offsets, read with a read-only query of its offsets table (none while
/// the table is not there yet).
async fn projection_offsets(spec: &ProjectionSpec, data_dir: &Path) -> Result<Value, WorkerError> {
    let url = target_of(spec, data_dir);
    if let TargetUrl::Sqlite(path) = &url {
        if !path.exists() {
            return Ok(json!([]));
        }
    }
    let sql = format!(
        "SELECT topic, partition, next_offset FROM \"{}\" WHERE connector = '{}' ORDER BY topic, partition",
        spec.config.offsets_table.replace('"', "\"\""),
        spec.config.name.replace('\'', "''")
    );
    let limits = spillway_projection::QueryLimits::new(100_000, std::time::Duration::from_secs(10));
    let rows = match spillway_projection::run_query(&url, &sql, limits).await {
        Ok(result) => result.rows,
        // The table is made by the projection's first run.
        Err(spillway_projection::QueryError::Invalid(m))
            if m.contains("no such table") || m.contains("does not exist") =>
        {
            Vec::new()
        }
        Err(e) => {
            return Err(WorkerError::Internal(format!(
                "cannot read the offsets of {}: {e}",
                spec.config.name
            )))
        }
    };
    Ok(Value::Array(
        rows.into_iter()
            .map(|r| {
                json!({
                    "partition": {"kafka_topic": r[0], "kafka_partition": r[1]},
                    "offset": {"kafka_offset": r[2]},
                })
            })
            .collect(),
    ))
}
