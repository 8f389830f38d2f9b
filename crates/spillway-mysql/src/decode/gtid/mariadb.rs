//! MariaDB GTIDs, `domain-server-seq`, and positions: the last GTID of each domain.

use super::{parse_decimal, GtidError};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A MariaDB GTID, `domain-server-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MariaGtid {
    /// Replication domain (`gtid_domain_id` of the committing session).
    pub domain: u32,
    /// `server_id` of the server that first committed the transaction.
    pub server: u32,
    /// Sequence number, growing within the domain.
    pub seq: u64,
}

impl MariaGtid {
    pub const fn new(domain: u32, server: u32, seq: u64) -> Self {
        MariaGtid {
            domain,
            server,
            seq,
        }
    }
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl FromStr for MariaGtid {
    type Err = GtidError;

    /// Reads `domain-server-seq`; blanks around the whole are allowed.
    fn from_str(s: &str) -> Result<Self, GtidError> {
        let text = s.trim();
        let bad = || GtidError::MariaGtid {
            text: text.to_string(),
        };
        let mut parts = text.split('-');
        let (Some(d), Some(sv), Some(sq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(MariaGtid {
            domain: parse_decimal(d).ok_or_else(bad)?,
            server: parse_decimal(sv).ok_or_else(bad)?,
            seq: parse_decimal(sq).ok_or_else(bad)?,
        })
    }
}

/// A MariaDB GTID position: the last GTID applied in each replication domain, the form of
/// `@@gtid_binlog_pos`, `@@gtid_current_pos` and `@slave_connect_state`.
///
/// Text form: GTIDs joined by `,` in domain order (`0-1-5,1-2-9`); the empty string is the
/// empty position. Reading accepts blanks around each GTID and refuses a domain named twice
/// (a position has one GTID per domain; use [`MariaGtidList::from_gtids`] to fold a binlog
/// state that lists several servers per domain).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MariaGtidList {
    by_domain: BTreeMap<u32, MariaGtid>,
}

impl MariaGtidList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies [`update`](Self::update) to each GTID in turn: for each domain the last one
    /// wins. This is how a GTID_LIST_EVENT or `@@gtid_binlog_state`, which list every server
    /// of a domain with the domain's latest GTID last, fold into a position.
    pub fn from_gtids(gtids: impl IntoIterator<Item = MariaGtid>) -> Self {
        let mut list = Self::new();
        for g in gtids {
            list.update(g);
        }
        list
    }

    /// Records `gtid` as the last one applied in its domain, replacing the domain's entry;
    /// returns the entry it replaced.
    pub fn update(&mut self, gtid: MariaGtid) -> Option<MariaGtid> {
        self.by_domain.insert(gtid.domain, gtid)
    }

    /// The last GTID applied in `domain`.
    pub fn get(&self, domain: u32) -> Option<&MariaGtid> {
        self.by_domain.get(&domain)
    }

    /// Whether `gtid` is at or before this position: the position has `gtid`'s domain with a
    /// sequence number at least `gtid.seq`. The server id is not compared, as MariaDB orders a
    /// domain by sequence number alone (a new primary continues the domain's numbering). A
    /// domain missing from the position contains nothing.
    pub fn contains(&self, gtid: &MariaGtid) -> bool {
        self.by_domain
            .get(&gtid.domain)
            .is_some_and(|known| gtid.seq <= known.seq)
    }

    /// Removes the domain's entry, returning it.
    pub fn remove(&mut self, domain: u32) -> Option<MariaGtid> {
        self.by_domain.remove(&domain)
    }

    /// The GTIDs in domain order.
    pub fn iter(&self) -> impl Iterator<Item = &MariaGtid> + '_ {
        self.by_domain.values()
    }

    /// Number of domains.
    pub fn len(&self) -> usize {
        self.by_domain.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }
}

impl fmt::Display for MariaGtidList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.by_domain.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

impl FromStr for MariaGtidList {
    type Err = GtidError;

    fn from_str(s: &str) -> Result<Self, GtidError> {
        let mut list = Self::new();
        if s.trim().is_empty() {
            return Ok(list);
        }
        for part in s.split(',') {
            let g: MariaGtid = part.parse()?;
            if list.update(g).is_some() {
                return Err(GtidError::DuplicateDomain {
                    text: s.trim().to_string(),
                    domain: g.domain,
                });
            }
        }
        Ok(list)
    }
}

impl FromIterator<MariaGtid> for MariaGtidList {
    fn from_iter<I: IntoIterator<Item = MariaGtid>>(iter: I) -> Self {
        Self::from_gtids(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maria_gtid_text_round_trips() {
        let g: MariaGtid = "0-1-5".parse().unwrap();
        assert_eq!(g, MariaGtid::new(0, 1, 5));
        assert_eq!(g.to_string(), "0-1-5");
        let big: MariaGtid = "4294967295-4294967295-18446744073709551615"
            .parse()
            .unwrap();
        assert_eq!(big, MariaGtid::new(u32::MAX, u32::MAX, u64::MAX));
        assert_eq!(
            " 1-2-3 ".parse::<MariaGtid>().unwrap(),
            MariaGtid::new(1, 2, 3)
        );
    }

    #[test]
    fn maria_gtid_rejects_malformed_text() {
        for bad in [
            "",
            "0-1",
            "0-1-2-3",
            "a-1-2",
            "+0-1-2",
            "0--2",
            "0-1-",
            "4294967296-1-2",
            "0-1-18446744073709551616",
            "0 -1-2",
        ] {
            assert!(
                matches!(bad.parse::<MariaGtid>(), Err(GtidError::MariaGtid { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn maria_list_parses_formats_and_sorts_domains() {
        let l: MariaGtidList = "1-2-9, 0-1-5".parse().unwrap();
        assert_eq!(l.to_string(), "0-1-5,1-2-9");
        assert_eq!(l.len(), 2);
        assert_eq!(l.get(1), Some(&MariaGtid::new(1, 2, 9)));
        assert_eq!("".parse::<MariaGtidList>().unwrap(), MariaGtidList::new());
        assert_eq!(MariaGtidList::new().to_string(), "");
        assert_eq!(
            "0-1-5,0-2-6".parse::<MariaGtidList>(),
            Err(GtidError::DuplicateDomain {
                text: "0-1-5,0-2-6".into(),
                domain: 0
            })
        );
        assert!("0-1-5,".parse::<MariaGtidList>().is_err());
    }

    #[test]
    fn maria_list_update_replaces_the_domain_entry() {
        let mut l: MariaGtidList = "0-1-5,1-2-9".parse().unwrap();
        assert_eq!(
            l.update(MariaGtid::new(0, 3, 6)),
            Some(MariaGtid::new(0, 1, 5))
        );
        assert_eq!(l.update(MariaGtid::new(7, 1, 1)), None);
        assert_eq!(l.to_string(), "0-3-6,1-2-9,7-1-1");
        let folded = MariaGtidList::from_gtids([
            MariaGtid::new(0, 1, 10),
            MariaGtid::new(0, 2, 12),
            MariaGtid::new(1, 1, 3),
        ]);
        assert_eq!(folded.to_string(), "0-2-12,1-1-3");
    }

    #[test]
    fn maria_list_contains_compares_seq_within_the_domain() {
        let l: MariaGtidList = "0-1-5,1-2-9".parse().unwrap();
        assert!(l.contains(&MariaGtid::new(0, 1, 5)));
        assert!(l.contains(&MariaGtid::new(0, 1, 1)));
        // Another server continuing the domain: still ordered by seq.
        assert!(l.contains(&MariaGtid::new(0, 9, 4)));
        assert!(!l.contains(&MariaGtid::new(0, 1, 6)));
        assert!(!l.contains(&MariaGtid::new(2, 1, 1)));
    }
}
