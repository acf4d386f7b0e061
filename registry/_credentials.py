"""The seam through which upstream requests get credentials, and template rendering.

Header and env values of an upstream are templates such as ``Bearer ${GITHUB_TOKEN}``.
They are rendered per connection from a :class:`CredentialSource`; the rendered values
are never stored, logged or put in error messages.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Protocol

from registry._discovery import Transport, UpstreamTarget
from registry._errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from registry._types import Upstream


class CredentialSource(Protocol):
    """Where secret values for an upstream's templates come from (per tenant, later)."""

    async def values_for(self, upstream: Upstream, tenant: str | None) -> Mapping[str, str]: ...


class NoCredentials:
    """The registry's default: templates may only use no placeholders at all."""

    async def values_for(self, upstream: Upstream, tenant: str | None) -> Mapping[str, str]:
        return {}


def render_templates(templates: Mapping[str, str], values: Mapping[str, str], *, what: str) -> dict[str, str]:
    """Substitute ``${NAME}`` placeholders.

    Raises:
        InvalidInputError: a placeholder has no value (named, the value never shown) or is malformed.
    """
    rendered: dict[str, str] = {}
    for name, template in templates.items():
        try:
            rendered[name] = string.Template(template).substitute(values)
        except KeyError as exc:
            raise InvalidInputError(f"{what} {name!r} needs credential {exc.args[0]!r}, which is not set") from exc
        except ValueError as exc:
            raise InvalidInputError(f"{what} {name!r} has a malformed ${{...}} placeholder") from exc
    return rendered


async def target_for(upstream: Upstream, credentials: CredentialSource, tenant: str | None) -> UpstreamTarget:
    """The connection parameters of ``upstream``, with templates rendered for ``tenant``."""
    values = await credentials.values_for(upstream, tenant)
    transport = Transport(upstream.transport)
    if transport is Transport.STDIO:
        return UpstreamTarget(
            transport=transport,
            command=tuple(upstream.command),
            env=render_templates(upstream.env_templates, values, what="env"),
            cwd=upstream.cwd,
        )
    return UpstreamTarget(
        transport=transport,
        url=upstream.url,
        headers=render_templates(upstream.header_templates, values, what="header"),
    )
