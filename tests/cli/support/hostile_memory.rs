//! The peers of `tests/fakes/hostile_memory.py`: a stdio server that floods its stderr or
//! answers millions of tiny elements, and a model API whose replies are too big.

use std::process::Command;

use super::{Peer, PortFrom, repo};

/// The `--stdio` command of the hostile stdio server.
pub fn hostile_memory_stdio_cmd() -> String {
    format!(
        "python3 {} stdio",
        repo().join("tests/fakes/hostile_memory.py").display()
    )
}

/// The model API whose every reply is about `bytes` bytes (base URL ends in `/v1`).
pub fn hostile_memory_llm(bytes: usize) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/fakes/hostile_memory.py"))
        .arg("llm")
        .env("HOSTILE_LLM_BYTES", bytes.to_string());
    Peer::spawn(cmd, PortFrom::FirstLine, "/v1")
}
