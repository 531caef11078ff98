#!/usr/bin/env python3
"""A tiny MCP server over stdio, using only the Python standard library.

It is the example server for the mcpchat quickstart (see README.md); run it as a stdio server
command, e.g. `python3 examples/demo_server.py`. It is also a compact reference for the protocol.

Transport: newline-delimited JSON-RPC 2.0 on stdin/stdout (one JSON object per line).
Anything meant for humans goes to stderr; stdout carries protocol messages only.

Tools:
    echo      {message: string}              -> the message
    add       {a: number, b: number}         -> the sum, as text and as structuredContent {"sum": n}
    now       {}                             -> the current UTC time (ISO 8601)
    countdown {seconds: integer 1..10}       -> "done", with a progress notification each second
"""

import datetime
import json
import sys
import threading
import time

LATEST = "2025-11-25"
SUPPORTED = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")

TOOLS = [
    {
        "name": "echo",
        "description": "Echo a message back unchanged.",
        "inputSchema": {
            "type": "object",
            "properties": {"message": {"type": "string", "description": "Text to echo."}},
            "required": ["message"],
        },
    },
    {
        "name": "add",
        "description": "Add two numbers and return their sum.",
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"sum": {"type": "number"}},
            "required": ["sum"],
        },
    },
    {
        "name": "now",
        "description": "Return the current time in UTC, in ISO 8601 format.",
        "inputSchema": {"type": "object", "properties": {}},
    },
    {
        "name": "countdown",
        "description": "Wait the given number of seconds, reporting progress each second, then return 'done'.",
        "inputSchema": {
            "type": "object",
            "properties": {"seconds": {"type": "integer", "minimum": 1, "maximum": 10}},
            "required": ["seconds"],
        },
    },
]

# Tool calls run on worker threads (so ping and cancellation still work during a countdown),
# hence one lock around stdout so that messages never interleave.
write_lock = threading.Lock()
cancelled = set()  # ids of requests the client has cancelled


def send(message):
    with write_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def reply(request_id, result):
    send({"jsonrpc": "2.0", "id": request_id, "result": result})


def reply_error(request_id, code, message):
    send({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})


def text_result(text, is_error=False, structured=None):
    result = {"content": [{"type": "text", "text": text}], "isError": is_error}
    if structured is not None:
        result["structuredContent"] = structured
    return result


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def call_tool(request_id, params):
    """Run one tools/call. Bad arguments are tool errors (isError), which a model can read and fix."""
    name, args = params.get("name"), params.get("arguments") or {}
    if name == "echo":
        if not isinstance(args.get("message"), str):
            return text_result("echo needs a string 'message'", is_error=True)
        return text_result(args["message"])
    if name == "add":
        a, b = args.get("a"), args.get("b")
        if not (is_number(a) and is_number(b)):
            return text_result("add needs numbers 'a' and 'b'", is_error=True)
        return text_result(str(a + b), structured={"sum": a + b})
    if name == "now":
        return text_result(datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    if name == "countdown":
        seconds = args.get("seconds")
        if not (isinstance(seconds, int) and not isinstance(seconds, bool) and 1 <= seconds <= 10):
            return text_result("countdown needs an integer 'seconds' between 1 and 10", is_error=True)
        token = (params.get("_meta") or {}).get("progressToken")
        for done in range(1, seconds + 1):
            time.sleep(1)
            if request_id in cancelled:
                return None  # a cancelled request gets no response
            if token is not None:
                send({
                    "jsonrpc": "2.0",
                    "method": "notifications/progress",
                    "params": {"progressToken": token, "progress": done, "total": seconds,
                               "message": f"{done}/{seconds} seconds"},
                })
        return text_result("done")
    raise LookupError(name)


def run_tool_call(request_id, params):
    try:
        result = call_tool(request_id, params)
    except LookupError:
        reply_error(request_id, -32602, f"Unknown tool: {params.get('name')}")
        return
    if result is not None:
        reply(request_id, result)
    cancelled.discard(request_id)


def handle(message):
    """Handle one decoded JSON-RPC message."""
    if not isinstance(message, dict):
        reply_error(None, -32600, "Invalid Request: expected a JSON object")
        return
    if "method" not in message:
        return  # a response; this server never sends requests, so there is nothing to match
    method, params = message["method"], message.get("params") or {}
    if message.get("jsonrpc") != "2.0" or not isinstance(method, str):
        reply_error(message.get("id"), -32600, "Invalid Request")
        return
    if not isinstance(params, dict):
        if "id" in message:
            reply_error(message["id"], -32602, "Invalid params: expected an object")
        return

    if "id" not in message:  # a notification: never answered
        if method == "notifications/cancelled":
            cancelled.add(params.get("requestId"))
        return  # notifications/initialized and anything else need no action

    request_id = message["id"]
    if method == "initialize":
        asked = params.get("protocolVersion")
        reply(request_id, {
            "protocolVersion": asked if asked in SUPPORTED else LATEST,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "mcpchat-demo", "version": "1.0.0"},
            "instructions": "A demo server: echo, add, now and countdown tools.",
        })
    elif method == "ping":
        reply(request_id, {})
    elif method == "tools/list":
        reply(request_id, {"tools": TOOLS})
    elif method == "tools/call":
        if not isinstance(params.get("name"), str):
            reply_error(request_id, -32602, "tools/call needs a tool 'name'")
            return
        threading.Thread(target=run_tool_call, args=(request_id, params), daemon=True).start()
    else:
        reply_error(request_id, -32601, f"Method not found: {method}")


def main():
    print("mcpchat demo server ready on stdio", file=sys.stderr, flush=True)
    for line in sys.stdin:  # ends on EOF, i.e. when the client closes our stdin
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            reply_error(None, -32700, "Parse error")
            continue
        handle(message)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
