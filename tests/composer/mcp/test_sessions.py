"""Handshake-era sessions over raw HTTP: ids, versions, DELETE, expiry, batches, responses, streams."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anyio
import httpx
import msgspec
import pytest

from composer.mcp import Endpoint, ListChangedHub, McpError, McpSettings, NoBackChannelError
from composer.mcp._sessions import STANDALONE, Session, SessionStore
from composer.mcp._wire import Response
from tests.composer.mcp._demo import DemoBackend, serve
from tests.composer.mcp._raw import ACCEPT_BOTH, initialize, rpc, sse_events

pytestmark = pytest.mark.anyio


async def test_session_ids_are_random_visible_ascii_and_distinct() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            ids = {(await initialize(client, served.url))["mcp-session-id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(len(session_id) >= 32 and all(0x21 <= ord(c) <= 0x7E for c in session_id) for session_id in ids)


@pytest.mark.parametrize(("requested", "negotiated"), [("2025-03-26", "2025-03-26"), ("1999-01-01", "2025-11-25")])
async def test_initialize_answers_the_requested_version_or_its_latest(requested: str, negotiated: str) -> None:
    params = {"protocolVersion": requested, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            response = await client.post(served.url, json=rpc("initialize", params), headers=ACCEPT_BOTH)
    assert response.json()["result"]["protocolVersion"] == negotiated
    assert response.json()["result"]["serverInfo"] == {"name": "demo", "version": "1.0.0", "title": "Demo"}


async def test_initialize_with_bad_params_is_invalid_params() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            response = await client.post(served.url, json=rpc("initialize", {"capabilities": 3}), headers=ACCEPT_BOTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602
    assert "mcp-session-id" not in response.headers


async def test_a_request_without_a_session_id_is_a_bad_request_and_an_unknown_one_not_found() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            missing = await client.post(served.url, json=rpc("tools/list"), headers=ACCEPT_BOTH)
            unknown = await client.post(
                served.url, json=rpc("tools/list"), headers={**ACCEPT_BOTH, "mcp-session-id": "nope"}
            )
            get_missing = await client.get(served.url, headers={"accept": "text/event-stream"})
    assert missing.status_code == 400
    assert unknown.status_code == 404
    assert get_missing.status_code == 400


async def test_a_deleted_session_is_gone() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            deleted = await client.delete(served.url, headers=headers)
            reused = await client.post(served.url, json=rpc("tools/list"), headers=headers)
            deleted_again = await client.delete(served.url, headers=headers)
    assert deleted.status_code == 204
    assert reused.status_code == 404
    assert deleted_again.status_code == 404


async def test_a_protocol_version_header_naming_no_handshake_version_is_a_bad_request() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            other = await client.post(
                served.url, json=rpc("tools/list"), headers={**headers, "mcp-protocol-version": "2025-06-18"}
            )
            bogus = await client.post(
                served.url, json=rpc("tools/list"), headers={**headers, "mcp-protocol-version": "banana"}
            )
            absent = await client.post(
                served.url,
                json=rpc("tools/list"),
                headers={k: v for k, v in headers.items() if k != "mcp-protocol-version"},
            )
    assert other.status_code == 200  # supported, if not the negotiated one: served at the negotiated one
    assert bogus.status_code == 400
    assert bogus.json()["error"]["data"]["requested"] == "banana"
    assert absent.status_code == 200  # the session knows its version


async def test_errors_to_requests_in_a_session_are_json_rpc_errors() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            unknown = await client.post(served.url, json=rpc("nothing/here", {}), headers=headers)
            bad_cursor = await client.post(served.url, json=rpc("tools/list", {"cursor": "x"}), headers=headers)
            bad_params = await client.post(served.url, json=rpc("tools/list", {"cursor": 5}), headers=headers)
            bad_level = await client.post(served.url, json=rpc("logging/setLevel", {"level": "loud"}), headers=headers)
            again = await client.post(
                served.url, json=rpc("initialize", {"protocolVersion": "2025-11-25"}, request_id=9), headers=headers
            )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (200, -32601)
    assert bad_cursor.json()["error"]["code"] == -32602
    assert bad_params.json()["error"]["code"] == -32602
    assert bad_level.json()["error"]["code"] == -32602
    assert again.status_code == 200  # initialize always starts a new session
    assert again.headers["mcp-session-id"] != headers["mcp-session-id"]


async def test_notifications_and_stray_responses_are_accepted() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            cancelled = await client.post(
                served.url, json=rpc("notifications/cancelled", {"requestId": 42}, request_id=None), headers=headers
            )
            malformed = await client.post(
                served.url, json=rpc("notifications/cancelled", {"requestId": 4.5}, request_id=None), headers=headers
            )
            response = await client.post(served.url, json={"jsonrpc": "2.0", "id": 77, "result": {}}, headers=headers)
    assert [cancelled.status_code, malformed.status_code, response.status_code] == [202, 202, 202]


async def test_batches_are_served_only_to_2025_03_26_sessions() -> None:
    batch = [rpc("ping", request_id=1), rpc("tools/list", request_id=2), rpc("notifications/x", request_id=None)]
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            old = await initialize(client, served.url, version="2025-03-26")
            served_batch = await client.post(served.url, json=batch, headers=old)
            new = await initialize(client, served.url)
            refused = await client.post(served.url, json=batch, headers=new)
            with_initialize = await client.post(served.url, json=[rpc("initialize", {}), rpc("ping")], headers=old)
    assert served_batch.status_code == 200
    answers: list[dict[str, Any]] = served_batch.json()
    assert sorted(answer["id"] for answer in answers) == [1, 2]
    assert refused.status_code == 400
    assert with_initialize.status_code == 400


async def test_a_duplicate_request_id_in_flight_is_refused() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            old = await initialize(client, served.url, version="2025-03-26")
            twins = [
                rpc("tools/call", {"name": "slow"}, request_id=5),
                rpc("tools/call", {"name": "echo"}, request_id=5),
            ]
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(partial(client.post, served.url, json=twins, headers=old))
                await served.backend.slow_started.wait()
                cancel = rpc("notifications/cancelled", {"requestId": 5}, request_id=None)
                assert (await client.post(served.url, json=cancel, headers=old)).status_code == 202
            await served.backend.slow_ended.wait()
    assert served.backend.slow_saw_cancel is True


async def test_an_idle_session_expires() -> None:
    settings = McpSettings(session_idle_timeout=0.2, json_window=0.5)
    async with serve(settings=settings) as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            alive = await client.post(served.url, json=rpc("tools/list"), headers=headers)
            await anyio.sleep(0.4)
            expired = await client.post(served.url, json=rpc("tools/list"), headers=headers)
    assert alive.status_code == 200
    assert expired.status_code == 404
    assert len(served.app.sessions) == 0


async def test_sessions_beyond_the_limit_are_refused() -> None:
    async with serve(settings=McpSettings(max_sessions=1)) as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            await initialize(client, served.url)
            params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}}
            refused = await client.post(served.url, json=rpc("initialize", params), headers=ACCEPT_BOTH)
    assert refused.status_code == 503


async def test_one_standalone_stream_per_session_and_it_delivers_what_was_missed() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            served.hub.publish("acme", "demo", "prompts")  # before any GET: kept for the first one
            async with client.stream("GET", served.url, headers=headers) as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"] == "text/event-stream"
                second = await client.get(served.url, headers=headers)
                events = sse_events(stream)
                priming = await events.__anext__()
                first = await events.__anext__()
                served.hub.publish("acme", "demo", "tools")
                then = await events.__anext__()
    assert second.status_code == 409
    assert priming["data"] is None
    assert first["data"]["method"] == "notifications/prompts/list_changed"
    assert then["data"]["method"] == "notifications/tools/list_changed"


async def test_resource_updates_reach_only_subscribed_sessions() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            subscribe = rpc("resources/subscribe", {"uri": "memo://1"})
            assert (await client.post(served.url, json=subscribe, headers=headers)).status_code == 200
            served.hub.publish_resource_updated("acme", "demo", "memo://2")
            served.hub.publish_resource_updated("acme", "demo", "memo://1")
            async with client.stream("GET", served.url, headers=headers) as stream:
                events = sse_events(stream)
                await events.__anext__()  # priming
                update = await events.__anext__()
    assert update["data"] == {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"uri": "memo://1"},
    }


def make_store(**overrides: Any) -> tuple[SessionStore, list[float]]:
    now = [0.0]
    settings = McpSettings(**{"session_idle_timeout": 10.0, "retained_streams": 2, **overrides})
    return SessionStore(settings, ListChangedHub(), clock=lambda: now[0]), now


def make_session(store: SessionStore, **capabilities: Any) -> Session:
    session = store.create(
        Endpoint("acme", "demo"), DemoBackend(), protocol_version="2025-11-25", client_capabilities=capabilities
    )
    assert session is not None
    return session


def test_only_unfinished_or_undelivered_streams_are_kept_and_only_a_few() -> None:
    store, _now = make_store()
    session = make_session(store)
    streams = [session.new_stream() for _ in range(3)]
    for stream in streams:
        stream.close()
    session.forget(streams[2])
    newest = session.new_stream()
    assert [session.stream(stream.stream_id) is not None for stream in streams] == [False, True, False]
    assert session.stream(newest.stream_id) is newest
    assert session.stream(STANDALONE) is session.standalone


def test_idle_sessions_are_swept_but_busy_ones_are_not() -> None:
    store, now = make_store()
    idle, busy = make_session(store), make_session(store)
    with store.active(busy):
        now[0] = 11.0
        assert store.get(idle.id, idle.endpoint, idle.backend) is None
        assert store.get(busy.id, busy.endpoint, busy.backend) is busy
        store.sweep(force=True)
    assert idle.closed
    assert len(store) == 1
    assert store.get(busy.id, Endpoint("acme", "demo", "admin"), busy.backend) is None  # bound to its endpoint
    store.close()
    assert busy.closed
    assert len(store) == 0


async def test_a_client_response_resolves_the_waiting_server_request() -> None:
    store, _now = make_store()
    session = make_session(store, sampling={})
    stream = session.new_stream()
    results: list[dict[str, Any]] = []
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:

            async def ask() -> None:
                results.append(await session.request("sampling/createMessage", {"maxTokens": 1}, stream))

            tasks.start_soon(ask)
            await stream.wait(0)
            sent = json.loads(stream.after(0)[0].data)
            session.deliver(Response(sent["id"] + 100, msgspec.Raw(b"{}"), msgspec.UNSET))  # unknown: dropped
            session.deliver(Response(sent["id"], msgspec.Raw(b'{"role":"assistant"}'), msgspec.UNSET))
    assert sent["method"] == "sampling/createMessage"
    assert results == [{"role": "assistant"}]


async def test_a_server_request_fails_on_error_replies_timeouts_and_missing_capabilities() -> None:
    store, _now = make_store(client_request_timeout=0.05)
    session = make_session(store, elicitation={})
    stream = session.new_stream()
    with anyio.fail_after(5):
        with pytest.raises(McpError) as timed_out:
            await session.request("elicitation/create", {}, stream)
        async with anyio.create_task_group() as tasks:
            errors: list[McpError] = []

            async def ask() -> None:
                with pytest.raises(McpError) as raised:
                    await session.request("elicitation/create", {}, stream)
                errors.append(raised.value)

            tasks.start_soon(ask)
            await stream.wait(2)
            request_id = json.loads(stream.after(2)[0].data)["id"]
            session.deliver(Response(request_id, msgspec.UNSET, msgspec.Raw(b'{"code":-1,"message":"declined"}')))
        with pytest.raises(NoBackChannelError):
            await session.request("roots/list", {}, stream)
    cancelled = json.loads(stream.after(1)[0].data)
    assert timed_out.value.code == -32603
    assert cancelled["method"] == "notifications/cancelled"  # the abandoned request is withdrawn
    assert errors[0].code == -1


async def test_ending_a_session_fails_its_waiting_server_requests_and_cancels_its_requests() -> None:
    store, _now = make_store()
    session = make_session(store, roots={})
    stream = session.new_stream()
    in_flight = session.begin(1)
    errors: list[McpError] = []
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:

            async def ask() -> None:
                with pytest.raises(McpError) as raised:
                    await session.request("roots/list", {}, stream)
                errors.append(raised.value)

            tasks.start_soon(ask)
            await stream.wait(0)
            store.remove(session)
    assert errors[0].code == -32603
    assert in_flight.cancelled
    assert stream.closed
    assert session.standalone.closed


class OwnedDemoBackend(DemoBackend):
    def __init__(self, owner: str) -> None:
        super().__init__()
        self._owner = owner

    def owner(self) -> str:
        return self._owner


def test_a_session_is_bound_to_the_caller_that_created_it() -> None:
    store, _now = make_store()
    alice = store.create(
        Endpoint("acme", "demo"), OwnedDemoBackend("agent:alice"), protocol_version="2025-11-25", client_capabilities={}
    )
    assert alice is not None
    assert store.get(alice.id, alice.endpoint, OwnedDemoBackend("agent:alice")) is alice
    assert store.get(alice.id, alice.endpoint, OwnedDemoBackend("agent:mallory")) is None
    assert store.get(alice.id, alice.endpoint, DemoBackend()) is None  # an anonymous caller neither
    anonymous = make_session(store)
    assert store.get(anonymous.id, anonymous.endpoint, OwnedDemoBackend("agent:alice")) is None
