"""MCP test peer: the Python `mcp` SDK 2.x with its built-in OAuth authorization server (run it with
the venv from install.sh).

    python_oauth.py [--port-file F] [--tls CERT KEY]

Binds 127.0.0.1 on a free port, prints http://127.0.0.1:PORT/mcp as the first line of stdout. The
authorization server is the SDK's own (mcp.server.auth routes: metadata, /register, /authorize,
/token, /revoke; its ClientAuthenticator checks client authentication exactly as registered:
`client_secret_post` needs client_id and client_secret in the body, `client_secret_basic` the
header, `none` no secret). Only the provider's storage is ours, in memory, and /authorize approves
at once (302 straight back to the redirect URI with code and state), so a browser that just follows
redirects completes the flow. Tokens rotate on refresh.
Tool: whoami {} -> "client_id=<id> scopes=<scopes>". Prompt: greeting {} -> one user message
"hello". Resource: note://whoami -> the same text as the tool.
Test control: POST /test/expire {"token": T} -> 204; the token is rejected from then on: an access
token with 401 (its refresh token still works), a refresh token with invalid_grant.
"""

import secrets
import socket
import sys
import time

import anyio
import uvicorn
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SCOPE = "mcp:tools"


class MemoryProvider:
    """Storage for the SDK's authorization server; approves every authorization request."""

    def __init__(self):
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    async def get_client(self, client_id):
        return self.clients.get(client_id)

    async def register_client(self, client_info):
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client, params: AuthorizationParams):
        code = secrets.token_hex(16)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or [SCOPE],
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
            subject="user",
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client, authorization_code):
        code = self.codes.get(authorization_code)
        return code if code and code.client_id == client.client_id else None

    def issue(self, client_id, scopes, resource):
        access = secrets.token_hex(16)
        refresh = secrets.token_hex(16)
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=int(time.time()) + 3600, resource=resource
        )
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes, resource=resource)
        return OAuthToken(
            access_token=access, token_type="Bearer", expires_in=3600, refresh_token=refresh, scope=" ".join(scopes)
        )

    async def exchange_authorization_code(self, client, authorization_code):
        self.codes.pop(authorization_code.code, None)
        return self.issue(client.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client, refresh_token):
        token = self.refresh.get(refresh_token)
        return token if token and token.client_id == client.client_id else None

    async def exchange_refresh_token(self, client, refresh_token, scopes):
        self.refresh.pop(refresh_token.token, None)
        for token, access in list(self.access.items()):
            if access.client_id == client.client_id:
                del self.access[token]
        return self.issue(client.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token):
        access = self.access.get(token)
        if access and access.expires_at and access.expires_at < time.time():
            return None
        return access

    async def revoke_token(self, token):
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    tls = sys.argv[sys.argv.index("--tls") + 1 : sys.argv.index("--tls") + 3] if "--tls" in sys.argv else None
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    provider = MemoryProvider()
    server = MCPServer(
        "mcpchat-python-oauth-peer",
        version="1.0.0",
        log_level="WARNING",
        auth_server_provider=provider,
        auth=AuthSettings(
            issuer_url=base,
            resource_server_url=f"{base}/mcp",
            validate_token_resource=False,
            required_scopes=[SCOPE],
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE]
            ),
            revocation_options=RevocationOptions(enabled=True),
        ),
    )

    @server.tool(description="Who the access token belongs to.", structured_output=False)
    def whoami() -> str:
        token = get_access_token()
        return f"client_id={token.client_id} scopes={' '.join(token.scopes)}" if token else "anonymous"

    @server.prompt(description="A fixed greeting.")
    def greeting() -> str:
        return "hello"

    @server.resource("note://whoami", description="Who the access token belongs to.", mime_type="text/plain")
    def note() -> str:
        return whoami()

    app = server.streamable_http_app(host="127.0.0.1")

    async def expire(request: Request) -> Response:
        token = (await request.json()).get("token")
        provider.access.pop(token, None)
        provider.refresh.pop(token, None)
        return Response(status_code=204)

    app.router.routes.insert(0, Route("/test/expire", expire, methods=["POST"]))
    if "--port-file" in sys.argv:
        path = sys.argv[sys.argv.index("--port-file") + 1]
        with open(path + ".tmp", "w") as f:
            f.write(str(port))
        import os

        os.replace(path + ".tmp", path)
    print(f"{base}/mcp", flush=True)
    tls_options = {"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}
    config = uvicorn.Config(app, log_level="warning", **tls_options)
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
