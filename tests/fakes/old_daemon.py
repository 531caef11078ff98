#!/usr/bin/env python3
"""A daemon of another mcpchat version (stdlib only): listens on the socket given as argv[1],
answers `io.mcpchat/status` with version 0.0.1 and no servers, and `io.mcpchat/stop` by
answering, removing its socket and exiting. Every method it is sent is appended to argv[2].
"""

import json
import os
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o600)
server.listen(8)
print("listening", flush=True)
while True:
    connection, _ = server.accept()
    line = connection.makefile("rb").readline()
    request = json.loads(line)
    with open(log, "a") as out:
        out.write(request.get("method", "") + "\n")
    result = {"pid": os.getpid(), "version": "0.0.1", "servers": []}
    answer = {"jsonrpc": "2.0", "id": request.get("id"), "result": result}
    connection.sendall((json.dumps(answer) + "\n").encode())
    connection.close()
    if request.get("method") == "io.mcpchat/stop":
        os.unlink(path)
        sys.exit(0)
