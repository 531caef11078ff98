#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) that `mcpchat serve` relays to; it writes down what reached it.

Usage: serve_upstream.py LABEL LOG. Newline-delimited JSON-RPC on stdin/stdout; every message
received is appended to LOG as one JSON line {"label", "message"}, so a test can see which
upstream got which request under which name, and whether a cancellation arrived.

Tools: `whoami` -> text "LABEL got whoami" (structuredContent {"label", "arguments"});
`slow` -> no answer (until cancelled; the cancellation is logged); `fail` -> isError result;
`change` -> sends notifications/tools/list_changed, then answers "changed".
Prompt: `greet` (argument `name`). Resource: `LABEL://note`.
"""

import json
import sys

LABEL, LOG = sys.argv[1], sys.argv[2]

TOOLS = [
    {"name": "whoami", "description": f"Says it is {LABEL}.",
     "inputSchema": {"type": "object", "properties": {"x": {"type": "integer"}}},
     "outputSchema": {"type": "object", "properties": {"label": {"type": "string"}}},
     "annotations": {"readOnlyHint": True}, "_meta": {"origin": LABEL}},
    {"name": "slow", "description": "Never answers.", "inputSchema": {"type": "object"}},
    {"name": "fail", "description": "Fails as a tool.", "inputSchema": {"type": "object"}},
    {"name": "change", "description": "Says its tools changed.", "inputSchema": {"type": "object"}},
]


def log(message):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({"label": LABEL, "message": message}) + "\n")


def write(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def answer(msg_id, result=None, error=None):
    message = {"jsonrpc": "2.0", "id": msg_id}
    message.update({"error": error} if error else {"result": result})
    write(message)


def call(msg_id, params):
    name, arguments = params.get("name"), params.get("arguments") or {}
    if name == "whoami":
        answer(msg_id, {"content": [{"type": "text", "text": f"{LABEL} got whoami"}],
                        "structuredContent": {"label": LABEL, "arguments": arguments}})
    elif name == "slow":
        pass  # answered never; the cancellation shows in the log
    elif name == "fail":
        answer(msg_id, {"content": [{"type": "text", "text": f"{LABEL} failed"}], "isError": True})
    elif name == "change":
        write({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        answer(msg_id, {"content": [{"type": "text", "text": "changed"}]})
    else:
        answer(msg_id, error={"code": -32602, "message": f"Unknown tool: {name}"})


def handle(msg):
    method, params, msg_id = msg.get("method"), msg.get("params") or {}, msg.get("id")
    if msg_id is None:
        return  # notifications: logged, nothing to answer
    if method == "initialize":
        answer(msg_id, {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {"listChanged": True}, "prompts": {}, "resources": {}},
            "serverInfo": {"name": f"serve_upstream_{LABEL}", "version": "1.0.0"},
        })
    elif method == "ping":
        answer(msg_id, {})
    elif method == "tools/list":
        answer(msg_id, {"tools": TOOLS})
    elif method == "tools/call":
        call(msg_id, params)
    elif method == "prompts/list":
        answer(msg_id, {"prompts": [{"name": "greet", "arguments": [{"name": "name", "required": True}]}]})
    elif method == "prompts/get":
        who = (params.get("arguments") or {}).get("name", "?")
        answer(msg_id, {"messages": [{"role": "user", "content": {"type": "text", "text": f"{LABEL} greets {who}"}}]})
    elif method == "resources/list":
        answer(msg_id, {"resources": [{"uri": f"{LABEL}://note", "name": "note"}]})
    elif method == "resources/templates/list":
        answer(msg_id, {"resourceTemplates": []})
    elif method == "resources/read":
        answer(msg_id, {"contents": [{"uri": params.get("uri"), "text": f"{LABEL} note"}]})
    else:
        answer(msg_id, error={"code": -32601, "message": f"Method not found: {method}"})


for line in sys.stdin:
    if not line.strip():
        continue
    message = json.loads(line)
    log(message)
    handle(message)
