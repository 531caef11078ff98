#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) that holds state in memory: what a kept-alive server keeps
between commands and a fresh one does not.

Newline-delimited JSON-RPC on stdin/stdout. Tools: `remember` {"value": str} appends to a
list held in memory; `recall` answers the list joined with ","; `pid` answers the process id.
With LINGER=1 in its environment the process stays after stdin closes (a server that does not
exit when its client goes), so whoever started it must end its process group.
"""

import json
import os
import sys
import time

TOOLS = [
    {"name": "remember", "description": "Keeps a value in memory.",
     "inputSchema": {"type": "object", "properties": {"value": {"type": "string"}}, "required": ["value"]}},
    {"name": "recall", "description": "The values kept so far.", "inputSchema": {"type": "object", "properties": {}}},
    {"name": "pid", "description": "The server's process id.", "inputSchema": {"type": "object", "properties": {}}},
]
kept = []


def send(msg_id, result):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg_id, "result": result}) + "\n")
    sys.stdout.flush()


def text(value):
    return {"content": [{"type": "text", "text": value}], "isError": False}


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
            "serverInfo": {"name": "stateful_stdio", "version": "1.0.0"},
            "instructions": "Remembers values.",
        })
    elif method == "ping":
        send(msg["id"], {})
    elif method == "tools/list":
        send(msg["id"], {"tools": TOOLS})
    elif method == "tools/call":
        name = params.get("name")
        if name == "remember":
            kept.append(str((params.get("arguments") or {}).get("value")))
            send(msg["id"], text("ok"))
        elif name == "recall":
            send(msg["id"], text(",".join(kept)))
        else:
            send(msg["id"], text(str(os.getpid())))
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                     "error": {"code": -32601, "message": "method not found"}}) + "\n")
        sys.stdout.flush()

while os.environ.get("LINGER") == "1":
    time.sleep(1)
