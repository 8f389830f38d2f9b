//! The SSLRequest exchange and the handshake against scripted servers on loopback ports,
//! with the test certificates of `testdata/tls` (see `make.sh` there).

use super::verify::{cert_info, der, name_matches};
use super::*;
use crate::protocol::{ConnError, ReplicationConfig, ReplicationConnection};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::io;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/tls")
        .join(name)
}

fn files(root: Option<&str>, client: Option<(&str, &str)>) -> TlsFiles {
    TlsFiles {
        root_cert: root.map(fixture),
        client_cert: client.map(|(c, _)| fixture(c)),
        client_key: client.map(|(_, k)| fixture(k)),
        key_password: false,
    }
}

fn tls(mode: SslMode, root: Option<&str>) -> TlsConfig {
    TlsConfig::new(mode, &files(root, None)).unwrap()
}

fn config(host: &str, port: u16, tls: TlsConfig) -> ReplicationConfig {
    ReplicationConfig {
        host: host.into(),
        port,
        connect_timeout: Duration::from_secs(10),
        tls,
        ..ReplicationConfig::default()
    }
}

fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Reads one untagged packet (startup message or SSLRequest) and returns its code.
async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<i32> {
    let len = s.read_u32().await? as usize;
    let mut body = vec![0; len - 4];
    s.read_exact(&mut body).await?;
    Ok(i32::from_be_bytes(body[..4].try_into().unwrap()))
}

/// Answers a startup message: trust authentication, a backend key, ready.
async fn serve_login<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> io::Result<()> {
    assert_eq!(
        read_packet(s).await?,
        196_608,
        "startup message, protocol 3.0"
    );
    let mut out = frame(b'R', &0i32.to_be_bytes());
    out.extend(frame(b'K', &[0, 0, 0, 7, 0, 0, 0, 9]));
    out.extend(frame(b'Z', b"I"));
    s.write_all(&out).await?;
    s.flush().await?;
    // Wait for the client to go away.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    Ok(())
}

/// Refuses a startup message the way pg_hba.conf does.
async fn refuse_login<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> io::Result<()> {
    read_packet(s).await?;
    s.write_all(&frame(
        b'E',
        b"SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host \"127.0.0.1\", SSL off\0\0",
    ))
    .await?;
    s.flush().await
}

/// Reads the SSLRequest and answers it.
async fn answer_ssl_request(s: &mut TcpStream, answer: u8) -> io::Result<()> {
    assert_eq!(read_packet(s).await?, SSL_REQUEST_CODE, "SSLRequest first");
    s.write_all(&[answer]).await
}

fn acceptor(cert: &str, key: &str, client_ca: Option<&str>) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_file_iter(fixture(cert))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture(key)).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(fixture(ca)).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    TlsAcceptor::from(Arc::new(builder.with_single_cert(certs, key).unwrap()))
}

/// What the scripted server does with one connection.
#[derive(Clone)]
enum Script {
    /// Startup message first, then login.
    Plain,
    /// Startup message first, refused.
    RefusePlain,
    /// `N` to the SSLRequest, then login on the same socket.
    NoThenLogin,
    /// `N` to the SSLRequest; the client should hang up.
    NoThenHangUp,
    /// `S`, the handshake, then login over TLS. A failed handshake ends the connection.
    Tls(TlsAcceptor),
}

/// Serves one connection per script, in order; returns the port and a task that yields
/// whether each connection's TLS handshake (if any) succeeded.
async fn server(scripts: Vec<Script>) -> (u16, JoinHandle<Vec<bool>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut outcome = Vec::new();
        for script in scripts {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let ok = match script {
                Script::Plain => serve_login(&mut tcp).await.is_ok(),
                Script::RefusePlain => refuse_login(&mut tcp).await.is_ok(),
                Script::NoThenLogin => {
                    answer_ssl_request(&mut tcp, b'N').await.unwrap();
                    serve_login(&mut tcp).await.is_ok()
                }
                Script::NoThenHangUp => {
                    answer_ssl_request(&mut tcp, b'N').await.unwrap();
                    let mut rest = Vec::new();
                    tcp.read_to_end(&mut rest).await.unwrap();
                    rest.is_empty()
                }
                Script::Tls(acceptor) => {
                    answer_ssl_request(&mut tcp, b'S').await.unwrap();
                    match acceptor.accept(tcp).await {
                        Ok(mut stream) => serve_login(&mut stream).await.is_ok(),
                        Err(_) => false,
                    }
                }
            };
            outcome.push(ok);
        }
        outcome
    });
    (port, task)
}

fn server_tls() -> Script {
    Script::Tls(acceptor("server.pem", "server.key", None))
}

async fn connect(
    host: &str,
    scripts: Vec<Script>,
    tls: TlsConfig,
) -> (
    Result<ReplicationConnection, ConnError>,
    JoinHandle<Vec<bool>>,
) {
    let (port, task) = server(scripts).await;
    let result = ReplicationConnection::connect(&config(host, port, tls)).await;
    (result, task)
}

fn tls_error(result: Result<ReplicationConnection, ConnError>) -> TlsError {
    match result {
        Err(ConnError::Tls(e)) => e,
        Err(e) => panic!("expected a TLS error, got {e:?}"),
        Ok(_) => panic!("expected a TLS error, got a connection"),
    }
}

#[tokio::test]
async fn disable_sends_the_startup_message_first() {
    let (conn, _) = connect("127.0.0.1", vec![Script::Plain], TlsConfig::disabled()).await;
    let conn = conn.unwrap();
    assert!(!conn.is_tls());
    assert_eq!(conn.backend_key().unwrap().process_id, 7);
}

#[tokio::test]
async fn prefer_falls_back_to_plain_when_the_server_answers_n() {
    let (conn, _) = connect(
        "127.0.0.1",
        vec![Script::NoThenLogin],
        tls(SslMode::Prefer, None),
    )
    .await;
    let conn = conn.unwrap();
    assert!(!conn.is_tls());
    assert_eq!(conn.backend_key().unwrap().process_id, 7);
}

#[tokio::test]
async fn require_fails_clearly_when_the_server_answers_n() {
    let (conn, server) = connect(
        "127.0.0.1",
        vec![Script::NoThenHangUp],
        tls(SslMode::Require, None),
    )
    .await;
    let e = tls_error(conn);
    assert!(
        matches!(&e, TlsError::NotSupported { host, mode: SslMode::Require } if host == "127.0.0.1"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "the server at 127.0.0.1 does not accept TLS connections (sslmode=require)"
    );
    assert!(
        e.hint().contains("enable ssl on the server"),
        "{}",
        e.hint()
    );
    assert_eq!(
        server.await.unwrap(),
        vec![true],
        "nothing sent after the N"
    );
}

#[tokio::test]
async fn verify_modes_fail_like_require_when_the_server_answers_n() {
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
        let (conn, _) = connect(
            "localhost",
            vec![Script::NoThenHangUp],
            tls(mode, Some("ca.pem")),
        )
        .await;
        let e = tls_error(conn);
        assert!(e.to_string().contains(&format!("sslmode={mode}")), "{e}");
    }
}

#[tokio::test]
async fn allow_tries_tls_after_the_plain_login_is_refused() {
    let (conn, server) = connect(
        "127.0.0.1",
        vec![Script::RefusePlain, server_tls()],
        tls(SslMode::Allow, None),
    )
    .await;
    assert!(conn.unwrap().is_tls());
    assert_eq!(server.await.unwrap(), vec![true, true]);
}

#[tokio::test]
async fn allow_reports_the_refusal_when_tls_is_not_offered_either() {
    let (conn, _) = connect(
        "127.0.0.1",
        vec![Script::RefusePlain, Script::NoThenHangUp],
        tls(SslMode::Allow, None),
    )
    .await;
    match conn {
        Err(e) => assert_eq!(e.code(), Some("28000"), "{e:?}"),
        Ok(_) => panic!("connected"),
    }
}

#[tokio::test]
async fn prefer_and_require_use_tls_without_verifying() {
    for mode in [SslMode::Prefer, SslMode::Require] {
        let (conn, _) = connect("127.0.0.1", vec![server_tls()], tls(mode, None)).await;
        assert!(conn.unwrap().is_tls(), "{mode}");
    }
}

#[tokio::test]
async fn verify_full_accepts_a_name_of_the_certificate() {
    let (conn, _) = connect(
        "localhost",
        vec![server_tls()],
        tls(SslMode::VerifyFull, Some("ca.pem")),
    )
    .await;
    assert!(conn.unwrap().is_tls());
}

#[tokio::test]
async fn verify_full_names_the_host_mode_and_the_certificates_names() {
    let (conn, _) = connect(
        "127.0.0.1",
        vec![server_tls()],
        tls(SslMode::VerifyFull, Some("ca.pem")),
    )
    .await;
    let e = tls_error(conn);
    assert_eq!(
        e.to_string(),
        "certificate verify failed for 127.0.0.1 with sslmode=verify-full: the certificate is not valid for 127.0.0.1"
    );
    assert_eq!(
        e.hint(),
        "the certificate's names are localhost; use sslmode=verify-ca or connect by that name"
    );
}

#[tokio::test]
async fn verify_ca_and_require_with_a_root_file_skip_the_name() {
    for mode in [SslMode::VerifyCa, SslMode::Require] {
        let (conn, _) = connect("127.0.0.1", vec![server_tls()], tls(mode, Some("ca.pem"))).await;
        assert!(conn.unwrap().is_tls(), "{mode}");
    }
}

#[tokio::test]
async fn verify_ca_rejects_a_certificate_of_another_ca() {
    for mode in [SslMode::VerifyCa, SslMode::Require] {
        let (conn, _) = connect(
            "127.0.0.1",
            vec![server_tls()],
            tls(mode, Some("other-ca.pem")),
        )
        .await;
        let e = tls_error(conn);
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "certificate verify failed for 127.0.0.1 with sslmode={mode}: "
            )),
            "{text}"
        );
        assert!(text.contains("not signed by a CA"), "{text}");
        assert!(e.hint().contains("other-ca.pem"), "{}", e.hint());
    }
}

#[tokio::test]
async fn prefer_falls_back_to_plain_when_verification_fails() {
    let (conn, server) = connect(
        "127.0.0.1",
        vec![server_tls(), Script::Plain],
        tls(SslMode::Prefer, Some("other-ca.pem")),
    )
    .await;
    assert!(!conn.unwrap().is_tls());
    assert_eq!(server.await.unwrap(), vec![false, true]);
}

#[tokio::test]
async fn prefer_retries_in_plain_text_when_the_tls_login_is_refused() {
    let tls_refused = {
        let listener_acceptor = acceptor("server.pem", "server.key", None);
        // A server whose pg_hba.conf only has hostnossl lines.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            answer_ssl_request(&mut tcp, b'S').await.unwrap();
            let mut stream = listener_acceptor.accept(tcp).await.unwrap();
            refuse_login(&mut stream).await.unwrap();
            let (mut tcp, _) = listener.accept().await.unwrap();
            serve_login(&mut tcp).await.unwrap();
        });
        (port, task)
    };
    let (port, _task) = tls_refused;
    let conn =
        ReplicationConnection::connect(&config("127.0.0.1", port, tls(SslMode::Prefer, None)))
            .await
            .unwrap();
    assert!(!conn.is_tls());
}

#[tokio::test]
async fn a_self_signed_certificate_can_be_its_own_root() {
    // Marked as a CA and naming its host only in the common name, as PostgreSQL's
    // documentation makes them.
    let selfsigned = || Script::Tls(acceptor("selfsigned.pem", "selfsigned.key", None));
    let (conn, _) = connect(
        "localhost",
        vec![selfsigned()],
        tls(SslMode::VerifyFull, Some("selfsigned.pem")),
    )
    .await;
    assert!(conn.unwrap().is_tls());
    let (conn, _) = connect(
        "127.0.0.1",
        vec![selfsigned()],
        tls(SslMode::VerifyCa, Some("selfsigned.pem")),
    )
    .await;
    assert!(conn.unwrap().is_tls());
    let (conn, _) = connect(
        "127.0.0.1",
        vec![selfsigned()],
        tls(SslMode::VerifyFull, Some("selfsigned.pem")),
    )
    .await;
    let e = tls_error(conn);
    assert!(e.to_string().contains("not valid for 127.0.0.1"), "{e}");
    assert!(
        e.hint()
            .starts_with("the certificate's names are localhost;"),
        "{}",
        e.hint()
    );
    let (conn, _) = connect(
        "localhost",
        vec![selfsigned()],
        tls(SslMode::VerifyFull, Some("ca.pem")),
    )
    .await;
    let e = tls_error(conn);
    assert!(
        e.to_string()
            .ends_with("a CA certificate, and not the one in database.sslrootcert"),
        "{e}"
    );
    assert!(e.hint().contains("ca.pem"), "{}", e.hint());
}

#[tokio::test]
async fn client_certificates_are_sent_when_the_server_asks() {
    let requiring = || Script::Tls(acceptor("server.pem", "server.key", Some("ca.pem")));
    for key in ["client-sec1.key", "client-pkcs8.key"] {
        let config = TlsConfig::new(
            SslMode::VerifyFull,
            &files(Some("ca.pem"), Some(("client.pem", key))),
        )
        .unwrap();
        let (conn, _) = connect("localhost", vec![requiring()], config).await;
        assert!(conn.unwrap().is_tls(), "{key}");
    }
    let (conn, _) = connect(
        "localhost",
        vec![requiring()],
        tls(SslMode::VerifyFull, Some("ca.pem")),
    )
    .await;
    let e = tls_error(conn);
    assert!(
        e.to_string()
            .starts_with("TLS handshake with localhost failed (sslmode=verify-full)"),
        "{e}"
    );
    assert_eq!(
        e.hint(),
        "the server requires a client certificate: set database.sslcert and database.sslkey"
    );
}

#[test]
fn setup_errors_name_the_setting_and_the_file() {
    let err = |mode, f: TlsFiles| TlsConfig::new(mode, &f).unwrap_err();
    let e = err(SslMode::VerifyCa, files(None, None));
    assert_eq!((e.key, e.path.as_ref()), (TlsSetting::RootCert, None));
    assert!(e.detail.contains("sslmode=verify-ca"), "{e}");

    let e = err(SslMode::VerifyFull, files(Some("missing.pem"), None));
    assert_eq!(e.key, TlsSetting::RootCert);
    assert!(e.detail.starts_with("cannot read "), "{e}");
    assert!(e.detail.contains("missing.pem"), "{e}");

    let e = err(SslMode::Require, files(Some("make.sh"), None));
    assert_eq!(e.key, TlsSetting::RootCert);
    assert!(e.detail.contains("holds no PEM certificate"), "{e}");

    let e = err(
        SslMode::Require,
        files(None, Some(("client.pem", "client-encrypted.key"))),
    );
    assert_eq!(e.key, TlsSetting::ClientKey);
    assert!(e.detail.contains("encrypted keys are not supported"), "{e}");

    let e = err(
        SslMode::Require,
        files(None, Some(("client.pem", "server.key"))),
    );
    assert_eq!(e.key, TlsSetting::ClientKey);
    assert!(
        e.detail
            .contains("cannot be used with the client certificate"),
        "{e}"
    );

    let e = err(
        SslMode::Require,
        TlsFiles {
            client_cert: Some(fixture("client.pem")),
            ..TlsFiles::default()
        },
    );
    assert_eq!((e.key, e.path.as_ref()), (TlsSetting::ClientKey, None));

    // With disable, the files are not read.
    assert_eq!(
        TlsConfig::new(SslMode::Disable, &files(Some("missing.pem"), None))
            .unwrap()
            .mode(),
        SslMode::Disable
    );
}

#[test]
fn verification_follows_the_mode_and_the_root_file() {
    let v = |mode, root| tls(mode, root).verification();
    assert_eq!(v(SslMode::Prefer, None), Verification::None);
    assert_eq!(v(SslMode::Require, None), Verification::None);
    assert_eq!(v(SslMode::Require, Some("ca.pem")), Verification::Chain);
    assert_eq!(v(SslMode::Prefer, Some("ca.pem")), Verification::Chain);
    assert_eq!(v(SslMode::VerifyCa, Some("ca.pem")), Verification::Chain);
    assert_eq!(v(SslMode::VerifyFull, Some("ca.pem")), Verification::Full);
}

#[test]
fn certificate_fields() {
    let read = |name: &str| {
        CertificateDer::from_pem_file(fixture(name))
            .unwrap()
            .as_ref()
            .to_vec()
    };
    let info = cert_info(&read("selfsigned.pem")).unwrap();
    assert_eq!(info.common_name.as_deref(), Some("localhost"));
    let (from, to) = (info.not_before.unwrap(), info.not_after.unwrap());
    assert!(
        from > 1_700_000_000 && to - from > 36_000 * 86_400,
        "{from} {to}"
    );
    let info = cert_info(&read("ca.pem")).unwrap();
    assert_eq!(info.common_name.as_deref(), Some("spillway test CA"));
    assert_eq!(cert_info(b"\x30\x03\x02\x01"), None);
}

#[test]
fn der_times() {
    assert_eq!(der::time(0x17, b"700101000000Z"), Some(0));
    assert_eq!(der::time(0x17, b"260520162728Z"), Some(1_779_294_448));
    assert_eq!(der::time(0x18, b"20360517162728Z"), Some(2_094_654_448));
    assert_eq!(der::time(0x17, b"2605201627Z"), None);
    assert_eq!(der::time(0x17, b"261320162728Z"), None);
}

#[test]
fn names_match_like_libpq() {
    assert!(name_matches("db.example.com", "DB.example.com"));
    assert!(name_matches("*.example.com", "db.example.com"));
    assert!(!name_matches("*.example.com", "a.db.example.com"));
    assert!(!name_matches("*.example.com", "example.com"));
    assert!(!name_matches("localhost", "127.0.0.1"));
    assert!(name_matches("127.0.0.1", "127.0.0.1"));
}

#[test]
fn modes_print_as_configured() {
    assert_eq!(SslMode::VerifyFull.to_string(), "verify-full");
    assert_eq!(SslMode::Prefer.as_str(), "prefer");
}

/// The SQL sessions negotiate through the same code: `N` with prefer and require.
mod sessions {
    use super::*;
    use crate::config::PostgresConfig;
    use crate::error::PostgresError;
    use spillway_core::config::ConfigMap;

    fn pg_config(port: u16, mode: &str) -> PostgresConfig {
        let port = port.to_string();
        PostgresConfig::from_config(&ConfigMap::from_pairs([
            (
                "connector.class",
                "io.debezium.connector.postgresql.PostgresConnector",
            ),
            ("database.hostname", "127.0.0.1"),
            ("database.port", port.as_str()),
            ("database.user", "postgres"),
            ("database.dbname", "app"),
            ("topic.prefix", "app"),
            ("database.sslmode", mode),
        ]))
        .unwrap()
    }

    #[tokio::test]
    async fn prefer_falls_back_to_plain_on_n() {
        let (port, _server) = server(vec![Script::NoThenLogin]).await;
        crate::session::connect(&pg_config(port, "prefer"), "test")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn require_fails_clearly_on_n() {
        let (port, server) = server(vec![Script::NoThenHangUp]).await;
        let e = crate::session::connect(&pg_config(port, "require"), "test")
            .await
            .unwrap_err();
        assert!(matches!(e, PostgresError::Preflight { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the server at 127.0.0.1 does not accept TLS connections (sslmode=require)\n\
             hint: enable ssl on the server, or use database.sslmode=prefer (or disable) to connect in plain text"
        );
        assert_eq!(server.await.unwrap(), vec![true]);
    }

    #[tokio::test]
    async fn require_uses_tls() {
        let (port, server) = server(vec![server_tls()]).await;
        let client = crate::session::connect(&pg_config(port, "require"), "test")
            .await
            .unwrap();
        drop(client);
        assert_eq!(server.await.unwrap(), vec![true]);
    }
}

#[test]
fn pem_bytes_give_the_certificates_and_key_their_files_hold() {
    let bytes = |name: &str| std::fs::read(fixture(name)).expect("a test certificate file");
    let certs = certificates_from_pem_bytes(&bytes("ca.pem")).expect("a certificate file");
    assert_eq!(certs.len(), 1);
    let info = cert_info(certs[0].as_ref()).expect("an X.509 certificate");
    assert_eq!(info.common_name.as_deref(), Some("spillway test CA"));
    assert_eq!(
        certificates_from_pem_bytes(b"no pem here"),
        Err(PemError::NoCertificate)
    );
    assert!(matches!(
        certificates_from_pem_bytes(
            b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"
        ),
        Err(PemError::Invalid(_))
    ));
    assert_eq!(
        private_key_from_pem_bytes(&bytes("ca.pem")).err(),
        Some(PemError::NoPrivateKey),
        "a certificate is not a key"
    );
    assert_eq!(
        private_key_from_pem_bytes(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n").err(),
        Some(PemError::EncryptedKey)
    );
}
