//! The loopback redirect listener: one callback with the right `state`, a small HTML page
//! for the browser; connections are served concurrently (at most 16 at a time, 10 s each).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::exit::{Failure, Kind};

pub(super) struct Callback {
    pub code: String,
    pub issuer: Option<String>,
}

/// Connections served at once: more than a browser opens, few enough that a local process
/// opening many cannot exhaust anything.
const MAX_CONNECTIONS: usize = 16;

/// Serve the loopback redirect until one request carries the expected `state`. Connections
/// are served concurrently, so that idle ones (a browser's speculative connections, or a
/// local process) cannot hold back the real redirect.
pub(super) async fn wait_for_callback(
    listener: &tokio::net::TcpListener,
    state: &str,
) -> Result<Callback, Failure> {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => {
                if let Ok((socket, _)) = accepted {
                    connections.spawn(serve(socket, state.to_string()));
                }
            }
            Some(served) = connections.join_next(), if !connections.is_empty() => {
                if let Ok(Some(outcome)) = served {
                    // Dropping the set ends the other connections.
                    return outcome;
                }
            }
        }
    }
}

/// One connection: its request read within 10 s and answered. `Some` when it ends the
/// login: the code, or the authorization server's refusal.
async fn serve(
    mut socket: tokio::net::TcpStream,
    state: String,
) -> Option<Result<Callback, Failure>> {
    let target = request_target(&mut socket).await?;
    let parsed = url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
    let param = |name: &str| {
        parsed.as_ref().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
    };
    let (status, title, text) = if parsed.as_ref().is_none_or(|u| u.path() != "/callback") {
        (
            404,
            "Not found",
            "This is mcpchat's login callback; nothing here.".to_string(),
        )
    } else if param("state").as_deref() != Some(state.as_str()) {
        tracing::warn!("ignored an authorization callback with a wrong state");
        (400, "Login failed", "The state parameter does not match this login attempt. Start again with `mcpchat auth login`.".to_string())
    } else if let Some(error) = param("error") {
        let description = param("error_description").unwrap_or_default();
        let said = format!("{error} {description}");
        let text = format!("The authorization server said: {said}");
        respond(&mut socket, 400, "Login failed", &text).await;
        return Some(Err(Failure::new(
            Kind::Auth,
            format!("the authorization server refused: {}", said.trim()),
        )));
    } else if let Some(code) = param("code") {
        let text = "mcpchat is logged in. You can close this window and go back to the terminal.";
        respond(&mut socket, 200, "Logged in", text).await;
        return Some(Ok(Callback {
            code,
            issuer: param("iss"),
        }));
    } else {
        (
            400,
            "Login failed",
            "The callback carries no authorization code.".to_string(),
        )
    };
    // Not the callback of this login: answer it; the listener waits for the next request.
    respond(&mut socket, status, title, &text).await;
    None
}

/// The request target (`/callback?code=...`) of one HTTP request, read within 10 s; `None`
/// when the client sends nothing usable in time.
async fn request_target(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 65536 {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .ok()?;
    let head = String::from_utf8_lossy(&buffer);
    Some(
        head.lines()
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .unwrap_or("/")
            .to_string(),
    )
}

pub(super) async fn respond(
    socket: &mut tokio::net::TcpStream,
    status: u16,
    title: &str,
    text: &str,
) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    // The text may carry what the authorization server said: escape it.
    let text = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}
