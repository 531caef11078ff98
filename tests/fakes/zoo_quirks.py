#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) with the quirks of widely used real servers that a client must accept.

- `screenshot` marks `scale` required but gives it a default, as schemas made from zod's `.default()` do
  (Playwright's `browser_take_screenshot`, kubernetes' `kubectl_logs`); it answers with the arguments it got,
  as JSON text, so a test sees exactly what was sent.
- `resources/templates/list` is "Method not found" although the server declares resources (sqlite and
  kubernetes servers do this): an optional method it does not implement.

With ZOO_RECORD=FILE, every message received is appended to FILE as a JSON line.
"""

import json
import os
import sys

TOOLS = [
    {
        "name": "screenshot",
        "description": "Echoes its arguments; scale is required with a default.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["png", "jpeg"]},
                "scale": {"type": "string", "enum": ["css", "device"], "default": "css"},
            },
            "required": ["type", "scale"],
        },
    },
]
RESOURCES = [{"uri": "zoo://readme", "name": "readme", "mimeType": "text/plain"}]


def send(msg_id, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": msg_id}
    msg.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    if not line.strip():
        continue
    msg = json.loads(line)
    if os.environ.get("ZOO_RECORD"):
        with open(os.environ["ZOO_RECORD"], "a") as record:
            record.write(json.dumps(msg) + "\n")
    if "id" not in msg or "method" not in msg:
        continue  # notifications and responses are ignored
    method, params = msg["method"], msg.get("params") or {}
    if method == "initialize":
        send(msg["id"], {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}, "resources": {}},
            "serverInfo": {"name": "zoo_quirks", "version": "1.0.0"},
        })
    elif method == "ping":
        send(msg["id"], {})
    elif method == "tools/list":
        send(msg["id"], {"tools": TOOLS})
    elif method == "resources/list":
        send(msg["id"], {"resources": RESOURCES})
    elif method == "tools/call" and params.get("name") == "screenshot":
        text = json.dumps(params.get("arguments"), sort_keys=True)
        send(msg["id"], {"content": [{"type": "text", "text": text}]})
    else:
        send(msg["id"], error={"code": -32601, "message": f"Method not found: {method}"})
