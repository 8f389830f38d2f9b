//! A binlog position's GTIDs, held parsed: [`GtidSet`] is what a position has applied (a
//! MariaDB list or a MySQL set) and [`Gtid`] the GTID of one transaction, added to it at
//! each commit. The text is made only when an offset is written.

use super::{format_uuid, GtidError, MariaGtid, MariaGtidList, MysqlGtidSet};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One transaction's GTID, as its GTID event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gtid {
    /// MariaDB's `domain-server-seq`.
    Mariadb(MariaGtid),
    /// MySQL's `uuid:gno` (the tag of a MySQL 8.4 tagged GTID is not kept).
    Mysql { uuid: [u8; 16], gno: u64 },
}

impl fmt::Display for Gtid {
    /// `0-1-5`, or `3e11fa47-71ca-11e1-9e33-c80aa9429562:23` (the UUID in lower case).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gtid::Mariadb(g) => g.fmt(f),
            Gtid::Mysql { uuid, gno } => write!(f, "{}:{gno}", format_uuid(uuid)),
        }
    }
}

/// The GTIDs a binlog position has applied, as its offset keeps them: a MariaDB position
/// (one GTID per domain) or a MySQL GTID set, or, read from an offset or the server, text
/// that is either or neither.
///
/// Adding a transaction's GTID ([`add`](Self::add)) works on the parsed form; the text
/// ([`Display`](fmt::Display), and the serialized form, a plain string) is made from it
/// when an offset is written. Text read and not added to yet is written back unchanged.
#[derive(Debug, Clone)]
pub struct GtidSet(Applied);

#[derive(Debug, Clone)]
enum Applied {
    /// Text from an offset or the server, with what it reads as under either flavour.
    Read {
        text: String,
        mariadb: Result<MariaGtidList, GtidError>,
        mysql: Result<MysqlGtidSet, GtidError>,
    },
    Mariadb(MariaGtidList),
    Mysql(MysqlGtidSet),
    /// A MySQL GTID that no set can hold (its number is 0 or too large), alone: the text of
    /// the position after it is the GTID's.
    Unreadable(String),
}

impl GtidSet {
    /// GTID text as an offset or the server has it, kept as is until a GTID is added.
    pub fn read(text: &str) -> Self {
        GtidSet(Applied::Read {
            text: text.to_string(),
            mariadb: text.parse(),
            mysql: text.parse(),
        })
    }

    /// The set with `gtid` added. A MariaDB GTID replaces its domain's entry of the
    /// MariaDB position (an empty one when the set is not one); a MySQL GTID joins the MySQL
    /// set (an empty one when the set is not one).
    pub fn add(&mut self, gtid: &Gtid) {
        let next = match (&mut self.0, gtid) {
            (Applied::Mariadb(list), Gtid::Mariadb(g)) => {
                list.update(*g);
                return;
            }
            (Applied::Mysql(set), Gtid::Mysql { uuid, gno }) => match set.add(*uuid, *gno) {
                Ok(_) => return,
                Err(_) => Applied::Unreadable(gtid.to_string()),
            },
            (applied, Gtid::Mariadb(g)) => {
                let mut list = match applied {
                    Applied::Read {
                        mariadb: Ok(list), ..
                    } => list.clone(),
                    _ => MariaGtidList::new(),
                };
                list.update(*g);
                Applied::Mariadb(list)
            }
            (applied, Gtid::Mysql { uuid, gno }) => {
                let mut set = match applied {
                    Applied::Read { mysql: Ok(set), .. } => set.clone(),
                    _ => MysqlGtidSet::new(),
                };
                match set.add(*uuid, *gno) {
                    Ok(_) => Applied::Mysql(set),
                    Err(_) => Applied::Unreadable(gtid.to_string()),
                }
            }
        };
        self.0 = next;
    }

    /// The set as a MariaDB position; an error when it is not one.
    pub fn mariadb(&self) -> Result<MariaGtidList, GtidError> {
        match &self.0 {
            Applied::Read { mariadb, .. } => mariadb.clone(),
            Applied::Mariadb(list) => Ok(list.clone()),
            other => self.text_of(other).parse(),
        }
    }

    /// The set as a MySQL GTID set; an error when it is not one.
    pub fn mysql(&self) -> Result<MysqlGtidSet, GtidError> {
        match &self.0 {
            Applied::Read { mysql, .. } => mysql.clone(),
            Applied::Mysql(set) => Ok(set.clone()),
            other => self.text_of(other).parse(),
        }
    }

    fn text_of(&self, applied: &Applied) -> String {
        match applied {
            Applied::Read { text, .. } | Applied::Unreadable(text) => text.clone(),
            Applied::Mariadb(list) => list.to_string(),
            Applied::Mysql(set) => set.to_string(),
        }
    }
}

impl Default for GtidSet {
    /// No GTIDs: the empty text, which reads as an empty position of either flavour.
    fn default() -> Self {
        GtidSet::read("")
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Applied::Read { text, .. } | Applied::Unreadable(text) => f.write_str(text),
            Applied::Mariadb(list) => list.fmt(f),
            Applied::Mysql(set) => set.fmt(f),
        }
    }
}

impl PartialEq for GtidSet {
    /// Sets are equal when they write the same text.
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for GtidSet {}

impl Serialize for GtidSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GtidSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(GtidSet::read(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "3E11FA47-71CA-11E1-9E33-C80AA9429562";

    /// What positions were before they were held parsed: the position's text parsed again
    /// at each commit, then written out.
    fn by_text(position: Option<&str>, gtid: &str) -> String {
        if let Ok(g) = gtid.parse::<MariaGtid>() {
            let mut list: MariaGtidList = position.and_then(|p| p.parse().ok()).unwrap_or_default();
            list.update(g);
            return list.to_string();
        }
        if let Some((uuid, gno)) = gtid.split_once(':') {
            if let (Ok(uuid), Ok(gno)) = (super::super::parse_uuid(uuid), gno.parse::<u64>()) {
                let mut set: MysqlGtidSet =
                    position.and_then(|p| p.parse().ok()).unwrap_or_default();
                if set.add(uuid, gno).is_ok() {
                    return set.to_string();
                }
            }
        }
        gtid.to_string()
    }

    fn mysql(uuid: &str, gno: u64) -> Gtid {
        Gtid::Mysql {
            uuid: super::super::parse_uuid(uuid).unwrap(),
            gno,
        }
    }

    #[test]
    fn text_read_is_written_back_unchanged_until_a_gtid_is_added() {
        for text in [
            "0-1-5,1-2-9",
            "",
            "not a gtid",
            &format!("{U1}:1-5,\n{U1}:7"),
        ] {
            let set = GtidSet::read(text);
            assert_eq!(set.to_string(), text);
            assert_eq!(
                serde_json::to_string(&set).unwrap(),
                serde_json::to_string(text).unwrap()
            );
            let back: GtidSet =
                serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
            assert_eq!(back.to_string(), text);
        }
    }

    #[test]
    fn gtids_added_give_the_text_of_parsing_again_at_each_commit() {
        let maria = |d, s, q| Gtid::Mariadb(MariaGtid::new(d, s, q));
        let lower = "8d2f7a2e-0c47-11ef-97ee-0242ac130004";
        let starts = [
            "",
            "0-1-5,1-2-9",
            "garbage",
            &format!("{U1}:1-5:7-9"),
            &format!("{lower}:1-3,\n{U1}:4"),
        ];
        let sequences: Vec<Vec<Gtid>> = vec![
            vec![
                maria(0, 1, 6),
                maria(1, 3, 10),
                maria(2, 1, 1),
                maria(0, 2, 7),
            ],
            vec![mysql(U1, 6), mysql(U1, 10), mysql(lower, 4), mysql(U1, 8)],
            vec![mysql(U1, 6), maria(0, 1, 6), mysql(U1, 7), mysql(lower, 1)],
            vec![
                mysql(U1, 0),
                mysql(U1, 3),
                mysql(U1, u64::MAX),
                maria(0, 1, 2),
            ],
            vec![maria(0, 1, 6), mysql(U1, 2), maria(0, 1, 7)],
        ];
        for start in starts {
            for gtids in &sequences {
                let mut held = GtidSet::read(start);
                let mut text = start.to_string();
                for gtid in gtids {
                    held.add(gtid);
                    text = by_text(Some(&text), &gtid.to_string());
                    assert_eq!(held.to_string(), text, "from {start:?} adding {gtid}");
                    assert_eq!(
                        held.mariadb().is_ok(),
                        text.parse::<MariaGtidList>().is_ok()
                    );
                    assert_eq!(held.mysql().is_ok(), text.parse::<MysqlGtidSet>().is_ok());
                }
            }
        }
    }

    #[test]
    fn a_transaction_gtid_writes_like_its_event_names_it() {
        assert_eq!(Gtid::Mariadb(MariaGtid::new(0, 1, 5)).to_string(), "0-1-5");
        assert_eq!(
            mysql(U1, 23).to_string(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:23"
        );
    }
}
