#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) for what `mcpchat serve` relays both ways; it writes down what
reached it.

Usage: serve_relay_upstream.py LABEL LOG. Newline-delimited JSON-RPC on stdin/stdout; every
message received is appended to LOG as one JSON line {"label", "message"}; the first line's
message is {"pid": its process id}.

Tools that ask the client something while they run, then answer with what the client said
(structuredContent {"answer": the client's result, or "error": its error}):
`ask` (elicitation/create, form), `ask_url` (elicitation/create, url), `sample`
(sampling/createMessage), `roots` (roots/list).
`log` sends notifications/message at levels debug, info and error (data "LABEL says LEVEL").
`touch` (argument `uri`) sends notifications/resources/updated for it.
`whoami` answers "LABEL got whoami".
Lists page: tools/list and resources/list return two items per page (cursor "LABEL-page-N").
resources/subscribe and resources/unsubscribe answer {}.
"""

import json
import os
import sys

LABEL, LOG = sys.argv[1], sys.argv[2]

NAMES = ["whoami", "ask", "ask_url", "sample", "roots", "log", "touch"]
TOOLS = [{"name": name, "description": f"{name} of {LABEL}", "inputSchema": {"type": "object"}}
         for name in NAMES]
RESOURCES = [{"uri": f"{LABEL}://r{n}", "name": f"r{n}"} for n in range(5)]
PAGE = 2

# Our requests to the client waiting for an answer: our id -> the tools/call id they serve.
pending = {}
next_request = 0


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


def text(msg_id, words, structured=None):
    result = {"content": [{"type": "text", "text": words}]}
    if structured is not None:
        result["structuredContent"] = structured
    answer(msg_id, result)


def ask_client(call_id, method, params):
    global next_request
    next_request += 1
    our_id = f"{LABEL}-ask-{next_request}"
    pending[our_id] = call_id
    write({"jsonrpc": "2.0", "id": our_id, "method": method, "params": params})


def page(items, params, key):
    cursor = params.get("cursor")
    start = int(cursor.rsplit("-", 1)[1]) if cursor else 0
    result = {key: items[start:start + PAGE]}
    if start + PAGE < len(items):
        result["nextCursor"] = f"{LABEL}-page-{start + PAGE}"
    return result


def call(msg_id, params):
    name, arguments = params.get("name"), params.get("arguments") or {}
    if name == "whoami":
        text(msg_id, f"{LABEL} got whoami")
    elif name == "ask":
        ask_client(msg_id, "elicitation/create", {
            "mode": "form", "message": f"{LABEL} wants a colour",
            "requestedSchema": {"type": "object", "properties": {"colour": {"type": "string"}}}})
    elif name == "ask_url":
        ask_client(msg_id, "elicitation/create", {
            "mode": "url", "message": f"{LABEL} wants a visit", "url": "https://example.com/consent",
            "elicitationId": f"{LABEL}-visit"})
    elif name == "sample":
        ask_client(msg_id, "sampling/createMessage", {
            "messages": [{"role": "user", "content": {"type": "text", "text": f"{LABEL} asks"}}],
            "maxTokens": 10})
    elif name == "roots":
        ask_client(msg_id, "roots/list", {})
    elif name == "log":
        for level in ["debug", "info", "error"]:
            write({"jsonrpc": "2.0", "method": "notifications/message",
                   "params": {"level": level, "logger": "fake", "data": f"{LABEL} says {level}"}})
        text(msg_id, "logged")
    elif name == "touch":
        write({"jsonrpc": "2.0", "method": "notifications/resources/updated",
               "params": {"uri": arguments.get("uri")}})
        text(msg_id, "touched")
    else:
        answer(msg_id, error={"code": -32602, "message": f"Unknown tool: {name}"})


def answered(msg):
    call_id = pending.pop(msg.get("id"), None)
    if call_id is None:
        return
    if "error" in msg:
        text(call_id, "the client refused", {"error": msg["error"]})
    else:
        text(call_id, "the client answered", {"answer": msg.get("result")})


def handle(msg):
    method, params, msg_id = msg.get("method"), msg.get("params") or {}, msg.get("id")
    if method is None:
        return answered(msg)
    if msg_id is None:
        return  # notifications: logged, nothing to answer
    if method == "initialize":
        answer(msg_id, {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}, "logging": {},
                             "resources": {"subscribe": True, "listChanged": True}},
            "serverInfo": {"name": f"serve_relay_upstream_{LABEL}", "version": "1.0.0"},
        })
    elif method in ("ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"):
        answer(msg_id, {})
    elif method == "tools/list":
        answer(msg_id, page(TOOLS, params, "tools"))
    elif method == "tools/call":
        call(msg_id, params)
    elif method == "resources/list":
        answer(msg_id, page(RESOURCES, params, "resources"))
    elif method == "resources/templates/list":
        answer(msg_id, {"resourceTemplates": []})
    elif method == "resources/read":
        answer(msg_id, {"contents": [{"uri": params.get("uri"), "text": f"{LABEL} note"}]})
    else:
        answer(msg_id, error={"code": -32601, "message": f"Method not found: {method}"})


log({"pid": os.getpid()})
for line in sys.stdin:
    if not line.strip():
        continue
    message = json.loads(line)
    log(message)
    handle(message)
