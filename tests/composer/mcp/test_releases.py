"""Resource subscriptions through a ResourceSubscriber backend: held once per session or listen
stream, and released when the session ends (DELETE, expiry) or the listen stream closes."""

from __future__ import annotations

from collections.abc import Collection

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.subscriptions import ResourceUpdated

from composer.mcp import Endpoint, ListChangedHub, McpError, McpSettings, RequestContext
from composer.mcp._releases import Releases
from composer.mcp._sessions import SessionStore
from composer.mcp._wire import INVALID_PARAMS
from tests.composer.mcp._demo import DemoBackend, serve
from tests.composer.mcp._raw import initialize, modern_headers, modern_params, rpc

pytestmark = pytest.mark.anyio


class SubscribingBackend(DemoBackend):
    """Records the ResourceSubscriber hooks; ``memo://hidden`` is not served."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribed: list[str] = []
        self.unsubscribed: list[str] = []
        self.released: list[str] = []
        self.release_seen = anyio.Event()

    async def subscribe(self, uri: str, ctx: RequestContext) -> None:
        if uri == "memo://hidden":
            raise McpError(INVALID_PARAMS, "Resource not found", {"uri": uri})
        self.subscribed.append(uri)

    async def unsubscribe(self, uri: str, ctx: RequestContext) -> None:
        self.unsubscribed.append(uri)

    async def release(self, uris: Collection[str]) -> None:
        self.released += sorted(uris)
        self.release_seen.set()


async def test_a_listen_streams_resources_are_subscribed_before_the_acknowledgement_and_released_after() -> None:
    backend = SubscribingBackend()
    async with serve(backend) as served, Client(served.url, mode="2026-07-28") as client:
        with anyio.fail_after(10):
            uris = ["memo://1", "memo://2", "memo://1"]
            async with client.listen(resource_subscriptions=uris) as subscription:
                assert backend.subscribed == ["memo://1", "memo://2"]
                served.hub.publish_resource_updated("acme", "demo", "memo://2")
                event = await subscription.__anext__()
                assert backend.released == []
            await backend.release_seen.wait()
    assert isinstance(event, ResourceUpdated)
    assert event.uri == "memo://2"
    assert backend.released == ["memo://1", "memo://2"]
    assert backend.unsubscribed == []


async def test_a_listen_naming_a_resource_not_served_gets_resource_not_found_and_holds_nothing() -> None:
    backend = SubscribingBackend()
    params = modern_params(notifications={"resourceSubscriptions": ["memo://1", "memo://hidden", "memo://3"]})
    async with serve(backend) as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            response = await client.post(
                served.url, json=rpc("subscriptions/listen", params), headers=modern_headers("subscriptions/listen")
            )
            await backend.release_seen.wait()
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["data"]) == (INVALID_PARAMS, {"uri": "memo://hidden"})
    assert backend.subscribed == ["memo://1"]  # nothing after the failure is tried
    assert backend.released == ["memo://1"]


async def test_a_session_holds_each_resource_once_and_a_delete_releases_what_it_still_holds() -> None:
    backend = SubscribingBackend()
    async with serve(backend) as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, served.url)
            for method, uri in [
                ("resources/subscribe", "memo://1"),
                ("resources/subscribe", "memo://1"),
                ("resources/subscribe", "memo://2"),
                ("resources/unsubscribe", "memo://2"),
                ("resources/unsubscribe", "memo://4"),  # never held: nothing to let go of
                ("resources/subscribe", "memo://3"),
            ]:
                response = await client.post(served.url, json=rpc(method, {"uri": uri}), headers=headers)
                assert response.json()["result"] == {}, (method, uri)
            hidden = await client.post(
                served.url, json=rpc("resources/subscribe", {"uri": "memo://hidden"}), headers=headers
            )
            served.hub.publish_resource_updated("acme", "demo", "memo://1")
            assert (await client.delete(served.url, headers=headers)).status_code == 204
            await backend.release_seen.wait()
    assert hidden.json()["error"]["code"] == INVALID_PARAMS
    assert backend.subscribed == ["memo://1", "memo://2", "memo://3"]
    assert backend.unsubscribed == ["memo://2"]
    assert backend.released == ["memo://1", "memo://3"]


async def test_an_expired_session_releases_its_subscriptions() -> None:
    now = [0.0]
    releases = Releases()
    store = SessionStore(
        McpSettings(session_idle_timeout=10.0), ListChangedHub(), clock=lambda: now[0], releases=releases
    )
    backend = SubscribingBackend()
    async with releases.running():
        session = store.create(Endpoint("acme", "demo"), backend, protocol_version="2025-11-25", client_capabilities={})
        assert session is not None
        session.subscriptions.update({"memo://1", "memo://2"})
        now[0] = 11.0
        store.sweep(force=True)
        with anyio.fail_after(10):
            await backend.release_seen.wait()
    assert len(store) == 0
    assert backend.released == ["memo://1", "memo://2"]
    assert session.subscriptions == set()


def test_without_running_nothing_is_released_and_a_warning_says_so(caplog: pytest.LogCaptureFixture) -> None:
    store = SessionStore(McpSettings(), ListChangedHub())
    backend = SubscribingBackend()
    session = store.create(Endpoint("acme", "demo"), backend, protocol_version="2025-11-25", client_capabilities={})
    assert session is not None
    session.subscriptions.add("memo://1")
    store.close()
    assert backend.released == []
    assert [record.name for record in caplog.records] == ["composer.mcp._releases"]
