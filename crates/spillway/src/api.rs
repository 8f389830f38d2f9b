//! The HTTP API of `spillway run`: pull queries against projections, `GET /metrics` and
//! `GET /health`.
//!
//! `POST /query` with `{"sql": "SELECT …"}` (also `"ksql"`, as ksqlDB's `/query` takes it;
//! `"projection"` names one when several run, `"limit"` lowers the row limit) answers
//! `{"columns": [{"name", "type"}], "rows": [[…]], "truncated": bool}`. Queries run
//! read-only with a row limit and a timeout; errors are `{"error_code", "message"}` as Kafka
//! Connect's REST API writes them.

use crate::CliError;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
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

/// The credentials an HTTP API requires: `--token` and `--basic-auth` (or
/// `SPILLWAY_API_TOKEN`, `SPILLWAY_API_BASIC_AUTH`), shared by `spillway run` and
/// `spillway worker`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AuthArgs {
    /// Require `Authorization: Bearer TOKEN` on every request (needed to listen beyond
    /// loopback, with or instead of --basic-auth).
    #[arg(long, env = "SPILLWAY_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Require HTTP basic auth with `user:password` (both non-empty).
    #[arg(long, env = "SPILLWAY_API_BASIC_AUTH", hide_env_values = true)]
    pub basic_auth: Option<String>,
}

/// Who may call an HTTP API.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// `user:password` for `Authorization: Basic`.
    pub basic: Option<String>,
}

impl Auth {
    /// The credentials the flags give, refusing empty ones (exit 2 naming the flag).
    pub fn from_args(args: &AuthArgs) -> Result<Auth, CliError> {
        let token = match args.token.as_deref() {
            None => None,
            Some(t) if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(CliError::Config(
                    "--token: give a non-empty token without spaces or control characters"
                        .to_string(),
                ))
            }
            Some(t) => Some(t.to_string()),
        };
        let basic = match args.basic_auth.as_deref() {
            None => None,
            Some(b) => match b.split_once(':') {
                Some((user, password))
                    if !user.trim().is_empty()
                        && !password.is_empty()
                        && !b.chars().any(char::is_control) =>
                {
                    Some(b.to_string())
                }
                _ => {
                    return Err(CliError::Config(
                        "--basic-auth: give user:password, both non-empty".to_string(),
                    ))
                }
            },
        };
        Ok(Auth { token, basic })
    }

    /// Whether any credential is required.
    pub fn required(&self) -> bool {
        self.token.is_some() || self.basic.is_some()
    }

    /// The `Authorization` header values that pass.
    pub fn headers(&self) -> Vec<String> {
        use base64::Engine;
        let mut headers = Vec::new();
        if let Some(token) = &self.token {
            headers.push(format!("Bearer {token}"));
        }
        if let Some(basic) = &self.basic {
            headers.push(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(basic)
            ));
        }
        headers
    }

    /// Whether an `Authorization` header passes.
    pub fn allows(&self, header: Option<&str>) -> bool {
        if !self.required() {
            return true;
        }
        let Some(header) = header else {
            return false;
        };
        if let (Some(token), Some(given)) = (&self.token, header.strip_prefix("Bearer ")) {
            if spillway_core::secret::constant_time_eq(token.as_bytes(), given.trim().as_bytes()) {
                return true;
            }
        }
        if let (Some(basic), Some(given)) = (&self.basic, header.strip_prefix("Basic ")) {
            use base64::Engine;
            if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(given.trim()) {
                return spillway_core::secret::constant_time_eq(basic.as_bytes(), &decoded);
            }
        }
        false
    }

    /// The middleware body: passes the request on, or answers 401.
    pub async fn check(&self, request: Request, next: Next) -> Response {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if self.allows(header) {
            return next.run(request).await;
        }
        let mut response = failure(
            StatusCode::UNAUTHORIZED,
            "authentication required: send Authorization: Bearer <token> or Basic credentials",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"spillway\""),
        );
        response
    }
}

/// The one listening policy of every HTTP surface (this API, the worker's, the embedded
/// registry): loopback needs nothing, any other address needs credentials.
pub fn may_listen(address: std::net::SocketAddr, credentials: bool) -> bool {
    address.ip().is_loopback() || credentials
}

/// [`may_listen`] for a flag: `flag` names the setting in the error (exit 2).
pub fn check_listen(
    flag: &str,
    address: std::net::SocketAddr,
    credentials: bool,
    how: &str,
) -> Result<(), CliError> {
    if may_listen(address, credentials) {
        return Ok(());
    }
    Err(CliError::Config(format!(
        "{flag}: {address} is reachable from other machines; {how}"
    )))
}

/// What `--listen` flags need beyond loopback.
pub const LISTEN_NEEDS_AUTH: &str =
    "give --token or --basic-auth (SPILLWAY_API_TOKEN, SPILLWAY_API_BASIC_AUTH) to require credentials";

/// Resolves a `--listen` value to the one address it names.
pub async fn listen_address(flag: &str, text: &str) -> Result<std::net::SocketAddr, CliError> {
    let mut addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host(text)
        .await
        .map_err(|_| {
            CliError::Config(format!(
                "{flag}: {:?} is not an address to listen on (HOST:PORT)",
                spillway_core::secret::printable(text)
            ))
        })?
        .collect();
    // Every address a name resolves to must pass the policy; the first is bound.
    addresses.dedup();
    match addresses.iter().find(|a| !a.ip().is_loopback()) {
        Some(a) => Ok(*a),
        None => addresses.first().copied().ok_or_else(|| {
            CliError::Config(format!("{flag}: {text:?} names no address to listen on"))
        }),
    }
}

struct Api {
    projections: Vec<(String, TargetUrl)>,
    auth: Auth,
}

/// The API's routes.
fn router(projections: Vec<(String, TargetUrl)>, auth: Auth) -> Router {
    let api = Arc::new(Api { projections, auth });
    Router::new()
        .route(
            "/",
            get(|| async {
                Json(json!({"version": env!("CARGO_PKG_VERSION"), "commit": crate::COMMIT}))
            }),
        )
        .route("/query", post(query))
        .route("/metrics", get(crate::metrics::serve))
        .route("/health", get(|| async { Json(json!({"status": "UP"})) }))
        .fallback(|| async { failure(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async {
            failure(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )
        })
        .layer(middleware::from_fn_with_state(api.clone(), authenticate))
        .with_state(api)
}

async fn authenticate(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    api.auth.check(request, next).await
}

/// Binds `listen` (or [`DEFAULT_LISTEN`]) and serves the API until shutdown. An address
/// given that cannot be bound is an error; the default one taken is a warning. Beyond
/// loopback, `auth` must require credentials.
pub async fn start(
    listen: Option<&str>,
    auth: Auth,
    projections: Vec<(String, TargetUrl)>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), CliError> {
    let address = match listen {
        Some(text) => listen_address("--listen", text).await?,
        None => DEFAULT_LISTEN.parse().expect("a socket address"),
    };
    check_listen("--listen", address, auth.required(), LISTEN_NEEDS_AUTH)?;
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(e) if listen.is_none() => {
            warn!(%address, error = %e, "http api not served: its default address is taken (give another with --listen)");
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
    info!(url = %format!("http://{address}"), auth = auth.required(), "http api serving (POST /query)");
    let app = router(projections, auth);
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
    let max_rows = match request.get("limit") {
        None | Some(Value::Null) => MAX_ROWS,
        Some(limit) => match limit.as_u64() {
            Some(l) if (1..=MAX_ROWS as u64).contains(&l) => l as usize,
            _ => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    format!("\"limit\" must be a whole number from 1 to {MAX_ROWS}"),
                )
            }
        },
    };
    let limits = QueryLimits::new(max_rows, QUERY_TIMEOUT);
    match run_query(target, sql, limits).await {
        Ok(result) => Json(result).into_response(),
        Err(e @ (QueryError::NotReadOnly(_) | QueryError::Forbidden(_))) => {
            failure(StatusCode::FORBIDDEN, e.to_string())
        }
        Err(e @ QueryError::TooLarge { .. }) => {
            failure(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
        Err(e @ QueryError::Invalid(_)) => failure(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ QueryError::Timeout(_)) => failure(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
        Err(e @ QueryError::Unavailable(_)) => {
            failure(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}
