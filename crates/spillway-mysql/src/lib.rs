//! The MySQL and MariaDB source: the binlog read as a replica.
pub mod config;
pub mod error;
pub mod types;
