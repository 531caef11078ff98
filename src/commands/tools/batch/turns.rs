//! The order of a batch's lines for each server: each line starts once the line before it
//! for the same server is answered (or its task is gone); lines whose server cannot be told
//! wait for nobody.

use std::collections::HashMap;

use tokio::sync::oneshot;

use crate::commands::App;
use crate::commands::tools::split_name;

/// The server a request line names, when it names one we can tell: the key of its turn.
pub(super) fn server_of(app: &App, line: &str) -> Option<String> {
    let tool = super::lines::tool_of(line)?;
    split_name(app, &tool).ok().map(|(server, _)| server)
}

/// The order of the lines for each server: each line waits for the one before it.
#[derive(Default)]
pub(super) struct Turns {
    /// Per server, what the last line given a turn drops when it is done.
    last: HashMap<String, oneshot::Receiver<()>>,
}

impl Turns {
    /// The turn of the next line for `server` (a line without a known server needs none).
    pub(super) fn next(&mut self, server: Option<String>) -> Turn {
        let Some(server) = server else {
            return Turn::default();
        };
        let (done, finished) = oneshot::channel();
        Turn {
            after: self.last.insert(server, finished),
            done: Some(done),
        }
    }
}

/// A line's place in its server's order: it starts once `after` resolves (the line before it
/// is answered, or its task is gone), and its own `done` is dropped when it is answered.
#[derive(Default)]
pub(super) struct Turn {
    pub after: Option<oneshot::Receiver<()>>,
    pub done: Option<oneshot::Sender<()>>,
}
