"""Resumable SSE (protocol versions up to 2025-11-25): event ids, priming, Last-Event-ID replay."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from composer.mcp import McpSettings
from tests.composer.mcp._demo import serve
from tests.composer.mcp._raw import initialize, rpc, sse_events

pytestmark = pytest.mark.anyio
GATED = rpc("tools/call", {"name": "gated", "_meta": {"progressToken": "p"}}, request_id=11)


async def _first_events(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """POST the gated call, read the priming event and the first progress, then drop the connection."""
    seen: list[dict[str, Any]] = []
    async with client.stream("POST", url, json=GATED, headers=headers) as response:
        assert response.headers["content-type"] == "text/event-stream"
        async for event in sse_events(response):
            seen.append(event)
            if len(seen) == 2:
                break
    return seen


async def test_a_dropped_stream_is_replayed_after_the_last_event_id() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            priming, progress = await _first_events(client, served.url, headers)
            served.backend.gate.set()  # the call goes on without a reader: disconnection is not cancellation
            resumed = await client.get(served.url, headers={**headers, "last-event-id": progress["id"]})
            replayed = [event async for event in sse_events(resumed) if event["data"] is not None]
    assert priming["data"] is None
    assert priming["id"].endswith(":0:p")
    assert progress["data"]["params"] == {"progressToken": "p", "progress": 1, "total": 2, "message": "before the gate"}
    assert [event["data"].get("method") for event in replayed] == ["notifications/progress", None]
    assert replayed[1]["data"]["id"] == 11
    assert replayed[1]["data"]["result"]["content"][0]["text"] == "through"
    assert len({event["id"] for event in [progress, *replayed]}) == 3  # ids are unique


async def test_resuming_from_the_priming_event_replays_everything_and_follows_the_call() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            priming, _progress = await _first_events(client, served.url, headers)
            async with client.stream("GET", served.url, headers={**headers, "last-event-id": priming["id"]}) as stream:
                events = sse_events(stream)
                await events.__anext__()  # a priming event for the resumed stream
                first = await events.__anext__()
                served.backend.gate.set()
                rest = [event async for event in events]
    assert first["data"]["params"]["progress"] == 1
    assert [event["data"].get("method") for event in rest] == ["notifications/progress", None]


async def test_an_unknown_last_event_id_is_a_bad_request() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            unknown = await client.get(served.url, headers={**headers, "last-event-id": "s99:3"})
            garbage = await client.get(served.url, headers={**headers, "last-event-id": "garbage"})
    assert unknown.status_code == 400
    assert garbage.status_code == 400


async def test_sessions_before_2025_11_25_get_no_priming_event() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url, version="2025-06-18")
            async with client.stream("POST", served.url, json=GATED, headers=headers) as response:
                first = await sse_events(response).__anext__()
            served.backend.gate.set()
    assert first["data"]["method"] == "notifications/progress"
    assert first["id"] is not None


async def test_a_cancelled_request_ends_its_stream_without_a_response_and_resuming_it_is_204() -> None:
    slow = rpc("tools/call", {"name": "slow"}, request_id=21)
    async with serve(settings=McpSettings(json_window=0.05)) as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            async with client.stream("POST", served.url, json=slow, headers=headers) as response:
                events = sse_events(response)
                priming = await events.__anext__()  # committed to SSE once the window passed
                cancel = rpc("notifications/cancelled", {"requestId": 21, "reason": "bored"}, request_id=None)
                assert (await client.post(served.url, json=cancel, headers=headers)).status_code == 202
                rest = [event async for event in events]
            resumed = await client.get(served.url, headers={**headers, "last-event-id": priming["id"]})
    assert rest == []
    assert served.backend.slow_saw_cancel is True
    assert resumed.status_code == 204
