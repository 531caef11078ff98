//! End-to-end tests of the `mcpchat` binary against real MCP peers and in-repo fakes.
//! Every stdout line read here is validated against `schema/events.schema.json`.

mod support;

mod ask;
mod ask_resources;
mod auth;
mod auth_browser;
mod auth_device;
mod auth_dpop;
mod auth_grants;
mod auth_servers;
mod config;
mod faults;
mod hostile;
mod interrupt;
mod legacy;
mod lists_cache;
mod output;
mod processes;
mod prompts;
mod proxy;
mod recipes;
mod resources;
mod resources_owners;
mod resources_watch;
mod sampling;
mod secrets;
mod serve;
mod servers;
mod sessions;
mod shards_and_progress;
mod shell;
mod speed;
mod tasks;
mod tls;
mod tool_choice;
mod tools_batch;
mod tools_call;
mod tools_list;
