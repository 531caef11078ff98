#!/usr/bin/env python3
"""A hostile MCP server (stdlib only) for faults real peers cannot produce.

  hostile_mcp.py stdio          newline-delimited JSON-RPC on stdin/stdout
  hostile_mcp.py http [sse]     Streamable HTTP on 127.0.0.1 (free port, printed as the first
                                stdout line); POST /mcp answers with a JSON body, or with an SSE
                                stream of one event when `sse` is given. Stateless: no session id.
  hostile_mcp.py legacy         the 2024-11-05 HTTP+SSE transport: GET /sse opens the stream
                                (first event `endpoint`), POST /messages gets 202 and its reply
                                arrives on the stream as a `message` event.

Tools (tools/call by name):
  echo {message}   a normal text result
  big {mib}        a text result whose reply line is about MIB MiB (default 17); the id comes
                   first
  big_id_last      the same (17 MiB) with the id written last, as the TypeScript SDK orders it
  badutf8          a reply whose text holds the byte 0xFF (not UTF-8)
  notjsonrpc       {"jsonrpc": "2.0", "id": ID, "oops": true}: no result, no error
  truncated        a reply cut off in the middle of its JSON
  banner           a non-JSON line on stdout first, then the reply "after banner"
  weird_content    content blocks of an unknown type, with extra fields, with annotations of the
                   wrong type; isError is the string "true"
  hang             never answers

Environment:
  HOSTILE_TOOLS=malformed  tools/list also lists tools with a bad field each
  HOSTILE_CURSOR=repeat    every tools/list page says nextCursor "again"
  HOSTILE_PAGES=N          tools/list is split into N pages (cursors p1, p2, ...)
  HOSTILE_BANNER=1         (stdio) a banner line on stdout before anything else
  HOSTILE_LOG=PATH         each request's method (and cursor) is appended to PATH as a JSON line
  HOSTILE_PIDFILE=PATH     (stdio) the server's pid is written to PATH at start
  HOSTILE_IGNORE_TERM=1    (stdio) SIGTERM is ignored and stdin closing does not end the server
  HOSTILE_SLOW_DISCOVER=SECS  (http) a 2026-07-28-only server that is slow once: the first
                           server/discover is answered after SECS, initialize gets a bare
                           {"resultType": "complete"} like any method it does not know
  HOSTILE_REDIRECT=1       (http) every POST to 127.0.0.1 gets 307 to the same port on
                           `localhost` (another origin); each request's Host is logged
"""

import json
import os
import queue
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD_TOOLS = [
    {"name": "echo", "description": "Echoes.", "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}},
    {"name": "big", "inputSchema": {"type": "object"}},
    {"name": "big_id_last", "inputSchema": {"type": "object"}},
    {"name": "badutf8", "inputSchema": {"type": "object"}},
    {"name": "notjsonrpc", "inputSchema": {"type": "object"}},
    {"name": "truncated", "inputSchema": {"type": "object"}},
    {"name": "banner", "inputSchema": {"type": "object"}},
    {"name": "weird_content", "inputSchema": {"type": "object"}},
    {"name": "hang", "inputSchema": {"type": "object"}},
]
MALFORMED_TOOLS = [
    {"name": "schema_is_a_string", "inputSchema": "object"},
    {"name": 42, "inputSchema": {"type": "object"}},
    {"name": "hints_are_strings", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": "yes"}},
    {"name": "newer_than_us", "inputSchema": {"type": "object"}, "x-future": {"anything": [1, 2]}},
]


SSE = LEGACY = False
STREAMS = [queue.Queue()]
SLOWED = []


def log(entry):
    path = os.environ.get("HOSTILE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def line(obj):
    return json.dumps(obj).encode()


def result(msg_id, value):
    return line({"jsonrpc": "2.0", "id": msg_id, "result": value})


def text_result(msg_id, text):
    return result(msg_id, {"content": [{"type": "text", "text": text}]})


def tools_page(cursor):
    tools = GOOD_TOOLS + (MALFORMED_TOOLS if os.environ.get("HOSTILE_TOOLS") == "malformed" else [])
    if os.environ.get("HOSTILE_CURSOR") == "repeat":
        return {"tools": tools[:1], "nextCursor": "again"}
    pages = int(os.environ.get("HOSTILE_PAGES") or 1)
    index = int(cursor[1:]) if cursor else 0
    chunk = (len(tools) + pages - 1) // pages
    page = {"tools": tools[index * chunk:(index + 1) * chunk]}
    if index + 1 < pages:
        page["nextCursor"] = f"p{index + 1}"
    return page


def call(msg_id, name, args):
    """The raw lines to send for a tools/call (None: never answer)."""
    if name == "echo":
        return [text_result(msg_id, args.get("message", ""))]
    if name == "big":
        size = int(float(args.get("mib", 17)) * 1024 * 1024)
        return [text_result(msg_id, "x" * size)]
    if name == "big_id_last":
        body = {"result": {"content": [{"type": "text", "text": "x" * (17 * 1024 * 1024)}]}, "jsonrpc": "2.0", "id": msg_id}
        return [line(body)]
    if name == "badutf8":
        return [b'{"jsonrpc": "2.0", "id": ' + json.dumps(msg_id).encode() + b', "result": {"content": [{"type": "text", "text": "bad \xff byte"}]}}']
    if name == "notjsonrpc":
        return [line({"jsonrpc": "2.0", "id": msg_id, "oops": True})]
    if name == "truncated":
        return [text_result(msg_id, "cut short")[:40]]
    if name == "banner":
        return [b"Server banner: hello from a chatty server", text_result(msg_id, "after banner")]
    if name == "weird_content":
        return [result(msg_id, {
            "content": [
                {"type": "text", "text": "plain", "x-extra": {"kept": True}},
                {"type": "hologram", "frames": 3},
                {"type": "text", "text": "noisy", "annotations": "very"},
            ],
            "isError": "true",
        })]
    if name == "hang":
        return None
    return [line({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32602, "message": f"unknown tool {name}"}})]


def answer(msg):
    """The raw lines answering one message (empty: a notification; None: never)."""
    if "id" not in msg or "method" not in msg:
        return []
    msg_id, method, params = msg["id"], msg["method"], msg.get("params") or {}
    log({"method": method, "cursor": params.get("cursor"), "tool": params.get("name")})
    slow_discover = os.environ.get("HOSTILE_SLOW_DISCOVER")
    if slow_discover and method == "server/discover":
        if not SLOWED:
            SLOWED.append(True)
            time.sleep(float(slow_discover))
        return [result(msg_id, {
            "resultType": "complete",
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}},
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "hostile_mcp", "version": "1.0.0"}},
        })]
    if slow_discover and method == "initialize":
        return [result(msg_id, {"resultType": "complete"})]
    if method == "initialize":
        return [result(msg_id, {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "hostile_mcp", "version": "1.0.0"},
        })]
    if method == "ping":
        return [result(msg_id, {})]
    if method == "tools/list":
        return [result(msg_id, tools_page(params.get("cursor")))]
    if method == "tools/call":
        return call(msg_id, params.get("name"), params.get("arguments") or {})
    return [line({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": f"Method not found: {method}"}})]


def serve_stdio():
    out = sys.stdout.buffer
    if os.environ.get("HOSTILE_PIDFILE"):
        with open(os.environ["HOSTILE_PIDFILE"], "w") as f:
            f.write(str(os.getpid()))
    if os.environ.get("HOSTILE_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.environ.get("HOSTILE_BANNER"):
        out.write(b"hostile_mcp 1.0 starting (this line is not JSON)\n")
        out.flush()
    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        lines = answer(json.loads(raw))
        for reply in lines or []:
            out.write(reply + b"\n")
        out.flush()
    while os.environ.get("HOSTILE_IGNORE_TERM"):
        time.sleep(1)  # stdin closed: a well-behaved server would exit now


class Http(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if os.environ.get("HOSTILE_REDIRECT"):
            host = self.headers.get("Host", "")
            log({"host": host, "authorization": self.headers.get("Authorization")})
            if host.startswith("127.0.0.1"):
                self.send_response(307)
                self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/mcp")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if LEGACY and not self.path.startswith("/messages"):
            return self.reply(405, "text/plain", b"legacy transport: POST /messages")
        msg = json.loads(body)
        lines = answer(msg)
        if LEGACY:
            self.reply(202, "text/plain", b"")
            for reply in lines or []:
                STREAMS[-1].put(reply)
            return
        if lines is None:
            return  # hang: the client gives up
        if not lines:
            return self.reply(202, "text/plain", b"")
        reply = [l for l in lines if l.startswith(b"{")][-1]
        if SSE:
            self.reply(200, "text/event-stream", b"event: message\ndata: " + reply + b"\n\n")
        else:
            self.reply(200, "application/json", reply)

    def do_GET(self):
        if not LEGACY or self.path != "/sse":
            return self.reply(405, "text/plain", b"no stream")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        stream = queue.Queue()  # replies go to the newest stream: one client at a time
        STREAMS.append(stream)
        self.wfile.write(b"event: endpoint\ndata: /messages\n\n")
        self.wfile.flush()
        while True:
            reply = stream.get()
            if not reply.startswith(b"{"):
                continue  # SSE carries no banners
            self.wfile.write(b"event: message\ndata: " + reply + b"\n\n")
            self.wfile.flush()

    def do_DELETE(self):
        self.reply(200, "text/plain", b"")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "stdio":
        serve_stdio()
    elif mode in ("http", "legacy"):
        SSE = len(sys.argv) > 2 and sys.argv[2] == "sse"
        LEGACY = mode == "legacy"
        server = ThreadingHTTPServer(("127.0.0.1", 0), Http)
        server.daemon_threads = True
        print(server.server_address[1], flush=True)
        server.serve_forever()
    else:
        sys.exit("usage: hostile_mcp.py stdio | http [sse] | legacy")
