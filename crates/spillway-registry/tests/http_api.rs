//! The REST API over real HTTP, through the remote client and plain requests.

use spillway_core::{Classify, ErrorClass};
use spillway_registry::{server, Registry, RemoteRegistry, RemoteRegistryOptions};
use std::sync::Arc;
use std::time::Duration;

const VALUE: &str =
    r#"{"type":"record","name":"Value","namespace":"p.s.t","fields":[{"name":"id","type":"int"}]}"#;
const CHANGED: &str = r#"{"type":"record","name":"Value","namespace":"p.s.t","fields":[{"name":"id","type":"string"}]}"#;

fn get(url: &str) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(url).call().unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serializers_find_what_they_need() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::open(dir.path()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(server::serve(
        listener,
        registry.clone(),
        server::Access::default(),
        stop_rx.clone(),
    ));

    let b = base.clone();
    tokio::task::spawn_blocking(move || {
        let client = RemoteRegistry::new(RemoteRegistryOptions {
            urls: vec![b.clone()],
            ..RemoteRegistryOptions::default()
        });
        assert_eq!(client.register("p.s.t-value", VALUE).unwrap(), 1);
        assert_eq!(client.register("p.s.t-value", VALUE).unwrap(), 1);
        assert_eq!(client.schema(1).unwrap(), VALUE);
        let refused = client.register("p.s.t-value", CHANGED).unwrap_err();
        assert_eq!(refused.class(), ErrorClass::NeedsOperator);
        let refused = refused.to_string();
        assert!(
            refused.contains("HTTP 409") && refused.contains("incompatible"),
            "{refused}"
        );

        assert_eq!(
            get(&format!("{b}/subjects")).1,
            serde_json::json!(["p.s.t-value"])
        );
        assert_eq!(
            get(&format!("{b}/subjects/p.s.t-value/versions")).1,
            serde_json::json!([1])
        );
        let latest = get(&format!("{b}/subjects/p.s.t-value/versions/latest")).1;
        assert_eq!(
            (latest["id"].as_u64(), latest["version"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(
            get(&format!("{b}/schemas/ids/1/versions")).1,
            serde_json::json!([{"subject": "p.s.t-value", "version": 1}])
        );
        assert_eq!(
            get(&format!("{b}/config")).1,
            serde_json::json!({"compatibilityLevel": "BACKWARD"})
        );
        let (status, body) = get(&format!("{b}/schemas/ids/99"));
        assert_eq!((status, body["error_code"].as_u64()), (404, Some(40403)));
        let (status, body) = get(&format!("{b}/subjects/nope/versions"));
        assert_eq!((status, body["error_code"].as_u64()), (404, Some(40401)));
        let (status, body) = get(&format!("{b}/subjects/p.s.t-value/versions/0"));
        assert_eq!((status, body["error_code"].as_u64()), (422, Some(42202)));
        let (status, body) = get(&format!("{b}/config/p.s.t-value"));
        assert_eq!((status, body["error_code"].as_u64()), (404, Some(40408)));
    })
    .await
    .unwrap();

    // With basic auth on: no credentials or wrong ones are refused with a hint.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let guarded = format!("http://{}", listener.local_addr().unwrap());
    let serving_guarded = tokio::spawn(server::serve(
        listener,
        registry.clone(),
        server::Access::basic(Some("reader:s3cret".to_string())),
        stop_rx.clone(),
    ));
    let g = guarded.clone();
    tokio::task::spawn_blocking(move || {
        let client = |user_info: Option<&str>| {
            RemoteRegistry::new(RemoteRegistryOptions {
                urls: vec![g.clone()],
                user_info: user_info.map(str::to_string),
                ..RemoteRegistryOptions::default()
            })
        };
        for wrong in [None, Some("reader:nope")] {
            let refused = client(wrong).register("p.s.t-value", VALUE).unwrap_err();
            assert_eq!(refused.class(), ErrorClass::NeedsOperator);
            let refused = refused.to_string();
            assert!(
                refused.contains("HTTP 401") && refused.contains("basic.auth.user.info"),
                "{refused}"
            );
        }
        assert_eq!(get(&format!("{g}/subjects")).0, 401);
        assert_eq!(
            client(Some("reader:s3cret"))
                .register("p.s.t-value", VALUE)
                .unwrap(),
            1
        );
    })
    .await
    .unwrap();

    // With only the serving process's token: reads stay open, changes need the token.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let writers_only = format!("http://{}", listener.local_addr().unwrap());
    let serving_writers = tokio::spawn(server::serve(
        listener,
        registry,
        server::Access {
            user_info: None,
            writers: vec!["Bearer t0ken".to_string()],
        },
        stop_rx,
    ));
    let w = writers_only.clone();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        assert_eq!(get(&format!("{w}/subjects")).0, 200);
        let body = serde_json::json!({ "schema": VALUE }).to_string();
        let register = |auth: Option<&str>| {
            let mut request = agent
                .post(&format!("{w}/subjects/other-value/versions"))
                .header("Content-Type", "application/json");
            if let Some(auth) = auth {
                request = request.header("Authorization", auth);
            }
            request.send(body.as_str()).unwrap().status().as_u16()
        };
        assert_eq!(register(None), 401, "a change without the token");
        assert_eq!(register(Some("Bearer wrong")), 401);
        assert_eq!(register(Some("Bearer t0ken")), 200);
        // A look-up is a read.
        let lookup = agent
            .post(&format!("{w}/subjects/other-value"))
            .header("Content-Type", "application/json")
            .send(body.as_str())
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(lookup, 200);
        for (method, path) in [
            ("DELETE", "/subjects/other-value"),
            ("DELETE", "/subjects/other-value/versions/1"),
            ("PUT", "/config"),
            ("PUT", "/config/other-value"),
            ("DELETE", "/config"),
        ] {
            let url = format!("{w}{path}");
            let status = match method {
                "DELETE" => agent.delete(&url).call(),
                _ => agent
                    .put(&url)
                    .header("Content-Type", "application/json")
                    .send(r#"{"compatibility":"NONE"}"#),
            }
            .unwrap()
            .status()
            .as_u16();
            assert_eq!(status, 401, "{method} {path} without the token");
        }
        assert_eq!(
            get(&format!("{w}/subjects")).1,
            serde_json::json!(["other-value", "p.s.t-value"])
        );
    })
    .await
    .unwrap();

    // Nothing listening: the client names the registry and gives up after its attempts.
    stop_tx.send_replace(true);
    serving_writers.await.unwrap().unwrap();
    serving_guarded.await.unwrap().unwrap();
    serving.await.unwrap().unwrap();
    let error = tokio::task::spawn_blocking(move || {
        let client = RemoteRegistry::new(RemoteRegistryOptions {
            urls: vec![base],
            attempts: 2,
            timeout: Duration::from_secs(2),
            ..RemoteRegistryOptions::default()
        });
        client.register("p.s.t-value", VALUE).unwrap_err()
    })
    .await
    .unwrap();
    assert_eq!(error.class(), ErrorClass::Transient);
    let error = error.to_string();
    assert!(error.contains("schema registry unreachable"), "{error}");
}
