//! Apache Kafka as the event stream: records are produced with librdkafka's idempotent
//! producer (`acks=all`), partitioned by the Java client's murmur2 of the key, and a batch is
//! acknowledged to the pipeline only when the broker has acknowledged every record of it, so
//! a failed delivery never moves the committed offset.

mod config;
mod writer;

pub use config::KafkaOptions;
pub use writer::KafkaWriter;
