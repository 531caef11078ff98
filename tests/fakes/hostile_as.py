#!/usr/bin/env python3
"""An MCP server behind a hostile OAuth authorization server (stdlib only): hostile_as.py MODE

Binds 127.0.0.1 on a free port, prints the port as the first stdout line, serves until killed.
/mcp answers 401 with an RFC 9728 challenge; the protected resource metadata names this same
origin as the authorization server, whose RFC 8414 metadata offers PKCE S256, dynamic
registration (/register, a public client) and the device grant (/device). What is hostile
depends on MODE:

  file_endpoint      authorization_endpoint is file:///etc/passwd
  scheme_endpoint    authorization_endpoint is evil-app://authorize (a custom scheme)
  device_file        the device authorization names verification_uri file:///etc/passwd
  device_http        verification_uri is http://example.com/device (plain http, not loopback)
  device_complete    verification_uri is fine, verification_uri_complete is javascript:alert(1)
  device_escapes     verification_uri https://example.com/device, a user_code and (at the
                     first poll) an access_denied error_description full of terminal escapes

HOSTILE_AS_LOG (optional): each request's method and path is appended to that file as a line.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("file_endpoint", "scheme_endpoint", "device_file", "device_http", "device_complete", "device_escapes")
EVIL = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\rX\u202eevil"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def origin(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def metadata(self):
        endpoint = {
            "file_endpoint": "file:///etc/passwd",
            "scheme_endpoint": "evil-app://authorize",
        }.get(MODE, self.origin() + "/authorize")
        return {
            "issuer": self.origin(),
            "authorization_endpoint": endpoint,
            "token_endpoint": self.origin() + "/token",
            "registration_endpoint": self.origin() + "/register",
            "device_authorization_endpoint": self.origin() + "/device",
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "grant_types_supported": ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"],
            "response_types_supported": ["code"],
        }

    def device(self):
        uri, complete = {
            "device_file": ("file:///etc/passwd", None),
            "device_http": ("http://example.com/device", None),
            "device_complete": ("https://example.com/device", "javascript:alert(1)"),
        }.get(MODE, ("https://example.com/device", None))
        body = {
            "device_code": "device-code-1234",
            "user_code": "AB" + EVIL if MODE == "device_escapes" else "ABCD-EFGH",
            "verification_uri": uri,
            "expires_in": 60,
            "interval": 1,
        }
        if complete:
            body["verification_uri_complete"] = complete
        return body

    def handle_any(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0]
        log = os.environ.get("HOSTILE_AS_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write("%s %s\n" % (self.command, path))
        if path.startswith("/.well-known/oauth-protected-resource"):
            self.reply(200, {"resource": self.origin() + "/mcp", "authorization_servers": [self.origin()]})
        elif path.startswith("/.well-known/oauth-authorization-server") or path.startswith("/.well-known/openid-configuration"):
            self.reply(200, self.metadata())
        elif path == "/register":
            self.reply(201, {"client_id": "hostile-client", "token_endpoint_auth_method": "none"})
        elif path == "/device":
            self.reply(200, self.device())
        elif path == "/token":
            self.reply(400, {"error": "access_denied", "error_description": "denied" + EVIL})
        elif path == "/mcp":
            challenge = 'Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp"' % self.origin()
            self.reply(401, {"error": "unauthorized"}, [("WWW-Authenticate", challenge)])
        else:
            self.reply(404, {"error": "not_found"})

    do_GET = do_POST = do_DELETE = handle_any

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    MODE = sys.argv[1] if len(sys.argv) > 1 else ""
    if MODE not in MODES:
        sys.exit("usage: hostile_as.py " + "|".join(MODES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
