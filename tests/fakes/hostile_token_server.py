#!/usr/bin/env python3
"""An authorization server whose token responses carry a hostile `expires_in` (stdlib only):

    python3 tests/fakes/hostile_token_server.py EXPIRES_IN_JSON LOG_FILE

Binds 127.0.0.1 on a free port and prints the port as the first stdout line (flushed); its issuer
is http://127.0.0.1:PORT. Serves until killed:

* GET /.well-known/oauth-authorization-server and /.well-known/openid-configuration -> metadata
  with token_endpoint ISSUER/token (client_credentials, client_secret_post and _basic).
* POST /token -> 200 {"access_token": JWT, "token_type": "Bearer", "expires_in": EXPIRES_IN_JSON}
  where EXPIRES_IN_JSON is put into the body verbatim (so `18446744073709551615`, `1e400`, `-1` or
  `"soon"` reach the client exactly as written). The JWT is unsigned (alg none; use
  protected_echo.py --no-verify) with iss ISSUER, sub/client_id from the request (body or HTTP Basic), exp now + 3600.
  Every token request appends one line (its form body as JSON) to LOG_FILE, flushed.
"""

import base64
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(claims):
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return header + "." + b64(json.dumps(claims).encode()) + "."


def basic_client(header):
    if not header.lower().startswith("basic "):
        return "client"
    decoded = base64.b64decode(header[6:].strip()).decode()
    return urllib.parse.unquote(decoded.split(":", 1)[0])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self):
        if self.path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
            meta = {
                "issuer": ISSUER,
                "token_endpoint": ISSUER + "/token",
                "authorization_endpoint": ISSUER + "/authorize",
                "jwks_uri": ISSUER + "/jwks",
                "response_types_supported": ["code"],
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["none"],
            }
            self.reply(200, json.dumps(meta).encode())
        elif self.path == "/jwks":
            self.reply(200, b'{"keys": []}')
        else:
            self.reply(404, b'{"error": "not_found"}')

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        if self.path != "/token":
            self.reply(404, b'{"error": "not_found"}')
            return
        with _lock, open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(form) + "\n")
            f.flush()
        client = form.get("client_id") or basic_client(self.headers.get("Authorization", ""))
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": client, "client_id": client, "iat": now, "exp": now + 3600,
                  "scope": form.get("scope", "")}
        if "resource" in form:
            claims["aud"] = form["resource"]
        body = '{"access_token": %s, "token_type": "Bearer", "expires_in": %s}' % (
            json.dumps(unsigned_jwt(claims)),
            EXPIRES_IN,
        )
        self.reply(200, body.encode())


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: hostile_token_server.py EXPIRES_IN_JSON LOG_FILE")
    EXPIRES_IN, LOG = sys.argv[1], sys.argv[2]
    server = Server(("127.0.0.1", 0), Handler)
    ISSUER = "http://127.0.0.1:%d" % server.server_address[1]
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
