"""Suspended calls: a handshake-era upstream's questions as 2026-07-28 input_required rounds.

In-process, with a scripted upstream call standing in for the pool (the real path, through an
Atrium endpoint to real upstreams, is in tests/e2e/test_forwarding.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any

import anyio
import pytest

from composer._suspended_calls import Binding, SuspendedCalls, suspends
from composer.mcp._backend import McpError
from composer.mcp._wire import INVALID_PARAMS, META_CLIENT_CAPABILITIES
from registry._downstream import Downstream, DownstreamError

pytestmark = pytest.mark.anyio

ASK = {"messages": [], "maxTokens": 5}
ANSWER = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}


class Client:
    """One client request: a RequestContext and the Downstream the backend builds on it."""

    def __init__(self, capabilities: Mapping[str, Any] | None = None) -> None:
        self.progressed: list[float] = []
        self._meta = {META_CLIENT_CAPABILITIES: {"sampling": {}} if capabilities is None else capabilities}

    protocol_version = "2026-07-28"
    log_level: str | None = None

    @property
    def meta(self) -> Mapping[str, Any]:
        return self._meta

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.progressed.append(progress)

    async def log(self, level: str, data: object, logger: str | None = None) -> None:
        return None

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        raise AssertionError("a 2026-07-28 client has no back-channel")

    def cancelled(self) -> bool:
        return False


class Upstream:
    """A scripted upstream call: asks ``rounds`` times for sampling, reporting progress before each."""

    def __init__(self, rounds: int = 1, *, then_wait: bool = False) -> None:
        self.rounds, self.then_wait = rounds, then_wait
        self.started = self.cancelled = 0
        self.answered = False
        self.refused: list[DownstreamError] = []

    async def __call__(self, params: Mapping[str, Any], downstream: Downstream) -> dict[str, Any]:
        self.started += 1
        answers = []
        try:
            for n in range(self.rounds):
                await downstream.progress(n)
                answers.append((await downstream.request("sampling/createMessage", ASK))["model"])
            self.answered = True
            if self.then_wait:
                await anyio.sleep_forever()
        except DownstreamError as exc:
            self.refused.append(exc)
            raise McpError(exc.code, exc.message) from exc
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        return {"content": [{"type": "text", "text": ",".join(answers)}], "params": dict(params)}


def bound(owner: str = "agent:ada", **params: Any) -> Binding:
    return Binding.of("acme", "fwd", owner, 1, "tools/call", {"name": "interact", "arguments": {}, **params})


@pytest.fixture
async def calls() -> AsyncIterator[SuspendedCalls]:
    async with SuspendedCalls(ttl=30).running() as running:
        yield running


async def call(
    calls: SuspendedCalls, upstream: Upstream, binding: Binding | None = None, **params: Any
) -> tuple[dict[str, Any], Client]:
    client = Client()
    with anyio.fail_after(5):
        return await calls.forward(binding or bound(), {"name": "interact", **params}, client, client, upstream), client


async def test_each_question_is_a_round_and_the_last_retry_gets_the_upstreams_result(calls: SuspendedCalls) -> None:
    upstream = Upstream(rounds=2)
    first, client = await call(calls, upstream)
    assert first["resultType"] == "input_required"
    assert list(first["inputRequests"].values()) == [{"method": "sampling/createMessage", "params": ASK}]
    assert client.progressed == [0]
    key = next(iter(first["inputRequests"]))
    second, client = await call(calls, upstream, requestState=first["requestState"], inputResponses={key: ANSWER})
    assert second["resultType"] == "input_required"
    assert second["requestState"] != first["requestState"]
    assert client.progressed == [1]  # the progress of a round goes to that round's request
    key = next(iter(second["inputRequests"]))
    done, _ = await call(calls, upstream, requestState=second["requestState"], inputResponses={key: ANSWER})
    assert done["content"] == [{"type": "text", "text": "m,m"}]
    assert done["params"] == {"name": "interact"}  # the round fields never reach the upstream
    assert upstream.started == 1
    await anyio.sleep(0.01)
    assert len(calls) == 0


async def test_a_retry_without_the_answers_is_asked_the_same_questions_again(calls: SuspendedCalls) -> None:
    upstream = Upstream()
    first, _ = await call(calls, upstream)
    again, _ = await call(calls, upstream, requestState=first["requestState"], inputResponses={"other": {}})
    assert again["inputRequests"] == first["inputRequests"]


@pytest.mark.parametrize(
    "binding",
    [
        bound(owner="agent:eve"),  # another principal
        bound(arguments={"topic": "other"}),  # another request
        Binding.of("umbrella", "fwd", "agent:ada", 1, "tools/call", {"name": "interact"}),  # another tenant
    ],
)
async def test_a_state_presented_by_anyone_else_or_for_another_request_is_refused(
    calls: SuspendedCalls, binding: Binding
) -> None:
    upstream = Upstream()
    first, _ = await call(calls, upstream)
    with pytest.raises(McpError) as refused:
        await call(calls, upstream, binding, requestState=first["requestState"])
    assert refused.value.code == INVALID_PARAMS
    assert refused.value.data == {"reason": "invalid_request_state"}
    # The owner's own retry still resumes it.
    again, _ = await call(calls, upstream, requestState=first["requestState"])
    assert again["resultType"] == "input_required"


@pytest.mark.parametrize("state", ["forged", 7, ""])
async def test_an_unknown_state_is_refused(calls: SuspendedCalls, state: object) -> None:
    with pytest.raises(McpError) as refused:
        await call(calls, Upstream(), requestState=state)
    assert refused.value.code == INVALID_PARAMS


async def test_a_state_is_good_for_one_retry(calls: SuspendedCalls) -> None:
    upstream = Upstream()
    first, _ = await call(calls, upstream)
    await call(calls, upstream, requestState=first["requestState"])
    with pytest.raises(McpError) as refused:
        await call(calls, upstream, requestState=first["requestState"])
    assert refused.value.code == INVALID_PARAMS


async def test_an_expired_state_cancels_the_upstream_call_and_is_refused() -> None:
    upstream = Upstream()
    async with SuspendedCalls(ttl=0.05).running() as calls:
        first, _ = await call(calls, upstream)
        with anyio.fail_after(5):
            while upstream.cancelled == 0:
                await anyio.sleep(0.01)
        assert len(calls) == 0
        with pytest.raises(McpError) as refused:
            await call(calls, upstream, requestState=first["requestState"])
        assert refused.value.code == INVALID_PARAMS


async def test_a_client_cancelling_its_round_cancels_the_upstream_call(calls: SuspendedCalls) -> None:
    upstream = Upstream(then_wait=True)
    first, _ = await call(calls, upstream)
    key = next(iter(first["inputRequests"]))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(
                partial(call, calls, upstream, requestState=first["requestState"], inputResponses={key: ANSWER})
            )
            while len(calls) and upstream.cancelled == 0 and not upstream.answered:
                await anyio.sleep(0.01)
            tasks.cancel_scope.cancel()  # the client closes the round's response stream
        while upstream.cancelled == 0:
            await anyio.sleep(0.01)
    assert len(calls) == 0


async def test_the_client_is_asked_only_what_it_declared(calls: SuspendedCalls) -> None:
    upstream, client = Upstream(), Client(capabilities={})
    with pytest.raises(McpError):
        await calls.forward(bound(), {"name": "interact"}, client, client, upstream)
    assert [error.code for error in upstream.refused] == [-32600]


async def test_past_its_bound_a_call_runs_inline_and_a_question_is_refused() -> None:
    upstream, client = Upstream(), Client()
    async with SuspendedCalls(ttl=30, max_calls=0).running() as calls:
        with pytest.raises(AssertionError, match="no back-channel"):
            await calls.forward(bound(), {"name": "interact"}, client, client, upstream)


def test_only_2026_clients_of_handshake_era_upstreams_on_input_required_methods_are_suspended() -> None:
    assert suspends("tools/call", "2026-07-28", "2025-11-25")
    assert suspends("resources/read", "2026-07-28", None)
    assert not suspends("tools/call", "2026-07-28", "2026-07-28")  # it answers input_required itself
    assert not suspends("tools/call", "2025-11-25", "2025-11-25")  # the client has a back-channel
    assert not suspends("completion/complete", "2026-07-28", "2025-11-25")
