//! Character data: MySQL's `latin1` (cp1252) and UTF-8 with invalid bytes replaced.

/// A byte of MySQL's `latin1` (which is cp1252, its five unassigned bytes mapped to the
/// code points of the same number) as a character.
pub(crate) fn latin1_char(b: u8) -> char {
    const CP1252_80_9F: [u16; 32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => char::from_u32(u32::from(CP1252_80_9F[usize::from(b - 0x80)]))
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(b),
    }
}

/// `String::from_utf8_lossy(b).into_owned()`, without the `Cow` in between.
pub(crate) fn utf8_lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}
