#!/usr/bin/env python3
"""A small MCP host for the `mcpchat serve` rows of bench/run: one session, many calls.

    serve_host.py calls OUT N WARMUP TOOL ARGS_JSON stdio COMMAND [ARG...]
    serve_host.py calls OUT N WARMUP TOOL ARGS_JSON http URL
    serve_host.py rss OUT COMMAND [ARG...]

`calls`: initializes once, makes WARMUP untimed calls, then N timed `tools/call`s one after
another, and writes {"seconds": [per call]} to OUT, so process start-up and the handshake are
not measured. Speaks JSON-RPC itself (stdio lines; Streamable HTTP over one kept-alive
connection, JSON or SSE answers) so the host's own cost per call is small and the same for
both paths. `rss`: starts COMMAND (an `mcpchat serve`), initializes and lists tools (so every
upstream is connected), waits a second, and writes {"kb": VmRSS of that process alone} to OUT.
"""

import http.client
import json
import subprocess
import sys
import time
import urllib.parse

INIT = {"protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "bench-host", "version": "1"}}


class Stdio:
    def __init__(self, command):
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        self.out = self.proc.stdout

    def send(self, message):
        self.proc.stdin.write((json.dumps(message) + "\n").encode())

    def request(self, message):
        self.send(message)
        while True:
            line = json.loads(self.out.readline())
            if line.get("id") == message["id"]:
                return line

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


class Http:
    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.path = parsed.path or "/"
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port)
        self.session = None

    def post(self, message):
        headers = {"content-type": "application/json",
                   "accept": "application/json, text/event-stream",
                   "mcp-protocol-version": INIT["protocolVersion"]}
        if self.session:
            headers["mcp-session-id"] = self.session
        self.conn.request("POST", self.path, json.dumps(message), headers)
        response = self.conn.getresponse()
        self.session = response.getheader("mcp-session-id") or self.session
        return response

    def send(self, message):
        self.post(message).read()

    def request(self, message):
        response = self.post(message)
        if "text/event-stream" not in (response.getheader("content-type") or ""):
            return json.loads(response.read())
        # Read events until the answer; the rest of the stream is closed by the server.
        while True:
            line = response.readline().decode()
            if not line:
                sys.exit(f"serve_host.py: the stream ended without an answer to {message}")
            if line.startswith("data:") and line[5:].strip():
                data = json.loads(line[5:])
                if data.get("id") == message["id"]:
                    response.read()
                    return data

    def close(self):
        if self.session:
            self.conn.request("DELETE", self.path, headers={"mcp-session-id": self.session})
            self.conn.getresponse().read()
        self.conn.close()


def open_session(transport):
    transport.request({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT})
    transport.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


def calls(out, n, warmup, tool, arguments, transport):
    open_session(transport)
    seconds = []
    for i in range(warmup + n):
        call = {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                "params": {"name": tool, "arguments": arguments}}
        start = time.perf_counter()
        answer = transport.request(call)
        took = time.perf_counter() - start
        if "result" not in answer or answer["result"].get("isError"):
            sys.exit(f"serve_host.py: the call failed: {answer}")
        if i >= warmup:
            seconds.append(took)
    transport.close()
    with open(out, "w") as f:
        json.dump({"seconds": seconds}, f)


def rss(out, command):
    host = Stdio(command)
    open_session(host)
    listed = host.request({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
    tools = len(listed["result"]["tools"])
    if tools == 0:
        sys.exit(f"serve_host.py: serve lists no tools (no upstream connected): {listed}")
    time.sleep(1)
    with open(f"/proc/{host.proc.pid}/status") as f:
        kb = int(next(line for line in f if line.startswith("VmRSS:")).split()[1])
    host.close()
    with open(out, "w") as f:
        json.dump({"kb": kb, "tools": tools}, f)


def main():
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "rss":
        rss(out, sys.argv[3:])
        return
    n, warmup, tool, arguments = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], json.loads(sys.argv[6])
    kind, rest = sys.argv[7], sys.argv[8:]
    transport = Stdio(rest) if kind == "stdio" else Http(rest[0])
    calls(out, n, warmup, tool, arguments, transport)


main()
