//! Binlog positions: where a change sits in the server's binary log, and how that maps to
//! spillway's ordered [`Position`] and to the state kept in the offsets.
//!
//! A change is `(file sequence, transaction start, row index)`. A finished transaction is
//! marked `(file sequence, next position - 1, END)`, ordered after all its rows and before
//! the next transaction. The offset state keeps the file name and the position to resume
//! reading from (the start of the first transaction not wholly committed), plus the GTID
//! position when the server has GTIDs.

use crate::decode::gtid::GtidSet;
use serde::{Deserialize, Serialize};
use spillway_core::{Offset, Position};

/// A place in the binlog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinlogPosition {
    pub file: String,
    pub pos: u64,
    /// The GTIDs applied up to here, when the server has GTIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<GtidSet>,
}

impl BinlogPosition {
    /// The offset state for resuming at this place.
    pub fn to_state(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The place kept in an offset, if it has one.
    pub fn from_offset(offset: &Offset) -> Option<BinlogPosition> {
        offset
            .state
            .as_ref()
            .and_then(|s| serde_json::from_value(s.clone()).ok())
    }

    /// The checkpoint saying everything before this place is done.
    pub fn checkpoint(&self) -> Offset {
        Offset {
            position: Position::stream(
                file_sequence(&self.file),
                self.pos.saturating_sub(1),
                Position::END_OF_TRANSACTION,
            ),
            state: Some(self.to_state()),
        }
    }
}

impl std::fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)?;
        if let Some(g) = &self.gtid {
            write!(f, " (gtid {g})")?;
        }
        Ok(())
    }
}

/// The sequence number of a binlog file name (`mysql-bin.000042` → 42).
pub fn file_sequence(file: &str) -> u64 {
    file.rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_marks_sort_between_transactions() {
        let end = BinlogPosition {
            file: "b.000002".into(),
            pos: 500,
            gtid: None,
        }
        .checkpoint();
        assert!(Position::stream(2, 300, 7) < end.position);
        assert!(end.position < Position::stream(2, 500, 0));
        assert!(end.position < Position::stream(3, 4, 0));
        assert_eq!(file_sequence("mysql-bin.000042"), 42);
    }

    #[test]
    fn the_offset_state_writes_the_gtids_as_text() {
        use crate::decode::gtid::{Gtid, MariaGtid};
        let mut at = BinlogPosition {
            file: "mysql-bin.000003".into(),
            pos: 1234,
            gtid: Some(GtidSet::read("1-2-9,0-1-5")),
        };
        // Compared as JSON values: key order follows serde_json's features in the build.
        let state = |at: &BinlogPosition| at.to_state();
        let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        // As read, until a transaction is added.
        assert_eq!(
            state(&at),
            json(r#"{"file":"mysql-bin.000003","gtid":"1-2-9,0-1-5","pos":1234}"#)
        );
        at.gtid
            .as_mut()
            .unwrap()
            .add(&Gtid::Mariadb(MariaGtid::new(0, 1, 6)));
        assert_eq!(
            state(&at),
            json(r#"{"file":"mysql-bin.000003","gtid":"0-1-6,1-2-9","pos":1234}"#)
        );
        let offset = at.checkpoint();
        assert_eq!(BinlogPosition::from_offset(&offset), Some(at.clone()));
        at.gtid = None;
        assert_eq!(
            state(&at),
            json(r#"{"file":"mysql-bin.000003","pos":1234}"#)
        );
    }
}
