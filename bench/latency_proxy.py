#!/usr/bin/env python3
"""A TCP proxy that makes a 127.0.0.1 server look remote, and logs every HTTP request.

    python3 bench/latency_proxy.py UPSTREAM_PORT RTT_MS [COUNT]

Listens on COUNT (default 1) free ports on 127.0.0.1 and prints them space-separated on the first
line of stdout. Every connection to one of them is relayed to 127.0.0.1:UPSTREAM_PORT with:
  - one RTT before the first byte moves (the TCP handshake a remote server costs), and
  - half an RTT on every piece of data, each way (arrival time + RTT/2, order kept), so one
    request/response exchange costs one RTT, as it would across a network.
There is no bandwidth limit and no reordering. Python stdlib only.

Each direction of a connection is a reader thread (it stamps every piece as it arrives) and a
sender thread that sleeps until the piece is due and passes it on. Threads, not asyncio: asyncio
waits in epoll with millisecond granularity (rounded up), so every delivery came up to 1 ms late,
about 1.5 ms per exchange and 4-10 ms per command in all; `time.sleep` is exact to about 0.1 ms.

LATENCY_PROXY_LOG=FILE appends one JSON line per HTTP request seen from a client:
    {"t": monotonic seconds, "port": listening port, "conn": connection number,
     "method": "POST", "path": "/mcp", "rpc": "tools/call" or null}
`rpc` is the JSON-RPC `method` of a POST body (null for GET/DELETE or a non-JSON body), so a
client's whole request pattern can be counted: `jq -r '.method + " " + (.rpc // "")' FILE`.

LATENCY_PROXY_TRACE=FILE appends one JSON line per piece of data, when it arrived and when it was
passed on, for a per-exchange timeline (`bench/timeline.py` reads it):
    {"conn": N, "dir": "up" (client to server) or "down", "bytes": N, "got": t, "sent": t, "head": "first 60 bytes"}
plus {"conn": N, "event": "accept" | "upstream_open" | "eof_up" | "eof_down", "t": t}.
"""

import json
import os
import socket
import sys
import threading
import time
from queue import SimpleQueue

LOG = open(os.environ["LATENCY_PROXY_LOG"], "a") if os.environ.get("LATENCY_PROXY_LOG") else None
TRACE = open(os.environ["LATENCY_PROXY_TRACE"], "a") if os.environ.get("LATENCY_PROXY_TRACE") else None
CONNECTIONS = 0


WRITING = threading.Lock()


def trace(**entry):
    if TRACE is not None:
        with WRITING:
            TRACE.write(json.dumps(entry) + "\n")
            TRACE.flush()


class RequestLog:
    """Finds HTTP/1.1 requests in the client's byte stream (Content-Length or chunked bodies)."""

    def __init__(self, port, conn):
        self.port, self.conn, self.buffer = port, conn, b""

    def feed(self, data):
        if LOG is None:
            return
        self.buffer += data
        while self.take_one():
            pass

    def take_one(self):
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, used = dechunk(self.buffer[start:])
            if body is None:
                return False
            rest = self.buffer[start + used :]
        else:
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < start + length:
                return False
            body, rest = self.buffer[start : start + length], self.buffer[start + length :]
        self.buffer = rest
        method, path = (head[0].split(" ") + ["", ""])[:2]
        rpc = None
        try:
            parsed = json.loads(body) if body else None
            rpc = parsed.get("method") if isinstance(parsed, dict) else None
        except ValueError:
            pass
        entry = {"t": time.monotonic(), "port": self.port, "conn": self.conn, "method": method, "path": path, "rpc": rpc}
        with WRITING:
            LOG.write(json.dumps(entry) + "\n")
            LOG.flush()
        return True


def dechunk(data):
    """(body, bytes used) of a complete chunked body, else (None, 0)."""
    body, pos = b"", 0
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None, 0
        size = int(data[pos:line_end].split(b";")[0] or b"0", 16)
        pos = line_end + 2
        if size == 0:
            trailer_end = data.find(b"\r\n", pos)
            return (body, trailer_end + 2) if trailer_end >= 0 else (None, 0)
        if len(data) < pos + size + 2:
            return None, 0
        body += data[pos : pos + size]
        pos += size + 2


def pump(source, sink, delay, label, on_data=None):
    """Copy source to sink, each piece delivered `delay` seconds after it arrived; returns the
    sender thread (it ends after passing on the end of the stream)."""
    queue = SimpleQueue()
    conn, direction = label

    def read():
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            queue.put((time.monotonic() + delay, data))
            if not data:
                return
            if on_data:
                on_data(data)

    def deliver():
        while True:
            due, data = queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
            trace(conn=conn, dir=direction, bytes=len(data), got=due - delay, sent=time.monotonic(),
                  head=data[:60].decode("latin-1"))
        trace(conn=conn, event="eof_" + direction, t=time.monotonic())
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=read, daemon=True).start()
    sender = threading.Thread(target=deliver, daemon=True)
    sender.start()
    return sender


def relay(client, conn, port, upstream_port, rtt):
    log = RequestLog(port, conn)
    trace(conn=conn, event="accept", t=time.monotonic())
    time.sleep(rtt)  # the handshake of a remote connection
    try:
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
    except OSError:
        client.close()
        return
    trace(conn=conn, event="upstream_open", t=time.monotonic())
    for s in (upstream, client):
        # Small writes go out at once: Nagle plus delayed ACKs would add ~40 ms here and there.
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    senders = [
        pump(client, upstream, rtt / 2, (conn, "up"), log.feed),
        pump(upstream, client, rtt / 2, (conn, "down")),
    ]
    for sender in senders:
        sender.join()
    upstream.close()
    client.close()


def serve(listener, upstream_port, rtt):
    global CONNECTIONS
    port = listener.getsockname()[1]
    while True:
        client, _ = listener.accept()
        with WRITING:
            CONNECTIONS += 1
            conn = CONNECTIONS
        threading.Thread(target=relay, args=(client, conn, port, upstream_port, rtt), daemon=True).start()


def main():
    upstream_port, rtt = int(sys.argv[1]), float(sys.argv[2]) / 1000
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    listeners = [socket.create_server(("127.0.0.1", 0), backlog=128) for _ in range(count)]
    print(" ".join(str(s.getsockname()[1]) for s in listeners), flush=True)
    threads = [threading.Thread(target=serve, args=(s, upstream_port, rtt), daemon=True) for s in listeners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
