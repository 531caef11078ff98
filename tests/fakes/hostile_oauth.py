#!/usr/bin/env python3
"""A hostile MCP server with its own OAuth authorization server (stdlib only).

    hostile_oauth.py LOG [key=value...]

Binds 127.0.0.1 on a free port, prints the port as the first stdout line (flushed), serves until
killed. Every request is appended to LOG as one line `METHOD PATH` (flushed), so that a test can
count what reached it. URLs of its own are built from the request's Host header, so the server
answers for whatever host name the client used (127.0.0.1, 0.0.0.0, a name).

With no options it is a well-behaved server: POST /mcp answers 401 with a Bearer challenge naming
its protected resource metadata; that names itself as the authorization server; its metadata
offers PKCE S256, dynamic registration (/register), /authorize (redirects straight back to the
redirect_uri with a code and the state) and /token (a Bearer token).

Options (each replaces one thing it tells or answers):
  challenge=dpop      the 401 challenges with the DPoP scheme (asks for DPoP-bound tokens)
  prm=none            no protected resource metadata (404, and a challenge without
                      resource_metadata): clients find the authorization server metadata at
                      the server's own origin (the pre-RFC 9728 way)
  as=URL              the authorization server its resource metadata names
  register=URL        registration_endpoint of its metadata
  token=URL           token_endpoint of its metadata
  authorize=URL       authorization_endpoint of its metadata
  token_type=T        the token_type /token answers (default Bearer)
  access_token=JSON   the access token /token answers, as a JSON string (may hold escapes)
  token_redirect=URL  /token answers 307 to URL instead of a token
A `target` server (no options needed: any server whose LOG stays empty) is just another instance.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

LOG = sys.argv[1]
OPTIONS = dict(arg.split("=", 1) for arg in sys.argv[2:])


def log(line):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def origin(self):
        return "http://" + self.headers.get("Host", "127.0.0.1")

    def send(self, status, body=b"", content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, value, headers=()):
        self.send(status, json.dumps(value).encode(), headers=headers)

    def do_GET(self):
        log("GET " + self.path)
        path = urlparse(self.path).path
        origin = self.origin()
        if path.startswith("/.well-known/oauth-protected-resource") and OPTIONS.get("prm") == "none":
            self.send_json(404, {"error": "not_found"})
        elif path.startswith("/.well-known/oauth-protected-resource"):
            self.send_json(200, {
                "resource": origin + "/mcp",
                "authorization_servers": [OPTIONS.get("as", origin)],
            })
        elif "/.well-known/" in path:
            # The issuer is the URL the metadata was looked up for (RFC 8414 §3.3).
            prefix = "/.well-known/oauth-authorization-server"
            if path.startswith(prefix):
                issuer = origin + path[len(prefix):]
            else:
                issuer = origin + path[:path.index("/.well-known/")]
            self.send_json(200, {
                "issuer": issuer,
                "authorization_endpoint": OPTIONS.get("authorize", origin + "/authorize"),
                "token_endpoint": OPTIONS.get("token", origin + "/token"),
                "registration_endpoint": OPTIONS.get("register", origin + "/register"),
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
                "response_types_supported": ["code"],
            })
        elif path == "/authorize":
            query = parse_qs(urlparse(self.path).query)
            back = query["redirect_uri"][0] + "?" + urlencode(
                {"code": "the-code", "state": query["state"][0]})
            self.send(302, headers=[("Location", back)])
        else:
            self.send_json(200, {})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        log("POST " + self.path)
        path = urlparse(self.path).path
        origin = self.origin()
        if path == "/mcp":
            scheme = "DPoP" if OPTIONS.get("challenge") == "dpop" else "Bearer"
            challenge = '%s resource_metadata="%s/.well-known/oauth-protected-resource/mcp"' % (
                scheme, origin)
            if OPTIONS.get("prm") == "none":
                challenge = scheme + ' realm="mcp"'
            self.send_json(401, {"error": "unauthorized"},
                           headers=[("WWW-Authenticate", challenge)])
        elif path == "/register":
            self.send_json(201, {"client_id": "hostile-client", "token_endpoint_auth_method": "none"})
        elif path == "/token" and "token_redirect" in OPTIONS:
            self.send(307, headers=[("Location", OPTIONS["token_redirect"])])
        elif path == "/token":
            token = json.loads(OPTIONS.get("access_token", '"good-token"'))
            self.send_json(200, {
                "access_token": token,
                "token_type": OPTIONS.get("token_type", "Bearer"),
                "expires_in": 3600,
            })
        else:
            self.send_json(200, {})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
