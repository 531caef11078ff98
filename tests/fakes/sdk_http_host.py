#!/usr/bin/env python3
"""A host as real ones are built: the MCP Python SDK's `Client` over Streamable HTTP.

Usage: sdk_http_host.py MODE TOOL ARGS_JSON URL. MODE is the SDK's connect mode (`legacy`:
initialize, then a session; `auto`: server/discover first, the stateless 2026-07-28 way).
Lists the tools and calls TOOL, then prints one JSON object: {"tools": [names], "result": the
call result}.
"""

import asyncio
import json
import sys

from mcp import Client


async def main():
    mode, tool, arguments, url = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
    async with Client(url, mode=mode) as client:
        tools = await client.list_tools()
        result = await client.call_tool(tool, arguments)
    print(json.dumps({
        "tools": [t.name for t in tools.tools],
        "result": result.model_dump(mode="json", by_alias=True, exclude_none=True),
    }))


asyncio.run(main())
