"""A small MCP server (official SDK, low-level API) whose definitions come from a JSON file read at start.

    python definitions_server.py DEFINITIONS.json

``{"instructions": "...", "tools": [{name, description, inputSchema, ...}, ...]}``. Each ``tools/call``
answers ``called <name> with <arguments>``. Real servers do not change their definitions between sessions;
this one does whenever the test rewrites the file, which is what pinning must notice.
"""

from __future__ import annotations

import json
import sys

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server


def main(path: str) -> None:
    spec = json.loads(open(path, encoding="utf-8").read())
    tools = [types.Tool.model_validate(t) for t in spec["tools"]]

    async def list_tools(ctx, params):
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx, params):
        text = f"called {params.name} with {json.dumps(params.arguments or {}, sort_keys=True)}"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    server = Server("definitions", instructions=spec.get("instructions"), on_list_tools=list_tools, on_call_tool=call_tool)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


if __name__ == "__main__":
    main(sys.argv[1])
