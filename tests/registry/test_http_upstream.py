"""HttpUpstream's standalone GET stream (handshake era), against a small real HTTP upstream.

The upstream is an aiohttp web app on a loopback port that plays a scripted Streamable HTTP
server: ``initialize`` opens session ``s1``, and each GET gets the next scripted stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from registry._downstream import NoDownstream
from registry._http_upstream import HttpUpstream
from registry._upstream_target import Transport, UpstreamTarget

pytestmark = pytest.mark.anyio

# A GET stream: (id, message) events, sent in order; a message None sends only the id (and retry).
Script = list[tuple[str | None, dict[str, Any] | None]]


class Upstream:
    """Records what the client sent; ``streams`` are the GET answers, in order (then 405)."""

    def __init__(self, streams: list[Script | int]) -> None:
        self.streams = streams
        self.gets: list[Mapping[str, str]] = []
        self.posted: list[dict[str, Any]] = []
        self.release = anyio.Event()  # lets the last stream end
        self.expire = False  # the next request after initialize gets 404 (the session expired)
        self.sessions = 0

    async def post(self, request: web.Request) -> web.StreamResponse:
        message = json.loads(await request.read())
        if self.expire and message.get("method") != "initialize":
            self.expire = False
            return web.Response(status=404)
        self.posted.append(message)
        if message.get("method") == "initialize":
            result = {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "t", "version": "1"}}
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
            self.sessions += 1
            return web.json_response(reply, headers={"Mcp-Session-Id": f"s{self.sessions}"})
        if message.get("method") == "tools/call":
            return web.json_response({"jsonrpc": "2.0", "id": message["id"], "result": {"content": []}})
        if "id" in message and "method" in message:
            return web.json_response({"jsonrpc": "2.0", "id": message["id"], "result": {}})
        return web.Response(status=202)

    async def get(self, request: web.Request) -> web.StreamResponse:
        self.gets.append(dict(request.headers))
        script = self.streams.pop(0) if self.streams else 405
        if isinstance(script, int):
            return web.Response(status=script)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event_id, message in script:
            lines = ["retry: 50"]  # reconnect fast (the SSE field Atrium honours)
            if event_id is not None:
                lines.append(f"id: {event_id}")
            if message is not None:
                lines.append(f"data: {json.dumps(message)}")
            await response.write(("\n".join(lines) + "\n\n").encode())
        if not self.streams:
            await self.release.wait()  # the last stream stays open until the test is done
        return response


@asynccontextmanager
async def serving(upstream: Upstream) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/mcp", upstream.post)
    app.router.add_get("/mcp", upstream.get)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        upstream.release.set()
        await runner.cleanup()


def updated(uri: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}}


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.01)


@asynccontextmanager
async def client(url: str, heard: list[tuple[str, Any]]) -> AsyncIterator[HttpUpstream]:
    target = UpstreamTarget(transport=Transport.STREAMABLE_HTTP, url=url)
    async with aiohttp.ClientSession() as http:
        yield HttpUpstream(target, http, "2025-11-25", lambda method, params: heard.append((method, params)))


async def test_a_cut_get_stream_is_opened_again_with_the_last_event_id_and_its_notifications_arrive() -> None:
    sampling = {"jsonrpc": "2.0", "id": 7, "method": "sampling/createMessage", "params": {}}
    upstream = Upstream(
        [
            [("e1", None), ("e2", updated("fwd://a"))],  # a priming event, an update, then the cut
            [("e3", sampling), (None, updated("fwd://b"))],
        ]
    )
    heard: list[tuple[str, Any]] = []
    async with serving(upstream) as url, client(url, heard) as http_upstream, anyio.create_task_group() as tasks:
        tasks.start_soon(http_upstream.hold_session_stream)
        await until(lambda: len(heard) == 2)
        assert heard == [
            ("notifications/resources/updated", {"uri": "fwd://a"}),
            ("notifications/resources/updated", {"uri": "fwd://b"}),
        ]
        assert [get.get("Last-Event-ID") for get in upstream.gets] == [None, "e2"]
        assert {get["Mcp-Session-Id"] for get in upstream.gets} == {"s1"}
        assert all(get["Accept"] == "text/event-stream" for get in upstream.gets)
        # The server-to-client request belongs to no client: refused, never asked of anyone.
        await until(lambda: any(message.get("id") == 7 for message in upstream.posted))
        (answer,) = [message for message in upstream.posted if message.get("id") == 7]
        assert answer["error"]["code"] == -32601
        assert "result" not in answer
        http_upstream.close()  # ends the held stream; the task returns
    assert [message.get("method") for message in upstream.posted][:2] == ["initialize", "notifications/initialized"]


async def test_an_upstream_without_a_get_stream_is_asked_once_and_calls_go_on() -> None:
    upstream = Upstream([405])
    heard: list[tuple[str, Any]] = []
    async with serving(upstream) as url, client(url, heard) as http_upstream:
        with anyio.fail_after(5):
            await http_upstream.hold_session_stream()  # returns: 405 means no such stream
            result = await http_upstream.request("tools/call", {"name": "x", "arguments": {}}, NoDownstream())
        assert result == {"content": []}
    assert len(upstream.gets) == 1
    assert heard == []


async def test_a_refused_get_stream_is_tried_again_until_it_opens() -> None:
    upstream = Upstream([503, [("e1", updated("fwd://a"))]])
    heard: list[tuple[str, Any]] = []
    async with serving(upstream) as url, client(url, heard) as http_upstream, anyio.create_task_group() as tasks:
        tasks.start_soon(http_upstream.hold_session_stream)
        await until(lambda: len(heard) == 1)
        assert len(upstream.gets) == 2
        http_upstream.close()


async def test_a_2026_upstream_has_no_get_stream() -> None:
    target = UpstreamTarget(transport=Transport.STREAMABLE_HTTP, url="http://127.0.0.1:9/mcp")  # nothing listens
    async with aiohttp.ClientSession() as http:
        with anyio.fail_after(1):
            await HttpUpstream(target, http, "2026-07-28", lambda _method, _params: None).hold_session_stream()


async def test_subscriptions_keep_the_session_and_a_renewed_session_subscribes_them_again() -> None:
    upstream = Upstream([405])
    async with serving(upstream) as url, client(url, []) as http_upstream:
        with anyio.fail_after(5):
            for uri in ("fwd://a", "fwd://b"):
                await http_upstream.request("resources/subscribe", {"uri": uri}, NoDownstream())
            await http_upstream.request("resources/unsubscribe", {"uri": "fwd://b"}, NoDownstream())
            assert http_upstream.holds_subscriptions
            upstream.expire = True
            await http_upstream.request("tools/call", {"name": "x", "arguments": {}}, NoDownstream())
            await http_upstream.request("resources/unsubscribe", {"uri": "fwd://a"}, NoDownstream())
            assert not http_upstream.holds_subscriptions
    methods = [(message.get("method"), (message.get("params") or {}).get("uri")) for message in upstream.posted]
    renewed = methods.index(("initialize", None), 1)
    assert methods[renewed:] == [
        ("initialize", None),
        ("notifications/initialized", None),
        ("resources/subscribe", "fwd://a"),  # held again on the new session, before the call itself
        ("tools/call", None),
        ("resources/unsubscribe", "fwd://a"),
    ]


async def test_a_get_stream_refused_for_an_expired_session_follows_the_renewed_session() -> None:
    upstream = Upstream([404, [("e1", updated("fwd://a"))]])
    heard: list[tuple[str, Any]] = []
    async with serving(upstream) as url, client(url, heard) as http_upstream, anyio.create_task_group() as tasks:
        with anyio.fail_after(5):
            await http_upstream.request("resources/subscribe", {"uri": "fwd://a"}, NoDownstream())
        upstream.expire = True  # the GET's 404 is the session's end: a ping finds out, and renews it
        tasks.start_soon(http_upstream.hold_session_stream)
        await until(lambda: len(heard) == 1)
        http_upstream.close()
    assert [get["Mcp-Session-Id"] for get in upstream.gets] == ["s1", "s2"]
    methods = [(message.get("method"), (message.get("params") or {}).get("uri")) for message in upstream.posted]
    assert methods[methods.index(("initialize", None), 1) :] == [
        ("initialize", None),
        ("notifications/initialized", None),
        ("resources/subscribe", "fwd://a"),
        ("ping", None),
    ]
