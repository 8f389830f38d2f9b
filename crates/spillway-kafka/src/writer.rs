//! The stream writer: produces batches and acknowledges each once the broker has them all.

use crate::config::KafkaOptions;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use spillway_core::{Ack, Record, StreamError, StreamWriter};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// How long an admin request (topic creation, metadata) may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the same librdkafka complaint is logged while it persists.
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(30);

/// librdkafka's callbacks: its errors and warnings go to the log as warnings (the stream's
/// own errors say what failed), each distinct one at most every [`REPEAT_LOG_EVERY`], so an
/// outage does not write a line every half second.
#[derive(Default)]
pub struct QuietContext {
    last: Mutex<HashMap<String, Instant>>,
}

impl QuietContext {
    fn due(&self, what: &str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match last.get(what) {
            Some(t) if now.duration_since(*t) < REPEAT_LOG_EVERY => false,
            _ => {
                last.insert(what.to_string(), now);
                true
            }
        }
    }
}

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                if self.due(fac) {
                    warn!(facility = fac, "kafka client: {message}");
                }
            }
            _ => debug!(facility = fac, "kafka client: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let what = error.to_string();
        if self.due(&what) {
            warn!(%error, "kafka client: {reason}");
        }
    }
}

/// The consumer of [`KafkaReader`](crate::KafkaReader) keeps librdkafka's default
/// rebalance and commit handling (it assigns partitions itself).
impl rdkafka::consumer::ConsumerContext for QuietContext {}

/// Writes records to Kafka topics.
pub struct KafkaWriter {
    producer: FutureProducer<QuietContext>,
    admin: AdminClient<QuietContext>,
    options: KafkaOptions,
    /// Topics known to exist.
    topics: HashSet<Arc<str>>,
    /// Batches handed to the producer whose acknowledgement is still outstanding.
    in_flight: Vec<JoinHandle<()>>,
}

impl KafkaWriter {
    /// Creates the producer and admin client (no connection is made before the first use).
    pub fn new(options: KafkaOptions) -> Result<KafkaWriter, StreamError> {
        let mut config = ClientConfig::new();
        for (k, v) in &options.producer {
            config.set(k, v);
        }
        // With topic.creation.enable=false a missing topic is an error: the producer's
        // metadata requests must not make a broker create it on the side.
        if !options.create_topics && !options.producer.contains_key("allow.auto.create.topics") {
            config.set("allow.auto.create.topics", "false");
        }
        let producer: FutureProducer<QuietContext> = config
            .create_with_context(QuietContext::default())
            .map_err(|e| StreamError::Rejected(format!("cannot create the Kafka producer: {e}")))?;
        let mut admin_config = ClientConfig::new();
        for (k, v) in &options.producer {
            // The admin client takes the connection settings, not the producer's own.
            if k == "bootstrap.servers"
                || k.starts_with("security.")
                || k.starts_with("sasl.")
                || k.starts_with("ssl.")
                || k == "client.id"
            {
                admin_config.set(k, v);
            }
        }
        let admin: AdminClient<QuietContext> = admin_config
            .create_with_context(QuietContext::default())
            .map_err(|e| {
                StreamError::Rejected(format!("cannot create the Kafka admin client: {e}"))
            })?;
        info!(servers = %options.servers(), "writing to Kafka");
        Ok(KafkaWriter {
            producer,
            admin,
            options,
            topics: HashSet::new(),
            in_flight: Vec::new(),
        })
    }

    /// Makes sure `topic` exists, creating it when allowed.
    async fn ensure_topic(&mut self, topic: &Arc<str>) -> Result<(), StreamError> {
        if self.topics.contains(topic) {
            return Ok(());
        }
        if self.options.create_topics {
            let group = self.options.creation.group_for(topic);
            let configs: Vec<(&str, &str)> = group
                .configs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            create_topic(
                &self.admin,
                self.producer.client(),
                topic,
                group
                    .partitions
                    .map_or(self.options.partitions, |p| p as i32),
                group
                    .replication_factor
                    .map_or(self.options.replication_factor, |r| r as i32),
                &configs,
            )
            .await?;
        } else if !exists(self.producer.client(), topic).await? {
            return Err(StreamError::Rejected(format!(
                "topic {topic} does not exist and topic.creation.enable is false; create it or allow creation"
            )));
        }
        self.topics.insert(topic.clone());
        Ok(())
    }
}

/// Creates `topic` unless it exists; a refusal is an error only when the topic is absent.
pub(crate) async fn create_topic<C: ClientContext>(
    admin: &AdminClient<QuietContext>,
    client: &Client<C>,
    topic: &str,
    partitions: i32,
    replication_factor: i32,
    configs: &[(&str, &str)],
) -> Result<(), StreamError> {
    let replication = TopicReplication::Fixed(if replication_factor < 1 {
        -1
    } else {
        replication_factor
    });
    let mut new = NewTopic::new(topic, partitions, replication);
    for (k, v) in configs {
        new = new.set(k, v);
    }
    let result = admin
        .create_topics(
            &[new],
            &AdminOptions::new()
                .operation_timeout(Some(ADMIN_TIMEOUT))
                .request_timeout(Some(ADMIN_TIMEOUT)),
        )
        .await
        .map_err(|e| StreamError::Unavailable(format!("cannot create topic {topic}: {e}")))?;
    for r in result {
        match r {
            Ok(_) => info!(topic = %topic, partitions, "created Kafka topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                debug!(topic = %topic, "topic exists")
            }
            Err((_, code)) => {
                if !exists(client, topic).await? {
                    let message =
                        format!("topic {topic} does not exist and cannot be created: {code}");
                    return Err(if refusal(code) {
                        StreamError::Rejected(message)
                    } else {
                        StreamError::Unavailable(message)
                    });
                }
            }
        }
    }
    Ok(())
}

/// Whether the brokers know `topic`.
pub(crate) async fn exists<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
) -> Result<bool, StreamError> {
    spillway_core::blocking::run_blocking(|| {
        client
            .fetch_metadata(Some(topic), ADMIN_TIMEOUT)
            .map(|m| {
                m.topics()
                    .iter()
                    .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            })
            .map_err(|e| {
                StreamError::Unavailable(format!("cannot read the metadata of topic {topic}: {e}"))
            })
    })
}

/// Whether the brokers refused on purpose (what retrying will not change), rather than
/// being unreachable or busy.
fn refusal(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::PolicyViolation
            | C::InvalidReplicationFactor
            | C::InvalidPartitions
            | C::InvalidConfig
            | C::InvalidTopic
            | C::InvalidRequest
            | C::UnsupportedVersion
    )
}

impl StreamWriter for KafkaWriter {
    async fn send(&mut self, batch: Vec<Record>, ack: Ack) -> Result<(), StreamError> {
        for record in &batch {
            if !self.topics.contains(&record.topic) {
                let topic = record.topic.clone();
                self.ensure_topic(&topic).await?;
            }
        }
        let mut deliveries = Vec::with_capacity(batch.len());
        for record in &batch {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for h in &record.headers {
                headers = headers.insert(Header {
                    key: &h.key,
                    value: h.value.as_deref(),
                });
            }
            let mut message: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&record.topic)
                .timestamp(record.timestamp_ms)
                .headers(headers);
            if let Some(key) = &record.key {
                message = message.key(key.as_slice());
            }
            if let Some(value) = &record.value {
                message = message.payload(value.as_slice());
            }
            loop {
                match self.producer.send_result(message) {
                    Ok(delivery) => {
                        deliveries.push(delivery);
                        break;
                    }
                    // The producer's queue is full: wait for deliveries to drain it.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        message = back;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err((e, _)) => {
                        return Err(StreamError::Rejected(format!(
                            "cannot produce to topic {}: {e}",
                            record.topic
                        )))
                    }
                }
            }
        }
        self.in_flight.retain(|h| !h.is_finished());
        self.in_flight.push(tokio::spawn(async move {
            let mut result = Ok(());
            for delivery in deliveries {
                match delivery.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((e, _))) => {
                        result = Err(StreamError::Unavailable(format!(
                            "Kafka delivery failed: {e}"
                        )))
                    }
                    Err(_) => {
                        result = Err(StreamError::Unavailable(
                            "the Kafka producer dropped a delivery".to_string(),
                        ))
                    }
                }
            }
            ack.resolve(result);
        }));
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StreamError> {
        for handle in self.in_flight.drain(..) {
            handle.await.map_err(|_| StreamError::Closed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spillway_core::ConfigMap;

    #[test]
    fn the_seeds_api_key_gives_a_sasl_ssl_producer() {
        // Creating the clients validates the settings (TLS and SASL/PLAIN are built in);
        // nothing connects before the first record.
        let config = ConfigMap::from_pairs([
            ("kafka.bootstrap.servers", "127.0.0.1:1"),
            ("kafka.api.key", "key"),
            ("kafka.api.secret", "secret"),
        ]);
        let options = KafkaOptions::from_config(&config).unwrap().unwrap();
        assert!(KafkaWriter::new(options).is_ok());
        let config = ConfigMap::from_pairs([
            ("kafka.bootstrap.servers", "127.0.0.1:1"),
            ("kafka.no.such.setting", "1"),
        ]);
        let options = KafkaOptions::from_config(&config).unwrap().unwrap();
        let err = KafkaWriter::new(options).err().unwrap();
        assert!(err.to_string().contains("no.such.setting"), "{err}");
    }
}
