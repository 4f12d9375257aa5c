//! `fwsign completions SHELL` and `fwsign man`: shell completions and man
//! pages generated from the clap definitions the parser itself uses, so what
//! they offer is exactly what `fwsign` accepts.

use std::path::Path;

use clap::CommandFactory;
use fwsign_keys::atomic_write::{Mode, write_atomic};

use crate::args::{Cli, ShellArg};
use crate::failure::Failure;
use crate::output::Output;

/// Prints the completion script for `shell` on stdout.
pub(crate) fn completions(shell: ShellArg) -> Result<(), Failure> {
    let shell = match shell {
        ShellArg::Bash => clap_complete::Shell::Bash,
        ShellArg::Zsh => clap_complete::Shell::Zsh,
        ShellArg::Fish => clap_complete::Shell::Fish,
        ShellArg::Powershell => clap_complete::Shell::PowerShell,
        ShellArg::Elvish => clap_complete::Shell::Elvish,
    };
    let mut command = Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut command, "fwsign", &mut text);
    print_stdout(&text)
}

/// Writes `fwsign.1` and one page per subcommand (`fwsign-repo-add.1`, ...)
/// into `out_dir`, or prints the top-level page when there is none.
pub(crate) fn man(out_dir: Option<&Path>, out: &Output) -> Result<(), Failure> {
    let command = Cli::command();
    let Some(dir) = out_dir else {
        return print_stdout(&render(&command)?);
    };
    std::fs::create_dir_all(dir).map_err(|e| Failure::io(format!("{}: {e}", dir.display())))?;
    let mut pages = Vec::new();
    collect(&command, "fwsign", &mut pages)?;
    for (name, page) in &pages {
        let path = dir.join(format!("{name}.1"));
        write_atomic(&path, page, Mode::Public)
            .map_err(|e| Failure::io(format!("{}: {e}", path.display())))?;
    }
    out.say(format!(
        "wrote {} man pages into {}",
        pages.len(),
        dir.display()
    ));
    out.result(&serde_json::json!({
        "ok": true,
        "dir": dir,
        "pages": pages.iter().map(|(name, _)| format!("{name}.1")).collect::<Vec<_>>(),
    }));
    Ok(())
}

/// The page of `command` under `name`, then its subcommands' pages, depth
/// first (`fwsign-repo`, `fwsign-repo-add`, ...); `help` is clap's own.
fn collect(
    command: &clap::Command,
    name: &str,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), Failure> {
    let command = command.clone().name(name.to_owned());
    pages.push((name.to_owned(), render(&command)?));
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        collect(sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}

fn render(command: &clap::Command) -> Result<Vec<u8>, Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(|e| Failure::io(format!("rendering the man page: {e}")))?;
    Ok(page)
}

/// Writes to stdout; a reader that stopped early (`| head`) is not an
/// error, as for any Unix filter.
fn print_stdout(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::io(format!("stdout: {e}")))
        }
        _ => Ok(()),
    }
}
