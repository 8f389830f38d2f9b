//! TLS to MySQL and MariaDB with Debezium's keys, over rustls.
//!
//! | `database.ssl.mode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disabled` | no | – |
//! | `preferred` (default) | when the server offers TLS, else plaintext | no |
//! | `required` | yes, or the connection fails | no |
//! | `verify_ca` | yes | signed by a CA of `database.ssl.truststore` (else the built-in roots) |
//! | `verify_identity` | yes | as `verify_ca`, and issued for `database.hostname` |
//!
//! `database.ssl.truststore` is a PEM file of CA certificates and `database.ssl.keystore` a
//! PEM file holding the client's certificate chain and private key (for users that
//! `REQUIRE X509`). Debezium reads Java key stores (JKS, PKCS12) under these keys; such a
//! file is refused naming the key, never skipped. The files are read when the config is,
//! so a missing or unreadable one is a configuration error.

use spillway_core::config::{read_file_capped, ConfigError, ConfigMap};

/// `database.ssl.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    /// The value as Debezium spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }
}

/// TLS settings of a connector, the files already read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// PEM CA certificates to trust instead of the built-in roots.
    pub roots: Option<Vec<u8>>,
    /// PEM certificate chain and private key of the client.
    pub identity: Option<Vec<u8>>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            mode: SslMode::Preferred,
            roots: None,
            identity: None,
        }
    }
}

/// Reads a PEM file a key names; a Java key store or anything else is refused.
fn pem_file(
    config: &ConfigMap,
    key: &str,
    must_hold: &[&str],
) -> Result<Option<Vec<u8>>, ConfigError> {
    let Some(path) = config.string(&[key]) else {
        return Ok(None);
    };
    let bytes = read_file_capped(std::path::Path::new(&path))
        .map_err(|e| ConfigError::invalid(key, &path, format!("cannot read it: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    for what in must_hold {
        if !text.contains(&format!("-----BEGIN {what}")) {
            let kind = if text.contains("-----BEGIN") {
                format!("it holds no PEM {what} block")
            } else {
                "it is not PEM (Java key stores, JKS or PKCS12, are not read: export the certificates and key to PEM, e.g. with keytool -exportcert -rfc and openssl pkcs12)".to_string()
            };
            return Err(ConfigError::invalid(key, &path, kind));
        }
    }
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(ConfigError::invalid(
            key,
            &path,
            "the private key is encrypted; give an unencrypted PEM key (kept owner-readable)",
        ));
    }
    Ok(Some(bytes))
}

impl TlsSettings {
    /// Reads `database.ssl.mode`, `database.ssl.truststore` and `database.ssl.keystore`.
    pub fn from_config(config: &ConfigMap) -> Result<TlsSettings, ConfigError> {
        let mode = config.choice(
            &["database.ssl.mode"],
            &[
                ("disabled", SslMode::Disabled),
                ("preferred", SslMode::Preferred),
                ("required", SslMode::Required),
                ("verify_ca", SslMode::VerifyCa),
                ("verify_identity", SslMode::VerifyIdentity),
            ],
            SslMode::Preferred,
        )?;
        let roots = pem_file(config, "database.ssl.truststore", &["CERTIFICATE"])?;
        let identity = pem_file(config, "database.ssl.keystore", &["CERTIFICATE"])?;
        if let Some(identity) = &identity {
            let text = String::from_utf8_lossy(identity);
            if !text.contains("PRIVATE KEY-----") {
                return Err(ConfigError::invalid(
                    "database.ssl.keystore",
                    &config.string(&["database.ssl.keystore"]).unwrap_or_default(),
                    "it holds no PEM private key: put the client's certificate chain and its key in one PEM file",
                ));
            }
        }
        // The passwords of Java key stores: nothing to open in a PEM file.
        config.accept(&[
            "database.ssl.truststore.password",
            "database.ssl.keystore.password",
        ]);
        if mode == SslMode::Disabled && (roots.is_some() || identity.is_some()) {
            return Err(ConfigError::invalid(
                "database.ssl.mode",
                "disabled",
                "database.ssl.truststore or database.ssl.keystore is set, but TLS is disabled; set required, verify_ca or verify_identity",
            ));
        }
        Ok(TlsSettings {
            mode,
            roots,
            identity,
        })
    }

    /// mysql_async's options for this mode; `None` for a plaintext connection.
    pub fn ssl_opts(&self) -> Option<mysql_async::SslOpts> {
        use mysql_async::{ClientIdentity, SslOpts};
        let verify = match self.mode {
            SslMode::Disabled => return None,
            SslMode::Preferred | SslMode::Required => None,
            SslMode::VerifyCa => Some(false),
            SslMode::VerifyIdentity => Some(true),
        };
        let mut opts = SslOpts::default();
        match verify {
            None => {
                opts = opts
                    .with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true);
            }
            Some(identity) => {
                opts = opts.with_danger_skip_domain_validation(!identity);
                if let Some(roots) = &self.roots {
                    opts = opts
                        .with_root_certs(vec![roots.clone().into()])
                        .with_disable_built_in_roots(true);
                }
            }
        }
        if let Some(identity) = &self.identity {
            opts = opts.with_client_identity(Some(ClientIdentity::new(
                identity.clone().into(),
                identity.clone().into(),
            )));
        }
        Some(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<TlsSettings, ConfigError> {
        TlsSettings::from_config(&ConfigMap::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn modes_and_files_are_read_or_refused_naming_the_key() {
        assert_eq!(parse(&[]).unwrap().mode, SslMode::Preferred);
        assert!(parse(&[("database.ssl.mode", "disabled")])
            .unwrap()
            .ssl_opts()
            .is_none());
        assert!(parse(&[("database.ssl.mode", "required")])
            .unwrap()
            .ssl_opts()
            .is_some());
        let dir = tempfile::tempdir().unwrap();
        let jks = dir.path().join("trust.jks");
        std::fs::write(&jks, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]).unwrap();
        let pem = dir.path().join("ca.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let encrypted = dir.path().join("client.pem");
        std::fs::write(
            &encrypted,
            "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n-----BEGIN ENCRYPTED PRIVATE KEY-----\ny\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let jks = jks.display().to_string();
        let pem = pem.display().to_string();
        let encrypted = encrypted.display().to_string();
        for (pairs, key) in [
            (
                vec![("database.ssl.mode", "sometimes")],
                "database.ssl.mode",
            ),
            (
                vec![
                    ("database.ssl.mode", "verify_ca"),
                    ("database.ssl.truststore", &jks),
                ],
                "database.ssl.truststore",
            ),
            (
                vec![("database.ssl.truststore", "/nonexistent/ca.pem")],
                "database.ssl.truststore",
            ),
            (
                vec![("database.ssl.keystore", &pem)],
                "database.ssl.keystore",
            ),
            (
                vec![("database.ssl.keystore", &encrypted)],
                "database.ssl.keystore",
            ),
            (
                vec![
                    ("database.ssl.mode", "disabled"),
                    ("database.ssl.truststore", &pem),
                ],
                "database.ssl.mode",
            ),
        ] {
            let e = parse(&pairs).unwrap_err();
            assert_eq!(e.key(), Some(key), "{pairs:?}: {e}");
        }
        let ok = parse(&[
            ("database.ssl.mode", "verify_identity"),
            ("database.ssl.truststore", &pem),
        ])
        .unwrap();
        assert!(ok.roots.is_some());
    }
}
