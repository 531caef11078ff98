"""MCP test peer built with the Python `mcp` SDK 2.x (run it with the venv from install.sh).

    python_server.py PORT [--stateless-json] [--tools-ttl-ms N] [--tools-scope public|private]
                          [--prompts-ttl-ms N] [--prompts-scope public|private]
                          [--add-needs-c] [--review-needs-focus] [--list-changers] [--sse]
    python_server.py stdio

Serves streamable HTTP at http://127.0.0.1:PORT/mcp. PORT may be 0: the socket is bound before the
server starts and the real port is printed as the first line of stdout (flushed), so callers can
read it. --stateless-json: stateless mode with plain JSON response bodies and no Mcp-Session-Id.
--sse: the legacy HTTP+SSE transport (2024-11-05) instead, at http://127.0.0.1:PORT/sse.
Tools: add {a, b} -> "5" (plus structuredContent {"result": 5}), shout {text} -> upper-cased text,
fail {} -> isError result with the text "this tool always fails".
--tools-ttl-ms / --tools-scope: the `ttlMs` / `cacheScope` hints of tools/list (2026-07-28; the
SDK's default is ttlMs 0, private). --add-needs-c: `add` takes {a, b, c} (all required) and
returns a + b + c, to play a server whose tool schema changed.
--prompts-ttl-ms / --prompts-scope: the same hints for prompts/list. --review-needs-focus: `review`
also requires `focus`, to play a server whose prompt definition changed.
--list-changers: two more tools, touch_tools and touch_prompts, which send
notifications/tools/list_changed and notifications/prompts/list_changed on their own request's
stream (the SDK's session.send_notification with the request id) and return "sent".
Resources: notes://welcome (text/plain "Welcome to the Python peer.\n"), bytes://all (application/octet-stream,
the 256 byte values 0..255 in order, sent as a base64 blob); template notes://{name} -> "Note {name}."
Prompts: review {code (required), language (optional, default "python")} -> one user message
"Please review this <language> code:\n<code>".
"""

import socket
import sys

from mcp.server.caching import CacheHint

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, PromptListChangedNotification, TextContent, ToolListChangedNotification



def option(name: str, default: str) -> str:
    args = sys.argv[2:]
    return args[args.index(name) + 1] if name in args else default


hints = {
    f"{kind}/list": CacheHint(
        ttl_ms=int(option(f"--{kind}-ttl-ms", "0")), scope=option(f"--{kind}-scope", "private")
    )
    for kind in ("tools", "prompts")
}
server = MCPServer("mcpchat-python-peer", version="1.0.0", log_level="WARNING", cache_hints=hints)

if "--add-needs-c" in sys.argv[2:]:

    @server.tool(description="Add three integers and return the sum.")
    def add(a: int, b: int, c: int) -> int:
        return a + b + c

else:

    @server.tool(description="Add two integers and return the sum.")
    def add(a: int, b: int) -> int:
        return a + b


@server.tool(description="Return the text in upper case.", structured_output=False)
def shout(text: str) -> str:
    return text.upper()


@server.tool(description="Always fails with a tool error.")
def fail() -> CallToolResult:
    # Returning the result ourselves keeps the text exact (a raised ToolError gets a prefix).
    return CallToolResult(content=[TextContent(type="text", text="this tool always fails")], is_error=True)


if "--list-changers" in sys.argv[2:]:

    @server.tool(description="Send notifications/tools/list_changed.")
    async def touch_tools(ctx: Context) -> str:
        await ctx.session.send_notification(ToolListChangedNotification(), related_request_id=ctx.request_id)
        return "sent"

    @server.tool(description="Send notifications/prompts/list_changed.")
    async def touch_prompts(ctx: Context) -> str:
        await ctx.session.send_notification(PromptListChangedNotification(), related_request_id=ctx.request_id)
        return "sent"


@server.resource("notes://welcome", name="welcome", description="A fixed greeting.", mime_type="text/plain")
def welcome() -> str:
    return "Welcome to the Python peer.\n"


@server.resource("bytes://all", name="all-bytes", description="Every byte value once.", mime_type="application/octet-stream")
def all_bytes() -> bytes:
    return bytes(range(256))


@server.resource("notes://{name}", name="note", description="A note by name.", mime_type="text/plain")
def note(name: str) -> str:
    return f"Note {name}."


if "--review-needs-focus" in sys.argv[2:]:

    @server.prompt(description="Ask for a review of a piece of code.")
    def review(code: str, focus: str, language: str = "python") -> str:
        return f"Please review this {language} code for {focus}:\n{code}"

else:

    @server.prompt(description="Ask for a review of a piece of code.")
    def review(code: str, language: str = "python") -> str:
        return f"Please review this {language} code:\n{code}"


def main() -> None:
    if sys.argv[1] == "stdio":
        server.run()
        return
    port = int(sys.argv[1])
    stateless_json = "--stateless-json" in sys.argv[2:]
    if "--sse" in sys.argv[2:]:
        app = server.sse_app(host="127.0.0.1")
    else:
        app = server.streamable_http_app(stateless_http=stateless_json, json_response=stateless_json, host="127.0.0.1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections made right after the port is printed wait in the backlog
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning")
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
