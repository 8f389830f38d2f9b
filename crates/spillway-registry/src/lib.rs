//! Schema registry for spillway.
//!
//! - [`Registry`]: schemas and subjects kept in the data directory, with Confluent's ids,
//!   versions and compatibility levels (Avro schemas; compatibility checked by Avro's
//!   schema resolution rules).
//! - [`server`]: the subset of Confluent Schema Registry's REST API that serializers,
//!   deserializers and operators use, served over HTTP from a [`Registry`].
//! - [`RemoteRegistry`]: a client of a Confluent-compatible registry elsewhere.
//!
//! Both kinds hand the Avro encoder its schema ids through
//! [`SchemaIds`](spillway_formats::SchemaIds).

mod client;
mod decode;
pub mod server;
mod store;

pub use client::{encode_segment, ClientError, RemoteRegistry, RemoteRegistryOptions};
pub use decode::{avro_integer, avro_to_json, AvroDecoder};
pub use store::{Compatibility, Registry, SubjectVersion};

use spillway_formats::{SchemaIdError, SchemaIds};
use std::path::Path;
use std::sync::Arc;

/// Default address of the embedded registry (`schema.registry.embedded.listen`).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8081";

/// A registry error, with the error code Confluent's REST API gives it.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version not found.")]
    VersionNotFound,
    #[error("Schema not found")]
    SchemaNotFound,
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\" (compatibility {}): {reason}", level.as_str())]
    Incompatible {
        subject: String,
        level: Compatibility,
        reason: String,
    },
    #[error("cannot write the schema registry store {path}: {source}")]
    Store {
        path: String,
        source: std::io::Error,
    },
}

impl RegistryError {
    fn store(path: &Path, source: std::io::Error) -> Self {
        RegistryError::Store {
            path: path.display().to_string(),
            source,
        }
    }

    /// Confluent's `error_code` and the HTTP status it goes with.
    pub fn code(&self) -> (u16, u32) {
        match self {
            RegistryError::SubjectNotFound(_) => (404, 40401),
            RegistryError::VersionNotFound => (404, 40402),
            RegistryError::SchemaNotFound => (404, 40403),
            RegistryError::InvalidSchema(_) => (422, 42201),
            RegistryError::Incompatible { .. } => (409, 409),
            RegistryError::Store { .. } => (500, 50001),
        }
    }
}

/// The embedded registry hands out ids directly, without HTTP.
pub struct EmbeddedIds(pub Arc<Registry>);

impl spillway_core::Classify for RegistryError {
    fn class(&self) -> spillway_core::ErrorClass {
        use spillway_core::ErrorClass;
        match self {
            // Refused until the subject's compatibility level allows it.
            RegistryError::Incompatible { .. } => ErrorClass::NeedsOperator,
            RegistryError::Store { .. } => ErrorClass::NeedsOperator,
            RegistryError::SubjectNotFound(_)
            | RegistryError::VersionNotFound
            | RegistryError::SchemaNotFound
            | RegistryError::InvalidSchema(_) => ErrorClass::Definite,
        }
    }
}

impl SchemaIds for EmbeddedIds {
    fn id_for(&mut self, subject: &str, schema: &str) -> Result<u32, SchemaIdError> {
        use spillway_core::Classify;
        self.0.register(subject, schema).map_err(|e| {
            let hint = matches!(e, RegistryError::Incompatible { .. }).then(|| {
                format!(
                    "allow it with PUT /config/{subject} {{\"compatibility\": \"NONE\"}} on the embedded registry; capture retries"
                )
            });
            SchemaIdError::new(e.class(), e).with_hint(hint)
        })
    }
}
