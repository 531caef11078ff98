//! What the protocol offers once a transport is up, one feature per file: `lists` (tools,
//! prompts, resources, templates; live or cached) read by `lenient` and followed by
//! `paginate`, `resources`, `prompts` (and completion), `tasks` + `task_fields`, `handler`
//! (what a server sends on its own: progress, logs, elicitation, roots) and `sampling` (its
//! requests for a completion), `forward` (one request relayed as it is, for `serve`),
//! `inventory` (what `servers` shows of a live server), `wire` (the Streamable HTTP layer that
//! answers from the cache and watches for `list_changed`).

pub(super) mod forward;
pub(super) mod handler;
pub(super) mod inventory;
pub mod lenient;
pub(super) mod lists;
pub mod paginate;
pub(super) mod prompts;
pub(super) mod resources;
pub mod sampling;
pub(super) mod task_fields;
pub(super) mod tasks;
pub(super) mod wire;
