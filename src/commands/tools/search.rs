//! `tools search QUERY` (tools of every selected server ranked by a fuzzy match of their name,
//! title and description) and `tools show NAME` (one tool, or its signature as text).
//!
//! Both take a server's tools from the cache when its list is fresh, so a warm search starts
//! no server and sends nothing; the others are connected and listed (which fills the cache).
//! Ranking is nucleo's: a query's words must all match; ties go to the better match of the
//! name, then of the title, then to the name in alphabetical order, so the order is stable.

use futures::StreamExt;
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Matcher, Utf32Str};
use rmcp::model::Tool;

use super::{connect_all, exit_for_servers, resolve_name, servers_failure, tool_info};
use crate::cache::{Key, ListKind};
use crate::cli::{SearchArgs, ShowArgs};
use crate::config::ServerConfig;
use crate::events::{Event, ToolInfo};
use crate::exit::{Code, Failure, Kind};
use crate::mcp::Session;
use crate::output::Format;
use crate::report;

use crate::commands::App;

pub async fn search(app: &App, args: &SearchArgs) -> anyhow::Result<Code> {
    let gathered = gather(app).await?;
    let query = args.query.join(" ");
    let ranked = rank(&query, &gathered.tools);
    for (score, index) in ranked.into_iter().take(args.limit as usize) {
        let tool = ToolInfo {
            score: Some(score),
            ..gathered.tools[index].clone()
        };
        app.output.emit(&Event::Tool(tool))?;
    }
    let code = exit_for_servers(gathered.total, &gathered.failures);
    if code != Code::Success {
        return Err(servers_failure(gathered.total, &gathered.failures).into());
    }
    Ok(code)
}

pub async fn show(app: &App, args: &ShowArgs) -> anyhow::Result<Code> {
    let (server, tool) = resolve_name(app, &args.name)?;
    let tools = match cached_tools(app, &server) {
        Some(tools) => tools,
        None => {
            let session = Session::connect(server.clone(), &app.context).await?;
            let listed = session.list_tools().await;
            session.close().await;
            listed?
        }
    };
    let Some(found) = tools.iter().find(|t| t.name == tool) else {
        let failure = match server.tools.permits(&tool) {
            true => Failure::new(
                Kind::UnknownTool,
                format!("MCP server `{}` has no tool `{tool}`", server.name),
            ),
            false => Failure::new(
                Kind::ToolDenied,
                format!(
                    "tool `{tool}` of MCP server `{}` is not allowed by the config's `tools` allow/deny lists",
                    server.name
                ),
            ),
        };
        return Err(failure
            .hint(format!(
                "`mcpchat tools search {tool}` finds tools by name and description"
            ))
            .into());
    };
    let info = tool_info(&server.name, found);
    match app.output.format() {
        Format::Text => app.output.write_line(&super::signature::render(&info))?,
        Format::Json => app.output.emit(&Event::Tool(info))?,
    }
    Ok(Code::Success)
}

/// The tools of every selected server, and the servers that failed (each already reported
/// with an `error` line).
struct Gathered {
    tools: Vec<ToolInfo>,
    failures: Vec<(bool, Failure)>,
    total: usize,
}

/// Cached lists where fresh, live ones (all at once) for the rest.
async fn gather(app: &App) -> anyhow::Result<Gathered> {
    let selected = app.config.select(&app.selected)?;
    let total = selected.len();
    let mut tools = Vec::new();
    let mut live = Vec::new();
    for selected in selected {
        let cached = selected
            .server
            .as_ref()
            .ok()
            .and_then(|server| cached_tools(app, server).map(|tools| (server.clone(), tools)));
        match cached {
            Some((server, cached)) => {
                tools.extend(cached.iter().map(|tool| tool_info(&server.name, tool)));
            }
            None => live.push(selected),
        }
    }
    let mut pending = connect_all(app, live);
    let mut failures = Vec::new();
    let mut sessions = Vec::new();
    while let Some((name, required, result)) = pending.next().await {
        match result {
            Ok((session, listed)) => {
                tools.extend(listed.iter().map(|tool| tool_info(&name, tool)));
                sessions.push(session);
            }
            Err(failure) => {
                if total > 1 {
                    report::warning(&failure);
                }
                app.output
                    .emit(&Event::Error(super::server_error(&name, &failure)))?;
                failures.push((required, failure));
            }
        }
    }
    futures::future::join_all(sessions.into_iter().map(Session::close)).await;
    Ok(Gathered {
        tools,
        failures,
        total,
    })
}

/// A server's fresh cached tools list (None without one, or with `--refresh`/`--no-cache`),
/// filtered by the config's allow/deny lists like a live one.
fn cached_tools(app: &App, server: &ServerConfig) -> Option<Vec<Tool>> {
    let key = Key::of(server, &app.context.store);
    let tools: Vec<Tool> = app.context.cache.list(&key, ListKind::Tools)?;
    Some(
        tools
            .into_iter()
            .filter(|tool| server.tools.permits(&tool.name))
            .collect(),
    )
}

/// The tools that match `query`, best first: (score, index into `tools`).
fn rank(query: &str, tools: &[ToolInfo]) -> Vec<(u32, usize)> {
    let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
    let mut matcher = Matcher::new(nucleo_matcher::Config::DEFAULT);
    let mut buffer = Vec::new();
    let mut score = |text: &str| pattern.score(Utf32Str::new(text, &mut buffer), &mut matcher);
    let mut ranked: Vec<(u32, Option<u32>, Option<u32>, usize)> = Vec::new();
    for (index, tool) in tools.iter().enumerate() {
        let title = tool.title.as_deref().unwrap_or("");
        let description = tool.description.as_deref().unwrap_or("");
        // All three in one text, so that a query's words may match in different fields.
        let Some(whole) = score(&format!("{} {title} {description}", tool.name)) else {
            continue;
        };
        ranked.push((whole, score(&tool.name), score(title), index));
    }
    ranked.sort_by(|a, b| {
        (b.0, b.1, b.2)
            .cmp(&(a.0, a.1, a.2))
            .then_with(|| tools[a.3].name.cmp(&tools[b.3].name))
    });
    ranked
        .into_iter()
        .map(|(whole, _, _, index)| (whole, index))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str, title: &str, description: &str) -> ToolInfo {
        ToolInfo {
            server: "s".into(),
            name: format!("s__{name}"),
            tool: name.into(),
            title: Some(title.into()),
            description: Some(description.into()),
            input_schema: json!({"type": "object"}),
            output_schema: None,
            annotations: None,
            score: None,
        }
    }

    #[test]
    fn names_rank_before_descriptions_and_every_word_must_match() {
        let tools = [
            tool(
                "list_directory",
                "List directory",
                "Get a listing of all files.",
            ),
            tool("write_file", "Write file", "Create a new file."),
            tool("read_file", "Read file", "Read the contents of a file."),
            tool("get_weather", "Weather", "Current weather for a city."),
        ];
        let names = |query: &str| -> Vec<&str> {
            rank(query, &tools)
                .into_iter()
                .map(|(_, i)| tools[i].tool.as_str())
                .collect()
        };
        assert_eq!(names("file"), ["read_file", "write_file", "list_directory"]);
        assert_eq!(names("read file"), ["read_file"]);
        assert_eq!(names("weather city"), ["get_weather"]);
        assert!(names("zzz").is_empty());
    }
}
