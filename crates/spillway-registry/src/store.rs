//! The registry's state: schemas by id, subjects with their versions, compatibility levels;
//! kept in memory and appended to a journal file in the data directory.
//!
//! Every change is one JSON line in `<dir>/schemas.jsonl`, written and fsynced before the
//! change is visible, so an id handed out is never handed out again for another schema,
//! even after a crash. A torn last line (a crash mid-write) is ignored on open.

use crate::RegistryError;
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Confluent's compatibility levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Compatibility {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_ascii_uppercase())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compatibility::None => "NONE",
            Compatibility::Backward => "BACKWARD",
            Compatibility::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Compatibility::Forward => "FORWARD",
            Compatibility::ForwardTransitive => "FORWARD_TRANSITIVE",
            Compatibility::Full => "FULL",
            Compatibility::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            Compatibility::BackwardTransitive
                | Compatibility::ForwardTransitive
                | Compatibility::FullTransitive
        )
    }

    /// Whether `new` may follow `old`: the new schema reads old data (backward), old
    /// readers read new data (forward), or both.
    fn allows(self, old: &Schema, new: &Schema) -> Result<(), String> {
        // Partial compatibility (unions that only overlap) fails for some data: refused.
        let can_read = |writer: &Schema, reader: &Schema| match SchemaCompatibility::can_read(
            writer, reader,
        ) {
            Ok(apache_avro::schema_compatibility::Compatibility::Full) => Ok(()),
            Ok(_) => Err("union branches match only in part".to_string()),
            Err(e) => Err(e.to_string()),
        };
        let backward = || {
            can_read(old, new).map_err(|e| {
                format!("the new schema cannot read data written with an earlier one: {e}")
            })
        };
        let forward = || {
            can_read(new, old).map_err(|e| {
                format!("an earlier schema cannot read data written with the new one: {e}")
            })
        };
        match self {
            Compatibility::None => Ok(()),
            Compatibility::Backward | Compatibility::BackwardTransitive => backward(),
            Compatibility::Forward | Compatibility::ForwardTransitive => forward(),
            Compatibility::Full | Compatibility::FullTransitive => {
                backward().and_then(|_| forward())
            }
        }
    }
}

/// One version of a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema: String,
}

/// One line of the journal.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Entry {
    Register {
        subject: String,
        version: u32,
        id: u32,
        schema: String,
    },
    Delete {
        subject: String,
        version: u32,
    },
    Config {
        subject: Option<String>,
        level: Option<Compatibility>,
    },
}

#[derive(Default)]
struct State {
    /// Schema text by id (ids start at 1).
    schemas: BTreeMap<u32, String>,
    /// Id by normalized schema text.
    ids: HashMap<String, u32>,
    /// Versions per subject, in order: (version, id, deleted).
    subjects: BTreeMap<String, Vec<(u32, u32, bool)>>,
    global: Option<Compatibility>,
    per_subject: HashMap<String, Compatibility>,
}

impl State {
    fn apply(&mut self, entry: &Entry) {
        match entry {
            Entry::Register {
                subject,
                version,
                id,
                schema,
            } => {
                self.ids.entry(normalize(schema)).or_insert(*id);
                self.schemas.entry(*id).or_insert_with(|| schema.clone());
                self.subjects
                    .entry(subject.clone())
                    .or_default()
                    .push((*version, *id, false));
            }
            Entry::Delete { subject, version } => {
                if let Some(versions) = self.subjects.get_mut(subject) {
                    for v in versions.iter_mut().filter(|v| v.0 == *version) {
                        v.2 = true;
                    }
                }
            }
            Entry::Config { subject, level } => match (subject, level) {
                (None, level) => self.global = *level,
                (Some(s), Some(level)) => {
                    self.per_subject.insert(s.clone(), *level);
                }
                (Some(s), None) => {
                    self.per_subject.remove(s);
                }
            },
        }
    }

    fn live(&self, subject: &str) -> impl Iterator<Item = &(u32, u32, bool)> {
        self.subjects
            .get(subject)
            .into_iter()
            .flatten()
            .filter(|v| !v.2)
    }
}

/// Same schema, whatever the whitespace and key order it was sent with.
fn normalize(schema: &str) -> String {
    fn canonical(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&map[k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    match serde_json::from_str::<serde_json::Value>(schema) {
        Ok(v) => {
            let mut out = String::with_capacity(schema.len());
            canonical(&v, &mut out);
            out
        }
        Err(_) => schema.to_string(),
    }
}

/// A schema registry kept in a directory.
pub struct Registry {
    path: PathBuf,
    state: Mutex<(State, File)>,
}

impl Registry {
    /// Opens (or creates) the registry kept in `dir`.
    pub fn open(dir: &Path) -> Result<Registry, RegistryError> {
        std::fs::create_dir_all(dir).map_err(|e| RegistryError::store(dir, e))?;
        let path = dir.join("schemas.jsonl");
        let mut state = State::default();
        if let Ok(file) = File::open(&path) {
            for line in BufReader::new(file).lines() {
                let line = line.map_err(|e| RegistryError::store(&path, e))?;
                // A line that does not parse is the torn end of a crashed write.
                match serde_json::from_str::<Entry>(&line) {
                    Ok(entry) => state.apply(&entry),
                    Err(_) => break,
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| RegistryError::store(&path, e))?;
        Ok(Registry {
            path,
            state: Mutex::new((state, file)),
        })
    }

    fn append(&self, file: &mut File, entry: &Entry) -> Result<(), RegistryError> {
        let mut line = serde_json::to_vec(entry).expect("entries serialize");
        line.push(b'\n');
        file.write_all(&line)
            .and_then(|_| file.sync_data())
            .map_err(|e| RegistryError::store(&self.path, e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (State, File)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `schema` under `subject` and returns its id; a schema the subject already
    /// has gives its existing id. Refused when it is not valid Avro or the subject's
    /// compatibility level does not allow it after the versions there.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let parsed = parse(schema)?;
        let key = normalize(schema);
        let mut guard = self.lock();
        let (state, file) = &mut *guard;
        let existing_id = state.ids.get(&key).copied();
        if let Some(id) = existing_id {
            if state.live(subject).any(|v| v.1 == id) {
                return Ok(id);
            }
        }
        let level = state
            .per_subject
            .get(subject)
            .copied()
            .or(state.global)
            .unwrap_or(Compatibility::Backward);
        let earlier: Vec<u32> = state.live(subject).map(|v| v.1).collect();
        let against: &[u32] = if level.transitive() {
            &earlier
        } else {
            earlier.last().map(std::slice::from_ref).unwrap_or(&[])
        };
        for id in against {
            let old = parse(&state.schemas[id])?;
            level
                .allows(&old, &parsed)
                .map_err(|reason| RegistryError::Incompatible {
                    subject: subject.to_string(),
                    level,
                    reason,
                })?;
        }
        let id = existing_id.unwrap_or_else(|| state.schemas.keys().last().map_or(1, |id| id + 1));
        let version = state
            .subjects
            .get(subject)
            .and_then(|v| v.iter().map(|v| v.0).max())
            .map_or(1, |v| v + 1);
        let entry = Entry::Register {
            subject: subject.to_string(),
            version,
            id,
            schema: schema.to_string(),
        };
        self.append(file, &entry)?;
        state.apply(&entry);
        Ok(id)
    }

    /// The version of `subject` that holds `schema`.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<SubjectVersion, RegistryError> {
        parse(schema)?;
        let guard = self.lock();
        let state = &guard.0;
        if state.live(subject).next().is_none() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let id = state
            .ids
            .get(&normalize(schema))
            .copied()
            .ok_or(RegistryError::SchemaNotFound)?;
        let version = state
            .live(subject)
            .find(|v| v.1 == id)
            .ok_or(RegistryError::SchemaNotFound)?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version: version.0,
            id,
            schema: state.schemas[&id].clone(),
        })
    }

    /// The schema with `id`.
    pub fn schema(&self, id: u32) -> Option<String> {
        self.lock().0.schemas.get(&id).cloned()
    }

    /// Subjects with at least one live version.
    pub fn subjects(&self) -> Vec<String> {
        let guard = self.lock();
        let state = &guard.0;
        state
            .subjects
            .keys()
            .filter(|s| state.live(s).next().is_some())
            .cloned()
            .collect()
    }

    /// Live version numbers of `subject`.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let versions: Vec<u32> = self.lock().0.live(subject).map(|v| v.0).collect();
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        Ok(versions)
    }

    /// One version (`None`: the latest).
    pub fn version(
        &self,
        subject: &str,
        version: Option<u32>,
    ) -> Result<SubjectVersion, RegistryError> {
        let guard = self.lock();
        let state = &guard.0;
        let mut live = state.live(subject).peekable();
        if live.peek().is_none() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let found = match version {
            None => live.last(),
            Some(n) => live.find(|v| v.0 == n),
        };
        let (version, id, _) = *found.ok_or(RegistryError::VersionNotFound)?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version,
            id,
            schema: state.schemas[&id].clone(),
        })
    }

    /// The subjects and versions that use schema `id`.
    pub fn uses_of(&self, id: u32) -> Option<Vec<(String, u32)>> {
        let guard = self.lock();
        let state = &guard.0;
        state.schemas.get(&id)?;
        Some(
            state
                .subjects
                .iter()
                .flat_map(|(s, vs)| {
                    vs.iter()
                        .filter(|v| v.1 == id && !v.2)
                        .map(move |v| (s.clone(), v.0))
                })
                .collect(),
        )
    }

    /// Deletes one version (`None`: every version) of `subject`; returns the versions deleted.
    pub fn delete(&self, subject: &str, version: Option<u32>) -> Result<Vec<u32>, RegistryError> {
        let mut guard = self.lock();
        let (state, file) = &mut *guard;
        let live: Vec<u32> = state.live(subject).map(|v| v.0).collect();
        if live.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let doomed: Vec<u32> = match version {
            None => live,
            Some(n) if live.contains(&n) => vec![n],
            Some(_) => return Err(RegistryError::VersionNotFound),
        };
        for &version in &doomed {
            let entry = Entry::Delete {
                subject: subject.to_string(),
                version,
            };
            self.append(file, &entry)?;
            state.apply(&entry);
        }
        Ok(doomed)
    }

    /// The compatibility level of `subject` (`None`: the global level); `None` when the
    /// subject has no level of its own.
    pub fn compatibility(&self, subject: Option<&str>) -> Option<Compatibility> {
        let guard = self.lock();
        match subject {
            None => Some(guard.0.global.unwrap_or(Compatibility::Backward)),
            Some(s) => guard.0.per_subject.get(s).copied(),
        }
    }

    /// Sets the compatibility level of `subject` (`None`: the global level).
    pub fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Option<Compatibility>,
    ) -> Result<(), RegistryError> {
        let mut guard = self.lock();
        let (state, file) = &mut *guard;
        let entry = Entry::Config {
            subject: subject.map(str::to_string),
            level,
        };
        self.append(file, &entry)?;
        state.apply(&entry);
        Ok(())
    }

    /// Whether `schema` could be registered as the version after `version` of `subject`.
    pub fn is_compatible(
        &self,
        subject: &str,
        version: Option<u32>,
        schema: &str,
    ) -> Result<bool, RegistryError> {
        let new = parse(schema)?;
        let old = self.version(subject, version)?;
        let level = self
            .compatibility(Some(subject))
            .or(self.compatibility(None))
            .unwrap_or(Compatibility::Backward);
        Ok(level.allows(&parse(&old.schema)?, &new).is_ok())
    }
}

fn parse(schema: &str) -> Result<Schema, RegistryError> {
    Schema::parse_str(schema).map_err(|e| RegistryError::InvalidSchema(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &str) -> String {
        format!(r#"{{"type":"record","name":"Value","namespace":"p.s.t","fields":[{fields}]}}"#)
    }

    #[test]
    fn ids_are_shared_versions_count_and_the_store_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = record(r#"{"name":"id","type":"int"}"#);
        let v2 = record(
            r#"{"name":"id","type":"int"},{"name":"n","type":["null","string"],"default":null}"#,
        );
        {
            let r = Registry::open(dir.path()).unwrap();
            assert_eq!(r.register("t-value", &v1).unwrap(), 1);
            // The same schema again, with other whitespace and key order: same id, no version.
            let v1_again = v1.replace(
                r#""type":"record","name":"Value""#,
                r#""name":"Value", "type":"record""#,
            );
            assert_eq!(r.register("t-value", &v1_again).unwrap(), 1);
            // The same schema under another subject keeps its id.
            assert_eq!(r.register("u-value", &v1).unwrap(), 1);
            assert_eq!(r.register("t-value", &v2).unwrap(), 2);
            assert_eq!(r.versions("t-value").unwrap(), vec![1, 2]);
            assert_eq!(r.lookup("t-value", &v1).unwrap().version, 1);
        }
        // A torn last line (a crash mid-append) is ignored.
        let path = dir.path().join("schemas.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"op":"register","subj"#);
        std::fs::write(&path, text).unwrap();
        let r = Registry::open(dir.path()).unwrap();
        assert_eq!(r.version("t-value", None).unwrap().id, 2);
        assert_eq!(
            r.subjects(),
            vec!["t-value".to_string(), "u-value".to_string()]
        );
        assert_eq!(r.schema(2).unwrap(), v2);
        // Ids keep counting after the reopen.
        let v3 = record(r#"{"name":"id","type":"long"}"#);
        assert_eq!(r.register("w-value", &v3).unwrap(), 3);
    }

    #[test]
    fn compatibility_levels_refuse_what_they_must() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let int = record(r#"{"name":"id","type":"int"}"#);
        let optional_int = record(r#"{"name":"id","type":["null","int"]}"#);
        let optional_string = record(r#"{"name":"id","type":["null","string"]}"#);
        r.register("o-value", &optional_int).unwrap();
        assert!(!r.is_compatible("o-value", None, &optional_string).unwrap());
        let string = record(r#"{"name":"id","type":"string"}"#);
        let long = record(r#"{"name":"id","type":"long"}"#);
        let required_added = record(r#"{"name":"id","type":"int"},{"name":"x","type":"int"}"#);
        r.register("t-value", &int).unwrap();
        // BACKWARD (default): int -> long is a promotion, int -> string is not.
        assert!(r.is_compatible("t-value", None, &long).unwrap());
        let e = r.register("t-value", &string).unwrap_err();
        assert_eq!(e.code(), (409, 409), "{e}");
        // A new field without a default cannot read old data.
        assert!(r.register("t-value", &required_added).is_err());
        assert_eq!(r.versions("t-value").unwrap(), vec![1]);
        r.set_compatibility(Some("t-value"), Some(Compatibility::None))
            .unwrap();
        assert!(r.register("t-value", &string).is_ok());
        assert_eq!(r.compatibility(Some("t-value")), Some(Compatibility::None));
        // Not Avro at all.
        let e = r.register("t-value", "{\"type\":\"nope\"}").unwrap_err();
        assert_eq!(e.code(), (422, 42201));
        // Deleting a subject frees it from its history.
        assert_eq!(r.delete("t-value", None).unwrap(), vec![1, 2]);
        assert!(matches!(
            r.versions("t-value"),
            Err(RegistryError::SubjectNotFound(_))
        ));
    }
}
