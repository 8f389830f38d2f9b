//! A source's state logs (the MySQL schema history) in Kafka topics, as Debezium keeps its
//! schema history (`schema.history.internal.kafka.topic`): one partition, kept forever.
//!
//! Each line is a record keyed `entry`; making the lines new (a fresh snapshot, or dropping
//! entries past the resume position) appends one record keyed `reset` holding all the new
//! lines, so a crash leaves either the old lines or the new ones. Every write waits for the
//! brokers' acknowledgement.

use crate::config::KafkaOptions;
use crate::offsets::{block_on, connection_config, read_to_end, TIMEOUT};
use crate::writer::{create_topic, QuietContext};
use rdkafka::admin::AdminClient;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use spillway_core::state::{StateLog, StateStore};
use std::collections::HashMap;

const ENTRY: &[u8] = b"entry";
const RESET: &[u8] = b"reset";

/// State logs in Kafka topics: `topics` names the topic of a log; others go to
/// `<prefix>.<name>`.
#[derive(Debug)]
pub struct KafkaStateStore {
    options: KafkaOptions,
    topics: HashMap<String, String>,
    prefix: String,
}

impl KafkaStateStore {
    pub fn new(options: KafkaOptions, topics: HashMap<String, String>, prefix: String) -> Self {
        KafkaStateStore {
            options,
            topics,
            prefix,
        }
    }
}

impl StateStore for KafkaStateStore {
    fn open(&self, name: &str) -> Result<Box<dyn StateLog>, String> {
        let topic = self
            .topics
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("{}.{name}", self.prefix));
        let mut config = ClientConfig::new();
        for (k, v) in &self.options.producer {
            config.set(k, v);
        }
        config.set("linger.ms", "0");
        let producer: FutureProducer<QuietContext> = config
            .create_with_context(QuietContext::default())
            .map_err(|e| format!("cannot create a producer for Kafka topic {topic}: {e}"))?;
        let admin: AdminClient<QuietContext> = connection_config(&self.options)
            .create_with_context(QuietContext::default())
            .map_err(|e| format!("cannot create an admin client for Kafka topic {topic}: {e}"))?;
        Ok(Box::new(KafkaStateLog {
            options: self.options.clone(),
            topic,
            producer,
            admin,
            ready: false,
        }))
    }
}

struct KafkaStateLog {
    options: KafkaOptions,
    topic: String,
    producer: FutureProducer<QuietContext>,
    admin: AdminClient<QuietContext>,
    ready: bool,
}

impl KafkaStateLog {
    fn ensure_topic(&mut self) -> Result<(), String> {
        if self.ready {
            return Ok(());
        }
        block_on(create_topic(
            &self.admin,
            self.producer.client(),
            &self.topic,
            1,
            self.options.offset_replication_factor,
            &[
                ("cleanup.policy", "delete"),
                ("retention.ms", "-1"),
                ("retention.bytes", "-1"),
            ],
        ))
        .map_err(|e| e.to_string())?;
        self.ready = true;
        Ok(())
    }

    fn send(&mut self, key: &[u8], value: &str) -> Result<(), String> {
        self.ensure_topic()?;
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
            .partition(0)
            .key(key)
            .payload(value.as_bytes());
        block_on(self.producer.send(record, TIMEOUT))
            .map(|_| ())
            .map_err(|(e, _)| format!("cannot write: {e}"))
    }
}

impl StateLog for KafkaStateLog {
    fn describe(&self) -> String {
        format!("Kafka topic {}", self.topic)
    }

    fn read(&mut self) -> Result<Vec<String>, String> {
        self.ensure_topic()?;
        let mut lines = Vec::new();
        for (key, value) in read_to_end(&self.options, &self.topic)? {
            match key.as_deref() {
                Some(RESET) => {
                    let text = String::from_utf8(value.unwrap_or_default())
                        .map_err(|e| format!("a record is not UTF-8: {e}"))?;
                    lines = text.lines().map(str::to_string).collect();
                }
                Some(ENTRY) => lines.push(
                    String::from_utf8(value.unwrap_or_default())
                        .map_err(|e| format!("a record is not UTF-8: {e}"))?,
                ),
                _ => return Err("a record not written by spillway is in the topic".to_string()),
            }
        }
        Ok(lines)
    }

    fn append(&mut self, line: &str) -> Result<(), String> {
        self.send(ENTRY, line)
    }

    fn replace(&mut self, lines: &[String]) -> Result<(), String> {
        self.send(RESET, &lines.join("\n"))
    }
}
