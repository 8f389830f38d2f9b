//! Decoding of the logical replication stream: the CopyData payloads of the streaming
//! replication protocol and the `pgoutput` plugin's logical messages (protocol version 1).
//!
//! Everything here is pure: bytes in, messages out. Values inside tuples are zero-copy
//! [`Bytes`](bytes::Bytes) slices of the buffer they were decoded from, so decoding a row allocates only
//! the `Vec` of columns. Malformed input of any shape yields a [`DecodeError`] naming what
//! was being read and at which offset; decoding never panics.
//!
//! Integers are big-endian. LSNs are `u64`, timestamps are microseconds since the
//! PostgreSQL epoch (2000-01-01 00:00:00 UTC), see [`system_time_to_pg_micros`].
//!
//! - `clock`: the PostgreSQL epoch and conversions to and from wall-clock time;
//! - `reader`: [`DecodeError`] and the bounds-checked reader every decoder uses;
//! - `stream`: the streaming replication protocol's CopyData payloads
//!   ([`ReplicationMessage`], [`StandbyStatusUpdate`]);
//! - `message`: the pgoutput message types and [`LogicalMessage`];
//! - `decode`: [`LogicalMessage::decode`], one message from bytes;
//! - `tuple`: row values ([`TupleData`]) and their decoder.

mod clock;
mod decode;
mod message;
mod reader;
mod stream;
mod tuple;

#[cfg(test)]
mod tests;

pub use clock::{
    pg_micros_to_system_time, pg_now_micros, system_time_to_pg_micros, PG_EPOCH_UNIX_SECS,
};
pub use message::{
    Begin, Commit, Delete, Insert, LogicalDecodingMessage, LogicalMessage, Origin, Relation,
    RelationColumn, Truncate, TypeMessage, Update, OLD_KIND_FULL, OLD_KIND_KEY,
};
pub use reader::DecodeError;
pub(crate) use reader::Reader;
pub use stream::{ReplicationMessage, StandbyStatusUpdate};
pub use tuple::{TupleData, TupleValue};
