//! `daemon`: the per-user process that keeps servers alive between commands.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the daemon in the background (nothing happens when it already runs)
    Start,
    /// Stop the daemon and every server it keeps alive
    Stop,
    /// One `daemon_server` line per server the daemon keeps alive
    Status,
    /// Stop the daemon, then start it again
    Restart,
    /// Run the daemon in the foreground (what `start` runs, detached)
    #[command(hide = true)]
    Run,
}
