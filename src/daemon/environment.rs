//! The environment a kept server is started with: the environment of the command that
//! asked for it (then the server's `env:`), as a direct start gives it, and which of its
//! variables make the server another one (its key).
//!
//! Guarantees: the server gets exactly that (the daemon starts it with a cleared
//! environment, `mcp::Context::clear_env`): nothing of the daemon's own environment; a
//! server only ever shares a process with commands whose environment is the same but for
//! the variables [`UNKEYED`] names, which a shell changes between commands without changing
//! what a server does; a variable whose name or value is not UTF-8 is not passed on.

/// Variables left out of the key: a shell's bookkeeping (`_` is the last command, `PWD`
/// and `OLDPWD` follow `cd`, whose directory is keyed on its own, `SHLVL` the nesting) and
/// mcpchat's own settings (`MCPCHAT_*`, e.g. `MCPCHAT_KEEP_ALIVE`), which a server does not
/// read. The server gets the values of the command that started it.
const UNKEYED: &[&str] = &["_", "PWD", "OLDPWD", "SHLVL"];

/// This command's environment, sorted by name.
pub fn of_this_command() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    vars.sort();
    vars
}

/// The variables that identify the server, in order.
pub fn keyed(environment: &[(String, String)]) -> Vec<&(String, String)> {
    environment
        .iter()
        .filter(|(name, _)| !UNKEYED.contains(&name.as_str()) && !name.starts_with("MCPCHAT_"))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_shells_bookkeeping_and_mcpchats_own_settings_are_not_keyed() {
        let vars: Vec<(String, String)> = [
            ("HOME", "/h"),
            ("MCPCHAT_KEEP_ALIVE", "1"),
            ("OLDPWD", "/a"),
            ("PWD", "/b"),
            ("SHLVL", "2"),
            ("TOKEN", "x"),
            ("_", "/usr/bin/mcpchat"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let names: Vec<&str> = keyed(&vars).iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["HOME", "TOKEN"]);
    }
}
