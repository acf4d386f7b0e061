"""Validated input for creating and changing tenants and upstreams.

These are the admin API's request bodies too, so unknown fields are refused: a typo in
a security-relevant setting must not be silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from registry._errors import InvalidInputError

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Interval = Annotated[int, msgspec.Meta(ge=10, le=7 * 24 * 3600)]

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_MAX_TEMPLATE = 8192
TRANSPORTS = ("streamable_http", "sse", "stdio")


class TenantSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    name: Name
    separation_of_duties: bool = False
    auto_approve_low_risk: bool = False


class TenantPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    separation_of_duties: bool | None = None
    auto_approve_low_risk: bool | None = None


class UpstreamSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An upstream MCP server. ``tenant`` None makes it global (platform-wide)."""

    slug: Slug
    name: Name
    transport: str
    tenant: Slug | None = None
    url: str | None = None
    # Values may reference credentials as ${NAME}; they are rendered per call, never stored resolved.
    header_templates: dict[str, str] = {}
    command: list[str] = []
    env_templates: dict[str, str] = {}
    cwd: str | None = None
    sync_interval_seconds: Interval | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        check_upstream_shape(
            self.transport, self.url, self.header_templates, self.command, self.env_templates, self.cwd
        )


class UpstreamPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; an absent field keeps its value. The result is re-validated whole."""

    name: Name | None = None
    url: str | None = None
    header_templates: dict[str, str] | None = None
    command: list[str] | None = None
    env_templates: dict[str, str] | None = None
    cwd: str | None = None
    sync_interval_seconds: Interval | None = None
    clear_sync_interval: bool = False
    enabled: bool | None = None


def check_upstream_shape(
    transport: str,
    url: str | None,
    headers: dict[str, str],
    command: list[str],
    env: dict[str, str],
    cwd: str | None,
) -> None:
    """Refuse a transport configuration that could never connect.

    Raises:
        InvalidInputError: naming the first field at fault.
    """
    if transport not in TRANSPORTS:
        raise InvalidInputError(f"transport must be one of {', '.join(TRANSPORTS)}")
    if transport == "stdio":
        if not command or any(not part or "\x00" in part for part in command):
            raise InvalidInputError("a stdio upstream needs a non-empty command (argv list)")
        if url is not None or headers:
            raise InvalidInputError("a stdio upstream takes no url or header_templates")
        for name, value in env.items():
            _check_template("env_templates", name, value, _ENV_NAME)
        return
    if url is None:
        raise InvalidInputError(f"a {transport} upstream needs a url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
        raise InvalidInputError("url must be an absolute http(s) URL")
    if command or env or cwd is not None:
        raise InvalidInputError(f"a {transport} upstream takes no command, env_templates or cwd")
    for name, value in headers.items():
        _check_template("header_templates", name, value, _HEADER_NAME)


def _check_template(field: str, name: str, value: str, pattern: re.Pattern[str]) -> None:
    if not pattern.match(name):
        raise InvalidInputError(f"{field}: invalid name {name!r}")
    if len(value) > _MAX_TEMPLATE or any(ch in value for ch in "\r\n\x00"):
        raise InvalidInputError(f"{field}: invalid value for {name!r}")
