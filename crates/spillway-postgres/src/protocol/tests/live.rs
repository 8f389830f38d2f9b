//! Against the local PostgreSQL (`SPILLWAY_TEST_PG_HOST`/`SPILLWAY_TEST_PG_PORT`, default
//! 127.0.0.1:5432, user postgres, trust authentication, `wal_level=logical`). Every test
//! uses its own slot, publication and table names and removes them.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{timeout, Instant};

use crate::protocol::pgoutput::{
    LogicalMessage, Relation, ReplicationMessage, TupleValue, OLD_KIND_FULL, OLD_KIND_KEY,
};
use crate::protocol::{
    format_lsn, parse_lsn, ReplicationConfig, ReplicationConnection, ReplicationStream,
};

fn host() -> String {
    std::env::var("SPILLWAY_TEST_PG_HOST").unwrap_or_else(|_| "127.0.0.1".into())
}

fn port() -> u16 {
    std::env::var("SPILLWAY_TEST_PG_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5432)
}

fn config(app: &str) -> ReplicationConfig {
    ReplicationConfig {
        host: host(),
        port: port(),
        user: "postgres".into(),
        password: None,
        dbname: "postgres".into(),
        application_name: app.into(),
        connect_timeout: Duration::from_secs(10),
        options: Some("-c lock_timeout=5s".into()),
        tls: Default::default(),
    }
}

/// A name unique to this test and process.
fn name(test: &str) -> String {
    format!("spw_proto_{test}_{}", std::process::id())
}

async fn sql() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(
        &format!(
            "host={} port={} user=postgres dbname=postgres",
            host(),
            port()
        ),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect to the local PostgreSQL");
    tokio::spawn(connection);
    client
}

/// Runs cleanup SQL when dropped, also when the test panics.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let statements = std::mem::take(&mut self.0);
        // A runtime of its own: the test's may be unwinding.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let _ = sql().await.batch_execute(&statements).await;
            });
        })
        .join();
    }
}

#[tokio::test]
async fn connect_identify_and_query() {
    let app = name("identify");
    let mut conn = ReplicationConnection::connect(&config(&app)).await.unwrap();
    assert!(conn
        .server_version()
        .unwrap()
        .starts_with(|c: char| c.is_ascii_digit()));
    assert!(conn.parameter("server_encoding").is_some());
    assert_eq!(conn.parameter("client_encoding"), Some("UTF8"));
    assert_eq!(conn.parameter("application_name"), Some(app.as_str()));
    let key = conn.backend_key().unwrap();

    let id = conn.identify_system().await.unwrap();
    assert!(id.timeline >= 1);
    assert!(id.xlogpos > 0);
    assert_eq!(id.dbname.as_deref(), Some("postgres"));

    let client = sql().await;
    let row = client
        .query_one(
            "SELECT system_identifier::text, pg_current_wal_lsn()::text FROM pg_control_system()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(id.systemid, row.get::<_, String>(0));
    assert!(parse_lsn(row.get(1)).unwrap() >= id.xlogpos);

    // The walsender is this connection.
    let row = client
        .query_one(
            "SELECT backend_type FROM pg_stat_activity WHERE pid = $1 AND application_name = $2",
            &[&key.process_id, &app],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "walsender");

    // SQL on a replication=database connection: text columns, NULLs, several rows.
    let rows = conn
        .simple_query(
            "SELECT g, CASE WHEN g = 2 THEN NULL ELSE 'v' || g END FROM generate_series(1, 3) g",
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![Some("1".into()), Some("v1".into())],
            vec![Some("2".into()), None],
            vec![Some("3".into()), Some("v3".into())],
        ]
    );
    assert!(conn.simple_query("").await.unwrap().is_empty());
    // The startup options took effect.
    let rows = conn.simple_query("SHOW lock_timeout").await.unwrap();
    assert_eq!(rows, vec![vec![Some("5s".to_string())]]);
    let rows = conn.simple_query("SELECT 'é'::text").await.unwrap();
    assert_eq!(rows[0][0].as_deref(), Some("é"));

    // An error leaves the connection usable.
    let err = conn
        .simple_query("SELECT * FROM spw_proto_no_such_table")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("42P01"), "{err:?}");
    assert!(err.to_string().starts_with("server error 42P01: "), "{err}");
    let err = conn
        .drop_slot("spw_proto_no_such_slot", false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("42704"), "{err:?}");
    assert_eq!(conn.simple_query("SELECT 1").await.unwrap().len(), 1);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn exported_snapshot_is_importable_while_idle() {
    let table = name("snap_t");
    let slot = name("snap_slot");
    let _cleanup = Cleanup(format!("DROP TABLE IF EXISTS {table}"));
    let client = sql().await;
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int); INSERT INTO {table} VALUES (1);"
        ))
        .await
        .unwrap();

    let mut conn = ReplicationConnection::connect(&config(&slot))
        .await
        .unwrap();
    let before = conn.identify_system().await.unwrap().xlogpos;
    let created = conn.create_logical_slot(&slot, true, true).await.unwrap();
    assert_eq!(created.slot_name, slot);
    assert!(created.consistent_point >= before);
    let snapshot = created.snapshot_name.clone().expect("snapshot exported");

    // A row committed after the slot's consistent point is not in the snapshot.
    client
        .batch_execute(&format!("INSERT INTO {table} VALUES (2)"))
        .await
        .unwrap();
    let reader = sql().await;
    reader
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'"
        ))
        .await
        .unwrap();
    let n: i64 = reader
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        n, 1,
        "the snapshot sees the table as of the consistent point"
    );
    reader.batch_execute("COMMIT").await.unwrap();

    let row = client
        .query_one(
            "SELECT temporary, plugin, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, String>(1), "pgoutput");
    assert_eq!(
        parse_lsn(row.get(2)).unwrap(),
        created.consistent_point,
        "{}",
        format_lsn(created.consistent_point)
    );

    // The next command on the replication connection ends the exported snapshot.
    conn.identify_system().await.unwrap();
    reader
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    let err = reader
        .batch_execute(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
        .await
        .unwrap_err();
    assert!(err.code().is_some(), "{err}");
    reader.batch_execute("ROLLBACK").await.unwrap();

    // A temporary slot goes away with its connection.
    conn.close().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .unwrap()
            .get(0);
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "temporary slot not dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn permanent_slot_create_and_drop() {
    let slot = name("perm_slot");
    let _cleanup = Cleanup(format!(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ));
    let client = sql().await;
    let _ = client
        .execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await;
    let mut conn = ReplicationConnection::connect(&config(&slot))
        .await
        .unwrap();
    let created = conn.create_logical_slot(&slot, false, false).await.unwrap();
    assert_eq!(created.snapshot_name, None);
    let row = client
        .query_one(
            "SELECT temporary FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0));

    // Creating it again: duplicate object.
    let err = conn
        .create_logical_slot(&slot, false, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("42710"), "{err:?}");

    conn.drop_slot(&slot, true).await.unwrap();
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);

    // Starting replication from a slot that does not exist.
    let err = conn
        .start_replication(&slot, 0, &["p".into()], 1, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("42704"), "{err:?}");
}

/// Receives until `done` says the collected messages are complete, racing every receive
/// against a short timer so that cancelled receives are exercised against real traffic.
async fn collect(
    stream: &mut ReplicationStream,
    out: &mut Vec<(u64, LogicalMessage)>,
    done: impl Fn(&[(u64, LogicalMessage)]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(out) {
        assert!(
            Instant::now() < deadline,
            "timed out; got {:#?}",
            out.iter().map(|(_, m)| m.name()).collect::<Vec<_>>()
        );
        tokio::select! {
            m = stream.recv() => match m.unwrap().expect("stream ended") {
                ReplicationMessage::XLogData { wal_start, data, .. } => {
                    out.push((wal_start, LogicalMessage::decode(&data).unwrap()));
                }
                ReplicationMessage::Keepalive { reply_requested, wal_end, .. } => {
                    if reply_requested {
                        stream.send_status(wal_end, 0, 0, false).await.unwrap();
                    }
                }
            },
            _ = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
    }
}

fn text(s: &str) -> TupleValue {
    TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
}

#[tokio::test]
async fn streams_decoded_changes() {
    let a = name("stream_a");
    let b = name("stream_b");
    let publication = name("stream_pub");
    let slot = name("stream_slot");
    let _cleanup = Cleanup(format!(
        "DROP PUBLICATION IF EXISTS {publication}; DROP TABLE IF EXISTS {a}, {b};"
    ));
    let client = sql().await;
    client
        .batch_execute(&format!(
            "DROP PUBLICATION IF EXISTS {publication};
             DROP TABLE IF EXISTS {a}, {b};
             CREATE TABLE {a} (id int PRIMARY KEY, note text, big text);
             ALTER TABLE {a} ALTER COLUMN big SET STORAGE EXTERNAL;
             CREATE TABLE {b} (id int, v text);
             ALTER TABLE {b} REPLICA IDENTITY FULL;
             CREATE PUBLICATION {publication} FOR TABLE {a}, {b};"
        ))
        .await
        .unwrap();
    let oid = |t: &str| {
        let client = &client;
        let t = t.to_owned();
        async move {
            client
                .query_one("SELECT $1::text::regclass::oid", &[&t])
                .await
                .unwrap()
                .get::<_, u32>(0)
        }
    };
    let (oid_a, oid_b) = (oid(&a).await, oid(&b).await);

    let mut conn = ReplicationConnection::connect(&config(&slot))
        .await
        .unwrap();
    conn.create_logical_slot(&slot, true, false).await.unwrap();
    let mut stream = conn
        .start_replication(&slot, 0, std::slice::from_ref(&publication), 1, true)
        .await
        .unwrap();

    // One transaction each (a multi-statement query string would be one transaction).
    let statements = [
        format!("INSERT INTO {a} VALUES (1, 'one', NULL)"),
        format!("UPDATE {a} SET note = 'uno' WHERE id = 1"),
        format!("UPDATE {a} SET id = 2 WHERE id = 1"),
        format!(
            "BEGIN; INSERT INTO {b} VALUES (10, 'x'); UPDATE {b} SET v = 'y'; DELETE FROM {b}; COMMIT"
        ),
        format!(
            "INSERT INTO {a} SELECT 3, 'big', string_agg(md5(i::text), '') FROM generate_series(1, 300) i"
        ),
        format!("UPDATE {a} SET note = 'tres' WHERE id = 3"),
        format!("DELETE FROM {a} WHERE id = 2"),
        "SELECT pg_logical_emit_message(true, 'spw', 'hello')".to_string(),
        "SELECT pg_logical_emit_message(false, 'spw', '\\x00ff'::bytea)".to_string(),
        format!("TRUNCATE {a}, {b}"),
    ];
    for statement in &statements {
        client.batch_execute(statement).await.unwrap();
    }

    let mut got = Vec::new();
    collect(&mut stream, &mut got, |m| {
        let n = m.len();
        n >= 2
            && matches!(m[n - 2].1, LogicalMessage::Truncate(_))
            && matches!(m[n - 1].1, LogicalMessage::Commit(_))
    })
    .await;

    // Transactions are well formed: Begin ... Commit with matching LSNs.
    let mut open: Option<u64> = None;
    let mut commits = Vec::new();
    for (_, m) in &got {
        match m {
            LogicalMessage::Begin(b) => {
                assert!(open.is_none(), "nested Begin");
                assert!(b.xid > 0 && b.commit_time_us > 0);
                open = Some(b.final_lsn);
            }
            LogicalMessage::Commit(c) => {
                assert_eq!(open.take(), Some(c.commit_lsn), "Commit matches Begin");
                assert!(c.end_lsn > c.commit_lsn);
                assert_eq!(c.flags, 0);
                commits.push(c.clone());
            }
            LogicalMessage::Message(msg) if !msg.transactional => {}
            _ => assert!(open.is_some(), "{} outside a transaction", m.name()),
        }
    }
    assert!(open.is_none());
    // insert, update, update, the B transaction, insert, update, delete, message, truncate
    assert_eq!(commits.len(), 9);
    assert!(commits.windows(2).all(|w| w[0].end_lsn < w[1].end_lsn));

    let changes: Vec<&LogicalMessage> = got
        .iter()
        .map(|(_, m)| m)
        .filter(|m| !matches!(m, LogicalMessage::Begin(_) | LogicalMessage::Commit(_)))
        .collect();
    let names: Vec<&str> = changes.iter().map(|m| m.name()).collect();
    // The server sends a Relation before a table's first change and again whenever its
    // cached description is invalidated (other sessions' catalog work can do that at any
    // time), so the data messages are compared exactly and the Relations where they must be.
    let data: Vec<&str> = names.iter().copied().filter(|n| *n != "Relation").collect();
    assert_eq!(
        data,
        [
            "Insert", "Update", "Update", "Insert", "Update", "Delete", "Insert", "Update",
            "Delete", "Message", "Message", "Truncate"
        ],
        "{names:?}"
    );
    assert_eq!(names[0], "Relation", "{names:?}");
    let second_table = names.iter().position(|n| *n == "Relation").map(|first| {
        names[first + 1..]
            .iter()
            .position(|n| *n == "Relation")
            .map(|i| first + 1 + i)
    });
    assert!(
        matches!(second_table, Some(Some(i)) if i < names.iter().position(|n| *n == "Delete").unwrap()),
        "the second table's description comes before its changes: {names:?}"
    );
    // TRUNCATE gives the tables new storage, so their descriptions are sent again.
    assert_eq!(
        &names[names.len() - 3..],
        ["Relation", "Relation", "Truncate"]
    );

    let mut relations: HashMap<u32, &Relation> = HashMap::new();
    for m in &changes {
        if let LogicalMessage::Relation(r) = m {
            relations.insert(r.oid, r);
        }
    }
    let ra = relations[&oid_a];
    assert_eq!(
        (ra.namespace.as_str(), ra.name.as_str()),
        ("public", a.as_str())
    );
    assert_eq!(ra.replica_identity, Relation::REPLICA_IDENTITY_DEFAULT);
    let cols: Vec<(&str, u32, bool)> = ra
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.type_oid, c.is_key()))
        .collect();
    assert_eq!(
        cols,
        [("id", 23, true), ("note", 25, false), ("big", 25, false)]
    );
    assert!(ra.columns.iter().all(|c| c.type_modifier == -1));
    let rb = relations[&oid_b];
    assert_eq!(rb.replica_identity, Relation::REPLICA_IDENTITY_FULL);
    assert!(
        rb.columns.iter().all(|c| c.is_key()),
        "full identity: all key"
    );

    let m = |i: usize| changes[i];
    let LogicalMessage::Insert(ins) = m(1) else {
        panic!()
    };
    assert_eq!(ins.relation, oid_a);
    assert_eq!(ins.new.columns, [text("1"), text("one"), TupleValue::Null]);

    let LogicalMessage::Update(up) = m(2) else {
        panic!()
    };
    assert_eq!(
        (up.old_kind, &up.old),
        (None, &None),
        "key unchanged: no old tuple"
    );
    assert_eq!(up.new.columns, [text("1"), text("uno"), TupleValue::Null]);

    let LogicalMessage::Update(up) = m(3) else {
        panic!()
    };
    assert_eq!(up.old_kind, Some(OLD_KIND_KEY));
    assert_eq!(
        up.old.as_ref().unwrap().columns,
        [text("1"), TupleValue::Null, TupleValue::Null]
    );
    assert_eq!(up.new.columns, [text("2"), text("uno"), TupleValue::Null]);

    let LogicalMessage::Insert(ins) = m(5) else {
        panic!()
    };
    assert_eq!(
        (ins.relation, &ins.new.columns[..]),
        (oid_b, &[text("10"), text("x")][..])
    );
    let LogicalMessage::Update(up) = m(6) else {
        panic!()
    };
    assert_eq!(up.old_kind, Some(OLD_KIND_FULL));
    assert_eq!(up.old.as_ref().unwrap().columns, [text("10"), text("x")]);
    assert_eq!(up.new.columns, [text("10"), text("y")]);
    let LogicalMessage::Delete(del) = m(7) else {
        panic!()
    };
    assert_eq!((del.relation, del.old_kind), (oid_b, OLD_KIND_FULL));
    assert_eq!(del.old.columns, [text("10"), text("y")]);

    let LogicalMessage::Insert(ins) = m(8) else {
        panic!()
    };
    let TupleValue::Text(big) = &ins.new.columns[2] else {
        panic!()
    };
    assert_eq!(big.len(), 300 * 32);
    let LogicalMessage::Update(up) = m(9) else {
        panic!()
    };
    assert_eq!(
        up.new.columns,
        [text("3"), text("tres"), TupleValue::UnchangedToast],
        "an untouched out-of-line value is not resent"
    );

    let LogicalMessage::Delete(del) = m(10) else {
        panic!()
    };
    assert_eq!((del.relation, del.old_kind), (oid_a, OLD_KIND_KEY));
    assert_eq!(
        del.old.columns,
        [text("2"), TupleValue::Null, TupleValue::Null]
    );

    let LogicalMessage::Message(msg) = m(11) else {
        panic!()
    };
    assert!(msg.transactional);
    assert_eq!(
        (msg.prefix.as_str(), &msg.content[..]),
        ("spw", &b"hello"[..])
    );
    let LogicalMessage::Message(msg) = m(12) else {
        panic!()
    };
    assert!(!msg.transactional);
    assert_eq!(&msg.content[..], &[0x00, 0xff]);
    assert!(msg.lsn > 0);

    let LogicalMessage::Truncate(t) = m(15) else {
        panic!()
    };
    let mut rels = t.relations.clone();
    rels.sort_unstable();
    let mut want = vec![oid_a, oid_b];
    want.sort_unstable();
    assert_eq!(rels, want);
    assert!(!t.cascade() && !t.restart_identity());

    // Confirm everything, asking for an immediate reply: the server answers with a
    // keepalive, which is answered in turn, and the slot's confirmed position moves.
    let last = commits.last().unwrap().end_lsn;
    stream.send_status(last, last, last, true).await.unwrap();
    let keepalive = timeout(Duration::from_secs(10), async {
        loop {
            match stream.recv().await.unwrap().expect("stream ended") {
                ReplicationMessage::Keepalive { wal_end, .. } => break wal_end,
                ReplicationMessage::XLogData { .. } => {}
            }
        }
    })
    .await
    .expect("a keepalive in answer to the reply request");
    assert!(keepalive >= last);
    stream.send_status(last, last, last, false).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let confirmed: String = client
            .query_one(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .unwrap()
            .get(0);
        if parse_lsn(&confirmed).unwrap() == last {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "confirmed_flush_lsn {confirmed}, sent {}",
            format_lsn(last)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Ending the stream gives back a usable connection.
    let mut conn = stream.stop().await.unwrap();
    conn.identify_system().await.unwrap();
    conn.close().await.unwrap();
}
