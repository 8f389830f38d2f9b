//! Logs on stderr with `tracing`: text by default, JSON with `--log-format json`.
//!
//! Text logs escape control characters in every field and message ([`printable`]), so a
//! value from a config, a server or a request can neither forge a log line nor send a
//! terminal sequence; JSON logs are escaped by JSON itself.

use spillway_core::secret::printable;
use std::fmt::Write as _;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{self, Writer};
use tracing_subscriber::EnvFilter;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the subscriber; `RUST_LOG` overrides the default `info` level.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs sent to files and collectors stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    match format {
        LogFormat::Text => {
            let fields = format::debug_fn(
                |writer: &mut Writer<'_>,
                 field: &tracing::field::Field,
                 value: &dyn std::fmt::Debug| {
                    let mut text = String::new();
                    let _ = write!(text, "{value:?}");
                    if field.name() == "message" {
                        write!(writer, "{}", printable(&text))
                    } else {
                        write!(writer, "{}={}", field.name(), printable(&text))
                    }
                },
            )
            .delimited(" ");
            builder.fmt_fields(fields).init()
        }
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
