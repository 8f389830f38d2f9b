//! The stream reader: a consumer with manually assigned partitions and offsets, for sinks
//! that keep their own position (a projection stores it with the rows it wrote).

use crate::config::KafkaOptions;
use crate::offsets::connection_config;
use crate::writer::QuietContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use spillway_core::{Header, StreamError, StreamReader, StreamRecord, TopicPartition};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info};

/// How long a metadata request may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads Kafka topics from offsets the caller assigns.
///
/// The consumer joins no group rebalance (partitions are assigned, not subscribed); the
/// group id, Kafka Connect's `connect-<connector>` for sinks, is where [`processed`]
/// offsets are committed so that the usual tools show the sink's lag.
///
/// [`processed`]: StreamReader::processed
pub struct KafkaReader {
    consumer: Arc<StreamConsumer<QuietContext>>,
    names: HashMap<String, Arc<str>>,
    assigned: bool,
}

impl KafkaReader {
    /// A consumer of the cluster `options` reaches, in consumer group `group`, with
    /// `overrides` (Kafka Connect's `consumer.override.*`, librdkafka names) on top.
    pub fn new(
        options: &KafkaOptions,
        group: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<KafkaReader, StreamError> {
        let mut config = connection_config(options);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // Kafka Connect's sinks start a partition without a stored offset at its start.
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        for (k, v) in overrides {
            config.set(k, v);
        }
        let consumer: StreamConsumer<QuietContext> = config
            .create_with_context(QuietContext::default())
            .map_err(|e| StreamError::Rejected(format!("cannot create the Kafka consumer: {e}")))?;
        info!(servers = %options.servers(), group, "reading from Kafka");
        Ok(KafkaReader {
            consumer: Arc::new(consumer),
            names: HashMap::new(),
            assigned: false,
        })
    }

    fn record(&mut self, message: &rdkafka::message::BorrowedMessage<'_>) -> StreamRecord {
        let topic = self
            .names
            .entry(message.topic().to_string())
            .or_insert_with(|| Arc::from(message.topic()))
            .clone();
        let headers = message
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| Header {
                        key: h.key.to_string(),
                        value: h.value.map(<[u8]>::to_vec),
                    })
                    .collect()
            })
            .unwrap_or_default();
        StreamRecord {
            topic,
            partition: message.partition().max(0) as u32,
            offset: message.offset().max(0) as u64,
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers,
            timestamp_ms: message.timestamp().to_millis().unwrap_or(0),
        }
    }
}

/// A consumer error: the cluster away or refusing (both worth retrying from the stored
/// offsets; a refusal that persists shows in the message each time).
fn unavailable(action: &str, e: KafkaError) -> StreamError {
    StreamError::Unavailable(format!("{action}: {e}"))
}

impl StreamReader for KafkaReader {
    async fn topics(&mut self) -> Result<Vec<(String, u32)>, StreamError> {
        let consumer = self.consumer.clone();
        let metadata =
            tokio::task::spawn_blocking(move || consumer.fetch_metadata(None, METADATA_TIMEOUT))
                .await
                .map_err(|e| StreamError::Unavailable(format!("metadata request failed: {e}")))?
                .map_err(|e| unavailable("cannot read the cluster's topics", e))?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len() as u32))
            .collect())
    }

    fn assign(&mut self, positions: &[(TopicPartition, u64)]) -> Result<(), StreamError> {
        let mut list = TopicPartitionList::new();
        for (tp, offset) in positions {
            list.add_partition_offset(
                &tp.topic,
                tp.partition as i32,
                Offset::Offset(*offset as i64),
            )
            .map_err(|e| unavailable(&format!("cannot assign {tp}"), e))?;
        }
        self.consumer
            .assign(&list)
            .map_err(|e| unavailable("cannot assign partitions", e))?;
        self.assigned = !positions.is_empty();
        Ok(())
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StreamRecord>, StreamError> {
        let mut out = Vec::new();
        if !self.assigned {
            tokio::time::sleep(wait).await;
            return Ok(out);
        }
        let consumer = self.consumer.clone();
        match tokio::time::timeout(wait, consumer.recv()).await {
            Err(_) => return Ok(out),
            Ok(Err(e)) => return Err(unavailable("cannot read from Kafka", e)),
            Ok(Ok(message)) => out.push(self.record(&message)),
        }
        // Whatever else has arrived, without waiting.
        while out.len() < max {
            match tokio::time::timeout(Duration::ZERO, consumer.recv()).await {
                Ok(Ok(message)) => out.push(self.record(&message)),
                Ok(Err(e)) => return Err(unavailable("cannot read from Kafka", e)),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    fn processed(&mut self, positions: &[(TopicPartition, u64)]) {
        let mut list = TopicPartitionList::new();
        for (tp, offset) in positions {
            if list
                .add_partition_offset(
                    &tp.topic,
                    tp.partition as i32,
                    Offset::Offset(*offset as i64),
                )
                .is_err()
            {
                return;
            }
        }
        if let Err(e) = self.consumer.commit(&list, CommitMode::Async) {
            debug!(error = %e, "cannot commit the consumer group's offsets");
        }
    }
}
