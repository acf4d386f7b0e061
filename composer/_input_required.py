"""A 2026-07-28 upstream's ``input_required`` result, fulfilled for a handshake-era client.

At 2026-07-28 an upstream that needs the client (sampling, elicitation, roots) answers with an
``input_required`` result, and the client retries the request with its answers. A handshake-era
client knows nothing of that: it answers standalone server-to-client requests instead. So for
such a client Atrium asks each embedded request on the call's own stream and retries upstream
with the answers and the echoed ``requestState``, until the upstream completes. A 2026-07-28
client gets the result as it is and drives the rounds itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import mcp_types as types

from composer.mcp._backend import McpError

MAX_ROUNDS: Final = 10  # as the official SDKs' clients

Ask = Callable[[str, Mapping[str, Any]], Awaitable[dict[str, Any]]]
Retry = Callable[[dict[str, Any], object], Awaitable[dict[str, Any]]]


def needs_input(result: Mapping[str, Any]) -> bool:
    return result.get("resultType") == "input_required"


async def fulfil(result: dict[str, Any], ask: Ask, retry: Retry) -> dict[str, Any]:
    """Ask the client what ``result`` requests, retry, and repeat until the upstream completes.

    Raises:
        McpError: the client refused a request, or the upstream kept asking past ``MAX_ROUNDS``.
    """
    for _ in range(MAX_ROUNDS):
        if not needs_input(result):
            return result
        requests = result.get("inputRequests") or {}
        if not isinstance(requests, Mapping):
            raise McpError(types.INTERNAL_ERROR, "upstream sent malformed inputRequests")
        answers: dict[str, Any] = {}
        for key, request in requests.items():
            if not isinstance(request, Mapping) or not isinstance(request.get("method"), str):
                raise McpError(types.INTERNAL_ERROR, "upstream sent a malformed input request")
            answers[key] = await ask(request["method"], request.get("params") or {})
        result = await retry(answers, result.get("requestState"))
    raise McpError(types.INTERNAL_ERROR, f"upstream still asked for input after {MAX_ROUNDS} rounds")


def retried(params: Mapping[str, Any], answers: dict[str, Any], state: object) -> dict[str, Any]:
    """The original request's params carrying the answers (and the state, when there is one)."""
    again = {name: value for name, value in params.items() if name not in ("inputResponses", "requestState")}
    again["inputResponses"] = answers
    if state is not None:
        again["requestState"] = state
    return again
