"""A small MCP server for the demo: run over stdio by ``atrium serve --demo``.

Its ``forecast`` tool reads ``ATRIUM_DEMO_POISON`` when set: restart with a changed
description to watch Atrium quarantine the new version (a "rug pull").
"""

from __future__ import annotations

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


if __name__ == "__main__":
    server.run("stdio")
