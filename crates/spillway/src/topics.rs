//! `spillway topics`: the embedded log's topics, partitions, offsets and topic configs;
//! `--alter TOPIC --config k=v` changes a topic's configs (a running spillway takes them up
//! within seconds); `--verify` reads every record to find damage, `--repair` keeps every
//! readable record of a damaged log and reports what was lost.

use crate::{CliError, DataDirArg};
use anyhow::Context;
use spillway_streams::{LogError, LogReader, TopicConfig};
use std::collections::BTreeMap;

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
    /// Change the configs of this topic (with --config), then show them.
    #[arg(long, value_name = "TOPIC", conflicts_with_all = ["verify", "repair"], requires = "config")]
    alter: Option<String>,
    /// A topic config to set with --alter, as KEY=VALUE with Kafka's names (cleanup.policy,
    /// retention.ms, retention.bytes, segment.bytes, segment.ms, delete.retention.ms,
    /// min.compaction.lag.ms, compression.type). Repeatable.
    #[arg(long, value_name = "KEY=VALUE", requires = "alter")]
    config: Vec<String>,
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
    if let Some(topic) = &args.alter {
        return alter(&args, topic);
    }
    let reader = LogReader::open(&args.data.data_dir)
        .with_context(|| format!("cannot open the log in {}", args.data.data_dir.display()))?;
    let partitions = reader.topics().context("cannot list topics")?;
    let mut configs: BTreeMap<&str, TopicConfig> = BTreeMap::new();
    for p in &partitions {
        if !configs.contains_key(p.topic.as_str()) {
            let config = spillway_streams::topic_config(&args.data.data_dir, &p.topic)
                .with_context(|| format!("cannot read the configs of topic {}", p.topic))?;
            configs.insert(&p.topic, config);
        }
    }
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
                        "config": config_json(&configs[p.topic.as_str()]),
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
            if !configs.is_empty() {
                println!();
                for (topic, config) in &configs {
                    println!("{topic}: {}", config_text(config));
                }
            }
        }
    }
    Ok(())
}

/// A topic's configs as a JSON object of strings, Kafka's way.
fn config_json(config: &TopicConfig) -> serde_json::Value {
    serde_json::Value::Object(
        config
            .entries()
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
            .collect(),
    )
}

fn config_text(config: &TopicConfig) -> String {
    config
        .entries()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--alter TOPIC --config k=v ...`.
fn alter(args: &TopicsArgs, topic: &str) -> Result<(), CliError> {
    let mut changes = Vec::new();
    for setting in &args.config {
        let Some((key, value)) = setting.split_once('=') else {
            return Err(CliError::Config(format!(
                "--config {setting:?}: give KEY=VALUE, for example retention.ms=86400000"
            )));
        };
        changes.push((key.trim().to_string(), value.trim().to_string()));
    }
    let config = spillway_streams::alter_topic(&args.data.data_dir, topic, &changes).map_err(
        |e| match e {
            LogError::InvalidConfig { .. }
            | LogError::InvalidTopic { .. }
            | LogError::UnknownTopic { .. } => CliError::Config(e.to_string()),
            other => CliError::Runtime(
                anyhow::anyhow!(other).context(format!("cannot change the configs of {topic}")),
            ),
        },
    )?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"topic": topic, "config": config_json(&config)})
        ),
        Format::Text => println!("{topic}: {}", config_text(&config)),
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
