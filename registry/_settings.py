"""Atrium's settings: one frozen object, built from the environment and passed explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from registry._errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/atrium.db"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Process-wide configuration. Every field has an ``ATRIUM_<NAME>`` variable."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    discovery_timeout: float = 30.0
    # Seconds one forwarded call (tools/call, prompts/get, ...) may take upstream.
    call_timeout: float = 30.0
    # How often the scheduler looks for upstreams whose sync interval has elapsed.
    scheduler_tick: float = 5.0
    # Request bodies above this size are refused with 413 before they are parsed.
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    # uvicorn's line per HTTP request (``atrium serve``): off by default, it costs every MCP call.
    access_log: bool = False
    # Also create the demo tenant, upstream and token on start (``atrium serve --demo``).
    demo: bool = False
    watch_list_changed: bool = True
    # Comma-separated Fernet keys (urlsafe base64 of 32 bytes) that encrypt stored credentials.
    # The first encrypts, every one decrypts: put a new key first, run `atrium secrets rotate`,
    # then drop the old one. Empty: SQLite keeps a generated key in secret.key next to the
    # database; PostgreSQL refuses to store credentials (see registry/_secrets.py).
    secret_keys: str = ""
    # Seconds between looks at the policy revision, to pick up another process's policy change.
    policy_poll_interval: float = 2.0
    # The base URL clients use to reach this server (e.g. https://mcp.example.com). MCP endpoints'
    # canonical URIs, the audience their tokens must name (RFC 8707), are built on it. Empty:
    # from each request's Host header, which the client chooses; set it in production.
    public_url: str = ""

    def __repr__(self) -> str:
        # The secret keys must not reach a log line or a traceback through a repr.
        shown = ", ".join(
            f"{field}=<redacted>" if field == "secret_keys" and value else f"{field}={value!r}"
            for field, value in msgspec.structs.asdict(self).items()
        )
        return f"Settings({shown})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``ATRIUM_*`` variables; unknown variables are ignored.

        Raises:
            InvalidInputError: a variable does not parse as its field's type.
        """
        raw: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            value = environ.get(f"ATRIUM_{field.name.upper()}")
            if value is not None:
                raw[field.name] = value
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise InvalidInputError(f"bad ATRIUM_* setting: {exc}") from exc

    def sqlite_path(self) -> Path | None:
        """The file behind a SQLite URL (so its folder can be created), else None."""
        prefix = "sqlite+aiosqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        path = self.database_url.removeprefix(prefix)
        return None if path in ("", ":memory:") else Path(path)
