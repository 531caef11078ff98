"""MCP test peer built with the Python `mcp` SDK 2.x (run it with the venv from install.sh).

    python_server.py PORT [--stateless-json]

Serves streamable HTTP at http://127.0.0.1:PORT/mcp. PORT may be 0: the socket is bound before the
server starts and the real port is printed as the first line of stdout (flushed), so callers can
read it. --stateless-json: stateless mode with plain JSON response bodies and no Mcp-Session-Id.
Tools: add {a, b} -> "5" (plus structuredContent {"result": 5}), shout {text} -> upper-cased text,
fail {} -> isError result with the text "this tool always fails".
Prompts: review {code (required), language (optional, default "python")} -> one user message
"Please review this <language> code:\n<code>".
"""

import socket
import sys

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent

server = MCPServer("mcpchat-python-peer", version="1.0.0", log_level="WARNING")


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


@server.prompt(description="Ask for a review of a piece of code.")
def review(code: str, language: str = "python") -> str:
    return f"Please review this {language} code:\n{code}"


def main() -> None:
    port = int(sys.argv[1])
    stateless_json = "--stateless-json" in sys.argv[2:]
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
