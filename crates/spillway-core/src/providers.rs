//! Kafka Connect's config providers: values written as `${provider:[path:]key}` references,
//! resolved each time a connector starts, so that a config (as stored, shown and logged)
//! holds the reference and never the secret.
//!
//! Providers are declared with Kafka's keys: `config.providers=file,env`,
//! `config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider`,
//! `config.providers.NAME.param.KEY=VALUE`. The classes:
//!
//! | class | reference | resolves to | parameter |
//! |---|---|---|---|
//! | `FileConfigProvider` | `${file:PATH:KEY}` | the value of `KEY` in the properties file `PATH` | `allowed.paths`: directories and files it may read |
//! | `EnvVarConfigProvider` | `${env:NAME}` | the environment variable `NAME` | `allowlist.pattern`: a regular expression the name must match |
//! | `DirectoryConfigProvider` | `${dir:DIR:FILE}` | the contents of the file `FILE` in `DIR` | `allowed.paths` |
//!
//! A reference that cannot be resolved (an undeclared provider, a missing file, key or
//! variable, a path outside `allowed.paths`) is a configuration error naming the key.

use crate::config::{read_file_capped, ConfigError};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Kafka's class names, with the short names spillway also takes.
const FILE: &[&str] = &[
    "org.apache.kafka.common.config.provider.FileConfigProvider",
    "FileConfigProvider",
];
const ENV: &[&str] = &[
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
    "EnvVarConfigProvider",
];
const DIRECTORY: &[&str] = &[
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
    "DirectoryConfigProvider",
];

/// The key that lists the providers; their settings start with it and a dot.
pub const PROVIDERS_KEY: &str = "config.providers";

#[derive(Clone, Debug)]
enum Kind {
    File,
    Env,
    Directory,
}

#[derive(Clone, Debug)]
struct Provider {
    kind: Kind,
    /// `allowed.paths` of the file and directory providers; empty: any path.
    allowed: Vec<PathBuf>,
    /// `allowlist.pattern` of the environment provider.
    allowlist: Option<regex::Regex>,
}

/// A set of declared providers, by name.
#[derive(Clone, Debug, Default)]
pub struct Providers {
    by_name: BTreeMap<String, Provider>,
}

impl Providers {
    /// The providers `entries` declare (no `config.providers` key: none).
    pub fn from_entries(entries: &BTreeMap<String, String>) -> Result<Providers, ConfigError> {
        let mut providers = Providers::default();
        let Some(list) = entries.get(PROVIDERS_KEY) else {
            return Ok(providers);
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let class_key = format!("{PROVIDERS_KEY}.{name}.class");
            let class =
                entries
                    .get(&class_key)
                    .map(|c| c.trim())
                    .ok_or_else(|| ConfigError::Missing {
                        key: class_key.clone(),
                        hint: format!(" (config.providers lists {name:?})"),
                    })?;
            let kind = if FILE.contains(&class) {
                Kind::File
            } else if ENV.contains(&class) {
                Kind::Env
            } else if DIRECTORY.contains(&class) {
                Kind::Directory
            } else {
                return Err(ConfigError::invalid(
                    &class_key,
                    class,
                    format!(
                        "unknown config provider class; available: {}, {}, {}",
                        FILE[0], ENV[0], DIRECTORY[0]
                    ),
                ));
            };
            let param = |p: &str| entries.get(&format!("{PROVIDERS_KEY}.{name}.param.{p}"));
            let allowed = param("allowed.paths")
                .map(|paths| {
                    paths
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| normalize(Path::new(p)))
                        .collect()
                })
                .unwrap_or_default();
            let allowlist = match param("allowlist.pattern") {
                None => None,
                Some(pattern) => {
                    Some(regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                        ConfigError::invalid(
                            &format!("{PROVIDERS_KEY}.{name}.param.allowlist.pattern"),
                            pattern,
                            format!("not a valid regular expression: {e}"),
                        )
                    })?)
                }
            };
            providers.by_name.insert(
                name.to_string(),
                Provider {
                    kind,
                    allowed,
                    allowlist,
                },
            );
        }
        Ok(providers)
    }

    /// Whether no provider is declared.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// These providers, with `other`'s replacing any of the same name.
    pub fn merged(&self, other: &Providers) -> Providers {
        let mut by_name = self.by_name.clone();
        by_name.extend(other.by_name.clone());
        Providers { by_name }
    }

    /// `value` with every reference resolved; `None` when it holds none. `key` names the
    /// setting in errors.
    pub fn resolve(&self, key: &str, value: &str) -> Result<Option<String>, ConfigError> {
        let mut out = String::new();
        let mut rest = value;
        let mut found = false;
        while let Some((before, reference, after)) = next_reference(rest) {
            found = true;
            out.push_str(before);
            out.push_str(&self.lookup(key, value, reference)?);
            rest = after;
        }
        if !found {
            return Ok(None);
        }
        out.push_str(rest);
        Ok(Some(out))
    }

    fn lookup(
        &self,
        key: &str,
        value: &str,
        reference: Reference<'_>,
    ) -> Result<String, ConfigError> {
        let fail = |reason: String| ConfigError::invalid(key, value, reason);
        let provider = self.by_name.get(reference.provider).ok_or_else(|| {
            fail(format!(
                "no config provider {:?} is declared (config.providers{})",
                reference.provider,
                if self.by_name.is_empty() {
                    String::new()
                } else {
                    format!(
                        " has {}",
                        self.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            ))
        })?;
        match provider.kind {
            Kind::Env => {
                if !reference.path.is_empty() {
                    return Err(fail("an environment reference is ${env:NAME}".to_string()));
                }
                if provider
                    .allowlist
                    .as_ref()
                    .is_some_and(|re| !re.is_match(reference.key))
                {
                    return Err(fail(format!(
                        "the environment variable {:?} is not allowed by the provider's allowlist.pattern",
                        reference.key
                    )));
                }
                std::env::var(reference.key).map_err(|_| {
                    fail(format!(
                        "the environment variable {:?} is not set",
                        reference.key
                    ))
                })
            }
            Kind::File => {
                let path = provider.checked_path(reference.path).map_err(&fail)?;
                let bytes = read_file_capped(&path)
                    .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| fail(format!("{} is not UTF-8 text", path.display())))?;
                let entries = crate::properties::parse(&text)
                    .map_err(|e| fail(format!("{}: {e}", path.display())))?;
                entries.get(reference.key).cloned().ok_or_else(|| {
                    fail(format!("{} has no key {:?}", path.display(), reference.key))
                })
            }
            Kind::Directory => {
                if reference.key.contains('/') || matches!(reference.key, "" | "." | "..") {
                    return Err(fail(format!("{:?} is not a file name", reference.key)));
                }
                let dir = provider.checked_path(reference.path).map_err(&fail)?;
                let path = dir.join(reference.key);
                let bytes = read_file_capped(&path)
                    .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
                String::from_utf8(bytes)
                    .map_err(|_| fail(format!("{} is not UTF-8 text", path.display())))
            }
        }
    }
}

impl Provider {
    /// `path` normalized and checked against `allowed.paths`.
    fn checked_path(&self, path: &str) -> Result<PathBuf, String> {
        if path.is_empty() {
            return Err("a file reference is ${name:PATH:KEY}".to_string());
        }
        let normalized = normalize(Path::new(path));
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| normalized.starts_with(a)) {
            return Err(format!(
                "{} is outside the provider's allowed.paths",
                normalized.display()
            ));
        }
        Ok(normalized)
    }
}

/// `path` made absolute and without `.` and `..` components, as Kafka compares
/// `allowed.paths`.
fn normalize(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// One `${provider:[path:]key}`.
#[derive(Debug, PartialEq, Eq)]
struct Reference<'a> {
    provider: &'a str,
    path: &'a str,
    key: &'a str,
}

/// The first reference in `text`: the text before it, the reference, the text after it.
fn next_reference(text: &str) -> Option<(&str, Reference<'_>, &str)> {
    let mut from = 0;
    while let Some(found) = text[from..].find("${") {
        let start = from + found;
        let inner_start = start + 2;
        let len = text[inner_start..].find('}')?;
        let inner = &text[inner_start..inner_start + len];
        if let Some((provider, rest)) = inner.split_once(':') {
            let valid_name = !provider.is_empty()
                && provider
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if valid_name {
                // As Kafka's pattern reads it: the path ends at the first colon.
                let (path, key) = match rest.split_once(':') {
                    Some((path, key)) => (path, key),
                    None => ("", rest),
                };
                return Some((
                    &text[..start],
                    Reference {
                        provider,
                        path,
                        key,
                    },
                    &text[inner_start + len + 1..],
                ));
            }
        }
        from = inner_start;
    }
    None
}

/// Whether `text` is one reference and nothing else.
pub fn is_whole_reference(text: &str) -> bool {
    matches!(next_reference(text), Some(("", _, "")))
}

/// Whether `text` holds a reference.
pub fn has_reference(text: &str) -> bool {
    next_reference(text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers(pairs: &[(&str, &str)]) -> Result<Providers, ConfigError> {
        Providers::from_entries(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn references_are_found_where_kafka_finds_them() {
        let (before, r, after) = next_reference("jdbc:x://${file:/a/b.properties:pw}@h").unwrap();
        assert_eq!(
            (before, r.provider, r.path, r.key, after),
            ("jdbc:x://", "file", "/a/b.properties", "pw", "@h")
        );
        let (_, r, _) = next_reference("${env:HOME}").unwrap();
        assert_eq!((r.provider, r.path, r.key), ("env", "", "HOME"));
        assert!(next_reference("pa${ss").is_none());
        assert!(next_reference("${}").is_none());
        assert!(next_reference("${:x}").is_none());
    }

    #[test]
    fn file_env_and_directory_references_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db.properties");
        std::fs::write(&file, "password = s3cret\nuser: cdc\n").unwrap();
        std::fs::write(dir.path().join("token"), "t0k").unwrap();
        let p = providers(&[
            ("config.providers", "file, env,dir"),
            ("config.providers.file.class", FILE[0]),
            (
                "config.providers.file.param.allowed.paths",
                &dir.path().display().to_string(),
            ),
            ("config.providers.env.class", ENV[0]),
            (
                "config.providers.env.param.allowlist.pattern",
                "SPILLWAY_TEST_.*",
            ),
            ("config.providers.dir.class", DIRECTORY[0]),
        ])
        .unwrap();
        let reference = format!("${{file:{}:password}}", file.display());
        assert_eq!(
            p.resolve("k", &reference).unwrap().as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            p.resolve("k", &format!("${{dir:{}:token}}", dir.path().display()))
                .unwrap()
                .as_deref(),
            Some("t0k")
        );
        std::env::set_var("SPILLWAY_TEST_PROVIDER", "from-env");
        assert_eq!(
            p.resolve("k", "x-${env:SPILLWAY_TEST_PROVIDER}-y")
                .unwrap()
                .as_deref(),
            Some("x-from-env-y")
        );
        assert_eq!(p.resolve("k", "plain").unwrap(), None);
        for bad in [
            "${env:HOME}".to_string(),
            "${env:SPILLWAY_TEST_UNSET_VAR}".to_string(),
            "${nope:x}".to_string(),
            format!("${{file:{}:missing}}", file.display()),
            "${file:/etc/passwd:root}".to_string(),
            format!("${{file:{}/../../etc/passwd:root}}", dir.path().display()),
            format!("${{dir:{}:../db.properties}}", dir.path().display()),
        ] {
            let e = p.resolve("database.password", &bad).unwrap_err();
            assert_eq!(e.key(), Some("database.password"), "{bad}: {e}");
        }
    }

    #[test]
    fn declarations_name_their_mistakes() {
        let e = providers(&[("config.providers", "file")]).unwrap_err();
        assert_eq!(e.key(), Some("config.providers.file.class"));
        let e = providers(&[
            ("config.providers", "v"),
            (
                "config.providers.v.class",
                "com.example.VaultConfigProvider",
            ),
        ])
        .unwrap_err();
        assert_eq!(e.key(), Some("config.providers.v.class"));
    }
}
