//! `spillway query`: read-only SQL against a projection, printed as a table or JSON.

use crate::connector;
use crate::{CliError, DataDirArg};
use serde_json::Value;
use spillway_projection::{run_query, QueryError, QueryLimits, QueryResult, TargetUrl};
use std::io::Write;
use std::time::Duration;

#[derive(clap::Args)]
pub struct QueryArgs {
    /// The SQL to run (one read-only statement).
    sql: String,
    /// A projection that ran with this data directory, by connector name.
    #[arg(long, conflicts_with = "url", required_unless_present = "url")]
    projection: Option<String>,
    /// The database itself: sqlite:PATH or postgresql://user@host:port/db.
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    data: DataDirArg,
    /// Output: an aligned table, or the JSON `POST /query` answers.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Rows printed at most (1 to 1000000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=spillway_projection::query::MAX_ROWS as u64))]
    limit: u64,
    /// Seconds the query may run (more than 0, at most 3600).
    #[arg(long, default_value = "30", value_parser = query_seconds)]
    timeout: Duration,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

pub async fn query(args: QueryArgs) -> Result<(), CliError> {
    let target = match (&args.projection, &args.url) {
        (Some(name), _) => {
            let spec = connector::stored_projection(&args.data.data_dir, name)?;
            crate::run::target_of(&spec, &args.data.data_dir)
        }
        (None, Some(url)) => TargetUrl::parse(url, None, None)
            .map_err(|e| CliError::Config(e.to_string().replace("`connection.url`", "--url")))?,
        (None, None) => {
            return Err(CliError::Config(
                "give --projection NAME or --url URL".into(),
            ))
        }
    };
    let limits = QueryLimits::new(args.limit as usize, args.timeout);
    let result = run_query(&target, &args.sql, limits)
        .await
        .map_err(|e| match e {
            QueryError::Unavailable(_) | QueryError::Timeout(_) | QueryError::TooLarge { .. } => {
                CliError::Runtime(anyhow::anyhow!(e))
            }
            other => CliError::Config(other.to_string()),
        })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        Format::Json => serde_json::to_writer(&mut out, &result)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Table => out.write_all(table(&result).as_bytes()),
    };
    written.map_err(|e| CliError::Runtime(anyhow::anyhow!("cannot write to stdout: {e}")))
}

/// Seconds as `--timeout` takes them for a query: more than 0, at most an hour.
fn query_seconds(text: &str) -> Result<Duration, String> {
    seconds(text, spillway_projection::query::MAX_TIMEOUT)
}

/// A number of seconds, more than 0 and at most `max` (finite: no `inf`, no `NaN`).
pub fn seconds(text: &str, max: Duration) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !value.is_finite() || value <= 0.0 || value > max.as_secs_f64() {
        return Err(format!(
            "give more than 0 and at most {} seconds",
            max.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(value).max(Duration::from_millis(1)))
}

fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The result as psql prints it: a header, a rule, aligned rows, the row count.
fn table(result: &QueryResult) -> String {
    let texts: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| row.iter().map(cell_text).collect())
        .collect();
    let widths: Vec<usize> = result
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            texts
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric: Vec<bool> = (0..result.columns.len())
        .map(|i| {
            result
                .rows
                .iter()
                .all(|r| matches!(r[i], Value::Number(_) | Value::Null))
        })
        .collect();
    let mut out = String::new();
    let header: Vec<String> = result
        .columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| format!(" {:^w$} ", c.name))
        .collect();
    out.push_str(header.join("|").trim_end());
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    out.push_str(&rule.join("+"));
    out.push('\n');
    for row in &texts {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let w = widths[i];
                if numeric[i] {
                    format!(" {t:>w$} ")
                } else {
                    format!(" {t:<w$} ")
                }
            })
            .collect();
        out.push_str(cells.join("|").trim_end());
        out.push('\n');
    }
    let n = result.rows.len();
    out.push_str(&format!(
        "({n} row{}{})\n",
        if n == 1 { "" } else { "s" },
        if result.truncated {
            ", more not shown: raise --limit"
        } else {
            ""
        }
    ));
    out
}
