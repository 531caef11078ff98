#!/usr/bin/env python3
"""HTTP fault fake (stdlib only): fault_http.py hang|http500|badjson|http401|http403

Binds 127.0.0.1 on a free port, prints the port as the first stdout line, serves until killed.
  hang     accepts connections and reads, but never answers
  http500  every request gets HTTP 500 with a short text body
  http401  every request gets 401 with a JSON body and no WWW-Authenticate challenge
           (what token-in-URL gateways answer for a bad token)
  http403  every request gets 403 with a text reason and no WWW-Authenticate challenge (what
           server-everything answers to a request from a host it does not serve)
  badjson  every POST gets 200 application/json with the body `{not json` (other methods: 405)
"""

import socketserver
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hang(socketserver.BaseRequestHandler):
    def handle(self):
        while self.request.recv(65536):  # read until the client gives up; never reply
            pass


class Faulty(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        # Drain the request body so keep-alive connections stay in sync.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if MODE == "http500":
            self.reply(500, "text/plain", b"internal error (fault_http)\n")
        elif MODE == "http401":
            self.reply(401, "application/json", b'{"error": "invalid token"}')
        elif MODE == "http403":
            self.reply(403, "text/plain", b"Access is only allowed at localhost:3001\n")
        elif self.command == "POST":
            self.reply(200, "application/json", b"{not json")
        else:  # badjson: no GET stream, no DELETE
            self.reply(405, "text/plain", b"method not allowed (fault_http)\n")

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = handle_any

    def log_message(self, *args):
        pass


class ThreadingTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    MODE = sys.argv[1] if len(sys.argv) > 1 else ""
    if MODE not in ("hang", "http500", "badjson", "http401", "http403"):
        sys.exit("usage: fault_http.py hang|http500|badjson|http401|http403")
    if MODE == "hang":
        server = ThreadingTCPServer(("127.0.0.1", 0), Hang)
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Faulty)
        server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
