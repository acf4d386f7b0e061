"""Replies of the conformance upstream's tools, in whichever era Atrium reaches it.

A tool that needs the client asks directly in the handshake era (a server-to-client request on
the call's stream) and answers with an ``InputRequiredResult`` from 2026-07-28 on, read back from
the retry's ``inputResponses``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

ToolResult = types.CallToolResult | types.InputRequiredResult


def text(value: str, *, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=value)], is_error=is_error)


def handshake(ctx: Context) -> bool:
    return ctx.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS


def elicit(message: str, schema: Mapping[str, Any]) -> types.ElicitRequest:
    return types.ElicitRequest.model_validate(
        {"method": "elicitation/create", "params": {"mode": "form", "message": message, "requestedSchema": schema}}
    )


def sample(prompt: str, max_tokens: int) -> types.CreateMessageRequest:
    message = {"role": "user", "content": {"type": "text", "text": prompt}}
    return types.CreateMessageRequest.model_validate(
        {"method": "sampling/createMessage", "params": {"messages": [message], "maxTokens": max_tokens}}
    )


ROOTS = types.ListRootsRequest.model_validate({"method": "roots/list"})


async def ask(ctx: Context, key: str, request: types.ElicitRequest | types.CreateMessageRequest) -> Any:
    """The client's answer to ``request``: asked directly (handshake era) or read from ``inputResponses``.

    Returns None in the 2026-07-28 era while the answer is still missing (return ``needs`` then).
    """
    if handshake(ctx):
        session = ctx.request_context.session
        if isinstance(request, types.ElicitRequest):
            return await session.send_request(request, types.ElicitResult)
        return await session.send_request(request, types.CreateMessageResult)
    return (ctx.input_responses or {}).get(key)


def needs(requests: Mapping[str, Any], state: str | None = None) -> types.InputRequiredResult:
    return types.InputRequiredResult(input_requests=dict(requests), request_state=state)


def dump(value: Any) -> str:
    return json.dumps(value.model_dump(mode="json", by_alias=True, exclude_none=True) if value is not None else None)


def user(content: Any) -> UserMessage:
    return UserMessage(content)
