//! A source's own durable state besides its offset (the MySQL schema history): ordered
//! lines, kept beside the offsets: in files of the data directory with the embedded log, in
//! Kafka topics with the Kafka stream (so a worker on another machine has it too).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

/// Ordered lines, each durable once [`append`](StateLog::append) returns.
pub trait StateLog: Send {
    /// Where the lines are, for messages.
    fn describe(&self) -> String;
    /// Every line, oldest first. A file's last line may be torn by a crash; the reader of
    /// the lines decides what to do with it.
    fn read(&mut self) -> Result<Vec<String>, String>;
    /// Appends one line (without its newline) durably.
    fn append(&mut self, line: &str) -> Result<(), String>;
    /// Makes `lines` the whole content, durably.
    fn replace(&mut self, lines: &[String]) -> Result<(), String>;
}

/// Where a connector's state logs are.
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// The log called `name` (such as `schema-history`).
    fn open(&self, name: &str) -> Result<Box<dyn StateLog>, String>;
}

/// State logs as `<dir>/<name>.jsonl` files.
#[derive(Debug, Clone)]
pub struct FileStateStore {
    dir: PathBuf,
}

impl FileStateStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStateStore { dir: dir.into() }
    }
}

impl StateStore for FileStateStore {
    fn open(&self, name: &str) -> Result<Box<dyn StateLog>, String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        Ok(Box::new(FileStateLog {
            dir: self.dir.clone(),
            path: self.dir.join(format!("{name}.jsonl")),
            file: None,
        }))
    }
}

struct FileStateLog {
    dir: PathBuf,
    path: PathBuf,
    /// Open for appending once anything is written.
    file: Option<File>,
}

impl StateLog for FileStateLog {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn read(&mut self) -> Result<Vec<String>, String> {
        match File::open(&self.path) {
            Ok(f) => BufReader::new(f)
                .lines()
                .collect::<Result<_, _>>()
                .map_err(|e| format!("cannot read: {e}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("cannot open: {e}")),
        }
    }

    fn append(&mut self, line: &str) -> Result<(), String> {
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(|e| format!("cannot open for appending: {e}"))?,
            );
        }
        let file = self.file.as_mut().expect("opened above");
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        file.write_all(&bytes)
            .and_then(|_| file.sync_data())
            .map_err(|e| format!("cannot append: {e}"))
    }

    fn replace(&mut self, lines: &[String]) -> Result<(), String> {
        // Written aside, synced, renamed over: the file holds the old or the new lines.
        let tmp = self.path.with_extension("jsonl.tmp");
        {
            let mut f = File::create(&tmp).map_err(|e| format!("cannot write: {e}"))?;
            for line in lines {
                writeln!(f, "{line}").map_err(|e| format!("cannot write: {e}"))?;
            }
            f.sync_all().map_err(|e| format!("cannot sync: {e}"))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("cannot replace: {e}"))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.file = None;
        Ok(())
    }
}
