//! Projections: a change stream folded into tables that other programs query with SQL.
//!
//! A projection is a sink connector configured with the keys of Debezium's JDBC sink
//! ([`config`]). Its [`Projector`] reads the records of its topics from a
//! [`StreamReader`](spillway_core::StreamReader) (the embedded log or Kafka), decodes keys
//! and values ([`decode`]: JSON with embedded schemas, or Avro with a schema registry),
//! folds each poll into the latest row per key ([`batch`]) and applies it to a
//! [`Target`](target::Target) (SQLite or PostgreSQL) in one transaction together with the
//! offsets it consumed. Those offsets are read back from the target at start, so a crash
//! at any point neither applies an event twice nor skips one.
//!
//! Tables are created from the records' schemas and gain columns when records gain fields
//! (`schema.evolution=basic`); [`query`] runs read-only SQL against them.

pub mod batch;
pub mod cell;
pub mod config;
pub mod decode;
pub mod json;
pub mod projector;
pub mod query;
pub mod shape;
pub mod target;

pub use config::{ProjectionConfig, TargetUrl};
pub use decode::{Decoder, SchemaSource};
pub use projector::{ProjectionError, Projector, ProjectorStats};
pub use query::{run_query, QueryError, QueryLimits, QueryResult};
