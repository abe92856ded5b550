"""An MCP client built on the official Python SDK (PyPI `mcp`), driven by cli/tests/mcp.rs.

Usage: client.py '<plan JSON>'. The plan names the server, either
{"stdio": [command, arg, ...]} or {"url": "http://.../mcp", "token": "..."}; and "calls", a
list of {"tool": name, "arguments": {...}}. Prints one JSON object: the tools as listed and,
per call, the result (is_error, structured_content, text) or the protocol error it raised.

With "watch": "legacy" (a client of protocol 2025-11-25, in a session) or "listen" (2026-07-28,
subscriptions/listen), prints `listed` once the tools are listed and it listens, waits (20 s at
most) for notifications/tools/list_changed, lists again and adds those tools as "tools_after".
"mode" picks the protocol: "legacy", or the SDK's default "auto" (the newest both speak).
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def server(plan):
    if "stdio" in plan:
        command, *args = plan["stdio"]
        return StdioServerParameters(command=command, args=args)
    headers = {}
    if plan.get("token"):
        headers["Authorization"] = "Bearer " + plan["token"]
    return streamable_http_client(plan["url"], http_client=httpx2.AsyncClient(headers=headers))


async def call(client, tool, arguments):
    try:
        result = await client.call_tool(tool, arguments)
    except MCPError as error:
        return {"protocol_error": {"code": error.error.code, "message": error.error.message}}
    return {
        "is_error": bool(result.is_error),
        "structured_content": result.structured_content,
        "text": [block.text for block in result.content if block.type == "text"],
    }


async def list_tools(client):
    listed = await client.list_tools()
    return [tool.model_dump(by_alias=True, exclude_none=True) for tool in listed.tools]


async def main(plan):
    changed = asyncio.Event()

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changed.set()

    report = {}
    async with Client(
        server(plan), read_timeout_seconds=30, message_handler=on_message, mode=plan.get("mode", "auto")
    ) as client:
        report["tools"] = await list_tools(client)
        report["results"] = [await call(client, c["tool"], c.get("arguments")) for c in plan.get("calls", [])]
        if plan.get("watch") == "listen":
            async with client.listen(tools_list_changed=True) as subscription:
                print("listed", flush=True)
                await asyncio.wait_for(anext(aiter(subscription)), timeout=20)
            report["tools_after"] = await list_tools(client)
        elif plan.get("watch"):
            print("listed", flush=True)
            await asyncio.wait_for(changed.wait(), timeout=20)
            report["tools_after"] = await list_tools(client)
    print(json.dumps(report))


asyncio.run(asyncio.wait_for(main(json.loads(sys.argv[1])), timeout=60))
