#!/usr/bin/env python3
"""A host as real ones are built: the MCP Python SDK's `Client` over stdio, in front of a command.

Usage: sdk_host.py MODE TOOL ARGS_JSON -- COMMAND [ARG...]. MODE is the SDK's connect mode
(`legacy`: initialize; `auto`: server/discover, falling back to initialize). Lists the tools
and calls TOOL, then prints one JSON object: {"tools": [names], "result": the call result}.
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.client.stdio import StdioServerParameters


async def main():
    mode, tool, arguments = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    command = sys.argv[sys.argv.index("--") + 1:]
    server = StdioServerParameters(command=command[0], args=command[1:])
    async with Client(server, mode=mode) as client:
        tools = await client.list_tools()
        result = await client.call_tool(tool, arguments)
    print(json.dumps({
        "tools": [t.name for t in tools.tools],
        "result": result.model_dump(mode="json", by_alias=True, exclude_none=True),
    }))


asyncio.run(main())
