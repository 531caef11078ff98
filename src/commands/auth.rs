//! `auth login|status|logout|token`. Only `login` is interactive (it may open a browser);
//! every line it prints describes state, never a token, except `auth token`.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{self, LoginOptions};
use crate::cli::{AuthCommand, LoginArgs};
use crate::config::ServerConfig;
use crate::events::{AuthPrompt, Event};
use crate::exit::{Code, Failure, Kind};
use crate::report;

use super::App;

/// How long `auth login` waits for the browser when `--timeout` is not given.
const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn auth(app: &App, command: &AuthCommand) -> anyhow::Result<Code> {
    match command {
        AuthCommand::Login(args) => login(app, args).await,
        AuthCommand::Status { names } => {
            let servers = &with_selected(app, names);
            let names: Vec<String> = if servers.is_empty() {
                app.config.selected_names(&app.selected)?
            } else {
                servers.clone()
            };
            for name in names {
                let server = app.config.server(&name)?;
                app.output
                    .emit(&Event::Auth(auth::describe(&server, &app.context.store)?))?;
            }
            Ok(Code::Success)
        }
        AuthCommand::Logout {
            names,
            forget_client,
        } => {
            for server in oauth_servers(app, &with_selected(app, names))? {
                let revoked = auth::logout(&server, &app.context.store, *forget_client).await?;
                forget_lists(app, &server);
                let mut status = auth::describe(&server, &app.context.store)?;
                status.revoked = Some(revoked);
                app.output.emit(&Event::Auth(status))?;
            }
            Ok(Code::Success)
        }
        AuthCommand::Token { server } => {
            let server = app.config.server(server)?;
            if !auth::uses_oauth(server.auth_type) {
                return Err(Failure::usage(format!(
                    "MCP server `{}` does not use OAuth (auth_type: oauth, client_credentials, enterprise_managed or jwt_bearer); its secret is in the config",
                    server.name
                ))
                .into());
            }
            let token = auth::access_token(&server, &app.context.store).await?;
            app.output
                .write_unmasked(printable_token(&server, &token)?)?;
            Ok(Code::Success)
        }
    }
}

/// `auth token` prints the token raw: scripts use it as is, so neutralising it would print a
/// different, broken token. One with a character an access token cannot have (RFC 6749
/// appendix A.12: visible ASCII and space only), a control character above all, is refused
/// instead of reaching the terminal.
fn printable_token<'a>(server: &ServerConfig, token: &'a str) -> Result<&'a str, Failure> {
    if token.chars().all(|c| matches!(c, ' '..='~')) {
        return Ok(token);
    }
    Err(Failure::new(
        Kind::Auth,
        format!(
            "the access token stored for MCP server `{}` contains characters a token cannot have (control or non-ASCII characters); not printing it",
            server.name
        ),
    )
    .hint(format!("log in again: mcpchat auth login {}", server.name)))
}

/// The server's private cached lists belong to the account that fetched them: a login or a
/// logout starts them afresh.
fn forget_lists(app: &App, server: &ServerConfig) {
    let key = crate::cache::Key::of(server, &app.context.store);
    app.context.cache.forget_private(&key);
}

/// `auth login [NAME...]`: one server after another; with several, a failed one is reported
/// and the others go on (the exit code is the worst).
async fn login(app: &App, args: &LoginArgs) -> anyhow::Result<Code> {
    let servers = oauth_servers(app, &with_selected(app, &args.names))?;
    let output = app.output.clone();
    let options = LoginOptions {
        open_browser: !args.no_browser,
        device: args.device,
        timeout: app.config.request_timeout.unwrap_or(DEFAULT_LOGIN_TIMEOUT),
        prompt: Arc::new(move |prompt: &AuthPrompt| {
            report::device_prompt(prompt);
            // A closed stdout must not stop the login: the prompt is on stderr too.
            let _ = output.emit(&Event::AuthPrompt(prompt.clone()));
        }),
    };
    let mut worst = Code::Success;
    let mut last = None;
    for server in &servers {
        let http = app.context.http_for(server.ca_file.as_deref())?;
        match auth::login(server, &app.context.store, &http, &options).await {
            Ok(()) => {
                forget_lists(app, server);
                report::notice(&format!("logged in to MCP server `{}`", server.name));
                app.output
                    .emit(&Event::Auth(auth::describe(server, &app.context.store)?))?;
            }
            Err(failure) => {
                worst = worst.max(failure.code());
                if servers.len() > 1 {
                    report::error(&failure);
                }
                last = Some(failure);
            }
        }
    }
    match last {
        Some(failure) if servers.len() == 1 => Err(failure.into()),
        _ => Ok(worst),
    }
}

/// Servers named after the subcommand, else those chosen with the global `--server`.
fn with_selected(app: &App, names: &[String]) -> Vec<String> {
    if names.is_empty() {
        app.selected.clone()
    } else {
        names.to_vec()
    }
}

/// The named servers, or every enabled server with OAuth when none is named.
fn oauth_servers(app: &App, names: &[String]) -> Result<Vec<Arc<ServerConfig>>, Failure> {
    let oauth_like = |s: &ServerConfig| auth::uses_oauth(s.auth_type);
    if !names.is_empty() {
        return names
            .iter()
            .map(|name| {
                let server = app.config.server(name)?;
                if !oauth_like(&server) {
                    return Err(Failure::usage(format!(
                        "MCP server `{name}` does not use OAuth; set `auth_type: oauth` (or client_credentials, jwt_bearer, enterprise_managed) in the config"
                    )));
                }
                Ok(server)
            })
            .collect();
    }
    let mut servers = Vec::new();
    for selected in app.config.select(&app.selected)? {
        if let Ok(server) = selected.server
            && oauth_like(&server)
        {
            servers.push(server);
        }
    }
    if servers.is_empty() {
        return Err(Failure::usage(
            "no configured MCP server uses OAuth (auth_type: oauth, client_credentials, enterprise_managed or jwt_bearer)",
        ));
    }
    Ok(servers)
}
