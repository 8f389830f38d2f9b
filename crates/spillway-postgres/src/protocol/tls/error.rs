//! [`TlsError`], why a connection could not be secured, and the translation of rustls'
//! errors into it with a hint for the operator.

use std::io;

use rustls::CertificateError;

use super::verify::NameMismatch;
use super::{SslMode, TlsConfig};

/// Why a connection could not be secured. Each of these needs the operator: retrying
/// does not help.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The server answered `N` to the SSLRequest.
    #[error("the server at {host} does not accept TLS connections (sslmode={mode})")]
    NotSupported { host: String, mode: SslMode },
    /// The server's certificate did not pass verification.
    #[error("certificate verify failed for {host} with sslmode={mode}: {detail}")]
    Verify {
        host: String,
        mode: SslMode,
        detail: String,
        hint: String,
    },
    /// The handshake failed for another reason (an alert from the server, no common
    /// protocol version, a name that cannot be used for TLS).
    #[error("TLS handshake with {host} failed (sslmode={mode}): {detail}")]
    Handshake {
        host: String,
        mode: SslMode,
        detail: String,
        hint: String,
    },
    /// The answer to the SSLRequest was neither `S` nor `N`.
    #[error("unexpected answer {answer:#04x} to the SSLRequest from {host}")]
    BadAnswer { host: String, answer: u8 },
}

impl TlsError {
    /// What the operator can do about it.
    pub fn hint(&self) -> String {
        match self {
            TlsError::NotSupported { .. } => {
                "enable ssl on the server, or use database.sslmode=prefer (or disable) to connect in plain text".into()
            }
            TlsError::Verify { hint, .. } | TlsError::Handshake { hint, .. } => hint.clone(),
            TlsError::BadAnswer { .. } => {
                "check that database.hostname and database.port point to a PostgreSQL server".into()
            }
        }
    }
}

/// The TLS problem behind an I/O error, if it is one. With TLS 1.3 the server judges the
/// client's certificate after the client has finished its handshake, so a refusal arrives
/// as an alert on the first read of the startup exchange: callers map the errors of that
/// exchange through here too.
pub(crate) fn explain_io_error(host: &str, tls: &TlsConfig, error: &io::Error) -> Option<TlsError> {
    let rustls_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())?;
    Some(explain(host, tls, rustls_error))
}

fn explain(host: &str, tls: &TlsConfig, rustls_error: &rustls::Error) -> TlsError {
    let mode = tls.mode;
    let root = tls
        .root_cert
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let verify = |detail: String, hint: String| TlsError::Verify {
        host: host.to_string(),
        mode,
        detail,
        hint,
    };
    let handshake = |hint: &str| TlsError::Handshake {
        host: host.to_string(),
        mode,
        detail: rustls_error.to_string(),
        hint: hint.to_string(),
    };
    match rustls_error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Other(other) => {
                if let Some(m) = other.0.downcast_ref::<NameMismatch>() {
                    let names = if m.names.is_empty() {
                        "the certificate names no host".to_string()
                    } else {
                        format!("the certificate's names are {}", m.names.join(", "))
                    };
                    verify(
                        format!("the certificate is not valid for {host}"),
                        format!("{names}; use sslmode=verify-ca or connect by that name"),
                    )
                } else if matches!(
                    other.0.downcast_ref::<webpki::Error>(),
                    Some(webpki::Error::CaUsedAsEndEntity)
                ) {
                    verify(
                        "the server's certificate is a CA certificate, and not the one in database.sslrootcert".into(),
                        format!(
                            "for a self-signed server certificate, use that certificate itself as database.sslrootcert (now {root})"
                        ),
                    )
                } else {
                    verify(
                        format!("invalid peer certificate: {other}"),
                        format!("check the server's certificate and the CA certificates in {root}"),
                    )
                }
            }
            CertificateError::UnknownIssuer | CertificateError::BadSignature => verify(
                "the server's certificate is not signed by a CA in database.sslrootcert".into(),
                format!(
                    "put the CA that signed the server's certificate (or the self-signed certificate itself) into {root}"
                ),
            ),
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => verify(
                rustls_error.to_string(),
                "renew the server's certificate, or check this machine's clock".into(),
            ),
            _ => verify(
                rustls_error.to_string(),
                format!("check the server's certificate and the CA certificates in {root}"),
            ),
        },
        rustls::Error::AlertReceived(alert) => {
            use rustls::AlertDescription as A;
            match alert {
                A::CertificateRequired | A::UnknownCA | A::BadCertificate | A::AccessDenied
                | A::CertificateUnknown | A::CertificateExpired | A::CertificateRevoked
                | A::UnsupportedCertificate => {
                    if tls.has_client_cert() {
                        handshake("the server refused the client certificate; check database.sslcert and database.sslkey against the server's ssl_ca_file")
                    } else {
                        handshake("the server requires a client certificate: set database.sslcert and database.sslkey")
                    }
                }
                A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity => handshake(
                    "the server offers no TLS version or cipher in common (TLS 1.2 and 1.3 with modern ciphers are supported); check ssl_min_protocol_version and ssl_ciphers on the server",
                ),
                _ => handshake("check the server's TLS settings and its log"),
            }
        }
        rustls::Error::PeerIncompatible(_) => handshake(
            "the server offers no TLS version or cipher in common (TLS 1.2 and 1.3 with modern ciphers are supported)",
        ),
        _ => handshake("check the server's TLS settings and its log"),
    }
}
