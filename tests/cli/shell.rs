//! Shell integration: completion scripts that complete from the config without starting any
//! server, the man page, and `--help` that shows a command's own flags first and ends with
//! examples.

use pretty_assertions::assert_eq;

use crate::support::*;

/// A config whose stdio server would leave a file behind if anything started it.
fn config_with_a_tattletale_server(env: &TestEnv) -> String {
    let marker = env.path("started");
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: docs\n    url: http://127.0.0.1:{}/mcp\n  - name: demo\n    command: sh\n    args: [-c, 'touch {}']\n",
            closed_port(),
            marker.display()
        ),
    );
    marker.display().to_string()
}

/// Run bash with the registration script loaded, ask it to complete `words` (the last one
/// being completed), and return the candidates.
fn bash_complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <(\"$MCPCHAT\" completions bash) || exit 9\n\
         COMP_WORDS=({words}); COMP_CWORD={index}; COMP_TYPE=9\n\
         _clap_complete_mcpchat mcpchat '{current}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        index = words.len() - 1,
        current = words[words.len() - 1],
    );
    let output = std::process::Command::new("bash")
        .args(["--norc", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.home().join(".config"))
        .env("MCPCHAT", assert_cmd::cargo::cargo_bin("mcpchat"))
        .current_dir(env.cwd())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completes_server_names_from_the_config_without_starting_a_server() {
    let env = TestEnv::new();
    let marker = config_with_a_tattletale_server(&env);
    assert_eq!(
        bash_complete(&env, &["mcpchat", "--server", ""]),
        ["docs", "demo"]
    );
    assert_eq!(
        bash_complete(&env, &["mcpchat", "auth", "login", "do"]),
        ["docs"]
    );
    assert_eq!(
        bash_complete(&env, &["mcpchat", "tools", "call", "de"]),
        ["demo__"]
    );
    assert!(
        !std::path::Path::new(&marker).exists(),
        "a server was started"
    );
}

#[test]
fn bash_completes_tool_names_from_the_discovery_cache_without_starting_a_server() {
    let env = TestEnv::new();
    let marker = env.path("started");
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: demo\n    command: python3\n    args: ['{demo}']\n  - name: idle\n    command: sh\n    args: [-c, 'touch {marker}']\n",
            demo = repo().join("examples/demo_server.py").display(),
            marker = marker.display()
        ),
    );
    // Before any listing, only the prefixes are known.
    assert_eq!(
        bash_complete(&env, &["mcpchat", "tools", "call", ""])
            .into_iter()
            .filter(|c| !c.starts_with('-'))
            .collect::<Vec<_>>(),
        ["demo__", "idle__"]
    );
    let output = env
        .cmd()
        .args(["--server", "demo", "tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        bash_complete(&env, &["mcpchat", "tools", "call", "demo__"]),
        ["demo__echo", "demo__add", "demo__now", "demo__countdown"]
    );
    assert!(!marker.exists(), "a server was started");
}

#[test]
fn completion_reads_the_config_named_on_the_command_line_being_completed() {
    let env = TestEnv::new();
    env.write(
        "other.yaml",
        "servers:\n  - {name: alpha, url: http://127.0.0.1:9/mcp}\n  - {name: beta, url: http://127.0.0.1:9/mcp}\n",
    );
    assert_eq!(
        bash_complete(&env, &["mcpchat", "-c", "other.yaml", "-s", ""]),
        ["alpha", "beta"]
    );
    assert_eq!(
        bash_complete(
            &env,
            &["mcpchat", "--config=other.yaml", "tools", "call", ""]
        )
        .into_iter()
        .filter(|c| !c.starts_with('-'))
        .collect::<Vec<_>>(),
        ["alpha__", "beta__"]
    );
}

#[test]
fn every_shell_gets_a_script_that_calls_mcpchat_back() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = env.cmd().args(["completions", shell]).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{shell}: {}",
            stderr_of(&output)
        );
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains("MCPCHAT_COMPLETE"), "{shell}: {script}");
        assert!(output.stderr.is_empty(), "{shell}");
    }
    let output = env.cmd().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_man_page_has_a_section_with_the_flags_of_every_command() {
    let env = TestEnv::new();
    let output = env.cmd().arg("man").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.starts_with(".ie \\n(.g .ds Aq \\(aq\n"), "{page}");
    let sections: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with(".SH \"MCPCHAT "))
        .collect();
    assert_eq!(
        sections,
        [
            ".SH \"MCPCHAT TOOLS LIST\"",
            ".SH \"MCPCHAT TOOLS CALL\"",
            ".SH \"MCPCHAT TOOLS SEARCH\"",
            ".SH \"MCPCHAT TOOLS SHOW\"",
            ".SH \"MCPCHAT ASK\"",
            ".SH \"MCPCHAT AUTH LOGIN\"",
            ".SH \"MCPCHAT AUTH STATUS\"",
            ".SH \"MCPCHAT AUTH LOGOUT\"",
            ".SH \"MCPCHAT AUTH TOKEN\"",
            ".SH \"MCPCHAT RESOURCES LIST\"",
            ".SH \"MCPCHAT RESOURCES TEMPLATES\"",
            ".SH \"MCPCHAT RESOURCES READ\"",
            ".SH \"MCPCHAT RESOURCES WATCH\"",
            ".SH \"MCPCHAT SERVERS\"",
            ".SH \"MCPCHAT PING\"",
            ".SH \"MCPCHAT PROMPTS LIST\"",
            ".SH \"MCPCHAT PROMPTS GET\"",
            ".SH \"MCPCHAT COMPLETE\"",
            ".SH \"MCPCHAT TASKS LIST\"",
            ".SH \"MCPCHAT TASKS GET\"",
            ".SH \"MCPCHAT TASKS RESULT\"",
            ".SH \"MCPCHAT TASKS CANCEL\"",
            ".SH \"MCPCHAT SESSIONS LIST\"",
            ".SH \"MCPCHAT SESSIONS SHOW\"",
            ".SH \"MCPCHAT SESSIONS RM\"",
            ".SH \"MCPCHAT SERVE\"",
            ".SH \"MCPCHAT DAEMON START\"",
            ".SH \"MCPCHAT DAEMON STOP\"",
            ".SH \"MCPCHAT DAEMON STATUS\"",
            ".SH \"MCPCHAT DAEMON RESTART\"",
            ".SH \"MCPCHAT SCHEMA\"",
            ".SH \"MCPCHAT CACHE CLEAR\"",
            ".SH \"MCPCHAT COMPLETIONS\"",
            ".SH \"MCPCHAT MAN\"",
        ]
    );
    let call = &page[page.find(".SH \"MCPCHAT TOOLS CALL\"").unwrap()..];
    let call = &call[..call.find(".SH \"MCPCHAT ASK\"").unwrap()];
    assert!(call.contains("\\fB\\-\\-shard\\fR \\fI<K/N>\\fR"), "{call}");
    // Global flags are listed once, at the top, not in every command's section.
    assert!(!call.contains("\\-\\-token\\-store"), "{call}");
    assert_eq!(
        page.matches("\\fB\\-\\-token\\-store\\fR \\fI<PATH>\\fR")
            .count(),
        1
    );
}

#[test]
fn each_command_help_shows_its_own_flags_first_and_ends_with_examples() {
    let env = TestEnv::new();
    let commands: [&[&str]; 28] = [
        &["tools", "list"],
        &["tools", "call"],
        &["tools", "search"],
        &["tools", "show"],
        &["ask"],
        &["auth", "login"],
        &["auth", "status"],
        &["auth", "logout"],
        &["auth", "token"],
        &["resources", "list"],
        &["resources", "templates"],
        &["resources", "read"],
        &["resources", "watch"],
        &["servers"],
        &["prompts", "list"],
        &["prompts", "get"],
        &["complete"],
        &["tasks", "list"],
        &["tasks", "get"],
        &["tasks", "result"],
        &["tasks", "cancel"],
        &["sessions", "list"],
        &["sessions", "show"],
        &["sessions", "rm"],
        &["schema"],
        &["cache", "clear"],
        &["completions"],
        &["man"],
    ];
    for command in commands {
        let output = env.cmd().args(command).arg("--help").output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{command:?}");
        let help = String::from_utf8(output.stdout).unwrap();
        let own = help.find("\nOptions:\n").expect("an Options heading");
        let global = help
            .find("\nGlobal options:\n")
            .expect("a Global options heading");
        assert!(own < global, "{command:?}: {help}");
        let examples = &help[help.find("\nExamples:\n").expect("examples")..];
        let lines: Vec<&str> = examples.lines().skip(2).collect();
        assert!(
            (1..=3).contains(&lines.len()) && lines.iter().all(|l| l.starts_with("  ")),
            "{command:?}: {examples}"
        );
        assert!(
            lines.iter().all(|l| l.contains("mcpchat ")),
            "{command:?}: {examples}"
        );
    }
}

#[test]
fn the_url_flag_says_it_also_finds_legacy_sse_servers() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["tools", "list", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "--url <[NAME=]URL> Ad-hoc HTTP server instead of the config file's servers (repeatable): \
             Streamable HTTP, or a legacy HTTP+SSE server (its /sse URL), found automatically"
        ),
        "{help}"
    );
}
