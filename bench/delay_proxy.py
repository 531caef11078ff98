#!/usr/bin/env python3
"""A reverse proxy that adds a fixed latency to every HTTP request (bench fan-out item).

    python3 bench/delay_proxy.py UPSTREAM_URL DELAY_MS COUNT

Listens on COUNT free ports on 127.0.0.1 (one threaded HTTP server each, so a client sees COUNT
distinct servers), prints the ports space-separated on the first line of stdout, and forwards
every request to UPSTREAM_URL's host:port (path and query kept) after sleeping DELAY_MS.
Responses are streamed back as they arrive (Streamable HTTP answers are SSE streams), chunked
when the upstream gave no Content-Length. Python stdlib only.
"""

import http.client
import http.server
import os
import socket
import sys
import threading
import time
import urllib.parse

# DELAY_PROXY_LOG=FILE: one line per request (monotonic time, port, method, JSON-RPC method).
LOG = open(os.environ["DELAY_PROXY_LOG"], "a") if os.environ.get("DELAY_PROXY_LOG") else None

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


def make_handler(upstream_host, upstream_port, delay):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, *args):  # quiet
            pass

        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if LOG:
                rpc = body[:200].decode(errors="replace").split('"method":"')[1].split('"')[0] if body and b'"method":"' in body else ""
                LOG.write(f"{time.monotonic():.4f} {self.server.server_address[1]} {self.command} {rpc}\n")
                LOG.flush()
            time.sleep(delay)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = f"{upstream_host}:{upstream_port}"
            upstream = http.client.HTTPConnection(upstream_host, upstream_port, timeout=120)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
                declared = response.getheader("Content-Length")
                if no_body:
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif declared is not None:
                    data = response.read()
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.flush()
                    while True:
                        data = response.read1(65536)
                        if not data:
                            break
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                self.close_connection = True
            except (ConnectionRefusedError, http.client.HTTPException) as error:
                self.close_connection = True
                try:
                    message = f"delay_proxy: upstream failed: {error}".encode()
                    self.send_response(502)
                    self.send_header("Content-Length", str(len(message)))
                    self.end_headers()
                    self.wfile.write(message)
                except OSError:
                    pass
            finally:
                upstream.close()

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _forward

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    upstream = urllib.parse.urlsplit(sys.argv[1])
    delay = float(sys.argv[2]) / 1000.0
    count = int(sys.argv[3])
    handler = make_handler(upstream.hostname, upstream.port or 80, delay)
    servers = [Server(("127.0.0.1", 0), handler) for _ in range(count)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(" ".join(str(s.server_address[1]) for s in servers), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
