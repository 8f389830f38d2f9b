//! Apache Kafka as the event stream: records are produced with librdkafka's idempotent
//! producer (`acks=all`), partitioned by the Java client's murmur2 of the key, and a batch is
//! acknowledged to the pipeline only when the broker has acknowledged every record of it, so
//! a failed delivery never moves the committed offset. Committed offsets go to a compacted
//! topic (`offset.storage.topic`), so another machine can take the connector over.
//! [`KafkaReader`] reads topics back from assigned offsets, for sinks such as projections.

mod config;
mod offsets;
mod reader;
mod state;
mod writer;

pub use config::KafkaOptions;
pub use offsets::{KafkaOffsetStore, DEFAULT_OFFSET_TOPIC};
pub use reader::KafkaReader;
pub use state::KafkaStateStore;
pub use writer::KafkaWriter;
