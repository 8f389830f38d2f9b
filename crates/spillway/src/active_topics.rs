//! The topics each connector has used since it was created or its set was last reset, as
//! Kafka Connect tracks them (KIP-558): a source adds every topic it writes records to, a
//! projection every topic it reads records from.
//!
//! Each set is kept in `<data-dir>/active-topics/<connector>.json` (a sorted JSON array,
//! replaced atomically when a topic joins), so it survives restarts; one [`ActiveTopics`]
//! per file is shared by the connector's run and the worker's REST API, so a reset is seen
//! by the run at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tracing::warn;

/// The topics one connector has used.
pub struct ActiveTopics {
    path: PathBuf,
    topics: Mutex<BTreeSet<String>>,
}

/// Every set opened in this process, by file.
fn sets() -> &'static Mutex<BTreeMap<PathBuf, Arc<ActiveTopics>>> {
    static SETS: OnceLock<Mutex<BTreeMap<PathBuf, Arc<ActiveTopics>>>> = OnceLock::new();
    SETS.get_or_init(Default::default)
}

fn path_of(data_dir: &Path, connector: &str) -> PathBuf {
    data_dir
        .join("active-topics")
        .join(format!("{connector}.json"))
}

/// The set of `connector`, read from the data directory the first time.
pub fn of(data_dir: &Path, connector: &str) -> Arc<ActiveTopics> {
    let path = path_of(data_dir, connector);
    let mut sets = sets().lock().unwrap_or_else(|e| e.into_inner());
    sets.entry(path.clone())
        .or_insert_with(|| {
            let topics = match std::fs::read(&path) {
                Ok(bytes) => serde_json::from_slice::<BTreeSet<String>>(&bytes).unwrap_or_else(|e| {
                    warn!(file = %path.display(), error = %e, "the active topics file is not readable; starting an empty set");
                    BTreeSet::new()
                }),
                Err(_) => BTreeSet::new(),
            };
            Arc::new(ActiveTopics {
                path,
                topics: Mutex::new(topics),
            })
        })
        .clone()
}

/// Forgets the set of a deleted connector, file included.
pub fn forget(data_dir: &Path, connector: &str) -> std::io::Result<()> {
    let path = path_of(data_dir, connector);
    let mut sets = sets().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(set) = sets.remove(&path) {
        set.topics.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl ActiveTopics {
    /// Adds the topics of `topics` (usually a batch's, mostly the same topic over and over).
    pub fn record<'a>(&self, topics: impl IntoIterator<Item = &'a str>) {
        let mut last: Option<&str> = None;
        let mut added = false;
        let mut set = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        for topic in topics {
            if last == Some(topic) {
                continue;
            }
            last = Some(topic);
            if !set.contains(topic) {
                set.insert(topic.to_string());
                added = true;
            }
        }
        if added {
            if let Err(e) = self.write(&set) {
                warn!(file = %self.path.display(), error = %e, "cannot keep the connector's active topics");
            }
        }
    }

    /// The topics, sorted.
    pub fn list(&self) -> Vec<String> {
        let set = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        set.iter().cloned().collect()
    }

    /// Empties the set.
    pub fn reset(&self) -> std::io::Result<()> {
        let mut set = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        set.clear();
        self.write(&set)
    }

    fn write(&self, set: &BTreeSet<String>) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec(set).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_survives_reopening_and_resets_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let set = of(dir.path(), "c");
        set.record(["a", "a", "b", "a"]);
        assert_eq!(set.list(), ["a", "b"]);
        // Shared: another handle of the same connector sees it.
        assert_eq!(of(dir.path(), "c").list(), ["a", "b"]);
        assert!(of(dir.path(), "other").list().is_empty());
        // From the file, as after a restart.
        sets().lock().unwrap().remove(&path_of(dir.path(), "c"));
        let reread = of(dir.path(), "c");
        assert_eq!(reread.list(), ["a", "b"]);
        reread.reset().unwrap();
        assert!(reread.list().is_empty());
        reread.record(["z"]);
        forget(dir.path(), "c").unwrap();
        assert!(!path_of(dir.path(), "c").exists());
        assert!(of(dir.path(), "c").list().is_empty());
    }
}
