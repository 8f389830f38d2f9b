//! The PostgreSQL source: logical replication with the built-in `pgoutput` plugin.
//!
//! ```text
//!   catalog ──> preflight ──> publication ──> slot (exported snapshot)
//!                                                  │
//!                     snapshot: COPY each table ◄──┤ same snapshot, op "r"
//!                                                  ▼
//!   START_REPLICATION from the slot's consistent point (or the committed offset)
//!     Begin/Relation/Insert/Update/Delete/Truncate/Commit ──> ChangeEvents
//!     keepalives answered; flush LSN = committed offset only
//! ```
//!
//! **Snapshot.** The slot is created with `EXPORT_SNAPSHOT`; every captured table is read
//! inside that snapshot, so streaming from the slot's consistent point continues exactly
//! after it: nothing missed, nothing doubled. A snapshot interrupted by a crash is taken
//! again from a new slot, because nothing was confirmed on the old one.
//!
//! **Replication.** Positions are `(commit LSN, index in transaction)`. The slot's flush
//! LSN moves only to what the pipeline has committed; after a restart the server resends
//! the transactions after it and events at or before the committed offset are skipped.
//! When nothing is in flight the source confirms the server's WAL end, so a slot on idle
//! tables never holds WAL back.
//!
//! **Errors** are classified once ([`ErrorClass`]): connection problems are transient,
//! data and schema problems definite, privileges and settings need the operator, with a
//! hint.

pub mod config;
pub mod copy_text;
pub mod error;
pub mod preflight;
pub mod protocol;
pub mod replication;
pub mod schema;
pub mod session;
pub mod snapshot;
mod source;
pub mod source_info;
pub mod types;
pub mod values;

pub use config::PostgresConfig;
pub use error::{ErrorClass, PostgresError};
pub use source::{drop_slot, slot_positions, PostgresSource};
