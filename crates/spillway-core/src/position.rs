//! Positions in a source's log.
//!
//! A [`Position`] totally orders everything a source emits during one run and across
//! restarts: snapshot rows come before every streamed change, streamed changes are ordered
//! by their place in the log, and changes inside one transaction by their index. Offset
//! stores use the order to refuse a commit that would move progress backwards, and sources
//! use it to skip, after a restart, what was already made durable.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which phase of capture a position belongs to. Snapshot positions sort first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A row read by the initial snapshot.
    Snapshot,
    /// A change read from the log.
    Stream,
}

/// A place in a source's log, ordered.
///
/// The meaning of `log` and `sub` belongs to the source: PostgreSQL puts the commit LSN of
/// the transaction in `log`; a binlog source puts the file sequence number in `log` and the
/// byte offset in `sub`. `row` is the index of the change inside its transaction, or
/// [`Position::END_OF_TRANSACTION`] for a mark meaning "the whole transaction is done".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub phase: Phase,
    pub log: u64,
    pub sub: u64,
    pub row: u64,
}

impl Position {
    /// The `row` value of a mark that closes a transaction.
    pub const END_OF_TRANSACTION: u64 = u64::MAX;

    /// A position in the streaming phase.
    pub const fn stream(log: u64, sub: u64, row: u64) -> Self {
        Position {
            phase: Phase::Stream,
            log,
            sub,
            row,
        }
    }

    /// A position in the snapshot phase; `row` counts rows read so far.
    pub const fn snapshot(log: u64, row: u64) -> Self {
        Position {
            phase: Phase::Snapshot,
            log,
            sub: 0,
            row,
        }
    }

    /// Whether this position marks the end of a transaction rather than one change.
    pub fn is_end_of_transaction(&self) -> bool {
        self.row == Self::END_OF_TRANSACTION
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Snapshot => "snapshot",
            Phase::Stream => "stream",
        };
        if self.is_end_of_transaction() {
            write!(f, "{phase}:{}/{}:end", self.log, self.sub)
        } else {
            write!(f, "{phase}:{}/{}:{}", self.log, self.sub, self.row)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_positions_sort_before_stream_positions() {
        assert!(Position::snapshot(u64::MAX, u64::MAX) < Position::stream(0, 0, 0));
    }

    #[test]
    fn end_of_transaction_sorts_after_every_row_of_it() {
        let end = Position::stream(10, 0, Position::END_OF_TRANSACTION);
        assert!(Position::stream(10, 0, 1_000_000) < end);
        assert!(end < Position::stream(11, 0, 0));
    }
}
