//! The text format of `COPY ... TO STDOUT`: tab-separated fields, `\N` for NULL, backslash
//! escapes. Values inside are in the same text output as pgoutput sends.

/// Splits one line (without its newline) into fields, unescaping each; `None` is NULL.
pub fn split_row(line: &[u8], fields: &mut Vec<Option<Vec<u8>>>) -> Result<(), String> {
    fields.clear();
    for raw in line.split(|&b| b == b'\t') {
        if raw == b"\\N" {
            fields.push(None);
            continue;
        }
        if !raw.contains(&b'\\') {
            fields.push(Some(raw.to_vec()));
            continue;
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            let b = raw[i];
            if b != b'\\' {
                out.push(b);
                i += 1;
                continue;
            }
            let next = *raw
                .get(i + 1)
                .ok_or_else(|| "COPY field ends with a backslash".to_string())?;
            i += 2;
            match next {
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'v' => out.push(0x0b),
                b'0'..=b'7' => {
                    let mut v = u32::from(next - b'0');
                    let mut n = 1;
                    while n < 3 && i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                        v = v * 8 + u32::from(raw[i] - b'0');
                        i += 1;
                        n += 1;
                    }
                    out.push((v & 0xff) as u8);
                }
                b'x' => {
                    let mut v = 0u32;
                    let mut n = 0;
                    while n < 2 && i < raw.len() && raw[i].is_ascii_hexdigit() {
                        v = v * 16 + (raw[i] as char).to_digit(16).unwrap_or(0);
                        i += 1;
                        n += 1;
                    }
                    out.push(v as u8);
                }
                other => out.push(other),
            }
        }
        fields.push(Some(out));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_unescape_and_null_is_recognised() {
        let mut f = Vec::new();
        split_row(b"1\t\\N\ta\\tb\\\\c\\nd", &mut f).unwrap();
        assert_eq!(
            f,
            vec![Some(b"1".to_vec()), None, Some(b"a\tb\\c\nd".to_vec())]
        );
    }

    #[test]
    fn an_escaped_backslash_before_n_is_not_null() {
        let mut f = Vec::new();
        split_row(b"\\\\N", &mut f).unwrap();
        assert_eq!(f, vec![Some(b"\\N".to_vec())]);
    }
}
