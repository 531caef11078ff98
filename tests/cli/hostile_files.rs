//! Files are written without following links (issue 21, class 4): a symbolic link planted
//! where mcpchat writes (a session file, the `.last` pointer, `-o` in a shared directory)
//! never sends our bytes to its target, and a session file others could read is made 0600.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_symlink()
}

/// A file another user would want: its content and mode must survive every test.
fn victim(env: &TestEnv) -> std::path::PathBuf {
    let victim = env.write("victim.txt", "precious\n");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    victim
}

fn assert_untouched(victim: &Path) {
    assert_eq!(std::fs::read_to_string(victim).unwrap(), "precious\n");
    assert_eq!(mode(victim), 0o644);
}

#[test]
fn a_session_path_that_is_a_symlink_is_refused_with_exit_2_and_its_target_untouched() {
    let env = TestEnv::new();
    let victim = victim(&env);
    let link = env.path("chat.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let log = env.path("requests.jsonl");
    let llm = fault_llm("no_required", &[("FAULT_LLM_LOG", log.to_str().unwrap())]);
    let output = ask(&env, &llm)
        .args(["--session", "./chat.jsonl", "hello"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: session file ./chat.jsonl is a symbolic link; mcpchat does not follow \
         links to conversation files\nhint: pass the path of the file itself, or remove the link\n"
    );
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "result");
    assert_eq!(lines[0]["error"]["kind"], "usage");
    assert_eq!(lines[0]["error"]["exit_code"], 2);
    assert_untouched(&victim);
    assert!(is_link(&link));
    assert_eq!(logged_bodies(&log).len(), 0, "the model was asked");
}

#[test]
fn a_dangling_symlink_at_the_session_path_creates_nothing() {
    let env = TestEnv::new();
    let target = env.path("planted-target.jsonl");
    let link = env.path("chat.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let llm = fault_llm("no_required", &[]);
    let output = ask(&env, &llm)
        .args(["--session", "./chat.jsonl", "hello"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).starts_with(
            "mcpchat: error: session file ./chat.jsonl is a symbolic link; mcpchat does not follow"
        ),
        "{}",
        stderr_of(&output)
    );
    assert!(!target.exists(), "created through the dangling link");
    assert!(is_link(&link));
}

#[test]
fn a_session_file_others_can_read_is_made_0600_and_continued() {
    let env = TestEnv::new();
    let llm = fault_llm("no_required", &[]);
    let first = ask(&env, &llm)
        .args(["--session", "./chat.jsonl", "hello"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr_of(&first));
    let file = env.path("chat.jsonl");
    assert_eq!(mode(&file), 0o600);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let second = ask(&env, &llm)
        .args(["--session", "./chat.jsonl", "again"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", stderr_of(&second));
    let lines = lines(&second.stdout);
    let result: &Value = lines.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["turn"], 2);
    assert_eq!(mode(&file), 0o600);
}

#[test]
fn a_symlink_planted_at_the_last_session_pointer_is_replaced_not_written_through() {
    let env = TestEnv::new();
    let victim = victim(&env);
    let sessions = env.home().join(".local/share/mcpchat/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    std::fs::set_permissions(&sessions, std::fs::Permissions::from_mode(0o700)).unwrap();
    let last = sessions.join(".last");
    std::os::unix::fs::symlink(&victim, &last).unwrap();
    let llm = fault_llm("no_required", &[]);
    let output = ask(&env, &llm)
        .args(["--session", "named", "hello"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_untouched(&victim);
    assert!(!is_link(&last));
    assert_eq!(mode(&last), 0o600);
    assert_eq!(
        std::fs::read_to_string(&last).unwrap(),
        sessions.join("named.jsonl").to_str().unwrap()
    );
    let mut names: Vec<String> = std::fs::read_dir(&sessions)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![".last", "named.jsonl"],
        "a temporary file was left"
    );
}

const DOC: &str = "demo://resource/static/document/features.md";

fn read_to(env: &TestEnv, out: &Path) -> std::process::Output {
    env.cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args(["resources", "read", DOC, "-o", out.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn resources_read_o_refuses_a_symlink_in_a_directory_others_can_write_to() {
    let env = TestEnv::new();
    let victim = victim(&env);
    let shared = env.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = shared.join("out.md");
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    let output = read_to(&env, &out);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: {} is a symbolic link in a directory others can write to; mcpchat \
             does not write through it\nhint: pass the path of the file itself, or write into \
             a directory only you can change\n",
            out.display()
        )
    );
    assert_untouched(&victim);
}

#[test]
fn resources_read_o_follows_a_symlink_the_user_made_in_a_private_directory() {
    let env = TestEnv::new();
    let own = env.path("own");
    std::fs::create_dir(&own).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o700)).unwrap();
    let target = env.write("target.md", "old\n");
    let out = own.join("out.md");
    std::os::unix::fs::symlink(&target, &out).unwrap();
    let output = read_to(&env, &out);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(is_link(&out));
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.starts_with('#'), "{written}");
}
