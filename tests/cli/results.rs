//! Binary and large results (docs/results.md): `--save-dir` files named by content hash,
//! the placeholder on a terminal, `--max-output-chars`. Peers: server-everything and
//! tests/fakes/hostile_results.py (fixed binary content).

use std::path::{Path, PathBuf};

use base64::Engine;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sha2::Digest;

use crate::support::*;

fn fake() -> String {
    format!(
        "r=python3 {}",
        repo().join("tests/fakes/hostile_results.py").display()
    )
}

/// Run mcpchat against the fake; exit 0, stdout lines.
fn run(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let output = env
        .cmd()
        .args(["--stdio", &fake()])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    lines(&output.stdout)
}

fn decode(text: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().unwrap())
        .unwrap()
}

/// `DIR/<sha256 of bytes>.<ext>`, as mcpchat names saved files.
fn hashed(dir: &Path, bytes: &[u8], ext: &str) -> PathBuf {
    let hash: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    dir.join(format!("{hash}.{ext}"))
}

/// The save dir as mcpchat prints it (absolute, links resolved).
fn save_dir(env: &TestEnv) -> PathBuf {
    let dir = env.path("saved");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

fn file_type(path: &Path) -> String {
    let output = std::process::Command::new("file")
        .arg("-b")
        .arg(path)
        .output()
        .expect("file(1) is installed");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn piped_stdout_without_flags_keeps_the_base64_as_sent() {
    let env = TestEnv::new();
    let lines = run(&env, &["tools", "call", "shot"]);
    let image = &lines[0]["content"][1];
    assert_eq!(image["mimeType"], "image/png");
    assert!(decode(&image["data"]).starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(
        image.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["type", "data", "mimeType"]
    );
}

#[test]
fn save_dir_writes_images_audio_and_embedded_blobs_byte_equal_to_their_base64() {
    let env = TestEnv::new();
    let dir = save_dir(&env);
    for (tool, index, ext) in [("shot", 1, "png"), ("voice", 0, "wav"), ("doc", 0, "pdf")] {
        let sent = run(&env, &["tools", "call", tool]);
        let saved = run(&env, &["--save-dir", "saved", "tools", "call", tool]);
        let (mut block, field) = match sent[0]["content"][index].get("resource") {
            Some(resource) => (resource.clone(), "blob"),
            None => (sent[0]["content"][index].clone(), "data"),
        };
        let bytes = decode(&block[field]);
        let path = hashed(&dir, &bytes, ext);
        let object = block.as_object_mut().unwrap();
        object.remove(field);
        object.insert("path".into(), json!(path.display().to_string()));
        object.insert("mime_type".into(), object["mimeType"].clone());
        object.insert("bytes".into(), json!(bytes.len()));
        let shown = match field {
            "blob" => &saved[0]["content"][index]["resource"],
            _ => &saved[0]["content"][index],
        };
        assert_eq!(shown, &block, "{tool}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{tool}");
    }
    let png = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .unwrap();
    assert_eq!(
        file_type(&png),
        "PNG image data, 1 x 1, 8-bit/color RGBA, non-interlaced"
    );
}

#[test]
fn server_everything_tiny_image_is_saved_as_a_png_that_file_recognises() {
    let env = TestEnv::new();
    let dir = save_dir(&env);
    let server = format!("everything={}", everything_stdio_cmd());
    let call = |extra: &[&str]| {
        let output = env
            .cmd()
            .args(["--stdio", &server])
            .args(extra)
            .args(["tools", "call", "get-tiny-image"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        lines(&output.stdout).remove(0)
    };
    let sent = call(&[]);
    let saved = call(&["--save-dir", "saved"]);
    let bytes = decode(&sent["content"][1]["data"]);
    let path = hashed(&dir, &bytes, "png");
    assert_eq!(
        saved["content"][1],
        json!({"type": "image", "mimeType": "image/png", "path": path.display().to_string(),
               "mime_type": "image/png", "bytes": bytes.len()})
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(file_type(&path).starts_with("PNG image data, 20 x 20"));
}

#[test]
fn a_blob_resource_is_saved_byte_equal_and_the_file_is_reused_on_the_next_read() {
    let env = TestEnv::new();
    let dir = save_dir(&env);
    let sent = run(&env, &["resources", "read", "blob://fixed"]);
    let bytes = decode(&sent[0]["contents"][0]["blob"]);
    let path = hashed(&dir, &bytes, "png");
    let read = || {
        run(
            &env,
            &["--save-dir", "saved", "resources", "read", "blob://fixed"],
        )
    };
    let first = read();
    assert_eq!(
        first[0]["contents"],
        json!([{"uri": "blob://fixed", "mimeType": "image/png",
                "path": path.display().to_string(), "mime_type": "image/png", "bytes": bytes.len()}])
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = inode(&path);
    assert_eq!(read(), first);
    assert_eq!(inode(&path), before, "the file was not written again");
}

#[test]
fn a_link_planted_at_the_hashed_name_is_replaced_not_written_through() {
    let env = TestEnv::new();
    let dir = save_dir(&env);
    let sent = run(&env, &["resources", "read", "blob://fixed"]);
    let path = hashed(&dir, &decode(&sent[0]["contents"][0]["blob"]), "png");
    let victim = env.write("victim", "precious");
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    run(
        &env,
        &["--save-dir", "saved", "resources", "read", "blob://fixed"],
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_file()
    );
}

#[test]
fn a_mime_type_that_looks_like_a_path_gets_bin_and_bad_base64_is_left_with_an_error() {
    let env = TestEnv::new();
    let dir = save_dir(&env);
    let odd = run(&env, &["--save-dir", "saved", "tools", "call", "odd"]);
    let path = odd[0]["content"][0]["path"].as_str().unwrap();
    assert_eq!(Path::new(path).parent(), Some(dir.as_path()));
    assert!(path.ends_with(".bin"), "{path}");
    let bad = run(&env, &["--save-dir", "saved", "tools", "call", "bad"]);
    assert_eq!(
        bad[0]["content"],
        json!([{"type": "image", "data": "not base64!", "mimeType": "image/png",
                "save_error": "`data` is not valid base64"}])
    );
}

#[test]
fn batch_prompts_and_identical_blocks_share_one_file() {
    let env = TestEnv::new();
    let dir = save_dir(&env);
    let output = env
        .cmd()
        .args([
            "--stdio",
            &fake(),
            "--save-dir",
            "saved",
            "tools",
            "call",
            "--batch",
        ])
        .write_stdin("{\"id\": 1, \"tool\": \"twice\"}\n{\"id\": 2, \"tool\": \"shot\"}\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let prompt = run(&env, &["--save-dir", "saved", "prompts", "get", "pic"]);
    let mut paths: Vec<&Value> = lines
        .iter()
        .flat_map(|l| l["content"].as_array().unwrap())
        .filter(|b| b["type"] == "image")
        .map(|b| &b["path"])
        .collect();
    paths.push(&prompt[0]["messages"][0]["content"]["path"]);
    assert_eq!(paths.len(), 4);
    assert!(paths.iter().all(|p| p == &paths[0]), "{paths:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn max_output_chars_cuts_text_with_a_marker_and_saves_the_whole_text() {
    let env = TestEnv::new();
    let dir = save_dir(&env);
    let whole = format!("é{}", "x".repeat(4999));
    let path = hashed(&dir, whole.as_bytes(), "txt").display().to_string();
    let cut =
        format!("éxxxxxxxxx\n[cut by mcpchat: 10 of 5000 characters shown; full text in {path}]");
    let lines = run(
        &env,
        &[
            "--save-dir",
            "saved",
            "--max-output-chars",
            "10",
            "tools",
            "call",
            "big",
        ],
    );
    assert_eq!(
        lines[0]["content"],
        json!([{"type": "text", "text": cut, "text_chars": 5000, "text_path": path}])
    );
    assert_eq!(lines[0]["text"], json!(cut));
    assert_eq!(lines[0]["text_chars"], 5000);
    assert_eq!(lines[0]["text_path"], json!(path));
    // Structured content is data, not text: printed whole.
    assert_eq!(lines[0]["structured_content"], json!({"text": whole}));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);

    let resource = run(
        &env,
        &["--max-output-chars", "3", "resources", "read", "text://big"],
    );
    assert_eq!(
        resource[0]["contents"],
        json!([{"uri": "text://big", "mimeType": "text/plain",
                "text": "éxx\n[cut by mcpchat: 3 of 5000 characters shown]", "text_chars": 5000}])
    );
}

#[test]
fn a_save_dir_that_cannot_be_created_is_a_usage_error() {
    let env = TestEnv::new();
    env.write("file", "");
    let output = env
        .cmd()
        .args([
            "--stdio",
            &fake(),
            "--save-dir",
            "file/sub",
            "tools",
            "call",
            "shot",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(output.stdout, b"");
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: cannot use --save-dir file/sub: Not a directory (os error 20)\n\
         hint: give a directory you can write to; it is created if missing\n"
    );
}

/// Run `mcpchat ARGS` under `script`, so its stdout is a terminal; what the terminal showed.
fn on_a_terminal(env: &TestEnv, args: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("mcpchat");
    let output = std::process::Command::new("script")
        .args(["-qec", &format!("{} {args}", bin.display()), "terminal.log"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("TERM", "xterm")
        .current_dir(env.cwd())
        .output()
        .expect("script (util-linux) runs a command on a pseudo-terminal");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    std::fs::read_to_string(env.path("terminal.log")).unwrap()
}

/// The longest run of base64 characters in `text`.
fn longest_base64(text: &str) -> usize {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn on_a_terminal_base64_is_replaced_by_its_size() {
    let env = TestEnv::new();
    let everything = format!("--stdio 'everything={}'", everything_stdio_cmd());
    let terminal = on_a_terminal(&env, &format!("{everything} tools call get-tiny-image"));
    let line = terminal
        .lines()
        .find(|l| l.contains("tool_result"))
        .unwrap();
    let result = &lines(line.trim_end_matches('\r').as_bytes())[0];
    assert_eq!(
        result["content"][1],
        json!({"type": "image", "mimeType": "image/png", "data_omitted": 4033})
    );
    assert!(longest_base64(&terminal) < 200, "{terminal}");

    let resource = on_a_terminal(
        &env,
        &format!("--stdio '{}' resources read blob://fixed", fake()),
    );
    let line = resource
        .lines()
        .find(|l| l.contains("resource_contents"))
        .unwrap();
    assert_eq!(
        lines(line.trim_end_matches('\r').as_bytes())[0]["contents"],
        json!([{"uri": "blob://fixed", "mimeType": "image/png", "blob_omitted": 70}])
    );
}

/// tests/fakes/hostile_structured.py as server `s`: long base64 where no `data` says so.
fn structured_fake() -> String {
    format!(
        "s=python3 {}",
        repo().join("tests/fakes/hostile_structured.py").display()
    )
}

/// The fake's BLOB (a PNG signature, then 0..255 repeated; 1,200 bytes) and PDF (600 bytes).
fn blob_and_pdf() -> (Vec<u8>, Vec<u8>) {
    let mut blob = b"\x89PNG\r\n\x1a\n".to_vec();
    blob.extend((0..1192).map(|i| (i % 256) as u8));
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend((0..591).map(|i| (i % 256) as u8));
    (blob, pdf)
}

fn encoded(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The fake's result with `blob` and `pdf` in place of its two payloads.
fn structured_result(blob: &str, pdf: &str) -> (Value, Value) {
    let content = json!([{"type": "text", "text": "see the structured content",
        "_meta": {"thumbnail": blob}, "raw": blob}]);
    let structured = json!({"screenshot": blob, "pages": [{"pdf": pdf}],
        "caption": "a screenshot", "spaced": "words with spaces ".repeat(20), "short": "aGVsbG8="});
    (content, structured)
}

#[test]
fn piped_base64_in_structured_content_meta_and_unknown_fields_stays_as_sent() {
    let env = TestEnv::new();
    let (blob, pdf) = blob_and_pdf();
    let output = env
        .cmd()
        .args(["--stdio", &structured_fake(), "tools", "call", "s__shot"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let result = &lines(&output.stdout)[0];
    let (content, structured) = structured_result(&encoded(&blob), &encoded(&pdf));
    assert_eq!(result["content"], content);
    assert_eq!(result["structured_content"], structured);
}

#[test]
fn save_dir_saves_long_base64_from_structured_content_meta_and_unknown_fields_byte_equal() {
    let env = TestEnv::new();
    let dir = save_dir(&env);
    let (blob, pdf) = blob_and_pdf();
    let output = env
        .cmd()
        .args(["--stdio", &structured_fake(), "--save-dir", "saved"])
        .args(["tools", "call", "s__shot"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let result = &lines(&output.stdout)[0];
    let png = hashed(&dir, &blob, "png");
    let pdf_path = hashed(&dir, &pdf, "pdf");
    let (content, structured) =
        structured_result(&png.display().to_string(), &pdf_path.display().to_string());
    assert_eq!(result["content"], content);
    assert_eq!(result["structured_content"], structured);
    assert_eq!(std::fs::read(&png).unwrap(), blob);
    assert_eq!(std::fs::read(&pdf_path).unwrap(), pdf);
    assert_eq!(file_type(&pdf_path).split(',').next(), Some("PDF document"));
}

#[test]
fn on_a_terminal_long_base64_in_structured_content_meta_and_unknown_fields_is_left_out() {
    let env = TestEnv::new();
    let terminal = on_a_terminal(
        &env,
        &format!("--stdio '{}' tools call shot", structured_fake()),
    );
    let line = terminal
        .lines()
        .find(|l| l.contains("tool_result"))
        .unwrap();
    let result = &lines(line.trim_end_matches('\r').as_bytes())[0];
    let placeholder = |bytes: usize| {
        format!(
            "[base64 left out by mcpchat: {bytes} bytes; --save-dir DIR saves it, a pipe prints it]"
        )
    };
    let (content, structured) = structured_result(&placeholder(1200), &placeholder(600));
    assert_eq!(result["content"], content);
    assert_eq!(result["structured_content"], structured);
    assert!(longest_base64(&terminal) < 200, "{terminal}");
}
