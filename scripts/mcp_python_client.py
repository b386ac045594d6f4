"""warden's MCP server driven by the official Python MCP SDK's client (PyPI `mcp`).

Usage: mcp_python_client.py stdio WARDEN TYPED_WASM
       mcp_python_client.py http URL

Lists the tools, calls a typed WIT function and calc, checks structuredContent, usage in
_meta, a result `err` and invalid arguments as isError, and that the server keeps serving.
Exits non-zero with a message on the first failed check.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


def check(condition, message):
    if not condition:
        raise SystemExit(f"FAILED: {message}")


def dump(model):
    return model.model_dump(by_alias=True, exclude_none=True)


async def exercise(session):
    await session.initialize()
    tools = {t.name: dump(t) for t in (await session.list_tools()).tools}
    for name in ("calc", "text_count", "text_shout", "greet"):
        check(name in tools, f"{name} is not listed: {sorted(tools)}")
    check(tools["text_count"]["inputSchema"]["required"] == ["text"], "text_count's input schema")
    check(tools["text_count"]["outputSchema"]["type"] == "object", "text_count's output schema")

    result = dump(await session.call_tool("text_count", {"text": "one two three"}))
    check(not result.get("isError"), f"text_count failed: {result}")
    check(result["structuredContent"]["words"] == 3, f"structuredContent: {result}")
    check(json.loads(result["content"][0]["text"])["words"] == 3, f"text content: {result}")
    check(result["_meta"]["warden/usage"]["fuel"] > 0, f"usage in _meta: {result}")

    shout = dump(await session.call_tool("text_shout", {"text": "hi"}))
    check(shout["structuredContent"] == {"result": "HI"}, f"wrapped output: {shout}")

    calc = dump(await session.call_tool("calc", {"expression": "6*7"}))
    check(calc["structuredContent"]["value"] == 42, f"calc: {calc}")

    err = dump(await session.call_tool("text_parse-int", {"text": "nope"}))
    check(err.get("isError") is True, f"a result err is not a tool error: {err}")
    check("not a decimal integer" in err["content"][0]["text"], f"err message: {err}")

    bad = dump(await session.call_tool("text_area", {"shape": {"tag": "circle", "value": "big"}}))
    check(bad.get("isError") is True, f"invalid arguments are not a tool error: {bad}")
    check("/shape/value" in bad["content"][0]["text"], f"invalid arguments' path: {bad}")

    again = dump(await session.call_tool("greet", {"name": "Python"}))
    check(again["structuredContent"] == {"result": "Hello, Python."}, f"after errors: {again}")


async def main():
    mode = sys.argv[1]
    if mode == "stdio":
        params = StdioServerParameters(command=sys.argv[2], args=["mcp", "serve", sys.argv[3], "builtin:calc"])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await exercise(session)
    elif mode == "http":
        async with streamable_http_client(sys.argv[2]) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await exercise(session)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(f"python MCP client over {mode}: ok")


asyncio.run(main())
