//! Shell integration: `mcpchat completions SHELL` (dynamic completion through clap_complete's
//! engine), the completion callback itself, and `mcpchat man` (one roff page with every
//! subcommand's flags). The candidates the callback offers are declared with the arguments
//! (`candidates`).

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::env::{EnvCompleter, Shells};

use crate::cli::{Cli, CompletionShell};

/// The variable the registration script sets when it calls mcpchat back to complete.
const COMPLETE_VAR: &str = "MCPCHAT_COMPLETE";

/// Answer a completion request from a shell, if this run is one. Returns true when it was
/// (the candidates are already on stdout).
pub fn complete_if_asked() -> bool {
    if std::env::var_os(COMPLETE_VAR).is_none_or(|v| v.is_empty() || v == "0") {
        return false;
    }
    let current_dir = std::env::current_dir().ok();
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VAR)
        .try_complete(std::env::args_os(), current_dir.as_deref())
        // A failed completion must not print an error into the user's command line.
        .unwrap_or(true)
}

/// The registration script for `shell`: it makes the shell call mcpchat back for candidates.
pub fn registration(shell: CompletionShell) -> anyhow::Result<String> {
    let name = match shell {
        CompletionShell::Bash => "bash",
        CompletionShell::Zsh => "zsh",
        CompletionShell::Fish => "fish",
        CompletionShell::Powershell => "powershell",
        CompletionShell::Elvish => "elvish",
    };
    let shells = Shells::builtins();
    let completer: &dyn EnvCompleter = shells
        .completer(name)
        .ok_or_else(|| anyhow::anyhow!("clap_complete has no completer for {name}"))?;
    let mut script = Vec::new();
    completer.write_registration(
        COMPLETE_VAR,
        "mcpchat",
        "mcpchat",
        &completer_path(),
        &mut script,
    )?;
    Ok(String::from_utf8_lossy(&script).into_owned())
}

/// How the script calls mcpchat back: by name when it was run from $PATH, else by the full
/// path it was run as (so `target/release/mcpchat completions bash` completes with itself).
fn completer_path() -> String {
    let argv0 = std::env::args_os().next().map(PathBuf::from);
    match argv0 {
        Some(path) if path.components().count() > 1 => std::path::absolute(&path)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned(),
        _ => "mcpchat".to_string(),
    }
}

/// The whole man page: the top-level page, then a section per subcommand with its own flags
/// (the global ones are listed once, at the top).
pub fn man_page() -> anyhow::Result<String> {
    let mut command = Cli::command();
    command.build();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    // clap_mangen calls the after-help text EXTRA; ours holds output notes and examples.
    let mut page = String::from_utf8_lossy(&page)
        .replace(".SH EXTRA\n", ".SH NOTES\n")
        .into_bytes();
    for sub in leaves(&command) {
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_string();
        let own = sub.clone().mut_args(|arg| {
            if arg.is_global_set() {
                arg.hide(true)
            } else {
                arg
            }
        });
        let man = clap_mangen::Man::new(own);
        let mut section = Vec::new();
        man.render_description_section(&mut section)?;
        man.render_synopsis_section(&mut section)?;
        man.render_options_section(&mut section)?;
        if sub.get_after_help().is_some() {
            man.render_extra_section(&mut section)?;
        }
        let section = String::from_utf8_lossy(&section)
            .replace(".SH DESCRIPTION\n", "")
            .replace(".SH EXTRA", ".SH EXAMPLES")
            .replace(".SH ", ".SS ");
        page.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        page.extend_from_slice(section.as_bytes());
    }
    Ok(String::from_utf8_lossy(&page).into_owned())
}

/// Every runnable subcommand, depth first (`tools list`, `tools call`, `ask`...).
fn leaves(command: &clap::Command) -> Vec<&clap::Command> {
    let mut found = Vec::new();
    for sub in command.get_subcommands() {
        // Hidden commands (`daemon run`, what `daemon start` runs) are not for people.
        if sub.get_name() == "help" || sub.is_hide_set() {
            continue;
        }
        if sub.has_subcommands() {
            found.extend(leaves(sub));
        } else {
            found.push(sub);
        }
    }
    found
}
