#!/usr/bin/env python3
"""Times the tool step of `mcpchat ask` runs (bench/run's `ask` item).

    python3 bench/ask_step.py --reset URL --runs N --warmup W --calls K --out FILE -- CMD ARGS...

Before each run it POSTs URL (fakellm's /_fakellm/reset, so the rules' `turn` starts at 1). It
reads the command's JSON Lines as they arrive (mcpchat flushes each line) and takes the step
time as the span from the first `tool_call` line of step 1 (printed before the call runs) to the
last `tool_result` line (printed when a call finishes). Also records each run's wall time.
Checks that the run succeeded with K tool calls. Writes {"step": [s...], "wall": [s...]}.
"""

import argparse
import json
import subprocess
import sys
import time
import urllib.request


def one_run(reset_url, cmd, calls):
    urllib.request.urlopen(urllib.request.Request(reset_url, data=b"", method="POST"), timeout=10).read()
    started = time.monotonic()
    first_call = last_result = None
    results = 0
    final = None
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) as proc:
        for raw in proc.stdout:
            now = time.monotonic()
            event = json.loads(raw)
            kind = event.get("type")
            if kind == "tool_call" and event.get("step") == 1 and first_call is None:
                first_call = now
            elif kind == "tool_result":
                last_result = now
                results += 1
                if event.get("is_error"):
                    sys.exit(f"ask_step: a tool call failed: {event.get('text')}")
            elif kind == "result":
                final = event
        code = proc.wait()
    wall = time.monotonic() - started
    if code != 0 or not final or final.get("status") != "success" or results != calls:
        sys.exit(f"ask_step: bad run (exit {code}, {results} results, want {calls}): {final}")
    return last_result - first_call, wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reset", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    for _ in range(args.warmup):
        one_run(args.reset, cmd, args.calls)
    steps, walls = [], []
    for _ in range(args.runs):
        step, wall = one_run(args.reset, cmd, args.calls)
        steps.append(step)
        walls.append(wall)
    with open(args.out, "w") as f:
        json.dump({"step": steps, "wall": walls}, f)


if __name__ == "__main__":
    main()
