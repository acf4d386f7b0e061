"""One HTTP request to an MCP endpoint: headers, the endpoint it names, its body, its Origin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from composer.mcp._responses import Accept, Receive
from composer.mcp._sse import Send

_DRAIN_AT_LEAST = 4 * 1024 * 1024


class Endpoint(NamedTuple):
    """The virtual server a request addresses: ``/{tenant}/{virtual_server}[/{role}]``."""

    tenant: str
    virtual_server: str
    role: str | None = None

    @classmethod
    def from_path(cls, path: str) -> Endpoint | None:
        """The endpoint of a path relative to the mount point, or None for any other shape."""
        segments = path.strip("/").split("/")
        if len(segments) not in (2, 3) or not all(segments):
            return None
        return cls(*segments)

    def path_params(self) -> dict[str, str]:
        params = {"tenant": self.tenant, "virtual_server": self.virtual_server}
        if self.role is not None:
            params["role"] = self.role
        return params


class ClientGoneError(Exception):
    """The client disconnected before its request body arrived."""


class HttpRequest:
    """The parts of an ASGI HTTP scope the MCP layer reads. Header names are lowercase."""

    __slots__ = ("accept", "headers", "method", "path", "raw_headers", "receive", "scheme", "send", "server")

    def __init__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        self.method: str = scope.get("method", "GET")
        self.path: str = scope.get("path", "/")
        self.scheme: str = scope.get("scheme", "http")
        self.server: tuple[str, int] | None = scope.get("server")
        self.raw_headers = [
            (bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1"))
            for name, value in scope.get("headers") or ()
        ]
        self.headers = dict(self.raw_headers)
        self.receive = receive
        self.send = send
        self.accept = Accept.parse(self.headers.get("accept"))

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` as the client addressed this server (its Host header)."""
        host = self.headers.get("host")
        if not host and self.server is not None:
            host = f"{self.server[0]}:{self.server[1]}"
        return f"{self.scheme}://{host or 'localhost'}"

    def header_count(self, name: str) -> int:
        return sum(1 for key, _ in self.raw_headers if key == name)

    @property
    def session_id(self) -> str | None:
        return self.headers.get("mcp-session-id")

    @property
    def protocol_version(self) -> str | None:
        return self.headers.get("mcp-protocol-version")

    def is_json(self) -> bool:
        content_type = self.headers.get("content-type", "")
        return content_type.split(";", 1)[0].strip().lower() == "application/json"

    async def read_body(self, limit: int) -> bytes | None:
        """The body, or None when it exceeds ``limit`` bytes.

        An oversized body is still read (and dropped) up to a bound, so the client finishes
        sending and reads the 413 instead of a connection reset; beyond that it is left unread.

        Raises:
            ClientGoneError: the client disconnected first.
        """
        drain_limit = max(4 * limit, _DRAIN_AT_LEAST)
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > drain_limit:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message.get("type") == "http.disconnect":
                raise ClientGoneError
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif size > drain_limit:
                return None
            if not message.get("more_body", False):
                return b"".join(chunks) if size <= limit else None


def origin_allowed(origin: str | None, allowed_hosts: tuple[str, ...]) -> bool:
    """DNS-rebinding guard: no Origin, or one whose host (port ignored) is allowed ("*": any)."""
    if origin is None or "*" in allowed_hosts:
        return True
    try:
        host = urlsplit(origin.strip()).hostname
    except ValueError:
        return False
    if not host:  # "null" and other opaque origins
        return False
    return host.lower() in {allowed.strip("[]").lower() for allowed in allowed_hosts}
