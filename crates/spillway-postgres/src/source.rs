//! The PostgreSQL source: decides between snapshot and streaming, then runs them.

use crate::config::{PostgresConfig, SnapshotMode};
use crate::error::PostgresError;
use crate::preflight::{self, SlotState};
use crate::protocol::{format_lsn, ConnError, ReplicationConfig, ReplicationConnection};
use crate::replication::{flush_lsn, replication_error, Streamer};
use crate::schema::{self, CapturedTable, TypeResolver};
use crate::session;
use crate::snapshot::{self, SnapshotOutcome};
use crate::source_info::source_schema;
use spillway_core::emit::Emitter;
use spillway_core::{Offset, Phase, Position, Source, SourceContext};
use tokio_postgres::Client;
use tracing::{info, warn};

/// Captures changes of one PostgreSQL database.
pub struct PostgresSource {
    config: PostgresConfig,
}

impl PostgresSource {
    pub fn new(config: PostgresConfig) -> Self {
        PostgresSource { config }
    }
}

/// Waits while the slot is active: after a crash, the server may still be running the
/// previous walsender of this connector for a moment. Gives up after `slot.max.retries` ×
/// `slot.retry.delay.ms`, naming the process that holds the slot.
async fn wait_until_slot_free(
    client: &Client,
    config: &PostgresConfig,
) -> Result<Option<SlotState>, PostgresError> {
    let deadline = tokio::time::Instant::now() + config.slot_retry_delay * config.slot_max_retries;
    let mut logged = false;
    loop {
        let slot = preflight::slot_state(client, &config.slot_name).await?;
        let Some(pid) = slot.as_ref().and_then(|s| s.active_pid) else {
            return Ok(slot);
        };
        if tokio::time::Instant::now() >= deadline {
            preflight::require(&[preflight::slot_in_use_check(config, pid)])?;
        }
        if !logged {
            info!(slot = %config.slot_name, pid, "replication slot is still active; waiting for it to be released");
            logged = true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The replication connection's settings.
fn replication_config(c: &PostgresConfig) -> ReplicationConfig {
    ReplicationConfig {
        host: c.hostname.clone(),
        port: c.port,
        user: c.user.clone(),
        password: c.password.as_ref().map(|p| p.expose().to_string()),
        dbname: c.dbname.clone(),
        application_name: format!("spillway-{}", c.common.name),
        connect_timeout: c.common.connect_timeout,
        options: Some(session::startup_options()),
        tls: c.tls.clone(),
    }
}

/// Opens a replication connection, its failures told apart as a connect, auth or TLS
/// problem.
pub(crate) async fn connect_replication(
    config: &PostgresConfig,
) -> Result<ReplicationConnection, PostgresError> {
    ReplicationConnection::connect(&replication_config(config))
        .await
        .map_err(|e| match e {
            ConnError::Tls(tls) => session::tls_error(&tls),
            e => match e.code() {
                Some("28P01") | Some("28000") => PostgresError::Auth {
                    user: config.user.clone(),
                    detail: e.to_string(),
                },
                _ => match replication_error(e) {
                    PostgresError::Replication { detail, .. } => PostgresError::Connect {
                        address: session::address(config),
                        detail,
                    },
                    other => other,
                },
            },
        })
}

impl PostgresSource {
    async fn captured_tables(
        &self,
        client: &Client,
        tables: &[schema::TableInfo],
    ) -> Result<Vec<CapturedTable>, PostgresError> {
        let mut resolver = TypeResolver::default();
        let mut out = Vec::with_capacity(tables.len());
        for t in tables {
            let columns = schema::table_columns(client, t.oid).await?;
            let key = schema::primary_key(client, t.oid).await?;
            out.push(
                schema::build_table(
                    client,
                    &mut resolver,
                    &self.config,
                    &t.schema,
                    &t.name,
                    &columns,
                    &key,
                )
                .await?,
            );
        }
        Ok(out)
    }

    async fn run_inner(self, ctx: SourceContext) -> Result<(), PostgresError> {
        let config = &self.config;
        let client = session::connect(config, "catalog").await?;
        let facts = preflight::check_server(&client, config).await?;
        let (selected, all) = schema::selected_tables(&client, config).await?;
        preflight::check_selection(config, &selected, &all)?;
        preflight::warn_replica_identity(&selected);
        // Types are checked up front so an unsupported column fails before anything starts.
        let tables = self.captured_tables(&client, &selected).await?;
        preflight::ensure_publication(&client, config, &facts, &selected).await?;

        let slot = wait_until_slot_free(&client, config).await?;
        if let Some(s) = &slot {
            preflight::require(&[preflight::slot_check(config, s, ctx.resume.as_ref())])?;
        }
        let stream_offset = ctx
            .resume
            .clone()
            .filter(|o| o.position.phase == Phase::Stream);
        let slot_usable = slot.as_ref().is_some_and(|s| !s.is_lost());
        if slot.is_none() {
            preflight::check_slot_capacity(&client, config).await?;
        }
        // Recovery is not among this connector's snapshot modes (DIALECT).
        let need_snapshot = config
            .common
            .snapshot_mode
            .takes_snapshot(stream_offset.is_some(), slot_usable);
        if config.common.snapshot_mode == SnapshotMode::InitialOnly && stream_offset.is_some() {
            info!("snapshot already completed and snapshot.mode is initial_only; nothing to do");
            return Ok(());
        }
        if !need_snapshot {
            if let Some(offset) = &stream_offset {
                if !slot_usable {
                    return Err(PostgresError::SlotMissing {
                        slot: config.slot_name.clone(),
                        position: format_lsn(flush_lsn(offset)),
                    });
                }
            }
        }

        let mut repl = connect_replication(config).await?;
        let mut emitter = Emitter::new(ctx.batches.clone());
        let source_schema = source_schema();
        let mut shutdown = ctx.shutdown.clone();
        let mut resume = stream_offset.as_ref().map(|o| o.position);
        let start_lsn;
        if need_snapshot {
            if slot.is_some() {
                // Nothing was confirmed on this slot for a snapshot that never completed
                // (or snapshot.mode asks for a new one): start again from a new slot.
                warn!(slot = %config.slot_name, "dropping the replication slot to take a consistent snapshot");
                repl.drop_slot(&config.slot_name, false)
                    .await
                    .map_err(replication_error)?;
            }
            let created = repl
                .create_logical_slot(&config.slot_name, false, true)
                .await
                .map_err(replication_error)?;
            let snapshot_name =
                created
                    .snapshot_name
                    .clone()
                    .ok_or_else(|| PostgresError::Replication {
                        detail: "the server created the slot without exporting a snapshot"
                            .to_string(),
                        transient: false,
                    })?;
            info!(slot = %config.slot_name, consistent_point = %format_lsn(created.consistent_point), tables = tables.len(), "snapshot started");
            let outcome = snapshot::run(
                &client,
                config,
                &snapshot_name,
                created.consistent_point,
                &tables,
                &source_schema,
                &mut emitter,
                &mut shutdown,
            )
            .await?;
            match outcome {
                SnapshotOutcome::Interrupted => {
                    info!("snapshot interrupted by shutdown; it starts again on the next run");
                    emitter.flush(None).await.ok();
                    return Ok(());
                }
                SnapshotOutcome::Completed { rows } => {
                    info!(rows, "snapshot completed");
                }
            }
            // Everything committed before the consistent point is in the snapshot.
            let mark = Position::stream(
                created.consistent_point.saturating_sub(1),
                0,
                Position::END_OF_TRANSACTION,
            );
            emitter.flush(Some(Offset::new(mark))).await.map_err(|_| {
                PostgresError::Replication {
                    detail: "the pipeline stopped after the snapshot".to_string(),
                    transient: false,
                }
            })?;
            if config.snapshot_only() {
                return Ok(());
            }
            start_lsn = created.consistent_point;
            resume = None;
        } else if slot.is_none() {
            let created = repl
                .create_logical_slot(&config.slot_name, false, false)
                .await
                .map_err(replication_error)?;
            info!(slot = %config.slot_name, start = %format_lsn(created.consistent_point), "created replication slot");
            start_lsn = created.consistent_point;
        } else {
            start_lsn = stream_offset.as_ref().map(flush_lsn).unwrap_or(0);
        }

        info!(slot = %config.slot_name, start = %format_lsn(start_lsn), "streaming changes");
        let mut stream = repl
            .start_replication(
                &config.slot_name,
                start_lsn,
                std::slice::from_ref(&config.publication_name),
                1,
                false,
            )
            .await
            .map_err(replication_error)?;
        let mut streamer = Streamer::new(
            config,
            &client,
            source_schema,
            emitter,
            resume,
            ctx.committed.clone(),
            ctx.shutdown.clone(),
            start_lsn,
        );
        tokio::select! {
            result = streamer.run(&mut stream) => result?,
            never = watch_slot(&client, config) => match never {},
        }
        if config.slot_drop_on_stop {
            drop(stream);
            if let Err(e) = drop_slot_with(&client, &config.slot_name).await {
                warn!(error = %e, "could not drop the replication slot on stop");
            }
        }
        Ok(())
    }
}

/// How often the WAL a slot holds back is measured.
const SLOT_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Measures, for as long as streaming runs, how much WAL the slot holds back
/// ([`SLOT_RETAINED`](spillway_core::metrics::SLOT_RETAINED)).
async fn watch_slot(
    client: &tokio_postgres::Client,
    config: &PostgresConfig,
) -> std::convert::Infallible {
    let gauge = metrics::gauge!(
        spillway_core::metrics::SLOT_RETAINED,
        "connector" => config.common.name.clone(),
        "slot" => config.slot_name.clone()
    );
    loop {
        if let Ok(row) = client
            .query_one(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1",
                &[&config.slot_name],
            )
            .await
        {
            if let Some(bytes) = row.get::<_, Option<i64>>(0) {
                gauge.set(bytes as f64);
            }
        }
        tokio::time::sleep(SLOT_WATCH_INTERVAL).await;
    }
}

/// Drops the connector's replication slot (`slot.drop.on.stop`), waiting up to 10 s for the
/// walsender of a connection that just closed to let go of it. A slot that is not there is
/// no error.
pub async fn drop_slot(config: &PostgresConfig) -> Result<(), PostgresError> {
    let client = crate::session::connect(config, "drop-slot").await?;
    drop_slot_with(&client, &config.slot_name)
        .await
        .map_err(|e| PostgresError::Connect {
            address: crate::session::address(config),
            detail: format!("cannot drop replication slot {}: {e}", config.slot_name),
        })
}

/// Where the connector's replication slot stands, and the server's WAL: the slot's
/// `confirmed_flush_lsn` (everything committed before it is never sent on the slot again;
/// a replication that asks for less starts there), `None` when there is no slot, and the
/// current WAL position (a replication cannot start past it).
pub async fn slot_positions(config: &PostgresConfig) -> Result<(Option<u64>, u64), PostgresError> {
    let client = crate::session::connect(config, "slot-position").await?;
    let failed = |e: tokio_postgres::Error| PostgresError::Connect {
        address: crate::session::address(config),
        detail: format!("cannot read replication slot {}: {e}", config.slot_name),
    };
    let row = client
        .query_one(
            "SELECT (SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1),
                    (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text",
            &[&config.slot_name],
        )
        .await
        .map_err(failed)?;
    let lsn = |i: usize| -> Result<Option<u64>, PostgresError> {
        let text: Option<String> = row.try_get(i).map_err(failed)?;
        Ok(text.and_then(|t| crate::protocol::parse_lsn(&t).ok()))
    };
    Ok((lsn(0)?, lsn(1)?.unwrap_or(0)))
}

async fn drop_slot_with(
    client: &tokio_postgres::Client,
    slot: &str,
) -> Result<(), tokio_postgres::Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let result = client
            .execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await;
        match result {
            // 55006: the slot is still active (its walsender has not exited yet).
            Err(e)
                if e.code().map(|c| c.code()) == Some("55006")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => return other.map(|_| ()),
        }
    }
}

impl Source for PostgresSource {
    type Error = PostgresError;

    async fn run(self, ctx: SourceContext) -> Result<(), PostgresError> {
        self.run_inner(ctx).await
    }
}
