#!/usr/bin/env python3
"""A TCP proxy that makes a 127.0.0.1 server look remote, and logs every HTTP request.

    python3 bench/latency_proxy.py UPSTREAM_PORT RTT_MS [COUNT]

Listens on COUNT (default 1) free ports on 127.0.0.1 and prints them space-separated on the first
line of stdout. Every connection to one of them is relayed to 127.0.0.1:UPSTREAM_PORT with:
  - one RTT before the first byte moves (the TCP handshake a remote server costs), and
  - half an RTT on every piece of data, each way (arrival time + RTT/2, order kept), so one
    request/response exchange costs one RTT, as it would across a network.
There is no bandwidth limit and no reordering. Python stdlib (asyncio) only.

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

import asyncio
import json
import os
import socket
import sys
import time

LOG = open(os.environ["LATENCY_PROXY_LOG"], "a") if os.environ.get("LATENCY_PROXY_LOG") else None
TRACE = open(os.environ["LATENCY_PROXY_TRACE"], "a") if os.environ.get("LATENCY_PROXY_TRACE") else None
CONNECTIONS = 0


def trace(**entry):
    if TRACE is not None:
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


async def pump(reader, writer, delay, on_data=None, label=None):
    """Copy reader to writer, each piece delivered `delay` seconds after it arrived."""
    queue = asyncio.Queue()
    conn, direction = label or (0, "?")

    async def deliver():
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
            trace(conn=conn, dir=direction, bytes=len(data), got=due - delay, sent=time.monotonic(),
                  head=data[:60].decode("latin-1"))
        trace(conn=conn, event="eof_" + direction, t=time.monotonic())
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.create_task(deliver())
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            if on_data and data:
                on_data(data)
            # loop.time() is time.monotonic() on the default loop: one clock for the trace.
            await queue.put((loop.time() + delay, data or None))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()


def handler(where, upstream_port, rtt):
    async def handle(client_reader, client_writer):
        global CONNECTIONS
        CONNECTIONS += 1
        conn = CONNECTIONS
        log = RequestLog(where.get("port"), conn)
        trace(conn=conn, event="accept", t=time.monotonic())
        await asyncio.sleep(rtt)  # the handshake of a remote connection
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        trace(conn=conn, event="upstream_open", t=time.monotonic())
        for w in (up_writer, client_writer):
            # Small writes go out at once: Nagle plus delayed ACKs would add ~40 ms here and there.
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(
                pump(client_reader, up_writer, rtt / 2, log.feed, (conn, "up")),
                pump(up_reader, client_writer, rtt / 2, None, (conn, "down")),
            )
        finally:
            for w in (up_writer, client_writer):
                w.close()

    return handle


async def main():
    upstream_port, rtt = int(sys.argv[1]), float(sys.argv[2]) / 1000
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    servers = []
    for _ in range(count):
        where = {}
        server = await asyncio.start_server(handler(where, upstream_port, rtt), "127.0.0.1", 0)
        where["port"] = server.sockets[0].getsockname()[1]
        servers.append(server)
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
