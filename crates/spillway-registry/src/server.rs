//! Confluent Schema Registry's REST API over a [`Registry`]: what the Confluent serializers
//! and deserializers (Java, Python, Go, .NET), Kafka Connect's converters and operators'
//! `curl` calls use.
//!
//! | method | path |
//! |---|---|
//! | GET | `/`, `/schemas/types` |
//! | GET | `/schemas/ids/{id}`, `/schemas/ids/{id}/schema`, `/schemas/ids/{id}/versions`, `/schemas/ids/{id}/subjects` |
//! | GET | `/subjects`, `/subjects/{s}/versions`, `/subjects/{s}/versions/{v}`, `/subjects/{s}/versions/{v}/schema` |
//! | POST | `/subjects/{s}/versions` (register), `/subjects/{s}` (look up) |
//! | DELETE | `/subjects/{s}`, `/subjects/{s}/versions/{v}` |
//! | GET, PUT, DELETE | `/config`, `/config/{s}` |
//! | POST | `/compatibility/subjects/{s}/versions/{v}` |
//!
//! `{v}` is a version number or `latest`. Errors are `{"error_code": …, "message": …}`
//! with Confluent's codes.

use crate::store::{Compatibility, Registry, SubjectVersion};
use crate::RegistryError;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Who may call the registry's API.
///
/// With `user_info` (`user:password`), every request must carry it as HTTP basic auth, as
/// Confluent's registry with basic auth on. Changes (registering a schema, deleting,
/// setting a compatibility level) need a credential once any is set: `user_info`, or one of
/// the `writers` (whole `Authorization` header values, such as the `Bearer` token of the
/// process serving the registry). Reads need nothing without `user_info`.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// `user:password` every request must carry.
    pub user_info: Option<String>,
    /// Further `Authorization` header values accepted for changes.
    pub writers: Vec<String>,
}

impl Access {
    /// Only Confluent-style basic auth, for every request, when given.
    pub fn basic(user_info: Option<String>) -> Access {
        Access {
            user_info,
            writers: Vec::new(),
        }
    }
}

/// The `Authorization` headers each kind of request accepts; `None`: no credential needed.
struct Guard {
    reads: Option<Vec<String>>,
    writes: Option<Vec<String>>,
}

impl Guard {
    fn new(access: Access) -> Guard {
        let basic = access
            .user_info
            .map(|u| format!("Basic {}", STANDARD.encode(u)));
        let reads = basic.clone().map(|b| vec![b]);
        let mut writes: Vec<String> = basic.into_iter().collect();
        writes.extend(access.writers.into_iter().filter(|w| !w.is_empty()));
        Guard {
            reads,
            writes: (!writes.is_empty()).then_some(writes),
        }
    }
}

/// Whether a request changes the registry: `PUT`, `DELETE`, and `POST` of a new version.
fn changes(method: &axum::http::Method, path: &str) -> bool {
    use axum::http::Method;
    match *method {
        Method::PUT | Method::DELETE => true,
        Method::POST => {
            path.trim_end_matches('/').ends_with("/versions") && path.starts_with("/subjects/")
        }
        Method::GET | Method::HEAD | Method::OPTIONS => false,
        _ => true,
    }
}

/// The API's routes over `registry`, guarded as `access` says.
pub fn router(registry: Arc<Registry>, access: Access) -> Router {
    let guard = Arc::new(Guard::new(access));
    let routes = Router::new()
        .route("/", get(|| async { reply(StatusCode::OK, json!({})) }))
        .route(
            "/schemas/types",
            get(|| async { reply(StatusCode::OK, json!(["AVRO"])) }),
        )
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(versions_of_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_of_id))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route(
            "/subjects/{subject}/versions/{version}",
            get(version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(raw_version),
        )
        .route(
            "/config",
            get(global_config)
                .put(set_global_config)
                .delete(delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(subject_config)
                .put(set_subject_config)
                .delete(delete_subject_config),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_compatibility),
        )
        .fallback(|| async {
            reply(
                StatusCode::NOT_FOUND,
                json!({"error_code": 404, "message": "HTTP 404 Not Found"}),
            )
        })
        .with_state(registry);
    routes.layer(middleware::from_fn_with_state(guard, authorize))
}

/// Refuses requests without an accepted `Authorization` header, as Confluent's registry
/// does with basic auth on.
async fn authorize(
    State(guard): State<Arc<Guard>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let accepted = if changes(request.method(), request.uri().path()) {
        &guard.writes
    } else {
        &guard.reads
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let allowed = match accepted {
        None => true,
        Some(list) => given.is_some_and(|g| {
            list.iter()
                .any(|a| spillway_core::secret::constant_time_eq(a.as_bytes(), g.trim().as_bytes()))
        }),
    };
    if allowed {
        return next.run(request).await;
    }
    let mut response = reply(
        StatusCode::UNAUTHORIZED,
        json!({"error_code": 401, "message": "Unauthorized"}),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"schema-registry\""),
    );
    response
}

/// Serves the API on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    access: Access,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(registry, access))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// An error answer: HTTP status, Confluent error code, message.
struct ApiError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let (status, code) = e.code();
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        reply(
            self.status,
            json!({"error_code": self.code, "message": self.message}),
        )
    }
}

type ApiResult = Result<Response, ApiError>;

fn bad_request(code: u32, message: String) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code,
        message,
    }
}

fn version_reply(v: SubjectVersion) -> Response {
    reply(
        StatusCode::OK,
        json!({"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema}),
    )
}

/// A version path segment: a number from 1, `latest` or `-1`.
fn parse_version(text: &str) -> Result<Option<u32>, ApiError> {
    match text {
        "latest" | "-1" => Ok(None),
        n => match n.parse::<u32>() {
            Ok(v) if v >= 1 => Ok(Some(v)),
            _ => Err(bad_request(
                42202,
                format!("The specified version '{n}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""),
            )),
        },
    }
}

/// The body of a register, look-up or compatibility request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaBody {
    schema: String,
    #[serde(default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<Value>,
}

fn schema_body(body: &[u8]) -> Result<String, ApiError> {
    let body: SchemaBody = serde_json::from_slice(body)
        .map_err(|e| bad_request(422, format!("Unrecognized request body: {e}")))?;
    if let Some(ty) = body.schema_type.filter(|t| !t.eq_ignore_ascii_case("AVRO")) {
        return Err(bad_request(
            42201,
            format!(
                "Invalid schema: schema type {ty} is not supported by this registry (AVRO only)"
            ),
        ));
    }
    if !body.references.is_empty() {
        return Err(bad_request(
            42201,
            "Invalid schema: schema references are not supported by this registry".to_string(),
        ));
    }
    Ok(body.schema)
}

fn not_found() -> ApiError {
    RegistryError::SchemaNotFound.into()
}

fn raw(text: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

async fn schema_by_id(State(r): State<Arc<Registry>>, Path(id): Path<u32>) -> ApiResult {
    let schema = r.schema(id).ok_or_else(not_found)?;
    Ok(reply(StatusCode::OK, json!({"schema": schema})))
}

async fn raw_schema_by_id(State(r): State<Arc<Registry>>, Path(id): Path<u32>) -> ApiResult {
    Ok(raw(r.schema(id).ok_or_else(not_found)?))
}

async fn versions_of_id(State(r): State<Arc<Registry>>, Path(id): Path<u32>) -> ApiResult {
    let uses = r.uses_of(id).ok_or_else(not_found)?;
    let list: Vec<Value> = uses
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    Ok(reply(StatusCode::OK, Value::Array(list)))
}

async fn subjects_of_id(State(r): State<Arc<Registry>>, Path(id): Path<u32>) -> ApiResult {
    let mut subjects: Vec<String> = r
        .uses_of(id)
        .ok_or_else(not_found)?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    subjects.dedup();
    Ok(reply(StatusCode::OK, json!(subjects)))
}

async fn subjects(State(r): State<Arc<Registry>>) -> Response {
    reply(StatusCode::OK, json!(r.subjects()))
}

async fn versions(State(r): State<Arc<Registry>>, Path(subject): Path<String>) -> ApiResult {
    Ok(reply(StatusCode::OK, json!(r.versions(&subject)?)))
}

async fn register(
    State(r): State<Arc<Registry>>,
    Path(subject): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let id = r.register(&subject, &schema_body(&body)?)?;
    Ok(reply(StatusCode::OK, json!({"id": id})))
}

async fn lookup(
    State(r): State<Arc<Registry>>,
    Path(subject): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    Ok(version_reply(r.lookup(&subject, &schema_body(&body)?)?))
}

async fn version(
    State(r): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
) -> ApiResult {
    Ok(version_reply(
        r.version(&subject, parse_version(&version)?)?,
    ))
}

async fn raw_version(
    State(r): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
) -> ApiResult {
    Ok(raw(r.version(&subject, parse_version(&version)?)?.schema))
}

async fn delete_subject(State(r): State<Arc<Registry>>, Path(subject): Path<String>) -> ApiResult {
    Ok(reply(StatusCode::OK, json!(r.delete(&subject, None)?)))
}

async fn delete_version(
    State(r): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
) -> ApiResult {
    let version = match parse_version(&version)? {
        Some(v) => v,
        None => r.version(&subject, None)?.version,
    };
    let deleted = r.delete(&subject, Some(version))?;
    Ok(reply(StatusCode::OK, json!(deleted.first())))
}

fn level_reply(level: Compatibility) -> Response {
    reply(
        StatusCode::OK,
        json!({"compatibilityLevel": level.as_str()}),
    )
}

async fn global_config(State(r): State<Arc<Registry>>) -> Response {
    level_reply(r.compatibility(None).unwrap_or(Compatibility::Backward))
}

async fn subject_config(
    State(r): State<Arc<Registry>>,
    Path(subject): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let default_to_global = query.get("defaultToGlobal").is_some_and(|v| v == "true");
    match r.compatibility(Some(&subject)) {
        Some(level) => Ok(level_reply(level)),
        None if default_to_global => Ok(global_config(State(r)).await),
        None => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            code: 40408,
            message: format!(
                "Subject '{subject}' does not have subject-level compatibility configured"
            ),
        }),
    }
}

fn level_body(body: &[u8]) -> Result<Compatibility, ApiError> {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = value["compatibility"].as_str().unwrap_or_default();
    Compatibility::parse(text).ok_or_else(|| {
        bad_request(
            42203,
            format!("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive (got '{text}')"),
        )
    })
}

async fn set_global_config(State(r): State<Arc<Registry>>, body: axum::body::Bytes) -> ApiResult {
    set_config(&r, None, &body)
}

async fn set_subject_config(
    State(r): State<Arc<Registry>>,
    Path(subject): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    set_config(&r, Some(&subject), &body)
}

fn set_config(r: &Registry, subject: Option<&str>, body: &[u8]) -> ApiResult {
    let level = level_body(body)?;
    r.set_compatibility(subject, Some(level))?;
    Ok(reply(
        StatusCode::OK,
        json!({"compatibility": level.as_str()}),
    ))
}

async fn delete_global_config(State(r): State<Arc<Registry>>) -> ApiResult {
    delete_config(&r, None)
}

async fn delete_subject_config(
    State(r): State<Arc<Registry>>,
    Path(subject): Path<String>,
) -> ApiResult {
    delete_config(&r, Some(&subject))
}

fn delete_config(r: &Registry, subject: Option<&str>) -> ApiResult {
    let before = r.compatibility(subject).unwrap_or(Compatibility::Backward);
    r.set_compatibility(subject, None)?;
    Ok(reply(
        StatusCode::OK,
        json!({"compatibilityLevel": before.as_str()}),
    ))
}

async fn check_compatibility(
    State(r): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult {
    let ok = r.is_compatible(&subject, parse_version(&version)?, &schema_body(&body)?)?;
    Ok(reply(StatusCode::OK, json!({"is_compatible": ok})))
}
