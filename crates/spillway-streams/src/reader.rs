//! Reading the log, possibly while a writer in another process appends to it.
//!
//! The reader returns only records below the partition's durable offset (every one of them
//! fsynced and acknowledged), as Kafka's consumers read only up to the high watermark. A
//! damaged record below it, in any segment, is an error naming the topic, partition,
//! offset and file ([`LogError::Damaged`]), never the end of a shorter log; past it, in the
//! last segment, an incomplete record is one still being written or a torn tail the writer
//! cuts when it next opens. Offsets grow from record to record and may skip some (a
//! repaired log, a compacted one). A read from past the end of a partition is an error too
//! ([`LogError::PastEnd`]): the reader had records the log no longer holds; so is a read
//! from below its start ([`LogError::BelowStart`]): retention deleted those records.
//!
//! The cleaner deletes and rewrites closed segments while readers read (see
//! [`crate::cleaner`]): a segment deleted between listing and opening makes the read list
//! the segments again, and a segment replaced by its compacted copy (another inode) makes
//! the reader forget what it had indexed of it.
//!
//! Segments are picked by the base offset in their file names. Within a segment the reader
//! keeps, in memory, a sparse index (an entry every [`INDEX_INTERVAL`] bytes) and how far it
//! has scanned, so reading at a high offset, or following the tail, does not rescan what
//! was already read.

use crate::config::validate_topic;
use crate::config::{
    list_segments, list_topics, partition_dir, read_durable, read_meta, segment_path, topics_dir,
};
use crate::error::{segment_place, LogError};
use crate::segment::{decode_record, Frame, SegmentScan, StoredRecord};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Bytes of segment between two entries of the in-memory sparse index.
pub const INDEX_INTERVAL: u64 = 64 * 1024;

/// One partition of a topic and the range of offsets it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The topic.
    pub topic: String,
    /// The partition, from 0.
    pub partition: u32,
    /// Offset of the first record kept.
    pub start_offset: u64,
    /// Offset the next record will get (Kafka's log end offset); equal to `start_offset`
    /// when the partition is empty.
    pub end_offset: u64,
}

/// Reads the embedded log in a data directory.
#[derive(Debug)]
pub struct LogReader {
    topics_dir: PathBuf,
    state: Mutex<ReaderState>,
}

#[derive(Debug, Default)]
struct ReaderState {
    /// Partition counts of the topics seen (they never change).
    partitions: HashMap<String, u32>,
    /// Sparse indexes by segment file.
    segments: HashMap<PathBuf, SegmentIndex>,
}

/// What a reader knows of one segment.
#[derive(Debug)]
struct SegmentIndex {
    /// (device, inode) of the file indexed: compaction replaces it with another.
    identity: (u64, u64),
    /// (offset, byte position) of some records, ascending; the first is the segment start.
    entries: Vec<(u64, u64)>,
    /// Byte position after the last intact record seen, and the offset that follows it.
    scanned_pos: u64,
    scanned_next: u64,
}

impl SegmentIndex {
    fn new(base: u64) -> Self {
        SegmentIndex {
            identity: (0, 0),
            entries: vec![(base, 0)],
            scanned_pos: 0,
            scanned_next: base,
        }
    }

    /// The (offset, position) of a record at or before `offset` to start scanning from.
    fn locate(&self, offset: u64) -> (u64, u64) {
        if offset >= self.scanned_next {
            return (self.scanned_next, self.scanned_pos);
        }
        let i = self.entries.partition_point(|&(o, _)| o <= offset);
        self.entries[i.saturating_sub(1)]
    }

    /// Records an intact record at `start..end`.
    fn observe(&mut self, offset: u64, start: u64, end: u64) {
        if end > self.scanned_pos {
            self.scanned_pos = end;
            self.scanned_next = offset + 1;
        }
        let last = self.entries.last().map_or(0, |&(_, pos)| pos);
        if start >= last + INDEX_INTERVAL {
            self.entries.push((offset, start));
        }
    }
}

/// How a scan of one segment ended.
enum ScanEnd {
    /// The visitor had enough.
    Satisfied,
    /// The end of the file, at a record boundary.
    End,
    /// An incomplete or damaged record at the tail of the last segment.
    Tail,
}

impl LogReader {
    /// Opens the log in `data_dir` for reading. A data directory without any topic yet is
    /// fine; a missing data directory is an error.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, LogError> {
        let data_dir = data_dir.as_ref();
        match fs::metadata(data_dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(LogError::io(
                    "open log in",
                    data_dir,
                    io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
                ))
            }
            Err(e) => return Err(LogError::io("open log in", data_dir, e)),
        }
        Ok(LogReader {
            topics_dir: topics_dir(data_dir),
            state: Mutex::new(ReaderState::default()),
        })
    }

    /// Every partition of every topic, by topic name then partition.
    pub fn topics(&self) -> Result<Vec<PartitionInfo>, LogError> {
        let names = list_topics(&self.topics_dir)?;
        let mut state = self.lock();
        let mut infos = Vec::new();
        for name in names {
            // A topic directory without metadata is one whose creation was interrupted.
            let Some(partitions) = self.partitions(&mut state, &name, false)? else {
                continue;
            };
            for partition in 0..partitions {
                infos.push(self.info(&mut state, &name, partition)?);
            }
        }
        Ok(infos)
    }

    /// The offsets one partition holds.
    pub fn partition_info(&self, topic: &str, partition: u32) -> Result<PartitionInfo, LogError> {
        let mut state = self.lock();
        self.check_partition(&mut state, topic, partition)?;
        self.info(&mut state, topic, partition)
    }

    /// Up to `max_records` records of a partition, from `from_offset` on. At or past the
    /// end, nothing is returned; below the start (records deleted by retention), it is
    /// [`LogError::BelowStart`].
    pub fn read(
        &self,
        topic: &str,
        partition: u32,
        from_offset: u64,
        max_records: usize,
    ) -> Result<Vec<StoredRecord>, LogError> {
        let mut state = self.lock();
        self.check_partition(&mut state, topic, partition)?;
        if max_records == 0 {
            return Ok(Vec::new());
        }
        // A segment the cleaner deletes between the listing and the read: list again.
        let mut attempts = 0;
        loop {
            match self.read_once(&mut state, topic, partition, from_offset, max_records) {
                Err(LogError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound && attempts < 8 =>
                {
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    fn read_once(
        &self,
        state: &mut ReaderState,
        topic: &str,
        partition: u32,
        from_offset: u64,
        max_records: usize,
    ) -> Result<Vec<StoredRecord>, LogError> {
        let mut records = Vec::new();
        let dir = partition_dir(&self.topics_dir.join(topic), partition);
        // Read before the segments: the records below it are on disk by then.
        let durable = read_durable(&dir)?;
        let bases = list_segments(&dir)?;
        if let Some(&start) = bases.first().filter(|&&start| from_offset < start) {
            return Err(LogError::BelowStart {
                topic: topic.to_string(),
                partition,
                offset: from_offset,
                start,
            });
        }
        let first = bases
            .partition_point(|&base| base <= from_offset)
            .saturating_sub(1);
        // The partition's end, once the last segment has been scanned.
        let mut end = None;
        for (i, &base) in bases.iter().enumerate().skip(first) {
            let path = segment_path(&dir, base);
            let is_last = i + 1 == bases.len();
            let from = from_offset.max(base);
            let scan_end = scan_segment(
                state,
                &path,
                base,
                is_last,
                from,
                durable,
                |offset, start, content| {
                    let record = decode_record(content).map_err(|detail| LogError::Corrupt {
                        path: path.clone(),
                        position: start,
                        detail: format!("record {offset}: {detail}"),
                    })?;
                    records.push(record);
                    Ok(records.len() < max_records)
                },
            )?;
            if is_last {
                let scanned = state.segments.get(&path).map_or(base, |i| i.scanned_next);
                end = Some(durable.map_or(scanned, |d| scanned.min(d)));
            }
            if !matches!(scan_end, ScanEnd::End) {
                break;
            }
        }
        if records.is_empty() {
            let end = match end {
                Some(end) => end,
                None if bases.is_empty() => 0,
                None => self.info(state, topic, partition)?.end_offset,
            };
            if from_offset > end {
                return Err(LogError::PastEnd {
                    topic: topic.to_string(),
                    partition,
                    offset: from_offset,
                    end,
                });
            }
        }
        Ok(records)
    }

    fn lock(&self) -> MutexGuard<'_, ReaderState> {
        // The state is a cache: what a panicking thread left behind is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The partition count of `topic`; `None` (or an error if `required`) if it has none.
    fn partitions(
        &self,
        state: &mut ReaderState,
        topic: &str,
        required: bool,
    ) -> Result<Option<u32>, LogError> {
        if let Some(&n) = state.partitions.get(topic) {
            return Ok(Some(n));
        }
        let dir = self.topics_dir.join(topic);
        match read_meta(&dir)? {
            Some(meta) => {
                state.partitions.insert(topic.to_string(), meta.partitions);
                Ok(Some(meta.partitions))
            }
            None if required => Err(LogError::UnknownTopic {
                topic: topic.to_string(),
                path: self.topics_dir.clone(),
            }),
            None => Ok(None),
        }
    }

    fn check_partition(
        &self,
        state: &mut ReaderState,
        topic: &str,
        partition: u32,
    ) -> Result<(), LogError> {
        validate_topic(topic)?;
        let partitions = self.partitions(state, topic, true)?.unwrap_or(0);
        if partition >= partitions {
            return Err(LogError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions,
            });
        }
        Ok(())
    }

    fn info(
        &self,
        state: &mut ReaderState,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionInfo, LogError> {
        let dir = partition_dir(&self.topics_dir.join(topic), partition);
        let durable = read_durable(&dir)?;
        let bases = list_segments(&dir)?;
        let (start_offset, end_offset) = match (bases.first(), bases.last()) {
            (Some(&first), Some(&last)) => {
                let path = segment_path(&dir, last);
                let scanned =
                    scan_segment(state, &path, last, true, u64::MAX, durable, |_, _, _| {
                        Ok(true)
                    })?;
                let end = state.segments.get(&path).map_or(last, |i| i.scanned_next);
                if let Some(d) = durable.filter(|d| end < *d && matches!(scanned, ScanEnd::End)) {
                    let (topic, partition) = segment_place(&path);
                    return Err(LogError::Damaged {
                        topic,
                        partition,
                        offset: end,
                        position: state.segments.get(&path).map_or(0, |i| i.scanned_pos),
                        path,
                        acknowledged: Some(d),
                        detail: format!(
                            "the partition ends at offset {end}, but records up to {} were acknowledged: they are missing",
                            d - 1
                        ),
                    });
                }
                (first, durable.map_or(end, |d| end.min(d)))
            }
            _ => match durable.filter(|d| *d > 0) {
                Some(d) => {
                    let path = segment_path(&dir, 0);
                    let (topic, partition) = segment_place(&path);
                    return Err(LogError::Damaged {
                        topic,
                        partition,
                        offset: 0,
                        path,
                        position: 0,
                        acknowledged: Some(d),
                        detail: "the partition has no segment, but records were acknowledged"
                            .to_string(),
                    });
                }
                None => (0, 0),
            },
        };
        Ok(PartitionInfo {
            topic: topic.to_string(),
            partition,
            start_offset,
            end_offset,
        })
    }
}

/// Scans the segment at `path` (base offset `base`) and calls `visit(offset, start,
/// content)` for each intact record at or after `from` and below `durable` until it
/// returns `false`.
#[allow(clippy::too_many_arguments)]
fn scan_segment(
    state: &mut ReaderState,
    path: &Path,
    base: u64,
    is_last: bool,
    from: u64,
    durable: Option<u64>,
    mut visit: impl FnMut(u64, u64, &[u8]) -> Result<bool, LogError>,
) -> Result<ScanEnd, LogError> {
    let index = state
        .segments
        .entry(path.to_path_buf())
        .or_insert_with(|| SegmentIndex::new(base));
    let (mut expected, start) = index.locate(from);
    let mut scan = SegmentScan::open(path, start)?;
    if scan.identity() != index.identity {
        // Another file than the one indexed (compaction replaced it): start over.
        *index = SegmentIndex::new(base);
        index.identity = scan.identity();
        expected = base;
        if start > 0 {
            scan = SegmentScan::open(path, 0)?;
        }
    }
    if scan.len() < index.scanned_pos {
        // The file shrank (a writer truncated a torn tail): forget what was known of it.
        *index = SegmentIndex::new(base);
        expected = base;
        scan = SegmentScan::open(path, 0)?;
    }
    loop {
        let (position, detail) = match scan.next_frame()? {
            Frame::End => return Ok(ScanEnd::End),
            Frame::Record { offset, .. } if durable.is_some_and(|d| offset >= d) => {
                // Written, not yet acknowledged.
                return Ok(ScanEnd::Tail);
            }
            Frame::Record { offset, start } if offset >= expected => {
                expected = offset + 1;
                index.observe(offset, start, scan.position());
                if offset >= from && !visit(offset, start, scan.content())? {
                    return Ok(ScanEnd::Satisfied);
                }
                continue;
            }
            Frame::Record { offset, start } => (
                start,
                format!("record has offset {offset} where at least {expected} was expected"),
            ),
            Frame::Torn { position, detail } => (position, detail),
        };
        // Past the durable offset of the last segment: still being written, or a torn
        // tail the writer will cut.
        if is_last && durable.is_none_or(|d| expected >= d) {
            return Ok(ScanEnd::Tail);
        }
        let (topic, partition) = segment_place(path);
        return Err(LogError::Damaged {
            topic,
            partition,
            offset: expected,
            path: scan.path().to_path_buf(),
            position,
            acknowledged: durable,
            detail,
        });
    }
}
