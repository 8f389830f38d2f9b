//! Checking a whole log for damage ([`verify`]) and repairing it ([`repair`]).
//!
//! Verification reads every record of every segment of every partition, checking lengths,
//! checksums and that offsets grow, and compares each partition's end with its durable
//! offset. Where a record is damaged it looks for the next intact record past it, so one
//! flipped byte costs one record, not the rest of the segment.
//!
//! Repair needs the log closed (it takes the writer's lock). It rewrites each damaged
//! segment with every intact record it holds, each at its own offset, and cuts a torn tail
//! past the durable offset as the writer would. When acknowledged records at the end of a
//! partition are lost, it starts an empty segment at the durable offset, so the offsets
//! of lost records are never given to new ones and a reader that had read past them is
//! never sent back. It reports every range of offsets lost, so the tables whose changes
//! they held can be snapshotted again.

use crate::config::{
    durable_path, encode_durable, list_segments, list_topics, lock_path, partition_dir,
    read_durable, read_meta, segment_path, sync_dir, topics_dir,
};
use crate::error::LogError;
use crate::segment::{find_intact, Frame, SegmentScan};
use crate::writer::lock_exclusive;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A stretch of a segment that holds no intact record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    /// The segment file.
    pub path: PathBuf,
    /// First byte of the stretch.
    pub position: u64,
    /// Bytes in the stretch.
    pub bytes: u64,
    /// Offsets lost with it, `[from, to)`; `to` is `None` when nothing after the damage
    /// says where the lost records ended.
    pub lost_from: u64,
    /// End (exclusive) of the lost offsets, when known.
    pub lost_to: Option<u64>,
    /// What is wrong.
    pub detail: String,
}

/// What verification (or repair) found in one partition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PartitionCheck {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// Intact records.
    pub records: u64,
    /// The offset after the last intact record (the base of an empty last segment).
    pub end_offset: u64,
    /// The durable offset, when the log keeps one.
    pub durable: Option<u64>,
    /// Damage to records that were acknowledged (below the durable offset, or followed by
    /// intact records).
    pub damage: Vec<Damage>,
    /// Bytes at the end of the last segment past the durable offset: records never
    /// acknowledged, cut short by a crash; the writer cuts them when it opens.
    pub torn_tail_bytes: u64,
}

impl PartitionCheck {
    /// Whether acknowledged records are damaged or missing.
    pub fn is_damaged(&self) -> bool {
        !self.damage.is_empty()
    }
}

/// Checks every partition of the log in `data_dir`, reading every record.
pub fn verify(data_dir: &Path) -> Result<Vec<PartitionCheck>, LogError> {
    walk(data_dir, false)
}

/// Repairs the log in `data_dir` (which no writer may have open) and reports what each
/// partition had lost.
pub fn repair(data_dir: &Path) -> Result<Vec<PartitionCheck>, LogError> {
    let _lock = lock_exclusive(&lock_path(data_dir))?;
    let checks = walk(data_dir, true)?;
    // The commit journal must not claim records the repair could not keep.
    let ends: Vec<_> = checks
        .iter()
        .map(|c| (c.topic.clone(), c.partition, c.end_offset))
        .collect();
    crate::journal::lower_ends(data_dir, &ends)?;
    Ok(checks)
}

fn walk(data_dir: &Path, fix: bool) -> Result<Vec<PartitionCheck>, LogError> {
    let topics = topics_dir(data_dir);
    let names = list_topics(&topics)?;
    let mut checks = Vec::new();
    for name in names {
        let dir = topics.join(&name);
        let Some(meta) = read_meta(&dir)? else {
            continue;
        };
        for partition in 0..meta.partitions {
            checks.push(check_partition(
                &name,
                partition,
                &partition_dir(&dir, partition),
                fix,
            )?);
        }
    }
    Ok(checks)
}

/// A segment's intact records as byte ranges, and its damage.
struct SegmentCheck {
    /// `(start, end)` of each stretch of intact records.
    keep: Vec<(u64, u64)>,
    records: u64,
    next_offset: u64,
    damage: Vec<Damage>,
    /// Bytes of a torn tail (last segment only).
    torn: u64,
}

/// Reads every record of one segment. In the last segment, damage at or past the durable
/// offset (or, without one, damage no intact record follows) is a torn tail, as the writer
/// sees it.
fn check_segment(
    path: &Path,
    base: u64,
    min_offset: u64,
    last: Option<Option<u64>>,
) -> Result<SegmentCheck, LogError> {
    let mut check = SegmentCheck {
        keep: Vec::new(),
        records: 0,
        next_offset: min_offset.max(base),
        damage: Vec::new(),
        torn: 0,
    };
    let mut scan = SegmentScan::open(path, 0)?;
    let len = scan.len();
    let mut run_start = 0;
    loop {
        let (position, detail) = match scan.next_frame()? {
            Frame::End => break,
            Frame::Record { offset, .. } if offset >= check.next_offset => {
                check.next_offset = offset + 1;
                check.records += 1;
                continue;
            }
            Frame::Record { offset, start } => (
                start,
                format!(
                    "record has offset {offset} where at least {} was expected",
                    check.next_offset
                ),
            ),
            Frame::Torn { position, detail } => (position, detail),
        };
        if position > run_start {
            check.keep.push((run_start, position));
        }
        let intact = find_intact(path, position + 1, check.next_offset)?;
        let torn = match last {
            Some(Some(durable)) => check.next_offset >= durable,
            Some(None) => intact.is_none(),
            None => false,
        };
        if torn {
            check.torn = len - position;
            return Ok(check);
        }
        match intact {
            Some((at, offset)) => {
                check.damage.push(Damage {
                    path: path.to_path_buf(),
                    position,
                    bytes: at - position,
                    lost_from: check.next_offset,
                    lost_to: Some(offset),
                    detail,
                });
                scan = SegmentScan::open(path, at)?;
                run_start = at;
            }
            None => {
                check.damage.push(Damage {
                    path: path.to_path_buf(),
                    position,
                    bytes: len - position,
                    lost_from: check.next_offset,
                    lost_to: None,
                    detail,
                });
                return Ok(check);
            }
        }
    }
    if len > run_start {
        check.keep.push((run_start, len));
    }
    Ok(check)
}

fn check_partition(
    topic: &str,
    partition: u32,
    dir: &Path,
    fix: bool,
) -> Result<PartitionCheck, LogError> {
    let durable = read_durable(dir)?;
    let bases = list_segments(dir)?;
    let mut result = PartitionCheck {
        topic: topic.to_string(),
        partition,
        records: 0,
        end_offset: 0,
        durable,
        damage: Vec::new(),
        torn_tail_bytes: 0,
    };
    let mut next = 0u64;
    for (i, &base) in bases.iter().enumerate() {
        let path = segment_path(dir, base);
        let upper = bases.get(i + 1).copied();
        let last = upper.is_none().then_some(durable);
        let mut check = match check_segment(&path, base, next, last) {
            // Deleted by a running writer's cleaner (retention, compaction) since listed.
            Err(LogError::Io { source, .. })
                if !fix && upper.is_some() && source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue;
            }
            other => other?,
        };
        for damage in &mut check.damage {
            if damage.lost_to.is_none() {
                damage.lost_to = upper.or(durable);
            }
        }
        if fix && (!check.damage.is_empty() || check.torn > 0) {
            rewrite(&path, &check.keep)?;
        }
        result.records += check.records;
        result.torn_tail_bytes += check.torn;
        result.damage.append(&mut check.damage);
        next = check.next_offset;
    }
    result.end_offset = next;
    if let Some(d) = durable.filter(|d| next < *d) {
        // Acknowledged records at the end are missing: lost with the damage just found, or
        // gone with their files.
        if result.damage.last().is_none_or(|l| l.lost_to != Some(d)) {
            result.damage.push(Damage {
                path: segment_path(dir, bases.last().copied().unwrap_or(0)),
                position: 0,
                bytes: 0,
                lost_from: next,
                lost_to: Some(d),
                detail: format!(
                    "the partition ends at offset {next}, but records up to {} were acknowledged",
                    d - 1
                ),
            });
        }
        if fix {
            // New records continue after the lost ones, never with their offsets.
            let path = segment_path(dir, d);
            if !path.exists() {
                File::create(&path)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| LogError::io("create segment", &path, e))?;
                sync_dir(dir)?;
            }
            result.end_offset = d;
        }
    }
    if fix {
        let path = durable_path(dir);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| LogError::io("open the durable offset file", &path, e))?;
        file.write_all(&encode_durable(result.end_offset))
            .and_then(|()| file.sync_all())
            .map_err(|e| LogError::io("write the durable offset file", &path, e))?;
    }
    Ok(result)
}

/// Replaces the segment at `path` with the byte ranges `keep` of it: written to a new file,
/// fsynced, renamed over the old one, the directory fsynced.
fn rewrite(path: &Path, keep: &[(u64, u64)]) -> Result<(), LogError> {
    let tmp = path.with_extension("log.repair");
    let mut source = File::open(path).map_err(|e| LogError::io("open segment", path, e))?;
    let mut out = File::create(&tmp).map_err(|e| LogError::io("create", &tmp, e))?;
    for &(start, end) in keep {
        source
            .seek(SeekFrom::Start(start))
            .map_err(|e| LogError::io("seek in segment", path, e))?;
        std::io::copy(&mut (&mut source).take(end - start), &mut out)
            .map_err(|e| LogError::io("copy records to", &tmp, e))?;
    }
    out.sync_all().map_err(|e| LogError::io("sync", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| LogError::io("replace segment", path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}
