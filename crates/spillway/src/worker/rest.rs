//! The worker's REST API: Kafka Connect's paths, bodies and status codes, plus `POST /query`
//! against the projections it runs and `GET /health`.
//!
//! Errors are `{"error_code", "message"}`. Secrets are masked in every body. Without a
//! token or basic-auth credentials the API answers anyone who reaches it, so it must listen
//! on loopback; with them, every request needs them.

use super::{masked, parse_document, Target, Worker, WorkerError};
use crate::api::{answer, failure, Auth};
use crate::connector::Connector;
use crate::run::target_of;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use spillway_core::secret::MASK;
use std::sync::Arc;

struct App {
    worker: Arc<Worker>,
    auth: Auth,
}

/// The API's routes over `worker`.
pub fn router(worker: Arc<Worker>, auth: Auth) -> Router {
    let app = Arc::new(App { worker, auth });
    Router::new()
        .route("/", get(root))
        .route("/health", get(|| async { Json(json!({"status": "UP"})) }))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(crate::metrics::serve))
        .route("/connectors", get(list).post(create))
        .route("/connectors/{name}", get(info).delete(delete))
        .route(
            "/connectors/{name}/config",
            get(config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{name}/status", get(status))
        .route("/connectors/{name}/tasks", get(tasks))
        .route("/connectors/{name}/tasks/{task}/status", get(task_status))
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(restart_task),
        )
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/restart", post(restart))
        .route(
            "/connectors/{name}/offsets",
            get(offsets).patch(alter_offsets).delete(reset_offsets),
        )
        .route("/connectors/{name}/topics", get(topics))
        .route("/connectors/{name}/topics/reset", put(reset_topics))
        .route("/admin/loggers", get(loggers))
        .route("/admin/loggers/{name}", get(logger).put(put_logger))
        .route("/connector-plugins", get(plugins))
        .route("/connector-plugins/{class}/config/validate", put(validate))
        .route("/query", post(query))
        .fallback(|| async { failure(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async {
            failure(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )
        })
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .with_state(app)
}

async fn authenticate(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    app.auth.check(request, next).await
}

impl IntoResponse for WorkerError {
    fn into_response(self) -> Response {
        match self {
            WorkerError::NotFound(m) => failure(StatusCode::NOT_FOUND, m),
            WorkerError::Conflict(m) => failure(StatusCode::CONFLICT, m),
            WorkerError::BadRequest(m) => failure(StatusCode::BAD_REQUEST, m),
            WorkerError::Internal(m) => failure(StatusCode::INTERNAL_SERVER_ERROR, m),
        }
    }
}

fn body_json(body: &Bytes) -> Result<Value, WorkerError> {
    serde_json::from_slice(body)
        .map_err(|e| WorkerError::BadRequest(format!("the body is not JSON: {e}")))
}

/// The OpenAPI document of this API.
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

async fn root() -> Json<Value> {
    Json(
        json!({"version": env!("CARGO_PKG_VERSION"), "commit": crate::COMMIT, "kafka_cluster_id": null}),
    )
}

async fn list(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, WorkerError> {
    let expand: Vec<String> = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("expand="))
        .map(str::to_string)
        .collect();
    if let Some(other) = expand.iter().find(|e| *e != "status" && *e != "info") {
        return Err(WorkerError::BadRequest(format!(
            "expand takes status or info, not {other:?}"
        )));
    }
    let names = app.worker.names().await;
    if expand.is_empty() {
        return Ok(Json(json!(names)));
    }
    let mut out = serde_json::Map::new();
    for name in names {
        let mut entry = serde_json::Map::new();
        if expand.iter().any(|e| e == "status") {
            entry.insert("status".into(), app.worker.status(&name).await?);
        }
        if expand.iter().any(|e| e == "info") {
            entry.insert("info".into(), app.worker.info(&name).await?);
        }
        out.insert(name, Value::Object(entry));
    }
    Ok(Json(Value::Object(out)))
}

async fn create(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, WorkerError> {
    let document = body_json(&body)?;
    let info = app.worker.create(&document).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

async fn info(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, WorkerError> {
    Ok(Json(app.worker.info(&name).await?))
}

async fn config(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, WorkerError> {
    Ok(Json(app.worker.config(&name).await?))
}

async fn put_config(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, WorkerError> {
    let config = body_json(&body)?;
    let (info, created) = app.worker.put_config(&name, &config).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info)).into_response())
}

/// Kafka Connect's `/admin/loggers`: the loggers with a level set, and `root`.
async fn loggers() -> Json<Value> {
    Json(crate::logging::levels())
}

async fn logger(Path(name): Path<String>) -> Result<Json<Value>, WorkerError> {
    crate::logging::level(&name)
        .map(|level| Json(json!({ "level": level })))
        .ok_or_else(|| WorkerError::NotFound(format!("Logger {name} not found")))
}

/// Sets a logger's level while running: `{"level": "DEBUG"}`; answers the loggers changed.
async fn put_logger(Path(name): Path<String>, body: Bytes) -> Result<Json<Value>, WorkerError> {
    let body = body_json(&body)?;
    let level = body["level"].as_str().ok_or_else(|| {
        WorkerError::BadRequest("the body must be {\"level\": \"LEVEL\"}".to_string())
    })?;
    crate::logging::set_level(&name, level)
        .map(|changed| Json(json!(changed)))
        .map_err(|e| WorkerError::BadRequest(e.to_string()))
}

async fn patch_config(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, WorkerError> {
    let patch = body_json(&body)?;
    Ok(Json(app.worker.patch_config(&name, &patch).await?))
}

async fn status(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, WorkerError> {
    Ok(Json(app.worker.status(&name).await?))
}

async fn tasks(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, WorkerError> {
    let config = app.worker.config(&name).await?;
    Ok(Json(
        json!([{"id": {"connector": name, "task": 0}, "config": config}]),
    ))
}

/// The task a path names: connectors run one task, 0; anything else is not found.
fn is_task_zero(task: &str) -> bool {
    task.parse::<u32>() == Ok(0)
}

async fn task_status(
    State(app): State<Arc<App>>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Json<Value>, WorkerError> {
    let status = app.worker.status(&name).await?;
    if !is_task_zero(&task) {
        return Err(WorkerError::NotFound(format!(
            "Task {name}-{task} not found"
        )));
    }
    Ok(Json(status["tasks"][0].clone()))
}

async fn pause(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<StatusCode, WorkerError> {
    app.worker.set_target(&name, Target::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn resume(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<StatusCode, WorkerError> {
    app.worker.set_target(&name, Target::Running).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn stop(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<StatusCode, WorkerError> {
    app.worker.set_target(&name, Target::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Kafka Connect's restart (KIP-745): without `includeTasks`/`onlyFailed` it restarts the
/// connector and answers 204; with either it answers 202 and the status, the restarted
/// parts shown as `RESTARTING`; `onlyFailed=true` restarts only a failed connector.
/// spillway runs one task per connector, so the connector and its task restart together.
async fn restart(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, WorkerError> {
    let mut include_tasks = false;
    let mut only_failed = false;
    for pair in query.as_deref().unwrap_or_default().split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let flag = match key {
            "includeTasks" => &mut include_tasks,
            "onlyFailed" => &mut only_failed,
            _ => continue,
        };
        *flag = match value.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(WorkerError::BadRequest(format!(
                    "{key} must be true or false, not {value:?}"
                )))
            }
        };
    }
    let failed = app.worker.status(&name).await?["connector"]["state"] == "FAILED";
    let restarting = !only_failed || failed;
    if restarting {
        app.worker.restart(&name).await?;
    }
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut status = app.worker.status(&name).await?;
    if restarting {
        status["connector"]["state"] = json!("RESTARTING");
        if let Some(tasks) = status["tasks"].as_array_mut() {
            for task in tasks {
                task["state"] = json!("RESTARTING");
            }
        }
    }
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

/// `POST /connectors/{name}/tasks/{task}/restart`: the one task is the connector's run.
async fn restart_task(
    State(app): State<Arc<App>>,
    Path((name, task)): Path<(String, String)>,
) -> Result<StatusCode, WorkerError> {
    if !is_task_zero(&task) {
        app.worker.status(&name).await?;
        return Err(WorkerError::NotFound(format!(
            "Task {name}-{task} not found"
        )));
    }
    app.worker.restart(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<StatusCode, WorkerError> {
    app.worker.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Committed offsets in Kafka Connect's shape: a source's position under its server's
/// partition, a projection's next offset per topic partition.
async fn offsets(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, WorkerError> {
    let document = app.worker.document(&name).await?;
    let loaded = parse_document(&document)?;
    let offsets = super::offsets::read(&loaded.connector, app.worker.data_dir()).await?;
    Ok(Json(json!({"offsets": offsets})))
}

/// Kafka Connect's alter (KIP-875): the connector must be stopped; the body takes the
/// shapes `GET` shows, a `null` offset resetting its partition.
async fn alter_offsets(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, WorkerError> {
    let entries = super::offsets::parse_body(&body_json(&body)?)?;
    app.worker.alter_offsets(&name, entries).await?;
    Ok(Json(json!({"message": super::offsets::ALTERED})))
}

/// Kafka Connect's reset (KIP-875): the stopped connector starts as new.
async fn reset_offsets(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, WorkerError> {
    app.worker.reset_offsets(&name).await?;
    Ok(Json(json!({"message": super::offsets::RESET})))
}

/// Kafka Connect's active topics (KIP-558): `{"<name>": {"topics": [...]}}`.
async fn topics(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, WorkerError> {
    let topics = app.worker.active_topics(&name).await?;
    Ok(Json(json!({ name: {"topics": topics} })))
}

/// Empties the active topics: 202 without a body, as Kafka Connect answers.
async fn reset_topics(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<StatusCode, WorkerError> {
    app.worker.reset_active_topics(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The connector classes this worker runs.
fn plugin_list() -> Vec<(&'static str, &'static str)> {
    vec![
        (spillway_postgres::config::CONNECTOR_CLASSES[0], "source"),
        (spillway_mysql::config::MYSQL_CLASSES[0], "source"),
        (spillway_mysql::config::MARIADB_CLASSES[0], "source"),
        (spillway_projection::config::CONNECTOR_CLASSES[0], "sink"),
    ]
}

async fn plugins() -> Json<Value> {
    Json(Value::Array(
        plugin_list()
            .into_iter()
            .map(|(class, kind)| json!({"class": class, "type": kind, "version": env!("CARGO_PKG_VERSION")}))
            .collect(),
    ))
}

/// Kafka Connect's validation answer: every key given, each with the errors found for it
/// (every bad key gets its message: [`crate::connector::validate`], as `spillway check`).
async fn validate(Path(class): Path<String>, body: Bytes) -> Result<Json<Value>, WorkerError> {
    let mut given = body_json(&body)?;
    let Some(map) = given.as_object_mut() else {
        return Err(WorkerError::BadRequest(
            "the body must be a JSON object of config keys".into(),
        ));
    };
    if let Some((key, _)) = map.iter().find(|(_, v)| v.is_object() || v.is_array()) {
        return Err(WorkerError::BadRequest(format!(
            "the value of {key} must be a string, number, boolean or null"
        )));
    }
    let known = plugin_list()
        .iter()
        .any(|(c, _)| c.eq_ignore_ascii_case(&class))
        || spillway_postgres::config::CONNECTOR_CLASSES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&class))
        || spillway_mysql::config::MYSQL_CLASSES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&class))
        || spillway_mysql::config::MARIADB_CLASSES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&class))
        || spillway_projection::config::handles(&class);
    if !known {
        return Err(WorkerError::BadRequest(format!(
            "Connector plugin {class} not found; GET /connector-plugins lists the classes"
        )));
    }
    map.entry("connector.class").or_insert_with(|| json!(class));
    map.entry("name").or_insert_with(|| json!("validate"));
    let original = Value::Object(map.clone());
    let errors = crate::connector::validate(map).err().unwrap_or_default();
    let shown = masked(&original);
    let mut keys: Vec<String> = shown
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for (k, _) in &errors {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let configs: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let value = shown.get(key).cloned().unwrap_or(Value::Null);
            let key_errors: Vec<&String> = errors
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, m)| m)
                .collect();
            json!({
                "definition": {
                    "name": key, "type": "STRING", "required": false, "default_value": null,
                    "importance": "MEDIUM", "documentation": "", "group": "Common", "width": "NONE",
                    "display_name": key, "dependents": [], "order": i + 1,
                },
                "value": {
                    "name": key,
                    "value": if value.as_str() == Some(MASK) { json!(MASK) } else { value },
                    "recommended_values": [], "errors": key_errors, "visible": true,
                },
            })
        })
        .collect();
    Ok(Json(json!({
        "name": class,
        "error_count": errors.len(),
        "groups": ["Common"],
        "configs": configs,
    })))
}

async fn query(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let mut projections = Vec::new();
    for name in app.worker.names().await {
        if let Ok(document) = app.worker.document(&name).await {
            if let Ok(loaded) = parse_document(&document) {
                if let Connector::Projection(spec) = loaded.connector {
                    projections.push((name, target_of(&spec, app.worker.data_dir())));
                }
            }
        }
    }
    answer(&projections, &body).await
}

#[cfg(test)]
mod tests {
    use super::OPENAPI;
    use serde_json::Value;

    /// The routes `router` declares: each path with its methods, read from this file.
    fn declared_routes() -> Vec<(String, Vec<String>)> {
        let source = include_str!("rest.rs");
        let body = &source[source.find("Router::new()").expect("the router")..];
        let body = &body[..body.find(".fallback(").expect("the fallback")];
        body.split(".route(")
            .skip(1)
            .map(|route| {
                let path = route.split('"').nth(1).expect("a path literal").to_string();
                let methods = ["get", "post", "put", "patch", "delete"]
                    .iter()
                    .filter(|m| {
                        route.match_indices(&format!("{m}(")).any(|(i, _)| {
                            i == 0
                                || !route.as_bytes()[i - 1].is_ascii_alphanumeric()
                                    && route.as_bytes()[i - 1] != b'_'
                        })
                    })
                    .map(|m| m.to_string())
                    .collect();
                (path, methods)
            })
            .collect()
    }

    #[test]
    fn the_openapi_document_describes_every_route_and_only_those() {
        let document: Value = serde_json::from_str(OPENAPI).expect("the document is JSON");
        assert_eq!(document["openapi"], "3.1.0");
        let paths = document["paths"].as_object().expect("paths");
        let routes = declared_routes();
        assert!(routes.len() > 20, "{routes:?}");
        for (path, methods) in &routes {
            let documented = paths
                .get(path)
                .unwrap_or_else(|| panic!("{path} is not in openapi.json"));
            let mut documented: Vec<String> = documented
                .as_object()
                .expect("operations")
                .keys()
                .cloned()
                .collect();
            documented.sort();
            let mut methods = methods.clone();
            methods.sort();
            assert_eq!(documented, methods, "{path}");
        }
        for path in paths.keys() {
            assert!(
                routes.iter().any(|(p, _)| p == path),
                "openapi.json documents {path}, which the router lacks"
            );
        }
        // Every reference resolves.
        let text = OPENAPI;
        for reference in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "dangling $ref {name}"
            );
        }
    }
}
