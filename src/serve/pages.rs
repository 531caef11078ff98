//! Merged pagination: `serve`'s list answers page where an upstream pages. One answer holds
//! the upstreams' lists in config order up to and including the first upstream that has
//! more (its page), and the cursor says where to go on: that upstream and its own cursor
//! (opaque to the host: base64 of a small JSON object). When no upstream pages, the first
//! answer holds every list, as before.
//!
//! Guarantees: a host that follows the cursors gets every item once, in config order; a
//! cursor that is not one of ours is refused with -32602 (invalid params); a first page is
//! taken from the list cache when it has a fresh list, as every other list is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::join_all;
use rmcp::ErrorData;
use serde::{Deserialize, Serialize};

use crate::exit::Failure;
use crate::mcp::Session;

/// Where a host's paged list goes on: upstream `u` (its index), at its cursor `c`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub u: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<String>,
}

impl Position {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The position a host's cursor names (the start without one).
    pub fn decode(cursor: Option<&str>) -> Result<Position, ErrorData> {
        let Some(cursor) = cursor else {
            return Ok(Position { u: 0, c: None });
        };
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| ErrorData::invalid_params(format!("unknown cursor `{cursor}`"), None))
    }
}

/// One upstream's part of a merged page: its index, its name, and its page (or failure).
pub type Part<T> = (usize, String, Result<(Vec<T>, Option<String>), Failure>);

/// The pages of the live upstreams from `at` on (`page` fetches one: the upstream and its
/// cursor). The upstream at `at` is asked first: when it has more, the others are not asked
/// yet; else the rest are asked at once.
pub async fn fetch<'a, T, F, Fut>(
    live: impl Iterator<Item = (usize, &'a Session)>,
    at: &Position,
    page: F,
) -> Vec<Part<T>>
where
    F: Fn(&'a Session, Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), Failure>>,
{
    let mut wanted: Vec<(usize, &Session)> = live.filter(|(index, _)| *index >= at.u).collect();
    let mut parts = Vec::new();
    if let Some(&(index, session)) = wanted.first()
        && index == at.u
    {
        let fetched = page(session, at.c.clone()).await;
        let more = matches!(&fetched, Ok((_, Some(_))));
        parts.push((index, session.name().to_string(), fetched));
        if more {
            return parts;
        }
        wanted.remove(0);
    }
    let rest = wanted.into_iter().map(|(index, session)| {
        let fetched = page(session, None);
        async move { (index, session.name().to_string(), fetched.await) }
    });
    parts.extend(join_all(rest).await);
    parts
}

/// A part kept for the host's page, with whether it is its upstream's first page.
pub type Kept<T> = (usize, bool, Part<T>);

/// Cut the fetched parts at the first upstream that has more: the parts kept (with whether
/// each was its upstream's first page) and the host's next position.
pub fn cut<T>(parts: Vec<Part<T>>, at: &Position) -> (Vec<Kept<T>>, Option<Position>) {
    let mut kept = Vec::new();
    for part in parts {
        let (index, _, fetched) = &part;
        let index = *index;
        let first = index != at.u || at.c.is_none();
        let next = fetched.as_ref().ok().and_then(|(_, next)| next.clone());
        kept.push((index, first, part));
        if let Some(next) = next {
            return (
                kept,
                Some(Position {
                    u: index,
                    c: Some(next),
                }),
            );
        }
    }
    (kept, None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_goes_round_trip_and_a_foreign_one_is_refused() {
        let at = Position {
            u: 2,
            c: Some("their cursor".into()),
        };
        assert_eq!(Position::decode(Some(&at.encode())).unwrap(), at);
        assert_eq!(Position::decode(None).unwrap(), Position { u: 0, c: None });
        let refused = Position::decode(Some("not-ours")).unwrap_err();
        assert_eq!(refused.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    }

    #[test]
    fn a_page_ends_with_the_first_upstream_that_has_more() {
        let part = |index: usize, items: Vec<u8>, next: Option<&str>| -> Part<u8> {
            (
                index,
                format!("s{index}"),
                Ok((items, next.map(str::to_string))),
            )
        };
        let at = Position { u: 0, c: None };
        let parts = vec![
            part(0, vec![1], None),
            part(1, vec![2], Some("p2")),
            part(2, vec![3], None),
        ];
        let (kept, next) = cut(parts, &at);
        let indexes: Vec<usize> = kept.iter().map(|(index, _, _)| *index).collect();
        assert_eq!(indexes, [0, 1]);
        assert_eq!(
            next,
            Some(Position {
                u: 1,
                c: Some("p2".into())
            })
        );
        let resumed = Position {
            u: 1,
            c: Some("p2".into()),
        };
        let (kept, next) = cut(
            vec![part(1, vec![4], None), part(2, vec![3], None)],
            &resumed,
        );
        let firsts: Vec<bool> = kept.iter().map(|(_, first, _)| *first).collect();
        assert_eq!(firsts, [false, true]);
        assert_eq!(next, None);
    }
}
