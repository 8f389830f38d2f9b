//! File paths in configs that reach the worker over its REST API (or from its Kafka config
//! topic) are confined: a `sqlite:` projection target, a certificate, a key store, any
//! key that names a file must lie inside the worker's data directory, or inside a
//! directory the worker was started with (`--allow-path`). Otherwise anyone who may call
//! the API could create, alter and then serve files anywhere the worker can write, or
//! make it read any file it can read.

use super::WorkerError;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// Endings of keys whose value is a file or directory path.
const PATH_ENDINGS: &[&str] = &[
    ".location",
    "sslrootcert",
    "sslcert",
    "sslkey",
    ".file",
    ".filename",
    ".path",
    ".dir",
    ".directory",
    "truststore",
    "keystore",
];

/// Where configs given over the API may name files.
#[derive(Clone, Debug)]
pub struct PathPolicy {
    /// The data directory and the `--allow-path` directories, canonical.
    allowed: Vec<PathBuf>,
}

impl PathPolicy {
    /// Files may lie in `data_dir` and in each of `extra`.
    pub fn new(data_dir: &Path, extra: &[PathBuf]) -> Result<PathPolicy, String> {
        let mut allowed = Vec::new();
        for dir in std::iter::once(data_dir).chain(extra.iter().map(PathBuf::as_path)) {
            let canonical = std::fs::canonicalize(dir)
                .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
            allowed.push(canonical);
        }
        Ok(PathPolicy { allowed })
    }

    /// Refuses a config that names a file outside the allowed directories, naming the key.
    pub fn check(&self, config: &Value) -> Result<(), WorkerError> {
        let Some(map) = config.as_object() else {
            return Ok(());
        };
        for (key, value) in map {
            let Some(text) = value.as_str() else {
                continue;
            };
            let Some(path) = named_path(key, text) else {
                continue;
            };
            if !self.allows(&path) {
                return Err(WorkerError::BadRequest(format!(
                    "`{}` names {}, outside the worker's data directory{}; connectors created over the API may only name files there (start the worker with --allow-path DIR to allow another directory)",
                    spillway_core::secret::printable(key),
                    spillway_core::secret::printable(&path.display().to_string()),
                    if self.allowed.len() > 1 {
                        " and its allowed directories"
                    } else {
                        ""
                    }
                )));
            }
        }
        Ok(())
    }

    /// Whether `path`, with its symbolic links resolved as far as it exists, lies in an
    /// allowed directory.
    fn allows(&self, path: &Path) -> bool {
        match resolve(path) {
            Some(resolved) => self.allowed.iter().any(|dir| resolved.starts_with(dir)),
            None => false,
        }
    }
}

/// The path a config value names, by its key: a `sqlite:` URL in `connection.url`, or the
/// value of a key that holds a path.
fn named_path(key: &str, value: &str) -> Option<PathBuf> {
    let k = key.to_ascii_lowercase();
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if k == "connection.url" || k.ends_with(".url") {
        let bare = value.strip_prefix("jdbc:").unwrap_or(value);
        let path = bare
            .strip_prefix("sqlite://")
            .or_else(|| bare.strip_prefix("sqlite:"))?;
        return Some(PathBuf::from(path));
    }
    PATH_ENDINGS
        .iter()
        .any(|end| k.ends_with(end))
        .then(|| PathBuf::from(value))
}

/// `path` made absolute, its longest existing ancestor canonical (symbolic links
/// resolved), the rest appended; `None` when the rest climbs with `..`.
fn resolve(path: &Path) -> Option<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            let mut resolved = canonical;
            for part in rest.iter().rev() {
                resolved.push(part);
            }
            return Some(resolved);
        }
        let name = existing.file_name()?;
        let parent = existing.parent()?;
        // A component that is not a plain name (`..`) cannot be judged before it exists.
        if !matches!(
            Path::new(name).components().next(),
            Some(Component::Normal(_))
        ) {
            return None;
        }
        rest.push(name.to_os_string());
        existing = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_outside_the_data_directory_are_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let allowed = dir.path().join("certs");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&allowed).unwrap();
        let policy = PathPolicy::new(&data, std::slice::from_ref(&allowed)).unwrap();
        let inside = format!("sqlite:{}/projections/p.db", data.display());
        let cert = format!("{}/ca.pem", allowed.display());
        assert!(policy
            .check(
                &json!({"connection.url": inside, "database.sslrootcert": cert, "topics": "/etc/x"})
            )
            .is_ok());
        for (key, value) in [
            ("connection.url", "sqlite:/tmp/evil.db".to_string()),
            ("connection.url", "jdbc:sqlite:/etc/passwd".to_string()),
            (
                "connection.url",
                format!("sqlite:{}/../evil.db", data.display()),
            ),
            (
                "connection.url",
                format!("sqlite:{}/new/../../evil.db", data.display()),
            ),
            (
                "database.sslrootcert",
                "/etc/ssl/private/key.pem".to_string(),
            ),
            ("kafka.ssl.ca.location", "/etc/shadow".to_string()),
        ] {
            let e = policy.check(&json!({ key: value })).unwrap_err();
            let WorkerError::BadRequest(message) = e else {
                panic!("not a bad request")
            };
            assert!(message.contains(key), "{message}");
        }
        // A link inside the data directory that leads out is followed.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/tmp", data.join("out")).unwrap();
            let e = policy
                .check(&json!({"connection.url": format!("sqlite:{}/out/x.db", data.display())}));
            assert!(e.is_err());
        }
    }
}
