//! Following a list's pagination cursors, for every list mcpchat makes (tools, resources,
//! prompts, templates): one request per page until the server sends no `nextCursor`.
//!
//! Guarantee: a cursor the server already sent ends the listing at once with a protocol error
//! (a server stuck on one page would otherwise be asked again and again until the timeout).

use std::collections::HashSet;

use crate::exit::{Failure, Kind};
use crate::redact;

/// All items of a paginated list. `page` fetches one page for a cursor (None: the first) and
/// returns its items and the next cursor.
pub async fn all_pages<T, F, Fut>(
    server: &str,
    method: &str,
    mut page: F,
) -> Result<Vec<T>, Failure>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), Failure>>,
{
    let mut seen: HashSet<String> = HashSet::new();
    let mut items = Vec::new();
    let mut cursor = None;
    let mut pages = 0usize;
    loop {
        let (mut batch, next) = page(cursor.take()).await?;
        pages += 1;
        items.append(&mut batch);
        match next {
            None => return Ok(items),
            Some(next) if !seen.insert(next.clone()) => {
                return Err(Failure::new(
                    Kind::Protocol,
                    format!(
                        "MCP server `{server}` sent the {method} cursor `{}` a second time (after {pages} pages); stopped instead of looping",
                        redact::text(&next)
                    ),
                ));
            }
            Some(next) => cursor = Some(next),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn follows_cursors_to_the_end() {
        let items = all_pages("s", "tools/list", |cursor| async move {
            Ok(match cursor.as_deref() {
                None => (vec![1], Some("a".to_string())),
                Some("a") => (vec![2], Some("b".to_string())),
                _ => (vec![3], None),
            })
        })
        .await
        .unwrap();
        assert_eq!(items, [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_repeated_cursor_stops_after_the_first_repeat() {
        let mut requests = 0;
        let failure = all_pages("s", "tools/list", |_| {
            requests += 1;
            async { Ok((vec![0], Some("same".to_string()))) }
        })
        .await
        .unwrap_err();
        assert_eq!(requests, 2);
        assert_eq!(failure.kind, Kind::Protocol);
        assert_eq!(
            failure.message,
            "MCP server `s` sent the tools/list cursor `same` a second time (after 2 pages); stopped instead of looping"
        );
    }
}
