//! `spillway`: change data capture from database logs into event streams.
//!
//! Subcommands: `run` connectors in the foreground, `check` their configs and servers,
//! `tail` a topic of the embedded log, list `topics`, `query` a projection; `completions` and
//! `man` print shell completions and man pages. Exit status: 0 on success (including a clean
//! shutdown on SIGINT or SIGTERM), 2 for configuration errors, 1 for runtime errors.

mod active_topics;
mod api;
mod check;
mod client;
mod connector;
mod format;
mod logging;
mod manual;
mod metrics;
mod pretty;
mod progress;
mod query;
mod run;
mod tail;
mod topics;
mod worker;

use clap::{CommandFactory, Parser, Subcommand};
use spillway_core::secret::printable_lines;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: its place in mimalloc's `mi_option_e` (the same in mimalloc 2
/// and 3).
const MI_OPTION_PURGE_DELAY: std::os::raw::c_int = 15;

/// Milliseconds mimalloc keeps freed memory before giving it back to the system. Events
/// are allocated by the runtime's threads and freed by the log writer's: with mimalloc 3's
/// default of 1 s, pages freed that way were held while others were touched, and the peak
/// RSS of a 1,000,000-change MariaDB capture was 87 to 118 MB; at 100 ms it was 72 to 78 MB
/// for the same CPU time (at 10 ms, 64 to 73 MB for 15% more CPU, spent returning and
/// faulting pages back in). `MIMALLOC_PURGE_DELAY` still overrides it.
const PURGE_DELAY_MS: std::os::raw::c_long = 100;

extern "C" {
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::os::raw::c_int) -> std::os::raw::c_long;
}

/// Default data directory when `--data-dir` is not given.
pub const DEFAULT_DATA_DIR: &str = "data";

/// The commit the binary was built from (`unknown` outside a git checkout).
pub const COMMIT: &str = env!("SPILLWAY_COMMIT");

/// `spillway --version`: the version and the commit.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SPILLWAY_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "spillway",
    version = VERSION,
    about = "Change data capture from database logs into event streams"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run connectors (sources and projections) in the foreground until SIGINT or SIGTERM.
    Run(run::RunArgs),
    /// Validate connector configs and run each source's preflight against its server, one
    /// line per check (exit 2 when one fails); changes nothing on the server.
    Check(check::CheckArgs),
    /// Print records of a topic of the embedded log, one JSON object per line.
    Tail(tail::TailArgs),
    /// List the topics and partitions of the embedded log.
    Topics(topics::TopicsArgs),
    /// Run a read-only SQL query against a projection's tables.
    Query(query::QueryArgs),
    /// Run connectors managed over a Kafka-Connect-compatible REST API.
    Worker(worker::WorkerArgs),
    /// Deploy and operate connectors on a worker: create, list, describe, status, pause,
    /// resume, stop, restart, delete, validate, offsets.
    Connector(client::ConnectorArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(manual::CompletionsArgs),
    /// Print the man page, or write a page per subcommand into a directory.
    Man(manual::ManArgs),
}

/// Where the embedded log, offsets and schema history live.
#[derive(clap::Args, Clone, Debug)]
pub struct DataDirArg {
    /// Data directory (embedded log, offsets).
    #[arg(long, env = "SPILLWAY_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

/// An error with the exit status it maps to.
#[derive(Debug)]
pub enum CliError {
    /// Exit 2: the user's configuration is wrong.
    Config(String),
    /// Exit 1: something failed at run time.
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Runtime(e)
    }
}

fn main() -> ExitCode {
    // Everything spillway creates holds credentials or copies of rows (connector configs,
    // log segments, offsets, projections): owner-only, whatever the caller's umask.
    // SAFETY: umask only sets this process's file mode mask; no memory is involved.
    unsafe {
        libc::umask(0o077);
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of the allocator's options, which it reads on each purge.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("spillway")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    if matches!(cli.command, Command::Run(_) | Command::Worker(_)) {
        metrics::install();
    }
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Check(args) => check::check(args).await,
            Command::Tail(args) => tail::tail(args).await,
            Command::Topics(args) => topics::topics(args),
            Command::Query(args) => query::query(args).await,
            Command::Worker(args) => worker::worker(args).await,
            Command::Connector(args) => client::connector(args).await,
            Command::Completions(args) => manual::completions(args, Cli::command()),
            Command::Man(args) => manual::man(args, Cli::command()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Config(message)) => {
            eprintln!("error: {}", printable_lines(&message));
            ExitCode::from(2)
        }
        Err(CliError::Runtime(error)) => {
            eprintln!("error: {}", printable_lines(&format!("{error:#}")));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn purge_delay_is_the_option_main_sets() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads and sets an option of the allocator.
        unsafe {
            // mimalloc 3 documents 1000 ms as the default of its purge delay: another
            // default here means the option moved in the enum or the library changed.
            assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY), 1000);
            mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
            assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY), PURGE_DELAY_MS);
        }
    }

    #[test]
    fn config_file_is_an_alias_of_config_as_in_confluents_cli() {
        for args in [
            &[
                "spillway",
                "run",
                "--config-file",
                "a.json",
                "--config",
                "b.json",
            ][..],
            &["spillway", "connector", "create", "--config-file", "a.json"],
            &[
                "spillway",
                "connector",
                "validate",
                "--config-file",
                "a.json",
            ],
        ] {
            assert!(Cli::try_parse_from(args).is_ok(), "{args:?}");
        }
        assert!(Cli::try_parse_from(["spillway", "run", "--config-files", "a.json"]).is_err());
    }
}
