//! Record framing, segment scanning and tail recovery.
//!
//! A segment is a concatenation of frames: version-1 records, as below, and version-2
//! record batches, compressed (see [`crate::batch`]), which the writer appends since they
//! exist. A scan returns the records inside a batch one by one, as if they were framed
//! alone. A version-1 record, all integers little-endian:
//!
//! ```text
//! u32  length        bytes that follow this field
//! u32  crc           CRC-32 (IEEE) of the bytes that follow this field
//! u8   version       1
//! u64  offset
//! i64  timestamp_ms
//! i32  key length    -1 = null key; then the key bytes
//! i32  value length  -1 = null value (tombstone); then the value bytes
//! u32  header count; per header:
//!      u32 key length, key bytes (UTF-8)
//!      i32 value length (-1 = null), value bytes
//! ```

use crate::batch::{Decoder, BATCH_VERSION, MAX_FRAME_BYTES, MAX_RATIO};
use crate::error::{segment_place, LogError};
use spillway_core::{Header, Record};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Format version written in every record.
pub(crate) const VERSION: u8 = 1;

/// Bytes of the length and CRC fields.
pub(crate) const PREFIX_LEN: usize = 8;

/// Smallest possible value of the length field: crc, version, offset, timestamp, key and
/// value lengths, header count.
pub(crate) const MIN_FRAME_LEN: u32 = 4 + 1 + 8 + 8 + 4 + 4 + 4;

/// Bytes a record takes beyond its key, value and headers.
pub(crate) const RECORD_OVERHEAD: usize = 4 + MIN_FRAME_LEN as usize;

/// Largest encoded record accepted, 1 GiB: bounds what a damaged length field can make a
/// reader allocate, and keeps every length within an `i32`.
pub const MAX_RECORD_BYTES: usize = 1 << 30;

/// Read buffer of a segment scan.
const READ_BUFFER: usize = 128 * 1024;

/// A record as read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Position of the record in its partition, from 0.
    pub offset: u64,
    /// Milliseconds since the epoch, as written.
    pub timestamp_ms: i64,
    /// The key; `None` for a record written without one.
    pub key: Option<Vec<u8>>,
    /// The value; `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers in the order written.
    pub headers: Vec<Header>,
}

/// Bytes `record` takes once encoded.
pub(crate) fn encoded_len(record: &Record) -> usize {
    RECORD_OVERHEAD
        + record.key.as_ref().map_or(0, Vec::len)
        + record.value.as_ref().map_or(0, Vec::len)
        + record
            .headers
            .iter()
            .map(|h| 8 + h.key.len() + h.value.as_ref().map_or(0, Vec::len))
            .sum::<usize>()
}

/// Appends `record`, framed alone as version 1, with `offset` to `buf`: how the log wrote
/// records before batches, kept to test that such segments stay readable. The caller has
/// checked that `encoded_len(record) <= MAX_RECORD_BYTES`.
#[cfg(test)]
pub(crate) fn encode_record(buf: &mut Vec<u8>, offset: u64, record: &Record) {
    let start = buf.len();
    buf.extend_from_slice(&[0; PREFIX_LEN]);
    encode_content(buf, offset, record);
    let length = (buf.len() - start - 4) as u32;
    let crc = crc32fast::hash(&buf[start + PREFIX_LEN..]);
    buf[start..start + 4].copy_from_slice(&length.to_le_bytes());
    buf[start + 4..start + PREFIX_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// Appends what a record frame holds after its CRC field (version 1 onwards), as a batch
/// holds its records too.
pub(crate) fn encode_content(buf: &mut Vec<u8>, offset: u64, record: &Record) {
    buf.push(VERSION);
    buf.extend_from_slice(&offset.to_le_bytes());
    buf.extend_from_slice(&record.timestamp_ms.to_le_bytes());
    put_nullable(buf, record.key.as_deref());
    put_nullable(buf, record.value.as_deref());
    buf.extend_from_slice(&(record.headers.len() as u32).to_le_bytes());
    for header in &record.headers {
        buf.extend_from_slice(&(header.key.len() as u32).to_le_bytes());
        buf.extend_from_slice(header.key.as_bytes());
        put_nullable(buf, header.value.as_deref());
    }
}

fn put_nullable(buf: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => buf.extend_from_slice(&(-1i32).to_le_bytes()),
        Some(bytes) => {
            buf.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
            buf.extend_from_slice(bytes);
        }
    }
}

/// Decodes the checked content of a record: everything after the CRC field.
pub fn decode_record(content: &[u8]) -> Result<StoredRecord, String> {
    let mut cur = Cursor { bytes: content };
    let version = cur.take(1)?[0];
    if version != VERSION {
        return Err(format!("unknown record version {version}"));
    }
    let offset = cur.u64()?;
    let timestamp_ms = cur.u64()? as i64;
    let key = cur.nullable()?;
    let value = cur.nullable()?;
    let count = cur.u32()?;
    let mut headers = Vec::with_capacity((count as usize).min(cur.bytes.len() / 8));
    for _ in 0..count {
        let len = cur.u32()? as usize;
        let key = String::from_utf8(cur.take(len)?.to_vec())
            .map_err(|_| "a header key is not UTF-8".to_string())?;
        let value = cur.nullable()?;
        headers.push(Header { key, value });
    }
    if !cur.bytes.is_empty() {
        return Err(format!(
            "{} unexpected bytes after the headers",
            cur.bytes.len()
        ));
    }
    Ok(StoredRecord {
        offset,
        timestamp_ms,
        key,
        value,
        headers,
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err(format!(
                "a field of {n} bytes overruns the record ({} left)",
                self.bytes.len()
            ));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn nullable(&mut self) -> Result<Option<Vec<u8>>, String> {
        let len = self.u32()? as i32;
        match len {
            -1 => Ok(None),
            n if n < 0 => Err(format!("negative length {n}")),
            n => Ok(Some(self.take(n as usize)?.to_vec())),
        }
    }
}

/// What a scan found at its position.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// An intact record starting at byte `start` (for a record of a batch, where the batch
    /// starts); its content is in [`SegmentScan::content`].
    Record { offset: u64, start: u64 },
    /// The end of the file, exactly at a record boundary.
    End,
    /// Bytes at `position` that are not an intact record: a torn write, garbage, or a record
    /// still being appended. The scan cannot go on.
    Torn { position: u64, detail: String },
}

/// A forward scan over the records of one segment file, up to the file's length at open.
/// The records of a batch are returned one by one, each with the batch's start as its own.
pub(crate) struct SegmentScan {
    path: PathBuf,
    reader: BufReader<File>,
    /// Byte position of the next frame.
    pos: u64,
    len: u64,
    /// (device, inode) of the file.
    identity: (u64, u64),
    frame: Vec<u8>,
    /// The last batch read, decompressed.
    batch: Decoder,
    /// Start of that batch and the index of its next record to return.
    batch_start: u64,
    batch_next: usize,
    /// Index in `batch` of the record last returned, when it came from a batch.
    current: Option<usize>,
}

impl SegmentScan {
    /// Opens `path` and positions the scan at byte `start`.
    pub(crate) fn open(path: &Path, start: u64) -> Result<Self, LogError> {
        let file = File::open(path).map_err(|e| LogError::io("open segment", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| LogError::io("inspect segment", path, e))?;
        let len = meta.len();
        let identity = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        let mut reader = BufReader::with_capacity(READ_BUFFER, file);
        let pos = start.min(len);
        if pos > 0 {
            reader
                .seek(SeekFrom::Start(pos))
                .map_err(|e| LogError::io("seek in segment", path, e))?;
        }
        Ok(SegmentScan {
            path: path.to_path_buf(),
            reader,
            pos,
            len,
            identity,
            frame: Vec::new(),
            batch: Decoder::default(),
            batch_start: 0,
            batch_next: 0,
            current: None,
        })
    }

    /// The segment file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Byte position a scan can resume at without missing a record not yet returned: just
    /// after the last record returned, or the start of its batch while that batch has more.
    pub(crate) fn position(&self) -> u64 {
        if self.batch_next < self.batch.records.len() {
            self.batch_start
        } else {
            self.pos
        }
    }

    /// (device, inode) of the file scanned.
    pub(crate) fn identity(&self) -> (u64, u64) {
        self.identity
    }

    /// The file's length when the scan was opened.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The content (after the CRC field) of the record last returned.
    pub(crate) fn content(&self) -> &[u8] {
        match self.current {
            Some(i) => self
                .batch
                .records
                .get(i)
                .and_then(|(_, range)| self.batch.payload.get(range.clone()))
                .unwrap_or_default(),
            None => self.frame.get(4..).unwrap_or_default(),
        }
    }

    /// Returns the next record: the next of the current batch, or the record or first
    /// record of the next frame, whose length and CRC it checks (and, for a batch, its
    /// decompression, sizes and offsets).
    pub(crate) fn next_frame(&mut self) -> Result<Frame, LogError> {
        if let Some((offset, _)) = self.batch.records.get(self.batch_next) {
            self.current = Some(self.batch_next);
            self.batch_next += 1;
            return Ok(Frame::Record {
                offset: *offset,
                start: self.batch_start,
            });
        }
        self.current = None;
        let start = self.pos;
        let remaining = self.len - start;
        if remaining == 0 {
            return Ok(Frame::End);
        }
        let torn = |detail: String| {
            Ok(Frame::Torn {
                position: start,
                detail,
            })
        };
        if remaining < 4 {
            return torn(format!("{remaining} trailing bytes, too few for a record"));
        }
        let mut len_bytes = [0; 4];
        if let Some(frame) = self.read_exact(&mut len_bytes, start)? {
            return Ok(frame);
        }
        let length = u32::from_le_bytes(len_bytes);
        if length < MIN_FRAME_LEN || length as usize > MAX_FRAME_BYTES {
            return torn(format!("impossible record length {length}"));
        }
        if u64::from(length) > remaining - 4 {
            return torn(format!(
                "record of {length} bytes cut short after {} bytes",
                remaining - 4
            ));
        }
        let mut frame = std::mem::take(&mut self.frame);
        frame.resize(length as usize, 0);
        let read = self.read_exact(&mut frame, start);
        self.frame = frame;
        if let Some(frame) = read? {
            return Ok(frame);
        }
        let crc = u32::from_le_bytes([self.frame[0], self.frame[1], self.frame[2], self.frame[3]]);
        if crc32fast::hash(&self.frame[4..]) != crc {
            return torn("checksum mismatch".to_string());
        }
        if self.frame[4] == BATCH_VERSION {
            if let Err(detail) = self.batch.decode(&self.frame[4..]) {
                self.batch.records.clear();
                return torn(format!("damaged batch: {detail}"));
            }
            self.pos = start + 4 + u64::from(length);
            self.batch_start = start;
            self.batch_next = 0;
            return self.next_frame();
        }
        if self.frame[4] != VERSION {
            return torn(format!("unknown record version {}", self.frame[4]));
        }
        let mut offset = [0; 8];
        offset.copy_from_slice(&self.frame[5..13]);
        self.pos = start + 4 + u64::from(length);
        Ok(Frame::Record {
            offset: u64::from_le_bytes(offset),
            start,
        })
    }

    /// Fills `buf`; a file that shrank under the scan reads as a torn record at `start`.
    fn read_exact(&mut self, buf: &mut [u8], start: u64) -> Result<Option<Frame>, LogError> {
        match self.reader.read_exact(buf) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Some(Frame::Torn {
                position: start,
                detail: "the file shrank while being read".to_string(),
            })),
            Err(e) => Err(LogError::io("read segment", &self.path, e)),
        }
    }
}

/// Where the last segment of a partition ends after recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentTail {
    /// Offset the next record will get.
    pub next_offset: u64,
    /// Length of the segment file, all of it intact records.
    pub len: u64,
}

/// Recovers the last segment of a partition: scans it from its start and cuts a torn tail
/// (records written but never acknowledged, cut short by a crash). Offsets only grow; a
/// repaired log may skip some.
///
/// Damage is cut only when it lies at or past `durable`, the partition's durable offset
/// (every record below it was acknowledged). Below it, or when the log predates durable
/// offsets and intact records follow the damage, it is refused with
/// [`LogError::Damaged`]: cutting there would lose committed records and reuse their
/// offsets.
pub(crate) fn recover_segment(
    path: &Path,
    base: u64,
    durable: Option<u64>,
) -> Result<SegmentTail, LogError> {
    let mut scan = SegmentScan::open(path, 0)?;
    let mut next_offset = base;
    loop {
        let (position, detail) = match scan.next_frame()? {
            Frame::End => {
                return Ok(SegmentTail {
                    next_offset,
                    len: scan.position(),
                })
            }
            Frame::Record { offset, .. } if offset >= next_offset => {
                next_offset = offset + 1;
                continue;
            }
            Frame::Record { offset, start } => (
                start,
                format!("record has offset {offset} where at least {next_offset} was expected"),
            ),
            Frame::Torn { position, detail } => (position, detail),
        };
        let damaged = |detail: String| {
            let (topic, partition) = segment_place(path);
            LogError::Damaged {
                topic,
                partition,
                offset: next_offset,
                path: path.to_path_buf(),
                position,
                acknowledged: durable,
                detail,
            }
        };
        match durable {
            Some(d) if next_offset < d => return Err(damaged(detail)),
            Some(_) => {}
            None => {
                if let Some((at, offset)) = find_intact(path, position + 1, next_offset)? {
                    return Err(damaged(format!(
                        "{detail}; an intact record (offset {offset}) follows at byte {at}, so this is not a write cut short by a crash"
                    )));
                }
            }
        }
        tracing::warn!(
            path = %path.display(),
            position,
            removed_bytes = scan.len() - position,
            next_offset,
            "cutting the torn tail of the log: records written but never acknowledged ({detail})"
        );
        truncate(path, position)?;
        return Ok(SegmentTail {
            next_offset,
            len: position,
        });
    }
}

/// Cuts a segment just before its first record at or past `keep_below`, returning its new
/// length. Used to take back what a group commit wrote but never committed: a batch never
/// spans two groups, so the cut falls on a batch boundary. Bytes that are not a record stop
/// the search without cutting: [`recover_segment`] tells a torn tail from damage.
pub(crate) fn cut_from_offset(path: &Path, keep_below: u64) -> Result<u64, LogError> {
    let mut scan = SegmentScan::open(path, 0)?;
    let cut = loop {
        match scan.next_frame()? {
            Frame::End | Frame::Torn { .. } => return Ok(scan.len()),
            Frame::Record { offset, start } if offset >= keep_below => break start,
            Frame::Record { .. } => {}
        }
    };
    truncate(path, cut)?;
    Ok(cut)
}

/// Bytes read at a time when looking for intact records past damage.
const SEARCH_CHUNK: usize = 1 << 20;

/// The first intact record in the file at or after byte `from` whose offset is at least
/// `min_offset`, as (byte position, offset): a frame whose length fits, whose version is
/// known, whose offset is plausible and whose checksum matches (for a batch: its base
/// offset).
pub(crate) fn find_intact(
    path: &Path,
    from: u64,
    min_offset: u64,
) -> Result<Option<(u64, u64)>, LogError> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path).map_err(|e| LogError::io("open segment", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| LogError::io("inspect segment", path, e))?
        .len();
    let header = PREFIX_LEN + 1 + 8;
    let mut chunk = vec![0u8; SEARCH_CHUNK + header];
    let mut start = from;
    let mut frame = Vec::new();
    while start + header as u64 <= len {
        let want = ((len - start) as usize).min(chunk.len());
        file.read_exact_at(&mut chunk[..want], start)
            .map_err(|e| LogError::io("read segment", path, e))?;
        let candidates = want.saturating_sub(header - 1);
        for i in 0..candidates.min(SEARCH_CHUNK) {
            let at = start + i as u64;
            let b = &chunk[i..i + header];
            let length = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let version = b[PREFIX_LEN];
            if length < MIN_FRAME_LEN
                || length as usize > MAX_FRAME_BYTES
                || at + 4 + u64::from(length) > len
                || (version != VERSION && version != BATCH_VERSION)
            {
                continue;
            }
            let mut o = [0u8; 8];
            o.copy_from_slice(&b[PREFIX_LEN + 1..header]);
            let offset = u64::from_le_bytes(o);
            // Every record takes at least a minimal frame: offsets cannot run further ahead.
            // A batch holds at most MAX_RATIO times its size in minimal records.
            let per_byte = if version == VERSION {
                1
            } else {
                MAX_RATIO as u64
            };
            let most = min_offset.saturating_add(
                (len - from).saturating_mul(per_byte) / u64::from(MIN_FRAME_LEN) + 1,
            );
            if offset < min_offset || offset > most {
                continue;
            }
            frame.resize(length as usize - 4, 0);
            file.read_exact_at(&mut frame, at + PREFIX_LEN as u64)
                .map_err(|e| LogError::io("read segment", path, e))?;
            let crc = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            if crc32fast::hash(&frame) == crc {
                return Ok(Some((at, offset)));
            }
        }
        start += SEARCH_CHUNK as u64;
    }
    Ok(None)
}

fn truncate(path: &Path, len: u64) -> Result<(), LogError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| LogError::io("open segment for truncation", path, e))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| LogError::io("truncate segment", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;

    fn record(key: Option<&[u8]>, value: Option<&[u8]>, headers: Vec<Header>) -> Record {
        Record {
            topic: Arc::from("t"),
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            headers,
            timestamp_ms: -5,
        }
    }

    #[test]
    fn encoded_length_is_exact_for_every_field_shape() {
        let records = [
            record(None, None, vec![]),
            record(Some(b"k"), Some(b"value"), vec![]),
            record(
                Some(b""),
                None,
                vec![
                    Header {
                        key: "h".into(),
                        value: None,
                    },
                    Header {
                        key: "hh".into(),
                        value: Some(b"xyz".to_vec()),
                    },
                ],
            ),
        ];
        for r in &records {
            let mut buf = vec![0xAA];
            encode_record(&mut buf, 7, r);
            assert_eq!(buf.len() - 1, encoded_len(r));
            let decoded = decode_record(&buf[1 + PREFIX_LEN..]).unwrap();
            assert_eq!(decoded.offset, 7);
            assert_eq!(decoded.key, r.key);
            assert_eq!(decoded.value, r.value);
            assert_eq!(decoded.headers, r.headers);
            assert_eq!(decoded.timestamp_ms, -5);
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_record_is_caught() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 0, &record(Some(b"key"), Some(b"value"), vec![]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        for byte in 0..buf.len() {
            let mut damaged = buf.clone();
            damaged[byte] ^= 0x10;
            File::create(&path).unwrap().write_all(&damaged).unwrap();
            let frame = SegmentScan::open(&path, 0).unwrap().next_frame().unwrap();
            assert!(
                matches!(frame, Frame::Torn { position: 0, .. }),
                "byte {byte}"
            );
        }
    }

    #[test]
    fn decoding_garbage_content_fails_without_panicking() {
        let garbage: [&[u8]; 4] = [
            &[],
            &[1, 0, 0],
            &[2; 40],
            &[
                1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0,
            ],
        ];
        for content in garbage {
            assert!(decode_record(content).is_err());
        }
    }

    #[test]
    fn damaged_segments_of_any_shape_are_scanned_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let mut intact = Vec::new();
        for offset in 0..20 {
            encode_record(
                &mut intact,
                offset,
                &record(Some(b"k"), Some(b"value"), vec![]),
            );
        }
        let mut state = 0x853c_49e6_748f_ea9bu64;
        for round in 0..300 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = intact.clone();
            // Flip, cut or scramble: damage of every kind, anywhere.
            match round % 3 {
                0 => {
                    let at = (state as usize) % bytes.len();
                    bytes[at] ^= 1 << (state % 8);
                }
                1 => bytes.truncate((state as usize) % bytes.len()),
                _ => {
                    let at = (state as usize) % bytes.len();
                    for (i, b) in bytes[at..].iter_mut().enumerate().take(64) {
                        *b = (state >> (i % 56)) as u8;
                    }
                }
            }
            std::fs::write(&path, &bytes).unwrap();
            let found = find_intact(&path, state % 7, 0).unwrap();
            if let Some((at, offset)) = found {
                assert!(offset < 20 && at < bytes.len() as u64);
            }
            let _ = recover_segment(&path, 0, Some(state % 25));
            std::fs::write(&path, &bytes).unwrap();
            let _ = recover_segment(&path, 0, None);
        }
    }
}
