"""A stdio upstream whose four list methods paginate (``MCPServer`` returns one page).

    python -m tests.upstreams.paged_server

Built on the SDK's low-level ``Server``. Configured through the environment:

``PAGED_ITEMS``      items per list (default 25): ``tool_0`` …, ``prompt_0`` …, and so on.
``PAGED_PAGE_SIZE``  items per page (default 10).
``PAGED_CURSORS``    ``normal`` (default) or ``loop``: the last page points back to the
                     first page's cursor, so a client that trusts cursors never stops.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.stdio import stdio_server

_T = TypeVar("_T")


def build_server(*, items: int = 25, page_size: int = 10, loop: bool = False) -> Server[Any]:
    def page(all_items: Sequence[_T], params: types.PaginatedRequestParams | None) -> tuple[list[_T], str | None]:
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + page_size
        if end < len(all_items):
            return list(all_items[start:end]), str(end)
        return list(all_items[start:]), (str(page_size) if loop else None)

    tools = [
        types.Tool(name=f"tool_{i}", description=f"Tool {i}.", input_schema={"type": "object"}) for i in range(items)
    ]
    prompts = [types.Prompt(name=f"prompt_{i}", description=f"Prompt {i}.") for i in range(items)]
    resources = [types.Resource(uri=f"paged://item/{i}", name=f"resource_{i}") for i in range(items)]
    templates = [
        types.ResourceTemplate(uri_template=f"paged://tpl{i}/{{x}}", name=f"template_{i}") for i in range(items)
    ]

    async def list_tools(_ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        chunk, cursor = page(tools, params)
        return types.ListToolsResult(tools=chunk, next_cursor=cursor)

    async def list_prompts(_ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        chunk, cursor = page(prompts, params)
        return types.ListPromptsResult(prompts=chunk, next_cursor=cursor)

    async def list_resources(_ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        chunk, cursor = page(resources, params)
        return types.ListResourcesResult(resources=chunk, next_cursor=cursor)

    async def list_templates(
        _ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        chunk, cursor = page(templates, params)
        return types.ListResourceTemplatesResult(resource_templates=chunk, next_cursor=cursor)

    return Server(
        "atrium-paged",
        version="1.0.0",
        on_list_tools=list_tools,
        on_list_prompts=list_prompts,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
    )


def from_env(environ: Mapping[str, str]) -> Server[Any]:
    return build_server(
        items=int(environ.get("PAGED_ITEMS", "25")),
        page_size=int(environ.get("PAGED_PAGE_SIZE", "10")),
        loop=environ.get("PAGED_CURSORS", "normal") == "loop",
    )


async def _serve(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    anyio.run(_serve, from_env(os.environ))


if __name__ == "__main__":
    main()
