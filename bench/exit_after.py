#!/usr/bin/env python3
"""Time from a command's last stdout line to its exit, N runs (issue #23: a direct-mode
command with a stdio server exits <= 50 ms after its result line).

    exit_after.py OUT.json RUNS COMMAND [ARGS...]

Each line is stamped when this process reads it from the pipe (unbuffered), the exit when
waitpid returns; the first run is a warmup and not kept. Writes {"command", "runs": [{"to_last_line",
"to_exit", "after_last_line"}]} in seconds, and fails when a run exits non-zero or prints nothing.
"""
import json
import os
import subprocess
import sys
import time


def one(command):
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    last = None
    pending = b""
    fd = child.stdout.fileno()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        if b"\n" in pending:
            last = time.monotonic()
            pending = pending.rsplit(b"\n", 1)[1]
    # EOF comes when the command (and anything holding its stdout) is gone; waitpid says when
    # the command itself exited.
    code = child.wait()
    end = time.monotonic()
    if code != 0 or last is None:
        sys.exit(f"exit_after: {' '.join(command)}: exit {code}, {'no' if last is None else 'a'} stdout line")
    return {"to_last_line": last - start, "to_exit": end - start, "after_last_line": end - last}


def main():
    out, runs, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    one(command)
    results = [one(command) for _ in range(runs)]
    with open(out, "w") as f:
        json.dump({"command": " ".join(command), "runs": results}, f)


if __name__ == "__main__":
    main()
