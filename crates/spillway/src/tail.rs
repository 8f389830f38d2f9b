//! `spillway tail`: records of a topic, one JSON object per line, or with `--pretty` their
//! logical types decoded (see [`crate::pretty`]).

use crate::pretty::{self, BytesAs, PrettyFormat};
use crate::{CliError, DataDirArg};
use anyhow::Context;
use base64::Engine;
use spillway_registry::AvroDecoder;
use spillway_streams::{LogError, LogReader, LogWatcher, StoredRecord};
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct TailArgs {
    /// Topic to read.
    topic: String,
    #[command(flatten)]
    data: DataDirArg,
    /// With --follow, start at the first record instead of the end.
    #[arg(long)]
    from_beginning: bool,
    /// Start at this offset (in every partition read). Below the log start (records
    /// deleted by retention), says so and starts at the log start.
    #[arg(long, value_name = "OFFSET", conflicts_with = "from_beginning")]
    from: Option<u64>,
    /// Read only this partition.
    #[arg(long)]
    partition: Option<u32>,
    /// Stop after this many records.
    #[arg(long)]
    max: Option<u64>,
    /// Stop after this many seconds in all (more than 0, at most a year).
    #[arg(long, value_parser = tail_seconds)]
    timeout: Option<Duration>,
    /// Keep waiting for new records.
    #[arg(long)]
    follow: bool,
    /// Decode keys and values through their schemas for reading: decimals as numbers,
    /// dates and times as ISO 8601, bytes as hex. `--pretty` (or `--pretty=json`) prints one
    /// JSON object per record without the schemas; `--pretty=table` one line per record:
    /// offset, time, op, key and row.
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "json",
        value_name = "FORMAT"
    )]
    pretty: Option<PrettyFormat>,
    /// With --pretty: how bytes are printed (hex by default).
    #[arg(long, value_enum, requires = "pretty")]
    bytes: Option<BytesAs>,
}

/// How often `--follow` looks at the log when it cannot watch it (see [`LogWatcher`]).
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Longest `--timeout`: a year.
const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

fn tail_seconds(text: &str) -> Result<Duration, String> {
    crate::query::seconds(text, MAX_TIMEOUT)
}
const READ_CHUNK: usize = 1000;

pub async fn tail(args: TailArgs) -> Result<(), CliError> {
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let reader = LogReader::open(&args.data.data_dir)
        .with_context(|| format!("cannot open the log in {}", args.data.data_dir.display()))?;
    // Watches before the first read: a record made durable after it wakes the wait.
    let mut watcher = args.follow.then(|| {
        LogWatcher::with_topics(
            &args.data.data_dir,
            POLL_INTERVAL,
            Some([args.topic.clone()].into()),
        )
    });
    let wait_left = || {
        deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        })
    };
    // Wait for the topic to appear when following.
    let partitions = loop {
        let all = reader.topics().context("cannot list topics")?;
        let mine: Vec<_> = all
            .into_iter()
            .filter(|p| p.topic == args.topic && args.partition.is_none_or(|x| x == p.partition))
            .collect();
        if !mine.is_empty() {
            break mine;
        }
        if !args.follow || deadline.is_some_and(|d| Instant::now() >= d) {
            if args.follow {
                return Ok(());
            }
            return Err(CliError::Runtime(anyhow::anyhow!(
                "topic {:?}{} does not exist in {}",
                args.topic,
                args.partition
                    .map(|p| format!(" partition {p}"))
                    .unwrap_or_default(),
                args.data.data_dir.display()
            )));
        }
        if let Some(watcher) = &mut watcher {
            watcher.wait(wait_left()).await;
        }
    };
    let mut next: Vec<(u32, u64)> = partitions
        .iter()
        .map(|p| {
            let start = match args.from {
                Some(from) => from,
                None if args.follow && !args.from_beginning => p.end_offset,
                None => p.start_offset,
            };
            (p.partition, start)
        })
        .collect();
    let mut printed = 0u64;
    // Avro records are printed decoded, with the schemas of the embedded registry.
    let registry = args.data.data_dir.join("registry");
    let mut avro = AvroDecoder::new(&registry);
    let mut decoder = args
        .pretty
        .map(|_| pretty::Decoder::new(registry, args.bytes.unwrap_or_default()));
    let several = next.len() > 1;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    loop {
        let mut progressed = false;
        for (partition, offset) in next.iter_mut() {
            let want = args.max.map_or(READ_CHUNK, |m| {
                (m - printed).min(READ_CHUNK as u64) as usize
            });
            if want == 0 {
                break;
            }
            let records = match reader.read(&args.topic, *partition, *offset, want) {
                Err(LogError::BelowStart { start, .. }) => {
                    eprintln!(
                        "offset {} of {} partition {partition} is below the log start {start}: the records before it were deleted by the topic's retention; starting at {start}",
                        *offset, args.topic
                    );
                    *offset = start;
                    reader.read(&args.topic, *partition, start, want)
                }
                other => other,
            }
            .with_context(|| format!("cannot read {} partition {partition}", args.topic))?;
            for record in &records {
                let line = match (&mut decoder, args.pretty) {
                    (Some(decoder), Some(PrettyFormat::Table)) => {
                        let key = record.key.as_deref().map(|b| decoder.document(b));
                        let value = record.value.as_deref().map(|b| decoder.document(b));
                        let offset = if several {
                            format!("{partition}:{}", record.offset)
                        } else {
                            record.offset.to_string()
                        };
                        pretty::table_line(
                            &offset,
                            record.timestamp_ms,
                            key.as_ref(),
                            value.as_ref(),
                        )
                    }
                    (Some(decoder), _) => render(&args.topic, *partition, record, &mut |b| {
                        Document::Pretty(decoder.document(b))
                    }),
                    (None, _) => render(&args.topic, *partition, record, &mut |b| {
                        document(b, &mut avro)
                    }),
                };
                writeln!(out, "{line}").context("cannot write to stdout")?;
                *offset = record.offset + 1;
                printed += 1;
                progressed = true;
            }
        }
        out.flush().context("cannot write to stdout")?;
        if args.max.is_some_and(|m| printed >= m) {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
        if !progressed {
            let Some(watcher) = &mut watcher else {
                return Ok(());
            };
            watcher.wait(wait_left()).await;
        }
    }
}

/// A key or value as printed: the JSON document itself, byte for byte, when it is JSON.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Document<'a> {
    Json(&'a serde_json::value::RawValue),
    Decoded(serde_json::Value),
    Text(String),
    Pretty(pretty::Out),
}

#[derive(serde::Serialize)]
struct Line<'a> {
    topic: &'a str,
    partition: u32,
    offset: u64,
    timestamp: i64,
    headers: serde_json::Map<String, serde_json::Value>,
    key: Option<Document<'a>>,
    value: Option<Document<'a>>,
}

/// A record as one JSON object; key and value are embedded as JSON documents when they are
/// JSON (unchanged) or Avro with a schema in the embedded registry (decoded), as strings when
/// UTF-8, and as base64 strings otherwise; with `--pretty`, decoded through their schemas.
fn render<'a>(
    topic: &str,
    partition: u32,
    record: &'a StoredRecord,
    document: &mut dyn FnMut(&'a [u8]) -> Document<'a>,
) -> String {
    let headers: serde_json::Map<String, serde_json::Value> = record
        .headers
        .iter()
        .map(|h| {
            (
                h.key.clone(),
                match &h.value {
                    None => serde_json::Value::Null,
                    Some(v) => serde_json::Value::String(String::from_utf8_lossy(v).into_owned()),
                },
            )
        })
        .collect();
    let line = Line {
        topic,
        partition,
        offset: record.offset,
        timestamp: record.timestamp_ms,
        headers,
        key: record.key.as_deref().map(&mut *document),
        value: record.value.as_deref().map(&mut *document),
    };
    serde_json::to_string(&line).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn document<'a>(bytes: &'a [u8], avro: &mut AvroDecoder) -> Document<'a> {
    if let Some(Ok(decoded)) = avro.decode(bytes) {
        return Document::Decoded(decoded);
    }
    match serde_json::from_slice::<&serde_json::value::RawValue>(bytes) {
        Ok(raw) => Document::Json(raw),
        Err(_) => Document::Text(match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        }),
    }
}
