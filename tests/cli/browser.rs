//! The real browser server (`@playwright/mcp`, driving Debian's chromium): a batch keeps its
//! state from line to line (navigate, then snapshot sees the page), and a screenshot with only
//! `type` given works (the schema's required-with-default `scale` is filled).

use pretty_assertions::assert_eq;

use crate::support::*;

/// The `--stdio` value for the browser server, writing its files into the test's home.
fn browser_server(env: &TestEnv) -> String {
    format!(
        "browser=node {} --headless --isolated --no-sandbox --executable-path /usr/bin/chromium --output-dir {}",
        peers()
            .join("browser/node_modules/@playwright/mcp/cli.js")
            .display(),
        env.path("browser-output").display()
    )
}

fn chromium_installed() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Debian's chromium: apt-get install chromium (or MCPCHAT_TEST_SKIP=browser)"
    );
}

#[test]
fn a_batch_navigates_then_snapshots_the_same_page() {
    if skipped("browser") {
        return;
    }
    chromium_installed();
    let env = TestEnv::new();
    let url = serve_page(
        "<html><head><title>Batch order</title></head><body><h1>Hello from the batch</h1></body></html>",
    );
    let input = format!(
        "{{\"id\": 1, \"tool\": \"browser__browser_navigate\", \"arguments\": {{\"url\": \"{url}\"}}}}\n\
         {{\"id\": 2, \"tool\": \"browser__browser_snapshot\", \"arguments\": {{}}}}\n"
    );
    let output = env
        .cmd()
        .args(["--stdio", &browser_server(&env), "tools", "call", "--batch"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let ids: Vec<_> = lines.iter().map(|l| l["id"].as_i64()).collect();
    assert_eq!(ids, [Some(1), Some(2)]);
    for line in &lines {
        assert_eq!(line["type"], "tool_result", "{line}");
        assert_eq!(line["is_error"], false, "{line}");
    }
    let snapshot = lines[1]["text"].as_str().unwrap();
    assert!(snapshot.contains("Hello from the batch"), "{snapshot}");
}

#[test]
fn a_screenshot_with_only_its_type_is_taken() {
    if skipped("browser") {
        return;
    }
    chromium_installed();
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &browser_server(&env), "tools", "call"])
        .args(["browser__browser_take_screenshot", r#"{"type":"png"}"#])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["is_error"], false, "{}", lines[0]);
    let images: Vec<_> = lines[0]["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|block| block["type"] == "image")
        .map(|block| block["mimeType"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(images, ["image/png"], "{}", lines[0]);
}
