//! Reading a Kafka topic back, as the embedded log is read by `read_topic`.

use super::{RawRec, Rec};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// The broker scripts/setup.sh starts.
pub const BROKER: &str = "127.0.0.1:9092";

/// Every record of `topic` on `broker` (all partitions, partition order then offset order),
/// up to each partition's high watermark at the time of the call, keys and values parsed as
/// JSON; empty if there is no such topic.
pub fn read_kafka_topic(broker: &str, topic: &str) -> Vec<Rec> {
    read_kafka_topic_raw(broker, topic)
        .into_iter()
        .map(|r| Rec {
            partition: r.partition,
            offset: r.offset,
            key: r.key.map(|k| serde_json::from_slice(&k).expect("JSON key")),
            value: r
                .value
                .map(|v| serde_json::from_slice(&v).expect("JSON value")),
            headers: r.headers,
        })
        .collect()
}

/// [`read_kafka_topic`] with keys and values as bytes.
pub fn read_kafka_topic_raw(broker: &str, topic: &str) -> Vec<RawRec> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", format!("spillway-read-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) else {
        return Vec::new();
    };
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Vec::new();
    };
    let partitions: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    let mut out = Vec::new();
    for p in partitions {
        let Ok((low, high)) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)) else {
            continue;
        };
        if high <= low {
            continue;
        }
        // A consumer per partition: one reassigned would still hand out what it fetched
        // for the previous one.
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", broker)
            .set("group.id", format!("spillway-read-{}", std::process::id()))
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, p, Offset::Offset(low))
            .expect("partition");
        consumer.assign(&list).expect("assign");
        // Read up to the high watermark and then until nothing more comes for a second:
        // the broker's watermark may lag what a fetch returns.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut next = low;
        loop {
            assert!(
                Instant::now() < deadline,
                "reading {topic}/{p} stalled at {next} of {high}"
            );
            let wait = if next < high { 200 } else { 1000 };
            let Some(message) = consumer.poll(Duration::from_millis(wait)) else {
                if next >= high {
                    break;
                }
                continue;
            };
            let m = message.expect("a message");
            if m.partition() != p {
                continue;
            }
            next = m.offset() + 1;
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                h.value.map(|v| String::from_utf8_lossy(v).into_owned()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(RawRec {
                partition: p as u32,
                offset: m.offset() as u64,
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers,
            });
        }
    }
    out
}

/// Reads `topic` until it holds at least `n` records or `timeout` passes; returns what is
/// there.
pub fn wait_for_kafka_records(broker: &str, topic: &str, n: usize, timeout: Duration) -> Vec<Rec> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read_kafka_topic(broker, topic);
        if records.len() >= n || Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A broker of this test's own (tansu, in memory) on a free port, killed when dropped.
pub struct Broker {
    child: std::process::Child,
    port: u16,
}

impl Broker {
    /// Starts tansu on `port` and waits until it listens.
    pub fn start(port: u16) -> Broker {
        let tansu = which_tansu();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = std::process::Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tansu");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, port }
    }

    /// `127.0.0.1:port`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tansu binary scripts/setup.sh installs.
pub fn which_tansu() -> std::path::PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([
            std::env::var_os("SPILLWAY_CACHE")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::PathBuf::from(&home).join(".cache/spillway"))
                .join("tansu"),
            std::path::PathBuf::from(&home).join(".cargo/bin"),
        ])
        .map(|d| d.join("tansu"))
        .find(|p| p.is_file())
        .expect("tansu is installed by scripts/setup.sh")
}
