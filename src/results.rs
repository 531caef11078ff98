//! Binary and large results on their way to stdout (`--save-dir`, `--max-output-chars`, and
//! the placeholder on a terminal). Works on a line's JSON just before it is written, so every
//! command that prints content (tool results, resource contents, prompt messages, `ask`)
//! gets the same treatment, and a line nobody asked to change stays byte for byte as before.
//!
//! Guarantees: base64 (`data` of image and audio blocks, `blob` of resources) never reaches a
//! terminal, nor does any other string of more than [`LONG_BASE64`] characters that is strict
//! base64 (in `structured_content`, `_meta`, fields no revision defines): see [`Shaping::sweep`];
//! saved files are named by the SHA-256 of their bytes with an extension from a
//! fixed table (nothing a server sends picks a path), written 0600 through an exclusively
//! created temporary file (no link is followed), and a file already there under that name
//! with those bytes is reused. A leaf module.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What to do to content before it is printed; built only when there is something to do.
#[derive(Debug, Clone)]
pub struct Shaping {
    /// `--save-dir`, absolute: binary content (and cut text) is written here.
    save_dir: Option<PathBuf>,
    /// `--max-output-chars`: longer `text` fields are cut to this many characters.
    max_chars: Option<usize>,
    /// stdout is a terminal: base64 that is not saved is replaced by a placeholder.
    terminal: bool,
}

impl Shaping {
    /// None when the lines go out unchanged (piped stdout without either flag).
    pub fn new(
        save_dir: Option<PathBuf>,
        max_chars: Option<usize>,
        terminal: bool,
    ) -> Option<Shaping> {
        (save_dir.is_some() || max_chars.is_some() || terminal).then_some(Shaping {
            save_dir,
            max_chars,
            terminal,
        })
    }

    /// Reshape one stdout line (an event as JSON); lines without content are left alone.
    pub fn apply(&self, line: &mut Value) {
        let Some(object) = line.as_object_mut() else {
            return;
        };
        let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
        let (blocks, top_text) = match kind {
            "tool_result" => ("content", true),
            "prompt_result" => ("messages", true),
            "resource_contents" | "resource_updated" => ("contents", false),
            _ => return,
        };
        // A resource written with `-o` already carries no base64.
        if kind == "resource_contents" && object.get("file").is_some_and(|f| !f.is_null()) {
            return;
        }
        if let Some(blocks) = object.get_mut(blocks) {
            self.walk(blocks);
        }
        if let Some(structured) = object.get_mut("structured_content") {
            self.sweep(structured);
        }
        if top_text {
            self.cut(object, "text", None);
        }
    }

    /// Content blocks, resource contents and prompt messages, wherever they nest.
    fn walk(&self, value: &mut Value) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(|item| self.walk(item)),
            Value::Object(object) => self.block(object),
            _ => {}
        }
    }

    /// One object: binary data saved or replaced, text cut, nested content visited.
    fn block(&self, object: &mut Map<String, Value>) {
        let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
        let binary = matches!(kind, "image" | "audio") && object.get("data").is_some();
        // Text blocks, and the text of resource contents (which carry a `uri`).
        let text = kind == "text" || object.contains_key("uri");
        if binary {
            self.binary(object, "data");
        } else if object.get("blob").is_some_and(Value::is_string) {
            self.binary(object, "blob");
        }
        if text {
            let mime = object
                .get("mimeType")
                .and_then(Value::as_str)
                .map(str::to_string);
            self.cut(object, "text", mime.as_deref());
        }
        for nested in ["resource", "content"] {
            if let Some(value) = object.get_mut(nested) {
                self.walk(value);
            }
        }
        // `_meta` and fields we do not know: what is left once the known ones were shaped.
        // The text is people's words, cut by --max-output-chars, never taken for base64.
        for (key, value) in object.iter_mut() {
            if !matches!(key.as_str(), "text" | "resource" | "content") {
                self.sweep(value);
            }
        }
    }

    /// Every string in `value` longer than [`LONG_BASE64`] characters that is strict base64:
    /// with a save dir, saved and replaced by the file's path; else on a terminal replaced by
    /// a placeholder saying its size; else left as sent. A string stays a string, so a
    /// structured result keeps its shape (though not a `contentEncoding` its schema names).
    fn sweep(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Some(replacement) = self.long_base64(text) {
                    *text = replacement;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.sweep(item)),
            Value::Object(object) => object.values_mut().for_each(|item| self.sweep(item)),
            _ => {}
        }
    }

    /// What replaces `text` when it is long strict base64; None to leave it.
    fn long_base64(&self, text: &str) -> Option<String> {
        if self.save_dir.is_none() && !self.terminal {
            return None;
        }
        let bytes = strict_base64(text)?;
        if let Some(dir) = &self.save_dir {
            match save(dir, &bytes, sniffed_extension(&bytes)) {
                Ok(path) => return Some(path),
                Err(error) => tracing::warn!("cannot save base64 from a result: {error}"),
            }
        }
        self.terminal.then(|| {
            format!(
                "[base64 left out by mcpchat: {} bytes; --save-dir DIR saves it, a pipe prints it]",
                bytes.len()
            )
        })
    }

    /// With a save dir: an image, audio or resource object's base64 saved, and `path`,
    /// `mime_type`, `bytes` in its place; None without a save dir or when it cannot be saved.
    pub fn save_binary(&self, object: &mut Map<String, Value>) -> Option<()> {
        self.save_dir.as_ref()?;
        let key = if object.contains_key("blob") {
            "blob"
        } else {
            "data"
        };
        self.binary(object, key);
        object.contains_key("path").then_some(())
    }

    /// Base64 in `key`: saved to a file (`path`, `mime_type`, `bytes` in its place), else on
    /// a terminal replaced by `<key>_omitted` (its size in bytes), else left as sent.
    fn binary(&self, object: &mut Map<String, Value>, key: &str) {
        let Some(encoded) = object.get(key).and_then(Value::as_str) else {
            return;
        };
        let decoded = decode(encoded);
        let size = decoded.as_ref().map_or(encoded.len(), Vec::len) as u64;
        let mime = object
            .get("mimeType")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(dir) = &self.save_dir {
            let saved = match &decoded {
                Some(bytes) => save(dir, bytes, extension(mime.as_deref(), "bin")),
                None => Err(format!("`{key}` is not valid base64")),
            };
            match saved {
                Ok(path) => {
                    object.remove(key);
                    object.insert("path".into(), Value::String(path));
                    object.insert("mime_type".into(), mime.map_or(Value::Null, Value::String));
                    object.insert("bytes".into(), Value::from(size));
                    return;
                }
                Err(error) => {
                    object.insert("save_error".into(), Value::String(error));
                }
            }
        }
        if self.terminal {
            object.remove(key);
            object.insert(format!("{key}_omitted"), Value::from(size));
        }
    }

    /// Cut the string in `key` to `max_chars` characters with a marker saying how much was
    /// shown; `<key>_chars` gets its whole length and, with a save dir, `<key>_path` the file
    /// holding all of it.
    fn cut(&self, object: &mut Map<String, Value>, key: &str, mime: Option<&str>) {
        let Some(max) = self.max_chars else {
            return;
        };
        let Some(text) = object.get(key).and_then(Value::as_str) else {
            return;
        };
        let Some((end, total)) = cut_point(text, max) else {
            return;
        };
        let saved = self
            .save_dir
            .as_ref()
            .map(|dir| save(dir, text.as_bytes(), extension(mime, "txt")));
        let mut shown = text[..end].to_string();
        shown.push_str(&cut_marker(
            max,
            total,
            saved.as_ref().and_then(|s| s.as_ref().ok()),
        ));
        object.insert(key.into(), Value::String(shown));
        object.insert(format!("{key}_chars"), Value::from(total as u64));
        match saved {
            Some(Ok(path)) => {
                object.insert(format!("{key}_path"), Value::String(path));
            }
            Some(Err(error)) => {
                object.insert("save_error".into(), Value::String(error));
            }
            None => {}
        }
    }

    /// `--format text`: a result's text cut like its JSON line's `text`, the full text saved
    /// when there is a save dir.
    pub fn cut_text(&self, text: &str) -> String {
        let mut object = Map::new();
        object.insert("text".into(), Value::String(text.to_string()));
        self.cut(&mut object, "text", None);
        match object.remove("text") {
            Some(Value::String(text)) => text,
            _ => text.to_string(),
        }
    }
}

/// The byte offset where the first `max` characters end, and the number of characters, when
/// `text` has more than `max`.
fn cut_point(text: &str, max: usize) -> Option<(usize, usize)> {
    let end = text.char_indices().nth(max).map(|(at, _)| at)?;
    Some((end, text.chars().count()))
}

/// What follows a cut text: `[cut by mcpchat: 100 of 5000 characters shown; full text in PATH]`.
fn cut_marker(max: usize, total: usize, path: Option<&String>) -> String {
    match path {
        Some(path) => {
            format!("\n[cut by mcpchat: {max} of {total} characters shown; full text in {path}]")
        }
        None => format!("\n[cut by mcpchat: {max} of {total} characters shown]"),
    }
}

/// Base64 as servers send it: standard alphabet, padding, possibly wrapped in lines.
fn decode(encoded: &str) -> Option<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD;
    engine.decode(encoded.trim()).ok().or_else(|| {
        let compact: String = encoded.split_ascii_whitespace().collect();
        engine.decode(compact).ok()
    })
}

/// Strings longer than this that are strict base64 are never printed on a terminal (issue #24:
/// "no base64 longer than 200 characters reaches a terminal").
pub const LONG_BASE64: usize = 200;

/// The bytes of `text` when it is longer than [`LONG_BASE64`] and strict base64: the standard
/// alphabet, padded to a multiple of 4, no whitespace, and it decodes. A long run of letters
/// and digits of the right length also passes: it is then taken for base64.
fn strict_base64(text: &str) -> Option<Vec<u8>> {
    if text.len() <= LONG_BASE64 || !text.len().is_multiple_of(4) {
        return None;
    }
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// An extension for bytes without a MIME type, from the first bytes of a few common formats.
fn sniffed_extension(bytes: &[u8]) -> &'static str {
    const SIGNATURES: [(&[u8], &str); 5] = [
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"\xff\xd8\xff", "jpg"),
        (b"GIF8", "gif"),
        (b"%PDF-", "pdf"),
        (b"PK\x03\x04", "zip"),
    ];
    // RIFF holds both WAV and WebP: the form type follows the length.
    match (bytes.get(..4), bytes.get(8..12)) {
        (Some(b"RIFF"), Some(b"WAVE")) => return "wav",
        (Some(b"RIFF"), Some(b"WEBP")) => return "webp",
        _ => {}
    }
    SIGNATURES
        .iter()
        .find(|(signature, _)| bytes.starts_with(signature))
        .map_or("bin", |(_, ext)| ext)
}

/// Write `bytes` to `DIR/<sha256>.<ext>`, or reuse the regular file already there with the
/// same bytes; the path written, or why not.
fn save(dir: &Path, bytes: &[u8], ext: &str) -> Result<String, String> {
    let hash = hex(&Sha256::digest(bytes));
    let path = dir.join(format!("{hash}.{ext}"));
    if !already_saved(&path, bytes) {
        crate::private_file::write(&path, bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(path.display().to_string())
}

/// A regular file (not a link) at `path` holding exactly `bytes`: saved by an earlier call.
fn already_saved(path: &Path, bytes: &[u8]) -> bool {
    let regular = std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.file_type().is_file() && m.len() == bytes.len() as u64);
    // The name is the hash, but the file could have been changed since: compare the bytes.
    regular && std::fs::read(path).is_ok_and(|existing| existing == bytes)
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The file extension for a MIME type (parameters and case ignored), `fallback` for one not
/// in the table.
pub fn extension<'a>(mime: Option<&str>, fallback: &'a str) -> &'a str {
    let Some(mime) = mime else {
        return fallback;
    };
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/svg+xml" => "svg",
        "image/bmp" => "bmp",
        "image/tiff" => "tiff",
        "image/avif" => "avif",
        "image/x-icon" | "image/vnd.microsoft.icon" => "ico",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/ogg" => "ogg",
        "audio/flac" => "flac",
        "audio/aac" => "aac",
        "audio/mp4" => "m4a",
        "audio/webm" | "video/webm" => "webm",
        "video/mp4" => "mp4",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "application/gzip" => "gz",
        "application/json" => "json",
        "application/xml" | "text/xml" => "xml",
        "text/plain" => "txt",
        "text/markdown" => "md",
        "text/html" => "html",
        "text/csv" => "csv",
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn shaping(dir: Option<&Path>, max: Option<usize>, terminal: bool) -> Shaping {
        Shaping {
            save_dir: dir.map(Path::to_path_buf),
            max_chars: max,
            terminal,
        }
    }

    #[test]
    fn a_terminal_gets_sizes_instead_of_base64_and_a_pipe_gets_the_line_unchanged() {
        let line = json!({"type": "tool_result", "content": [
            {"type": "image", "data": "AAAA", "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "x:y", "blob": "AAE=", "mimeType": "a/b"}},
            {"type": "text", "text": "hi"},
        ], "text": "hi"});
        let mut shaped = line.clone();
        shaping(None, None, true).apply(&mut shaped);
        assert_eq!(
            shaped,
            json!({"type": "tool_result", "content": [
                {"type": "image", "mimeType": "image/png", "data_omitted": 3},
                {"type": "resource", "resource": {"uri": "x:y", "mimeType": "a/b", "blob_omitted": 2}},
                {"type": "text", "text": "hi"},
            ], "text": "hi"})
        );
        assert!(Shaping::new(None, None, false).is_none());
    }

    #[test]
    fn saved_content_is_named_by_its_hash_and_reused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let shaping = shaping(Some(dir.path()), None, false);
        let mut line = json!({"type": "resource_contents", "contents": [
            {"uri": "x:y", "blob": "aGVsbG8=", "mimeType": "application/pdf; x=1"},
        ]});
        shaping.apply(&mut line);
        let path = dir
            .path()
            .join("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.pdf");
        assert_eq!(
            line["contents"][0],
            json!({"uri": "x:y", "mimeType": "application/pdf; x=1",
                   "path": path.display().to_string(), "mime_type": "application/pdf; x=1", "bytes": 5})
        );
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"hello");
        // A link planted under the name is replaced, not written through.
        let target = dir.path().join("target");
        std::fs::write(&target, b"mine").unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&target, &path).unwrap_or_else(|e| panic!("{e}"));
        let mut again = json!({"type": "resource_updated", "contents": [
            {"uri": "x:y", "blob": "aGVsbG8=", "mimeType": "application/pdf"},
        ]});
        shaping.apply(&mut again);
        assert_eq!(std::fs::read(&target).unwrap_or_default(), b"mine");
        assert!(
            std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()),
            "the link was replaced by the file"
        );
    }

    #[test]
    fn long_text_is_cut_at_max_characters_with_a_marker() {
        let mut line = json!({"type": "prompt_result", "messages": [
            {"role": "user", "content": {"type": "text", "text": "héllo wörld"}},
        ], "text": "héllo wörld"});
        shaping(None, Some(5), false).apply(&mut line);
        let cut = "héllo\n[cut by mcpchat: 5 of 11 characters shown]";
        assert_eq!(line["text"], cut);
        assert_eq!(line["text_chars"], 11);
        assert_eq!(line["messages"][0]["content"]["text"], cut);
        let mut short = json!({"type": "tool_result", "content": [], "text": "héllo"});
        shaping(None, Some(5), false).apply(&mut short);
        assert_eq!(
            short,
            json!({"type": "tool_result", "content": [], "text": "héllo"})
        );
    }

    #[test]
    fn long_strict_base64_anywhere_else_is_left_out_on_a_terminal_and_kept_in_a_pipe() {
        let long = "QUJD".repeat(60); // 240 characters, 180 bytes of "ABC"
        let line = json!({"type": "tool_result", "text": "", "content": [
            {"type": "text", "text": long, "_meta": {"thumb": long}, "x": [long, "aGVsbG8="]},
        ], "structured_content": {"a": {"b": [long]}, "word": "A".repeat(241), "spaced": "QUJD ".repeat(60)}});
        let placeholder =
            "[base64 left out by mcpchat: 180 bytes; --save-dir DIR saves it, a pipe prints it]";
        let mut shaped = line.clone();
        shaping(None, None, true).apply(&mut shaped);
        assert_eq!(
            shaped,
            json!({"type": "tool_result", "text": "", "content": [
                {"type": "text", "text": long, "_meta": {"thumb": placeholder}, "x": [placeholder, "aGVsbG8="]},
            ], "structured_content": {"a": {"b": [placeholder]}, "word": "A".repeat(241), "spaced": "QUJD ".repeat(60)}})
        );
        let mut piped = line.clone();
        shaping(None, Some(1000), false).apply(&mut piped);
        assert_eq!(piped, line);
    }

    #[test]
    fn bytes_without_a_mime_type_get_an_extension_from_their_signature() {
        assert_eq!(sniffed_extension(b"\x89PNG\r\n\x1a\nrest"), "png");
        assert_eq!(sniffed_extension(b"RIFF\0\0\0\0WAVEfmt "), "wav");
        assert_eq!(sniffed_extension(b"RIFF\0\0\0\0WEBPVP8 "), "webp");
        assert_eq!(sniffed_extension(b"RIFF\0\0\0\0AVI "), "bin");
        assert_eq!(sniffed_extension(b"%PDF-1.4"), "pdf");
        assert_eq!(sniffed_extension(b""), "bin");
    }

    #[test]
    fn extensions_come_from_a_fixed_table() {
        assert_eq!(extension(Some("IMAGE/PNG"), "bin"), "png");
        assert_eq!(extension(Some("audio/wav"), "bin"), "wav");
        assert_eq!(extension(Some("../../etc/passwd"), "bin"), "bin");
        assert_eq!(extension(None, "txt"), "txt");
    }
}
