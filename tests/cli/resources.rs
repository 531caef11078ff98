//! `resources list|templates|read` against server-everything (Streamable HTTP and stdio) and
//! the Python SDK peer (stateless JSON HTTP and stdio), alone and together.

use base64::Engine;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

pub(crate) fn everything_docs() -> Vec<String> {
    let dir = node_module("@modelcontextprotocol/server-everything/dist/docs");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| format!("demo://resource/static/document/{n}"))
        .collect()
}

pub(crate) fn run(env: &TestEnv, args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let output = env.cmd().args(args).output().unwrap();
    let stderr = stderr_of(&output);
    (output.status.code(), lines(&output.stdout), stderr)
}

pub(crate) fn uris(lines: &[Value], field: &str) -> Vec<String> {
    lines
        .iter()
        .map(|l| l[field].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn resources_list_prints_every_static_document_of_server_everything_over_http_and_stdio() {
    let env = TestEnv::new();
    let everything = everything_http();
    let http = format!("ev={}", everything.url);
    let stdio = format!("ev={}", everything_stdio_cmd());
    for server in [["--url", http.as_str()], ["--stdio", stdio.as_str()]] {
        let (code, lines, stderr) = run(&env, &[server[0], server[1], "resources", "list"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            lines
                .iter()
                .all(|l| l["type"] == "resource" && l["server"] == "ev")
        );
        let mut listed = uris(&lines, "uri");
        listed.sort();
        assert_eq!(listed, everything_docs());
        let features = lines
            .iter()
            .find(|l| l["uri"] == "demo://resource/static/document/features.md")
            .unwrap();
        assert_eq!(features["name"], "features.md");
        assert_eq!(features["mime_type"], "text/markdown");
    }
}

#[test]
fn resources_templates_lists_the_dynamic_text_and_blob_templates() {
    let env = TestEnv::new();
    let everything = everything_http();
    let (code, lines, stderr) = run(
        &env,
        &[
            "--url",
            &format!("ev={}", everything.url),
            "resources",
            "templates",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        uris(&lines, "uri_template"),
        vec![
            "demo://resource/dynamic/text/{resourceId}",
            "demo://resource/dynamic/blob/{resourceId}"
        ]
    );
    assert!(lines.iter().all(|l| l["type"] == "resource_template"));
}

/// The blob embeds the server's time of day; tests/peers/fixed_clock.cjs pins it, so every
/// read has the same bytes and the `-o` file must equal the JSON read's decoded blob exactly.
#[test]
fn a_blob_read_with_o_writes_exactly_the_base64_decoded_bytes_over_http_and_stdio() {
    let env = TestEnv::new();
    let everything = everything_http_fixed_clock();
    let http = format!("ev={}", everything.url);
    let stdio = format!("ev={}", everything_stdio_fixed_clock_cmd());
    let uri = "demo://resource/dynamic/blob/7";
    let expected: &[u8] = b"Resource 7: This is a base64 blob created at 4:09:20 PM";
    let file = env.path("blob.bin");
    for server in [["--url", http.as_str()], ["--stdio", stdio.as_str()]] {
        let (code, json_lines, stderr) =
            run(&env, &[server[0], server[1], "resources", "read", uri]);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(json_lines.len(), 1);
        let line = &json_lines[0];
        assert_eq!(
            (
                line["type"].as_str(),
                line["server"].as_str(),
                line["uri"].as_str()
            ),
            (Some("resource_contents"), Some("ev"), Some(uri))
        );
        let blob = line["contents"][0]["blob"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .unwrap();
        assert_eq!(decoded, expected);

        let (code, o_lines, stderr) = run(
            &env,
            &[
                server[0],
                server[1],
                "resources",
                "read",
                uri,
                "-o",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(std::fs::read(&file).unwrap(), decoded);
        assert_eq!(
            o_lines,
            vec![
                json!({"type": "resource_contents", "server": "ev", "uri": uri,
                "contents": [{"uri": uri, "mimeType": "text/plain", "bytes": expected.len()}],
                "file": file.to_str().unwrap()})
            ]
        );
    }
}

#[test]
fn the_python_peer_serves_its_resource_template_and_binary_blob_over_stateless_json_http_and_stdio()
{
    let env = TestEnv::new();
    let python = python_http(true);
    let http = format!("py={}", python.url);
    let stdio = format!("py={}", python_stdio_cmd());
    let file = env.path("all.bin");
    for server in [["--url", http.as_str()], ["--stdio", stdio.as_str()]] {
        let (code, lines, stderr) = run(&env, &[server[0], server[1], "resources", "list"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(
            lines,
            vec![
                json!({"type": "resource", "server": "py", "uri": "notes://welcome", "name": "welcome",
                    "title": null, "description": "A fixed greeting.", "mime_type": "text/plain",
                    "size": null, "annotations": null}),
                json!({"type": "resource", "server": "py", "uri": "bytes://all", "name": "all-bytes",
                    "title": null, "description": "Every byte value once.",
                    "mime_type": "application/octet-stream", "size": null, "annotations": null}),
            ]
        );
        let (code, lines, _) = run(&env, &[server[0], server[1], "resources", "templates"]);
        assert_eq!(code, Some(0));
        assert_eq!(uris(&lines, "uri_template"), vec!["notes://{name}"]);

        let (code, lines, stderr) = run(
            &env,
            &[
                server[0],
                server[1],
                "resources",
                "read",
                "notes://welcome",
                "notes://groceries",
            ],
        );
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(
            lines,
            vec![
                json!({"type": "resource_contents", "server": "py", "uri": "notes://welcome",
                    "contents": [{"uri": "notes://welcome", "mimeType": "text/plain",
                        "text": "Welcome to the Python peer.\n"}]}),
                json!({"type": "resource_contents", "server": "py", "uri": "notes://groceries",
                    "contents": [{"uri": "notes://groceries", "mimeType": "text/plain",
                        "text": "Note groceries."}]}),
            ]
        );

        let output = env
            .cmd()
            .args([
                server[0],
                server[1],
                "--format",
                "text",
                "resources",
                "read",
                "notes://welcome",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(output.stdout, b"Welcome to the Python peer.\n");

        let (code, _, stderr) = run(
            &env,
            &[
                server[0],
                server[1],
                "resources",
                "read",
                "bytes://all",
                "-o",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            (0..=255u8).collect::<Vec<u8>>()
        );
    }
}

#[test]
fn a_resource_the_server_does_not_have_is_exit_2_naming_the_uri() {
    let env = TestEnv::new();
    let (code, lines, stderr) = run(
        &env,
        &[
            "--stdio",
            &format!("py={}", python_stdio_cmd()),
            "resources",
            "read",
            "nope://x",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(lines.is_empty());
    assert!(
        stderr.contains("mcpchat: error: MCP server `py` cannot read resource `nope://x`"),
        "{stderr}"
    );
}

#[test]
fn a_tool_result_with_resource_links_keeps_them_as_the_server_sent_them() {
    let env = TestEnv::new();
    let everything = everything_http();
    let (code, lines, stderr) = run(
        &env,
        &[
            "--url",
            &format!("ev={}", everything.url),
            "tools",
            "call",
            "ev__get-resource-links",
            "--arg",
            "count=2",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let content = lines[0]["content"].as_array().unwrap();
    let links: Vec<(&str, &str, &str)> = content
        .iter()
        .filter(|c| c["type"] == "resource_link")
        .map(|c| {
            (
                c["uri"].as_str().unwrap(),
                c["name"].as_str().unwrap(),
                c["mimeType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        links,
        vec![
            (
                "demo://resource/dynamic/blob/1",
                "Blob Resource 1",
                "text/plain"
            ),
            (
                "demo://resource/dynamic/text/2",
                "Text Resource 2",
                "text/plain"
            ),
        ]
    );
    assert_eq!(
        lines[0]["text"],
        "Here are 2 resource links to resources available in this server:"
    );
}
