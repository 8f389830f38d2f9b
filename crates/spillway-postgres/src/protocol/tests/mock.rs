//! A scripted server on a loopback port: authentication methods the local server (trust
//! only) cannot exercise, and stream edge cases that are hard to provoke from a real one.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::protocol::pgoutput::{LogicalMessage, ReplicationMessage};
use crate::protocol::{ConnError, ReplicationConfig, ReplicationConnection};

/// The server side of one connection.
struct Server {
    stream: TcpStream,
    buf: BytesMut,
}

impl Server {
    async fn fill(&mut self, n: usize) {
        while self.buf.len() < n {
            let read = self.stream.read_buf(&mut self.buf).await.unwrap();
            assert!(read > 0, "client closed the connection");
        }
    }

    /// The startup packet's parameters.
    async fn startup(&mut self) -> Vec<(String, String)> {
        self.fill(4).await;
        let len = u32::from_be_bytes(self.buf[..4].try_into().unwrap()) as usize;
        self.fill(len).await;
        let mut body = self.buf.split_to(len).freeze();
        body.advance(4);
        assert_eq!(body.get_u32(), 196_608, "protocol 3.0");
        let parts: Vec<String> = body
            .split(|b| *b == 0)
            .map(|s| String::from_utf8(s.to_vec()).unwrap())
            .collect();
        parts
            .chunks(2)
            .filter(|c| c.len() == 2 && !c[0].is_empty())
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect()
    }

    async fn recv(&mut self) -> (u8, Bytes) {
        self.fill(5).await;
        let tag = self.buf[0];
        let len = u32::from_be_bytes(self.buf[1..5].try_into().unwrap()) as usize;
        self.fill(1 + len).await;
        let mut f = self.buf.split_to(1 + len).freeze();
        f.advance(5);
        (tag, f)
    }

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    async fn send(&mut self, tag: u8, body: &[u8]) {
        self.stream
            .write_all(&Self::frame(tag, body))
            .await
            .unwrap();
    }

    async fn auth(&mut self, code: i32, data: &[u8]) {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(data);
        self.send(b'R', &body).await;
    }

    async fn error(&mut self, code: &str, message: &str) {
        let body = format!("SFATAL\0VFATAL\0C{code}\0M{message}\0\0");
        self.send(b'E', body.as_bytes()).await;
    }

    async fn ready(&mut self) {
        self.send(b'S', b"server_version\x0015.0 (mock)\0").await;
        self.send(b'S', b"server_encoding\0UTF8\0").await;
        self.send(b'N', b"SNOTICE\0C00000\0Mwelcome\0\0").await;
        self.send(b'K', &[0, 0, 0x10, 0x92, 0, 0, 0, 7]).await;
        self.send(b'Z', b"I").await;
    }

    async fn expect_password(&mut self) -> String {
        let (tag, body) = self.recv().await;
        assert_eq!(tag, b'p');
        String::from_utf8(body[..body.len() - 1].to_vec()).unwrap()
    }

    /// The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for `password`. Returns
    /// whether the client proved it knows the password.
    async fn scram(&mut self, password: &str) -> bool {
        // "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let rest = verifier.strip_prefix("SCRAM-SHA-256$").unwrap();
        let (iter_salt, keys) = rest.split_once('$').unwrap();
        let (iterations, salt) = iter_salt.split_once(':').unwrap();
        let (stored_key, server_key) = keys.split_once(':').unwrap();
        let stored_key = B64.decode(stored_key).unwrap();
        let server_key = B64.decode(server_key).unwrap();

        self.auth(10, b"SCRAM-SHA-256\0\0").await;
        let (tag, mut body) = self.recv().await;
        assert_eq!(tag, b'p');
        let nul = body.iter().position(|b| *b == 0).unwrap();
        assert_eq!(&body[..nul], b"SCRAM-SHA-256");
        body.advance(nul + 1);
        let len = body.get_i32() as usize;
        assert_eq!(body.len(), len);
        let client_first = String::from_utf8(body.to_vec()).unwrap();
        let bare = client_first
            .strip_prefix("n,,")
            .expect("no channel binding");
        let client_nonce = bare.strip_prefix("n=,r=").unwrap();

        let server_first = format!("r={client_nonce}mocknonce,s={salt},i={iterations}");
        self.auth(11, server_first.as_bytes()).await;

        let (tag, body) = self.recv().await;
        assert_eq!(tag, b'p');
        let client_final = String::from_utf8(body.to_vec()).unwrap();
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        assert_eq!(
            without_proof,
            format!("c=biws,r={client_nonce}mocknonce"),
            "channel binding flag and nonce"
        );
        let proof = B64.decode(proof).unwrap();
        let auth_message = format!("{bare},{server_first},{without_proof}");

        let mut mac = Hmac::<Sha256>::new_from_slice(&stored_key).unwrap();
        mac.update(auth_message.as_bytes());
        let client_signature = mac.finalize().into_bytes();
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        if Sha256::digest(&client_key).as_slice() != stored_key.as_slice() {
            return false;
        }

        let mut mac = Hmac::<Sha256>::new_from_slice(&server_key).unwrap();
        mac.update(auth_message.as_bytes());
        let server_signature = B64.encode(mac.finalize().into_bytes());
        self.auth(12, format!("v={server_signature}").as_bytes())
            .await;
        true
    }
}

/// Listens on a free loopback port and runs `script` on the first connection.
async fn mock<F, Fut>(script: F) -> (ReplicationConfig, JoinHandle<()>)
where
    F: FnOnce(Server) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        script(Server {
            stream,
            buf: BytesMut::new(),
        })
        .await;
    });
    let cfg = ReplicationConfig {
        host: "127.0.0.1".into(),
        port,
        user: "alice".into(),
        password: Some("s3cret pässword".into()),
        dbname: "shop".into(),
        application_name: "mock-test".into(),
        connect_timeout: Duration::from_secs(10),
        options: Some("-c lock_timeout=5s".into()),
        tls: Default::default(),
    };
    (cfg, handle)
}

#[tokio::test]
async fn trust_startup_parameters_and_identify_system() {
    let (cfg, server) = mock(|mut s| async move {
        let params = s.startup().await;
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("user"), "alice");
        assert_eq!(get("database"), "shop");
        assert_eq!(get("replication"), "database");
        assert_eq!(get("application_name"), "mock-test");
        assert_eq!(get("client_encoding"), "UTF8");
        assert_eq!(get("options"), "-c lock_timeout=5s");
        s.auth(0, b"").await;
        s.ready().await;

        let (tag, q) = s.recv().await;
        assert_eq!((tag, &q[..]), (b'Q', &b"IDENTIFY_SYSTEM\0"[..]));
        s.send(b'T', &[0, 4]).await; // fields are not inspected by the client
        let mut row = BytesMut::new();
        row.put_i16(4);
        for v in ["7311234567890123456", "1", "0/16B3748", "shop"] {
            row.put_i32(v.len() as i32);
            row.put_slice(v.as_bytes());
        }
        s.send(b'D', &row).await;
        s.send(b'C', b"IDENTIFY_SYSTEM\0").await;
        s.send(b'Z', b"I").await;
        let (tag, _) = s.recv().await;
        assert_eq!(tag, b'X');
    })
    .await;

    let mut conn = ReplicationConnection::connect(&cfg).await.unwrap();
    assert_eq!(conn.server_version(), Some("15.0 (mock)"));
    assert_eq!(conn.parameter("server_encoding"), Some("UTF8"));
    let key = conn.backend_key().unwrap();
    assert_eq!((key.process_id, key.secret_key), (4242, 7));
    let id = conn.identify_system().await.unwrap();
    assert_eq!(id.systemid, "7311234567890123456");
    assert_eq!(id.timeline, 1);
    assert_eq!(id.xlogpos, 0x16B3748);
    assert_eq!(id.dbname.as_deref(), Some("shop"));
    conn.close().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn cleartext_password() {
    let (cfg, server) = mock(|mut s| async move {
        s.startup().await;
        s.auth(3, b"").await;
        assert_eq!(s.expect_password().await, "s3cret pässword");
        s.auth(0, b"").await;
        s.ready().await;
    })
    .await;
    ReplicationConnection::connect(&cfg).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn md5_password() {
    let (cfg, server) = mock(|mut s| async move {
        s.startup().await;
        let salt = [0x93, 0x11, 0x27, 0x01];
        s.auth(5, &salt).await;
        let got = s.expect_password().await;
        // md5(md5(password || user) || salt), hex, with an "md5" prefix.
        let expected = postgres_protocol::authentication::md5_hash(
            b"alice",
            "s3cret pässword".as_bytes(),
            salt,
        );
        assert_eq!(got, expected);
        assert!(got.starts_with("md5") && got.len() == 35);
        s.auth(0, b"").await;
        s.ready().await;
    })
    .await;
    ReplicationConnection::connect(&cfg).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn scram_sha_256_password() {
    let (cfg, server) = mock(|mut s| async move {
        s.startup().await;
        assert!(s.scram("s3cret pässword").await, "client proof rejected");
        s.auth(0, b"").await;
        s.ready().await;
    })
    .await;
    let conn = ReplicationConnection::connect(&cfg).await.unwrap();
    assert_eq!(conn.backend_key().unwrap().process_id, 4242);
    server.await.unwrap();
}

#[tokio::test]
async fn scram_wrong_password_is_28p01() {
    let (mut cfg, server) = mock(|mut s| async move {
        s.startup().await;
        assert!(!s.scram("s3cret pässword").await);
        s.error("28P01", "password authentication failed for user \"alice\"")
            .await;
    })
    .await;
    cfg.password = Some("wrong".into());
    let err = ReplicationConnection::connect(&cfg).await.unwrap_err();
    assert_eq!(err.code(), Some("28P01"), "{err:?}");
    assert_eq!(
        err.to_string(),
        "server error 28P01: password authentication failed for user \"alice\""
    );
    server.await.unwrap();
}

#[tokio::test]
async fn scram_rejects_forged_server_signature() {
    let (cfg, server) = mock(|mut s| async move {
        s.startup().await;
        s.auth(10, b"SCRAM-SHA-256\0\0").await;
        let (_, body) = s.recv().await;
        let text = String::from_utf8_lossy(&body).into_owned();
        let nonce = text.split("r=").nth(1).unwrap().to_owned();
        s.auth(
            11,
            format!("r={nonce}x,s={},i=4096", B64.encode(b"salt")).as_bytes(),
        )
        .await;
        s.recv().await;
        s.auth(12, format!("v={}", B64.encode([0u8; 32])).as_bytes())
            .await;
        // The client must hang up rather than continue.
        let mut rest = Vec::new();
        let _ = s.stream.read_to_end(&mut rest).await;
    })
    .await;
    let err = ReplicationConnection::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, ConnError::Auth(_)), "{err:?}");
    server.await.unwrap();
}

#[tokio::test]
async fn missing_password_and_unsupported_methods() {
    let (mut cfg, server) = mock(|mut s| async move {
        s.startup().await;
        s.auth(5, &[1, 2, 3, 4]).await;
        let mut rest = Vec::new();
        let _ = s.stream.read_to_end(&mut rest).await;
    })
    .await;
    cfg.password = None;
    let err = ReplicationConnection::connect(&cfg).await.unwrap_err();
    assert!(
        matches!(&err, ConnError::Auth(m) if m.contains("requires a password")),
        "{err:?}"
    );
    server.await.unwrap();

    let (cfg, server) = mock(|mut s| async move {
        s.startup().await;
        s.auth(7, b"").await;
        let mut rest = Vec::new();
        let _ = s.stream.read_to_end(&mut rest).await;
    })
    .await;
    let err = ReplicationConnection::connect(&cfg).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "authentication failed: unsupported authentication method GSSAPI (code 7)"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn connect_timeout() {
    let (mut cfg, server) = mock(|mut s| async move {
        s.startup().await;
        // Never answer.
        let mut rest = Vec::new();
        let _ = s.stream.read_to_end(&mut rest).await;
    })
    .await;
    cfg.connect_timeout = Duration::from_millis(200);
    let err = ReplicationConnection::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, ConnError::Timeout { .. }), "{err:?}");
    assert_eq!(err.to_string(), "timed out while connecting");
    server.await.unwrap();
}

fn xlogdata(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![b'w'];
    v.extend_from_slice(&0x100u64.to_be_bytes());
    v.extend_from_slice(&0x200u64.to_be_bytes());
    v.extend_from_slice(&5i64.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn begin_payload() -> Vec<u8> {
    let mut v = vec![b'B'];
    v.extend_from_slice(&0x180u64.to_be_bytes());
    v.extend_from_slice(&9i64.to_be_bytes());
    v.extend_from_slice(&777u32.to_be_bytes());
    v
}

/// Messages split across writes with pauses, received through `select!` against a timer
/// that fires in between: cancelled receives must lose nothing. Then CopyDone from the
/// server, and `stop` returns a usable connection.
#[tokio::test]
async fn stream_survives_cancelled_receives() {
    let (cfg, server) = mock(|mut s| async move {
        s.startup().await;
        s.auth(0, b"").await;
        s.ready().await;
        let (tag, q) = s.recv().await;
        assert_eq!(tag, b'Q');
        assert!(q.starts_with(b"START_REPLICATION SLOT \"mock_slot\" LOGICAL 0/10"));
        s.send(b'W', &[0, 0, 0]).await;

        let mut wire = Server::frame(b'd', &xlogdata(&begin_payload()));
        wire.extend(Server::frame(b'N', b"SWARNING\0C01000\0Mslow\0\0"));
        let mut keepalive = vec![b'k'];
        keepalive.extend_from_slice(&0x300u64.to_be_bytes());
        keepalive.extend_from_slice(&6i64.to_be_bytes());
        keepalive.push(1);
        wire.extend(Server::frame(b'd', &keepalive));
        wire.extend(Server::frame(b'S', b"application_name\0renamed\0"));
        // Byte by byte, with pauses longer than the client's timer.
        for (i, b) in wire.iter().enumerate() {
            s.stream.write_all(&[*b]).await.unwrap();
            if i % 7 == 0 {
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }

        // The client's status update.
        let (tag, body) = s.recv().await;
        assert_eq!(tag, b'd');
        assert_eq!(body.len(), 34);
        assert_eq!(body[0], b'r');
        assert_eq!(&body[1..9], &0x300u64.to_be_bytes());
        assert_eq!(&body[9..17], &0x180u64.to_be_bytes());
        assert_eq!(&body[17..25], &0x180u64.to_be_bytes());
        assert_eq!(body[33], 0);

        s.send(b'c', b"").await;
        // The client ends its side with CopyDone too.
        let (tag, _) = s.recv().await;
        assert_eq!(tag, b'c');
        s.send(b'C', b"COPY 0\0").await;
        s.send(b'Z', b"I").await;

        let (tag, _) = s.recv().await;
        assert_eq!(tag, b'Q');
        s.send(b'I', b"").await;
        s.send(b'Z', b"I").await;
    })
    .await;

    let conn = ReplicationConnection::connect(&cfg).await.unwrap();
    let mut stream = conn
        .start_replication("mock_slot", 0x10, &["p".into()], 1, false)
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut timer_fired = 0;
    loop {
        tokio::select! {
            m = stream.recv() => match m.unwrap() {
                Some(m) => {
                    let reply = matches!(m, ReplicationMessage::Keepalive { reply_requested: true, .. });
                    got.push(m);
                    if reply {
                        stream.send_status(0x300, 0x180, 0x180, false).await.unwrap();
                    }
                }
                None => break,
            },
            _ = tokio::time::sleep(Duration::from_millis(1)) => timer_fired += 1,
        }
    }
    assert!(timer_fired > 0, "the timer never interrupted a receive");
    assert_eq!(got.len(), 2, "{got:?}");
    let ReplicationMessage::XLogData {
        wal_start, data, ..
    } = &got[0]
    else {
        panic!("{:?}", got[0]);
    };
    assert_eq!(*wal_start, 0x100);
    assert!(matches!(
        LogicalMessage::decode(data).unwrap(),
        LogicalMessage::Begin(b) if b.xid == 777
    ));
    assert_eq!(
        got[1],
        ReplicationMessage::Keepalive {
            wal_end: 0x300,
            server_time_us: 6,
            reply_requested: true
        }
    );
    assert_eq!(
        stream.connection().parameter("application_name"),
        Some("renamed")
    );
    // Ended by the server: further receives say so again.
    assert!(stream.recv().await.unwrap().is_none());

    let mut conn = stream.stop().await.unwrap();
    assert!(conn.simple_query("").await.unwrap().is_empty());
    server.await.unwrap();
}

#[tokio::test]
async fn malformed_stream_data_is_an_error() {
    let (cfg, server) = mock(|mut s| async move {
        s.startup().await;
        s.auth(0, b"").await;
        s.ready().await;
        s.recv().await;
        s.send(b'W', &[0, 0, 0]).await;
        s.send(b'd', b"k\0\0").await;
        s.send(b'd', b"zzz").await;
        s.error("XX000", "boom").await;
        let mut rest = Vec::new();
        let _ = s.stream.read_to_end(&mut rest).await;
    })
    .await;
    let conn = ReplicationConnection::connect(&cfg).await.unwrap();
    let mut stream = conn
        .start_replication("s", 0, &["p".into()], 1, true)
        .await
        .unwrap();
    let err = stream.recv().await.unwrap_err();
    assert!(matches!(err, ConnError::Decode(_)), "{err:?}");
    assert_eq!(err.to_string(), "malformed replication message");
    let err = stream.recv().await.unwrap_err();
    assert!(matches!(err, ConnError::Decode(_)), "{err:?}");
    let err = stream.recv().await.unwrap_err();
    assert_eq!(err.code(), Some("XX000"));
    drop(stream);
    server.await.unwrap();
}
