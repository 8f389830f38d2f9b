//! Secrets in the worker's answers and in configs sent back to it.
//!
//! Every config the REST API answers with is [`masked`]: a secret key's value becomes
//! `********`, and a password inside any other value (a URL's user info, a `password=`
//! parameter) too. A `PUT` that sends a masked value back keeps the stored secret only when
//! nothing that says where the secret would go has changed ([`restore_masked`]): a
//! connector moved to another host, port, user, URL or broker must be given its secret
//! again, so a masked config can never be used to send a stored password elsewhere.

use super::WorkerError;
use serde_json::{json, Value};
use spillway_core::secret::{is_secret_key, shown_value, MASK};

/// A config map with its secrets masked (keys named as secrets, passwords in values).
pub fn masked(config: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(map) = config.as_object() {
        for (k, v) in map {
            let shown = match v.as_str() {
                Some(text) => json!(shown_value(k, text)),
                None if is_secret_key(k) => json!(MASK),
                None => v.clone(),
            };
            out.insert(k.clone(), shown);
        }
    }
    Value::Object(out)
}

/// Endings of keys that say where a connection goes or who makes it: a secret is only
/// kept for the same destination.
const DESTINATION_ENDINGS: &[&str] = &[
    "hostname",
    "host",
    "hosts",
    "port",
    "url",
    "urls",
    "uri",
    "user",
    "username",
    "servers",
    "server",
    "dbname",
    "endpoint",
    "address",
    "location",
    "sslmode",
    "ssl.mode",
    "sslrootcert",
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "connector.class",
];

/// Whether a key says where a connection goes, with whose name, or whom it trusts.
pub fn is_destination_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    !is_secret_key(&k) && DESTINATION_ENDINGS.iter().any(|end| k.ends_with(end))
}

/// Puts the stored values back where `given` (a config sent with `PUT`) holds masked ones,
/// or refuses the request (400) naming the key that needs its secret again: when no value
/// is stored for it, or when a destination key changed.
pub fn restore_masked(stored: Option<&Value>, given: &mut Value) -> Result<(), WorkerError> {
    let Some(map) = given.as_object_mut() else {
        return Ok(());
    };
    let empty = serde_json::Map::new();
    let old = stored.and_then(Value::as_object).unwrap_or(&empty);
    let mut restored = Vec::new();
    for (key, value) in map.iter_mut() {
        let Some(text) = value.as_str() else {
            continue;
        };
        if !text.contains(MASK) {
            continue;
        }
        match old.get(key) {
            Some(Value::String(kept)) if shown_value(key, kept) == text => {
                *value = Value::String(kept.clone());
                restored.push(key.clone());
            }
            _ => {
                return Err(WorkerError::BadRequest(format!(
                    "`{key}` holds the masked value {MASK:?} but no secret is kept for this value; send `{key}` with its secret"
                )))
            }
        }
    }
    if restored.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<&String> = map
        .keys()
        .chain(old.keys())
        .filter(|k| is_destination_key(k))
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        if map.get(key) != old.get(key) {
            return Err(WorkerError::BadRequest(format!(
                "`{}` changed, so the masked {} cannot keep the stored secret: send {} with the secret again",
                spillway_core::secret::printable(key),
                restored
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if restored.len() == 1 { "it" } else { "them" },
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Value {
        json!({
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "db.internal",
            "database.port": "5432",
            "database.user": "cdc",
            "database.password": "s3cret",
            "kafka.ssl.key.pem": "-----BEGIN PRIVATE KEY-----",
            "connection.url": "postgresql://u:pa/ss@h:5432/db",
            "snapshot.mode": "initial",
        })
    }

    #[test]
    fn every_secret_is_masked() {
        let shown = masked(&stored()).to_string();
        for secret in ["s3cret", "PRIVATE KEY", "pa/ss"] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
    }

    #[test]
    fn a_masked_secret_is_kept_for_the_same_destination() {
        let mut given = masked(&stored());
        given["snapshot.mode"] = json!("never");
        restore_masked(Some(&stored()), &mut given).unwrap();
        assert_eq!(given["database.password"], "s3cret");
        assert_eq!(given["connection.url"], "postgresql://u:pa/ss@h:5432/db");
        assert_eq!(given["snapshot.mode"], "never");
    }

    #[test]
    fn a_masked_secret_for_another_destination_is_refused() {
        for (key, value) in [
            ("database.port", json!("15432")),
            ("database.hostname", json!("evil.example")),
            ("database.user", json!("other")),
            ("kafka.bootstrap.servers", json!("evil:9092")),
            (
                "connector.class",
                json!("io.debezium.connector.mysql.MySqlConnector"),
            ),
        ] {
            let mut given = masked(&stored());
            given[key] = value;
            let e = restore_masked(Some(&stored()), &mut given).unwrap_err();
            let WorkerError::BadRequest(message) = e else {
                panic!("{key}: not a bad request")
            };
            assert!(
                message.contains(key) && message.contains("database.password"),
                "{message}"
            );
        }
        let mut given = masked(&stored());
        given.as_object_mut().unwrap().remove("database.port");
        assert!(restore_masked(Some(&stored()), &mut given).is_err());
    }

    #[test]
    fn a_mask_without_a_kept_secret_is_refused() {
        let mut given = json!({"database.password": MASK});
        assert!(restore_masked(None, &mut given).is_err());
        let mut given = json!({"connection.url": "postgresql://u:********@other/db"});
        assert!(restore_masked(Some(&stored()), &mut given).is_err());
    }
}
