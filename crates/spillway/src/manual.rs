//! `spillway completions SHELL` and `spillway man`: shell completions and man pages,
//! generated from the CLI definition itself, so they list every subcommand and flag the
//! binary takes.

use crate::CliError;
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write `spillway.1` and a page per subcommand (`spillway-run.1`,
    /// `spillway-connector-create.1`, ...) into this directory instead of printing
    /// `spillway.1`.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` (bash: `source <(spillway completions bash)`).
pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> Result<(), CliError> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "spillway", &mut out);
    write_stdout(&out)
}

/// Prints `spillway.1`, or writes every page into `args.dir`.
pub fn man(args: ManArgs, command: clap::Command) -> Result<(), CliError> {
    match args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .context("cannot render the man page")?;
            write_stdout(&out)
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            // Pages are documentation, readable by everyone (the process umask is 077).
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
            {
                let path = entry.context("cannot list the man pages")?.path();
                if path.extension().is_some_and(|e| e == "1") {
                    set_readable(&path)?;
                }
            }
            Ok(())
        }
    }
}

fn set_readable(path: &std::path::Path) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("cannot make {} readable", path.display()))?;
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // A closed pipe (`| head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("cannot write to stdout")?),
    }
}
