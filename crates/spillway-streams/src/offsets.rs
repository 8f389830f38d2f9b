//! A connector's committed offset in a JSON file.

use crate::config::{ensure_dir, parent_dir, sync_dir_io, validate_topic, write_atomically};
use crate::error::LogError;
use spillway_core::{Offset, OffsetStore, OffsetStoreError};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Keeps a connector's offset in `<data_dir>/offsets/<connector>.json`.
///
/// A commit writes a temporary file, fsyncs it, renames it over the old one and fsyncs the
/// directory, so the file always holds either the old or the new offset. A commit whose
/// position is before the stored one is ignored.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    /// The stored offset, once loaded or committed.
    current: Option<Offset>,
    loaded: bool,
}

impl FileOffsetStore {
    /// Opens the store of `connector_name` (characters from `[A-Za-z0-9._-]`), creating the
    /// `offsets` directory if needed. The file itself is read by [`OffsetStore::load`].
    pub fn open(
        data_dir: impl AsRef<Path>,
        connector_name: &str,
    ) -> Result<Self, OffsetStoreError> {
        let dir = data_dir.as_ref().join("offsets");
        let path = dir.join(format!("{connector_name}.json"));
        if validate_topic(connector_name).is_err() {
            return Err(OffsetStoreError::Io {
                action: "open",
                path: path.display().to_string(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "connector name {connector_name:?} must use 1 to 249 characters from [A-Za-z0-9._-]"
                    ),
                ),
            });
        }
        ensure_dir(&dir).map_err(|e| match e {
            LogError::Io { source, path, .. } => OffsetStoreError::Io {
                action: "create the directory for",
                path: path.display().to_string(),
                source,
            },
            other => OffsetStoreError::Io {
                action: "create the directory for",
                path: dir.display().to_string(),
                source: io::Error::other(other.to_string()),
            },
        })?;
        Ok(FileOffsetStore {
            path,
            current: None,
            loaded: false,
        })
    }

    /// The offsets file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn path_string(&self) -> String {
        self.path.display().to_string()
    }

    fn write(&mut self, offset: &Offset) -> Result<(), OffsetStoreError> {
        let text = serde_json::to_vec_pretty(offset).map_err(|e| OffsetStoreError::Corrupt {
            path: self.path_string(),
            detail: format!("offset cannot be serialized: {e}"),
        })?;
        write_atomically(&self.path, &text).map_err(|(action, path, source)| {
            OffsetStoreError::Io {
                action,
                path: path.display().to_string(),
                source,
            }
        })?;
        self.current = Some(offset.clone());
        self.loaded = true;
        Ok(())
    }
}

impl OffsetStore for FileOffsetStore {
    fn load(&mut self) -> Result<Option<Offset>, OffsetStoreError> {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.current = None;
                self.loaded = true;
                return Ok(None);
            }
            Err(source) => {
                return Err(OffsetStoreError::Io {
                    action: "read",
                    path: self.path_string(),
                    source,
                })
            }
        };
        let offset: Offset =
            serde_json::from_slice(&text).map_err(|e| OffsetStoreError::Corrupt {
                path: self.path_string(),
                detail: e.to_string(),
            })?;
        self.current = Some(offset.clone());
        self.loaded = true;
        Ok(Some(offset))
    }

    fn commit(&mut self, offset: &Offset) -> Result<(), OffsetStoreError> {
        if !self.loaded {
            self.load()?;
        }
        if let Some(current) = &self.current {
            if offset.position < current.position || offset == current {
                return Ok(());
            }
        }
        self.write(offset)
    }

    fn replace(&mut self, offset: Option<&Offset>) -> Result<(), OffsetStoreError> {
        if let Some(offset) = offset {
            return self.write(offset);
        }
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(OffsetStoreError::Io {
                    action: "remove",
                    path: self.path_string(),
                    source,
                })
            }
        }
        sync_dir_io(parent_dir(&self.path)).map_err(|source| OffsetStoreError::Io {
            action: "sync the directory of",
            path: self.path_string(),
            source,
        })?;
        self.current = None;
        self.loaded = true;
        Ok(())
    }
}

/// The offsets of a connector that writes to the embedded log: its checkpoint as the log's
/// commit journal holds it, committed in the same group as its last records (see
/// [`crate::journal`]), so that after a crash the source resumes right after the last
/// record in the log. A connector that never wrote a checkpoint there (it ran before the
/// journal existed) resumes from its offsets file. Commits also go to the file, which tools
/// read; an operator's alter or reset goes to both.
#[derive(Debug)]
pub struct LogOffsetStore {
    file: FileOffsetStore,
    /// The writer of the running connector; without one (a stopped connector), the
    /// journal is read from its file, and an alter opens the log.
    writer: Option<crate::LogWriter>,
    data_dir: PathBuf,
    producer: String,
}

impl LogOffsetStore {
    /// The store of a running connector, `producer` (its name), over its offsets file and
    /// a handle on the log it writes to. Flush the writer first when batches may still be
    /// queued.
    pub fn new(file: FileOffsetStore, writer: crate::LogWriter, producer: &str) -> Self {
        LogOffsetStore {
            file,
            data_dir: writer.data_dir().to_path_buf(),
            writer: Some(writer),
            producer: producer.to_string(),
        }
    }

    /// The store of a stopped connector whose log is in `data_dir`: reading needs no
    /// writer; an alter or reset opens the log (which no other process may hold).
    pub fn stopped(file: FileOffsetStore, data_dir: &Path, producer: &str) -> Self {
        LogOffsetStore {
            file,
            writer: None,
            data_dir: data_dir.to_path_buf(),
            producer: producer.to_string(),
        }
    }

    fn journal_error(&self, e: impl std::fmt::Display) -> OffsetStoreError {
        OffsetStoreError::Io {
            action: "use the log's commit journal for",
            path: self
                .data_dir
                .join(crate::journal::JOURNAL_FILE)
                .display()
                .to_string(),
            source: io::Error::other(e.to_string()),
        }
    }
}

impl OffsetStore for LogOffsetStore {
    fn load(&mut self) -> Result<Option<Offset>, OffsetStoreError> {
        let journaled = match &self.writer {
            Some(writer) => writer.committed_position(&self.producer),
            None => crate::journal::read_state(&self.data_dir)
                .map_err(|e| self.journal_error(e))?
                .positions
                .remove(&self.producer),
        };
        match journaled {
            Some(offset) => Ok(Some(offset)),
            None => self.file.load(),
        }
    }

    fn commit(&mut self, offset: &Offset) -> Result<(), OffsetStoreError> {
        self.file.commit(offset)
    }

    fn replace(&mut self, offset: Option<&Offset>) -> Result<(), OffsetStoreError> {
        if self.writer.is_none() {
            let writer =
                crate::LogWriter::open_shared(&self.data_dir, crate::LogOptions::default())
                    .map_err(|e| self.journal_error(e))?;
            self.writer = Some(writer);
        }
        self.file.replace(offset)?;
        let writer = self.writer.as_ref().expect("opened above");
        writer
            .set_position_blocking(&self.producer, offset.cloned())
            .map_err(|e| self.journal_error(e))
    }
}
