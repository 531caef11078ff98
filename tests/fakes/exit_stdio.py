#!/usr/bin/env python3
"""Stdio MCP fake (stdlib only) for how a command ends its stdio servers.

    exit_stdio.py DIR linger   # keeps running after stdin closes; starts a grandchild (`sleep`)
    exit_stdio.py DIR leave    # exits at once when stdin closes

It writes its PID to DIR/server.pid (and the grandchild's to DIR/grandchild.pid), and every
SIGTERM it receives as a line in DIR/signals before exiting. One tool: `echo` -> its `message`.
"""

import json
import os
import signal
import subprocess
import sys
import time

DIR, MODE = sys.argv[1], sys.argv[2]


def write(name, text, mode="w"):
    with open(os.path.join(DIR, name), mode, encoding="utf-8") as f:
        f.write(text)


def on_term(_signum, _frame):
    write("signals", "TERM\n", "a")
    os._exit(0)


def send(msg_id, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": msg_id}
    msg.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def answer(msg):
    method, params = msg["method"], msg.get("params") or {}
    if method == "initialize":
        send(msg["id"], {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "exit_stdio", "version": "1.0.0"},
        })
    elif method == "ping":
        send(msg["id"], {})
    elif method == "tools/list":
        schema = {"type": "object", "properties": {"message": {"type": "string"}}}
        send(msg["id"], {"tools": [{"name": "echo", "inputSchema": schema}]})
    elif method == "tools/call":
        text = str((params.get("arguments") or {}).get("message", ""))
        send(msg["id"], {"content": [{"type": "text", "text": text}]})
    else:
        send(msg["id"], error={"code": -32601, "message": f"Method not found: {method}"})


def main():
    signal.signal(signal.SIGTERM, on_term)
    write("server.pid", str(os.getpid()))
    if MODE == "linger":
        # In our process group, holding our stdout and stderr open, like npx's node.
        grandchild = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL)
        write("grandchild.pid", str(grandchild.pid))
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        if "id" in msg and "method" in msg:
            answer(msg)
    if MODE == "leave":
        os._exit(0)
    while True:  # stdin closed: linger until signalled
        time.sleep(1)


main()
