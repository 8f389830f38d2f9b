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

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

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

fn setup_error(key: TlsSetting, path: &Path, detail: impl Into<String>) -> TlsSetupError {
    TlsSetupError {
        key,
        path: Some(path.to_path_buf()),
        detail: detail.into(),
    }
}

fn read_file(key: TlsSetting, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    spillway_core::config::read_file_capped(path)
        .map_err(|e| setup_error(key, path, format!("cannot read {}: {e}", path.display())))
}

fn load_certs(key: TlsSetting, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let data = read_file(key, path)?;
    certificates_from_pem_bytes(&data)
        .map_err(|e| setup_error(key, path, format!("{} {e}", path.display())))
}

/// Why the bytes of a PEM file do not give what it was named for; each reads after the
/// file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("is not a valid PEM file: {0}")]
    Invalid(String),
    #[error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    #[error("holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")]
    NoPrivateKey,
    #[error("is encrypted; encrypted keys are not supported yet: store it decrypted (openssl pkey -in KEY -out KEY.plain) and keep the file private")]
    EncryptedKey,
}

/// The certificates of a certificate file (`database.sslrootcert`, `database.sslcert`)
/// from its bytes, in file order: at least one, or an error.
pub fn certificates_from_pem_bytes(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(certs)
}

/// The private key of a key file (`database.sslkey`) from its bytes; encrypted keys are
/// refused.
pub fn private_key_from_pem_bytes(data: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    // PKCS#8 "ENCRYPTED PRIVATE KEY" and OpenSSL's legacy "Proc-Type: 4,ENCRYPTED".
    if data.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(PemError::EncryptedKey);
    }
    PrivateKeyDer::from_pem_slice(data).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => PemError::NoPrivateKey,
        e => PemError::Invalid(e.to_string()),
    })
}

fn load_roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    load_certs(TlsSetting::RootCert, path)
}

type ClientAuth = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load_client_auth(files: &TlsFiles) -> Result<Option<ClientAuth>, TlsSetupError> {
    let (cert_path, key_path) = match (&files.client_cert, &files.client_key) {
        (None, None) => {
            return if files.key_password {
                Err(TlsSetupError {
                    key: TlsSetting::KeyPassword,
                    path: None,
                    detail: "a key password was given without a client key".into(),
                })
            } else {
                Ok(None)
            };
        }
        (Some(_), None) => {
            return Err(TlsSetupError {
                key: TlsSetting::ClientKey,
                path: None,
                detail: "a client certificate needs its private key (a PEM file)".into(),
            })
        }
        (None, Some(_)) => {
            return Err(TlsSetupError {
                key: TlsSetting::ClientCert,
                path: None,
                detail: "a client key was given without its certificate (a PEM file)".into(),
            })
        }
        (Some(c), Some(k)) => (c, k),
    };
    let chain = load_certs(TlsSetting::ClientCert, cert_path)?;
    let data = read_file(TlsSetting::ClientKey, key_path)?;
    let key = private_key_from_pem_bytes(&data).map_err(|e| {
        setup_error(
            TlsSetting::ClientKey,
            key_path,
            format!("{} {e}", key_path.display()),
        )
    })?;
    Ok(Some((chain, key)))
}

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

/// Opening a transport failed.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The TCP connection or the SSLRequest exchange failed: worth retrying.
    Io(io::Error),
    Tls(TlsError),
}

/// The byte stream under a connection: plain TCP or TLS over TCP.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Tcp(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// What one attempt asks of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Plain,
    /// TLS; with `or_plain`, plain on the same socket when the server answers `N`.
    Tls {
        or_plain: bool,
    },
}

/// Connects to `host:port` and runs `startup` (startup message and authentication) on the
/// transport `tls.mode()` calls for, with libpq's fallbacks: `allow` tries TLS when the
/// plain login is refused; `prefer` tries plain when the handshake fails or the TLS login
/// is refused. `refused(e)` tells whether a startup error is such a refusal (an
/// authorization error from the server, SQLSTATE class 28); `open_error` converts
/// failures of the transport itself.
pub(crate) async fn connect<T, E, F, Fut>(
    host: &str,
    port: u16,
    tls: &TlsConfig,
    mut startup: F,
    refused: impl Fn(&E) -> bool,
    open_error: impl Fn(OpenError) -> E,
) -> Result<T, E>
where
    F: FnMut(Transport) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let open_error = &open_error;
    let attempt = |want| async move { open(host, port, tls, want).await.map_err(open_error) };
    match tls.mode {
        SslMode::Disable => startup(attempt(Want::Plain).await?).await,
        SslMode::Allow => match startup(attempt(Want::Plain).await?).await {
            Err(first) if refused(&first) => {
                tracing::debug!(
                    host,
                    "plain login refused; trying again with TLS (sslmode=allow)"
                );
                match attempt(Want::Tls { or_plain: false }).await {
                    Ok(transport) => startup(transport).await,
                    Err(_) => Err(first),
                }
            }
            result => result,
        },
        SslMode::Prefer => {
            let transport = match open(host, port, tls, Want::Tls { or_plain: true }).await {
                Ok(t) => t,
                Err(OpenError::Tls(e @ (TlsError::Verify { .. } | TlsError::Handshake { .. }))) => {
                    tracing::warn!(error = %e, "TLS handshake failed; connecting in plain text (sslmode=prefer)");
                    attempt(Want::Plain).await?
                }
                Err(e) => return Err(open_error(e)),
            };
            let was_tls = transport.is_tls();
            match startup(transport).await {
                Err(first) if was_tls && refused(&first) => {
                    tracing::debug!(
                        host,
                        "TLS login refused; trying again in plain text (sslmode=prefer)"
                    );
                    match attempt(Want::Plain).await {
                        Ok(transport) => startup(transport).await,
                        Err(_) => Err(first),
                    }
                }
                result => result,
            }
        }
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            startup(attempt(Want::Tls { or_plain: false }).await?).await
        }
    }
}

/// The SSLRequest code (1234 << 16 | 5679).
pub const SSL_REQUEST_CODE: i32 = 80_877_103;

async fn open(host: &str, port: u16, tls: &TlsConfig, want: Want) -> Result<Transport, OpenError> {
    let mut tcp = TcpStream::connect((host, port))
        .await
        .map_err(OpenError::Io)?;
    tcp.set_nodelay(true).map_err(OpenError::Io)?;
    let Want::Tls { or_plain } = want else {
        return Ok(Transport::Tcp(tcp));
    };
    let client = match &tls.client {
        Some(c) => c.clone(),
        None => return Ok(Transport::Tcp(tcp)),
    };
    let mut request = BytesMut::with_capacity(8);
    frontend::ssl_request(&mut request);
    tcp.write_all(&request).await.map_err(OpenError::Io)?;
    // Exactly one byte: anything after it belongs to the TLS handshake (or, after `N`, to
    // the plain protocol), never to this exchange.
    let answer = tcp.read_u8().await.map_err(OpenError::Io)?;
    match answer {
        b'S' => {}
        b'N' if or_plain => {
            tracing::debug!(
                host,
                "the server does not accept TLS; connecting in plain text"
            );
            return Ok(Transport::Tcp(tcp));
        }
        b'N' => {
            return Err(OpenError::Tls(TlsError::NotSupported {
                host: host.to_string(),
                mode: tls.mode,
            }))
        }
        answer => {
            return Err(OpenError::Tls(TlsError::BadAnswer {
                host: host.to_string(),
                answer,
            }))
        }
    }
    let name = ServerName::try_from(host.to_string()).map_err(|e| {
        OpenError::Tls(TlsError::Handshake {
            host: host.to_string(),
            mode: tls.mode,
            detail: format!("{host:?} cannot be used as a TLS server name: {e}"),
            hint: "set database.hostname to a DNS name or an IP address".into(),
        })
    })?;
    let stream = tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .map_err(|e| handshake_error(host, tls, e))?;
    let (_, session) = stream.get_ref();
    tracing::debug!(
        host,
        version = ?session.protocol_version(),
        cipher = ?session.negotiated_cipher_suite().map(|s| s.suite()),
        "TLS established"
    );
    Ok(Transport::Tls(Box::new(stream)))
}

/// Explains a failed handshake; plain I/O failures stay I/O errors (worth retrying).
fn handshake_error(host: &str, tls: &TlsConfig, error: io::Error) -> OpenError {
    match explain_io_error(host, tls, &error) {
        Some(e) => OpenError::Tls(e),
        None => OpenError::Io(error),
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

/// A host name check failed; carries the names the certificate has, for the hint.
#[derive(Debug)]
struct NameMismatch {
    names: Vec<String>,
}

impl fmt::Display for NameMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate not valid for the host; it names {}",
            self.names.join(", ")
        )
    }
}

impl std::error::Error for NameMismatch {}

/// Verification against the root file: webpki's chain check, plus what libpq accepts on
/// top of it (a self-signed server certificate pinned as the root, the common name when
/// there are no alternative names), and without the name check for `verify-ca`.
#[derive(Debug)]
struct PgVerifier {
    inner: Arc<WebPkiServerVerifier>,
    /// The root file's certificates, DER.
    pinned: Vec<Vec<u8>>,
    check_name: bool,
}

impl PgVerifier {
    fn check_name(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        presented: Option<Vec<String>>,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let info = cert_info(end_entity);
        let presented = match presented {
            Some(p) => p,
            None => match webpki::EndEntityCert::try_from(end_entity) {
                Ok(ee) => match ee.verify_is_valid_for_subject_name(server_name) {
                    Ok(()) => return Ok(ServerCertVerified::assertion()),
                    Err(webpki::Error::CertNotValidForName(cx)) => cx.presented,
                    Err(_) => Vec::new(),
                },
                Err(_) => return Err(CertificateError::BadEncoding.into()),
            },
        };
        let host = server_name.to_str();
        // webpki lists the alternative names as `DnsName("db.example.com")`,
        // `IpAddress(10.0.0.1)`, `DirectoryName`, ...: keep the host names and addresses.
        let presented: Vec<String> = presented
            .iter()
            .filter_map(|p| {
                p.strip_prefix("DnsName(\"")
                    .and_then(|n| n.strip_suffix("\")"))
                    .or_else(|| p.strip_prefix("IpAddress(")?.strip_suffix(')'))
                    .map(str::to_string)
            })
            .collect();
        if presented.is_empty() {
            if let Some(cn) = info.as_ref().and_then(|i| i.common_name.as_deref()) {
                if name_matches(cn, &host) {
                    return Ok(ServerCertVerified::assertion());
                }
            }
        }
        let names = if presented.is_empty() {
            info.and_then(|i| i.common_name).into_iter().collect()
        } else {
            presented
        };
        Err(CertificateError::Other(rustls::OtherError(Arc::new(NameMismatch { names }))).into())
    }
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match result {
            Ok(v) => Ok(v),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                presented,
                ..
            })) => self.check_name(end_entity, server_name, Some(presented)),
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)) => {
                self.check_name(end_entity, server_name, None)
            }
            Err(error) => {
                // webpki refuses a certificate marked as a CA as the server's own; a
                // self-signed certificate made with `openssl req -x509` is one. When the
                // root file holds exactly that certificate, it is trusted as itself.
                if !self.pinned.iter().any(|p| p == end_entity.as_ref()) {
                    return Err(error);
                }
                let info = cert_info(end_entity).ok_or(CertificateError::BadEncoding)?;
                let now = now.as_secs() as i64;
                if info.not_after.is_some_and(|t| now > t) {
                    return Err(CertificateError::Expired.into());
                }
                if info.not_before.is_some_and(|t| now < t) {
                    return Err(CertificateError::NotValidYet.into());
                }
                if self.check_name {
                    self.check_name(end_entity, server_name, None)
                } else {
                    Ok(ServerCertVerified::assertion())
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The one place where the server's certificate is not checked: `sslmode` `allow`,
/// `prefer` and `require` without a root file encrypt the connection without
/// authenticating the server, as libpq does. The handshake signatures are still checked
/// (the server must hold the key of the certificate it shows).
mod no_verification {
    use super::*;

    #[derive(Debug)]
    pub(super) struct AcceptAnyServerCert {
        provider: Arc<CryptoProvider>,
    }

    impl AcceptAnyServerCert {
        pub(super) fn new(provider: Arc<CryptoProvider>) -> Self {
            AcceptAnyServerCert { provider }
        }
    }

    impl ServerCertVerifier for AcceptAnyServerCert {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
}

/// libpq's name match: case-insensitive, and a leading `*.` matches one label.
fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    let host = host.trim_end_matches('.');
    if let Some(suffix) = pattern.strip_prefix("*.") {
        match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest.eq_ignore_ascii_case(suffix),
            None => false,
        }
    } else {
        pattern.eq_ignore_ascii_case(host)
    }
}

/// What the name check and the pinned-certificate path need from a certificate.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's (last) common name.
    pub common_name: Option<String>,
    /// Validity, in seconds since the Unix epoch.
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
}

/// Reads the subject's common name and the validity period of an X.509 certificate (DER,
/// as a server presents it); `None` when it is not one.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (tag, cert, _) = der::next(der)?;
    if tag != der::SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der::next(cert)?;
    if tag != der::SEQUENCE {
        return None;
    }
    let (tag, _, mut rest) = der::next(tbs)?;
    if tag == der::VERSION {
        (_, _, rest) = der::next(rest)?; // serial number
    }
    (_, _, rest) = der::next(rest)?; // signature algorithm
    (_, _, rest) = der::next(rest)?; // issuer
    let (tag, validity, rest) = der::next(rest)?;
    if tag != der::SEQUENCE {
        return None;
    }
    let (t1, v1, after) = der::next(validity)?;
    let (t2, v2, _) = der::next(after)?;
    let mut info = CertInfo {
        not_before: der::time(t1, v1),
        not_after: der::time(t2, v2),
        ..CertInfo::default()
    };
    let (tag, subject, _) = der::next(rest)?;
    if tag != der::SEQUENCE {
        return None;
    }
    // RDNSequence: SET of SEQUENCE { OID, value }.
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (_, set, next) = der::next(rdns)?;
        rdns = next;
        let mut attrs = set;
        while !attrs.is_empty() {
            let (_, attr, next) = der::next(attrs)?;
            attrs = next;
            let (oid_tag, oid, val) = der::next(attr)?;
            if oid_tag == der::OID && oid == der::COMMON_NAME {
                let (t, v, _) = der::next(val)?;
                info.common_name = der::string(t, v);
            }
        }
    }
    Some(info)
}

/// Just enough DER to walk a certificate.
mod der {
    pub const SEQUENCE: u8 = 0x30;
    pub const OID: u8 = 0x06;
    /// `[0] EXPLICIT Version` of a TBSCertificate.
    pub const VERSION: u8 = 0xa0;
    /// 2.5.4.3, id-at-commonName.
    pub const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

    /// The tag, contents and the rest after one element.
    pub fn next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    /// UTF8String, PrintableString, IA5String, TeletexString (read as Latin-1) and
    /// BMPString.
    pub fn string(tag: u8, value: &[u8]) -> Option<String> {
        match tag {
            0x0c | 0x13 | 0x16 => String::from_utf8(value.to_vec()).ok(),
            0x14 => Some(value.iter().map(|&b| char::from(b)).collect()),
            0x1e => {
                let units: Vec<u16> = value
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).ok()
            }
            _ => None,
        }
    }

    /// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as Unix seconds.
    pub fn time(tag: u8, value: &[u8]) -> Option<i64> {
        let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let num = |s: &str| s.parse::<i64>().ok();
        let (year, rest) = match (tag, text.len()) {
            (0x17, 12) => {
                let yy = num(&text[..2])?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
            }
            (0x18, 14) => (num(&text[..4])?, &text[4..]),
            _ => return None,
        };
        let (month, day) = (num(&rest[..2])? as u32, num(&rest[2..4])? as u32);
        let (h, m, s) = (num(&rest[4..6])?, num(&rest[6..8])?, num(&rest[8..10])?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let days = spillway_core::convert::days_from_civil(year, month, day);
        Some(days * 86_400 + h * 3600 + m * 60 + s)
    }
}

#[cfg(test)]
mod tests;
