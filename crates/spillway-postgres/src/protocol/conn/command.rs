//! The text of replication commands: `START_REPLICATION` with its quoting, slot name
//! checks, and the checks of a command's reply.

use super::{format_lsn, ConnError};

/// Builds the `START_REPLICATION` command for pgoutput.
pub fn start_replication_command(
    slot: &str,
    start_lsn: u64,
    publications: &[String],
    proto_version: u32,
    messages: bool,
) -> Result<String, ConnError> {
    validate_slot_name(slot)?;
    if publications.is_empty() {
        return Err(ConnError::InvalidArgument(
            "at least one publication is required".into(),
        ));
    }
    let mut names = Vec::with_capacity(publications.len());
    for p in publications {
        if p.is_empty() || p.contains('\0') {
            return Err(ConnError::InvalidArgument(format!(
                "invalid publication name {p:?}"
            )));
        }
        names.push(quote_ident(p));
    }
    let mut sql = format!(
        "START_REPLICATION SLOT {} LOGICAL {} (proto_version '{proto_version}', publication_names {}",
        quote_ident(slot),
        format_lsn(start_lsn),
        quote_literal(&names.join(",")),
    );
    if messages {
        sql.push_str(", messages 'true'");
    }
    sql.push(')');
    Ok(sql)
}

/// Slot names are limited to lower-case letters, digits and underscores, at most 63.
pub(super) fn validate_slot_name(name: &str) -> Result<(), ConnError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConnError::InvalidArgument(format!(
            "invalid replication slot name {name:?}: use 1 to 63 lower-case letters, digits and underscores"
        )))
    }
}

pub(super) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub(super) fn bad_reply(command: &str, what: &str) -> ConnError {
    ConnError::Protocol(format!("unexpected {command} reply: {what}"))
}

pub(super) fn single_row(
    rows: Vec<Vec<Option<String>>>,
    min_columns: usize,
    command: &str,
) -> Result<Vec<Option<String>>, ConnError> {
    let n = rows.len();
    match rows.into_iter().next() {
        Some(row) if n == 1 && row.len() >= min_columns => Ok(row),
        _ => Err(bad_reply(
            command,
            &format!("expected one row of at least {min_columns} columns"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_replication_quoting() {
        let pubs = vec!["a".to_string(), "we\"ird,'name".to_string()];
        let sql = start_replication_command("slot_1", 0x1_0000_00A0, &pubs, 1, true).unwrap();
        assert_eq!(
            sql,
            "START_REPLICATION SLOT \"slot_1\" LOGICAL 1/A0 (proto_version '1', \
             publication_names '\"a\",\"we\"\"ird,''name\"', messages 'true')"
        );
        let sql = start_replication_command("s", 0, &pubs[..1], 1, false).unwrap();
        assert_eq!(
            sql,
            "START_REPLICATION SLOT \"s\" LOGICAL 0/0 (proto_version '1', publication_names '\"a\"')"
        );
        assert!(start_replication_command("s", 0, &[], 1, false).is_err());
        assert!(start_replication_command("Bad", 0, &pubs, 1, false).is_err());
        assert!(start_replication_command("s", 0, &["a\0".into()], 1, false).is_err());
        assert!(validate_slot_name(&"x".repeat(63)).is_ok());
        assert!(validate_slot_name(&"x".repeat(64)).is_err());
        assert!(validate_slot_name("a-b").is_err());
    }
}
