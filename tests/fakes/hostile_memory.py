#!/usr/bin/env python3
"""Peers that try to make mcpchat hold a lot of memory (stdlib only): hostile_memory.py MODE

  stdio   a stdio MCP server (newline-delimited JSON-RPC) with the tools:
            flood {"bytes": N}          writes N bytes of `x` to stderr without a newline, then
                                        answers the text "flooded"
            flood_and_die {"bytes": N}  writes N bytes of `x` to stderr without a newline, then
                                        exits with status 3 without answering
            text {"bytes": N}           answers one text block of N bytes of `a`
            many {"n": N, "kind": K}    answers N tiny elements: K "content" -> N text blocks
                                        {"type":"text","text":"a"}; K "structured" -> one text
                                        block "ok" and structuredContent {"values": [0, 0, ...]}
  llm     an OpenAI-compatible model API on 127.0.0.1 (the port is the first stdout line) whose
          every answer is about HOSTILE_LLM_BYTES bytes (default 2 MiB) of assistant text:
          a JSON completion, or with "stream": true an SSE stream of 1000-character deltas
          ending in `data: [DONE]`. Bodies are close-delimited (no Content-Length), so the
          client only learns the size by reading.
"""

import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOLS = [
    {"name": name, "description": f"{name} (hostile_memory)", "inputSchema": {"type": "object"}}
    for name in ("flood", "flood_and_die", "text", "many")
]
CHUNK = 1 << 20


def send(msg_id, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": msg_id}
    msg.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(msg, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def flood(size):
    out = sys.stderr.buffer
    while size > 0:
        part = min(size, CHUNK)
        out.write(b"x" * part)
        size -= part
    out.flush()


def many(n, kind):
    if kind == "structured":
        return {"content": [{"type": "text", "text": "ok"}], "structuredContent": {"values": [0] * n}}
    return {"content": [{"type": "text", "text": "a"}] * n}


def call(msg_id, name, args):
    if name == "flood":
        flood(int(args.get("bytes", 0)))
        send(msg_id, {"content": [{"type": "text", "text": "flooded"}]})
    elif name == "flood_and_die":
        flood(int(args.get("bytes", 0)))
        sys.exit(3)
    elif name == "text":
        send(msg_id, {"content": [{"type": "text", "text": "a" * int(args.get("bytes", 0))}]})
    elif name == "many":
        send(msg_id, many(int(args.get("n", 0)), args.get("kind", "content")))
    else:
        send(msg_id, error={"code": -32602, "message": f"unknown tool {name}"})


def stdio():
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        if "id" not in msg or "method" not in msg:
            continue
        method, params = msg["method"], msg.get("params") or {}
        if method == "initialize":
            send(msg["id"], {
                "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile_memory", "version": "1.0.0"},
            })
        elif method == "tools/list":
            send(msg["id"], {"tools": TOOLS})
        elif method == "tools/call":
            call(msg["id"], params.get("name"), params.get("arguments") or {})
        else:
            send(msg["id"], {})


class Llm(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        size = int(os.environ.get("HOSTILE_LLM_BYTES", 2 << 20))
        self.send_response(200)
        if body.get("stream"):
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            delta = json.dumps({"choices": [{"index": 0, "delta": {"content": "a" * 1000}}]})
            sent = 0
            try:
                while sent < size:
                    line = f"data: {delta}\n\n".encode()
                    self.wfile.write(line)
                    sent += len(line)
                self.wfile.write(b"data: [DONE]\n\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        head = b'{"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"'
        try:
            self.wfile.write(head)
            left = size
            while left > 0:
                part = min(left, CHUNK)
                self.wfile.write(b"a" * part)
                left -= part
            self.wfile.write(b'"}}]}')
        except (BrokenPipeError, ConnectionResetError):
            pass


def llm():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Llm)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    {"stdio": stdio, "llm": llm}[sys.argv[1]]()
