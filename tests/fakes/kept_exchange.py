#!/usr/bin/env python3
"""A daemon that keeps one fake server (stdlib only), to see what a kept-alive command sends
on the daemon's socket. Listens on argv[1], writes the pid file beside it (this pid, version
argv[3]), and appends every message's method to argv[2] (and `close` when it closes a
connection itself). Answers `initialize` as a server `fake` 1.0 with tools, `tools/list` with one tool
`echo`, and `tools/call` with the text "echoed". MODE (argv[4]): `answer` does all that;
`close-after-initialize` closes the connection right after answering `initialize`;
`refuse-after-initialize` stops reading right after answering it (shutdown of its reading side:
the command's next write fails with EPIPE) and closes the connection 2 s later. Serves
connections one after another until killed.
"""

import json
import os
import socket
import sys
import time

path, log, version, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o600)
server.listen(8)
with open(os.path.join(os.path.dirname(path), "daemon.pid"), "w") as f:
    json.dump({"pid": os.getpid(), "version": version}, f)
print("listening", flush=True)


def record(what):
    with open(log, "a") as out:
        out.write(what + "\n")


def answer(request):
    method = request.get("method")
    if method == "initialize":
        return {
            "protocolVersion": request["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake", "version": "1.0"},
        }
    if method == "tools/list":
        return {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}
    if method == "tools/call":
        return {"content": [{"type": "text", "text": "echoed"}]}
    return {}


while True:
    connection, _ = server.accept()
    for line in connection.makefile("rb"):
        request = json.loads(line)
        record(request.get("method", "?"))
        if "id" not in request:
            continue
        reply = {"jsonrpc": "2.0", "id": request["id"], "result": answer(request)}
        connection.sendall((json.dumps(reply) + "\n").encode())
        if mode == "close-after-initialize" and request.get("method") == "initialize":
            record("close")
            break
        if mode == "refuse-after-initialize" and request.get("method") == "initialize":
            connection.shutdown(socket.SHUT_RD)
            record("refuse")
            time.sleep(2)
            break
    connection.close()
