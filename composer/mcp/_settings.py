"""Settings of the MCP serving layer: one frozen object, built by the app factory and passed in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class McpSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the Streamable HTTP endpoints behave. Every field has a safe default.

    ``allowed_origin_hosts`` is the DNS-rebinding guard: a request without ``Origin`` passes, one
    whose Origin host (port ignored) is listed passes, any other gets 403. ``"*"`` allows all.
    """

    allowed_origin_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    max_body_bytes: int = 1_048_576
    # Sessions (protocol versions up to 2025-11-25).
    session_idle_timeout: float = 1800.0
    max_sessions: int = 10_000
    # Resumable SSE: events kept per stream, and finished streams kept per session for Last-Event-ID.
    stream_buffer: int = 256
    retained_streams: int = 32
    # A POST whose backend stays silent this long commits to SSE (keep-alives then flow); before
    # that, a result with nothing streamed before it goes back as plain application/json.
    json_window: float = 5.0
    sse_keepalive: float = 15.0
    # How long a server-to-client request (sampling, elicitation, roots) waits for its answer.
    client_request_timeout: float = 300.0
    # Log level of a session before the client sends logging/setLevel.
    default_log_level: str = "info"
    # 2026-07-28 caching hints on list and read results the backend did not set itself.
    cache_ttl_ms: int = 0
    cache_scope: Literal["public", "private"] = "private"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> McpSettings:
        """Read ``ATRIUM_MCP_*`` variables (and ``ATRIUM_MAX_BODY_BYTES``); unset ones keep defaults."""
        defaults = cls()
        origins = environ.get("ATRIUM_MCP_ALLOWED_ORIGIN_HOSTS")
        return cls(
            allowed_origin_hosts=(
                tuple(host.strip().lower() for host in origins.split(",") if host.strip())
                if origins is not None
                else defaults.allowed_origin_hosts
            ),
            max_body_bytes=int(environ.get("ATRIUM_MAX_BODY_BYTES", defaults.max_body_bytes)),
            session_idle_timeout=float(environ.get("ATRIUM_MCP_SESSION_IDLE_TIMEOUT", defaults.session_idle_timeout)),
            max_sessions=int(environ.get("ATRIUM_MCP_MAX_SESSIONS", defaults.max_sessions)),
            client_request_timeout=float(
                environ.get("ATRIUM_MCP_CLIENT_REQUEST_TIMEOUT", defaults.client_request_timeout)
            ),
        )
