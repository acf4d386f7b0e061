"""2026-07-28 over raw HTTP: envelope and header checks, status codes, result shapes, listen framing."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import httpx
import pytest

from tests.composer.mcp._demo import serve
from tests.composer.mcp._raw import ACCEPT_BOTH, MODERN, modern_headers, modern_params, rpc, sse_events

pytestmark = pytest.mark.anyio


async def _post(body: Any, headers: dict[str, str] | list[tuple[str, str]]) -> httpx.Response:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            return await client.post(served.url, json=body, headers=headers)


@pytest.mark.parametrize(
    ("params", "headers", "code"),
    [
        ({}, modern_headers("tools/list"), -32602),
        (
            {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}},
            modern_headers("tools/list"),
            -32602,
        ),
        (modern_params(), {**modern_headers("tools/list"), "mcp-method": "prompts/list"}, -32020),
        (modern_params(), {k: v for k, v in modern_headers("tools/list").items() if k != "mcp-method"}, -32020),
        (
            modern_params(_meta={"io.modelcontextprotocol/protocolVersion": "2025-11-25"}),
            modern_headers("tools/list"),
            -32020,
        ),
        (modern_params(_meta={"io.modelcontextprotocol/logLevel": "loud"}), modern_headers("tools/list"), -32602),
    ],
)
async def test_envelope_and_header_violations_are_bad_requests(
    params: dict[str, Any], headers: dict[str, str], code: int
) -> None:
    response = await _post(rpc("tools/list", params), headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["id"] == 1


async def test_a_duplicated_routing_header_is_a_mismatch() -> None:
    headers = [*modern_headers("tools/list").items(), ("mcp-method", "tools/list")]
    response = await _post(rpc("tools/list", modern_params()), headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, -32020)


@pytest.mark.parametrize(
    ("name_header", "status"),
    [
        ("echo", 200),
        (f"=?base64?{base64.b64encode(b'echo').decode()}?=", 200),
        ("other", 400),
        ("=?base64?not base64?=", 400),
        (None, 400),
    ],
)
async def test_mcp_name_must_match_the_body(name_header: str | None, status: int) -> None:
    response = await _post(rpc("tools/call", modern_params(name="echo")), modern_headers("tools/call", name_header))
    assert response.status_code == status


async def test_an_unsupported_version_names_the_supported_ones() -> None:
    params = modern_params(_meta={"io.modelcontextprotocol/protocolVersion": "2027-01-01"})
    response = await _post(
        rpc("tools/list", params), {**modern_headers("tools/list"), "mcp-protocol-version": "2027-01-01"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022
    assert error["data"]["requested"] == "2027-01-01"
    assert error["data"]["supported"][:2] == [MODERN, "2025-11-25"]


@pytest.mark.parametrize("method", ["nothing/here", "ping", "logging/setLevel", "resources/subscribe", "initialize"])
async def test_unknown_and_removed_methods_are_not_found(method: str) -> None:
    response = await _post(rpc(method, modern_params()), modern_headers(method))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32601


async def test_notifications_are_accepted_and_responses_and_batches_refused() -> None:
    notification = await _post(
        rpc("notifications/cancelled", modern_params(requestId=1), request_id=None),
        modern_headers("notifications/cancelled"),
    )
    old_notification = await _post(
        rpc("notifications/x", request_id=None), {**ACCEPT_BOTH, "mcp-protocol-version": "2027-01-01"}
    )
    response = await _post({"jsonrpc": "2.0", "id": 1, "result": {}}, modern_headers("x"))
    batch = await _post([rpc("tools/list", modern_params())], modern_headers("tools/list"))
    assert notification.status_code == 202
    assert (old_notification.status_code, old_notification.json()["error"]["code"]) == (400, -32022)
    assert (response.status_code, response.json()["error"]["code"]) == (400, -32600)
    assert (batch.status_code, batch.json()["error"]["code"]) == (400, -32600)


async def test_discover_describes_the_server_without_a_session() -> None:
    headers = {**modern_headers("server/discover"), "mcp-session-id": "ignored"}
    response = await _post(rpc("server/discover", modern_params()), headers)
    assert response.status_code == 200
    assert "mcp-session-id" not in response.headers
    result = response.json()["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"][0] == MODERN
    assert result["capabilities"]["tools"] == {"listChanged": True}
    assert result["instructions"] == "Use the demo tools."
    assert (result["ttlMs"], result["cacheScope"]) == (0, "private")
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == {
        "name": "demo",
        "version": "1.0.0",
        "title": "Demo",
    }


async def test_results_are_completed_but_input_required_passes_untouched() -> None:
    listed = (await _post(rpc("tools/list", modern_params()), modern_headers("tools/list"))).json()["result"]
    asked = (await _post(rpc("tools/call", modern_params(name="ask")), modern_headers("tools/call", "ask"))).json()
    assert listed["resultType"] == "complete"
    assert listed["nextCursor"] == "3"
    assert "ttlMs" in listed
    assert "cacheScope" in listed
    assert asked["result"] == {
        "resultType": "input_required",
        "inputRequests": {
            "who": {
                "method": "elicitation/create",
                "params": {
                    "message": "Who?",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                },
            }
        },
    }


async def test_a_json_only_client_gets_json_and_an_sse_only_client_gets_a_stream() -> None:
    body = rpc("tools/call", modern_params(name="report", _meta={"progressToken": 1}))
    json_only = await _post(body, {**modern_headers("tools/call", "report"), "accept": "application/json"})
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = {**modern_headers("tools/call", "echo"), "accept": "text/event-stream"}
            async with client.stream(
                "POST", served.url, json=rpc("tools/call", modern_params(name="echo")), headers=headers
            ) as stream:
                events = [event async for event in sse_events(stream)]
    assert json_only.headers["content-type"] == "application/json"
    assert json_only.json()["result"]["content"][0]["text"] == "reported at 2026-07-28"
    assert [event["data"]["id"] for event in events] == [1]
    assert events[0]["id"] is None  # no event ids in this era


async def test_listen_acknowledges_what_it_honours_first() -> None:
    params = modern_params(notifications={"toolsListChanged": True, "resourceSubscriptions": ["memo://1"], "future": 1})
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            json_only = await client.post(
                served.url,
                json=rpc("subscriptions/listen", params),
                headers={**modern_headers("subscriptions/listen"), "accept": "application/json"},
            )
            bad = await client.post(
                served.url,
                json=rpc("subscriptions/listen", modern_params()),
                headers=modern_headers("subscriptions/listen"),
            )
            body = rpc("subscriptions/listen", params, request_id="sub-1")
            async with client.stream(
                "POST", served.url, json=body, headers=modern_headers("subscriptions/listen")
            ) as stream:
                events = sse_events(stream)
                ack = await events.__anext__()
                served.hub.publish("acme", "demo", "tools")
                change = await events.__anext__()
    assert json_only.status_code == 406
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, -32602)
    assert ack["data"]["method"] == "notifications/subscriptions/acknowledged"
    assert ack["data"]["params"] == {
        "_meta": {"io.modelcontextprotocol/subscriptionId": "sub-1"},
        "notifications": {"toolsListChanged": True, "resourceSubscriptions": ["memo://1"]},
    }
    assert change["data"] == {
        "jsonrpc": "2.0",
        "method": "notifications/tools/list_changed",
        "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": "sub-1"}},
    }


@pytest.mark.parametrize(
    ("arguments", "param_headers", "status"),
    [
        ({"region": "eu"}, {"mcp-param-region": "eu"}, 200),
        ({"region": "eu", "shards": 4}, {"mcp-param-region": "eu", "mcp-param-shards": "4.0"}, 200),
        ({"region": " eu "}, {"mcp-param-region": f"=?base64?{base64.b64encode(b' eu ').decode()}?="}, 200),
        ({}, {}, 200),
        ({"region": "eu"}, {}, 400),
        ({"region": "eu"}, {"mcp-param-region": "us"}, 400),
        ({}, {"mcp-param-region": "eu"}, 400),
        ({"shards": 4}, {"mcp-param-shards": "5"}, 400),
        ({"region": "eu"}, {"mcp-param-region": "=?base64?@@?="}, 400),
    ],
)
async def test_mcp_param_headers_must_mirror_annotated_arguments(
    arguments: dict[str, Any], param_headers: dict[str, str], status: int
) -> None:
    body = rpc("tools/call", modern_params(name="region", arguments=arguments))
    response = await _post(body, {**modern_headers("tools/call", "region"), **param_headers})
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["code"] == -32020
