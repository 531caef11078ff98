#!/usr/bin/env python3
"""A minimal OAuth-protected MCP resource server (Python stdlib only), for the pre-registered
client path against an authorization server without dynamic registration (oauth2-mock-server):

    python3 tests/peers/protected_echo.py --issuer http://127.0.0.1:AS_PORT [--port-file F]
        [--port 0] [--scope mcp:tools] [--no-verify] [--dpop] [--dpop-nonce]

Prints its MCP URL (http://127.0.0.1:PORT/mcp) on stdout once listening; with --port-file the port
is also written there (atomically).

* POST /mcp without a valid Bearer -> 401 with
  `WWW-Authenticate: Bearer resource_metadata="http://127.0.0.1:PORT/.well-known/oauth-protected-resource/mcp"`
  (plus error="invalid_token" when a token was sent, and scope="..." when --scope is given).
* GET /.well-known/oauth-protected-resource/mcp (and at the root) -> {"resource": ".../mcp",
  "authorization_servers": [ISSUER exactly as given], ...}.
* A token is valid when it is a JWT whose `iss` equals ISSUER, that has not expired, and whose RS256
  signature checks against the issuer's JWKS (found through ISSUER/.well-known/openid-configuration;
  --no-verify skips the signature).
* Streamable HTTP, stateless, plain JSON responses (no session id, no SSE): initialize, ping,
  tools/list, tools/call; notifications get 202; GET and DELETE get 405.
  One tool, `whoami` (no arguments), returns the token's claims {iss, sub, client_id, aud, scope, exp}
  as JSON text and as structuredContent.
* --dpop: DPoP (RFC 9449) as well. The challenge offers both schemes (`Bearer ..., DPoP
  algs="ES256"`); `Authorization: DPoP <token>` needs a DPoP proof (ES256, checked in pure Python:
  typ, jwk without private part, signature, htm, htu, iat within 5 min, unique jti, ath) whose key's
  RFC 7638 thumbprint equals the token's cnf.jkt; a token with cnf.jkt sent as Bearer is refused.
  whoami then also returns {"scheme": "DPoP", "jkt": thumbprint}. --dpop-nonce: proofs must carry
  this server's nonce, else 401 `DPoP error="use_dpop_nonce"` with a `DPoP-Nonce` header.
  GET /dpop-stats -> {"nonce_challenges": N, "dpop_requests": N} (no auth).
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
# DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

WHOAMI = {
    "name": "whoami",
    "title": "Who am I",
    "description": "Returns the claims of the access token the request was made with",
    "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
    "outputSchema": {
        "type": "object",
        "properties": {
            "iss": {"type": "string"},
            "sub": {"type": "string"},
            "client_id": {"type": "string"},
            "aud": {},
            "scope": {"type": "string"},
            "exp": {"type": "integer"},
        },
    },
}


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidToken(Exception):
    pass


class NeedNonce(Exception):
    pass


# NIST P-256 (FIPS 186-4 D.1.2.3), for verifying ES256 DPoP proofs without third-party modules.
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B


def ec_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def ec_mul(k, point):
    result = None
    while k:
        if k & 1:
            result = ec_add(result, point)
        point = ec_add(point, point)
        k >>= 1
    return result


def es256_verify(x, y, message, signature):
    if len(signature) != 64 or (y * y - (x * x * x + A * x + B)) % P != 0:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < N and 0 < s < N):
        return False
    e = int.from_bytes(hashlib.sha256(message).digest(), "big")
    w = pow(s, -1, N)
    point = ec_add(ec_mul(e * w % N, G), ec_mul(r * w % N, (x, y)))
    return point is not None and point[0] % N == r


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check_proof(proof, method, url, token, seen_jtis, nonce):
    """RFC 9449 §4.3 checks of one proof; returns the RFC 7638 thumbprint of its key."""
    parts = proof.split(".")
    if len(parts) != 3:
        raise InvalidToken("DPoP proof is not a JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except Exception:
        raise InvalidToken("malformed DPoP proof")
    jwk = header.get("jwk") or {}
    if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
        raise InvalidToken("DPoP proof: typ must be dpop+jwt and alg ES256")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk:
        raise InvalidToken("DPoP proof: jwk must be a public P-256 key")
    x = int.from_bytes(b64url_decode(jwk["x"]), "big")
    y = int.from_bytes(b64url_decode(jwk["y"]), "big")
    if not es256_verify(x, y, (parts[0] + "." + parts[1]).encode(), signature):
        raise InvalidToken("DPoP proof signature does not verify")
    if claims.get("htm") != method or claims.get("htu") != url:
        raise InvalidToken(f"DPoP proof htm/htu {claims.get('htm')} {claims.get('htu')} != {method} {url}")
    if not isinstance(claims.get("iat"), int) or abs(time.time() - claims["iat"]) > 300:
        raise InvalidToken("DPoP proof iat outside the window")
    if claims.get("ath") != b64url(hashlib.sha256(token.encode()).digest()):
        raise InvalidToken("DPoP proof ath does not match the token")
    jti = claims.get("jti")
    if not isinstance(jti, str) or jti in seen_jtis:
        raise InvalidToken("DPoP proof jti missing or replayed")
    seen_jtis.add(jti)
    if nonce is not None and claims.get("nonce") != nonce:
        raise NeedNonce()
    canonical = json.dumps({"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


class Verifier:
    def __init__(self, issuer, verify_signature):
        self.issuer = issuer
        self.verify_signature = verify_signature
        self.keys = {}
        self.lock = threading.Lock()

    def fetch_keys(self):
        with urllib.request.urlopen(self.issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=5) as r:
            jwks_uri = json.load(r)["jwks_uri"]
        with urllib.request.urlopen(jwks_uri, timeout=5) as r:
            jwks = json.load(r)
        self.keys = {k.get("kid"): k for k in jwks.get("keys", []) if k.get("kty") == "RSA"}

    def key_for(self, kid):
        with self.lock:
            if kid not in self.keys:
                try:
                    self.fetch_keys()
                except Exception as e:  # the AS is down or not OIDC: the token cannot be checked
                    raise InvalidToken(f"cannot fetch the issuer's keys: {e}")
            key = self.keys.get(kid)
        if key is None:
            raise InvalidToken("unknown signing key")
        return key

    def check_signature(self, header, signing_input, signature):
        if header.get("alg") != "RS256":
            raise InvalidToken(f"unsupported alg {header.get('alg')!r}")
        key = self.key_for(header.get("kid"))
        n = int.from_bytes(b64url_decode(key["n"]), "big")
        e = int.from_bytes(b64url_decode(key["e"]), "big")
        k = (n.bit_length() + 7) // 8
        if len(signature) != k:
            raise InvalidToken("bad signature")
        em = pow(int.from_bytes(signature, "big"), e, n).to_bytes(k, "big")
        t = SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
        expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        if em != expected:
            raise InvalidToken("bad signature")

    def verify(self, token):
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a JWT")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except Exception:
            raise InvalidToken("malformed JWT")
        if not isinstance(claims, dict):
            raise InvalidToken("malformed JWT")
        if claims.get("iss") != self.issuer:
            raise InvalidToken(f"wrong issuer {claims.get('iss')!r}")
        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            raise InvalidToken("token expired")
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 30:
            raise InvalidToken("token not yet valid")
        if self.verify_signature:
            self.check_signature(header, (parts[0] + "." + parts[1]).encode(), signature)
        return claims


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "protected-echo/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("protected_echo: " + (fmt % args) + "\n")

    # -- helpers -----------------------------------------------------------------------------
    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def send(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def challenge(self, error=None, description=None):
        params = []
        if error:
            params.append(f'error="{error}"')
        if description:
            params.append('error_description="{}"'.format(description.replace('"', "'")))
        params.append(f'resource_metadata="{self.base}/.well-known/oauth-protected-resource/mcp"')
        if self.server.scope:
            params.append(f'scope="{self.server.scope}"')
        body = {"error": error or "invalid_token", "error_description": description or "Missing Authorization header"}
        value = "Bearer " + ", ".join(params)
        if self.server.dpop:
            value += ', DPoP algs="ES256"'
        self.send(401, body, [("WWW-Authenticate", value)])

    def authorize(self):
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        dpop = self.server.dpop and scheme.lower() == "dpop"
        if not (scheme.lower() == "bearer" or dpop) or not token:
            self.challenge()
            return None
        try:
            claims = self.server.verifier.verify(token)
            jkt = (claims.get("cnf") or {}).get("jkt")
            if not dpop:
                if jkt is not None:
                    raise InvalidToken("a DPoP-bound token sent as a Bearer token")
                return claims
            proofs = self.headers.get_all("DPoP") or []
            if len(proofs) != 1:
                raise InvalidToken("exactly one DPoP proof header is needed")
            self.server.stats["dpop_requests"] += 1
            url = self.base + self.path.split("?", 1)[0].split("#", 1)[0]
            with self.server.jti_lock:
                thumbprint = check_proof(proofs[0], self.command, url, token, self.server.jtis, self.server.nonce)
            if thumbprint != jkt:
                raise InvalidToken("the proof's key is not the one the token is bound to")
            return {**claims, "scheme": "DPoP", "jkt": thumbprint}
        except NeedNonce:
            self.server.stats["nonce_challenges"] += 1
            self.send(401, {"error": "use_dpop_nonce"}, [
                ("WWW-Authenticate", 'DPoP error="use_dpop_nonce", error_description="a nonce is required"'),
                ("DPoP-Nonce", self.server.nonce),
            ])
            return None
        except InvalidToken as e:
            self.challenge("invalid_token", str(e))
            return None

    # -- routes ------------------------------------------------------------------------------
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
            prm = {
                "resource": self.base + "/mcp",
                "authorization_servers": [self.server.issuer],
                "bearer_methods_supported": ["header"],
                "resource_name": "protected-echo",
            }
            if self.server.scope:
                prm["scopes_supported"] = self.server.scope.split()
            if self.server.dpop:
                prm["dpop_signing_alg_values_supported"] = ["ES256"]
            self.send(200, prm)
        elif path == "/dpop-stats":
            self.send(200, self.server.stats)
        elif path == "/mcp":
            if self.authorize() is not None:
                self.send(405, {"error": "this server offers no SSE stream"}, [("Allow", "POST")])
        else:
            self.send(404, {"error": "not found"})

    def do_DELETE(self):
        if self.path.split("?", 1)[0] == "/mcp":
            if self.authorize() is not None:
                self.send(405, {"error": "stateless server: no session to delete"}, [("Allow", "POST")])
        else:
            self.send(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?", 1)[0] != "/mcp":
            self.send(404, {"error": "not found"})
            return
        claims = self.authorize()
        if claims is None:
            return
        try:
            message = json.loads(raw)
        except Exception:
            self.send(400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
            return
        batch = isinstance(message, list)
        replies = [r for r in (self.rpc(m, claims) for m in (message if batch else [message])) if r is not None]
        if not replies:
            self.send(202)
        else:
            self.send(200, replies if batch else replies[0])

    def rpc(self, msg, claims):
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0" or not isinstance(msg.get("method"), str):
            if isinstance(msg, dict) and "method" not in msg and ("result" in msg or "error" in msg):
                return None  # a response from the client: nothing to answer
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}}
        if "id" not in msg:
            return None  # notification
        mid, method, params = msg["id"], msg["method"], msg.get("params") or {}

        def ok(result):
            return {"jsonrpc": "2.0", "id": mid, "result": result}

        def err(code, message):
            return {"jsonrpc": "2.0", "id": mid, "error": {"code": code, "message": message}}

        if method == "initialize":
            asked = params.get("protocolVersion")
            return ok({
                "protocolVersion": asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "protected-echo", "version": "1.0.0"},
            })
        if method == "ping":
            return ok({})
        if method == "tools/list":
            return ok({"tools": [WHOAMI]})
        if method == "tools/call":
            if params.get("name") != "whoami":
                return err(-32602, f"Unknown tool: {params.get('name')}")
            who = {k: claims[k] for k in ("iss", "sub", "client_id", "aud", "scope", "exp", "scheme", "jkt") if k in claims}
            return ok({"content": [{"type": "text", "text": json.dumps(who)}], "structuredContent": who})
        return err(-32601, f"Method not found: {method}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--issuer", required=True, help="the AS issuer, exactly as its tokens' iss says")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--scope", default="mcp:tools", help="scopes_supported / challenge scope ('' for none)")
    ap.add_argument("--no-verify", action="store_true", help="skip the JWT signature check")
    ap.add_argument("--dpop", action="store_true", help="accept DPoP-bound tokens (RFC 9449)")
    ap.add_argument("--dpop-nonce", action="store_true", help="with --dpop: demand a nonce in proofs")
    args = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.issuer = args.issuer
    server.scope = args.scope
    server.verifier = Verifier(args.issuer, not args.no_verify)
    server.dpop = args.dpop or args.dpop_nonce
    server.nonce = b64url(os.urandom(16)) if args.dpop_nonce else None
    server.jtis = set()
    server.jti_lock = threading.Lock()
    server.stats = {"nonce_challenges": 0, "dpop_requests": 0}
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"http://127.0.0.1:{port}/mcp", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
