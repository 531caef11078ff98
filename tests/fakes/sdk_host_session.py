#!/usr/bin/env python3
"""A long-lived host: the MCP Python SDK's `Client` over stdio, one session, several calls.

Usage: sdk_host_session.py TOOL ARGS_JSON CALLS -- COMMAND [ARG...]. Lists the tools, then calls
TOOL CALLS times in the same session. Before each call after the first it reads one line from its
own stdin, so a test can change the world (expire a token) between calls. Prints one JSON line
first ({"tools": [names]}) and one per call: {"result": the call result} or {"error": text}
when the SDK raised (a JSON-RPC error from the server). The child gets this process's whole
environment (the SDK passes only a few variables by default), so HOME, XDG_* and BROWSER reach it.
"""

import asyncio
import json
import os
import sys

from mcp import Client
from mcp.client.stdio import StdioServerParameters


def emit(value):
    print(json.dumps(value), flush=True)


async def main():
    tool, arguments, calls = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    command = sys.argv[sys.argv.index("--") + 1:]
    server = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with Client(server, mode="legacy") as client:
        tools = await client.list_tools()
        emit({"tools": [t.name for t in tools.tools]})
        for index in range(calls):
            if index > 0:
                sys.stdin.readline()
            try:
                result = await client.call_tool(tool, arguments)
            except Exception as error:  # the SDK raises on a JSON-RPC error: the test asserts it
                emit({"error": str(error)})
                continue
            emit({"result": result.model_dump(mode="json", by_alias=True, exclude_none=True)})


asyncio.run(main())
