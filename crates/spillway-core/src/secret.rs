//! Secrets in connector configs: which keys hold them, how a value is shown without them,
//! and text made safe to print.
//!
//! A config reaches REST answers, CLI output and logs only through [`shown_value`], which
//! masks a value by its key's name ([`is_secret_key`]) and by its shape ([`mask_in_text`]:
//! passwords inside URLs, in any encoding, and `password=` settings inside connection
//! strings). [`printable`] escapes control characters so that a value can never forge a
//! log line or a terminal sequence.

use std::borrow::Cow;
use std::fmt;

/// How a secret is shown: in REST answers, CLI output, logs and errors.
pub const MASK: &str = "********";

/// A secret string that never prints.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for handing to a client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{MASK}\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Endings of key names that hold secrets, as Kafka, librdkafka, Debezium, the JDBC sink
/// and schema registry clients name them (compared in lower case, `_` read as `.`).
const SECRET_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "api.key",
    "user.info",
    "key.pem",
    "private.key",
    "jaas.config",
    "oauthbearer.config",
    "token",
    "credentials",
    "credentials.json",
    "secret.access.key",
    "session.key",
    "access.key",
];

/// Whether a key holds a secret: `*.password`, `*.secret`, `*.api.key`, `*.user.info`,
/// `*.key.pem`, `*.keystore.*`, `sasl.jaas.config`, `sasl.oauthbearer.config`, tokens and
/// credentials. Keys whose name is percent-encoded are decoded first.
pub fn is_secret_key(key: &str) -> bool {
    let k = percent_decode(key).to_ascii_lowercase().replace('_', ".");
    let k = k.trim();
    SECRET_ENDINGS.iter().any(|end| k.ends_with(end))
        || k.contains("keystore.")
        || k.starts_with("keystore")
        || k.contains("sasl.jaas.config")
        || k.contains("sasl.oauthbearer.config")
}

/// A config value as it may be shown: [`MASK`] for a secret key, else the value with any
/// password it carries masked.
pub fn shown_value<'a>(key: &str, value: &'a str) -> Cow<'a, str> {
    // A value that is a config-provider reference and nothing else holds no secret: it
    // says where the secret is read from, as Kafka Connect shows it.
    if crate::providers::is_whole_reference(value) {
        return Cow::Borrowed(value);
    }
    if is_secret_key(key) {
        Cow::Borrowed(MASK)
    } else {
        mask_in_text(value)
    }
}

/// Keys inside URLs and connection strings whose values are secrets.
fn is_secret_parameter(name: &str) -> bool {
    let n = percent_decode(name).to_ascii_lowercase();
    let n = n.trim();
    matches!(n, "pwd" | "pass" | "sslpassword") || is_secret_key(n)
}

/// `text` with every password it holds replaced by [`MASK`]: the password of a URL's user
/// (`scheme://user:password@host`, whatever characters it has), and the value of any
/// `password=`-like parameter of a URL query or a `key=value` connection string
/// (`;`, `&` or space separated, keys percent-decoded).
pub fn mask_in_text(text: &str) -> Cow<'_, str> {
    // The two passes can each uncover work for the other (a masked parameter value may have
    // held the comma that ended a URL's user info): mask until nothing changes. Each pass
    // only replaces text with the mask, so ordinary text settles after a pass or two.
    let first = mask_once(text);
    let mut masked = first.clone();
    for _ in 0..MAX_MASK_PASSES {
        match mask_once(&masked) {
            Cow::Borrowed(_) => return masked,
            Cow::Owned(again) if again == *masked => return masked,
            Cow::Owned(again) => masked = Cow::Owned(again),
        }
    }
    // Crafted text that keeps uncovering more: keep what precedes the first secret and
    // mask everything after it (more than needed, never less, and stable when masked again).
    let at = text
        .char_indices()
        .zip(first.chars())
        .find(|((_, a), b)| a != b)
        .map_or(text.len().min(first.len()), |((i, _), _)| i);
    let cut = format!("{}{MASK}", &text[..at]);
    match mask_once(&cut) {
        Cow::Owned(again) if again != cut => Cow::Owned(MASK.to_string()),
        _ => Cow::Owned(cut),
    }
}

/// Passes of [`mask_in_text`] before it masks the rest of a text wholesale.
const MAX_MASK_PASSES: usize = 64;

fn mask_once(text: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    // URL user info: from "://" to the last '@' before the query, the fragment or the next
    // URL of a list.
    while let Some(scheme_end) = rest.find("://") {
        let (head, after) = rest.split_at(scheme_end + 3);
        out.push_str(head);
        let end = after
            .find(['?', '#', ',', ' ', '\t', '\n'])
            .unwrap_or(after.len());
        let authority_and_path = &after[..end];
        match authority_and_path.rfind('@') {
            Some(at) => {
                let userinfo = &authority_and_path[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon + 1]);
                        out.push_str(MASK);
                        changed = true;
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority_and_path[at..]);
            }
            None => out.push_str(authority_and_path),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    // key=value parameters.
    let masked = mask_parameters(&out);
    if let Cow::Owned(m) = masked {
        return Cow::Owned(m);
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Masks the value of each `name=value` whose name is a secret parameter; parameters are
/// separated by `?`, `&`, `;` or whitespace.
fn mask_parameters(text: &str) -> Cow<'_, str> {
    let separator = |c: char| matches!(c, '?' | '&' | ';' | ' ' | '\t' | '\n');
    let mut out = String::new();
    let mut copied = 0;
    let mut start = 0;
    while start < text.len() {
        let end = text[start..]
            .find(separator)
            .map_or(text.len(), |e| start + e);
        let token = &text[start..end];
        if let Some(eq) = token.find('=') {
            let value_start = start + eq + 1;
            if eq > 0 && is_secret_parameter(&token[..eq]) && &text[value_start..end] != MASK {
                out.push_str(&text[copied..value_start]);
                out.push_str(MASK);
                copied = end;
            }
        }
        start = end + 1;
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// `%XX` sequences decoded (invalid ones kept as they are), for comparing names.
fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Whether two credentials are equal, in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `text` with control characters escaped (`\n`, `\r`, `\t`, `\u{1b}`…), so that a value
/// from a config, a server or a request prints as one line and sends no terminal sequence.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape_controls(text, false)
}

/// As [`printable`], but line breaks are kept: for messages made of several lines (an
/// error and its hint) printed to a terminal.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escape_controls(text, true)
}

fn escape_controls(text: &str, keep_lines: bool) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !(keep_lines && c == '\n');
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !escaped(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s} {s:?}").contains("hunter2"));
    }

    #[test]
    fn secret_keys_of_every_client_are_recognised() {
        for key in [
            "database.password",
            "connection.password",
            "kafka.api.secret",
            "kafka.api.key",
            "kafka.sasl.password",
            "kafka.ssl.key.pem",
            "kafka.ssl.key.password",
            "kafka.ssl.keystore.location",
            "kafka.ssl.keystore.password",
            "kafka.ssl.keystore.key",
            "kafka.sasl.jaas.config",
            "kafka.sasl.oauthbearer.config",
            "kafka.sasl.oauthbearer.client.secret",
            "database.ssl.truststore.password",
            "database.sslpassword",
            "schema.registry.basic.auth.user.info",
            "value.converter.basic.auth.user.info",
            "bearer.auth.token",
            "database%2Epassword",
            "DATABASE.PASSWORD",
            "ssl_key_password",
        ] {
            assert!(is_secret_key(key), "{key} is a secret");
        }
        for key in [
            "database.user",
            "database.hostname",
            "connection.url",
            "kafka.ssl.ca.location",
            "topic.prefix",
            "kafka.ssl.certificate.location",
        ] {
            assert!(!is_secret_key(key), "{key} is not a secret");
        }
    }

    #[test]
    fn passwords_inside_urls_and_connection_strings_are_masked() {
        for (given, shown) in [
            (
                "postgresql://u:secret@127.0.0.1:5432/db",
                "postgresql://u:********@127.0.0.1:5432/db",
            ),
            (
                "postgresql://u:se/cr@et@127.0.0.1:5432/db",
                "postgresql://u:********@127.0.0.1:5432/db",
            ),
            (
                "jdbc:postgresql://h/db?user=a&password=b&x=1",
                "jdbc:postgresql://h/db?user=a&password=********&x=1",
            ),
            (
                "postgresql://h/db?user=a&pass%77ord=b",
                "postgresql://h/db?user=a&pass%77ord=********",
            ),
            (
                "postgresql://h/db?user=a&PASSWORD=b",
                "postgresql://h/db?user=a&PASSWORD=********",
            ),
            (
                "host=h user=u password=p dbname=d",
                "host=h user=u password=******** dbname=d",
            ),
            (
                "jdbc:sqlserver://h;user=u;password=p;db=d",
                "jdbc:sqlserver://h;user=u;password=********;db=d",
            ),
            (
                "http://a:b@r1:8081,http://c:d@r2:8081",
                "http://a:********@r1:8081,http://c:********@r2:8081",
            ),
            ("http://u@h:1/x", "http://u@h:1/x"),
            ("sqlite:data/p.db", "sqlite:data/p.db"),
            // Found by fuzzing: masking the parameter removed the comma that ended the
            // URL's user info, so a second masking changed more.
            ("://keystore.=,;:@", "://keystore.=********;:********@"),
        ] {
            assert_eq!(mask_in_text(given), shown, "{given}");
        }
        assert_eq!(shown_value("database.password", "x"), MASK);
        assert_eq!(
            shown_value("database.password", "${file:/s.properties:pw}"),
            "${file:/s.properties:pw}"
        );
        assert_eq!(shown_value("database.password", "x${env:A}"), MASK);
        assert_eq!(shown_value("topic.prefix", "x"), "x");
    }

    #[test]
    fn masking_any_text_never_panics_and_is_idempotent() {
        let alphabet: Vec<char> = ":/@?&;= %7Gpasword\té".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let text: String = (0..(state % 48))
                .map(|i| alphabet[((state >> (i % 40)) as usize + i as usize) % alphabet.len()])
                .collect();
            let masked = mask_in_text(&text);
            let _ = is_secret_key(&text);
            // Masking what is masked changes nothing more.
            assert_eq!(mask_in_text(&masked), masked, "{text:?}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\nb\r\t\u{1b}[31m"), "a\\nb\\r\\t\\u{1b}[31m");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(printable_lines("a\nhint: b\u{1b}"), "a\nhint: b\\u{1b}");
    }
}
