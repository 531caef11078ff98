//! Issue 21, class 7: the overall bound on one streamed model answer (`--llm-total-timeout`),
//! against a model API whose stream never ends (tests/fakes/fault_llm.py `trickle`: a chunk
//! every 0.1 s, each gap far under the idle timeout).

use pretty_assertions::assert_eq;

use crate::support::*;

#[test]
fn a_model_stream_that_never_ends_is_cut_at_the_total_timeout() {
    let env = TestEnv::new();
    let llm = fault_llm("trickle", &[]);
    let output = env
        .cmd()
        .env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", &llm.url)
        .args([
            "ask",
            "--stream",
            "--llm-timeout",
            "30",
            "--llm-total-timeout",
            "1",
            "hello",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let result = lines.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["kind"], "timeout");
    let said: Vec<String> = stderr_of(&output)
        .lines()
        .filter(|l| l.starts_with("mcpchat: ") || l.starts_with("hint: "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        said,
        [
            format!(
                "mcpchat: error: the model API at {} was still streaming its answer after 1s",
                llm.url
            ),
            "hint: raise the bound with --llm-total-timeout SECS (or llm.total_timeout_secs)"
                .to_string(),
        ]
    );
}

#[test]
fn the_total_timeout_comes_from_the_config_too_and_must_be_positive() {
    let env = TestEnv::new();
    let llm = fault_llm("trickle", &[]);
    env.write(
        "mcp_servers.yaml",
        "servers: []\nllm:\n  total_timeout_secs: 1\n",
    );
    let ask = |extra: &[&str]| {
        env.cmd()
            .env("OPENAI_API_KEY", "sk-test-key-123456")
            .env("OPENAI_BASE_URL", &llm.url)
            .args(["ask", "--stream", "--llm-timeout", "30"])
            .args(extra)
            .arg("hello")
            .output()
            .unwrap()
    };
    let output = ask(&[]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("was still streaming its answer after 1s"),
        "{}",
        stderr_of(&output)
    );
    let output = ask(&["--llm-total-timeout", "0"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains(
            "mcpchat: error: the model API total timeout must be a positive number of seconds"
        ),
        "{}",
        stderr_of(&output)
    );
}
