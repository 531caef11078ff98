//! `tasks`: follow tool calls started with `tools call --task`.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// One `task` line per task the selected servers list
    #[command(after_help = "Examples:\n  mcpchat tasks list | jq -r '.task_id + \" \" + .status'")]
    List,

    /// The current state of a task: one `task` line
    #[command(after_help = "Examples:\n  mcpchat tasks get \"$TASK_ID\" | jq -r .status")]
    Get(TaskIdArgs),

    /// Wait for a task to finish and print its `tool_result` line
    #[command(
        after_help = "Examples:\n  mcpchat tools call --task everything__simulate-research-query -a topic=otters\n  mcpchat tasks result \"$TASK_ID\" | jq -r .text"
    )]
    Result(TaskIdArgs),

    /// Ask the server to cancel a task; prints its `task` line
    #[command(after_help = "Examples:\n  mcpchat tasks cancel \"$TASK_ID\"")]
    Cancel(TaskIdArgs),
}

#[derive(Debug, Args)]
pub struct TaskIdArgs {
    /// The task id from the `task` line (`task_id`)
    pub id: String,
}
