//! Answers carried by `tools call --batch` lines (`"answers"`), for the elicitations a server
//! sends while that line's call is in flight. A batch runs the lines of one server one at a
//! time (it refuses `answers` with `--unordered`), so an elicitation from a server belongs to
//! that server's current line. A line's answers come before `--answers`; when they run out,
//! further elicitations of the line are declined. An answer that does not fit the form cancels
//! the elicitation and fails that line alone (exit 2 and the field's JSON path), not the batch.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::exit::Failure;

/// The answers of each server's line in flight, by server name.
#[derive(Debug, Default)]
pub(super) struct LineAnswers {
    by_server: Mutex<HashMap<String, InFlight>>,
}

/// One line's answers, as its call goes.
#[derive(Debug)]
struct InFlight {
    /// The line's number in the batch input, for messages.
    line: usize,
    queue: VecDeque<Map<String, Value>>,
    /// How many were taken, for messages ("answer 2 of the line").
    taken: usize,
    /// Why the line fails: the first answer that did not fit.
    misfit: Option<Failure>,
}

/// What a line has for the next elicitation of its server.
pub(super) enum Next {
    /// The next answer and its number (1-based).
    Answer(usize, Map<String, Value>),
    /// The line's answers ran out (its number).
    Exhausted(usize),
}

impl LineAnswers {
    pub(super) fn begin(&self, server: &str, line: usize, answers: Vec<Map<String, Value>>) {
        let in_flight = InFlight {
            line,
            queue: answers.into(),
            taken: 0,
            misfit: None,
        };
        self.lock().insert(server.to_string(), in_flight);
    }

    /// The line is answered: the failure of an answer that did not fit, if one did not.
    pub(super) fn end(&self, server: &str) -> Option<Failure> {
        self.lock().remove(server)?.misfit
    }

    /// None when `server` has no line with answers in flight.
    pub(super) fn next(&self, server: &str) -> Option<Next> {
        let mut lines = self.lock();
        let line = lines.get_mut(server)?;
        Some(match line.queue.pop_front() {
            Some(answer) => {
                line.taken += 1;
                Next::Answer(line.taken, answer)
            }
            None => Next::Exhausted(line.line),
        })
    }

    /// Fail the line of `server` with `failure` (the first one is kept).
    pub(super) fn misfit(&self, server: &str, failure: Failure) {
        if let Some(line) = self.lock().get_mut(server) {
            line.misfit.get_or_insert(failure);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, InFlight>> {
        self.by_server.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A batch line's `answers`: one object of field values, or an array of them in order.
pub fn parse(value: Value) -> Result<Vec<Map<String, Value>>, String> {
    const WHAT: &str =
        "`answers` must be a JSON object of field values, or an array of such objects";
    match value {
        Value::Object(object) => Ok(vec![object]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(object) => Ok(object),
                _ => Err(WHAT.to_string()),
            })
            .collect(),
        _ => Err(WHAT.to_string()),
    }
}
