//! The batch's progress bar: each request counted as done however its task ends, and the
//! total known ahead only when stdin is a regular file that can be counted and rewound.

/// Counts a request as done however its task ends.
pub(super) struct IncOnDrop(pub indicatif::ProgressBar);

impl Drop for IncOnDrop {
    fn drop(&mut self) {
        self.0.inc(1);
    }
}

/// How many requests a batch has, when stdin is a regular file (`< requests.jsonl`): counted
/// ahead through a duplicate of the descriptor, then rewound, so the bar can show done/total.
/// None for a pipe, which can be read only once.
pub(super) fn requests_in_stdin_file(shard: Option<crate::cli::Shard>) -> Option<u64> {
    use std::io::{BufRead, Seek, SeekFrom};
    let fd = std::os::fd::AsFd::as_fd(&std::io::stdin())
        .try_clone_to_owned()
        .ok()?;
    let mut file = std::fs::File::from(fd);
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let start = file.stream_position().ok()?;
    let mut count = 0u64;
    for (number, line) in std::io::BufReader::new(&mut file).split(b'\n').enumerate() {
        let line = line.ok()?;
        if shard.is_none_or(|shard| shard.owns(number)) && !line.trim_ascii().is_empty() {
            count += 1;
        }
    }
    // The duplicate shares the offset with stdin: put it back where reading starts.
    file.seek(SeekFrom::Start(start)).ok()?;
    Some(count)
}
