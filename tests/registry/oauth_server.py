"""A tiny real OAuth 2.0 token endpoint (client credentials grant) on 127.0.0.1, for tests.

    async with token_server(client_id="atrium", client_secret="shh", lifetime=60) as server:
        ...  # server.url; server.requests records each request; tokens are token-1, token-2, ...

It runs under uvicorn in a thread of its own and checks client authentication the way
RFC 6749 section 2.3.1 says: HTTP Basic (form-urlencoded id and secret) or the request body.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.upstreams._process import free_port


@dataclass
class TokenServer:
    client_id: str
    client_secret: str
    lifetime: int | None
    url: str = ""
    # One entry per token request: how the client authenticated, and the form (secret removed).
    requests: list[dict[str, str]] = field(default_factory=list)
    issued: int = 0

    async def token(self, request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        method, client_id, secret = "none", form.pop("client_id", None), form.pop("client_secret", None)
        if client_id is not None:
            method = "client_secret_post"
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            method = "client_secret_basic"
            user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
            client_id, secret = unquote(user), unquote(password)
        self.requests.append({"auth_method": method, **form})
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if (client_id, secret) != (self.client_id, self.client_secret):
            # The description echoes input, as some servers do: Atrium must not pass it on.
            return JSONResponse(
                {"error": "invalid_client", "error_description": f"bad secret {secret}"}, status_code=401
            )
        self.issued += 1
        reply: dict[str, object] = {"access_token": f"token-{self.issued}", "token_type": "Bearer"}
        if self.lifetime is not None:
            reply["expires_in"] = self.lifetime
        return JSONResponse(reply)


@asynccontextmanager
async def token_server(
    *, client_id: str = "atrium", client_secret: str = "client-s3cret", lifetime: int | None = 3600
) -> AsyncIterator[TokenServer]:
    server = TokenServer(client_id=client_id, client_secret=client_secret, lifetime=lifetime)
    app = Starlette(routes=[Route("/token", server.token, methods=["POST"])])
    async with serve_app(app) as base_url:
        server.url = f"{base_url}/token"
        yield server


@asynccontextmanager
async def serve_app(app: Starlette) -> AsyncIterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    uvicorn_server = uvicorn.Server(config)
    # A thread of its own: uvicorn in the main thread would install signal handlers.
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    try:
        with anyio.fail_after(10):
            while not uvicorn_server.started:
                if not thread.is_alive():
                    raise RuntimeError("the test server did not start")
                await anyio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        await anyio.to_thread.run_sync(thread.join, 10)
