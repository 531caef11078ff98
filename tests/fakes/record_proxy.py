#!/usr/bin/env python3
"""Recording HTTP proxy (stdlib only): record_proxy.py UPSTREAM_BASE LOGFILE

Binds 127.0.0.1 on a free port and prints the port as the first stdout line (flushed). Every
request (any method and path) is forwarded to UPSTREAM_BASE (e.g. http://127.0.0.1:8123; a path
prefix in UPSTREAM_BASE is prepended) with its headers, minus hop-by-hop ones, and its body.
The response comes back unchanged: status, headers (minus hop-by-hop) and body. Bodies with a
Content-Length are relayed with that length; others (SSE streams, chunked responses) are relayed
chunk by chunk as they arrive, re-chunked with Transfer-Encoding: chunked, flushed after each
piece, so streams are never buffered whole. If the upstream breaks off mid-body, the proxy breaks
off the client connection too (no terminating chunk), so truncation stays visible.

Before forwarding, one JSON line is appended (and flushed) to LOGFILE:
    {"method": ..., "path": ..., "headers": {lowercased name: value}, "body": <parsed JSON or null>}

RECORD_PROXY_FAIL_FIRST="429,503" (optional) makes the first N requests, in arrival order, get the
listed statuses instead of being forwarded. A 429 carries `Retry-After: 0`; every injected reply
has the JSON body {"error": {"message": ..., "type": ...}} (429: "rate limited"/"rate_limit").
Injected requests are logged too, with an extra "injected_status" field. Later requests are
forwarded. If the upstream cannot be reached the proxy answers 502.
"""

import http.client
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}

INJECTED = {
    429: ("rate limited", "rate_limit"),
    500: ("internal error (injected)", "server_error"),
    502: ("bad gateway (injected)", "server_error"),
    503: ("service unavailable", "server_error"),
    504: ("gateway timeout (injected)", "server_error"),
}

_lock = threading.Lock()
_fail_plan = []  # statuses still to inject, consumed in order
_log = None
UPSTREAM = None  # urllib.parse.SplitResult


def _next_injected():
    with _lock:
        return _fail_plan.pop(0) if _fail_plan else None


def _write_log(entry):
    line = json.dumps(entry) + "\n"
    with _lock:
        _log.write(line)
        _log.flush()


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in extra_headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def handle_any(self):
        body = self._read_body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": parsed,
        }

        status = _next_injected()
        if status is not None:
            entry["injected_status"] = status
            _write_log(entry)
            message, kind = INJECTED.get(status, ("injected failure", "server_error"))
            extra = [("Retry-After", "0")] if status == 429 else []
            self._reply_json(status, {"error": {"message": message, "type": kind}}, extra)
            return
        _write_log(entry)
        self._forward(body)

    def _forward(self, body):
        conn_cls = http.client.HTTPSConnection if UPSTREAM.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(UPSTREAM.hostname, UPSTREAM.port, timeout=None)
        connection_tokens = {
            t.strip().lower() for t in (self.headers.get("Connection") or "").split(",") if t.strip()
        }
        headers = {}
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk in connection_tokens or lk in ("host", "content-length"):
                continue
            headers[k] = v
        headers["Host"] = UPSTREAM.netloc
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        path = UPSTREAM.path.rstrip("/") + self.path
        try:
            conn.request(self.command, path, body=body or None, headers=headers)
            resp = conn.getresponse()
        except OSError as e:
            conn.close()
            self._reply_json(502, {"error": {"message": f"record_proxy: upstream unreachable: {e}", "type": "proxy_error"}})
            return

        try:
            self._relay(resp)
        finally:
            conn.close()

    def _relay(self, resp):
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("Content-Length")
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk == "content-length":
                continue
            self.send_header(k, v)
        if no_body:
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            self.wfile.flush()
            return
        chunked = length is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", length)
        self.end_headers()
        self.wfile.flush()

        try:
            while True:
                piece = resp.read1(65536)
                if not piece:
                    break
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                self.wfile.flush()
        except (http.client.HTTPException, OSError):
            # Upstream broke off mid-body: break off the client side as well.
            self.close_connection = True
            return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        if resp.will_close and not chunked and length is None:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global _log, UPSTREAM
    if len(sys.argv) != 3:
        sys.exit("usage: record_proxy.py UPSTREAM_BASE LOGFILE")
    UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
    if UPSTREAM.scheme not in ("http", "https") or not UPSTREAM.hostname:
        sys.exit(f"record_proxy: bad UPSTREAM_BASE {sys.argv[1]!r}")
    plan = os.environ.get("RECORD_PROXY_FAIL_FIRST", "").strip()
    if plan:
        _fail_plan.extend(int(s) for s in plan.split(",") if s.strip())
    _log = open(sys.argv[2], "a", encoding="utf-8")
    server = Server(("127.0.0.1", 0), Proxy)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
