//! Property tests of the core's encode/decode pairs and ordering rules, each checked against
//! a plain reference: positions and offsets as offset stores serialize them, Connect decimal
//! bytes against `i128`, calendar arithmetic against day-by-day counting, and the ack
//! tracker's contiguous-prefix rule under every order of acknowledgements.

use proptest::prelude::*;
use spillway_core::convert::{
    civil_from_days, days_from_civil, decimal_text, format_utc_timestamp, twos_complement,
    Fraction, DAY_US,
};
use spillway_core::{AckTracker, Offset, Phase, Position};

// ---------------------------------------------------------------------------------------
// Positions and offsets
// ---------------------------------------------------------------------------------------

fn position() -> impl Strategy<Value = Position> {
    let edge = prop_oneof![
        Just(0u64),
        Just(1u64),
        Just(u64::MAX - 1),
        Just(u64::MAX),
        any::<u64>(),
        0u64..16,
    ];
    (any::<bool>(), edge.clone(), edge.clone(), edge).prop_map(|(snapshot, log, sub, row)| {
        Position {
            phase: if snapshot {
                Phase::Snapshot
            } else {
                Phase::Stream
            },
            log,
            sub,
            row,
        }
    })
}

fn offset() -> impl Strategy<Value = Offset> {
    let state = prop_oneof![
        Just(None),
        "[ -~]{0,40}"
            .prop_map(|gtid| Some(serde_json::json!({"file": "b.000001", "pos": 4, "gtid": gtid}))),
        any::<i64>().prop_map(|n| Some(serde_json::json!(n))),
    ];
    (position(), state).prop_map(|(position, state)| Offset { position, state })
}

/// The order positions must have: phase (snapshot first), then log, sub and row.
fn reference_key(p: &Position) -> (u8, u64, u64, u64) {
    (u8::from(p.phase == Phase::Stream), p.log, p.sub, p.row)
}

proptest! {
    #[test]
    fn offsets_read_back_as_written(offset in offset()) {
        let text = serde_json::to_string(&offset).expect("an offset serializes");
        let back: Offset = serde_json::from_str(&text).expect("a written offset reads back");
        prop_assert_eq!(&back, &offset);
        // Rendering is canonical: what was read renders to the same text.
        prop_assert_eq!(serde_json::to_string(&back).expect("serializes"), text);
    }

    #[test]
    fn positions_order_by_phase_log_sub_then_row(a in position(), b in position()) {
        prop_assert_eq!(a.cmp(&b), reference_key(&a).cmp(&reference_key(&b)));
        // The order survives the offset store's round trip.
        let read = |p: &Position| -> Position {
            serde_json::from_str(&serde_json::to_string(p).expect("serializes")).expect("reads")
        };
        prop_assert_eq!(read(&a).cmp(&read(&b)), a.cmp(&b));
    }

    #[test]
    fn position_text_tells_positions_apart(a in position(), b in position()) {
        prop_assert_eq!(a.to_string() == b.to_string(), a == b);
        prop_assert_eq!(a.to_string().ends_with(":end"), a.is_end_of_transaction());
    }
}

// ---------------------------------------------------------------------------------------
// Connect decimals: unscaled big-endian two's complement bytes
// ---------------------------------------------------------------------------------------

/// Java's `BigInteger.toByteArray` of `n`: big-endian two's complement, minimal length.
fn reference_bytes(n: i128) -> Vec<u8> {
    let mut bytes = n.to_be_bytes().to_vec();
    while bytes.len() > 1
        && ((bytes[0] == 0x00 && bytes[1] & 0x80 == 0)
            || (bytes[0] == 0xff && bytes[1] & 0x80 != 0))
    {
        bytes.remove(0);
    }
    bytes
}

/// `n / 10^scale` written out with exactly `scale` digits after the point.
fn reference_text(n: i128, scale: u32) -> String {
    let digits = n.unsigned_abs().to_string();
    let sign = if n < 0 { "-" } else { "" };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// The integer that big-endian two's complement `bytes` (1 to 16 of them) stand for.
fn reference_value(bytes: &[u8]) -> i128 {
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    i128::from_be_bytes(full)
}

fn wide_integer() -> impl Strategy<Value = i128> {
    prop_oneof![
        any::<i128>(),
        any::<i64>().prop_map(i128::from),
        -300i128..300,
        (0u32..127).prop_map(|b| 1i128 << b),
        (0u32..127).prop_map(|b| -(1i128 << b)),
        (0u32..127).prop_map(|b| (1i128 << b) - 1),
        Just(i128::MIN),
        Just(i128::MAX),
    ]
}

proptest! {
    #[test]
    fn decimal_bytes_match_java_biginteger(n in wide_integer()) {
        let bytes = twos_complement(&n.unsigned_abs().to_string(), n < 0);
        prop_assert_eq!(&bytes, &reference_bytes(n));
        prop_assert_eq!(reference_value(&bytes), n);
    }

    #[test]
    fn decimal_text_reads_the_bytes_at_any_scale(n in wide_integer(), scale in 0u32..45) {
        prop_assert_eq!(decimal_text(&reference_bytes(n), scale), reference_text(n, scale));
    }

    #[test]
    fn decimal_text_reads_any_bytes_even_not_minimal(bytes in proptest::collection::vec(any::<u8>(), 1..=16)) {
        let n = reference_value(&bytes);
        let text = decimal_text(&bytes, 0);
        prop_assert_eq!(&text, &n.to_string());
        // And back to the minimal form.
        let digits = text.trim_start_matches('-');
        prop_assert_eq!(twos_complement(digits, n < 0), reference_bytes(n));
    }

    #[test]
    fn decimal_digits_round_trip_beyond_128_bits(
        digits in "[0-9]{1,120}",
        negative in any::<bool>(),
        scale in 0u32..10,
    ) {
        let significant = digits.trim_start_matches('0');
        let magnitude = if significant.is_empty() { "0" } else { significant };
        let sign = if negative && magnitude != "0" { "-" } else { "" };
        let bytes = twos_complement(&digits, negative);
        prop_assert_eq!(decimal_text(&bytes, 0), format!("{sign}{magnitude}"));
        // Scaling only moves the point.
        let scaled = decimal_text(&bytes, scale);
        let unpointed = scaled.replace('.', "");
        prop_assert_eq!(unpointed.trim_start_matches(['-', '0']), magnitude.trim_start_matches('0'));
        prop_assert_eq!(scaled.split_once('.').map_or(0, |(_, f)| f.len()), scale as usize);
        // Minimal: no redundant sign byte at the front.
        if bytes.len() > 1 {
            let redundant = (bytes[0] == 0 && bytes[1] & 0x80 == 0) || (bytes[0] == 0xff && bytes[1] & 0x80 != 0);
            prop_assert!(!redundant, "{:?} is not minimal", bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Calendar arithmetic
// ---------------------------------------------------------------------------------------

fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01, counted a year and a month at a time (proleptic Gregorian).
fn reference_days(year: i64, month: u32, day: u32) -> i64 {
    let year_len = |y: i64| if is_leap(y) { 366 } else { 365 };
    let mut days: i64 = if year >= 1970 {
        (1970..year).map(year_len).sum()
    } else {
        -(year..1970).map(year_len).sum::<i64>()
    };
    days += (1..month)
        .map(|m| i64::from(days_in_month(year, m)))
        .sum::<i64>();
    days + i64::from(day) - 1
}

/// The calendar day after `(y, m, d)`.
fn next_day((y, m, d): (i64, u32, u32)) -> (i64, u32, u32) {
    if d < days_in_month(y, m) {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    }
}

fn civil_date() -> impl Strategy<Value = (i64, u32, u32)> {
    (-6000i64..12000, 1u32..=12).prop_flat_map(|(y, m)| (Just(y), Just(m), 1..=days_in_month(y, m)))
}

proptest! {
    #[test]
    fn day_numbers_match_counting_days((y, m, d) in civil_date()) {
        let days = days_from_civil(y, m, d);
        prop_assert_eq!(days, reference_days(y, m, d));
        prop_assert_eq!(civil_from_days(days), (y, m, d));
    }

    #[test]
    fn consecutive_day_numbers_are_consecutive_dates(days in -4_000_000i64..4_000_000) {
        let date = civil_from_days(days);
        prop_assert_eq!(days_from_civil(date.0, date.1, date.2), days);
        prop_assert_eq!(civil_from_days(days + 1), next_day(date));
    }

    #[test]
    fn utc_timestamps_show_the_date_and_time_of_their_micros(
        (y, m, d) in (1i64..=9999, 1u32..=12).prop_flat_map(|(y, m)| (Just(y), Just(m), 1..=days_in_month(y, m))),
        micros_of_day in 0i64..DAY_US,
    ) {
        let micros = reference_days(y, m, d) * DAY_US + micros_of_day;
        let secs = micros_of_day / 1_000_000;
        let expected = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            micros_of_day % 1_000_000
        );
        prop_assert_eq!(format_utc_timestamp(micros, Fraction::Fixed(6)), expected.clone());
        let trimmed = format_utc_timestamp(micros, Fraction::Trimmed);
        let (whole, fraction) = expected.trim_end_matches('Z').split_once('.').expect("a fraction");
        let fraction = fraction.trim_end_matches('0');
        let want = if fraction.is_empty() { format!("{whole}Z") } else { format!("{whole}.{fraction}Z") };
        prop_assert_eq!(trimmed, want);
    }
}

// ---------------------------------------------------------------------------------------
// Ordered acknowledgements
// ---------------------------------------------------------------------------------------

/// Batches (each with a checkpoint or none), the order acks arrive in, and which batches
/// are acknowledged at all.
fn ack_scenario() -> impl Strategy<Value = (Vec<bool>, Vec<usize>, Vec<bool>)> {
    (1usize..40).prop_flat_map(|n| {
        (
            proptest::collection::vec(proptest::bool::weighted(0.8), n),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            proptest::collection::vec(proptest::bool::weighted(0.85), n),
        )
    })
}

proptest! {
    #[test]
    fn committable_is_the_checkpoint_of_the_longest_acknowledged_prefix(
        (has_checkpoint, order, delivered) in ack_scenario(),
        duplicate_every in 1usize..6,
    ) {
        let n = has_checkpoint.len();
        let checkpoint = |i: usize| Offset::new(Position::stream(100, i as u64, 0));
        let mut tracker = AckTracker::new();
        let seqs: Vec<u64> = (0..n)
            .map(|i| tracker.register(has_checkpoint[i].then(|| checkpoint(i))))
            .collect();
        let mut acked = vec![false; n];
        for (step, &i) in order.iter().enumerate() {
            if !delivered[i] {
                continue;
            }
            tracker.ack(seqs[i]);
            if step % duplicate_every == 0 {
                // A repeated ack and an unknown sequence number change nothing.
                tracker.ack(seqs[i]);
                tracker.ack(u64::MAX - step as u64);
            }
            acked[i] = true;
            let prefix = acked.iter().take_while(|a| **a).count();
            let expected = (0..prefix).rev().find(|&j| has_checkpoint[j]).map(checkpoint);
            prop_assert_eq!(tracker.committable(), expected.as_ref(), "after acking batch {}", i);
            prop_assert_eq!(tracker.in_flight(), n - prefix);
            // Never beyond an unacknowledged batch.
            if let Some(c) = tracker.committable() {
                let first_missing = acked.iter().position(|a| !a).unwrap_or(n);
                prop_assert!(c.position < checkpoint(first_missing).position);
            }
        }
    }
}
