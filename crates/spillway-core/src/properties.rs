//! Java `.properties` text, as `java.util.Properties.load` reads it: `key=value`,
//! `key: value` or `key value` lines, `#` and `!` comments, a backslash at the end of a line
//! continuing it, and `\t`, `\n`, `\r`, `\f`, `\uXXXX` and `\<any>` escapes in keys and
//! values. Kafka Connect's worker files, `FileConfigProvider` files and connector
//! `.properties` files are written this way.
//!
//! The parser is pure and total: any text gives entries or an error naming the line.

use std::collections::BTreeMap;

/// Why a properties text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {detail}")]
pub struct PropertiesError {
    /// The line (from 1) where the entry starts.
    pub line: usize,
    /// What is wrong.
    pub detail: String,
}

/// The entries of a properties text, later keys replacing earlier ones (as Java's).
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, PropertiesError> {
    let mut entries = BTreeMap::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let first = raw.trim_start_matches([' ', '\t', '\u{c}']);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continued lines: an odd number of backslashes at the end continues.
        let mut logical = first.to_string();
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start_matches([' ', '\t', '\u{c}'])),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        let key = unescape(key).map_err(|detail| PropertiesError {
            line: index + 1,
            detail,
        })?;
        let value = unescape(value).map_err(|detail| PropertiesError {
            line: index + 1,
            detail,
        })?;
        entries.insert(key, value);
    }
    Ok(entries)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// Splits a logical line at the first unescaped `=`, `:` or whitespace (whitespace around
/// the separator is not part of the key or the value).
fn split_entry(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | 0x0c => break,
            _ => i += 1,
        }
    }
    let i = i.min(line.len());
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches([' ', '\t', '\u{c}']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\u{c}']);
    }
    (key, rest)
}

fn unescape(text: &str) -> Result<String, String> {
    if !text.contains('\\') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uXXXX escape \\u{hex}"))?;
                // A surrogate pair spells one character in two escapes.
                let ch = match char::from_u32(code) {
                    Some(ch) => ch,
                    None if (0xD800..0xDC00).contains(&code) => {
                        let rest: String = chars.by_ref().take(6).collect();
                        let low = rest
                            .strip_prefix("\\u")
                            .and_then(|h| u32::from_str_radix(h, 16).ok())
                            .filter(|l| (0xDC00..0xE000).contains(l))
                            .ok_or_else(|| "an unpaired surrogate in a \\u escape".to_string())?;
                        char::from_u32(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
                            .ok_or_else(|| "an invalid \\u escape".to_string())?
                    }
                    None => return Err(format!("\\u{hex} is not a character")),
                };
                out.push(ch);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties_forms_are_read() {
        let text = "# comment\n! also\n  a=1\nb : two words \nc three\nd\\=e=f\nlong=one \\\n    two\nu=caf\\u00e9\\t\\u00e9\nempty=\nbare\nsmile=\\ud83d\\ude00\nslash=C:\\\\dir\n";
        let p = parse(text).unwrap();
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "two words ");
        assert_eq!(p["c"], "three");
        assert_eq!(p["d=e"], "f");
        assert_eq!(p["long"], "one two");
        assert_eq!(p["u"], "café\té");
        assert_eq!(p["empty"], "");
        assert_eq!(p["bare"], "");
        assert_eq!(p["smile"], "😀");
        assert_eq!(p["slash"], "C:\\dir");
        assert_eq!(p.len(), 10);
    }

    #[test]
    fn malformed_escapes_name_their_line_and_nothing_panics() {
        let e = parse("ok=1\nbad=\\u12\n").unwrap_err();
        assert_eq!(e.line, 2);
        let alphabet: Vec<char> = "ab=: \\\nu0#!\t\u{c}é".chars().collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let text: String = (0..(state % 40))
                .map(|i| alphabet[((state >> (i % 50)) as usize + i as usize) % alphabet.len()])
                .collect();
            let _ = parse(&text);
        }
    }
}
