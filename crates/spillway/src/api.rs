//! The HTTP API of `spillway run`: pull queries against projections, `GET /metrics` and
//! `GET /health`.
//!
//! `POST /query` with `{"sql": "SELECT …"}` (also `"ksql"`, as ksqlDB's `/query` takes it;
//! `"projection"` names one when several run, `"limit"` lowers the row limit) answers
//! `{"columns": [{"name", "type"}], "rows": [[…]], "truncated": bool}`. Queries run
//! read-only with a row limit and a timeout; errors are `{"error_code", "message"}` as Kafka
//! Connect's REST API writes them.

use crate::CliError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use spillway_projection::{run_query, QueryError, QueryLimits, TargetUrl};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Where the API listens unless `--listen` says otherwise (Kafka Connect's REST port).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8083";
/// Rows a query returns at most.
pub const MAX_ROWS: usize = 10_000;
/// How long a query may run.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

struct Api {
    projections: Vec<(String, TargetUrl)>,
}

/// The API's routes.
fn router(projections: Vec<(String, TargetUrl)>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Json(json!({"version": env!("CARGO_PKG_VERSION")})) }),
        )
        .route("/query", post(query))
        .route("/metrics", get(crate::metrics::serve))
        .route("/health", get(|| async { Json(json!({"status": "UP"})) }))
        .with_state(Arc::new(Api { projections }))
}

/// Binds `listen` (or [`DEFAULT_LISTEN`]) and serves the API until shutdown. An address
/// given that cannot be bound is an error; the default one taken is a warning.
pub async fn start(
    listen: Option<&str>,
    projections: Vec<(String, TargetUrl)>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), CliError> {
    let address = listen.unwrap_or(DEFAULT_LISTEN);
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(e) if listen.is_none() => {
            warn!(address, error = %e, "http api not served: its default address is taken (give another with --listen)");
            return Ok(());
        }
        Err(e) => {
            return Err(CliError::Config(format!(
                "--listen: cannot listen on {address} for the HTTP API: {e} (give a free address with --listen)"
            )))
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| address.to_string());
    info!(url = %format!("http://{address}"), "http api serving (POST /query)");
    let app = router(projections);
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        });
        if let Err(e) = served.await {
            error!(error = %e, "http api stopped");
        }
    });
    Ok(())
}

/// An error body as Kafka Connect's REST API writes it.
pub fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error_code": status.as_u16(), "message": message.into()})),
    )
        .into_response()
}

async fn query(State(api): State<Arc<Api>>, body: axum::body::Bytes) -> Response {
    answer(&api.projections, &body).await
}

/// Answers a `POST /query` body against these projections.
pub async fn answer(projections: &[(String, TargetUrl)], body: &[u8]) -> Response {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            )
        }
    };
    let Some(sql) = request
        .get("sql")
        .or_else(|| request.get("ksql"))
        .and_then(Value::as_str)
    else {
        return failure(
            StatusCode::BAD_REQUEST,
            "give the query as {\"sql\": \"SELECT ...\"}",
        );
    };
    let names = || {
        projections
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = match request.get("projection").and_then(Value::as_str) {
        Some(name) => match projections.iter().find(|(n, _)| n == name) {
            Some((_, url)) => url,
            None => {
                return failure(
                    StatusCode::NOT_FOUND,
                    format!("no projection {name:?} runs here (running: {})", names()),
                )
            }
        },
        None => match projections {
            [(_, url)] => url,
            [] => return failure(StatusCode::NOT_FOUND, "no projection runs here"),
            _ => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "several projections run here; name one with \"projection\" ({})",
                        names()
                    ),
                )
            }
        },
    };
    let max_rows = request
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(MAX_ROWS, |l| (l as usize).min(MAX_ROWS));
    let limits = QueryLimits {
        max_rows,
        timeout: QUERY_TIMEOUT,
    };
    match run_query(target, sql, limits).await {
        Ok(result) => Json(result).into_response(),
        Err(e @ QueryError::NotReadOnly(_)) => failure(StatusCode::FORBIDDEN, e.to_string()),
        Err(e @ QueryError::Invalid(_)) => failure(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ QueryError::Timeout(_)) => failure(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
        Err(e @ QueryError::Unavailable(_)) => {
            failure(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}
