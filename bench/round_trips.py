#!/usr/bin/env python3
"""Round trips (bench/run's `rtt` item): commands through latency_proxy.py, cold and warm.

    python3 bench/round_trips.py --bin MCPCHAT --rtt-ms 50 --log PROXY_LOG --out FILE --runs N
        --ev URL --py URL [--fast URL] [--trace TRACE] [--inspector JS] [--curl-floor SH]
        [--ask-ports P,P,...]

--ev is server-everything (2025-11-25) and --py the Python SDK server in 2026-07-28 stateless
mode, --fast a 2025-11-25 server that answers at once (mcp_delay_server.py, 0 ms: the client's
own share without a slow server), all through proxies whose request log is PROXY_LOG. The commands: `tools call`,
`tools list` (and `--cached`), `resources read` and `prompts get`. Each run of a command is timed
from spawn to its first stdout line ("to result") and to its exit; "cold" runs get an empty
cache dir each time, "warm" runs share one that a first (untimed) run filled. The requests of
the last run are read from the proxy log. `ask` is timed from spawn to its first model request,
with a stub model API in this process (it answers "ok" without tool calls), across the
--ask-ports servers (each answers every request late). Writes medians and request lists as JSON.

With --trace (the proxies' LATENCY_PROXY_TRACE file), every timed run of mcpchat and of the curl
floor is also split into minimum round trips, proxy overhead, server processing, client start-up
and client turnarounds (timeline.py); a row gets the medians of each part (`split`) and of its
time minus the server's processing (`to_result_minus_server`).
"""

import argparse
import http.server
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

import timeline

RTT = 0.05  # seconds; --rtt-ms


def requests_in(log):
    with open(log) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    open(log, "w").close()
    return [f"{e['method']} {e['rpc']}" if e.get("rpc") else e["method"] for e in lines]


def timed(cmd, env, trace=None):
    """(to result, to exit) in seconds; with a trace file, also the run's split (else None)."""
    if trace:
        open(trace, "w").close()
    started = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env) as proc:
        first = proc.stdout.readline()
        result = time.monotonic()
        proc.stdout.read()
        code = proc.wait()
    if code != 0 or not first:
        raise SystemExit(f"round_trips: failed ({code}): {' '.join(cmd)}")
    done = time.monotonic()
    parts = None
    if trace:
        time.sleep(0.05)  # the proxy writes a piece's line once it has delivered it
        parts = timeline.split(timeline.load(trace, started), started, result, RTT)
    return result - started, done - started, parts


def medians(splits):
    for p in splits:
        p["client"] = p["startup"] + p["turnaround"]
    keys = ("rtt", "proxy", "server", "startup", "turnaround", "client")
    return {k: statistics.median(p[k] for p in splits) for k in keys}


def measure(name, cmd, args, cache_mode, warm_cmd=None, split=True):
    """cache_mode: None (not mcpchat), "cold" or "warm" (filled by running warm_cmd or cmd)."""
    base = dict(os.environ)
    home = tempfile.mkdtemp(prefix="rtt-")
    base["XDG_CACHE_HOME"] = os.path.join(home, "cache")
    if cache_mode == "warm":
        timed(warm_cmd or cmd, base)
    requests_in(args.log)
    results, to_exit, splits = [], [], []
    for _ in range(args.runs):
        if cache_mode == "cold":
            shutil.rmtree(base["XDG_CACHE_HOME"], ignore_errors=True)
        r, e, parts = timed(cmd, base, args.trace if split else None)
        results.append(r)
        to_exit.append(e)
        if parts:
            splits.append(parts)
        seen = requests_in(args.log)
    shutil.rmtree(home, ignore_errors=True)
    row = {"to_result": statistics.median(results), "to_exit": statistics.median(to_exit), "requests": seen}
    note = ""
    if splits:
        row["split"] = medians(splits)
        row["to_result_minus_server"] = statistics.median(p["to_result"] - p["server"] for p in splits)
        note = "; " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in row["split"].items()) + " ms"
    print(f"round_trips: {name}: {row['to_result'] * 1000:.0f} ms, {len(seen)} requests{note}", flush=True)
    return row


class StubModel(http.server.BaseHTTPRequestHandler):
    first = None

    def log_message(self, *args):
        pass

    def do_POST(self):
        if StubModel.first is None:
            StubModel.first = time.monotonic()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({
            "id": "x", "object": "chat.completion", "created": 0, "model": "stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def ask_first_request(args, ports, warm):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    home = tempfile.mkdtemp(prefix="rtt-ask-")
    env.update(XDG_CACHE_HOME=os.path.join(home, "cache"), OPENAI_API_KEY="sk-bench",
               OPENAI_BASE_URL=f"http://127.0.0.1:{server.server_address[1]}/v1")
    cmd = [args.bin]
    for i, port in enumerate(ports):
        cmd += ["--url", f"s{i}=http://127.0.0.1:{port}/mcp"]
    cmd += ["ask", "say ok"]
    if warm:
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    delays = []
    for _ in range(args.runs):
        if not warm:
            shutil.rmtree(env["XDG_CACHE_HOME"], ignore_errors=True)
        StubModel.first = None
        started = time.monotonic()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        delays.append(StubModel.first - started)
    server.shutdown()
    shutil.rmtree(home, ignore_errors=True)
    label = "warm" if warm else "cold"
    print(f"round_trips: ask first model request, {len(ports)} servers, {label}: {statistics.median(delays) * 1000:.0f} ms", flush=True)
    return {"to_first_request": statistics.median(delays)}


def main():
    p = argparse.ArgumentParser()
    for flag in ("--bin", "--log", "--out", "--ev", "--py", "--fast", "--trace", "--inspector", "--curl-floor", "--ask-ports"):
        p.add_argument(flag)
    p.add_argument("--rtt-ms", type=float, default=50)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    global RTT
    RTT = args.rtt_ms / 1000
    b = args.bin
    call_ev = ["tools", "call", "ev__get-sum", "--arg", "a=2", "--arg", "b=3"]
    call_py = ["tools", "call", "py__add", "--arg", "a=2", "--arg", "b=3"]
    read_ev = ["resources", "read", "demo://resource/static/document/features.md"]
    read_py = ["resources", "read", "notes://welcome"]
    prompt_ev = ["prompts", "get", "ev__args-prompt", "-a", "city=Paris"]
    prompt_py = ["prompts", "get", "py__review", "-a", "code=print(1)"]
    out = {"rtt_ms": args.rtt_ms, "runs": args.runs, "rows": {}}
    rows = out["rows"]
    for mode in ("cold", "warm"):
        rows[f"call_2025_{mode}"] = measure(f"tools call 2025-11-25 {mode}", [b, "--url", f"ev={args.ev}", *call_ev], args, mode)
        rows[f"call_2026_{mode}"] = measure(f"tools call 2026-07-28 {mode}", [b, "--url", f"py={args.py}", *call_py], args, mode)
        rows[f"list_2025_{mode}"] = measure(f"tools list 2025-11-25 {mode}", [b, "--url", f"ev={args.ev}", "tools", "list"], args, mode)
        rows[f"read_2025_{mode}"] = measure(f"resources read 2025-11-25 {mode}", [b, "--url", f"ev={args.ev}", *read_ev], args, mode)
        rows[f"read_2026_{mode}"] = measure(f"resources read 2026-07-28 {mode}", [b, "--url", f"py={args.py}", *read_py], args, mode)
        rows[f"prompt_2025_{mode}"] = measure(f"prompts get 2025-11-25 {mode}", [b, "--url", f"ev={args.ev}", *prompt_ev], args, mode)
        rows[f"prompt_2026_{mode}"] = measure(f"prompts get 2026-07-28 {mode}", [b, "--url", f"py={args.py}", *prompt_py], args, mode)
    if args.fast:
        call_fast = [b, "--url", f"fast={args.fast}", "tools", "call", "fast__get-sum", "--arg", "a=2", "--arg", "b=3"]
        rows["call_fast_warm"] = measure("tools call 2025-11-25, 0 ms server, warm", call_fast, args, "warm")
    live = [b, "--url", f"ev={args.ev}", "tools", "list"]
    rows["list_2025_cached"] = measure("tools list --cached", [*live, "--cached"], args, "warm", live)
    if args.curl_floor:
        rows["call_floor"] = measure("curl floor call", ["bash", args.curl_floor, args.ev, "call", "get-sum", '{"a":2,"b":3}'], args, None)
        rows["list_floor"] = measure("curl floor list", ["bash", args.curl_floor, args.ev, "list"], args, None)
        rows["read_floor"] = measure("curl floor read", ["bash", args.curl_floor, args.ev, *read_ev[1:]], args, None)
    if args.inspector:
        inspector = ["node", args.inspector, args.ev, "--method", "tools/call", "--tool-name", "get-sum", "--tool-arg", "a=2", "b=3"]
        rows["call_inspector"] = measure("Inspector CLI call", inspector, args, None, split=False)
    if args.ask_ports:
        ports = args.ask_ports.split(",")
        rows["ask_cold"] = ask_first_request(args, ports, False)
        rows["ask_warm"] = ask_first_request(args, ports, True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
