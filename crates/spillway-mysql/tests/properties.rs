//! Property tests of the MySQL crate's positions and GTIDs, through its public API only:
//! the text forms round-trip and render canonically, and the set laws hold (a set contains
//! what was added to it and nothing else, union contains both sides, subsets agree with
//! membership), each checked against a plain model of the same set.

use proptest::prelude::*;
use spillway_core::Position;
use spillway_mysql::decode::gtid::{
    format_uuid, parse_uuid, GtidPosition, GtidSet, MariaGtid, MariaGtidList, MysqlGtidSet, MAX_GNO,
};
use spillway_mysql::position::{file_sequence, BinlogPosition};
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------------------
// Binlog positions
// ---------------------------------------------------------------------------------------

fn binlog_position() -> impl Strategy<Value = BinlogPosition> {
    (
        "[a-z][a-z0-9_-]{0,12}",
        0u64..1_000_000,
        4u64..u64::from(u32::MAX),
        proptest::option::of("[0-9]-[0-9]-[0-9]{1,5}"),
    )
        .prop_map(|(base, seq, pos, gtid)| BinlogPosition {
            file: format!("{base}.{seq:06}"),
            pos,
            gtid: gtid.map(|g| GtidSet::read(&g)),
        })
}

proptest! {
    #[test]
    fn binlog_positions_read_back_from_their_checkpoint(place in binlog_position()) {
        let checkpoint = place.checkpoint();
        prop_assert_eq!(BinlogPosition::from_offset(&checkpoint), Some(place.clone()));
        // Through the offset store's JSON too.
        let text = serde_json::to_string(&checkpoint).expect("serializes");
        let read: spillway_core::Offset = serde_json::from_str(&text).expect("reads back");
        prop_assert_eq!(BinlogPosition::from_offset(&read), Some(place));
    }

    #[test]
    fn file_sequence_reads_the_number_a_file_name_ends_with(base in "[a-z][a-z0-9_-]{0,12}", seq in 0u64..=999_999_999) {
        prop_assert_eq!(file_sequence(&format!("{base}.{seq:06}")), seq);
    }

    #[test]
    fn checkpoints_order_like_binlog_places(a in binlog_position(), b in binlog_position()) {
        let place = |p: &BinlogPosition| (file_sequence(&p.file), p.pos);
        let (ca, cb) = (a.checkpoint().position, b.checkpoint().position);
        if place(&a) < place(&b) {
            prop_assert!(ca < cb, "{} before {}", a, b);
        }
        prop_assert_eq!(place(&a) == place(&b), ca == cb);
    }

    #[test]
    fn a_transaction_end_sorts_after_its_rows_and_before_the_next_transaction(
        file in 1u64..1_000_000,
        start in 4u64..1_000_000,
        length in 1u64..1_000_000,
        row in 0u64..u64::MAX,
    ) {
        let next = start + length;
        let end = BinlogPosition { file: format!("binlog.{file:06}"), pos: next, gtid: None }
            .checkpoint()
            .position;
        prop_assert!(end.is_end_of_transaction());
        prop_assert!(Position::stream(file, start, row) < end);
        prop_assert!(end < Position::stream(file, next, 0));
        prop_assert!(end < Position::stream(file + 1, 4, 0));
    }
}

// ---------------------------------------------------------------------------------------
// MySQL GTID sets
// ---------------------------------------------------------------------------------------

/// A few UUIDs, so sets share servers often.
fn uuid() -> impl Strategy<Value = [u8; 16]> {
    prop_oneof![
        3 => (0u8..4).prop_map(|n| {
            let mut u = [0x3e; 16];
            u[15] = n;
            u
        }),
        1 => any::<[u8; 16]>(),
    ]
}

fn gno() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 1u64..200,
        1 => Just(MAX_GNO),
        1 => (MAX_GNO - 50)..=MAX_GNO,
        1 => 1u64..=MAX_GNO,
    ]
}

fn interval() -> impl Strategy<Value = (u64, u64)> {
    (gno(), 0u64..40).prop_map(|(first, len)| (first, first.saturating_add(len).min(MAX_GNO)))
}

fn tag() -> impl Strategy<Value = Option<String>> {
    prop_oneof![3 => Just(None), 1 => "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_map(Some)]
}

/// Intervals added to a set, as `(uuid, tag, first, last)`.
type Adds = Vec<([u8; 16], Option<String>, (u64, u64))>;

fn adds() -> impl Strategy<Value = Adds> {
    proptest::collection::vec((uuid(), tag(), interval()), 0..12)
}

fn build(adds: &Adds) -> MysqlGtidSet {
    let mut set = MysqlGtidSet::new();
    for (uuid, tag, (first, last)) in adds {
        set.add_interval(*uuid, tag.as_deref(), *first, *last)
            .expect("a valid interval is accepted");
    }
    set
}

/// The GTIDs of `adds` near `gno` (the sets are too large to list whole): each interval's
/// ends and their neighbours.
fn probes(adds: &Adds) -> Vec<([u8; 16], Option<String>, u64)> {
    let mut out = Vec::new();
    for (uuid, tag, (first, last)) in adds {
        for g in [
            first.saturating_sub(1),
            *first,
            *first + 1,
            last.saturating_sub(1),
            *last,
            last + 1,
        ] {
            if (1..=MAX_GNO).contains(&g) {
                out.push((*uuid, tag.as_ref().map(|t| t.to_ascii_lowercase()), g));
            }
        }
    }
    out
}

/// Whether the model of `adds` has the GTID: some added interval covers it.
fn modelled(adds: &Adds, uuid: &[u8; 16], tag: &Option<String>, gno: u64) -> bool {
    adds.iter().any(|(u, t, (first, last))| {
        u == uuid
            && t.as_ref().map(|t| t.to_ascii_lowercase()) == *tag
            && (*first..=*last).contains(&gno)
    })
}

fn contains(set: &MysqlGtidSet, uuid: &[u8; 16], tag: &Option<String>, gno: u64) -> bool {
    match tag {
        None => set.contains(uuid, gno),
        Some(t) => set.contains_tagged(uuid, t, gno),
    }
}

proptest! {
    #[test]
    fn a_gtid_set_contains_exactly_what_was_added(adds in adds(), others in adds()) {
        let set = build(&adds);
        for (uuid, tag, gno) in probes(&adds).into_iter().chain(probes(&others)) {
            prop_assert_eq!(
                contains(&set, &uuid, &tag, gno),
                modelled(&adds, &uuid, &tag, gno),
                "{}:{:?}:{} in {}", format_uuid(&uuid), tag, gno, set
            );
        }
    }

    #[test]
    fn adding_a_gtid_makes_the_set_contain_it(adds in adds(), uuid in uuid(), gno in gno()) {
        let mut set = build(&adds);
        let before = set.clone();
        let new = set.add(uuid, gno).expect("a valid GTID");
        prop_assert!(set.contains(&uuid, gno));
        prop_assert_eq!(new, !before.contains(&uuid, gno), "add reports whether it was new");
        prop_assert!(before.is_subset_of(&set));
        prop_assert_eq!(set == before, !new);
    }

    #[test]
    fn gtid_set_text_round_trips_and_is_canonical(adds in adds()) {
        let set = build(&adds);
        let text = set.to_string();
        let read: MysqlGtidSet = text.parse().expect("a rendered set reads back");
        prop_assert_eq!(&read, &set);
        prop_assert_eq!(read.to_string(), text.clone());
        // The order of the additions does not change the text.
        let mut reversed = adds.clone();
        reversed.reverse();
        prop_assert_eq!(build(&reversed).to_string(), text);
    }

    #[test]
    fn gtid_set_text_with_blanks_and_upper_case_reads_the_same_set(adds in adds()) {
        let set = build(&adds);
        let text = set.to_string();
        let loose = text.replace(',', " ,\n ").replace(':', " : ");
        let read: MysqlGtidSet = loose.parse().expect("blanks around parts are allowed");
        prop_assert_eq!(&read, &set);
        let upper: MysqlGtidSet = text.to_ascii_uppercase().parse().expect("upper case reads");
        prop_assert_eq!(&upper, &set, "equality ignores case");
        // Rendering keeps the UUIDs' case as read, so it reads back again.
        let again: MysqlGtidSet = upper.to_string().parse().expect("reads back");
        prop_assert_eq!(&again, &set);
    }

    #[test]
    fn union_contains_both_sides_and_nothing_else(a in adds(), b in adds()) {
        let (sa, sb) = (build(&a), build(&b));
        let mut union = sa.clone();
        union.union_with(&sb);
        prop_assert!(sa.is_subset_of(&union));
        prop_assert!(sb.is_subset_of(&union));
        let both: Adds = a.iter().chain(&b).cloned().collect();
        prop_assert_eq!(&union, &build(&both), "union is adding both sides' intervals");
        for (uuid, tag, gno) in probes(&a).into_iter().chain(probes(&b)) {
            prop_assert_eq!(
                contains(&union, &uuid, &tag, gno),
                contains(&sa, &uuid, &tag, gno) || contains(&sb, &uuid, &tag, gno)
            );
        }
        // Commutative and idempotent.
        let mut other_way = sb.clone();
        other_way.union_with(&sa);
        prop_assert_eq!(&other_way, &union);
        let mut twice = union.clone();
        twice.union_with(&sa);
        prop_assert_eq!(&twice, &union);
    }

    #[test]
    fn subset_agrees_with_membership(a in adds(), b in adds()) {
        let (sa, sb) = (build(&a), build(&b));
        if sa.is_subset_of(&sb) {
            for (uuid, tag, gno) in probes(&a) {
                if contains(&sa, &uuid, &tag, gno) {
                    prop_assert!(contains(&sb, &uuid, &tag, gno));
                }
            }
        }
        prop_assert_eq!(sa.is_subset_of(&sb) && sb.is_subset_of(&sa), sa == sb);
    }

    #[test]
    fn uuids_read_back_from_their_text(uuid in any::<[u8; 16]>()) {
        let text = format_uuid(&uuid);
        prop_assert_eq!(parse_uuid(&text), Ok(uuid));
        prop_assert_eq!(parse_uuid(&text.to_ascii_uppercase()), Ok(uuid));
        prop_assert_eq!(parse_uuid(&text.replace('-', "")), Ok(uuid));
        prop_assert_eq!(parse_uuid(&format!("{{{text}}}")), Ok(uuid));
    }
}

// ---------------------------------------------------------------------------------------
// MariaDB GTID positions
// ---------------------------------------------------------------------------------------

fn maria_gtid() -> impl Strategy<Value = MariaGtid> {
    (
        prop_oneof![0u32..4, any::<u32>()],
        any::<u32>(),
        prop_oneof![0u64..100, any::<u64>()],
    )
        .prop_map(|(domain, server, seq)| MariaGtid::new(domain, server, seq))
}

proptest! {
    #[test]
    fn maria_gtid_text_round_trips(gtid in maria_gtid()) {
        prop_assert_eq!(gtid.to_string().parse::<MariaGtid>(), Ok(gtid));
    }

    #[test]
    fn maria_position_keeps_the_last_gtid_of_each_domain(gtids in proptest::collection::vec(maria_gtid(), 0..12)) {
        let list = MariaGtidList::from_gtids(gtids.clone());
        let mut model: BTreeMap<u32, MariaGtid> = BTreeMap::new();
        for g in &gtids {
            model.insert(g.domain, *g);
        }
        prop_assert_eq!(list.iter().copied().collect::<Vec<_>>(), model.values().copied().collect::<Vec<_>>());
        prop_assert_eq!(list.len(), model.len());
        // Text: domain order, and back.
        let text = list.to_string();
        let read: MariaGtidList = text.parse().expect("a rendered position reads back");
        prop_assert_eq!(&read, &list);
        prop_assert_eq!(read.to_string(), text);
        // A position contains its own GTIDs, and in each domain exactly the sequence numbers
        // up to its own, whatever the server.
        for g in list.iter() {
            prop_assert!(list.contains(g));
            prop_assert!(list.contains(&MariaGtid::new(g.domain, g.server.wrapping_add(1), g.seq)));
            if g.seq < u64::MAX {
                prop_assert!(!list.contains(&MariaGtid::new(g.domain, g.server, g.seq + 1)));
            }
        }
        let domains: BTreeSet<u32> = model.keys().copied().collect();
        for g in &gtids {
            let absent = g.domain.wrapping_add(1);
            if !domains.contains(&absent) {
                prop_assert!(!list.contains(&MariaGtid::new(absent, g.server, 0)));
            }
        }
    }

    #[test]
    fn updating_a_maria_position_makes_it_contain_the_gtid(gtids in proptest::collection::vec(maria_gtid(), 0..8), gtid in maria_gtid()) {
        let mut list = MariaGtidList::from_gtids(gtids);
        list.update(gtid);
        prop_assert!(list.contains(&gtid));
        prop_assert_eq!(list.get(gtid.domain), Some(&gtid));
    }

    #[test]
    fn gtid_positions_read_back_from_offsets(adds in adds(), gtids in proptest::collection::vec(maria_gtid(), 0..8)) {
        for position in [
            GtidPosition::Mysql(build(&adds)),
            GtidPosition::Mariadb(MariaGtidList::from_gtids(gtids.clone())),
        ] {
            let json = serde_json::to_string(&position).expect("serializes");
            let read: GtidPosition = serde_json::from_str(&json).expect("reads back");
            prop_assert_eq!(&read, &position);
            prop_assert_eq!(serde_json::to_string(&read).expect("serializes"), json);
        }
    }
}
