//! A client of a Confluent-compatible schema registry elsewhere (`schema.registry.url`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use spillway_core::{Classify, ErrorClass};
use spillway_formats::{SchemaIdError, SchemaIds};
use std::time::Duration;
use ureq::Agent;

/// Where the registry is and how to sign in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRegistryOptions {
    /// Base URLs; the first that answers is used.
    pub urls: Vec<String>,
    /// `user:password` for HTTP basic auth (`basic.auth.user.info`).
    pub user_info: Option<String>,
    /// Attempts per request while the registry does not answer.
    pub attempts: u32,
    pub timeout: Duration,
}

impl Default for RemoteRegistryOptions {
    fn default() -> Self {
        RemoteRegistryOptions {
            urls: Vec::new(),
            user_info: None,
            attempts: 3,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why the registry gave no answer or refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No URL answered in any round.
    #[error("schema registry unreachable ({url}: {source})")]
    Unreachable {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("schema registry unreachable (no schema.registry.url given)")]
    NoUrl,
    /// The registry answered with an error.
    #[error("registry refused: HTTP {status}{}: {message}{}", error_code.map(|c| format!(", error {c}")).unwrap_or_default(), refusal_hint(*status))]
    Refused {
        status: u16,
        error_code: Option<i64>,
        message: String,
    },
    #[error("schema id {0} out of range")]
    IdOutOfRange(u64),
}

impl Classify for ClientError {
    fn class(&self) -> ErrorClass {
        match self {
            ClientError::Unreachable { .. } => ErrorClass::Transient,
            ClientError::Refused { status, .. } if *status >= 500 => ErrorClass::Transient,
            // Refused until the subject's compatibility level changes, or until the
            // credentials are right.
            ClientError::Refused {
                status: 401 | 403 | 409,
                ..
            }
            | ClientError::NoUrl => ErrorClass::NeedsOperator,
            ClientError::Refused { .. } | ClientError::IdOutOfRange(_) => ErrorClass::Definite,
        }
    }
}

/// What fixes a refusal with `status`.
fn refusal_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (check basic.auth.user.info)",
        409 => " (change the subject's compatibility level or the table)",
        _ => "",
    }
}

/// A blocking client: schemas are registered once per table shape, on the encoding path.
pub struct RemoteRegistry {
    options: RemoteRegistryOptions,
    agent: Agent,
}

impl RemoteRegistry {
    pub fn new(options: RemoteRegistryOptions) -> Self {
        let agent: Agent = Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        RemoteRegistry { options, agent }
    }

    /// Sends one request to each URL in turn, `attempts` rounds, until one answers; then
    /// returns its status and JSON body.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let mut last_error = ClientError::NoUrl;
        let mut backoff = Duration::from_millis(200);
        for attempt in 0..self.options.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(backoff);
                backoff *= 2;
            }
            for base in &self.options.urls {
                let url = format!("{}{path}", base.trim_end_matches('/'));
                match self.send(method, &url, body) {
                    Ok(answer) => return Ok(answer),
                    Err(source) => last_error = ClientError::Unreachable { url, source },
                }
            }
        }
        Err(last_error)
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ureq::Error> {
        let auth = self
            .options
            .user_info
            .as_ref()
            .map(|u| format!("Basic {}", STANDARD.encode(u)));
        let mut response = match (method, body) {
            ("POST", Some(body)) => {
                let mut request = self
                    .agent
                    .post(url)
                    .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                    .header("Accept", "application/vnd.schemaregistry.v1+json");
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.send(body.to_string())?
            }
            _ => {
                let mut request = self
                    .agent
                    .get(url)
                    .header("Accept", "application/vnd.schemaregistry.v1+json");
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.call()?
            }
        };
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Registers `schema` under `subject`; returns its id.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, ClientError> {
        let path = format!("/subjects/{}/versions", encode_segment(subject));
        let (status, body) = self.request("POST", &path, Some(&json!({"schema": schema})))?;
        match body["id"].as_u64() {
            Some(id) if status == 200 => {
                u32::try_from(id).map_err(|_| ClientError::IdOutOfRange(id))
            }
            _ => Err(refusal(status, &body)),
        }
    }

    /// The schema with `id`.
    pub fn schema(&self, id: u32) -> Result<String, ClientError> {
        let (status, body) = self.request("GET", &format!("/schemas/ids/{id}"), None)?;
        match body["schema"].as_str() {
            Some(schema) if status == 200 => Ok(schema.to_string()),
            _ => Err(refusal(status, &body)),
        }
    }
}

/// The registry's answer to a refused request.
fn refusal(status: u16, body: &Value) -> ClientError {
    match (body["error_code"].as_i64(), body["message"].as_str()) {
        (error_code, Some(message)) if error_code.is_some() => ClientError::Refused {
            status,
            error_code,
            message: message.to_string(),
        },
        _ => ClientError::Refused {
            status,
            error_code: None,
            message: body.to_string(),
        },
    }
}

impl SchemaIds for RemoteRegistry {
    fn id_for(&mut self, subject: &str, schema: &str) -> Result<u32, SchemaIdError> {
        // Blocking HTTP inside the pipeline's task: let the runtime move other tasks away.
        spillway_core::blocking::run_blocking(|| self.register(subject, schema))
            .map_err(|e| SchemaIdError::new(e.class(), e))
    }
}

/// Percent-encodes a URL path segment (subjects, connector names may hold any character).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
