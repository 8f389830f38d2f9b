//! MySQL GTIDs, `uuid[:tag]:gno`, and GTID sets: intervals of transaction numbers per
//! server UUID (and tag), in their text form and the binary form `COM_BINLOG_DUMP_GTID`
//! takes.

use super::{parse_decimal, GtidError};
use mysql_async::{GnoInterval, Sid};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The largest GTID number MySQL assigns (`MAX_GNO`, `i64::MAX - 1`), so that the exclusive
/// end of an interval still fits the signed 64-bit field of `COM_BINLOG_DUMP_GTID`.
pub const MAX_GNO: u64 = i64::MAX as u64 - 1;

/// Reads a server UUID: 32 hex digits, as `8-4-4-4-12` groups, bare, or in braces.
pub fn parse_uuid(text: &str) -> Result<[u8; 16], GtidError> {
    let bad = || GtidError::Uuid {
        text: text.to_string(),
    };
    let t = text.trim();
    let t = match t.strip_prefix('{') {
        Some(inner) => inner.strip_suffix('}').ok_or_else(bad)?,
        None => t,
    };
    let digits: &[u8] = t.as_bytes();
    let hyphenated = digits.len() == 36;
    if hyphenated {
        for at in [8, 13, 18, 23] {
            if digits[at] != b'-' {
                return Err(bad());
            }
        }
    } else if digits.len() != 32 {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    let mut nibbles = digits.iter().filter(|&&c| !(hyphenated && c == b'-'));
    for byte in &mut out {
        let (Some(&hi), Some(&lo)) = (nibbles.next(), nibbles.next()) else {
            return Err(bad());
        };
        *byte = (hex_value(hi).ok_or_else(bad)? << 4) | hex_value(lo).ok_or_else(bad)?;
    }
    if nibbles.next().is_some() {
        return Err(bad());
    }
    Ok(out)
}

/// Writes a server UUID as `8-4-4-4-12` lowercase hex, as MySQL prints it.
pub fn format_uuid(uuid: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    write_uuid(&mut s, uuid, false);
    s
}

fn write_uuid(out: &mut String, uuid: &[u8; 16], upper: bool) {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    for (i, b) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(digits[usize::from(b >> 4)] as char);
        out.push(digits[usize::from(b & 0xf)] as char);
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Validates a MySQL 8.4 GTID tag and returns it lowercased, as MySQL stores it.
fn normalize_tag(text: &str) -> Result<String, GtidError> {
    let bad = || GtidError::Tag {
        text: text.to_string(),
    };
    let b = text.as_bytes();
    if b.is_empty() || b.len() > 32 || b[0].is_ascii_digit() {
        return Err(bad());
    }
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        return Err(bad());
    }
    Ok(text.to_ascii_lowercase())
}

/// Intervals of one server's (and tag's) GTIDs: inclusive `(first, last)`, sorted, neither
/// overlapping nor adjacent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Intervals(Vec<(u64, u64)>);

impl Intervals {
    fn contains(&self, gno: u64) -> bool {
        // The first interval starting after gno; the one before it may hold gno.
        let i = self.0.partition_point(|&(first, _)| first <= gno);
        i > 0 && gno <= self.0[i - 1].1
    }

    /// Adds `first..=last` (`1 <= first <= last <= MAX_GNO`), merging what it touches.
    /// Returns whether anything was new.
    fn add(&mut self, first: u64, last: u64) -> bool {
        // Intervals ending before first - 1 stay left; those starting after last + 1 stay right.
        let lo = self
            .0
            .partition_point(|&(_, l)| l.saturating_add(1) < first);
        let hi = self
            .0
            .partition_point(|&(f, _)| f <= last.saturating_add(1));
        if lo == hi {
            self.0.insert(lo, (first, last));
            return true;
        }
        let merged = (first.min(self.0[lo].0), last.max(self.0[hi - 1].1));
        let covered = hi - lo == 1 && self.0[lo].0 <= first && last <= self.0[lo].1;
        self.0.splice(lo..hi, [merged]);
        !covered
    }

    fn is_subset_of(&self, other: &Intervals) -> bool {
        self.0.iter().all(|&(first, last)| {
            let i = other.0.partition_point(|&(f, _)| f <= first);
            i > 0 && last <= other.0[i - 1].1
        })
    }

    fn write(&self, out: &mut String) {
        use fmt::Write as _;
        for &(first, last) in &self.0 {
            // Writing to a String cannot fail.
            let _ = if first == last {
                write!(out, ":{first}")
            } else {
                write!(out, ":{first}-{last}")
            };
        }
    }
}

/// All GTIDs of one server UUID.
#[derive(Debug, Clone, Default)]
struct SidGroup {
    /// The UUID was read in upper case; it is written back the same way.
    upper: bool,
    untagged: Intervals,
    tagged: BTreeMap<String, Intervals>,
}

impl SidGroup {
    fn intervals_mut(&mut self, tag: Option<&str>) -> &mut Intervals {
        match tag {
            None => &mut self.untagged,
            Some(t) => self.tagged.entry(t.to_string()).or_default(),
        }
    }

    fn intervals(&self, tag: Option<&str>) -> Option<&Intervals> {
        match tag {
            None => Some(&self.untagged),
            Some(t) => self.tagged.get(t),
        }
    }

    fn same_gtids(&self, other: &SidGroup) -> bool {
        self.untagged == other.untagged && self.tagged == other.tagged
    }
}

/// A MySQL GTID set, the form of `@@gtid_executed` and `@@gtid_purged`.
///
/// Text form: per server UUID, `uuid:interval[:interval...]` where an interval is `N` or
/// `N-M`; entries joined by `,` (MySQL itself also puts a newline after each comma; blanks
/// and newlines around entries are accepted). MySQL 8.4 tags appear as `uuid:1-5:tag:1-3`,
/// the intervals after a tag belonging to it.
///
/// Written back canonically, as MySQL does: UUIDs in byte order, intervals sorted and
/// merged, tags lowercased after the untagged intervals. A UUID keeps the letter case it was
/// read with, so the server's own text comes back unchanged; UUIDs first seen through
/// [`add`](Self::add) are written in lower case, as MySQL prints them. Equality compares the
/// GTIDs only, not the case.
#[derive(Debug, Clone, Default)]
pub struct MysqlGtidSet {
    sids: BTreeMap<[u8; 16], SidGroup>,
}

impl PartialEq for MysqlGtidSet {
    fn eq(&self, other: &Self) -> bool {
        self.sids.len() == other.sids.len()
            && self
                .sids
                .iter()
                .zip(&other.sids)
                .all(|((ua, ga), (ub, gb))| ua == ub && ga.same_gtids(gb))
    }
}

impl Eq for MysqlGtidSet {}

impl MysqlGtidSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the GTID `uuid:gno`; returns whether it was new.
    pub fn add(&mut self, uuid: [u8; 16], gno: u64) -> Result<bool, GtidError> {
        self.add_range(uuid, None, gno, gno)
    }

    /// Adds the tagged GTID `uuid:tag:gno` (MySQL 8.4); returns whether it was new.
    pub fn add_tagged(&mut self, uuid: [u8; 16], tag: &str, gno: u64) -> Result<bool, GtidError> {
        let tag = normalize_tag(tag)?;
        self.add_range(uuid, Some(&tag), gno, gno)
    }

    /// Adds `uuid[:tag]:first-last`; returns whether any of it was new.
    pub fn add_interval(
        &mut self,
        uuid: [u8; 16],
        tag: Option<&str>,
        first: u64,
        last: u64,
    ) -> Result<bool, GtidError> {
        let tag = tag.map(normalize_tag).transpose()?;
        self.add_range(uuid, tag.as_deref(), first, last)
    }

    fn add_range(
        &mut self,
        uuid: [u8; 16],
        tag: Option<&str>,
        first: u64,
        last: u64,
    ) -> Result<bool, GtidError> {
        for gno in [first, last] {
            if gno == 0 || gno > MAX_GNO {
                return Err(GtidError::GnoOutOfRange { gno });
            }
        }
        if first > last {
            return Err(GtidError::Interval {
                text: format!("{first}-{last}"),
            });
        }
        Ok(self
            .sids
            .entry(uuid)
            .or_default()
            .intervals_mut(tag)
            .add(first, last))
    }

    /// Whether the GTID `uuid:gno` is in the set.
    pub fn contains(&self, uuid: &[u8; 16], gno: u64) -> bool {
        self.contains_in(uuid, None, gno)
    }

    /// Whether the tagged GTID `uuid:tag:gno` is in the set (the tag is compared ignoring case).
    pub fn contains_tagged(&self, uuid: &[u8; 16], tag: &str, gno: u64) -> bool {
        self.contains_in(uuid, Some(&tag.to_ascii_lowercase()), gno)
    }

    fn contains_in(&self, uuid: &[u8; 16], tag: Option<&str>, gno: u64) -> bool {
        self.sids
            .get(uuid)
            .and_then(|g| g.intervals(tag))
            .is_some_and(|iv| iv.contains(gno))
    }

    /// Whether every GTID of `self` is in `other`. (A source resuming from `other` needs the
    /// server's `@@gtid_purged` to be a subset of it, or the binlogs it needs are gone.)
    pub fn is_subset_of(&self, other: &MysqlGtidSet) -> bool {
        self.sids.iter().all(|(uuid, g)| {
            let Some(og) = other.sids.get(uuid) else {
                return g.untagged.0.is_empty() && g.tagged.values().all(|iv| iv.0.is_empty());
            };
            g.untagged.is_subset_of(&og.untagged)
                && g.tagged.iter().all(|(tag, iv)| match og.tagged.get(tag) {
                    Some(oiv) => iv.is_subset_of(oiv),
                    None => iv.0.is_empty(),
                })
        })
    }

    /// Adds every GTID of `other`.
    pub fn union_with(&mut self, other: &MysqlGtidSet) {
        for (uuid, og) in &other.sids {
            let g = self.sids.entry(*uuid).or_insert_with(|| SidGroup {
                upper: og.upper,
                ..SidGroup::default()
            });
            for &(f, l) in &og.untagged.0 {
                g.untagged.add(f, l);
            }
            for (tag, iv) in &og.tagged {
                let mine = g.tagged.entry(tag.clone()).or_default();
                for &(f, l) in &iv.0 {
                    mine.add(f, l);
                }
            }
        }
    }

    /// The intervals of `uuid` (of its `tag`, if given), inclusive `(first, last)`, sorted.
    pub fn intervals(&self, uuid: &[u8; 16], tag: Option<&str>) -> &[(u64, u64)] {
        let tag = tag.map(str::to_ascii_lowercase);
        self.sids
            .get(uuid)
            .and_then(|g| g.intervals(tag.as_deref()))
            .map_or(&[], |iv| &iv.0)
    }

    /// The server UUIDs in the set, in byte order.
    pub fn uuids(&self) -> impl Iterator<Item = &[u8; 16]> + '_ {
        self.sids.keys()
    }

    pub fn is_empty(&self) -> bool {
        self.sids
            .values()
            .all(|g| g.untagged.0.is_empty() && g.tagged.values().all(|iv| iv.0.is_empty()))
    }

    /// The set as mysql_async takes it for `BinlogStreamRequest::with_gtid_set`: one [`Sid`]
    /// per UUID (and per tag), intervals with exclusive ends.
    pub fn to_sids(&self) -> Vec<Sid<'static>> {
        let mut out = Vec::new();
        for (uuid, g) in &self.sids {
            if !g.untagged.0.is_empty() {
                out.push(Sid::new(*uuid).with_intervals(gno_intervals(&g.untagged)));
            }
            for (tag, iv) in &g.tagged {
                if iv.0.is_empty() {
                    continue;
                }
                // mysql_async does not export its tag type; a Sid parsed from text carries it.
                let mut text = format_uuid(uuid);
                text.push(':');
                text.push_str(tag);
                iv.write(&mut text);
                if let Ok(sid) = text.parse::<Sid<'static>>() {
                    out.push(sid);
                }
            }
        }
        out
    }

    /// The SID block of `COM_BINLOG_DUMP_GTID` (the bytes after its `data_size` field).
    ///
    /// Without tags: `n_sids` u64, then per UUID the 16 UUID bytes, `n_intervals` u64 and
    /// per interval `start` and `end` (exclusive) as i64, all little-endian. With any tag,
    /// MySQL 8.4's tagged form: `n_sids << 8 | 1 << 56`, and after each UUID the tag's length
    /// (MySQL serialization varint, `len << 1` for these short tags) and bytes.
    pub fn encode_sid_block(&self) -> Vec<u8> {
        let mut entries: Vec<(&[u8; 16], &str, &Intervals)> = Vec::new();
        for (uuid, g) in &self.sids {
            if !g.untagged.0.is_empty() {
                entries.push((uuid, "", &g.untagged));
            }
            for (tag, iv) in &g.tagged {
                if !iv.0.is_empty() {
                    entries.push((uuid, tag.as_str(), iv));
                }
            }
        }
        let tagged = entries.iter().any(|(_, tag, _)| !tag.is_empty());
        let n = entries.len() as u64;
        let mut out = Vec::new();
        let header = if tagged { (n << 8) | (1 << 56) } else { n };
        out.extend_from_slice(&header.to_le_bytes());
        for (uuid, tag, iv) in entries {
            out.extend_from_slice(uuid);
            if tagged {
                // Tags are at most 32 bytes: the one-byte varint form.
                out.push((tag.len() as u8) << 1);
                out.extend_from_slice(tag.as_bytes());
            }
            out.extend_from_slice(&(iv.0.len() as u64).to_le_bytes());
            for &(first, last) in &iv.0 {
                out.extend_from_slice(&(first as i64).to_le_bytes());
                out.extend_from_slice(&((last + 1) as i64).to_le_bytes());
            }
        }
        out
    }
}

fn gno_intervals(iv: &Intervals) -> Vec<GnoInterval> {
    iv.0.iter()
        .map(|&(first, last)| GnoInterval::new(first, last + 1))
        .collect()
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (uuid, g) in &self.sids {
            if g.untagged.0.is_empty() && g.tagged.values().all(|iv| iv.0.is_empty()) {
                continue;
            }
            if !out.is_empty() {
                out.push(',');
            }
            write_uuid(&mut out, uuid, g.upper);
            g.untagged.write(&mut out);
            for (tag, iv) in &g.tagged {
                if !iv.0.is_empty() {
                    out.push(':');
                    out.push_str(tag);
                    iv.write(&mut out);
                }
            }
        }
        f.write_str(&out)
    }
}

impl FromStr for MysqlGtidSet {
    type Err = GtidError;

    fn from_str(s: &str) -> Result<Self, GtidError> {
        let mut set = Self::new();
        if s.trim().is_empty() {
            return Ok(set);
        }
        for entry in s.split(',') {
            let entry = entry.trim();
            let missing = || GtidError::MissingInterval {
                entry: entry.to_string(),
            };
            let mut parts = entry.split(':');
            let uuid_text = parts.next().unwrap_or_default().trim();
            let uuid = parse_uuid(uuid_text)?;
            let upper = uuid_text.bytes().any(|c| matches!(c, b'A'..=b'F'))
                && !uuid_text.bytes().any(|c| matches!(c, b'a'..=b'f'));
            let group = set.sids.entry(uuid).or_insert_with(|| SidGroup {
                upper,
                ..SidGroup::default()
            });
            let mut tag: Option<String> = None;
            // Whether the current tag (or the UUID) has an interval yet.
            let mut has_interval = false;
            for part in parts {
                let part = part.trim();
                if part.starts_with(|c: char| c.is_ascii_digit()) {
                    let (first, last) = parse_interval(part)?;
                    group.intervals_mut(tag.as_deref()).add(first, last);
                    has_interval = true;
                } else {
                    if !has_interval && tag.is_some() {
                        return Err(missing());
                    }
                    tag = Some(normalize_tag(part)?);
                    has_interval = false;
                }
            }
            if !has_interval {
                return Err(missing());
            }
        }
        Ok(set)
    }
}

/// Reads `N` or `N-M` (inclusive) with `1 <= N <= M <= MAX_GNO`.
fn parse_interval(text: &str) -> Result<(u64, u64), GtidError> {
    let bad = || GtidError::Interval {
        text: text.to_string(),
    };
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (
            parse_decimal::<u64>(a.trim()).ok_or_else(bad)?,
            parse_decimal::<u64>(b.trim()).ok_or_else(bad)?,
        ),
        None => {
            let n = parse_decimal::<u64>(text).ok_or_else(bad)?;
            (n, n)
        }
    };
    if first == 0 || first > last || last > MAX_GNO {
        return Err(bad());
    }
    Ok((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "3E11FA47-71CA-11E1-9E33-C80AA9429562";
    const U2: &str = "8d2f7a2e-0c47-11ef-97ee-0242ac130004";

    fn uuid(s: &str) -> [u8; 16] {
        parse_uuid(s).unwrap()
    }

    #[test]
    fn uuid_forms() {
        let want = uuid(U1);
        assert_eq!(uuid(&U1.to_lowercase()), want);
        assert_eq!(uuid(&U1.replace('-', "")), want);
        assert_eq!(uuid(&format!("{{{U1}}}")), want);
        assert_eq!(format_uuid(&want), U1.to_lowercase());
        for bad in [
            "",
            "3E11FA47-71CA-11E1-9E33-C80AA942956",
            "3E11FA4771CA-11E1-9E33-C80AA9429562-",
            "3E11FA47-71CA-11E1-9E33-C80AA942956G",
            "{3E11FA47-71CA-11E1-9E33-C80AA9429562",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562-00",
        ] {
            assert!(parse_uuid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mysql_set_round_trips_server_text_in_its_case() {
        let upper = format!("{U1}:1-5:7-9");
        assert_eq!(upper.parse::<MysqlGtidSet>().unwrap().to_string(), upper);
        let lower = format!("{}:1-5:7", U1.to_lowercase());
        assert_eq!(lower.parse::<MysqlGtidSet>().unwrap().to_string(), lower);
        // MySQL's own output puts a newline after each comma.
        let two = format!("{U1}:1-5,\n{U2}:1-3:11");
        let set: MysqlGtidSet = two.parse().unwrap();
        assert_eq!(set.to_string(), format!("{U1}:1-5,{U2}:1-3:11"));
        // Case does not matter for equality.
        assert_eq!(
            set,
            format!("{}:1-5,{U2}:1-3:11", U1.to_lowercase())
                .parse()
                .unwrap()
        );
        assert_eq!("".parse::<MysqlGtidSet>().unwrap().to_string(), "");
    }

    #[test]
    fn mysql_set_canonicalizes_intervals_and_order() {
        let set: MysqlGtidSet = format!("{U2}:7-9:1-3:4-5:9-12,{U1}:3:2:1").parse().unwrap();
        assert_eq!(set.to_string(), format!("{U1}:1-3,{U2}:1-5:7-12"));
        let same_uuid_twice: MysqlGtidSet = format!("{U1}:1-2,{U1}:4").parse().unwrap();
        assert_eq!(same_uuid_twice.to_string(), format!("{U1}:1-2:4"));
    }

    #[test]
    fn mysql_set_rejects_malformed_text() {
        for bad in [
            U1.to_string(),
            format!("{U1}:"),
            format!("{U1}:0"),
            format!("{U1}:5-3"),
            format!("{U1}:1-"),
            format!("{U1}:-1"),
            format!("{U1}:1-2-3"),
            format!("{U1}:9223372036854775807"),
            format!("{U1}:1,"),
            format!("{U1}:tag"),
            format!("{U1}:1:tag"),
            format!("{U1}:tag:tag2:1"),
            format!("{U1}:1:bad-tag:1"),
            format!("{U1}:1:{}:1", "t".repeat(33)),
            "nope:1".to_string(),
        ] {
            assert!(bad.parse::<MysqlGtidSet>().is_err(), "{bad:?}");
        }
        // The largest number MySQL assigns is accepted.
        let max = format!("{U1}:{MAX_GNO}");
        assert_eq!(max.parse::<MysqlGtidSet>().unwrap().to_string(), max);
    }

    #[test]
    fn mysql_set_add_merges_and_contains() {
        let u = uuid(U1);
        let mut set = MysqlGtidSet::new();
        assert!(set.is_empty());
        assert_eq!(set.add(u, 5), Ok(true));
        assert_eq!(set.add(u, 5), Ok(false));
        assert_eq!(set.add(u, 3), Ok(true));
        assert_eq!(set.to_string(), format!("{}:3:5", U1.to_lowercase()));
        assert_eq!(set.add(u, 4), Ok(true));
        assert_eq!(set.intervals(&u, None), &[(3, 5)]);
        assert_eq!(set.add(u, 6), Ok(true));
        assert_eq!(set.add(u, 1), Ok(true));
        assert_eq!(set.intervals(&u, None), &[(1, 1), (3, 6)]);
        assert_eq!(set.add(u, 2), Ok(true));
        assert_eq!(set.intervals(&u, None), &[(1, 6)]);
        assert_eq!(set.add_interval(u, None, 10, 20), Ok(true));
        assert_eq!(set.add_interval(u, None, 12, 15), Ok(false));
        assert_eq!(set.add_interval(u, None, 5, 11), Ok(true));
        assert_eq!(set.intervals(&u, None), &[(1, 20)]);
        for gno in 1..=20 {
            assert!(set.contains(&u, gno));
        }
        assert!(!set.contains(&u, 0));
        assert!(!set.contains(&u, 21));
        assert!(!set.contains(&uuid(U2), 1));
        assert_eq!(set.add(u, 0), Err(GtidError::GnoOutOfRange { gno: 0 }));
        assert_eq!(
            set.add(u, MAX_GNO + 1),
            Err(GtidError::GnoOutOfRange { gno: MAX_GNO + 1 })
        );
        assert!(set.add_interval(u, None, 9, 8).is_err());
    }

    #[test]
    fn mysql_set_add_matches_a_naive_model() {
        // Every insertion order of a small universe ends in the same intervals as a bitmap.
        let u = uuid(U2);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200 {
            let mut set = MysqlGtidSet::new();
            let mut model = [false; 40];
            for _ in 0..25 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let gno = 1 + state % 39;
                let was_new = !model[gno as usize];
                model[gno as usize] = true;
                assert_eq!(set.add(u, gno), Ok(was_new));
            }
            for gno in 1..40u64 {
                assert_eq!(set.contains(&u, gno), model[gno as usize], "gno {gno}");
            }
            let iv = set.intervals(&u, None);
            assert!(iv.windows(2).all(|w| w[0].1 + 1 < w[1].0), "{iv:?}");
        }
    }

    #[test]
    fn mysql_set_tags() {
        let text = format!("{U2}:1-5:alpha:1-3:beta:7");
        let set: MysqlGtidSet = text.parse().unwrap();
        assert_eq!(set.to_string(), text);
        let u = uuid(U2);
        assert!(set.contains(&u, 5));
        assert!(set.contains_tagged(&u, "alpha", 3));
        assert!(set.contains_tagged(&u, "ALPHA", 3));
        assert!(!set.contains_tagged(&u, "alpha", 4));
        assert!(!set.contains_tagged(&u, "gamma", 1));
        // Only tagged GTIDs for a UUID; upper-case tags are stored lowercased.
        let only: MysqlGtidSet = format!("{U2}:Tag_1:4").parse().unwrap();
        assert_eq!(only.to_string(), format!("{U2}:tag_1:4"));
        let mut s = MysqlGtidSet::new();
        assert_eq!(s.add_tagged(u, "x", 2), Ok(true));
        assert!(s.add_tagged(u, "9x", 2).is_err());
        assert_eq!(s.to_string(), format!("{U2}:x:2"));
    }

    #[test]
    fn mysql_set_subset_and_union() {
        let a: MysqlGtidSet = format!("{U1}:1-5,{U2}:3").parse().unwrap();
        let b: MysqlGtidSet = format!("{U1}:1-10,{U2}:1-4:9").parse().unwrap();
        assert!(a.is_subset_of(&b));
        assert!(!b.is_subset_of(&a));
        assert!(MysqlGtidSet::new().is_subset_of(&a));
        let c: MysqlGtidSet = format!("{U1}:1-5:7").parse().unwrap();
        assert!(c.is_subset_of(&b));
        assert!(!c.is_subset_of(&a));
        let tagged: MysqlGtidSet = format!("{U1}:1:t:1").parse().unwrap();
        assert!(!tagged.is_subset_of(&b));
        let mut u = a.clone();
        u.union_with(&c);
        u.union_with(&tagged);
        assert_eq!(u.to_string(), format!("{U1}:1-5:7:t:1,{U2}:3"));
    }

    #[test]
    fn mysql_set_binary_form() {
        let set: MysqlGtidSet = format!("{U1}:1-5:7").parse().unwrap();
        let b = set.encode_sid_block();
        let mut want = Vec::new();
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&uuid(U1));
        want.extend_from_slice(&2u64.to_le_bytes());
        for v in [1i64, 6, 7, 8] {
            want.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(b, want);
        assert_eq!(MysqlGtidSet::new().encode_sid_block(), 0u64.to_le_bytes());

        let tagged: MysqlGtidSet = format!("{U1}:3:ab:1").parse().unwrap();
        let b = tagged.encode_sid_block();
        let mut want = Vec::new();
        want.extend_from_slice(&((2u64 << 8) | (1 << 56)).to_le_bytes());
        want.extend_from_slice(&uuid(U1));
        want.push(0);
        want.extend_from_slice(&1u64.to_le_bytes());
        for v in [3i64, 4] {
            want.extend_from_slice(&v.to_le_bytes());
        }
        want.extend_from_slice(&uuid(U1));
        want.push(2 << 1);
        want.extend_from_slice(b"ab");
        want.extend_from_slice(&1u64.to_le_bytes());
        for v in [1i64, 2] {
            want.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(b, want);
    }

    #[test]
    fn mysql_set_to_sids_matches_the_text() {
        let text = format!("{}:1-5:7,{U2}:2:tg:4-6", U1.to_lowercase());
        let set: MysqlGtidSet = text.parse().unwrap();
        let sids = set.to_sids();
        let rendered: Vec<String> = sids.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            rendered,
            [
                format!("{}:1-5:7", U1.to_lowercase()),
                format!("{U2}:2"),
                format!("{U2}:tg:4-6"),
            ]
        );
        assert_eq!(sids[0].intervals()[0].end(), 6);
        assert_eq!(sids[2].tag().map(|t| t.as_str()), Some("tg"));
    }
}
