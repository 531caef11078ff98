#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) whose `boom` tool kills the server mid-call.

Newline-delimited JSON-RPC on stdin/stdout. Tools: `ok` -> "fine"; `boom` -> writes a line to stderr
and exits with status 3 without answering.
"""

import json
import sys

TOOLS = [
    {"name": "boom", "description": "Crashes the server.", "inputSchema": {"type": "object", "properties": {}}},
    {"name": "ok", "description": "Answers fine.", "inputSchema": {"type": "object", "properties": {}}},
]


def send(msg_id, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": msg_id}
    msg.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    if not line.strip():
        continue
    msg = json.loads(line)
    if "id" not in msg or "method" not in msg:
        continue  # notifications and responses are ignored
    method, params = msg["method"], msg.get("params") or {}
    if method == "initialize":
        send(msg["id"], {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "crash_stdio", "version": "1.0.0"},
        })
    elif method == "ping":
        send(msg["id"], {})
    elif method == "tools/list":
        send(msg["id"], {"tools": TOOLS})
    elif method == "tools/call" and params.get("name") == "ok":
        send(msg["id"], {"content": [{"type": "text", "text": "fine"}]})
    elif method == "tools/call" and params.get("name") == "boom":
        sys.stderr.write("crash_stdio: exiting on purpose\n")
        sys.stderr.flush()
        sys.exit(3)
    else:
        send(msg["id"], error={"code": -32601, "message": f"Method not found: {method}"})
