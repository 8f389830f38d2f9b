//! Consuming the log: [`LogConsumer`] follows assigned partitions from given offsets, also
//! while a writer in another process appends to them.
//!
//! A position below a partition's log start (its records were deleted by retention while
//! the consumer was away) is handled as Kafka's `auto.offset.reset` says ([`OffsetReset`]):
//! by default the consumer warns and goes on from the log start, which for a compacted
//! topic still holds the last record of every key.

use crate::error::LogError;
use crate::reader::LogReader;
use crate::watch::LogWatcher;
use spillway_core::{StreamError, StreamReader, StreamRecord, TopicPartition};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a poll sleeps between looks at an idle log when it cannot watch it.
const IDLE_POLL: Duration = Duration::from_millis(5);

/// What a consumer does when its position is below a partition's log start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OffsetReset {
    /// Warn and read on from the log start (`auto.offset.reset=earliest`).
    #[default]
    Earliest,
    /// Fail the poll with the [`LogError::BelowStart`] (`auto.offset.reset=none`).
    None,
}

/// A [`StreamReader`] over the embedded log in a data directory.
#[derive(Debug)]
pub struct LogConsumer {
    /// What to do below a partition's log start.
    reset: OffsetReset,
    reader: LogReader,
    /// Next offset to read, per assigned partition.
    positions: BTreeMap<TopicPartition, u64>,
    /// Topic names as shared strings, so records do not each allocate one.
    names: BTreeMap<String, Arc<str>>,
    /// The partition the next poll starts with, so one busy partition does not starve the
    /// others.
    next_first: usize,
    data_dir: std::path::PathBuf,
    /// Wakes a waiting poll when the assigned topics change; made by the first poll that
    /// waits (it needs the runtime).
    watcher: Option<LogWatcher>,
}

impl LogConsumer {
    /// A consumer of the log in `data_dir`, with nothing assigned.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, LogError> {
        Ok(LogConsumer {
            reset: OffsetReset::default(),
            reader: LogReader::open(&data_dir)?,
            positions: BTreeMap::new(),
            names: BTreeMap::new(),
            next_first: 0,
            data_dir: data_dir.as_ref().to_path_buf(),
            watcher: None,
        })
    }

    /// Sets what the consumer does when its position is below a partition's log start.
    pub fn with_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.reset = reset;
        self
    }

    /// The watcher of the assigned topics, watching them before the poll reads.
    fn watcher(&mut self) -> &mut LogWatcher {
        let topics: std::collections::BTreeSet<String> =
            self.positions.keys().map(|tp| tp.topic.clone()).collect();
        let data_dir = &self.data_dir;
        let watcher = self.watcher.get_or_insert_with(|| {
            LogWatcher::with_topics(data_dir, IDLE_POLL, Some(topics.clone()))
        });
        watcher.set_topics(Some(topics));
        watcher
    }

    /// One pass over the assigned partitions.
    fn read_available(&mut self, max: usize) -> Result<Vec<StreamRecord>, StreamError> {
        let mut out = Vec::new();
        let assigned: Vec<(TopicPartition, u64)> = self
            .positions
            .iter()
            .map(|(tp, offset)| (tp.clone(), *offset))
            .collect();
        if assigned.is_empty() {
            return Ok(out);
        }
        let first = self.next_first % assigned.len();
        self.next_first = self.next_first.wrapping_add(1);
        for (tp, offset) in assigned[first..].iter().chain(&assigned[..first]) {
            let want = max - out.len();
            if want == 0 {
                break;
            }
            let records = match self.reader.read(&tp.topic, tp.partition, *offset, want) {
                Err(LogError::BelowStart { start, .. }) if self.reset == OffsetReset::Earliest => {
                    tracing::warn!(
                        topic = %tp.topic,
                        partition = tp.partition,
                        offset = *offset,
                        log_start = start,
                        "the position is below the log start (retention deleted the records before it): reading on from the log start"
                    );
                    self.positions.insert(tp.clone(), start);
                    self.reader
                        .read(&tp.topic, tp.partition, start, want)
                        .map_err(|e| StreamError::Rejected(format!("cannot read {tp}: {e}")))?
                }
                other => {
                    other.map_err(|e| StreamError::Rejected(format!("cannot read {tp}: {e}")))?
                }
            };
            let Some(last) = records.last() else {
                continue;
            };
            self.positions.insert(tp.clone(), last.offset + 1);
            let topic = self
                .names
                .entry(tp.topic.clone())
                .or_insert_with(|| Arc::from(tp.topic.as_str()))
                .clone();
            out.extend(records.into_iter().map(|r| StreamRecord {
                topic: topic.clone(),
                partition: tp.partition,
                offset: r.offset,
                key: r.key,
                value: r.value,
                headers: r.headers,
                timestamp_ms: r.timestamp_ms,
            }));
        }
        Ok(out)
    }
}

impl StreamReader for LogConsumer {
    async fn topics(&mut self) -> Result<Vec<(String, u32)>, StreamError> {
        let infos = self
            .reader
            .topics()
            .map_err(|e| StreamError::Rejected(format!("cannot list the log's topics: {e}")))?;
        let mut topics: BTreeMap<String, u32> = BTreeMap::new();
        for info in infos {
            let count = topics.entry(info.topic).or_default();
            *count = (*count).max(info.partition + 1);
        }
        Ok(topics.into_iter().collect())
    }

    fn assign(&mut self, positions: &[(TopicPartition, u64)]) -> Result<(), StreamError> {
        self.positions = positions.iter().cloned().collect();
        Ok(())
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StreamRecord>, StreamError> {
        let deadline = Instant::now() + wait;
        if !wait.is_zero() {
            // Watches first, then the read: a record made durable in between wakes the wait.
            self.watcher();
        }
        loop {
            let records = self.read_available(max.max(1))?;
            if !records.is_empty() || Instant::now() >= deadline {
                return Ok(records);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            self.watcher().wait(left).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LogOptions, LogWriter};
    use spillway_core::{Ack, Record, StreamWriter};

    fn record(topic: &str, key: &str, value: &str) -> Record {
        Record {
            topic: Arc::from(topic),
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.as_bytes().to_vec()),
            headers: Vec::new(),
            timestamp_ms: 7,
        }
    }

    #[tokio::test]
    async fn follows_assigned_partitions_from_their_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let batch: Vec<Record> = (0..5)
            .map(|i| record("a", &format!("k{i}"), &format!("v{i}")))
            .chain([record("b", "x", "y")])
            .collect();
        writer.send(batch, Ack::new(1, tx)).await.unwrap();
        writer.flush().await.unwrap();
        assert!(rx.recv().await.unwrap().result.is_ok());

        let mut consumer = LogConsumer::open(dir.path()).unwrap();
        let topics = consumer.topics().await.unwrap();
        assert_eq!(topics, vec![("a".to_string(), 1), ("b".to_string(), 1)]);
        consumer
            .assign(&[
                (TopicPartition::new("a", 0), 3),
                (TopicPartition::new("b", 0), 0),
            ])
            .unwrap();
        let mut got = consumer.poll(100, Duration::ZERO).await.unwrap();
        got.sort_by(|x, y| (&x.topic, x.offset).cmp(&(&y.topic, y.offset)));
        let seen: Vec<(String, u64, Vec<u8>)> = got
            .iter()
            .map(|r| (r.topic.to_string(), r.offset, r.value.clone().unwrap()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("a".to_string(), 3, b"v3".to_vec()),
                ("a".to_string(), 4, b"v4".to_vec()),
                ("b".to_string(), 0, b"y".to_vec()),
            ]
        );
        // Nothing more: a poll that waits returns empty after its wait.
        let started = Instant::now();
        assert!(consumer
            .poll(100, Duration::from_millis(30))
            .await
            .unwrap()
            .is_empty());
        assert!(started.elapsed() >= Duration::from_millis(30));

        // A record appended later is found by the next poll.
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        writer
            .send(vec![record("a", "k5", "v5")], Ack::new(2, tx))
            .await
            .unwrap();
        writer.flush().await.unwrap();
        let got = consumer.poll(100, Duration::from_secs(5)).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].offset, got[0].value.as_deref()),
            (5, Some(&b"v5"[..]))
        );
    }
}
