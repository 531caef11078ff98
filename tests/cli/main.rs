//! End-to-end tests of the `mcpchat` binary against real MCP peers and in-repo fakes.
//! Every stdout line read here is validated against `schema/events.schema.json`.

mod support;

mod ask;
mod auth;
mod config;
mod faults;
mod hostile;
mod interrupt;
mod legacy;
mod output;
mod processes;
mod prompts;
mod recipes;
mod sampling;
mod secrets;
mod sessions;
mod shards_and_progress;
mod shell;
mod tasks;
mod tool_choice;
mod tools_batch;
mod tools_call;
mod tools_list;
