//! Shell completions (`hongbao completions SHELL`, clap_complete) and man
//! pages (`hongbao man DIR`, clap_mangen, run by `cargo xtask man`).

use crate::app::AppError;
use crate::cli::Cli;
use crate::exit;
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

/// Prints the completion script for `shell` on stdout.
pub fn print(shell: clap_complete::Shell) -> Result<u8, AppError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "hongbao", &mut script);
    crate::output::stdout().write_all(&script)?;
    Ok(exit::OK)
}

/// Writes `hongbao.1` and one page per subcommand (`hongbao-batch-run.1`…)
/// into `dir`, creating it if needed; prints the paths written.
pub fn man_pages(dir: &Path) -> Result<u8, AppError> {
    std::fs::create_dir_all(dir)?;
    let command = Cli::command();
    let mut written = Vec::new();
    write_pages(&command, "hongbao", dir, &mut written)?;
    let mut out = crate::output::stdout();
    for path in written {
        writeln!(out, "{}", path.display())?;
    }
    Ok(exit::OK)
}

fn write_pages(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<std::path::PathBuf>,
) -> Result<(), AppError> {
    if command.is_hide_set() {
        return Ok(());
    }
    let command = command.clone().display_name(name.to_owned());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page)?;
    written.push(path);
    for sub in command.get_subcommands() {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
