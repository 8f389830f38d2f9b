//! `spillway topics`: the embedded log's topics, partitions and offsets; `--verify` reads
//! every record to find damage, `--repair` keeps every readable record of a damaged log
//! and reports what was lost.

use crate::{CliError, DataDirArg};
use anyhow::Context;
use spillway_streams::LogReader;

#[derive(clap::Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Read every record of every partition and report damage (exit 1 when acknowledged
    /// records are damaged or missing).
    #[arg(long, conflicts_with = "repair")]
    verify: bool,
    /// Rewrite damaged segments with every readable record (no spillway may be writing the
    /// log), and report the offsets lost so their tables can be snapshotted again.
    #[arg(long)]
    repair: bool,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum Format {
    Text,
    Json,
}

pub fn topics(args: TopicsArgs) -> Result<(), CliError> {
    if args.verify || args.repair {
        return check(&args);
    }
    let reader = LogReader::open(&args.data.data_dir)
        .with_context(|| format!("cannot open the log in {}", args.data.data_dir.display()))?;
    let partitions = reader.topics().context("cannot list topics")?;
    match args.format {
        Format::Json => {
            let list: Vec<serde_json::Value> = partitions
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "topic": p.topic,
                        "partition": p.partition,
                        "start_offset": p.start_offset,
                        "end_offset": p.end_offset,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(list));
        }
        Format::Text => {
            let width = partitions
                .iter()
                .map(|p| p.topic.len())
                .max()
                .unwrap_or(5)
                .max(5);
            println!(
                "{:<width$}  {:>9}  {:>12}  {:>12}",
                "TOPIC", "PARTITION", "START", "END"
            );
            for p in &partitions {
                println!(
                    "{:<width$}  {:>9}  {:>12}  {:>12}",
                    p.topic, p.partition, p.start_offset, p.end_offset
                );
            }
        }
    }
    Ok(())
}

/// `--verify` and `--repair`.
fn check(args: &TopicsArgs) -> Result<(), CliError> {
    let dir = &args.data.data_dir;
    let checks = if args.repair {
        spillway_streams::repair(dir).map_err(|e| match e {
            spillway_streams::LogError::Locked { .. } => CliError::Runtime(anyhow::anyhow!(
                "{e}: stop every spillway using {} before repairing its log",
                dir.display()
            )),
            other => CliError::Runtime(anyhow::anyhow!(other).context("cannot repair the log")),
        })?
    } else {
        spillway_streams::verify(dir)
            .with_context(|| format!("cannot verify the log in {}", dir.display()))?
    };
    let damaged: Vec<_> = checks.iter().filter(|c| c.is_damaged()).collect();
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string(&checks).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        ),
        Format::Text => {
            for c in &checks {
                let state = match (c.is_damaged(), args.repair) {
                    (false, _) => "ok".to_string(),
                    (true, false) => "DAMAGED".to_string(),
                    (true, true) => "repaired".to_string(),
                };
                println!(
                    "{} {}: {} records, end offset {}{}: {state}",
                    c.topic,
                    c.partition,
                    c.records,
                    c.end_offset,
                    if c.torn_tail_bytes > 0 {
                        format!(
                            ", a torn tail of {} unacknowledged bytes",
                            c.torn_tail_bytes
                        )
                    } else {
                        String::new()
                    }
                );
                for d in &c.damage {
                    println!(
                        "  offsets {}..{} lost: {} bytes at byte {} of {}: {}",
                        d.lost_from,
                        d.lost_to
                            .map_or("?".to_string(), |t| t.saturating_sub(1).to_string()),
                        d.bytes,
                        d.position,
                        d.path.display(),
                        d.detail
                    );
                }
            }
        }
    }
    if damaged.is_empty() {
        if matches!(args.format, Format::Text) {
            println!("{} partition(s) checked: no damage", checks.len());
        }
        return Ok(());
    }
    let topics: Vec<String> = damaged
        .iter()
        .map(|c| format!("{} partition {}", c.topic, c.partition))
        .collect();
    if args.repair {
        eprintln!(
            "repaired: every readable record is kept at its offset; the records of the offsets listed are lost from {} — snapshot their tables again (for example with snapshot.mode=when_needed after deleting the connector's offsets, or an incremental snapshot)",
            topics.join(", ")
        );
        Ok(())
    } else {
        Err(CliError::Runtime(anyhow::anyhow!(
            "acknowledged records are damaged or missing in {}; stop every spillway using {} and run spillway topics --repair --data-dir {}",
            topics.join(", "),
            dir.display(),
            dir.display()
        )))
    }
}
