#!/usr/bin/env python3
"""Where one run's time to the result line goes, from latency_proxy.py's LATENCY_PROXY_TRACE.

    python3 bench/timeline.py TRACE_FILE CMD...    # run CMD once, print its timeline and split

(the proxy must be writing TRACE_FILE; round_trips.py imports `split` for every run it times.)

The time from spawn to the first stdout line is cut into who held the ball:
  - rtt:        the round trips the requests need at least (one per new connection, half an RTT
                per piece of data each way; overlapping pieces count once);
  - proxy:      the proxy's relaying over that minimum (thread wake-ups, its own handshake);
  - server:     from a request's delivery to the server until the server's reply reached the
                proxy (per exchange too: `exchanges`);
  - startup:    the client, from spawn to its first connection;
  - turnaround: the client, from a reply's delivery to its next request, and from the last
                reply to the result line.
A stretch where nothing is in the proxy is the server's when the next thing that happens is
data from the server, and the client's otherwise. Every part is in seconds; they add up to
`to_result`.
"""

import json
import subprocess
import sys
import time


def load(path, since):
    """The trace's entries at or after `since` (monotonic seconds)."""
    entries = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry.get("t", entry.get("got", 0)) >= since:
                entries.append(entry)
    return entries


def union(intervals):
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def split(entries, spawn, result, rtt):
    """The parts of [spawn, result] (see the module doc), plus per-exchange server times."""
    opened = {e["conn"]: e["t"] for e in entries if e.get("event") == "accept"}
    hops, nominal, starts = [], [], []
    for e in entries:
        if e.get("event") == "upstream_open" and e["conn"] in opened:
            start = opened[e["conn"]]
            hops.append((start, e["t"]))
            nominal.append((start, start + rtt))
            starts.append((start, "accept"))
        elif "dir" in e:
            hops.append((e["got"], e["sent"]))
            nominal.append((e["got"], e["got"] + rtt / 2))
            starts.append((e["got"], e["dir"]))

    def clip(spans):
        return [(max(a, spawn), min(b, result)) for a, b in spans if a < result and b > spawn]

    hops, nominal = clip(hops), clip(nominal)
    parts = {"rtt": union(nominal), "server": 0.0, "startup": 0.0, "turnaround": 0.0}
    parts["proxy"] = union(hops) - parts["rtt"]
    first_accept = min((t for t, what in starts if what == "accept"), default=result)
    starts.sort()
    for a, b in gaps(hops, spawn, result):
        # Whoever ended the stretch held the ball: the server if its data came next.
        ended_by = next((what for t, what in starts if t >= b), "result")
        if ended_by == "down":
            parts["server"] += b - a
        elif a < first_accept:
            parts["startup"] += b - a
        else:
            parts["turnaround"] += b - a
    parts["exchanges"] = server_times(entries, spawn, result)
    parts["to_result"] = result - spawn
    return parts


def gaps(spans, spawn, result):
    """The stretches of [spawn, result] no span covers."""
    out, at = [], spawn
    for start, stop in sorted(spans):
        if start > at:
            out.append((at, start))
        at = max(at, stop)
    if result > at:
        out.append((at, result))
    return out


def server_times(entries, spawn, result):
    """Per exchange: the first reply data's arrival minus the last request data's delivery."""
    pieces = sorted((e for e in entries if "dir" in e and spawn <= e["got"] < result), key=lambda e: e["got"])
    times, last_up = [], None
    for e in pieces:
        if e["dir"] == "up":
            last_up = e["sent"]
        elif last_up is not None:
            times.append(e["got"] - last_up)
            last_up = None
    return times


def show(entries, spawn, result, done, code, rtt):
    print(f"spawn 0  result {1000 * (result - spawn):.1f}  exit {1000 * (done - spawn):.1f}  rc {code}")
    rows = []
    for e in entries:
        if "event" in e:
            rows.append((e["t"], f"c{e['conn']} {e['event']}"))
        else:
            rows.append((e["got"], f"c{e['conn']} {e['dir']:4} got {e['bytes']:5}B -> {1000 * (e['sent'] - spawn):7.1f}  {e['head'][:44]!r}"))
    for t, text in sorted(rows):
        print(f"{1000 * (t - spawn):8.1f}  {text}")
    parts = split(entries, spawn, result, rtt)
    print("split (ms): " + "  ".join(f"{k} {1000 * parts[k]:.1f}" for k in ("rtt", "proxy", "server", "startup", "turnaround")))
    print("server per exchange (ms): " + " ".join(f"{1000 * t:.1f}" for t in parts["exchanges"]))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    trace, cmd = sys.argv[1], sys.argv[2:]
    rtt = float(__import__("os").environ.get("RTT_MS", "50")) / 1000
    open(trace, "w").close()
    spawn = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    proc.stdout.readline()
    result = time.monotonic()
    proc.stdout.read()
    code = proc.wait()
    done = time.monotonic()
    time.sleep(0.3)  # the proxy writes a piece's line when it delivers it
    show(load(trace, spawn), spawn, result, done, code, rtt)


if __name__ == "__main__":
    main()
