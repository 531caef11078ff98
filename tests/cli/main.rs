//! End-to-end tests of the `mcpchat` binary against real MCP peers and in-repo fakes.
//! Every stdout line read here is validated against `schema/events.schema.json`.

mod support;

mod ask;
mod ask_resources;
mod auth;
mod config;
mod faults;
mod interrupt;
mod legacy;
mod output;
mod processes;
mod resources;
mod resources_owners;
mod resources_watch;
mod sampling;
mod secrets;
mod servers;
mod sessions;
mod tool_choice;
mod tools_batch;
mod tools_call;
mod tools_list;
