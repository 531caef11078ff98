//! Shell integration: `mcpchat completions SHELL` (dynamic completion through clap_complete's
//! engine), the completion callback itself, and `mcpchat man` (one roff page with every
//! subcommand's flags). Completing reads the config file only: it never connects to a server.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{EnvCompleter, Shells};

use crate::cli::{Cli, CompletionShell};
use crate::config::{Config, Overrides};

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

/// Candidates for `--server` and the SERVER arguments of `auth`: the names in the config file
/// mcpchat would use, read without expanding or contacting anything.
pub fn server_candidates() -> Vec<CompletionCandidate> {
    configured_servers()
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// Candidates for the NAME of `tools call`: each server's tools as the discovery cache knows
/// them (no server is contacted), else the server's `server__` prefix.
pub fn tool_candidates() -> Vec<CompletionCandidate> {
    let Some(config) = completion_config() else {
        return Vec::new();
    };
    let cached = CachedTools::open(&config);
    let mut candidates = Vec::new();
    for server in config.server_names() {
        let known = cached
            .as_ref()
            .map(|cached| cached.names(&config, server))
            .unwrap_or_default();
        if known.is_empty() {
            candidates.push(format!("{server}{}", crate::commands::tools::SEPARATOR));
        }
        candidates.extend(known);
    }
    candidates
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// The discovery cache as completion reads it: fresh entries only, never written.
struct CachedTools {
    cache: crate::cache::Cache,
    store: crate::auth::store::TokenStore,
}

impl CachedTools {
    fn open(config: &Config) -> Option<CachedTools> {
        Some(CachedTools {
            cache: crate::cache::Cache::locate(crate::cache::Mode::Normal, config.cache_ttl),
            store: crate::auth::store::TokenStore::locate(None, config.token_store.as_deref())
                .ok()?,
        })
    }

    /// `server__tool` for each cached tool of `server` that its allow/deny globs permit.
    fn names(&self, config: &Config, server: &str) -> Vec<String> {
        let Ok(resolved) = config.server(server) else {
            return Vec::new();
        };
        let key = crate::cache::Key::of(&resolved, &self.store);
        self.cache
            .tools(&key)
            .unwrap_or_default()
            .into_iter()
            .filter(|tool| resolved.tools.permits(&tool.name))
            .map(|tool| format!("{server}{}{}", crate::commands::tools::SEPARATOR, tool.name))
            .collect()
    }
}

fn completion_config() -> Option<Config> {
    let overrides = Overrides {
        config: config_flag(std::env::args_os()),
        ..Overrides::default()
    };
    Config::load(&overrides).ok()
}

fn configured_servers() -> Vec<String> {
    completion_config()
        .map(|config| {
            config
                .server_names()
                .into_iter()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The `--config`/`-c` value on the command line being completed, if any.
fn config_flag(args: impl Iterator<Item = OsString>) -> Option<PathBuf> {
    let args: Vec<OsString> = args.collect();
    let mut found = None;
    for (i, arg) in args.iter().enumerate() {
        let text = arg.to_string_lossy();
        if let Some(value) = text.strip_prefix("--config=") {
            found = Some(PathBuf::from(value));
        } else if (text == "--config" || text == "-c")
            && let Some(value) = args.get(i + 1)
        {
            found = Some(PathBuf::from(value));
        }
    }
    found
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
        if sub.get_name() == "help" {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_config_flag_in_every_spelling() {
        let args = |list: &[&str]| {
            list.iter()
                .map(OsString::from)
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(
            config_flag(args(&["mcpchat", "--", "mcpchat", "-c", "a.yaml", "tools"])),
            Some(PathBuf::from("a.yaml"))
        );
        assert_eq!(
            config_flag(args(&["mcpchat", "--config=b.json", "-s"])),
            Some(PathBuf::from("b.json"))
        );
        assert_eq!(config_flag(args(&["mcpchat", "tools", "list"])), None);
    }
}
