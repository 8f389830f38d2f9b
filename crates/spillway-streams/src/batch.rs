//! Compressed record batches: the version-2 frame of a segment.
//!
//! A batch frame starts like a record frame (length, CRC), so a scan tells the two apart by
//! the version byte that follows; segments written before batches existed hold version-1
//! records only, and a log written by both holds version-1 records then batches. All
//! integers little-endian:
//!
//! ```text
//! u32  length              bytes that follow this field
//! u32  crc                 CRC-32 (IEEE) of the bytes that follow this field
//! u8   version             2
//! u64  base offset         offset of the first record
//! u8   codec               0 none, 1 lz4 (block format), 2 zstd
//! u32  last offset delta   offset of the last record minus the base offset
//! u32  record count
//! i64  first timestamp_ms
//! i64  max timestamp_ms
//! u32  uncompressed size   bytes of the payload once decompressed
//! u32  metadata length     then that many bytes of producer metadata (opaque; written empty)
//! ...  payload             the rest of the frame, compressed with the codec
//! ```
//!
//! Once decompressed, the payload holds each record as `u32` length then the record as a
//! version-1 frame holds it after its CRC (version 1, offset, timestamp, key, value,
//! headers). Every record carries its own offset, so offsets within a batch only have to
//! grow: they may skip some. A batch is written, fsynced and acknowledged as a unit, and
//! read as one: a batch whose checksum, codec, sizes, offsets or record count do not add up
//! is damage (or a torn tail), never a source of records.
//!
//! Every size a reader allocates for is bounded before it allocates: the frame by
//! [`MAX_FRAME_BYTES`] and the file's length, the decompressed payload by
//! [`MAX_BATCH_UNCOMPRESSED`] and by [`MAX_RATIO`] times the compressed payload (lz4 cannot
//! exceed 255; the writer stores a batch that zstd shrinks further as codec none).

use crate::segment::{encode_content, MAX_RECORD_BYTES, MIN_FRAME_LEN, PREFIX_LEN};
use spillway_core::Record;

/// Format version of a batch frame.
pub(crate) const BATCH_VERSION: u8 = 2;

/// Bytes of a batch frame's fixed fields after the length field: crc, version, base offset,
/// codec, last offset delta, record count, timestamps, uncompressed size, metadata length.
pub(crate) const BATCH_HEADER_LEN: usize = 4 + 1 + 8 + 1 + 4 + 4 + 8 + 8 + 4 + 4;

/// Most bytes of producer metadata a batch may hold.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Largest frame (record or batch) accepted: a record of [`MAX_RECORD_BYTES`] in a batch of
/// its own, with the batch header and metadata.
pub const MAX_FRAME_BYTES: usize = MAX_RECORD_BYTES + 4 + BATCH_HEADER_LEN + MAX_METADATA_BYTES;

/// Largest decompressed payload accepted: one record of [`MAX_RECORD_BYTES`] and its length.
pub const MAX_BATCH_UNCOMPRESSED: usize = MAX_RECORD_BYTES + 4;

/// Most times larger than its compressed payload a decompressed payload may be.
pub const MAX_RATIO: usize = 1024;

/// Uncompressed bytes a batch grows to before the writer starts another: large enough for
/// lz4 and zstd to find most of the redundancy, small enough that reading one record from
/// the middle of a batch decompresses little.
pub(crate) const BATCH_TARGET_BYTES: usize = 256 * 1024;

/// zstd's level, Kafka's default.
const ZSTD_LEVEL: i32 = 3;

/// How the writer compresses record batches (`compression.type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Batches are stored as they are.
    None,
    /// LZ4 block format: fast, the default.
    #[default]
    Lz4,
    /// zstd level 3: smaller, slower to write.
    Zstd,
}

impl Compression {
    /// The codec byte of a batch frame.
    fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Compression::None),
            1 => Some(Compression::Lz4),
            2 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The name used in configuration: `none`, `lz4`, `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// The records of one batch being built by the writer, uncompressed.
#[derive(Debug, Default)]
pub(crate) struct BatchBuilder {
    raw: Vec<u8>,
    base: u64,
    last: u64,
    count: u32,
    first_ts: i64,
    max_ts: i64,
}

impl BatchBuilder {
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Uncompressed payload bytes so far.
    pub(crate) fn raw_len(&self) -> usize {
        self.raw.len()
    }

    /// Adds `record` at `offset`, which is above every offset already in the batch.
    pub(crate) fn push(&mut self, offset: u64, record: &Record) {
        if self.count == 0 {
            self.base = offset;
            self.first_ts = record.timestamp_ms;
            self.max_ts = record.timestamp_ms;
        }
        self.last = offset;
        self.count += 1;
        self.max_ts = self.max_ts.max(record.timestamp_ms);
        let start = self.raw.len();
        self.raw.extend_from_slice(&[0; 4]);
        encode_content(&mut self.raw, offset, record);
        let len = (self.raw.len() - start - 4) as u32;
        self.raw[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// Appends the batch as one frame to `out`, compressed with `codec` unless that does not
    /// make it smaller, and empties the builder.
    pub(crate) fn seal(&mut self, codec: Compression, encoder: &mut Encoder, out: &mut Vec<u8>) {
        if self.count == 0 {
            return;
        }
        let compressed = encoder.compress(codec, &self.raw);
        let (codec, payload) = match compressed {
            Some(c) if c.len() < self.raw.len() && self.raw.len() <= c.len() * MAX_RATIO => {
                (codec, c)
            }
            _ => (Compression::None, &self.raw[..]),
        };
        let start = out.len();
        out.extend_from_slice(&[0; PREFIX_LEN]);
        out.push(BATCH_VERSION);
        out.extend_from_slice(&self.base.to_le_bytes());
        out.push(codec.code());
        out.extend_from_slice(&((self.last - self.base) as u32).to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.first_ts.to_le_bytes());
        out.extend_from_slice(&self.max_ts.to_le_bytes());
        out.extend_from_slice(&(self.raw.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(payload);
        let length = (out.len() - start - 4) as u32;
        let crc = crc32fast::hash(&out[start + PREFIX_LEN..]);
        out[start..start + 4].copy_from_slice(&length.to_le_bytes());
        out[start + 4..start + PREFIX_LEN].copy_from_slice(&crc.to_le_bytes());
        self.clear();
    }

    pub(crate) fn clear(&mut self) {
        self.count = 0;
        self.raw.clear();
        if self.raw.capacity() > 4 * BATCH_TARGET_BYTES {
            self.raw = Vec::new();
        }
    }
}

/// The writer's compression state, kept from batch to batch.
#[derive(Default)]
pub(crate) struct Encoder {
    zstd: Option<zstd::bulk::Compressor<'static>>,
    out: Vec<u8>,
}

impl Encoder {
    /// `raw` compressed with `codec`; `None` for codec none or when compression failed.
    fn compress(&mut self, codec: Compression, raw: &[u8]) -> Option<&[u8]> {
        match codec {
            Compression::None => None,
            Compression::Lz4 => {
                self.out
                    .resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
                let n = lz4_flex::block::compress_into(raw, &mut self.out).ok()?;
                Some(&self.out[..n])
            }
            Compression::Zstd => {
                if self.zstd.is_none() {
                    self.zstd = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
                }
                self.out = self.zstd.as_mut()?.compress(raw).ok()?;
                Some(&self.out)
            }
        }
    }
}

/// A batch frame's header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: u64,
    /// Offset of the last record.
    pub last_offset: u64,
    /// Records in the batch.
    pub record_count: u32,
    /// Timestamp of the first record.
    pub first_timestamp_ms: i64,
    /// Largest timestamp of the batch's records.
    pub max_timestamp_ms: i64,
    /// How the payload is compressed.
    pub codec: Compression,
    /// Producer metadata stored with the batch.
    pub metadata: Vec<u8>,
}

/// Decompresses and splits batches, reusing its buffers and zstd context.
#[derive(Default)]
pub(crate) struct Decoder {
    zstd: Option<zstd::bulk::Decompressor<'static>>,
    /// The decompressed payload of the last batch.
    pub(crate) payload: Vec<u8>,
    /// (offset, byte range in `payload`) of each record of the last batch.
    pub(crate) records: Vec<(u64, std::ops::Range<usize>)>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Decodes the checked content of a batch frame (everything after the CRC field) into
    /// `payload` and `records`. Each record's range is what [`crate::segment::decode_record`]
    /// reads.
    pub(crate) fn decode(&mut self, content: &[u8]) -> Result<BatchHeader, String> {
        self.records.clear();
        self.payload.clear();
        let field = |at: usize, n: usize| -> Result<&[u8], String> {
            content.get(at..at + n).ok_or_else(|| {
                format!(
                    "a batch of {} bytes is shorter than its header",
                    content.len()
                )
            })
        };
        let u32_at = |at| field(at, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let u64_at = |at| {
            field(at, 8).map(|b| {
                let mut a = [0; 8];
                a.copy_from_slice(b);
                u64::from_le_bytes(a)
            })
        };
        let version = field(0, 1)?[0];
        if version != BATCH_VERSION {
            return Err(format!("unknown batch version {version}"));
        }
        let base_offset = u64_at(1)?;
        let code = field(9, 1)?[0];
        let codec = Compression::from_code(code).ok_or_else(|| format!("unknown codec {code}"))?;
        let delta = u32_at(10)?;
        let count = u32_at(14)?;
        let first_ts = u64_at(18)? as i64;
        let max_ts = u64_at(26)? as i64;
        let uncompressed = u32_at(34)? as usize;
        let meta_len = u32_at(38)? as usize;
        let header_end = BATCH_HEADER_LEN - 4;
        if meta_len > MAX_METADATA_BYTES {
            return Err(format!("{meta_len} bytes of producer metadata is too many"));
        }
        let metadata = field(header_end, meta_len)?.to_vec();
        let compressed = &content[header_end + meta_len..];
        let last_offset = base_offset
            .checked_add(u64::from(delta))
            .ok_or_else(|| format!("base offset {base_offset} plus {delta} overflows"))?;
        let min_record = 4 + MIN_FRAME_LEN as usize - 4;
        if count == 0 || u64::from(count) > u64::from(delta) + 1 {
            return Err(format!(
                "{count} records cannot span offsets {base_offset} to {last_offset}"
            ));
        }
        if uncompressed > MAX_BATCH_UNCOMPRESSED
            || uncompressed < count as usize * min_record
            || uncompressed > compressed.len().saturating_mul(MAX_RATIO)
        {
            return Err(format!(
                "impossible uncompressed size {uncompressed} for {count} records in {} bytes",
                compressed.len()
            ));
        }
        match codec {
            Compression::None => {
                if compressed.len() != uncompressed {
                    return Err(format!(
                        "an uncompressed payload of {} bytes where {uncompressed} were announced",
                        compressed.len()
                    ));
                }
                self.payload.extend_from_slice(compressed);
            }
            Compression::Lz4 => {
                self.payload.resize(uncompressed, 0);
                let n = lz4_flex::block::decompress_into(compressed, &mut self.payload)
                    .map_err(|e| format!("lz4: {e}"))?;
                if n != uncompressed {
                    return Err(format!(
                        "lz4 payload holds {n} bytes where {uncompressed} were announced"
                    ));
                }
            }
            Compression::Zstd => {
                if self.zstd.is_none() {
                    self.zstd =
                        Some(zstd::bulk::Decompressor::new().map_err(|e| format!("zstd: {e}"))?);
                }
                self.payload.resize(uncompressed, 0);
                let zstd = self.zstd.as_mut().ok_or("zstd: no context")?;
                let n = zstd
                    .decompress_to_buffer(compressed, &mut self.payload[..])
                    .map_err(|e| format!("zstd: {e}"))?;
                if n != uncompressed {
                    return Err(format!(
                        "zstd payload holds {n} bytes where {uncompressed} were announced"
                    ));
                }
            }
        }
        let mut at = 0;
        let mut next = base_offset;
        while at < self.payload.len() {
            let Some(b) = self.payload.get(at..at + 4) else {
                return Err(format!("a record length cut short at payload byte {at}"));
            };
            let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            let range = at + 4..at + 4 + len;
            let Some(record) = self.payload.get(range.clone()) else {
                return Err(format!(
                    "a record of {len} bytes overruns the payload at byte {at}"
                ));
            };
            if len < min_record - 4 || record[0] != crate::segment::VERSION {
                return Err(format!("no record at payload byte {at}"));
            }
            let mut o = [0; 8];
            o.copy_from_slice(&record[1..9]);
            let offset = u64::from_le_bytes(o);
            if offset < next || offset > last_offset {
                return Err(format!(
                    "record offset {offset} outside {next}..={last_offset}"
                ));
            }
            if self.records.is_empty() && offset != base_offset {
                return Err(format!(
                    "first record has offset {offset}, not the base offset {base_offset}"
                ));
            }
            self.records.push((offset, range.clone()));
            next = offset + 1;
            at = range.end;
        }
        if self.records.len() != count as usize || next != last_offset + 1 {
            return Err(format!(
                "the payload holds {} records ending before {next}; the header says {count} ending at {last_offset}",
                self.records.len()
            ));
        }
        Ok(BatchHeader {
            base_offset,
            last_offset,
            record_count: count,
            first_timestamp_ms: first_ts,
            max_timestamp_ms: max_ts,
            codec,
            metadata,
        })
    }
}

/// Decodes the checked content of a batch frame (everything after the CRC field): its
/// header and its records, every length and offset checked.
pub fn decode_batch(
    content: &[u8],
) -> Result<(BatchHeader, Vec<crate::segment::StoredRecord>), String> {
    let mut decoder = Decoder::default();
    let header = decoder.decode(content)?;
    let records = decoder
        .records
        .iter()
        .map(|(_, range)| crate::segment::decode_record(&decoder.payload[range.clone()]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((header, records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::LogError;
    use crate::segment::{encode_record, recover_segment, Frame, SegmentScan};
    use spillway_core::Header;
    use std::sync::Arc;

    fn record(i: u64) -> Record {
        Record {
            topic: Arc::from("t"),
            key: Some(format!("key-{i}").into_bytes()),
            value: Some(
                format!("{{\"id\":{i},\"name\":\"row {i}\",\"note\":\"the same words again\"}}")
                    .into_bytes(),
            ),
            headers: vec![Header {
                key: "op".into(),
                value: i.is_multiple_of(2).then(|| b"c".to_vec()),
            }],
            timestamp_ms: 1_700_000_000_000 + i as i64,
        }
    }

    /// A batch frame of `offsets`, compressed with `codec`.
    fn batch(offsets: impl IntoIterator<Item = u64>, codec: Compression) -> Vec<u8> {
        let mut builder = BatchBuilder::default();
        for offset in offsets {
            builder.push(offset, &record(offset));
        }
        let mut out = Vec::new();
        builder.seal(codec, &mut Encoder::default(), &mut out);
        out
    }

    /// Every record a scan of `path` returns (each checked against what was written), as
    /// (offset, start), and how the scan ended.
    fn scan_all(path: &std::path::Path) -> (Vec<(u64, u64)>, Frame) {
        let mut scan = SegmentScan::open(path, 0).unwrap();
        let mut records = Vec::new();
        loop {
            match scan.next_frame().unwrap() {
                Frame::Record { offset, start } => {
                    let decoded = crate::segment::decode_record(scan.content()).unwrap();
                    assert_eq!(decoded, stored(offset));
                    records.push((offset, start));
                }
                end => return (records, end),
            }
        }
    }

    fn stored(offset: u64) -> crate::segment::StoredRecord {
        let r = record(offset);
        crate::segment::StoredRecord {
            offset,
            timestamp_ms: r.timestamp_ms,
            key: r.key,
            value: r.value,
            headers: r.headers,
        }
    }

    #[test]
    fn batches_of_every_codec_round_trip_and_compressible_ones_shrink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let mut raw_len = None;
        for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let frame = batch(0..200, codec);
            let (header, records) = decode_batch(&frame[PREFIX_LEN..]).unwrap();
            assert_eq!(header.codec, codec);
            assert_eq!((header.base_offset, header.last_offset), (0, 199));
            assert_eq!(header.record_count, 200);
            assert_eq!(header.first_timestamp_ms, 1_700_000_000_000);
            assert_eq!(header.max_timestamp_ms, 1_700_000_000_199);
            assert!(header.metadata.is_empty());
            assert_eq!(records, (0..200).map(stored).collect::<Vec<_>>());
            match raw_len {
                None => raw_len = Some(frame.len()),
                Some(raw) => assert!(frame.len() * 3 < raw, "{codec:?}: {} of {raw}", frame.len()),
            }
            std::fs::write(&path, &frame).unwrap();
            let (records, end) = scan_all(&path);
            assert_eq!(end, Frame::End);
            assert_eq!(records.len(), 200);
            assert!(records.iter().all(|&(_, start)| start == 0));
        }
    }

    #[test]
    fn a_batch_compression_does_not_shrink_is_stored_as_codec_none() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..64)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let r = Record {
            key: None,
            value: Some(noise),
            headers: Vec::new(),
            ..record(7)
        };
        let sealed = |codec| {
            let mut builder = BatchBuilder::default();
            builder.push(7, &r);
            let mut frame = Vec::new();
            builder.seal(codec, &mut Encoder::default(), &mut frame);
            let (header, records) = decode_batch(&frame[PREFIX_LEN..]).unwrap();
            assert_eq!(records[0].value, r.value);
            (header.codec, frame.len())
        };
        let (_, plain) = sealed(Compression::None);
        // zstd's frame header alone outweighs what it could save here.
        assert_eq!(sealed(Compression::Zstd), (Compression::None, plain));
        // Whatever lz4 does, the frame is never larger than stored plainly.
        let (codec, len) = sealed(Compression::Lz4);
        assert!(len < plain || (codec, len) == (Compression::None, plain));
    }

    #[test]
    fn offsets_in_a_batch_may_skip_some_but_only_grow() {
        let mut builder = BatchBuilder::default();
        for offset in [10, 11, 15, 40] {
            builder.push(offset, &record(offset));
        }
        let mut out = Vec::new();
        builder.seal(Compression::Zstd, &mut Encoder::default(), &mut out);
        let (header, records) = decode_batch(&out[PREFIX_LEN..]).unwrap();
        assert_eq!((header.base_offset, header.last_offset), (10, 40));
        let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [10, 11, 15, 40]);
    }

    #[test]
    fn a_segment_of_old_records_then_batches_reads_in_order_and_recovers_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let mut bytes = Vec::new();
        for offset in 0..5 {
            encode_record(&mut bytes, offset, &record(offset));
        }
        let batch_start = bytes.len() as u64;
        bytes.extend(batch(5..50, Compression::Lz4));
        let second = bytes.len() as u64;
        bytes.extend(batch(50..51, Compression::None));
        for offset in 51..53 {
            encode_record(&mut bytes, offset, &record(offset));
        }
        bytes.extend(batch(53..60, Compression::Zstd));
        std::fs::write(&path, &bytes).unwrap();

        let (records, end) = scan_all(&path);
        assert_eq!(end, Frame::End);
        let offsets: Vec<u64> = records.iter().map(|r| r.0).collect();
        assert_eq!(offsets, (0..60).collect::<Vec<_>>());
        assert_eq!(records[5].1, batch_start);
        assert_eq!(records[49].1, batch_start);
        assert_eq!(records[50].1, second);

        // While a batch has records left, the scan resumes at its start.
        let mut scan = SegmentScan::open(&path, batch_start).unwrap();
        for _ in 0..3 {
            scan.next_frame().unwrap();
            assert_eq!(scan.position(), batch_start);
        }
        for _ in 3..45 {
            scan.next_frame().unwrap();
        }
        assert_eq!(scan.position(), second);

        let tail = recover_segment(&path, 0, None).unwrap();
        assert_eq!((tail.next_offset, tail.len), (60, bytes.len() as u64));
    }

    #[test]
    fn a_torn_batch_at_the_tail_is_cut_whole_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let mut bytes = Vec::new();
        encode_record(&mut bytes, 0, &record(0));
        bytes.extend(batch(1..20, Compression::Lz4));
        let good = bytes.len() as u64;
        let last = batch(20..40, Compression::Lz4);
        for cut in [1, 4, 9, last.len() / 2, last.len() - 1] {
            let mut torn = bytes.clone();
            torn.extend_from_slice(&last[..cut]);
            std::fs::write(&path, &torn).unwrap();
            let (records, end) = scan_all(&path);
            assert_eq!(records.len(), 20);
            assert!(matches!(end, Frame::Torn { position, .. } if position == good));
            // Not acknowledged (durable offset 20, or none): cut.
            let tail = recover_segment(&path, 0, Some(20)).unwrap();
            assert_eq!((tail.next_offset, tail.len), (20, good));
            assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
            std::fs::write(&path, &torn).unwrap();
            assert_eq!(recover_segment(&path, 0, None).unwrap().len, good);
            // Acknowledged: refused, nothing cut.
            std::fs::write(&path, &torn).unwrap();
            let error = recover_segment(&path, 0, Some(40)).unwrap_err();
            assert!(
                matches!(error, LogError::Damaged { offset: 20, position, .. } if position == good),
                "{error}"
            );
            assert_eq!(std::fs::metadata(&path).unwrap().len(), torn.len() as u64);
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_compressed_batch_is_damage_not_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        for codec in [Compression::Lz4, Compression::Zstd, Compression::None] {
            let frame = batch(0..30, codec);
            for byte in 0..frame.len() {
                let mut damaged = frame.clone();
                damaged[byte] ^= 0x10;
                std::fs::write(&path, &damaged).unwrap();
                let (records, end) = scan_all(&path);
                assert!(records.is_empty(), "{codec:?} byte {byte}");
                assert!(
                    matches!(end, Frame::Torn { position: 0, .. }),
                    "{codec:?} byte {byte}"
                );
            }
        }
    }

    /// A batch frame with a valid checksum around `content` (from the version byte on).
    fn frame_around(content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((content.len() + 4) as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(content).to_le_bytes());
        out.extend_from_slice(content);
        out
    }

    #[test]
    fn hostile_sizes_with_a_valid_checksum_are_refused_before_allocating() {
        let good = batch(0..30, Compression::Lz4);
        let content = &good[PREFIX_LEN..];
        let set = |at: usize, bytes: &[u8]| {
            let mut c = content.to_vec();
            c[at..at + bytes.len()].copy_from_slice(bytes);
            c
        };
        let hostile = [
            // Uncompressed size: 1 GiB, 4 GiB - 1, and larger than the ratio allows.
            set(34, &(1u32 << 30).to_le_bytes()),
            set(34, &u32::MAX.to_le_bytes()),
            set(34, &((content.len() * MAX_RATIO + 1) as u32).to_le_bytes()),
            // Metadata longer than allowed, and longer than the frame.
            set(38, &u32::MAX.to_le_bytes()),
            set(38, &(content.len() as u32).to_le_bytes()),
            // Record counts: none, more than the offsets span, fewer than held.
            set(14, &0u32.to_le_bytes()),
            set(14, &u32::MAX.to_le_bytes()),
            set(14, &29u32.to_le_bytes()),
            // Offsets: a span that overflows, a last offset beyond the records.
            set(1, &u64::MAX.to_le_bytes()),
            set(10, &40u32.to_le_bytes()),
            // Codec.
            set(9, &[9]),
            set(9, &[2]),
            set(9, &[0]),
            // Cut anywhere in the header.
            content[..20].to_vec(),
            content[..BATCH_HEADER_LEN - 4].to_vec(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        for (i, content) in hostile.iter().enumerate() {
            assert!(decode_batch(content).is_err(), "case {i}");
            std::fs::write(&path, frame_around(content)).unwrap();
            let (records, end) = scan_all(&path);
            assert!(records.is_empty(), "case {i}");
            assert!(matches!(end, Frame::Torn { position: 0, .. }), "case {i}");
        }
        // A frame length past the limit is refused before reading it.
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&path, &huge).unwrap();
        assert!(matches!(scan_all(&path).1, Frame::Torn { position: 0, .. }));
    }

    #[test]
    fn producer_metadata_is_read_back() {
        let good = batch(0..3, Compression::None);
        let mut content = good[PREFIX_LEN..BATCH_HEADER_LEN + 4].to_vec();
        let meta = b"lsn=0/16B3748";
        let at = content.len() - 4;
        content[at..].copy_from_slice(&(meta.len() as u32).to_le_bytes());
        content.extend_from_slice(meta);
        content.extend_from_slice(&good[BATCH_HEADER_LEN + 4..]);
        let (header, records) = decode_batch(&content).unwrap();
        assert_eq!(header.metadata, meta);
        assert_eq!(records, (0..3).map(stored).collect::<Vec<_>>());
    }
}
