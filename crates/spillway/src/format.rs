//! Record formats from the connector config: Confluent's `output.data.format` /
//! `output.key.format`, or Kafka Connect's `key.converter` / `value.converter` with their
//! `*.schemas.enable`, `*.schema.registry.url` and subject-name-strategy settings.
//!
//! Avro needs a schema registry: `schema.registry.url` names a remote one; without it the
//! embedded registry in the data directory is used and served over HTTP at
//! `schema.registry.embedded.listen` (default 127.0.0.1:8081).

use anyhow::Context;
use spillway_core::config::{ConfigError, ConfigMap, Secret};
use spillway_core::pipeline::{EncodeError, EventEncoder};
use spillway_core::{ChangeEvent, Heartbeat, Row, StructRecord, TableSchema};
use spillway_formats::json::DEFAULT_UNAVAILABLE_PLACEHOLDER;
use spillway_formats::{AvroEncoder, AvroOptions, JsonEncoder, JsonOptions, SubjectNameStrategy};
use spillway_registry::{EmbeddedIds, Registry, RemoteRegistry, RemoteRegistryOptions};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

const EMBEDDED_AUTH: &str = "schema.registry.embedded.basic.auth.user.info";
const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
const AVRO_CONVERTER: &str = "io.confluent.connect.avro.AvroConverter";

/// How one side (key or value) of every record is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Json { schemas: bool },
    Avro,
}

/// Where Avro schemas are registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrySpec {
    /// The registry in the data directory, served at this address, with basic auth when
    /// `user_info` is set.
    Embedded {
        listen: SocketAddr,
        user_info: Option<Secret>,
    },
    Remote(RemoteRegistryOptions),
}

/// The formats a connector writes.
#[derive(Clone, Debug)]
pub struct FormatSpec {
    pub key: Side,
    pub value: Side,
    pub unavailable_placeholder: String,
    pub avro: AvroOptions,
    /// Set when a side is Avro.
    pub registry: Option<RegistrySpec>,
}

impl FormatSpec {
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConfigError> {
        let value = side(config, "value", &["output.data.format"])?;
        let key = side(config, "key", &["output.key.format", "output.data.format"])?;
        let unavailable_placeholder = config
            .lookup(&["unavailable.value.placeholder"])
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| DEFAULT_UNAVAILABLE_PLACEHOLDER.to_string());
        let strategy = |keys: &[&str]| match config.lookup(keys) {
            None => Ok(SubjectNameStrategy::Topic),
            Some((key, class)) => SubjectNameStrategy::from_class(class).ok_or_else(|| {
                ConfigError::invalid(
                    key,
                    class,
                    "expected TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy",
                )
            }),
        };
        let avro = AvroOptions {
            key_subjects: strategy(&[
                "key.converter.key.subject.name.strategy",
                "key.subject.name.strategy",
            ])?,
            value_subjects: strategy(&[
                "value.converter.value.subject.name.strategy",
                "value.subject.name.strategy",
            ])?,
            unavailable_placeholder: unavailable_placeholder.clone(),
        };
        let uses_registry = key == Side::Avro || value == Side::Avro;
        let urls = config.lookup(&[
            "schema.registry.url",
            "value.converter.schema.registry.url",
            "key.converter.schema.registry.url",
        ]);
        let listen = config.lookup(&["schema.registry.embedded.listen"]);
        let registry = match (uses_registry, urls) {
            (false, _) => {
                config.accept(&[
                    "schema.registry.basic.auth.user.info",
                    "value.converter.basic.auth.user.info",
                    "key.converter.basic.auth.user.info",
                    "basic.auth.credentials.source",
                    "value.converter.basic.auth.credentials.source",
                    "key.converter.basic.auth.credentials.source",
                ]);
                None
            }
            (true, Some((key, urls))) => {
                if let Some((listen_key, _)) = listen {
                    return Err(ConfigError::invalid(
                        listen_key,
                        listen.map(|l| l.1).unwrap_or_default(),
                        format!("the embedded registry is not used when {key} is set"),
                    ));
                }
                Some(RegistrySpec::Remote(remote_options(config, key, urls)?))
            }
            (true, None) => {
                let text = listen.map_or(spillway_registry::DEFAULT_LISTEN, |l| l.1);
                let listen: SocketAddr = text.trim().parse().map_err(|_| {
                    ConfigError::invalid(
                        "schema.registry.embedded.listen",
                        text,
                        "expected HOST:PORT with an IP address, such as 127.0.0.1:8081",
                    )
                })?;
                let user_info = config.secret(&[EMBEDDED_AUTH]);
                if !crate::api::may_listen(listen, user_info.is_some()) {
                    return Err(ConfigError::invalid(
                        "schema.registry.embedded.listen",
                        text,
                        format!("serving the registry beyond this machine needs {EMBEDDED_AUTH} (user:password)"),
                    ));
                }
                Some(RegistrySpec::Embedded { listen, user_info })
            }
        };
        Ok(FormatSpec {
            key,
            value,
            unavailable_placeholder,
            avro,
            registry,
        })
    }

    /// The encoder for these formats; `registry` is the embedded one when that is used.
    pub fn encoder(&self, registry: Option<&Arc<Registry>>) -> Box<dyn EventEncoder> {
        let side_encoder = |side: Side| -> Box<dyn EventEncoder> {
            match side {
                Side::Json { schemas } => Box::new(JsonEncoder::new(JsonOptions {
                    key_schemas: schemas,
                    value_schemas: schemas,
                    unavailable_placeholder: self.unavailable_placeholder.clone(),
                })),
                Side::Avro => {
                    let ids: Box<dyn spillway_formats::SchemaIds> = match (&self.registry, registry)
                    {
                        (Some(RegistrySpec::Remote(options)), _) => {
                            Box::new(RemoteRegistry::new(options.clone()))
                        }
                        (_, Some(registry)) => Box::new(EmbeddedIds(registry.clone())),
                        (_, None) => unreachable!("an Avro format always has a registry"),
                    };
                    Box::new(AvroEncoder::new(self.avro.clone(), ids))
                }
            }
        };
        if self.key == self.value {
            return side_encoder(self.key);
        }
        Box::new(SplitEncoder {
            key: side_encoder(self.key),
            value: side_encoder(self.value),
        })
    }

    /// Opens the embedded registry when this format uses it.
    pub fn open_registry(&self, data_dir: &Path) -> anyhow::Result<Option<Arc<Registry>>> {
        match &self.registry {
            Some(RegistrySpec::Embedded { .. }) => {
                let dir = data_dir.join("registry");
                let registry = Registry::open(&dir).with_context(|| {
                    format!("cannot open the schema registry in {}", dir.display())
                })?;
                Ok(Some(Arc::new(registry)))
            }
            _ => Ok(None),
        }
    }
}

/// One side's format: the converter class when given, else Confluent's format key.
fn side(config: &ConfigMap, which: &str, format_keys: &[&str]) -> Result<Side, ConfigError> {
    let converter_key = format!("{which}.converter");
    let schemas_key = format!("{which}.converter.schemas.enable");
    if let Some(class) = config.string(&[&converter_key]) {
        return match class.as_str() {
            JSON_CONVERTER => Ok(Side::Json {
                schemas: config.bool(&[&schemas_key], true)?,
            }),
            AVRO_CONVERTER => Ok(Side::Avro),
            _ => Err(ConfigError::invalid(
                &converter_key,
                &class,
                format!("available converters: {JSON_CONVERTER}, {AVRO_CONVERTER}"),
            )),
        };
    }
    let format = config.lookup(format_keys);
    let schemaless = match format {
        None => false,
        Some((_, f)) if f.trim().eq_ignore_ascii_case("JSON") => true,
        Some((_, f)) if f.trim().eq_ignore_ascii_case("AVRO") => return Ok(Side::Avro),
        Some((key, f)) if f.trim().eq_ignore_ascii_case("JSON_SR") => return Err(ConfigError::invalid(
            key,
            f,
            "JSON_SR (JSON Schema in a schema registry) is not available yet; use AVRO, or leave the key unset for JSON with embedded schemas (value.converter.schemas.enable)",
        )),
        Some((key, f)) => return Err(ConfigError::invalid(
            key,
            f,
            "available formats: AVRO, and JSON (schemaless); unset, JSON with embedded schemas",
        )),
    };
    Ok(Side::Json {
        schemas: config.bool(&[&schemas_key], !schemaless)?,
    })
}

fn remote_options(
    config: &ConfigMap,
    url_key: &str,
    urls: &str,
) -> Result<RemoteRegistryOptions, ConfigError> {
    let mut user_info = config
        .secret(&[
            "schema.registry.basic.auth.user.info",
            "value.converter.basic.auth.user.info",
            "key.converter.basic.auth.user.info",
        ])
        .map(|s| s.expose().to_string());
    let source = config
        .lookup(&[
            "basic.auth.credentials.source",
            "value.converter.basic.auth.credentials.source",
            "key.converter.basic.auth.credentials.source",
        ])
        .map(|(k, v)| (k.to_string(), v.trim().to_ascii_uppercase()));
    let mut list = Vec::new();
    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(ConfigError::invalid(
                url_key,
                urls,
                "expected http://HOST:PORT or https://HOST:PORT",
            ));
        };
        if scheme != "http" && scheme != "https" {
            return Err(ConfigError::invalid(
                url_key,
                urls,
                "expected http://HOST:PORT or https://HOST:PORT",
            ));
        }
        // Credentials in the URL (`basic.auth.credentials.source=URL`).
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rsplit_once('@') {
            Some((info, host)) => {
                user_info.get_or_insert_with(|| info.to_string());
                list.push(format!("{scheme}://{host}{}", &rest[authority_end..]));
            }
            None => list.push(url.to_string()),
        }
    }
    if list.is_empty() {
        return Err(ConfigError::invalid(url_key, urls, "no URL given"));
    }
    if let Some((key, source)) = source {
        if source != "USER_INFO" && source != "URL" {
            return Err(ConfigError::invalid(
                &key,
                &source,
                "supported: USER_INFO (basic.auth.user.info) and URL (user:password@ in the URL)",
            ));
        }
    }
    Ok(RemoteRegistryOptions {
        urls: list,
        user_info,
        ..RemoteRegistryOptions::default()
    })
}

/// Keys in one format and values in another.
struct SplitEncoder {
    key: Box<dyn EventEncoder>,
    value: Box<dyn EventEncoder>,
}

impl EventEncoder for SplitEncoder {
    fn key(&mut self, table: &TableSchema, row: &Row) -> Result<Option<Vec<u8>>, EncodeError> {
        self.key.key(table, row)
    }

    fn value(&mut self, event: &ChangeEvent) -> Result<Vec<u8>, EncodeError> {
        self.value.value(event)
    }

    fn key_header(&mut self, table: &TableSchema, row: &Row) -> Result<Vec<u8>, EncodeError> {
        self.key.key_header(table, row)
    }

    fn heartbeat(&mut self, heartbeat: &Heartbeat) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        let (key, _) = self.key.heartbeat(heartbeat)?;
        let (_, value) = self.value.heartbeat(heartbeat)?;
        Ok((key, value))
    }

    fn struct_record(&mut self, record: &StructRecord) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        let (key, _) = self.key.struct_record(record)?;
        let (_, value) = self.value.struct_record(record)?;
        Ok((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pairs: &[(&str, &str)]) -> Result<FormatSpec, ConfigError> {
        FormatSpec::from_config(&ConfigMap::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn formats_follow_confluent_keys_and_converters() {
        let s = spec(&[]).unwrap();
        assert_eq!(s.value, Side::Json { schemas: true });
        assert!(s.registry.is_none());
        let s = spec(&[("output.data.format", "JSON")]).unwrap();
        assert_eq!(s.key, Side::Json { schemas: false });
        let s = spec(&[("output.data.format", "AVRO")]).unwrap();
        assert_eq!((s.key, s.value), (Side::Avro, Side::Avro));
        assert_eq!(
            s.registry,
            Some(RegistrySpec::Embedded {
                listen: "127.0.0.1:8081".parse().unwrap(),
                user_info: None,
            })
        );
        let s = spec(&[
            ("output.data.format", "AVRO"),
            ("output.key.format", "JSON"),
        ])
        .unwrap();
        assert_eq!(
            (s.key, s.value),
            (Side::Json { schemas: false }, Side::Avro)
        );
        let s = spec(&[
            ("value.converter", AVRO_CONVERTER),
            ("value.converter.schema.registry.url", "http://u:p@reg:8081"),
            (
                "value.converter.value.subject.name.strategy",
                "io.confluent.kafka.serializers.subject.RecordNameStrategy",
            ),
        ])
        .unwrap();
        assert_eq!(s.value, Side::Avro);
        assert_eq!(s.key, Side::Json { schemas: true });
        assert_eq!(s.avro.value_subjects, SubjectNameStrategy::Record);
        match s.registry {
            Some(RegistrySpec::Remote(o)) => {
                assert_eq!(o.urls, vec!["http://reg:8081".to_string()]);
                assert_eq!(o.user_info.as_deref(), Some("u:p"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_format_settings_name_their_key() {
        let key_of =
            |pairs: &[(&str, &str)]| spec(pairs).err().and_then(|e| e.key().map(str::to_string));
        assert_eq!(
            key_of(&[("output.data.format", "PROTOBUF")]).as_deref(),
            Some("output.data.format")
        );
        assert_eq!(
            key_of(&[("output.key.format", "JSON_SR")]).as_deref(),
            Some("output.key.format")
        );
        assert_eq!(
            key_of(&[("value.converter", "x.Y")]).as_deref(),
            Some("value.converter")
        );
        assert_eq!(
            key_of(&[
                ("output.data.format", "AVRO"),
                ("schema.registry.url", "reg:8081")
            ])
            .as_deref(),
            Some("schema.registry.url")
        );
        assert_eq!(
            key_of(&[
                ("output.data.format", "AVRO"),
                ("schema.registry.embedded.listen", "localhost")
            ])
            .as_deref(),
            Some("schema.registry.embedded.listen")
        );
        assert_eq!(
            key_of(&[
                ("output.data.format", "AVRO"),
                ("schema.registry.embedded.listen", "0.0.0.0:8081")
            ])
            .as_deref(),
            Some("schema.registry.embedded.listen")
        );
        assert_eq!(
            key_of(&[
                ("output.data.format", "AVRO"),
                ("value.converter.value.subject.name.strategy", "Nope")
            ])
            .as_deref(),
            Some("value.converter.value.subject.name.strategy")
        );
    }
}
