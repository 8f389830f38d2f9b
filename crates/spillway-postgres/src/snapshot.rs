//! The initial snapshot: every captured table read inside the snapshot the replication slot
//! exported when it was created, so streaming from the slot's consistent point continues
//! exactly where the snapshot ends.

use crate::config::PostgresConfig;
use crate::copy_text::split_row;
use crate::error::PostgresError;
use crate::preflight::{quote_ident, quote_literal};
use crate::schema::CapturedTable;
use crate::source_info::{source_info, SnapshotMarker, SourceFields};
use futures_util::StreamExt;
use spillway_core::connector::now_us;
use spillway_core::emit::{Emitter, PipelineClosed};
use spillway_core::schema::ConnectSchema;
use spillway_core::{ChangeEvent, Op, Position, Row, Value};
use std::sync::Arc;
use tokio::sync::watch;
use tokio_postgres::Client;
use tracing::info;

/// How the snapshot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    Completed { rows: u64 },
    Interrupted,
}

/// One row read, waiting for the next so its snapshot marker can be decided.
struct Pending {
    table: usize,
    row: Row,
    first_in_table: bool,
}

/// Reads every table in `tables` inside `snapshot_name` and emits `op: r` events.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: &Client,
    config: &PostgresConfig,
    snapshot_name: &str,
    consistent_point: u64,
    tables: &[CapturedTable],
    source_schema: &Arc<ConnectSchema>,
    emitter: &mut Emitter,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<SnapshotOutcome, PostgresError> {
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
            quote_literal(snapshot_name)
        ))
        .await
        .map_err(|e| PostgresError::query("starting the snapshot transaction", e))?;
    let tx_row = client
        .query_one(
            "SELECT txid_snapshot_xmin(txid_current_snapshot())::bigint",
            &[],
        )
        .await
        .map_err(|e| PostgresError::query("reading the snapshot's transaction id", e))?;
    let tx_id: i64 = tx_row.get(0);
    let started_us = now_us();
    let mut ctx = Ctx {
        config,
        tables,
        source_schema,
        consistent_point,
        tx_id,
        ts_us: started_us,
        rows: 0,
        emitted_any: false,
    };
    let mut pending: Option<Pending> = None;
    let mut fields = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let schema = &table.schema;
        let table_name = schema.qualified_name();
        info!(table = %table_name, "snapshot of table started");
        let estimated: Option<i64> = client
            .query_one(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)",
                &[&format!(
                    "{}.{}",
                    quote_ident(schema.schema.as_deref().unwrap_or("public")),
                    quote_ident(&schema.table)
                )],
            )
            .await
            .ok()
            .map(|r| r.get(0));
        let progress = spillway_core::metrics::snapshot_table(
            &config.common.name,
            &table_name,
            estimated.filter(|e| *e >= 0).map(|e| e as u64),
        );
        let columns: Vec<String> = table
            .schema
            .columns
            .iter()
            .map(|c| quote_ident(&c.name))
            .collect();
        let sql = format!(
            "COPY (SELECT {} FROM {}.{}) TO STDOUT",
            columns.join(", "),
            quote_ident(schema.schema.as_deref().unwrap_or("public")),
            quote_ident(&schema.table)
        );
        let stream = client
            .copy_out(sql.as_str())
            .await
            .map_err(|e| PostgresError::query("starting COPY for the snapshot", e))?;
        futures_util::pin_mut!(stream);
        let mut carry: Vec<u8> = Vec::new();
        let mut first_in_table = true;
        let mut table_rows = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| PostgresError::query("reading COPY data", e))?;
            carry.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(nl) = memchr::memchr(b'\n', &carry[start..]) {
                let line = &carry[start..start + nl];
                start += nl + 1;
                split_row(line, &mut fields).map_err(|detail| PostgresError::Decode {
                    table: table_name.clone(),
                    column: "?".to_string(),
                    position: "snapshot".to_string(),
                    detail,
                })?;
                let row = decode_row(table, &fields, &ctx.config.types)?;
                if let Some(p) = pending.take() {
                    let last_in_table = p.table != index;
                    ctx.emit(emitter, p, last_in_table, false)
                        .await
                        .map_err(closed)?;
                }
                pending = Some(Pending {
                    table: index,
                    row,
                    first_in_table,
                });
                first_in_table = false;
                table_rows += 1;
            }
            carry.drain(..start);
            progress.add(table_rows - progress.rows());
            if *shutdown.borrow() {
                return Ok(SnapshotOutcome::Interrupted);
            }
        }
        progress.add(table_rows - progress.rows());
        progress.finish();
        info!(table = %table_name, rows = table_rows, "snapshot of table done");
    }
    if let Some(p) = pending.take() {
        ctx.emit(emitter, p, true, true).await.map_err(closed)?;
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| PostgresError::query("ending the snapshot transaction", e))?;
    Ok(SnapshotOutcome::Completed { rows: ctx.rows })
}

fn closed(_: PipelineClosed) -> PostgresError {
    PostgresError::Replication {
        detail: "the pipeline stopped during the snapshot".to_string(),
        transient: false,
    }
}

struct Ctx<'a> {
    config: &'a PostgresConfig,
    tables: &'a [CapturedTable],
    source_schema: &'a Arc<ConnectSchema>,
    consistent_point: u64,
    tx_id: i64,
    ts_us: i64,
    rows: u64,
    emitted_any: bool,
}

impl Ctx<'_> {
    /// Emits a pending row once the row after it (or the end) is known.
    async fn emit(
        &mut self,
        emitter: &mut Emitter,
        p: Pending,
        last_in_table: bool,
        last_overall: bool,
    ) -> Result<(), PipelineClosed> {
        let schema = &self.tables[p.table].schema;
        let marker = SnapshotMarker::for_row(
            !self.emitted_any,
            p.first_in_table,
            last_in_table,
            last_overall,
        );
        self.emitted_any = true;
        self.rows += 1;
        let source = source_info(
            self.source_schema,
            SourceFields {
                server_name: &self.config.common.topic_prefix,
                db: &self.config.dbname,
                schema: schema.schema.as_deref().unwrap_or_default(),
                table: &schema.table,
                ts_us: self.ts_us,
                snapshot: marker,
                tx_id: Some(self.tx_id),
                lsn: Some(self.consistent_point),
                last_commit_lsn: None,
            },
        );
        emitter
            .push(ChangeEvent {
                table: schema.clone(),
                op: Op::Read,
                before: None,
                after: Some(p.row),
                source,
                position: Position::snapshot(self.consistent_point, self.rows),
                ts_us: now_us(),
            })
            .await
    }
}

/// Decodes the included columns of one COPY row.
fn decode_row(
    table: &CapturedTable,
    fields: &[Option<Vec<u8>>],
    options: &crate::config::TypeOptions,
) -> Result<Row, PostgresError> {
    let schema = &table.schema;
    let mut values = Vec::with_capacity(schema.columns.len());
    let decoders = table.decoders.iter().filter(|d| d.included);
    for ((decoder, field), column) in decoders.zip(fields).zip(&schema.columns) {
        values.push(match field {
            None => Value::Null,
            Some(text) => {
                decoder
                    .pg_type
                    .decode_text(text, options)
                    .map_err(|e| PostgresError::Decode {
                        table: schema.qualified_name(),
                        column: column.name.clone(),
                        position: "snapshot".to_string(),
                        detail: e.message,
                    })?
            }
        });
    }
    if values.len() != schema.columns.len() {
        return Err(PostgresError::Decode {
            table: schema.qualified_name(),
            column: "?".to_string(),
            position: "snapshot".to_string(),
            detail: format!(
                "COPY returned {} fields for {} columns",
                fields.len(),
                schema.columns.len()
            ),
        });
    }
    Ok(Row(values))
}
