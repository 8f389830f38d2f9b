//! A connector's committed offset in a compacted Kafka topic, as Kafka Connect keeps source
//! offsets (`offset.storage.topic`), so a worker on another machine can take over.
//!
//! Each commit is one record keyed like Kafka Connect's, `["<connector>",{"server":"<prefix>"}]`,
//! whose value is the offset as JSON; the last record of a key is the committed offset. A
//! commit returns only once the brokers have acknowledged it (`acks=all`, idempotent).

use crate::config::KafkaOptions;
use crate::writer::{create_topic, QuietContext};
use rdkafka::admin::AdminClient;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset as KafkaOffset, TopicPartitionList};
use spillway_core::blocking::run_blocking;
use spillway_core::{Offset, OffsetStore, OffsetStoreError};
use std::time::{Duration, Instant};
use tracing::info;

/// Default of `offset.storage.topic`.
pub const DEFAULT_OFFSET_TOPIC: &str = "spillway-offsets";
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// Offsets kept in a Kafka topic.
pub struct KafkaOffsetStore {
    options: KafkaOptions,
    topic: String,
    key: Vec<u8>,
    producer: FutureProducer<QuietContext>,
    admin: AdminClient<QuietContext>,
    current: Option<Offset>,
    /// A store to take the offset from when the topic holds none (a connector that kept
    /// its offsets in a file before).
    previous: Option<Box<dyn OffsetStore>>,
    topic_ready: bool,
}

impl KafkaOffsetStore {
    /// The store of `connector` (whose events have `server` as their logical name) in the
    /// topic `offset.storage.topic` names.
    pub fn new(
        options: KafkaOptions,
        connector: &str,
        server: &str,
        previous: Option<Box<dyn OffsetStore>>,
    ) -> Result<Self, OffsetStoreError> {
        let topic = options.offset_topic.clone();
        let key = serde_json::to_vec(&serde_json::json!([connector, {"server": server}]))
            .expect("a JSON key");
        let mut config = ClientConfig::new();
        for (k, v) in &options.producer {
            config.set(k, v);
        }
        config.set("linger.ms", "0");
        let producer: FutureProducer<QuietContext> = config
            .create_with_context(QuietContext::default())
            .map_err(|e| error(&topic, "create a producer for", e.to_string()))?;
        let admin: AdminClient<QuietContext> = connection_config(&options)
            .create_with_context(QuietContext::default())
            .map_err(|e| error(&topic, "create an admin client for", e.to_string()))?;
        Ok(KafkaOffsetStore {
            options,
            topic,
            key,
            producer,
            admin,
            current: None,
            previous,
            topic_ready: false,
        })
    }

    /// The topic the offsets are in.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    fn ensure_topic(&mut self) -> Result<(), OffsetStoreError> {
        if self.topic_ready {
            return Ok(());
        }
        let future = create_topic(
            &self.admin,
            self.producer.client(),
            &self.topic,
            self.options.offset_partitions,
            self.options.offset_replication_factor,
            &[("cleanup.policy", "compact")],
        );
        block_on(future).map_err(|e| error(&self.topic, "create the topic for", e.to_string()))?;
        self.topic_ready = true;
        Ok(())
    }

    /// The last value of this connector's key in the topic.
    fn read_last(&self) -> Result<Option<Vec<u8>>, OffsetStoreError> {
        let records =
            read_to_end(&self.options, &self.topic).map_err(|e| error(&self.topic, "read", e))?;
        Ok(records
            .into_iter()
            .rfind(|(key, _)| key.as_deref() == Some(self.key.as_slice()))
            .and_then(|(_, value)| value))
    }
}

/// A record's key and value.
pub(crate) type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record of `topic` as (key, value), partition by partition in offset order, read to
/// the end. (A broker's high watermark may lag what it hands out, so reading goes on until
/// nothing more arrives for a moment.)
pub(crate) fn read_to_end(options: &KafkaOptions, topic: &str) -> Result<Vec<KeyValue>, String> {
    let consumer: BaseConsumer = connection_config(options)
        .set("group.id", format!("spillway-state-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "20")
        .create()
        .map_err(|e| format!("cannot create a consumer: {e}"))?;
    run_blocking(|| {
        let metadata = consumer
            .fetch_metadata(Some(topic), TIMEOUT)
            .map_err(|e| format!("cannot read the metadata: {e}"))?;
        let mut ends = Vec::new();
        for t in metadata.topics().iter().filter(|t| t.name() == topic) {
            for p in t.partitions() {
                let (low, high) = consumer
                    .fetch_watermarks(topic, p.id(), TIMEOUT)
                    .map_err(|e| format!("cannot read the watermarks: {e}"))?;
                if high > low {
                    ends.push((p.id(), low, high));
                }
            }
        }
        let mut out = Vec::new();
        // One partition at a time, so the records come in offset order per partition.
        for (partition, low, high) in ends {
            let mut list = TopicPartitionList::new();
            list.add_partition_offset(topic, partition, KafkaOffset::Offset(low))
                .map_err(|e| e.to_string())?;
            consumer.assign(&list).map_err(|e| e.to_string())?;
            let deadline = Instant::now() + TIMEOUT;
            let mut next = low;
            loop {
                let wait = if next < high { 200 } else { 250 };
                match consumer.poll(Duration::from_millis(wait)) {
                    None if next >= high => break,
                    None => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    Some(Ok(m)) if m.partition() == partition && m.offset() >= next => {
                        next = m.offset() + 1;
                        out.push((m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
                    }
                    Some(Ok(_)) => {}
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "reading partition {partition} stalled at offset {next} of {high}"
                    ));
                }
            }
        }
        Ok(out)
    })
}

/// The settings that reach the cluster (servers, security), without the producer's own.
pub(crate) fn connection_config(options: &KafkaOptions) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in &options.producer {
        if k == "bootstrap.servers"
            || k.starts_with("security.")
            || k.starts_with("sasl.")
            || k.starts_with("ssl.")
            || k == "client.id"
        {
            config.set(k, v);
        }
    }
    config
}

fn error(topic: &str, action: &'static str, detail: String) -> OffsetStoreError {
    OffsetStoreError::Io {
        action,
        path: format!("Kafka topic {topic}"),
        source: std::io::Error::other(detail),
    }
}

/// Waits for `future` from synchronous code that may run inside the runtime.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => run_blocking(|| handle.block_on(future)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future),
    }
}

impl OffsetStore for KafkaOffsetStore {
    fn load(&mut self) -> Result<Option<Offset>, OffsetStoreError> {
        self.ensure_topic()?;
        let stored = match self.read_last()? {
            Some(bytes) => Some(serde_json::from_slice::<Offset>(&bytes).map_err(|e| {
                OffsetStoreError::Corrupt {
                    path: format!("Kafka topic {}", self.topic),
                    detail: e.to_string(),
                }
            })?),
            None => None,
        };
        self.current = match (stored, self.previous.as_mut()) {
            (Some(offset), _) => Some(offset),
            (None, Some(previous)) => {
                let offset = previous.load()?;
                if let Some(o) = &offset {
                    info!(topic = %self.topic, position = %o.position, "no offset in Kafka yet; taking the one stored locally");
                }
                offset
            }
            (None, None) => None,
        };
        Ok(self.current.clone())
    }

    fn commit(&mut self, offset: &Offset) -> Result<(), OffsetStoreError> {
        if self
            .current
            .as_ref()
            .is_some_and(|c| offset.position < c.position)
        {
            return Ok(());
        }
        self.ensure_topic()?;
        let value = serde_json::to_vec(offset).expect("offsets serialize");
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
            .key(self.key.as_slice())
            .payload(value.as_slice());
        block_on(self.producer.send(record, TIMEOUT))
            .map_err(|(e, _)| error(&self.topic, "commit", e.to_string()))?;
        self.current = Some(offset.clone());
        Ok(())
    }

    /// A record with the offset, or a tombstone for the key (compaction then drops the
    /// key); the store it took over from is replaced too, so a removed offset does not
    /// come back from there.
    fn replace(&mut self, offset: Option<&Offset>) -> Result<(), OffsetStoreError> {
        self.ensure_topic()?;
        let value = offset.map(|o| serde_json::to_vec(o).expect("offsets serialize"));
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).key(self.key.as_slice());
        if let Some(value) = &value {
            record = record.payload(value.as_slice());
        }
        block_on(self.producer.send(record, TIMEOUT)).map_err(|(e, _)| {
            error(
                &self.topic,
                if offset.is_some() { "alter" } else { "reset" },
                e.to_string(),
            )
        })?;
        if let Some(previous) = self.previous.as_mut() {
            previous.replace(offset)?;
        }
        self.current = offset.cloned();
        Ok(())
    }
}
