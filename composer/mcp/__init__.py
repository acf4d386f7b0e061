"""MCP serving: Streamable HTTP for both protocol eras, in front of an :class:`McpBackend`.

The app mounts :func:`mcp_route` (an ASGI app from :func:`create_mcp_asgi`) at ``/mcp``;
a :class:`BackendResolver` finds the backend of each ``/{tenant}/{virtual_server}[/{role}]``;
:class:`ListChangedHub` tells connected clients when an endpoint's lists change.
"""

from __future__ import annotations

from composer.mcp._backend import (
    BackendResolver,
    EndpointRefusedError,
    ListKind,
    ListPage,
    McpBackend,
    McpError,
    NoBackChannelError,
    OwnedBackend,
    RequestContext,
    ResourceSubscriber,
    ServerInfo,
    ToolSchemaSource,
)
from composer.mcp._http import McpAsgiApp, create_mcp_asgi, mcp_route
from composer.mcp._hub import Change, ChangeListener, ListChangedHub, ListChangedKind
from composer.mcp._request import Endpoint
from composer.mcp._settings import McpSettings

__all__ = [
    "BackendResolver",
    "Change",
    "ChangeListener",
    "Endpoint",
    "EndpointRefusedError",
    "ListChangedHub",
    "ListChangedKind",
    "ListKind",
    "ListPage",
    "McpAsgiApp",
    "McpBackend",
    "McpError",
    "McpSettings",
    "NoBackChannelError",
    "OwnedBackend",
    "RequestContext",
    "ResourceSubscriber",
    "ServerInfo",
    "ToolSchemaSource",
    "create_mcp_asgi",
    "mcp_route",
]
