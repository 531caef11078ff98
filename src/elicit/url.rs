//! URL-mode elicitation (MCP 2025-11-25): a server asks the user to open a URL (a payment, a
//! third party's login). The URL is shown on stderr only when `links::openable` accepts it
//! (`https:`, or `http:` to loopback), opened only with `--open`, through the same browser
//! path as `auth login`. A `-32042` error ("URL elicitation required") names such URLs too: it
//! is shown as what to open, not as a broken server.

use serde_json::Value;

use crate::exit::{Failure, Kind};
use crate::{links, redact, terminal};

/// Show `url` for the user to open (and open it with `open`); refused with the reason when it
/// is not openable, and then nothing is shown or opened.
pub fn present(server: &str, message: &str, url: &str, open: bool) -> Result<(), String> {
    let url =
        links::openable(url).map_err(|refusal| format!("the URL {refusal}; {}", links::RULE))?;
    let opened = open && links::open_in_browser(&url);
    let how = if opened {
        "Opened in the browser"
    } else {
        "Open in a browser"
    };
    // Registered secrets masked, not credential-shaped text: the URL must stay usable.
    terminal::eprintln_unmasked(&redact::registered(&format!(
        "mcpchat: MCP server `{server}` asks you to open a URL: {message}\n{how}:\n\n  {url}\n"
    )));
    Ok(())
}

/// The failure for a `-32042` error: what to open (the openable URLs of its `elicitations`),
/// then to run the command again. Exit 1: the call did not run, nothing is broken.
pub fn required_failure(server: &str, what: &str, data: Option<&Value>) -> Failure {
    let mut failure = Failure::new(
        Kind::ToolError,
        format!("MCP server `{server}` needs you to open a URL before {what} can run"),
    );
    let elicitations = data
        .and_then(|d| d.get("elicitations"))
        .and_then(Value::as_array);
    for elicitation in elicitations.into_iter().flatten().take(8) {
        let url = elicitation.get("url").and_then(Value::as_str).unwrap_or("");
        let message = elicitation
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("");
        failure = match links::openable(url) {
            Ok(url) => failure.hint(format!("open {url} ({message})")),
            Err(refusal) => failure.hint(format!(
                "not shown: a URL the server named {refusal}; {}",
                links::RULE
            )),
        };
    }
    failure.hint("then run the command again")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_url_required_error_says_what_to_open_and_refuses_other_schemes() {
        let data = json!({"elicitations": [
            {"mode": "url", "url": "https://pay.example/x", "message": "Pay", "elicitationId": "1"},
            {"mode": "url", "url": "file:///etc/passwd", "message": "Look", "elicitationId": "2"}
        ]});
        let failure = required_failure("s", "tools/call `t`", Some(&data));
        assert_eq!(failure.code(), crate::exit::Code::TaskFailed);
        assert_eq!(
            failure.hints,
            vec![
                "open https://pay.example/x (Pay)".to_string(),
                format!(
                    "not shown: a URL the server named has the scheme `file:`; {}",
                    links::RULE
                ),
                "then run the command again".to_string(),
            ]
        );
    }
}
