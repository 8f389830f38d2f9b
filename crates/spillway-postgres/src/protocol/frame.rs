//! Backend message framing (1-byte tag, 4-byte length including itself, body) and the
//! bodies of the few backend messages the replication connection needs.
//!
//! Frames are read by hand rather than through `postgres_protocol`'s backend parser
//! because that parser does not know CopyBothResponse (`W`), which starts replication.

use bytes::{Buf, Bytes, BytesMut};

use super::conn::ConnError;
use super::pgoutput::{DecodeError, LogicalMessage, Reader, ReplicationMessage};

/// The largest body accepted, a little above the server's 1 GiB allocation limit.
pub(crate) const MAX_BODY_LEN: usize = (1 << 30) + (1 << 20);

pub(crate) const AUTHENTICATION: u8 = b'R';
pub(crate) const BACKEND_KEY_DATA: u8 = b'K';
pub(crate) const COMMAND_COMPLETE: u8 = b'C';
pub(crate) const COPY_BOTH_RESPONSE: u8 = b'W';
pub(crate) const COPY_DATA: u8 = b'd';
pub(crate) const COPY_DONE: u8 = b'c';
pub(crate) const COPY_IN_RESPONSE: u8 = b'G';
pub(crate) const COPY_OUT_RESPONSE: u8 = b'H';
pub(crate) const DATA_ROW: u8 = b'D';
pub(crate) const EMPTY_QUERY_RESPONSE: u8 = b'I';
pub(crate) const ERROR_RESPONSE: u8 = b'E';
pub(crate) const NEGOTIATE_PROTOCOL_VERSION: u8 = b'v';
pub(crate) const NOTICE_RESPONSE: u8 = b'N';
pub(crate) const NOTIFICATION_RESPONSE: u8 = b'A';
pub(crate) const PARAMETER_STATUS: u8 = b'S';
pub(crate) const READY_FOR_QUERY: u8 = b'Z';
pub(crate) const ROW_DESCRIPTION: u8 = b'T';

/// One backend message.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub tag: u8,
    pub body: Bytes,
}

/// Takes one complete frame off the front of `buf`, or returns `None` (having reserved
/// room for the rest) when the buffer does not hold a whole frame yet. Never consumes a
/// partial frame, so a read that is abandoned half-way loses nothing.
pub(crate) fn parse_frame(buf: &mut BytesMut) -> Result<Option<Frame>, ConnError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let tag = buf[0];
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len < 4 {
        return Err(ConnError::Protocol(format!(
            "message {} has invalid length {len}",
            tag_name(tag)
        )));
    }
    let body_len = len - 4;
    if body_len > MAX_BODY_LEN {
        return Err(ConnError::Protocol(format!(
            "message {} is too long ({body_len} bytes)",
            tag_name(tag)
        )));
    }
    if buf.len() < 5 + body_len {
        buf.reserve(5 + body_len - buf.len());
        return Ok(None);
    }
    buf.advance(5);
    let body = buf.split_to(body_len).freeze();
    Ok(Some(Frame { tag, body }))
}

/// Reads bytes from the server as the connection does, without a socket: frame by frame,
/// each body through the parser its tag calls for (a CopyData as a replication message, an
/// XLogData's payload as a pgoutput message). Returns how many whole frames were read, or
/// the first error. The framing's pure seam, for tests and fuzzers.
pub fn decode_backend_stream(bytes: &[u8]) -> Result<usize, ConnError> {
    let mut buf = BytesMut::from(bytes);
    let mut frames = 0;
    while let Some(frame) = parse_frame(&mut buf)? {
        frames += 1;
        match frame.tag {
            AUTHENTICATION => {
                parse_auth(&frame.body)?;
            }
            BACKEND_KEY_DATA => {
                parse_backend_key(&frame.body)?;
            }
            PARAMETER_STATUS => {
                parse_parameter_status(&frame.body)?;
            }
            ERROR_RESPONSE | NOTICE_RESPONSE => {
                parse_error_fields(&frame.body)?;
            }
            DATA_ROW => {
                parse_data_row(&frame.body)?;
            }
            COPY_DATA => {
                if let ReplicationMessage::XLogData { data, .. } =
                    ReplicationMessage::decode(&frame.body)?
                {
                    LogicalMessage::decode(&data)?;
                }
            }
            _ => {}
        }
    }
    Ok(frames)
}

/// A printable name for a tag in error messages.
pub(crate) fn tag_name(tag: u8) -> String {
    if tag.is_ascii_graphic() {
        format!("'{}'", tag as char)
    } else {
        format!("{tag:#04x}")
    }
}

fn malformed(what: &str, e: DecodeError) -> ConnError {
    ConnError::Protocol(format!("malformed {what}: {e}"))
}

/// The fields of an ErrorResponse or NoticeResponse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorFields {
    /// Non-localized severity (`V`), or the localized one (`S`) from old servers.
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl ErrorFields {
    pub(crate) fn into_error(self) -> ConnError {
        ConnError::Server {
            code: self.code,
            message: self.message,
            detail: self.detail,
            hint: self.hint,
        }
    }
}

pub(crate) fn parse_error_fields(body: &Bytes) -> Result<ErrorFields, ConnError> {
    let mut r = Reader::new(body);
    let mut f = ErrorFields::default();
    let mut localized_severity = String::new();
    loop {
        let kind = r
            .u8("error field type")
            .map_err(|e| malformed("error response", e))?;
        if kind == 0 {
            break;
        }
        // Lossy: a server whose messages are not UTF-8 should still be reported.
        let value = lossy_cstr(&mut r).map_err(|e| malformed("error response", e))?;
        match kind {
            b'S' => localized_severity = value,
            b'V' => f.severity = value,
            b'C' => f.code = value,
            b'M' => f.message = value,
            b'D' => f.detail = Some(value),
            b'H' => f.hint = Some(value),
            _ => {}
        }
    }
    if f.severity.is_empty() {
        f.severity = localized_severity;
    }
    Ok(f)
}

fn lossy_cstr(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    Ok(String::from_utf8_lossy(r.cstr_bytes("error field value")?).into_owned())
}

/// A DataRow as text columns.
pub(crate) fn parse_data_row(body: &Bytes) -> Result<Vec<Option<String>>, ConnError> {
    let mut r = Reader::new(body);
    let n = r
        .len16("DataRow column count")
        .map_err(|e| malformed("data row", e))?;
    let mut row = Vec::with_capacity(n.min(r.remaining() / 4));
    for _ in 0..n {
        let offset = r.position();
        let len = r
            .i32("DataRow value length")
            .map_err(|e| malformed("data row", e))?;
        if len == -1 {
            row.push(None);
            continue;
        }
        let len = usize::try_from(len).map_err(|_| {
            malformed(
                "data row",
                DecodeError::Invalid {
                    what: "DataRow value length",
                    offset,
                    reason: "negative length",
                },
            )
        })?;
        let offset = r.position();
        let v = r
            .take(len, "DataRow value")
            .map_err(|e| malformed("data row", e))?;
        let s = std::str::from_utf8(v).map_err(|_| {
            malformed(
                "data row",
                DecodeError::Invalid {
                    what: "DataRow value",
                    offset,
                    reason: "not valid UTF-8",
                },
            )
        })?;
        row.push(Some(s.to_owned()));
    }
    r.finish("DataRow").map_err(|e| malformed("data row", e))?;
    Ok(row)
}

pub(crate) fn parse_parameter_status(body: &Bytes) -> Result<(String, String), ConnError> {
    let mut r = Reader::new(body);
    let name = r
        .cstr("parameter name")
        .map_err(|e| malformed("parameter status", e))?;
    let value = r
        .cstr("parameter value")
        .map_err(|e| malformed("parameter status", e))?;
    Ok((name, value))
}

pub(crate) fn parse_backend_key(body: &Bytes) -> Result<(i32, i32), ConnError> {
    let mut r = Reader::new(body);
    let pid = r
        .i32("process id")
        .map_err(|e| malformed("backend key data", e))?;
    // Protocol 3.0 keys are 4 bytes; accept longer ones (3.2) by keeping the first 4.
    let key = r
        .i32("secret key")
        .map_err(|e| malformed("backend key data", e))?;
    Ok((pid, key))
}

/// An authentication request (`R`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthRequest {
    Ok,
    Cleartext,
    Md5 {
        salt: [u8; 4],
    },
    Sasl {
        mechanisms: Vec<String>,
    },
    SaslContinue {
        data: Bytes,
    },
    SaslFinal {
        data: Bytes,
    },
    /// Kerberos (2), SCM (6), GSS (7, 8), SSPI (9) or anything newer.
    Unsupported {
        code: i32,
    },
}

pub(crate) fn parse_auth(body: &Bytes) -> Result<AuthRequest, ConnError> {
    let mut r = Reader::new(body);
    let m = |e| malformed("authentication request", e);
    let code = r.i32("authentication code").map_err(m)?;
    let req = match code {
        0 => AuthRequest::Ok,
        3 => AuthRequest::Cleartext,
        5 => AuthRequest::Md5 {
            salt: r.array("MD5 salt").map_err(m)?,
        },
        10 => {
            let mut mechanisms = Vec::new();
            loop {
                let name = r.cstr("SASL mechanism").map_err(m)?;
                if name.is_empty() {
                    break;
                }
                mechanisms.push(name);
            }
            AuthRequest::Sasl { mechanisms }
        }
        11 => AuthRequest::SaslContinue {
            data: r.slice(r.remaining(), "SASL data").map_err(m)?,
        },
        12 => AuthRequest::SaslFinal {
            data: r.slice(r.remaining(), "SASL data").map_err(m)?,
        },
        code => return Ok(AuthRequest::Unsupported { code }),
    };
    r.finish("authentication request").map_err(m)?;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn frames_split_and_partial() {
        let mut wire = frame(b'W', &[0, 0, 0]);
        wire.extend(frame(b'd', b"hello"));
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        // Feed one byte at a time: frames appear only when complete.
        for b in wire {
            buf.extend_from_slice(&[b]);
            while let Some(f) = parse_frame(&mut buf).unwrap() {
                out.push(f);
            }
        }
        assert!(buf.is_empty());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].tag, b'W');
        assert_eq!(&out[0].body[..], &[0, 0, 0]);
        assert_eq!(out[1].tag, b'd');
        assert_eq!(&out[1].body[..], b"hello");
    }

    #[test]
    fn frame_length_checks() {
        let mut buf = BytesMut::from(&[b'd', 0, 0, 0, 3][..]);
        assert!(parse_frame(&mut buf).is_err());
        let mut buf = BytesMut::from(&[b'd', 0x7f, 0xff, 0xff, 0xff][..]);
        assert!(parse_frame(&mut buf).is_err());
        let mut buf = BytesMut::from(&[b'Z', 0, 0, 0, 4][..]);
        let f = parse_frame(&mut buf).unwrap().unwrap();
        assert_eq!((f.tag, f.body.len()), (b'Z', 0));
    }

    #[test]
    fn error_fields() {
        let body = Bytes::from_static(
            b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"x\"\0Dsome detail\0Htry again\0Fauth.c\0\0",
        );
        let f = parse_error_fields(&body).unwrap();
        assert_eq!(f.severity, "FATAL");
        assert_eq!(f.code, "28P01");
        assert_eq!(f.message, "password authentication failed for user \"x\"");
        assert_eq!(f.detail.as_deref(), Some("some detail"));
        assert_eq!(f.hint.as_deref(), Some("try again"));
        let err = f.into_error();
        assert_eq!(
            err.to_string(),
            "server error 28P01: password authentication failed for user \"x\""
        );

        assert!(parse_error_fields(&Bytes::from_static(b"C28P01")).is_err());
        assert!(parse_error_fields(&Bytes::from_static(b"C28P01\0")).is_err());
        let f = parse_error_fields(&Bytes::from_static(b"M\xff\0\0")).unwrap();
        assert_eq!(f.message, "\u{fffd}");
    }

    #[test]
    fn data_rows() {
        let mut body = vec![0, 3];
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(b"ab");
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        let row = parse_data_row(&Bytes::from(body.clone())).unwrap();
        assert_eq!(row, vec![Some("ab".into()), None, Some(String::new())]);
        for len in 0..body.len() {
            assert!(parse_data_row(&Bytes::copy_from_slice(&body[..len])).is_err());
        }
        let mut bad = vec![0, 1];
        bad.extend_from_slice(&(-2i32).to_be_bytes());
        assert!(parse_data_row(&Bytes::from(bad)).is_err());
    }

    #[test]
    fn auth_requests() {
        let p = |b: &[u8]| parse_auth(&Bytes::copy_from_slice(b));
        assert_eq!(p(&[0, 0, 0, 0]).unwrap(), AuthRequest::Ok);
        assert_eq!(p(&[0, 0, 0, 3]).unwrap(), AuthRequest::Cleartext);
        assert_eq!(
            p(&[0, 0, 0, 5, 1, 2, 3, 4]).unwrap(),
            AuthRequest::Md5 { salt: [1, 2, 3, 4] }
        );
        assert!(p(&[0, 0, 0, 5, 1, 2, 3]).is_err());
        assert_eq!(
            p(b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0").unwrap(),
            AuthRequest::Sasl {
                mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()]
            }
        );
        assert!(p(b"\0\0\0\x0aSCRAM-SHA-256\0").is_err());
        assert_eq!(
            p(b"\0\0\0\x0br=abc").unwrap(),
            AuthRequest::SaslContinue {
                data: Bytes::from_static(b"r=abc")
            }
        );
        assert_eq!(
            p(&[0, 0, 0, 7]).unwrap(),
            AuthRequest::Unsupported { code: 7 }
        );
        assert!(p(&[0, 0]).is_err());
    }

    #[test]
    fn small_bodies() {
        let (k, v) =
            parse_parameter_status(&Bytes::from_static(b"server_version\x0015.2\0")).unwrap();
        assert_eq!((k.as_str(), v.as_str()), ("server_version", "15.2"));
        assert!(parse_parameter_status(&Bytes::from_static(b"a\0b")).is_err());
        assert_eq!(
            parse_backend_key(&Bytes::from_static(&[0, 0, 0, 7, 0, 0, 0, 9])).unwrap(),
            (7, 9)
        );
    }

    #[test]
    fn a_backend_stream_decodes_frame_by_frame_like_the_connection() {
        let mut keepalive = vec![b'k'];
        keepalive.extend_from_slice(&500u64.to_be_bytes());
        keepalive.extend_from_slice(&(-7i64).to_be_bytes());
        keepalive.push(1);
        let mut xlog = vec![b'w'];
        xlog.extend_from_slice(&[0; 24]);
        // A pgoutput Begin: final LSN, commit time, xid.
        xlog.push(b'B');
        xlog.extend_from_slice(&[0; 20]);
        let mut wire = frame(b'R', &[0, 0, 0, 0]);
        wire.extend(frame(b'S', b"server_version\x0017\x00"));
        wire.extend(frame(b'K', &[0, 0, 0, 7, 0, 0, 0, 9]));
        wire.extend(frame(b'Z', b"I"));
        wire.extend(frame(b'W', &[0, 0, 0]));
        wire.extend(frame(b'd', &keepalive));
        wire.extend(frame(b'd', &xlog));
        assert_eq!(decode_backend_stream(&wire).unwrap(), 7);
        // A partial frame at the end is left for the next read.
        wire.extend(&frame(b'd', &keepalive)[..9]);
        assert_eq!(decode_backend_stream(&wire).unwrap(), 7);
        // A body that does not decode stops the stream with the error.
        wire = frame(b'd', b"x");
        assert!(decode_backend_stream(&wire).is_err());
        let mut bad_xlog = xlog.clone();
        bad_xlog.truncate(30);
        assert!(decode_backend_stream(&frame(b'd', &bad_xlog)).is_err());
    }
}
