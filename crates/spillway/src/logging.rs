//! Logs on stderr with `tracing`: text by default, JSON with `--log-format json`.
//!
//! Text logs escape control characters in every field and message ([`printable`]), so a
//! value from a config, a server or a request can neither forge a log line nor send a
//! terminal sequence; JSON logs are escaped by JSON itself.
//!
//! Levels can be changed while running ([`set_level`], the worker's `/admin/loggers`): a
//! logger is a tracing target or a prefix of one (`spillway`, `spillway_postgres`,
//! `spillway_postgres::replication`), or `root` for every other.

use spillway_core::secret::printable;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{self, Writer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{reload, EnvFilter, Registry};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LogFormat {
    Text,
    Json,
}

/// The levels set at run time, and how to apply them.
struct Levels {
    handle: reload::Handle<EnvFilter, Registry>,
    state: Mutex<LevelState>,
}

struct LevelState {
    /// `RUST_LOG`, or `info`: what applies until `root` is set.
    base: String,
    root: Option<String>,
    loggers: BTreeMap<String, String>,
}

static LEVELS: OnceLock<Levels> = OnceLock::new();

/// Installs the subscriber; `RUST_LOG` overrides the default `info` level.
pub fn init(format: LogFormat) {
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| EnvFilter::try_new(v).is_ok())
        .unwrap_or_else(|| "info".to_string());
    let (filter, handle) = reload::Layer::new(EnvFilter::new(&base));
    let _ = LEVELS.set(Levels {
        handle,
        state: Mutex::new(LevelState {
            base,
            root: None,
            loggers: BTreeMap::new(),
        }),
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs sent to files and collectors stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
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
            registry.with(layer.fmt_fields(fields)).init()
        }
        LogFormat::Json => registry.with(layer.json().flatten_event(true)).init(),
    }
}

/// Why a level cannot be set.
#[derive(Debug)]
pub enum LevelError {
    Name(String),
    Level(String),
    NotSetUp,
}

impl std::fmt::Display for LevelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LevelError::Name(name) => write!(f, "{name:?} is not a logger: give root or a tracing target (letters, digits, '_' and '::'), such as spillway_postgres"),
            LevelError::Level(level) => write!(f, "{level:?} is not a level: give one of OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE, ALL"),
            LevelError::NotSetUp => f.write_str("logging is not set up in this process"),
        }
    }
}

impl std::error::Error for LevelError {}

/// The tracing level of a log4j-style level name (as Kafka Connect's loggers take them).
fn level_of(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        "TRACE" | "ALL" => "trace",
        _ => return None,
    })
}

fn valid_logger(name: &str) -> bool {
    name == "root"
        || (!name.is_empty()
            && name.len() <= 200
            && name.split("::").all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }))
}

/// Sets `logger`'s level; returns the loggers whose level changed (Kafka Connect's answer).
pub fn set_level(logger: &str, level: &str) -> Result<Vec<String>, LevelError> {
    if !valid_logger(logger) {
        return Err(LevelError::Name(logger.to_string()));
    }
    let tracing_level = level_of(level).ok_or_else(|| LevelError::Level(level.to_string()))?;
    let levels = LEVELS.get().ok_or(LevelError::NotSetUp)?;
    let mut state = levels.state.lock().unwrap_or_else(|e| e.into_inner());
    if logger == "root" {
        state.root = Some(tracing_level.to_string());
    } else {
        state
            .loggers
            .insert(logger.to_string(), tracing_level.to_string());
    }
    let mut directives = state.root.clone().unwrap_or_else(|| state.base.clone());
    for (name, level) in &state.loggers {
        directives.push_str(&format!(",{name}={level}"));
    }
    let filter =
        EnvFilter::try_new(&directives).map_err(|_| LevelError::Name(logger.to_string()))?;
    let _ = levels.handle.reload(filter);
    Ok(vec![logger.to_string()])
}

/// The level of `logger` (its own, or the root's), upper-case as Kafka Connect shows it.
pub fn level(logger: &str) -> Option<String> {
    if !valid_logger(logger) {
        return None;
    }
    let levels = LEVELS.get()?;
    let state = levels.state.lock().unwrap_or_else(|e| e.into_inner());
    let own = state
        .loggers
        .iter()
        .filter(|(name, _)| logger == name.as_str() || logger.starts_with(&format!("{name}::")))
        .max_by_key(|(name, _)| name.len())
        .map(|(_, level)| level.clone());
    let root = state.root.clone().unwrap_or_else(|| {
        // The base's default level: its directive without a target.
        state
            .base
            .split(',')
            .find(|d| !d.contains('='))
            .unwrap_or("info")
            .to_string()
    });
    Some(own.unwrap_or(root).to_ascii_uppercase())
}

/// Every logger with a level set, and `root`: `{"name": {"level": "INFO"}}`.
pub fn levels() -> serde_json::Value {
    let mut all = serde_json::Map::new();
    if let Some(root) = level("root") {
        all.insert("root".into(), serde_json::json!({ "level": root }));
    }
    if let Some(levels) = LEVELS.get() {
        let state = levels.state.lock().unwrap_or_else(|e| e.into_inner());
        for (name, level) in &state.loggers {
            all.insert(
                name.clone(),
                serde_json::json!({ "level": level.to_ascii_uppercase() }),
            );
        }
    }
    serde_json::Value::Object(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logger_names_and_levels_are_checked() {
        for good in ["root", "spillway", "spillway_postgres::replication"] {
            assert!(valid_logger(good), "{good}");
        }
        for bad in ["", "a,b=trace", "x=debug", "a::", "::a", "sp ace", "a.b"] {
            assert!(!valid_logger(bad), "{bad}");
        }
        assert_eq!(level_of("fatal"), Some("error"));
        assert_eq!(level_of("ALL"), Some("trace"));
        assert_eq!(level_of("verbose"), None);
    }
}
