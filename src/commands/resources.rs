//! `resources list`, `resources templates` and `resources read`, and which server a URI
//! belongs to: the one that lists it, else one with a matching template, else the only one in
//! play. A URI that another server lists is an input error (exit 2) naming that server.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};
use serde_json::Value;

use crate::cache::ListKind;
use crate::cli::ReadArgs;
use crate::events::{self, Event};
use crate::exit::{Code, Failure, Kind};
use crate::mcp::Session;
use crate::output::Format;
use crate::report;

use super::App;
use super::each::each_server;

pub async fn list(app: &App) -> anyhow::Result<Code> {
    each_server(app, async |session: &Session| {
        let resources = session.list_resources().await?;
        Ok(resources
            .iter()
            .map(|r| Event::Resource(resource_event(session.name(), r)))
            .collect())
    })
    .await
}

pub async fn templates(app: &App) -> anyhow::Result<Code> {
    each_server(app, async |session: &Session| {
        let templates = session.list_resource_templates().await?;
        Ok(templates
            .iter()
            .map(|t| Event::ResourceTemplate(template_event(session.name(), t)))
            .collect())
    })
    .await
}

/// `resources list --cached`: the cached lists, without connecting.
pub fn list_cached(app: &App) -> anyhow::Result<Code> {
    super::cached::list(
        app,
        ListKind::Resources,
        |server, resources: Vec<Resource>| {
            resources
                .iter()
                .map(|r| Event::Resource(resource_event(&server.name, r)))
                .collect()
        },
    )
}

/// `resources templates --cached`: the cached lists, without connecting.
pub fn templates_cached(app: &App) -> anyhow::Result<Code> {
    super::cached::list(
        app,
        ListKind::Templates,
        |server, templates: Vec<ResourceTemplate>| {
            templates
                .iter()
                .map(|t| Event::ResourceTemplate(template_event(&server.name, t)))
                .collect()
        },
    )
}

pub async fn read(app: &App, args: &ReadArgs) -> anyhow::Result<Code> {
    if args.output.is_some() && args.uris.len() > 1 {
        return Err(Failure::usage("-o FILE takes one URI")
            .hint("read each URI with its own -o, or leave -o out for JSON lines")
            .into());
    }
    let mut owners = super::owners::Owners::connect(app, &args.uris).await?;
    let outcome = read_all(app, args, &mut owners).await;
    owners.close().await;
    outcome
}

async fn read_all(
    app: &App,
    args: &ReadArgs,
    owners: &mut super::owners::Owners,
) -> anyhow::Result<Code> {
    for (i, uri) in args.uris.iter().enumerate() {
        let (session, result) = match read_one(owners, i, uri).await {
            Ok(read) => read,
            Err(failure) => return Err(owners.explain(app, uri, failure).await.into()),
        };
        app.context.progress.clear();
        if let Some(path) = &args.output {
            let line = write_file(session.name(), uri, &result, path)?;
            app.output.emit(&Event::ResourceContents(line))?;
        } else if app.output.format() == Format::Text {
            print_text(app, uri, &result)?;
        } else {
            app.output.emit(&Event::ResourceContents(contents_event(
                session.name(),
                uri,
                &result,
            )))?;
        }
    }
    Ok(Code::Success)
}

/// Read the `i`th URI from its server; refused as bad input after a pick from cached lists,
/// from the server the live lists place it on (once).
async fn read_one<'a>(
    owners: &'a mut super::owners::Owners,
    i: usize,
    uri: &str,
) -> Result<(&'a Session, ReadResourceResult), Failure> {
    let first = owners.indices()[i];
    match owners.sessions[first].read_resource(uri).await {
        Ok(result) => Ok((&owners.sessions[first], result)),
        Err(failure) if failure.code() == Code::Usage => match owners.repick(i, uri).await {
            Some(session) => Ok((session, session.read_resource(uri).await?)),
            None => Err(failure),
        },
        Err(failure) => Err(failure),
    }
}

/// `--format text`: text contents as they are; blobs are named on stderr, not printed.
fn print_text(app: &App, uri: &str, result: &ReadResourceResult) -> anyhow::Result<()> {
    for item in &result.contents {
        match item {
            ResourceContents::TextResourceContents { text, .. } => app.output.write_raw(text)?,
            ResourceContents::BlobResourceContents {
                mime_type, blob, ..
            } => {
                report::notice(&format!(
                    "`{uri}` has binary contents ({}, {} bytes) that --format text does not print; use -o FILE",
                    mime_type.as_deref().unwrap_or("no MIME type"),
                    decoded_len(blob)
                ));
            }
            _ => report::notice(&format!(
                "`{uri}` has contents of a kind mcpchat does not know"
            )),
        }
    }
    Ok(())
}

/// Create or truncate `-o FILE`. The path is the user's, so a link the user made there is
/// followed (like `curl -o` or a shell redirection); but in a directory others can write to
/// (`/tmp`), a link at that name may be someone else's trap, so there it is refused
/// (`O_NOFOLLOW`, ELOOP).
fn create_output(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let shared = std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o022 != 0);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if shared {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Write every item of `result`, decoded, to `path` (created or truncated).
fn write_file(
    server: &str,
    uri: &str,
    result: &ReadResourceResult,
    path: &Path,
) -> Result<events::ResourceContents, Failure> {
    let mut bytes = Vec::new();
    let mut items = Vec::new();
    for item in &result.contents {
        let (item_uri, mime_type, data) = match item {
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            } => (uri, mime_type, text.as_bytes().to_vec()),
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => (uri, mime_type, decode_blob(server, uri, blob)?),
            _ => {
                return Err(Failure::new(
                    Kind::Protocol,
                    format!("MCP server `{server}` sent contents of an unknown kind for `{uri}`"),
                ));
            }
        };
        items
            .push(serde_json::json!({"uri": item_uri, "mimeType": mime_type, "bytes": data.len()}));
        bytes.extend_from_slice(&data);
    }
    let written = create_output(path).and_then(|mut file| file.write_all(&bytes));
    written.map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => Failure::usage(format!(
            "{} is a symbolic link in a directory others can write to; mcpchat does not \
             write through it",
            path.display()
        ))
        .hint("pass the path of the file itself, or write into a directory only you can change"),
        _ => Failure::usage(format!(
            "cannot write the contents of `{uri}` to {}: {e}",
            path.display()
        )),
    })?;
    Ok(events::ResourceContents {
        server: server.to_string(),
        uri: uri.to_string(),
        contents: Value::Array(items),
        file: Some(path.display().to_string()),
    })
}

fn decode_blob(server: &str, uri: &str, blob: &str) -> Result<Vec<u8>, Failure> {
    base64::engine::general_purpose::STANDARD
        .decode(blob.trim())
        .map_err(|e| {
            Failure::new(
                Kind::Protocol,
                format!("MCP server `{server}` sent a blob for `{uri}` that is not base64: {e}"),
            )
        })
}

fn decoded_len(blob: &str) -> usize {
    base64::engine::general_purpose::STANDARD
        .decode(blob.trim())
        .map_or(0, |bytes| bytes.len())
}

pub fn contents_event(
    server: &str,
    uri: &str,
    result: &ReadResourceResult,
) -> events::ResourceContents {
    events::ResourceContents {
        server: server.to_string(),
        uri: uri.to_string(),
        contents: serde_json::to_value(&result.contents).unwrap_or(Value::Array(Vec::new())),
        file: None,
    }
}

pub fn resource_event(server: &str, resource: &Resource) -> events::ResourceInfo {
    events::ResourceInfo {
        server: server.to_string(),
        uri: resource.uri.clone(),
        name: resource.name.clone(),
        title: resource.title.clone(),
        description: resource.description.clone(),
        mime_type: resource.mime_type.clone(),
        size: resource.size,
        annotations: annotations(resource.annotations.as_ref()),
    }
}

pub fn template_event(server: &str, template: &ResourceTemplate) -> events::ResourceTemplateInfo {
    events::ResourceTemplateInfo {
        server: server.to_string(),
        uri_template: template.uri_template.clone(),
        name: template.name.clone(),
        title: template.title.clone(),
        description: template.description.clone(),
        mime_type: template.mime_type.clone(),
        annotations: annotations(template.annotations.as_ref()),
    }
}

fn annotations(value: Option<&impl serde::Serialize>) -> Option<Value> {
    value
        .and_then(|a| serde_json::to_value(a).ok())
        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
}

/// `ask --resource`: the prompt with each resource's text attached after it. Binary contents
/// are named with their type and size, not inlined.
pub async fn attach(
    prompt: String,
    slots: &[crate::mcp::lazy::Slot],
    uris: &[String],
) -> Result<String, Failure> {
    if uris.is_empty() {
        return Ok(prompt);
    }
    // Resources are read before the model is asked: wait for the servers to be connected.
    let mut sessions: Vec<&Session> = Vec::new();
    for slot in slots {
        // A server that failed was already reported when the servers were connected.
        if let Ok(session) = slot.session().await {
            sessions.push(session);
        }
    }
    if sessions.is_empty() {
        return Err(
            Failure::usage("--resource needs an MCP server to read from")
                .hint("configure one, or add --url / --stdio"),
        );
    }
    // Picked from cached lists, a server may refuse a URI that has moved: pick once more live.
    let super::owners::Picked { owner, warm } = super::owners::pick(&sessions, uris).await?;
    let mut text = prompt;
    for (uri, &index) in uris.iter().zip(&owner) {
        let (session, result) = match sessions[index].read_resource(uri).await {
            Err(failure) if warm && failure.code() == Code::Usage => {
                let Some(owner) = super::owners::repick(&sessions, uri, index).await else {
                    return Err(failure);
                };
                (sessions[owner], sessions[owner].read_resource(uri).await?)
            }
            result => (sessions[index], result?),
        };
        for item in &result.contents {
            text.push_str("\n\n");
            text.push_str(&attached_text(session.name(), uri, item));
        }
    }
    Ok(text)
}

/// One resource content as the model sees it after the prompt: text inlined, binary named.
/// `asked` is the URI asked for (a content of an unknown kind may carry none).
fn attached_text(server: &str, asked: &str, item: &ResourceContents) -> String {
    match item {
        ResourceContents::TextResourceContents {
            uri,
            mime_type,
            text,
            ..
        } => format!(
            "Resource {uri} (from MCP server {server}, {}):\n{text}",
            mime_type.as_deref().unwrap_or("text")
        ),
        ResourceContents::BlobResourceContents {
            uri,
            mime_type,
            blob,
            ..
        } => format!(
            "Resource {uri} (from MCP server {server}, {}): binary contents of {} bytes, not included.",
            mime_type.as_deref().unwrap_or("no MIME type"),
            decoded_len(blob)
        ),
        _ => format!("Resource {asked}: contents of an unknown kind, not included."),
    }
}
