"""What an upstream sends while it answers reaches the client that asked, and back.

The official SDK client on a real virtual endpoint, in both protocol eras, over four upstreams
(Streamable HTTP and stdio, each as a 2026-07-28 server and as a handshake-only one): progress,
log messages, sampling, elicitation and roots reach the client's callbacks and the tool gets the
answers; a cancellation reaches the upstream as the cancellation of its own request; completion
and resource subscriptions (resources/subscribe, and a 2026-07-28 listen's resourceSubscriptions)
go through the endpoint, and end upstream when their client goes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, NamedTuple

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPError

from tests.e2e._agents import agent_client, open_to_agent
from tests.e2e._atrium import atrium_env, mint_token, running_atrium
from tests.e2e.test_virtual_endpoint import add_upstream, approve_all
from tests.upstreams._process import serve_http
from tests.upstreams.forwarding_server import status_uri

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

FORWARDING = "tests.upstreams.forwarding_server"
# slug -> (transport, era)
UPSTREAMS = {
    "webm": ("streamable-http", "dual"),
    "webl": ("streamable-http", "legacy"),
    "locm": ("stdio", "dual"),
    "locl": ("stdio", "legacy"),
}
ROOT = "file:///work/project"


def stdio(era: str) -> list[str]:
    return [sys.executable, "-m", FORWARDING, "--transport", "stdio", "--era", era]


class Endpoint(NamedTuple):
    url: str
    key: str  # an agent key that may use all of the virtual server


@pytest.fixture
async def endpoint(tmp_path: Any) -> AsyncIterator[Endpoint]:
    """Atrium with the four upstreams' tools, prompt and resource curated into acme/fwd."""
    env = atrium_env(f"sqlite+aiosqlite:///{tmp_path / 'atrium.db'}", ATRIUM_WATCH_LIST_CHANGED="false")
    token = mint_token(env, "ops", "platform_admin", "tenant_admin:acme", "security_reviewer:acme")
    async with (
        serve_http(FORWARDING) as modern_url,
        serve_http(FORWARDING, args=("--era", "legacy")) as legacy_url,
        running_atrium(env) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
    ):
        await api.post("/api/v1/tenants", json={"slug": "acme", "name": "Acme"})
        bodies: dict[str, dict[str, Any]] = {
            "webm": {"transport": "streamable_http", "url": modern_url},
            "webl": {"transport": "streamable_http", "url": legacy_url},
            "locm": {"transport": "stdio", "command": stdio("dual")},
            "locl": {"transport": "stdio", "command": stdio("legacy")},
        }
        entries: list[dict[str, Any]] = []
        for slug, body in bodies.items():
            upstream_id = await add_upstream(api, {"slug": slug, "name": slug, **body})
            await approve_all(api, upstream_id)
            entries += [
                {"upstream_id": upstream_id, "kind": "tool", "key": key}
                for key in ("interact", "wait", "cancellations", "touch", "regional", "subscriptions")
            ]
            entries += [
                {"upstream_id": upstream_id, "kind": "prompt", "key": "greet"},
                {"upstream_id": upstream_id, "kind": "resource", "key": status_uri(*UPSTREAMS[slug])},
            ]
        created = await api.post("/api/v1/tenants/acme/virtual-servers", json={"slug": "fwd", "name": "Forwarding"})
        assert created.status_code == 201, created.text
        curated = await api.put("/api/v1/tenants/acme/virtual-servers/fwd/entries", json=entries)
        assert curated.status_code == 200, curated.text
        yield Endpoint(f"{base}/mcp/acme/fwd", await open_to_agent(api, "acme", "fwd"))


class Callbacks:
    """The client's side: answers the upstream's requests and records what it heard."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.logs: list[Any] = []
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.updated: list[str] = []

    async def sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        self.asked.append("sampling")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="hi"), model="test-model"
        )

    async def elicitation(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append("elicitation")
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def roots(self, context: ClientRequestContext) -> types.ListRootsResult:
        self.asked.append("roots")
        return types.ListRootsResult(roots=[types.Root.model_validate({"uri": ROOT})])

    async def logging(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params.data)

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))

    async def on_message(self, message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.updated.append(message.params.uri)

    def client(self, endpoint: Endpoint, mode: str) -> AbstractAsyncContextManager[Client]:
        return agent_client(
            endpoint.url,
            endpoint.key,
            mode=mode,
            sampling_callback=self.sampling,
            elicitation_callback=self.elicitation,
            list_roots_callback=self.roots,
            logging_callback=self.logging,
            message_handler=self.on_message,
            log_level="debug",
        )


def text_of(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent), result
    return content.text


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_progress_logs_and_the_upstreams_requests_reach_the_client_and_its_answers_the_upstream(
    endpoint: Endpoint, mode: str
) -> None:
    # A 2026-07-28 client gets a handshake-only upstream's (webl, locl) standalone requests as
    # input_required rounds, while Atrium keeps the upstream call waiting (composer._suspended_calls).
    for slug in UPSTREAMS:
        callbacks = Callbacks()
        with anyio.fail_after(30):
            async with callbacks.client(endpoint, mode) as client:
                result = await client.call_tool(
                    f"{slug}_interact", {"topic": "t"}, progress_callback=callbacks.on_progress
                )
        assert not result.is_error, (slug, result)
        assert text_of(result) == f"t|hi|Ada|{ROOT}", slug
        assert sorted(set(callbacks.asked)) == ["elicitation", "roots", "sampling"], slug
        assert callbacks.progress == [(1, 2, "halfway"), (2, 2, "done")], slug
        assert "working on t" in callbacks.logs, slug


async def test_a_handshake_only_upstreams_suspended_call_is_resumed_only_with_its_own_request_state(
    endpoint: Endpoint,
) -> None:
    for slug in ("webl", "locl"):
        callbacks = Callbacks()
        with anyio.fail_after(30):
            async with callbacks.client(endpoint, "2026-07-28") as client:
                first = await client.session.call_tool(f"{slug}_interact", {"topic": "t"}, allow_input_required=True)
                assert isinstance(first, types.InputRequiredResult), slug
                assert first.input_requests, slug
                assert first.request_state, slug
                for state in (f"{first.request_state}x", "forged"):  # unknown to Atrium
                    with pytest.raises(MCPError) as refused:
                        await client.session.call_tool(
                            f"{slug}_interact", {"topic": "t"}, request_state=state, allow_input_required=True
                        )
                    assert refused.value.error.code == types.INVALID_PARAMS, slug
                # Its own state, for another request (other arguments), is refused too.
                with pytest.raises(MCPError) as refused:
                    await client.session.call_tool(
                        f"{slug}_interact", {"topic": "u"}, request_state=first.request_state, allow_input_required=True
                    )
                assert refused.value.error.code == types.INVALID_PARAMS, slug
                # ... and the call still waits for the right retry: the SDK's driver finishes it.
                result = await client.call_tool(f"{slug}_interact", {"topic": "t"}, request_state=first.request_state)
        assert text_of(result) == f"t|hi|Ada|{ROOT}", slug


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_client_cancellation_cancels_the_upstreams_own_request(endpoint: Endpoint, mode: str) -> None:
    async def seen(client: Client, slug: str) -> dict[str, list[Any]]:
        answer: dict[str, list[Any]] = json.loads(text_of(await client.call_tool(f"{slug}_cancellations", {})))
        return answer

    with anyio.fail_after(60):
        async with agent_client(endpoint.url, endpoint.key, mode=mode) as client:
            for slug in UPSTREAMS:
                before = await seen(client, slug)
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(client.call_tool, f"{slug}_wait", {})
                    while len((now := await seen(client, slug))["started"]) == len(before["started"]):
                        await anyio.sleep(0.02)
                    tasks.cancel_scope.cancel()
                started = now["started"][-1]  # the upstream's id for the request, not the client's
                while started not in (await seen(client, slug))["cancelled"]:
                    await anyio.sleep(0.02)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_arguments_annotated_x_mcp_header_reach_every_upstream_with_their_mcp_param_headers(
    endpoint: Endpoint, mode: str
) -> None:
    # A 2026-07-28 upstream refuses a call whose Mcp-Param-* headers do not mirror its arguments.
    with anyio.fail_after(30):
        async with agent_client(endpoint.url, endpoint.key, mode=mode) as client:
            await client.list_tools()  # the SDK client mirrors only the tools it has listed
            for slug in UPSTREAMS:
                for region in ("eu-west-1", "Zürich"):  # a plain token, and one sent Base64-wrapped
                    result = await client.call_tool(f"{slug}_regional", {"region": region})
                    assert not result.is_error, (slug, result)
                    assert text_of(result) == region, slug


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_completion_goes_to_the_prompts_upstream_under_its_own_name(endpoint: Endpoint, mode: str) -> None:
    with anyio.fail_after(30):
        async with agent_client(endpoint.url, endpoint.key, mode=mode) as client:
            for slug in UPSTREAMS:
                ref = types.PromptReference(type="ref/prompt", name=f"{slug}_greet")
                completed = await client.complete(ref, {"name": "name", "value": "A"})
                assert completed.completion.values == ["Ada", "Alan"], slug
            unknown = types.PromptReference(type="ref/prompt", name="greet")
            with pytest.raises(Exception, match="greet"):
                await client.complete(unknown, {"name": "name", "value": "A"})


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")  # a handshake-era method
async def test_a_subscribed_client_hears_the_upstreams_resource_updates(endpoint: Endpoint) -> None:
    # 2026-07-28 upstreams (webm, locm) have no resources/subscribe: Atrium listens for the URIs.
    callbacks = Callbacks()
    uris = {slug: status_uri(*kind) for slug, kind in UPSTREAMS.items()}
    with anyio.fail_after(30):
        async with callbacks.client(endpoint, "legacy") as client:
            for uri in uris.values():
                await client.subscribe_resource(uri)
            for slug, uri in uris.items():
                await client.call_tool(f"{slug}_touch", {"uri": "fwd://not/subscribed"})
                await client.call_tool(f"{slug}_touch", {"uri": uri})
            while set(callbacks.updated) != set(uris.values()):
                await anyio.sleep(0.02)
            assert "fwd://not/subscribed" not in callbacks.updated
            for uri in uris.values():  # the last subscriber leaving closes the upstream subscription
                await client.unsubscribe_resource(uri)
            await client.subscribe_resource(status_uri(*UPSTREAMS["webm"]))  # and a new one opens it again
            callbacks.updated.clear()
            await client.call_tool("webm_touch", {"uri": status_uri(*UPSTREAMS["webm"])})
            while not callbacks.updated:
                await anyio.sleep(0.02)
    assert callbacks.updated == [status_uri(*UPSTREAMS["webm"])]


async def upstream_subscriptions(client: Client, slug: str) -> set[str]:
    """What the upstream ``slug`` is subscribed to now: by resources/subscribe and open listen streams."""
    now = json.loads(text_of(await client.call_tool(f"{slug}_subscriptions", {})))
    return set(now["subscribed"]) | set(now["listening"])


async def until_unsubscribed(endpoint: Endpoint, uris: dict[str, str]) -> None:
    async with agent_client(endpoint.url, endpoint.key, mode="2026-07-28") as observer:
        for slug, uri in uris.items():
            while uri in await upstream_subscriptions(observer, slug):
                await anyio.sleep(0.05)


async def test_a_2026_client_listening_to_resources_hears_their_updates_until_it_stops_listening(
    endpoint: Endpoint,
) -> None:
    # Atrium subscribes each URI at its upstream: a listen stream of its own (webm, locm), or
    # resources/subscribe (webl, locl); the client's stream ending lets go of all of them.
    uris = {slug: status_uri(*kind) for slug, kind in UPSTREAMS.items()}
    with anyio.fail_after(60):
        async with (
            agent_client(endpoint.url, endpoint.key, mode="2026-07-28") as client,
            client.listen(resource_subscriptions=list(uris.values())) as subscription,
        ):
            assert subscription.honored is not None
            assert set(subscription.honored.resource_subscriptions or ()) == set(uris.values())
            for slug, uri in uris.items():
                assert uri in await upstream_subscriptions(client, slug), slug
                await client.call_tool(f"{slug}_touch", {"uri": uri})
                event = await subscription.__anext__()
                assert isinstance(event, ResourceUpdated), slug
                assert event.uri == uri, slug
        await until_unsubscribed(endpoint, uris)


async def test_a_2026_client_listening_to_a_resource_the_endpoint_does_not_serve_is_told_it_does_not_exist(
    endpoint: Endpoint,
) -> None:
    served = status_uri(*UPSTREAMS["webl"])
    with anyio.fail_after(30):
        async with agent_client(endpoint.url, endpoint.key, mode="2026-07-28") as client:
            with pytest.raises(MCPError) as refused:
                async with client.listen(resource_subscriptions=[served, "fwd://not/served"]):
                    pass
        assert refused.value.error.code == types.INVALID_PARAMS
        assert refused.value.error.data == {"uri": "fwd://not/served"}
        await until_unsubscribed(endpoint, {"webl": served})  # what it subscribed first is let go


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")  # a handshake-era method
async def test_a_session_that_ends_without_unsubscribing_lets_go_of_its_upstream_subscriptions(
    endpoint: Endpoint,
) -> None:
    uris = {slug: status_uri(*kind) for slug, kind in UPSTREAMS.items()}
    with anyio.fail_after(60):
        async with agent_client(endpoint.url, endpoint.key, mode="legacy") as client:
            for uri in uris.values():
                await client.subscribe_resource(uri)
                await client.subscribe_resource(uri)  # twice in one session: held once
            for slug, uri in uris.items():
                assert uri in await upstream_subscriptions(client, slug), slug
        # Leaving the client ends its session (DELETE) without unsubscribing.
        await until_unsubscribed(endpoint, uris)
