//! The commit journal: what each group commit made durable, and where each producer's
//! source stood when it did.
//!
//! ```text
//! <data_dir>/commits.log     entries, appended and fsynced once per group commit
//! ```
//!
//! The writer appends one entry per group, after the group's records are fsynced and before
//! their durable offsets move: the end offset of every partition the group wrote, and the
//! checkpoint (source position) of every producer whose batches it held. A group is
//! committed exactly when its entry is whole in the journal, so at start-up the writer
//! keeps each partition up to the highest end the journal gives it and cuts what lies past
//! (records written but never committed, whose producer sends them again), and each
//! producer resumes from its last checkpoint: the records in the log and the positions
//! can never disagree, and a crash at any moment writes nothing twice.
//!
//! An entry is a frame (all integers little-endian):
//!
//! ```text
//! u32  length   bytes that follow this field
//! u32  crc      CRC-32 (IEEE) of the bytes that follow this field
//! u8   version  1
//! ...  JSON     {"ends": [[topic, partition, end], ...], "positions": {producer: offset|null}}
//! ```
//!
//! Reading stops at the first frame that is not whole (a torn append): what follows was
//! never committed. The journal is rewritten as one entry holding the whole state once it
//! grows past [`COMPACT_BYTES`] (temporary file, fsync, rename, fsync of the directory).

use crate::config::{sync_dir, write_atomically};
use crate::error::LogError;
use serde::{Deserialize, Serialize};
use spillway_core::Offset;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "commits.log";

/// Version byte of an entry.
const ENTRY_VERSION: u8 = 1;

/// Largest entry accepted when reading.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024 * 1024;

/// Size past which the journal is rewritten as one entry.
pub const COMPACT_BYTES: u64 = 4 * 1024 * 1024;

/// One entry: partition ends and producer checkpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// `(topic, partition, end offset)` of each partition the group wrote.
    #[serde(default)]
    pub ends: Vec<(String, u32, u64)>,
    /// Each producer's checkpoint after the group; `None` forgets it (an operator's reset).
    #[serde(default)]
    pub positions: BTreeMap<String, Option<Offset>>,
}

impl Entry {
    /// Whether the entry says nothing.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty() && self.positions.is_empty()
    }
}

/// What a journal says once read: the highest end of every partition and the last
/// checkpoint of every producer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JournalState {
    /// Committed end offset by (topic, partition).
    pub ends: HashMap<(String, u32), u64>,
    /// Last checkpoint by producer.
    pub positions: HashMap<String, Offset>,
}

impl JournalState {
    /// Applies an entry.
    pub fn apply(&mut self, entry: &Entry) {
        for (topic, partition, end) in &entry.ends {
            let slot = self.ends.entry((topic.clone(), *partition)).or_insert(0);
            *slot = (*slot).max(*end);
        }
        for (producer, offset) in &entry.positions {
            match offset {
                Some(offset) => {
                    self.positions.insert(producer.clone(), offset.clone());
                }
                None => {
                    self.positions.remove(producer);
                }
            }
        }
    }

    /// The whole state as one entry.
    fn as_entry(&self) -> Entry {
        let mut ends: Vec<_> = self
            .ends
            .iter()
            .map(|((t, p), e)| (t.clone(), *p, *e))
            .collect();
        ends.sort();
        Entry {
            ends,
            positions: self
                .positions
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
        }
    }
}

/// Encodes an entry as a frame appended to `out`.
pub fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.push(ENTRY_VERSION);
    // Serializing plain strings, numbers and offsets cannot fail.
    serde_json::to_writer(&mut *out, entry).expect("a journal entry serializes");
    let length = (out.len() - start - 4) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Reads the entries at the start of `bytes`: every whole entry, then the length of bytes
/// they take and, when something follows that is not a whole entry, why.
pub fn decode_entries(bytes: &[u8]) -> (Vec<Entry>, usize, Option<String>) {
    let mut entries = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = &bytes[pos..];
        if rest.is_empty() {
            return (entries, pos, None);
        }
        if rest.len() < 9 {
            return (entries, pos, Some(format!("{} trailing bytes", rest.len())));
        }
        let length = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if !(5..=MAX_ENTRY_BYTES).contains(&length) {
            return (
                entries,
                pos,
                Some(format!("impossible entry length {length}")),
            );
        }
        if length > rest.len() - 4 {
            return (
                entries,
                pos,
                Some(format!(
                    "entry of {length} bytes cut short after {}",
                    rest.len() - 4
                )),
            );
        }
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let body = &rest[8..4 + length];
        if crc32fast::hash(body) != crc {
            return (entries, pos, Some("checksum mismatch".to_string()));
        }
        if body[0] != ENTRY_VERSION {
            return (
                entries,
                pos,
                Some(format!("unknown entry version {}", body[0])),
            );
        }
        match serde_json::from_slice::<Entry>(&body[1..]) {
            Ok(entry) => entries.push(entry),
            Err(e) => return (entries, pos, Some(format!("unreadable entry: {e}"))),
        }
        pos += 4 + length;
    }
}

/// The open journal, appended to by the writer thread.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes of whole entries.
    len: u64,
    /// Whether bytes past `len` may be on disk (a failed append), to cut before the next.
    dirty: bool,
    state: JournalState,
    buf: Vec<u8>,
}

impl Journal {
    /// Opens (creating) the journal in `data_dir` and reads it; cuts a torn tail. Returns
    /// whether the journal existed before: a log written before it had none, and its
    /// partitions keep what their segments hold this once.
    pub(crate) fn open(data_dir: &Path) -> Result<(Journal, bool), LogError> {
        let path = data_dir.join(JOURNAL_FILE);
        let existed = match std::fs::metadata(&path) {
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(LogError::io("inspect", &path, e)),
        };
        let bytes = if existed {
            std::fs::read(&path).map_err(|e| LogError::io("read", &path, e))?
        } else {
            Vec::new()
        };
        let (entries, good, problem) = decode_entries(&bytes);
        let mut state = JournalState::default();
        for entry in &entries {
            state.apply(entry);
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| LogError::io("open", &path, e))?;
        if let Some(detail) = problem {
            tracing::warn!(
                path = %path.display(),
                position = good,
                removed_bytes = bytes.len() - good,
                "cutting the torn tail of the commit journal: a group commit cut short by a crash ({detail})"
            );
            file.set_len(good as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| LogError::io("truncate", &path, e))?;
        }
        if !existed {
            sync_dir(crate::config::parent_dir(&path))?;
        }
        Ok((
            Journal {
                path,
                file,
                len: good as u64,
                dirty: false,
                state,
                buf: Vec::new(),
            },
            existed,
        ))
    }

    /// What the journal holds.
    pub(crate) fn state(&self) -> &JournalState {
        &self.state
    }

    /// Appends an entry and fsyncs it: when this returns, the group is committed.
    pub(crate) fn append(&mut self, entry: &Entry) -> Result<(), LogError> {
        if self.dirty {
            self.file
                .set_len(self.len)
                .map_err(|e| LogError::io("truncate", &self.path, e))?;
            self.dirty = false;
        }
        if self.len >= COMPACT_BYTES {
            self.compact(entry)?;
            self.state.apply(entry);
            return Ok(());
        }
        self.buf.clear();
        encode_entry(entry, &mut self.buf);
        let written = self
            .file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.dirty = true;
            return Err(LogError::io("append to", &self.path, e));
        }
        self.len += self.buf.len() as u64;
        self.state.apply(entry);
        Ok(())
    }

    /// Rewrites the journal as one entry: the state with `entry` applied.
    fn compact(&mut self, entry: &Entry) -> Result<(), LogError> {
        let mut state = self.state.clone();
        state.apply(entry);
        let mut bytes = Vec::new();
        encode_entry(&state.as_entry(), &mut bytes);
        write_atomically(&self.path, &bytes)
            .map_err(|(action, p, e)| LogError::io(action, &p, e))?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| LogError::io("open", &self.path, e))?;
        self.len = bytes.len() as u64;
        Ok(())
    }
}

/// What the journal in `data_dir` holds, read without opening the log for writing (a torn
/// tail is left out, as the writer would cut it). A log without a journal holds nothing.
pub fn read_state(data_dir: &Path) -> Result<JournalState, LogError> {
    let path = data_dir.join(JOURNAL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(LogError::io("read", &path, e)),
    };
    let mut state = JournalState::default();
    for entry in &decode_entries(&bytes).0 {
        state.apply(entry);
    }
    Ok(state)
}

/// Lowers the journal's end of the given partitions (a repair that lost acknowledged
/// records starts them again lower): the journal is rewritten as one entry.
pub(crate) fn lower_ends(data_dir: &Path, ends: &[(String, u32, u64)]) -> Result<(), LogError> {
    let path = data_dir.join(JOURNAL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LogError::io("read", &path, e)),
    };
    let mut state = JournalState::default();
    for entry in &decode_entries(&bytes).0 {
        state.apply(entry);
    }
    for (topic, partition, end) in ends {
        if let Some(slot) = state.ends.get_mut(&(topic.clone(), *partition)) {
            *slot = (*slot).min(*end);
        }
    }
    let mut out = Vec::new();
    encode_entry(&state.as_entry(), &mut out);
    write_atomically(&path, &out).map_err(|(action, p, e)| LogError::io(action, &p, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spillway_core::position::Position;

    fn entry(end: u64, producer: &str) -> Entry {
        Entry {
            ends: vec![("t".into(), 0, end), ("u".into(), 3, end * 2)],
            positions: [(
                producer.to_string(),
                Some(Offset::new(Position::stream(end, 0, 0))),
            )]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn entries_round_trip_and_a_torn_tail_is_found() {
        let mut bytes = Vec::new();
        for i in 1..=3 {
            encode_entry(&entry(i, "a"), &mut bytes);
        }
        let whole = bytes.len();
        let (entries, good, problem) = decode_entries(&bytes);
        assert_eq!(entries.len(), 3);
        assert_eq!((good, problem), (whole, None));
        assert_eq!(entries[2], entry(3, "a"));
        for cut in [whole - 1, whole - 20, whole - 40] {
            let (entries, good, problem) = decode_entries(&bytes[..cut]);
            assert_eq!(entries.len(), 2, "cut at {cut}");
            assert!(good < cut && problem.is_some());
        }
        let mut flipped = bytes.clone();
        flipped[whole - 3] ^= 0x20;
        let (entries, _, problem) = decode_entries(&flipped);
        assert_eq!(entries.len(), 2);
        assert_eq!(problem.as_deref(), Some("checksum mismatch"));
    }

    #[test]
    fn the_state_keeps_the_highest_end_and_the_last_position() {
        let mut state = JournalState::default();
        state.apply(&entry(5, "a"));
        state.apply(&entry(3, "a"));
        state.apply(&Entry {
            ends: vec![],
            positions: [(
                "b".to_string(),
                Some(Offset::new(Position::stream(9, 0, 0))),
            )]
            .into_iter()
            .collect(),
        });
        assert_eq!(state.ends[&("t".to_string(), 0)], 5);
        assert_eq!(state.ends[&("u".to_string(), 3)], 10);
        assert_eq!(state.positions["a"].position, Position::stream(3, 0, 0));
        state.apply(&Entry {
            ends: vec![],
            positions: [("a".to_string(), None)].into_iter().collect(),
        });
        assert!(!state.positions.contains_key("a"));
        assert!(state.positions.contains_key("b"));
    }

    #[test]
    fn a_journal_is_compacted_into_one_entry_with_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, existed) = Journal::open(dir.path()).unwrap();
        assert!(!existed);
        let mut i = 0;
        while journal.len < COMPACT_BYTES {
            i += 1;
            journal.append(&entry(i, &format!("p{}", i % 7))).unwrap();
        }
        let before = journal.state().clone();
        journal.append(&entry(i + 1, "p0")).unwrap();
        assert!(journal.len < 4096, "compacted to {} bytes", journal.len);
        drop(journal);
        let (journal, existed) = Journal::open(dir.path()).unwrap();
        assert!(existed);
        let mut expected = before;
        expected.apply(&entry(i + 1, "p0"));
        assert_eq!(journal.state(), &expected);
    }
}
