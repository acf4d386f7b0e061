"""Calls of 2026-07-28 clients kept running while a handshake-era upstream waits for their answers.

A handshake-era upstream asks the client that caused a call for sampling, elicitation or its
roots with standalone server-to-client requests, and waits for the answers before it completes
the call. A 2026-07-28 client has no back-channel for those: the era's way is an
``input_required`` result whose ``inputRequests`` the client fulfils, then retries the request
with its ``inputResponses`` and the echoed ``requestState`` (the spec's multi round-trip
requests). This module bridges the two:

1. The upstream call runs as a task of :class:`SuspendedCalls` (one per app), outliving the
   client's HTTP request.
2. When the upstream asks something, the client's request is answered with an ``input_required``
   result carrying every request the upstream is waiting on, and a fresh ``requestState``: an
   unguessable token (this process's id, then 256 random bits) naming the suspended call.
3. A retry presenting that token, from the same endpoint, tenant, principal, upstream and for
   the same request (method, name or URI, and a digest of the arguments), feeds the answers to
   the waiting upstream requests and waits for the next event: the final result (returned as it
   is), or more questions (another round, another token: each token is good for one retry).

While a round runs, the upstream's progress and log messages go to the client request of that
round. A state that is unknown, expired, already used, or presented by anyone else is refused
with INVALID_PARAMS "Invalid or expired requestState" (as the official SDK's servers answer);
the reason goes to the log only. A state lives ``ttl`` seconds after its ``input_required``
result; when it lapses, or when the client cancels a round (closing its response stream), the
upstream call is cancelled, which the pool passes on to the upstream. The pool's per-call
timeout still bounds the whole upstream call, rounds included.

A suspended call lives in this process's memory only: a retry reaching another Atrium instance
(or this one after a restart) is refused as an unknown state, and the client must start over.
Deployments with several instances need sticky routing for such calls. At most ``max_calls``
calls run this way at once; past that, a call runs as before (inline, and a question from the
upstream is refused as the era has no back-channel).
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, NamedTuple

import anyio
import anyio.abc
import msgspec
from mcp_types.methods import INPUT_REQUIRED_METHODS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from composer.mcp._backend import McpError, RequestContext
from composer.mcp._wire import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    META_CLIENT_CAPABILITIES,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
)
from registry._downstream import Downstream, DownstreamError

logger = logging.getLogger(__name__)

DEFAULT_MAX_CALLS: Final = 1000
_CAPABILITY_OF: Final[Mapping[str, str]] = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}
_ROUND_FIELDS: Final = ("inputResponses", "requestState")

# Sends the call upstream (params without the round fields) with ``Downstream`` as its client.
Run = Callable[[Mapping[str, Any], Downstream], Awaitable[dict[str, Any]]]


def invalid_state() -> McpError:
    return McpError(INVALID_PARAMS, "Invalid or expired requestState", {"reason": "invalid_request_state"})


def suspends(method: str, client_version: str, upstream_version: str | None) -> bool:
    """Whether a call may be suspended: a 2026-07-28 client's request that may return
    ``input_required``, to an upstream that asks with standalone requests instead."""
    return (
        method in INPUT_REQUIRED_METHODS
        and client_version in MODERN_VERSIONS
        and upstream_version not in MODERN_PROTOCOL_VERSIONS
    )


class Binding(NamedTuple):
    """What a ``requestState`` is bound to: a retry must match all of it."""

    tenant: str
    slug: str
    owner: str | None
    upstream: int
    method: str
    target: str
    arguments: str  # a digest

    @classmethod
    def of(
        cls, tenant: str, slug: str, owner: str | None, upstream: int, method: str, params: Mapping[str, Any]
    ) -> Binding:
        target = params.get("uri" if method == "resources/read" else "name")
        arguments = msgspec.json.encode(params.get("arguments") or {}, order="sorted")
        digest = hashlib.sha256(arguments).hexdigest()
        return cls(tenant, slug, owner, upstream, method, str(target), digest)


class _Ask:
    """One server-to-client request the upstream waits on."""

    __slots__ = ("answer", "answered", "request")

    def __init__(self, method: str, params: Mapping[str, Any]) -> None:
        self.request = {"method": method, "params": dict(params)}
        self.answered = anyio.Event()
        self.answer: dict[str, Any] = {}


class _Call:
    """One upstream call, and the ``Downstream`` its upstream talks to."""

    def __init__(self, binding: Binding, ctx: RequestContext, client: Downstream) -> None:
        self.binding = binding
        self.log_level = client.log_level
        self.scope = anyio.CancelScope()
        self.token: str | None = None  # while suspended
        self.outcome: dict[str, Any] | Exception | None = None
        self.claimed = anyio.Event()
        self._client: Downstream | None = None
        self._capabilities: Mapping[str, Any] = {}
        self._asks: dict[str, _Ask] = {}  # unanswered, by key
        self._serial = 0
        self._wakeup = anyio.Event()
        self.attach(ctx, client)

    def attach(self, ctx: RequestContext, client: Downstream) -> None:
        """A client request now waits on this call (its first, or a retry)."""
        self.scope.deadline = math.inf
        self._client = client
        capabilities = ctx.meta.get(META_CLIENT_CAPABILITIES)
        self._capabilities = capabilities if isinstance(capabilities, Mapping) else {}

    def suspend(self, token: str, ttl: float) -> dict[str, Any]:
        """No client request waits any more: the ``input_required`` result telling what to answer."""
        self.token, self._client = token, None
        self.scope.deadline = anyio.current_time() + ttl
        requests = {key: ask.request for key, ask in self._asks.items()}
        return {"resultType": "input_required", "inputRequests": requests, "requestState": token}

    def check_answers(self, responses: object) -> Mapping[str, Any]:
        """Raises: McpError (INVALID_PARAMS) for answers that are not the spec's InputResponses."""
        if responses is None:
            return {}
        if not isinstance(responses, Mapping):
            raise McpError(INVALID_PARAMS, "inputResponses must be an object")
        for key in self._asks.keys() & responses.keys():
            if not isinstance(responses[key], Mapping):
                raise McpError(INVALID_PARAMS, f"inputResponses[{key!r}] must be a result object")
        return responses

    def answer(self, responses: Mapping[str, Any]) -> None:
        """Hand over the answers to pending requests (others are ignored, as the spec asks)."""
        for key in list(self._asks.keys() & responses.keys()):
            ask = self._asks.pop(key)
            ask.answer = dict(responses[key])
            ask.answered.set()

    def finish(self, outcome: dict[str, Any] | Exception) -> None:
        if self.outcome is None:
            self.outcome = outcome
        self._wakeup.set()

    async def next_event(self) -> dict[str, Any] | None:
        """The final result once the upstream completes, or None once it waits on the client.

        Raises:
            Exception: what the upstream call raised (an McpError for the upstream's own error).
        """
        while True:
            if self.outcome is not None:
                self.claimed.set()
                if isinstance(self.outcome, Exception):
                    raise self.outcome
                return self.outcome
            if self._asks:
                return None
            self._wakeup = anyio.Event()
            await self._wakeup.wait()
            await anyio.lowlevel.checkpoint()  # questions sent together go out together

    # --- registry._downstream.Downstream, for the upstream --------------------------------------

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self._client is not None:
            await self._client.progress(progress, total, message)

    async def log(self, level: str, data: object, logger: str | None = None) -> None:
        if self._client is not None:
            await self._client.log(level, data, logger)

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if method == "ping":
            return {}  # answered here: the client is not on the line between rounds
        capability = _CAPABILITY_OF.get(method)
        if capability is None:
            raise DownstreamError(METHOD_NOT_FOUND, f"Method not found: {method}")
        if capability not in self._capabilities:
            raise DownstreamError(INVALID_REQUEST, f"the client did not declare the {capability} capability")
        self._serial += 1
        key = f"{capability}-{self._serial}"
        ask = self._asks[key] = _Ask(method, params)
        self._wakeup.set()
        try:
            await ask.answered.wait()
        finally:
            self._asks.pop(key, None)
        return ask.answer


class SuspendedCalls:
    """The suspended calls of this process (one instance per app; serve inside :meth:`running`)."""

    def __init__(self, *, ttl: float, max_calls: int = DEFAULT_MAX_CALLS) -> None:
        self._ttl, self._max_calls = ttl, max_calls
        self._instance = secrets.token_hex(4)  # a state minted elsewhere is recognisably foreign
        self._tasks: anyio.abc.TaskGroup | None = None
        self._live = 0
        self._suspended: dict[str, _Call] = {}

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SuspendedCalls]:
        """Calls run in here; leaving cancels every one still running."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield self
            finally:
                self._tasks = None
                tasks.cancel_scope.cancel()

    def __len__(self) -> int:
        """How many calls run this way now (suspended or in a round)."""
        return self._live

    async def forward(
        self, binding: Binding, params: Mapping[str, Any], ctx: RequestContext, client: Downstream, run: Run
    ) -> dict[str, Any]:
        """Run a call that may be suspended (see :func:`suspends`), or resume the one its
        ``requestState`` names.

        Raises:
            McpError: an unknown, expired or foreign ``requestState`` (INVALID_PARAMS), malformed
                ``inputResponses``, or the upstream's own error.
        """
        state = params.get("requestState")
        if state is not None:
            return await self._resume(binding, state, params.get("inputResponses"), ctx, client)
        upstream_params = {name: value for name, value in params.items() if name not in _ROUND_FIELDS}
        tasks = self._tasks
        if tasks is None or self._live >= self._max_calls:
            return await run(upstream_params, client)  # as before: the upstream's questions are refused
        call = _Call(binding, ctx, client)
        self._live += 1
        tasks.start_soon(self._run, call, run, upstream_params)
        return await self._round(call)

    async def _resume(
        self, binding: Binding, state: object, responses: object, ctx: RequestContext, client: Downstream
    ) -> dict[str, Any]:
        call = self._suspended.get(state) if isinstance(state, str) else None
        if call is None or not isinstance(state, str):
            foreign = isinstance(state, str) and not state.startswith(f"{self._instance}.")
            logger.info("requestState refused: %s", "another instance's" if foreign else "unknown or expired")
            raise invalid_state()
        if call.binding != binding:
            logger.warning("requestState refused: presented for another principal, endpoint or request")
            raise invalid_state()
        if anyio.current_time() >= call.scope.deadline:
            raise invalid_state()  # lapsed; its task is about to be cancelled
        answers = call.check_answers(responses)
        del self._suspended[state]  # good for one retry
        call.token = None
        call.attach(ctx, client)
        call.answer(answers)
        return await self._round(call)

    async def _round(self, call: _Call) -> dict[str, Any]:
        """Wait, for the client request of this round, for the call's next event."""
        try:
            result = await call.next_event()
        except anyio.get_cancelled_exc_class():
            call.scope.cancel()  # the client cancelled the round: the upstream call goes too
            raise
        if result is not None:
            return result
        token = f"{self._instance}.{secrets.token_urlsafe(32)}"
        self._suspended[token] = call
        return call.suspend(token, self._ttl)

    async def _run(self, call: _Call, run: Run, params: Mapping[str, Any]) -> None:
        try:
            with call.scope:
                try:
                    call.finish(await run(params, call))
                except Exception as exc:  # noqa: BLE001 - a task top: re-raised to the client request waiting on it
                    call.finish(exc)
                await call.claimed.wait()  # until a client request takes the outcome, or the state lapses
        finally:
            self._live -= 1
            if call.token is not None:
                self._suspended.pop(call.token, None)
            call.finish(McpError(INTERNAL_ERROR, "the call was cancelled"))  # a no-op once it has an outcome
