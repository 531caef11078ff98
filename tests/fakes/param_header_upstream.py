#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) with one tool whose argument travels as a header (SEP-2243).

Usage: param_header_upstream.py LOG. Newline-delimited JSON-RPC on stdin/stdout; every message
received is appended to LOG as one JSON line, so a test can see whether a call reached it.

Tool: `locate` {region: string, annotated `x-mcp-header: Region`, so a 2026-07-28 host sends
it as `Mcp-Param-Region` too} -> text "region REGION".
"""

import json
import sys

LOG = sys.argv[1]
LOCATE = {
    "name": "locate",
    "description": "Names the region it was given.",
    "inputSchema": {
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
        "required": ["region"],
    },
}


def answer(msg_id, result=None, error=None):
    message = {"jsonrpc": "2.0", "id": msg_id}
    message.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def handle(msg):
    method, params, msg_id = msg.get("method"), msg.get("params") or {}, msg.get("id")
    if msg_id is None:
        return
    if method == "initialize":
        answer(msg_id, {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "param_header_upstream", "version": "1.0.0"},
        })
    elif method == "tools/list":
        answer(msg_id, {"tools": [LOCATE]})
    elif method == "tools/call" and params.get("name") == "locate":
        region = (params.get("arguments") or {}).get("region")
        answer(msg_id, {"content": [{"type": "text", "text": f"region {region}"}]})
    else:
        answer(msg_id, error={"code": -32601, "message": f"Method not found: {method}"})


for line in sys.stdin:
    if line.strip():
        message = json.loads(line)
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(message) + "\n")
        handle(message)
