//! `spillway topics`: the embedded log's topics, partitions and offsets.

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
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum Format {
    Text,
    Json,
}

pub fn topics(args: TopicsArgs) -> Result<(), CliError> {
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
