"""HTTP-level checks that run before either era: Origin, path, method, media types, body size, framing."""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from typing import Any

import anyio
import httpx
import pytest

from composer.mcp import McpAsgiApp, McpSettings, create_mcp_asgi
from composer.mcp._request import origin_allowed
from tests.composer.mcp._demo import serve
from tests.composer.mcp._raw import ACCEPT_BOTH, initialize, modern_headers, modern_params, rpc

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("http://localhost:3000", True),
        ("http://127.0.0.1", True),
        ("http://[::1]:8080", True),
        ("https://evil.example", False),
        ("http://localhost.evil.example", False),
        ("null", False),
        ("http://[", False),
    ],
)
def test_origin_is_allowed_only_for_listed_hosts(origin: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, McpSettings().allowed_origin_hosts) is allowed


def test_a_wildcard_allows_every_origin() -> None:
    assert origin_allowed("https://anything.example", ("*",))


async def test_a_foreign_origin_is_forbidden() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            forbidden = await client.post(
                served.url, json=rpc("ping"), headers={**ACCEPT_BOTH, "origin": "https://evil.example"}
            )
            allowed = await client.post(
                served.url,
                json=rpc("server/discover", modern_params()),
                headers={**modern_headers("server/discover"), "origin": "http://localhost:5173"},
            )
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == -32600
    assert forbidden.json()["id"] is None
    assert allowed.status_code == 200


async def test_unknown_endpoints_are_not_found() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            responses = [
                await client.post(f"{served.base}{path}", json=rpc("ping"), headers=ACCEPT_BOTH)
                for path in ("/mcp", "/mcp/acme", "/mcp/acme/nothing", "/mcp/other/demo", "/mcp/a/b/c/d")
            ]
    assert [response.status_code for response in responses] == [404] * 5


async def test_a_role_segment_reaches_the_backend() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            headers = await initialize(client, f"{served.url}/analyst")
            listed = await client.post(f"{served.url}/analyst", json=rpc("tools/list"), headers=headers)
            elsewhere = await client.post(served.url, json=rpc("tools/list"), headers=headers)
    assert listed.status_code == 200
    assert elsewhere.status_code == 404  # a session is bound to the endpoint it was created at


async def test_a_refusal_from_the_resolver_is_sent_as_it_says() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            denied = await client.post(
                f"{served.base}/mcp/acme/locked",
                json=rpc("server/discover", modern_params()),
                headers=modern_headers("server/discover"),
            )
            admitted = await client.post(
                f"{served.base}/mcp/acme/locked",
                json=rpc("server/discover", modern_params()),
                headers={**modern_headers("server/discover"), "authorization": "Bearer ok"},
            )
    assert denied.status_code == 401
    metadata = f"{served.base}/.well-known/oauth-protected-resource/mcp/acme/locked"
    assert denied.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata}"'
    assert denied.json()["error"]["message"] == "a bearer token is required"
    assert admitted.status_code == 200


async def test_an_atrium_error_from_the_resolver_keeps_its_status() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            response = await client.post(
                f"{served.base}/mcp/acme/forbidden",
                json=rpc("server/discover", modern_params()),
                headers=modern_headers("server/discover"),
            )
    assert response.status_code == 403
    assert response.json()["error"]["data"] == {"code": "forbidden"}


async def test_other_http_methods_are_not_allowed() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            put = await client.put(served.url, json=rpc("ping"), headers=ACCEPT_BOTH)
            get_modern = await client.get(
                served.url, headers={"accept": "text/event-stream", "mcp-protocol-version": "2026-07-28"}
            )
            delete_modern = await client.delete(served.url, headers={"mcp-protocol-version": "2026-07-28"})
    assert put.status_code == 405
    assert put.headers["allow"] == "GET, POST, DELETE"
    assert (get_modern.status_code, get_modern.headers["allow"]) == (405, "POST")
    assert delete_modern.status_code == 405


async def test_wrong_media_types_are_refused() -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            text = await client.post(served.url, content=b"{}", headers={**ACCEPT_BOTH, "content-type": "text/plain"})
            html = await client.post(served.url, json=rpc("ping"), headers={"accept": "text/html"})
            get_json = await client.get(served.url, headers={"accept": "application/json"})
    assert text.status_code == 415
    assert html.status_code == 406
    assert get_json.status_code == 406


async def test_a_body_over_the_limit_is_refused_whether_declared_or_streamed() -> None:
    huge = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * 4096 + b'"}}'

    async def chunks() -> httpx.AsyncByteStream:  # type: ignore[misc]
        for start in range(0, len(huge), 512):
            yield huge[start : start + 512]

    async with serve(settings=McpSettings(max_body_bytes=1024)) as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            declared = await client.post(served.url, content=huge, headers=ACCEPT_BOTH)
            streamed = await client.post(served.url, content=chunks(), headers=ACCEPT_BOTH)
    assert declared.status_code == 413
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("body", "code", "request_id"),
    [
        (b"{not json", -32700, None),
        (b"[" * 100_000, -32700, None),
        (b'"a string"', -32600, None),
        (b"[]", -32600, None),
        (b'{"jsonrpc":"1.0","id":7,"method":"ping"}', -32600, 7),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":"x","method":42}', -32600, "x"),
        (b'{"jsonrpc":"2.0","id":3}', -32600, 3),
    ],
)
async def test_malformed_bodies_are_bad_requests_never_server_errors(
    body: bytes, code: int, request_id: int | str | None
) -> None:
    async with serve() as served, httpx.AsyncClient() as client:
        with anyio.fail_after(10):
            response = await client.post(served.url, content=body, headers=ACCEPT_BOTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["id"] == request_id


class ExplodingResolver:
    async def resolve(self, path_params: Mapping[str, str], headers: Mapping[str, str], base_url: str) -> None:
        raise RuntimeError("resolver bug with a secret")


async def call_asgi(
    app: McpAsgiApp, scope: dict[str, Any], inbox: list[dict[str, Any]]
) -> list[MutableMapping[str, Any]]:
    """Drive the app in-process: ``inbox`` feeds receive(), the sent messages come back."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


def http_scope(method: str = "POST", path: str = "/acme/demo", **headers: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()],
    }


async def test_an_unexpected_failure_is_a_500_with_nothing_leaked(caplog: pytest.LogCaptureFixture) -> None:
    app = create_mcp_asgi(ExplodingResolver(), McpSettings())
    body = json.dumps(rpc("tools/list")).encode()
    sent = await call_asgi(app, http_scope(content_type="application/json"), [{"type": "http.request", "body": body}])
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"])["error"] == {"code": -32603, "message": "Internal error"}
    assert "resolver bug with a secret" in caplog.text


async def test_a_client_gone_before_its_body_gets_no_answer() -> None:
    app = create_mcp_asgi(ExplodingResolver(), McpSettings())
    sent = await call_asgi(app, http_scope(content_type="application/json"), [])
    assert sent == []


async def test_the_app_runs_its_own_lifespan_and_ignores_other_scopes() -> None:
    app = create_mcp_asgi(ExplodingResolver(), McpSettings())
    lifespan = await call_asgi(app, {"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    websocket = await call_asgi(app, {"type": "websocket"}, [])
    assert [message["type"] for message in lifespan] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert websocket == []


def test_settings_come_from_the_environment() -> None:
    settings = McpSettings.from_env(
        {"ATRIUM_MCP_ALLOWED_ORIGIN_HOSTS": "App.Example , localhost", "ATRIUM_MAX_BODY_BYTES": "10"}
    )
    assert settings.allowed_origin_hosts == ("app.example", "localhost")
    assert settings.max_body_bytes == 10
    assert McpSettings.from_env({}) == McpSettings()
