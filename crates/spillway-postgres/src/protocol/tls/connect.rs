//! The connection glue: the SSLRequest exchange, the TLS handshake, the [`Transport`] it
//! yields, and libpq's fallbacks between plain and TLS for each `sslmode`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::error::explain_io_error;
use super::{SslMode, TlsConfig, TlsError};

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
