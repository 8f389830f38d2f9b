//! The connector keys of the Kafka stream.

use spillway_core::topic_creation::TopicCreation;
use spillway_core::{ConfigError, ConfigMap};
use std::collections::BTreeMap;

/// Producer settings spillway applies unless the config sets them (`kafka.<setting>`).
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("compression.type", "lz4"),
    ("linger.ms", "5"),
    ("batch.num.messages", "10000"),
    // Java's default partitioner: murmur2 of the key (random for records without one), so
    // Kafka Streams and ksqlDB co-partition with these topics.
    ("partitioner", "murmur2_random"),
];

/// The codecs the producer compresses batches with (librdkafka is built with all of them).
const COMPRESSION_CODECS: &[&str] = &["none", "gzip", "snappy", "lz4", "zstd"];

/// How to reach the brokers and create topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaOptions {
    /// librdkafka producer properties (`bootstrap.servers` included).
    pub producer: BTreeMap<String, String>,
    /// `topic.creation.enable`: create missing topics (Kafka Connect's key).
    pub create_topics: bool,
    /// `topic.creation.default.partitions`.
    pub partitions: i32,
    /// `topic.creation.default.replication.factor` (-1: the broker's default).
    pub replication_factor: i32,
    /// `topic.creation.groups` and `topic.creation.<group>.*`: each topic's group sets its
    /// partitions, replication factor and topic configs (`cleanup.policy`, `retention.ms`,
    /// ...), passed to Kafka as they are.
    pub creation: TopicCreation,
    /// `offset.storage.topic`: the compacted topic committed offsets go to.
    pub offset_topic: String,
    /// `offset.storage.partitions`.
    pub offset_partitions: i32,
    /// `offset.storage.replication.factor` (-1: the broker's default).
    pub offset_replication_factor: i32,
}

impl KafkaOptions {
    /// The Kafka stream's options, or `None` when `kafka.bootstrap.servers` is not set (the
    /// embedded log is the stream then).
    pub fn from_config(config: &ConfigMap) -> Result<Option<KafkaOptions>, ConfigError> {
        let Some(servers) = config.string(&["kafka.bootstrap.servers"]) else {
            return Ok(None);
        };
        if servers.trim().is_empty() {
            return Err(ConfigError::invalid(
                "kafka.bootstrap.servers",
                &servers,
                "give at least one host:port",
            ));
        }
        let mut producer: BTreeMap<String, String> = PRODUCER_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (key, value) in config.entries() {
            if let Some(setting) = key.strip_prefix("kafka.") {
                if matches!(setting, "api.key" | "api.secret") {
                    continue;
                }
                producer.insert(setting.to_string(), value.clone());
            }
        }
        config.accept_prefix("kafka.");
        for key in ["compression.type", "compression.codec"] {
            if let Some(codec) = producer.get(key) {
                if !COMPRESSION_CODECS.contains(&codec.as_str()) {
                    return Err(ConfigError::invalid(
                        &format!("kafka.{key}"),
                        codec,
                        format!("one of {}", COMPRESSION_CODECS.join(", ")),
                    ));
                }
            }
        }
        // The seed's form: an API key and secret are SASL/PLAIN credentials over TLS.
        if let Some(key) = config.secret(&["kafka.api.key"]) {
            let secret = config.secret(&["kafka.api.secret"]).ok_or_else(|| {
                ConfigError::invalid(
                    "kafka.api.secret",
                    "",
                    "kafka.api.key needs kafka.api.secret",
                )
            })?;
            producer
                .entry("security.protocol".into())
                .or_insert_with(|| "SASL_SSL".into());
            producer
                .entry("sasl.mechanism".into())
                .or_insert_with(|| "PLAIN".into());
            producer.insert("sasl.username".into(), key.expose().to_string());
            producer.insert("sasl.password".into(), secret.expose().to_string());
        }
        let partitions = config.u64_in(&["topic.creation.default.partitions"], 1, 1, 100_000)?;
        let replication_factor = replication(config, "topic.creation.default.replication.factor")?;
        let offset_topic = config
            .string(&["offset.storage.topic"])
            .unwrap_or_else(|| crate::offsets::DEFAULT_OFFSET_TOPIC.to_string());
        let offset_partitions = config.u64_in(&["offset.storage.partitions"], 1, 1, 10_000)?;
        Ok(Some(KafkaOptions {
            producer,
            create_topics: config.bool(&["topic.creation.enable"], true)?,
            partitions: partitions as i32,
            replication_factor,
            creation: TopicCreation::from_config(config)?,
            offset_topic,
            offset_partitions: offset_partitions as i32,
            offset_replication_factor: replication(config, "offset.storage.replication.factor")?,
        }))
    }

    /// The servers, for messages.
    pub fn servers(&self) -> &str {
        self.producer
            .get("bootstrap.servers")
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// A replication factor: at least 1, or -1 (the default) for the broker's default.
fn replication(config: &ConfigMap, key: &str) -> Result<i32, ConfigError> {
    let text = config.string(&[key]).unwrap_or_else(|| "-1".to_string());
    text.trim()
        .parse()
        .ok()
        .filter(|r: &i32| *r == -1 || *r >= 1)
        .ok_or_else(|| {
            ConfigError::invalid(
                key,
                &text,
                "a replication factor of at least 1, or -1 for the broker's default",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_keys_pass_through_and_api_keys_become_sasl() {
        let config = ConfigMap::from_pairs([
            ("kafka.bootstrap.servers", "b:9092"),
            ("kafka.linger.ms", "20"),
            ("kafka.api.key", "K"),
            ("kafka.api.secret", "S"),
        ]);
        let o = KafkaOptions::from_config(&config).unwrap().unwrap();
        assert_eq!(o.producer["bootstrap.servers"], "b:9092");
        assert_eq!(o.producer["linger.ms"], "20");
        assert_eq!(o.producer["acks"], "all");
        assert_eq!(o.producer["security.protocol"], "SASL_SSL");
        assert_eq!(o.producer["sasl.username"], "K");
        assert!(!o.producer.contains_key("api.key"));
        assert_eq!(o.replication_factor, -1);
        assert!(
            KafkaOptions::from_config(&ConfigMap::from_pairs([("a", "b")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn every_codec_is_taken_and_an_unknown_one_names_the_key() {
        for codec in COMPRESSION_CODECS {
            let config = ConfigMap::from_pairs([
                ("kafka.bootstrap.servers", "b:9092"),
                ("kafka.compression.type", codec),
            ]);
            let o = KafkaOptions::from_config(&config).unwrap().unwrap();
            assert_eq!(o.producer["compression.type"], *codec);
        }
        let config = ConfigMap::from_pairs([
            ("kafka.bootstrap.servers", "b:9092"),
            ("kafka.compression.type", "brotli"),
        ]);
        let e = KafkaOptions::from_config(&config).unwrap_err().to_string();
        assert!(
            e.contains("kafka.compression.type") && e.contains("zstd"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_replication_factor_names_the_key() {
        let config = ConfigMap::from_pairs([
            ("kafka.bootstrap.servers", "b:9092"),
            ("topic.creation.default.replication.factor", "0"),
        ]);
        let e = KafkaOptions::from_config(&config).unwrap_err();
        assert!(e.to_string().contains("replication.factor"), "{e}");
    }
}
