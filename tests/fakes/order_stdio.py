#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) that answers tool calls concurrently, one thread each, and
writes down when each call starts and ends, to see the order a batch sends its lines in.

    order_stdio.py LOG

Tools: `step` {name, sleep_ms} -> writes "start NAME" to LOG, sleeps, writes "end NAME",
answers NAME; `wait` {file} -> answers once FILE exists (isError after 20 s without it);
`release` {file} -> creates FILE.
"""

import json
import os
import sys
import threading
import time

LOG = sys.argv[1]
lock = threading.Lock()
OBJECT = {"type": "object"}
TOOLS = [{"name": name, "inputSchema": OBJECT} for name in ("step", "wait", "release")]


def note(text):
    with lock, open(LOG, "a", encoding="utf-8") as f:
        f.write(text + "\n")


def send(msg_id, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": msg_id}
    msg.update({"error": error} if error else {"result": result})
    with lock:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()


def text(value, is_error=False):
    return {"content": [{"type": "text", "text": value}], "isError": is_error}


def call(msg_id, name, args):
    if name == "step":
        note("start " + args["name"])
        time.sleep(args.get("sleep_ms", 0) / 1000)
        note("end " + args["name"])
        send(msg_id, text(args["name"]))
    elif name == "wait":
        deadline = time.monotonic() + 20
        while not os.path.exists(args["file"]):
            if time.monotonic() > deadline:
                send(msg_id, text("never released", True))
                return
            time.sleep(0.01)
        send(msg_id, text("released"))
    elif name == "release":
        open(args["file"], "w").close()
        send(msg_id, text("done"))


def main():
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
                "serverInfo": {"name": "order_stdio", "version": "1.0.0"},
            })
        elif method == "tools/list":
            send(msg["id"], {"tools": TOOLS})
        elif method == "tools/call":
            args = params.get("arguments") or {}
            threading.Thread(target=call, args=(msg["id"], params["name"], args), daemon=True).start()
        else:
            send(msg["id"], error={"code": -32601, "message": f"Method not found: {method}"})


main()
