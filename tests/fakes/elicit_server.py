#!/usr/bin/env python3
"""A stdio MCP server (stdlib only, protocol 2025-11-25) that asks its client for input and roots.

  elicit_server.py     newline-delimited JSON-RPC on stdin/stdout

Tools (each answers one text: a JSON object of what it learnt):
  caps          {"capabilities": the client's capabilities from initialize}
  form          elicitation/create (form) with FORM below; {"result": the client's answer,
                "password_reversed": the password typed, reversed (so a test sees the server got it
                while mcpchat masks the value itself)}
  twice         two form elicitations in a row; {"results": [first, second]}
  url           elicitation/create (url) for arguments.url (default https://example.com/pay), id
                "pay-1"; when accepted, notifications/elicitation/complete for "pay-1" follows;
                {"result": the answer}
  url_required  the first call fails with -32042 (URL elicitation required) naming
                https://example.com/connect (id "connect-1"), then sends
                notifications/elicitation/complete for "connect-1"; later calls answer {"ok": true}
  roots         roots/list; {"roots": the client's answer, or "error": its error}
The message of every form starts with ESC[2J (clears a screen it reaches raw).
"""

import json
import sys

FORM = {
    "type": "object",
    "properties": {
        "user": {"type": "string", "title": "User name", "description": "Who you are"},
        "password": {"type": "string", "title": "Password"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150, "default": 30},
        "color": {"type": "string", "enum": ["r", "g"], "enumNames": ["Red", "Green"]},
        "subscribe": {"type": "boolean", "default": False},
    },
    "required": ["user", "password"],
}

client_capabilities = {}
url_required_sent = False
next_id = 0


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def ask_client(method, params):
    """Send a request to the client and wait for its answer (other requests are not expected)."""
    global next_id
    next_id += 1
    rid = "s%d" % next_id
    send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
    for raw in sys.stdin:
        raw = raw.strip()
        if not raw:
            continue
        message = json.loads(raw)
        if message.get("id") == rid and "method" not in message:
            return message
    sys.exit(0)


def form():
    return ask_client(
        "elicitation/create",
        {"mode": "form", "message": "\x1b[2JPlease sign in", "requestedSchema": FORM},
    )


def text(obj):
    return {"content": [{"type": "text", "text": json.dumps(obj, sort_keys=True)}], "isError": False}


def call(request):
    global url_required_sent
    params = request.get("params", {})
    name = params.get("name")
    arguments = params.get("arguments") or {}
    if name == "caps":
        return text({"capabilities": client_capabilities})
    if name == "form":
        answer = form().get("result", {})
        password = (answer.get("content") or {}).get("password", "")
        return text({"result": answer, "password_reversed": password[::-1]})
    if name == "twice":
        return text({"results": [form().get("result"), form().get("result")]})
    if name == "url":
        url = arguments.get("url", "https://example.com/pay")
        answer = ask_client(
            "elicitation/create",
            {"mode": "url", "message": "Pay the bill", "url": url, "elicitationId": "pay-1"},
        ).get("result", {})
        if answer.get("action") == "accept":
            send({"jsonrpc": "2.0", "method": "notifications/elicitation/complete",
                  "params": {"elicitationId": "pay-1"}})
        return text({"result": answer})
    if name == "url_required":
        if not url_required_sent:
            url_required_sent = True
            send({"jsonrpc": "2.0", "id": request["id"], "error": {
                "code": -32042, "message": "This request requires more information.",
                "data": {"elicitations": [
                    {"mode": "url", "url": "https://example.com/connect", "elicitationId": "connect-1",
                     "message": "Connect your account"},
                ]}}})
            send({"jsonrpc": "2.0", "method": "notifications/elicitation/complete",
                  "params": {"elicitationId": "connect-1"}})
            return None
        return text({"ok": True})
    if name == "roots":
        answer = ask_client("roots/list", {})
        if "error" in answer:
            return text({"error": answer["error"]})
        return text({"roots": answer.get("result")})
    return None


TOOLS = [{"name": n, "inputSchema": {"type": "object"}}
         for n in ["caps", "form", "twice", "url", "url_required", "roots"]]


def answer(request):
    global client_capabilities
    method = request.get("method")
    if method == "initialize":
        client_capabilities = request.get("params", {}).get("capabilities", {})
        return {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "elicit", "version": "1.0"},
        }
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        return call(request)
    if method == "ping":
        return {}
    return None


def main():
    for raw in sys.stdin:
        raw = raw.strip()
        if not raw:
            continue
        request = json.loads(raw)
        if "id" not in request or "method" not in request:
            continue  # notifications, stray answers
        result = answer(request)
        if result is not None:
            send({"jsonrpc": "2.0", "id": request["id"], "result": result})
        elif request.get("method") != "tools/call":
            send({"jsonrpc": "2.0", "id": request["id"],
                  "error": {"code": -32601, "message": "no such method"}})


if __name__ == "__main__":
    main()
