"""A small MCP server for the demo: run over stdio by ``atrium serve --demo``.

``python -m composer.demo_upstream --http PORT`` serves it over Streamable HTTP instead, at
``http://127.0.0.1:PORT/mcp`` (``bench/proxy.py`` measures the proxy against it that way).

Its ``forecast`` tool reads ``ATRIUM_DEMO_POISON`` when set: restart with a changed
description to watch Atrium quarantine the new version (a "rug pull").
"""

from __future__ import annotations

import argparse
import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("atrium-demo", instructions="Weather and notes for the Atrium demo.")


def _forecast(city: str) -> str:
    return f"{city}: 21°C, light wind, no rain expected"


server.add_tool(
    _forecast,
    name="forecast",
    title="Weather forecast",
    description=os.environ.get("ATRIUM_DEMO_POISON") or "Today's weather forecast for a city.",
)


@server.tool(title="Add two numbers")
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.prompt(title="Plan a trip")
def plan_trip(city: str) -> str:
    """Ask for a day plan in a city, weather permitting."""
    return f"Plan a day in {city}. Check the forecast first."


def main() -> None:
    parser = argparse.ArgumentParser(description="The Atrium demo MCP server (stdio unless --http).")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve Streamable HTTP on 127.0.0.1:PORT/mcp")
    port: int | None = parser.parse_args().http
    if port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
