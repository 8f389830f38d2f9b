//! GTID positions of MySQL and MariaDB: their text forms, the containment rules a source
//! needs to skip what it already emitted, and the form the replication protocol takes.
//!
//! The two servers number transactions differently:
//!
//! * MariaDB: a GTID is `domain-server-seq`. Within a replication domain transactions are
//!   ordered by `seq` alone; `server` names the server that first committed the transaction
//!   and changes when another server takes over the domain, while `seq` keeps growing. A
//!   position ([`MariaGtidList`], e.g. `0-1-5,1-2-9`) is therefore one GTID per domain: the
//!   last one applied there. It is what `@slave_connect_state` takes before a binlog dump.
//! * MySQL: a GTID is `uuid:gno` where `uuid` is the originating server's `server_uuid`. A
//!   position ([`MysqlGtidSet`], e.g. `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9`) is the
//!   set of every GTID applied, as intervals per server, since gaps can exist. It is what
//!   `COM_BINLOG_DUMP_GTID` takes ([`MysqlGtidSet::to_sids`], [`MysqlGtidSet::encode_sid_block`]).
//!   MySQL 8.4 tagged GTIDs (`uuid:tag:gno`) are supported as well.
//!
//! [`GtidPosition`] holds either, for offsets.

mod applied;
mod mariadb;
mod mysql;

pub use applied::{Gtid, GtidSet};
pub use mariadb::{MariaGtid, MariaGtidList};
pub use mysql::{format_uuid, parse_uuid, MysqlGtidSet, MAX_GNO};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Error from reading GTID text or adding a GTID to a set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtidError {
    #[error("`{text}` is not a MariaDB GTID: expected domain-server-sequence, three unsigned numbers joined by `-`")]
    MariaGtid { text: String },
    #[error("MariaDB GTID position `{text}` names domain {domain} more than once")]
    DuplicateDomain { text: String, domain: u32 },
    #[error("`{text}` is not a server UUID: expected 32 hex digits as 8-4-4-4-12")]
    Uuid { text: String },
    #[error("MySQL GTID set entry `{entry}` has no interval after the server UUID or tag")]
    MissingInterval { entry: String },
    #[error("`{text}` is not a GTID interval: expected N or N-M with 1 <= N <= M <= {max}", max = MAX_GNO)]
    Interval { text: String },
    #[error("`{text}` is not a GTID tag: expected 1 to 32 letters, digits or `_`, not starting with a digit")]
    Tag { text: String },
    #[error("{gno} is not a GTID number: MySQL numbers transactions from 1 to {max}", max = MAX_GNO)]
    GnoOutOfRange { gno: u64 },
}

/// Unsigned decimal digits only (no sign, no blanks); `None` if empty, not digits, or too big.
pub(crate) fn parse_decimal<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A source's GTID position, kept in its offsets.
///
/// Serialized as a one-key map naming the flavour, with the position's text as the value:
/// `{"mysql":"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"}` or `{"mariadb":"0-1-5,1-2-9"}`.
/// The flavour is spelled out because the empty position reads the same in both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GtidPosition {
    Mysql(MysqlGtidSet),
    Mariadb(MariaGtidList),
}

impl GtidPosition {
    pub fn is_empty(&self) -> bool {
        match self {
            GtidPosition::Mysql(s) => s.is_empty(),
            GtidPosition::Mariadb(l) => l.is_empty(),
        }
    }
}

impl fmt::Display for GtidPosition {
    /// The position's own text, without the flavour.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidPosition::Mysql(s) => s.fmt(f),
            GtidPosition::Mariadb(l) => l.fmt(f),
        }
    }
}

macro_rules! serde_as_text {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Text;
                impl serde::de::Visitor<'_> for Text {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Text)
            }
        }
    };
}

serde_as_text!(MariaGtid, "a MariaDB GTID as text");
serde_as_text!(MariaGtidList, "a MariaDB GTID position as text");
serde_as_text!(MysqlGtidSet, "a MySQL GTID set as text");

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "3E11FA47-71CA-11E1-9E33-C80AA9429562";

    #[test]
    fn position_serde_names_the_flavour() {
        let m = GtidPosition::Mysql(format!("{U1}:1-5").parse().unwrap());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, format!(r#"{{"mysql":"{U1}:1-5"}}"#));
        assert_eq!(serde_json::from_str::<GtidPosition>(&json).unwrap(), m);
        assert_eq!(m.to_string(), format!("{U1}:1-5"));

        let d = GtidPosition::Mariadb("0-1-5,1-2-9".parse().unwrap());
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"mariadb":"0-1-5,1-2-9"}"#);
        assert_eq!(serde_json::from_str::<GtidPosition>(&json).unwrap(), d);

        let empty = GtidPosition::Mariadb(MariaGtidList::new());
        assert!(empty.is_empty());
        let json = serde_json::to_string(&empty).unwrap();
        assert_eq!(json, r#"{"mariadb":""}"#);
        assert_eq!(serde_json::from_str::<GtidPosition>(&json).unwrap(), empty);

        let err = serde_json::from_str::<GtidPosition>(r#"{"mariadb":"0-1"}"#).unwrap_err();
        assert!(err.to_string().contains("not a MariaDB GTID"), "{err}");
        assert!(serde_json::from_value::<GtidPosition>(serde_json::json!({"mysql": 5})).is_err());
    }

    #[test]
    fn text_parsers_never_panic() {
        let alphabet = b"0123456789-:,abcdefABCDEF xyz_\n{}";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 60) as usize;
            let mut s = String::new();
            let mut x = state;
            for _ in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push(alphabet[(x >> 33) as usize % alphabet.len()] as char);
            }
            let _ = s.parse::<MariaGtid>();
            let _ = s.parse::<MariaGtidList>();
            if let Ok(set) = s.parse::<MysqlGtidSet>() {
                // Whatever parses, writes back to something that parses to the same set.
                assert_eq!(
                    set.to_string().parse::<MysqlGtidSet>().unwrap(),
                    set,
                    "{s:?}"
                );
            }
        }
    }
}
