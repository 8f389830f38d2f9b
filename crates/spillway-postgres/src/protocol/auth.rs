//! The authentication exchange after the startup message: trust, cleartext password, MD5
//! and SCRAM-SHA-256 (without channel binding).

use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::frontend;

use super::conn::{ConnError, Framed};
use super::frame::{self, AuthRequest};

/// Runs the exchange until AuthenticationOk. The caller then reads the parameter
/// statuses, backend key and ReadyForQuery that follow.
pub(crate) async fn authenticate(
    io: &mut Framed,
    user: &str,
    password: Option<&str>,
) -> Result<(), ConnError> {
    let mut scram: Option<ScramSha256> = None;
    loop {
        let f = io.read_frame().await?;
        match f.tag {
            frame::AUTHENTICATION => {}
            frame::ERROR_RESPONSE => {
                return Err(frame::parse_error_fields(&f.body)?.into_error());
            }
            frame::NOTICE_RESPONSE => {
                let n = frame::parse_error_fields(&f.body)?;
                tracing::debug!(code = %n.code, message = %n.message, "notice during authentication");
                continue;
            }
            frame::NEGOTIATE_PROTOCOL_VERSION => {
                tracing::debug!("server negotiated the protocol version down");
                continue;
            }
            tag => {
                return Err(ConnError::Protocol(format!(
                    "unexpected message {} during authentication",
                    frame::tag_name(tag)
                )))
            }
        }
        match frame::parse_auth(&f.body)? {
            AuthRequest::Ok => return Ok(()),
            AuthRequest::Cleartext => {
                let pw = need_password(password)?;
                io.encode(|b| frontend::password_message(pw.as_bytes(), b))
                    .map_err(|e| bad_input("password", e))?;
                io.flush().await?;
            }
            AuthRequest::Md5 { salt } => {
                let pw = need_password(password)?;
                let hash = md5_hash(user.as_bytes(), pw.as_bytes(), salt);
                io.encode(|b| frontend::password_message(hash.as_bytes(), b))
                    .map_err(|e| bad_input("password", e))?;
                io.flush().await?;
            }
            AuthRequest::Sasl { mechanisms } => {
                if scram.is_some() {
                    return Err(ConnError::Protocol("SASL exchange started twice".into()));
                }
                if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                    return Err(ConnError::Auth(format!(
                        "no supported SASL mechanism among {}",
                        mechanisms.join(", ")
                    )));
                }
                let pw = need_password(password)?;
                let s = ScramSha256::new(pw.as_bytes(), ChannelBinding::unsupported());
                io.encode(|b| frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), b))
                    .map_err(|e| bad_input("SASL message", e))?;
                io.flush().await?;
                scram = Some(s);
            }
            AuthRequest::SaslContinue { data } => {
                let s = scram.as_mut().ok_or_else(|| {
                    ConnError::Protocol("SASL continue without a SASL exchange".into())
                })?;
                s.update(&data)
                    .map_err(|e| ConnError::Auth(format!("invalid SCRAM server message: {e}")))?;
                io.encode(|b| frontend::sasl_response(s.message(), b))
                    .map_err(|e| bad_input("SASL message", e))?;
                io.flush().await?;
            }
            AuthRequest::SaslFinal { data } => {
                let s = scram.as_mut().ok_or_else(|| {
                    ConnError::Protocol("SASL final without a SASL exchange".into())
                })?;
                s.finish(&data).map_err(|e| {
                    ConnError::Auth(format!("server failed SCRAM verification: {e}"))
                })?;
            }
            AuthRequest::Unsupported { code } => {
                let method = match code {
                    2 => "Kerberos V5",
                    6 => "SCM credentials",
                    7 | 8 => "GSSAPI",
                    9 => "SSPI",
                    _ => "unknown",
                };
                return Err(ConnError::Auth(format!(
                    "unsupported authentication method {method} (code {code})"
                )));
            }
        }
    }
}

fn need_password(password: Option<&str>) -> Result<&str, ConnError> {
    password.ok_or_else(|| {
        ConnError::Auth("the server requires a password and none is configured".into())
    })
}

fn bad_input(what: &str, e: std::io::Error) -> ConnError {
    ConnError::InvalidArgument(format!("{what} cannot be sent: {e}"))
}
