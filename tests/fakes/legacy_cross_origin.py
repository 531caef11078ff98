#!/usr/bin/env python3
"""A legacy HTTP+SSE server (stdlib only) whose `endpoint` event names another origin.

Binds 127.0.0.1 on a free port, prints the port as the first stdout line, serves until killed.
POST answers 405 (no Streamable HTTP), so a client falls back to the 2024-11-05 transport; GET
opens an event stream whose `endpoint` event is http://localhost:PORT/messages?session=1 — the same
server under another host name, which is another origin. Every POST to it is counted in the
`X-Posts` header of the next GET, so a test can see that nothing was posted.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POSTS = 0
LOCK = threading.Lock()


class CrossOrigin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global POSTS
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/messages"):
            with LOCK:
                POSTS += 1
        body = b"method not allowed\n"
        self.send_response(405)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/posts":
            body = str(POSTS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        port = self.server.server_address[1]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        event = "event: endpoint\ndata: http://localhost:%d/messages?session=1\n\n" % port
        self.wfile.write(event.encode())
        self.wfile.flush()
        time.sleep(5)  # keep the stream open; the client hangs up first

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), CrossOrigin)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
