//! TLS for both connections (the SQL sessions and the walsender), with libpq's `sslmode`
//! semantics. The negotiation is PostgreSQL's: an SSLRequest on the fresh TCP connection,
//! one byte of answer (`S` or `N`), then the TLS handshake, then the startup message.
//!
//! | mode | what is tried | server certificate |
//! |---|---|---|
//! | `disable` | plain | - |
//! | `allow` | plain; TLS again if the server refuses the plain login | not verified (chain verified when a root file is given) |
//! | `prefer` | TLS; plain if the server answers `N`, the handshake fails or the server refuses the TLS login | as `allow` |
//! | `require` | TLS only | not verified, unless a root file is given: then as `verify-ca` |
//! | `verify-ca` | TLS only | chain verified against the root file |
//! | `verify-full` | TLS only | chain and host name verified |
//!
//! As in libpq, a host name check accepts the subject's common name only when the
//! certificate has no subject alternative names. A self-signed server certificate given
//! as the root file itself is trusted as such (as OpenSSL does), even when it is marked as
//! a CA. There is no default root file: `verify-ca` and `verify-full` need one named.
//! Certificate files are read once, when the configuration is loaded.
//!
//! - this module: the settings ([`SslMode`], [`TlsFiles`]) and [`TlsConfig`], the rustls
//!   client configuration built from them;
//! - `files`: reading the PEM certificate and key files;
//! - `verify`: the server certificate checks each `sslmode` calls for;
//! - `connect`: the SSLRequest exchange, the handshake and libpq's fallbacks;
//! - `error`: [`TlsError`] and the explanation of rustls' errors.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::RootCertStore;

mod connect;
mod error;
mod files;
mod verify;

#[cfg(test)]
mod tests;

pub use connect::SSL_REQUEST_CODE;
pub(crate) use connect::{connect, OpenError, Transport};
pub(crate) use error::explain_io_error;
pub use error::TlsError;
pub use files::{certificates_from_pem_bytes, private_key_from_pem_bytes, PemError};
use files::{load_client_auth, load_roots};
pub use verify::{cert_info, CertInfo};
use verify::{no_verification, PgVerifier};

/// `sslmode`, with libpq's meanings (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// The mode as written in a configuration, e.g. `verify-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Nothing: the connection is encrypted but the server is not authenticated.
    None,
    /// The chain up to a certificate of the root file.
    Chain,
    /// The chain and the host name.
    Full,
}

/// Where the certificate files are, as configured.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// CA certificates (PEM) the server's chain must end in.
    pub root_cert: Option<PathBuf>,
    /// Client certificate chain (PEM).
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub client_key: Option<PathBuf>,
    /// A password for the key was configured.
    pub key_password: bool,
}

/// A TLS setting that cannot be used; `key` is the configuration key it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {detail}")]
pub struct TlsSetupError {
    /// Which of the files (or the mode) is at fault: `root_cert`, `client_cert`,
    /// `client_key` or `key_password`.
    pub key: TlsSetting,
    /// The configured path, when there is one.
    pub path: Option<PathBuf>,
    pub detail: String,
}

/// The settings a [`TlsSetupError`] can be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsSetting {
    RootCert,
    ClientCert,
    ClientKey,
    KeyPassword,
}

impl fmt::Display for TlsSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsSetting::RootCert => "root certificate",
            TlsSetting::ClientCert => "client certificate",
            TlsSetting::ClientKey => "client key",
            TlsSetting::KeyPassword => "client key password",
        })
    }
}

/// TLS settings ready to connect with: the mode and, unless TLS is disabled, a rustls
/// client configuration built from the certificate files.
#[derive(Clone)]
pub struct TlsConfig {
    mode: SslMode,
    verification: Verification,
    root_cert: Option<PathBuf>,
    client: Option<Arc<rustls::ClientConfig>>,
}

impl Default for TlsConfig {
    /// Plain connections.
    fn default() -> Self {
        TlsConfig::disabled()
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("mode", &self.mode)
            .field("verification", &self.verification)
            .field("root_cert", &self.root_cert)
            .field("client_cert", &self.has_client_cert())
            .finish()
    }
}

impl TlsConfig {
    /// Plain connections only (`sslmode=disable`).
    pub fn disabled() -> Self {
        TlsConfig {
            mode: SslMode::Disable,
            verification: Verification::None,
            root_cert: None,
            client: None,
        }
    }

    /// Reads the certificate files and prepares the client configuration for `mode`.
    /// With `disable` the files are not read (libpq ignores them too).
    pub fn new(mode: SslMode, files: &TlsFiles) -> Result<Self, TlsSetupError> {
        if mode == SslMode::Disable {
            return Ok(TlsConfig::disabled());
        }
        let verification = match mode {
            SslMode::VerifyFull => Verification::Full,
            SslMode::VerifyCa => Verification::Chain,
            _ if files.root_cert.is_some() => Verification::Chain,
            _ => Verification::None,
        };
        if verification != Verification::None && files.root_cert.is_none() {
            return Err(TlsSetupError {
                key: TlsSetting::RootCert,
                path: None,
                detail: format!(
                    "sslmode={mode} verifies the server's certificate and needs the CA certificate(s) to check it against (a PEM file)"
                ),
            });
        }
        let roots = match &files.root_cert {
            Some(path) => Some(load_roots(path)?),
            None => None,
        };
        let client_auth = load_client_auth(files)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider has cipher suites for TLS 1.2 and 1.3");
        let verifier: Arc<dyn ServerCertVerifier> = match roots {
            None => Arc::new(no_verification::AcceptAnyServerCert::new(provider.clone())),
            Some(roots) => {
                let pinned = roots.iter().map(|c| c.as_ref().to_vec()).collect();
                let mut store = RootCertStore::empty();
                for cert in roots {
                    store.add(cert).map_err(|e| TlsSetupError {
                        key: TlsSetting::RootCert,
                        path: files.root_cert.clone(),
                        detail: format!("unusable CA certificate: {e}"),
                    })?;
                }
                let inner =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                        .build()
                        .map_err(|e| TlsSetupError {
                            key: TlsSetting::RootCert,
                            path: files.root_cert.clone(),
                            detail: format!("unusable CA certificates: {e}"),
                        })?;
                Arc::new(PgVerifier {
                    inner,
                    pinned,
                    check_name: verification == Verification::Full,
                })
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let client = match client_auth {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsSetupError {
                        key: TlsSetting::ClientKey,
                        path: files.client_key.clone(),
                        detail: format!("the key cannot be used with the client certificate: {e}"),
                    })?
            }
        };
        Ok(TlsConfig {
            mode,
            verification,
            root_cert: files.root_cert.clone(),
            client: Some(Arc::new(client)),
        })
    }

    pub fn mode(&self) -> SslMode {
        self.mode
    }

    pub fn verification(&self) -> Verification {
        self.verification
    }

    fn has_client_cert(&self) -> bool {
        self.client
            .as_ref()
            .is_some_and(|c| c.client_auth_cert_resolver.has_certs())
    }
}
