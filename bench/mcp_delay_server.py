#!/usr/bin/env python3
"""A minimal MCP Streamable HTTP server that answers every request after a fixed delay.

    python3 bench/mcp_delay_server.py DELAY_MS COUNT

Listens on COUNT free ports on 127.0.0.1 (one threaded HTTP server each: COUNT independent
servers to a client) and prints the ports space-separated on the first line of stdout. Endpoint
`/mcp`. Every request waits DELAY_MS, then: `initialize` gets a session id and echoes the
client's protocol version; notifications get 202; `tools/list` lists `get-sum {a, b}` and
`echo {message}`; `tools/call` runs them; `ping` answers {}; GET (the optional SSE stream) gets
405; DELETE gets 200. Bodies are plain JSON. Costs well under a millisecond of CPU per request,
so a client talking to many of these at once measures the client, not the server: bench/run uses
it for the fan-out item (DELAY_MS=100) and for batch throughput without server-side limits
(DELAY_MS=0). Python stdlib only.
"""

import http.server
import json
import sys
import threading
import time
import uuid

TOOLS = [
    {
        "name": "get-sum",
        "description": "Returns the sum of two numbers",
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
    },
    {
        "name": "echo",
        "description": "Echoes back the input string",
        "inputSchema": {
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"],
        },
    },
]


def call(params):
    name, args = params.get("name"), params.get("arguments") or {}
    if name == "get-sum":
        a, b = args.get("a", 0), args.get("b", 0)
        return {"content": [{"type": "text", "text": f"The sum of {a} and {b} is {a + b}."}]}
    if name == "echo":
        return {"content": [{"type": "text", "text": f"Echo: {args.get('message', '')}"}]}
    return {"content": [{"type": "text", "text": f"unknown tool {name}"}], "isError": True}


def make_handler(delay):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, *args):
            pass

        def reply(self, status, body=None, headers=()):
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            try:
                message = json.loads(data)
            except ValueError:
                return self.reply(400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            if "id" not in message or "method" not in message:
                return self.reply(202)  # a notification or a response
            method, params, headers = message["method"], message.get("params") or {}, []
            if method == "initialize":
                headers.append(("Mcp-Session-Id", uuid.uuid4().hex))
                result = {
                    "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "bench-delay", "version": "1"},
                }
            elif method == "tools/list":
                result = {"tools": TOOLS}
            elif method == "tools/call":
                result = call(params)
            elif method == "ping":
                result = {}
            else:
                return self.reply(200, {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": f"no method {method}"}})
            self.reply(200, {"jsonrpc": "2.0", "id": message["id"], "result": result}, headers)

        def do_GET(self):
            time.sleep(delay)
            self.reply(405, None, [("Allow", "POST, DELETE")])

        def do_DELETE(self):
            time.sleep(delay)
            self.reply(200)

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    handler = make_handler(float(sys.argv[1]) / 1000.0)
    servers = [Server(("127.0.0.1", 0), handler) for _ in range(int(sys.argv[2]))]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(" ".join(str(s.server_address[1]) for s in servers), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
