"""Rendered upstream targets, kept in memory so a forwarded call reads no credential and decrypts nothing.

Rendering a target reads the tenant's credentials from the database and decrypts them; a call
needs that only when they changed. :meth:`TargetCache.invalidate` is called by the credential
store on every change in this process (set, delete, rotate). The TTL is the backstop for changes
made by another process, and it bounds how long a cached OAuth token may be used after the token
cache would have renewed it: keep it well below ``registry._oauth.EXPIRY_MARGIN``.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Final

import msgspec

from registry._canonical import canonical_json
from registry._credentials import CredentialSource, target_for

if TYPE_CHECKING:
    from registry._types import Upstream
    from registry._upstream_target import UpstreamTarget

DEFAULT_TTL: Final = 5.0
PoolKey = tuple[str | None, int, str]
_Shape = tuple[object, ...]


def _shape(upstream: Upstream) -> _Shape:
    """What the target is rendered from: a changed upstream misses the cache at once."""
    return (
        upstream.transport,
        upstream.url,
        tuple(sorted(upstream.header_templates.items())),
        tuple(upstream.command),
        tuple(sorted(upstream.env_templates.items())),
        upstream.cwd,
    )


class TargetCache:
    def __init__(self, credentials: CredentialSource, ttl: float = DEFAULT_TTL) -> None:
        self._credentials = credentials
        self._ttl = ttl
        self._entries: dict[tuple[str | None, int], tuple[float, _Shape, UpstreamTarget, PoolKey]] = {}

    async def get(self, upstream: Upstream, tenant: str | None) -> tuple[UpstreamTarget, PoolKey]:
        """The rendered target and the pool key naming it (a digest of the target: never shared)."""
        shape = _shape(upstream)
        cached = self._entries.get((tenant, upstream.id))
        now = time.monotonic()
        if cached is not None and cached[1] == shape and now - cached[0] < self._ttl:
            return cached[2], cached[3]
        target = await target_for(upstream, self._credentials, tenant)
        digest = hashlib.sha256(canonical_json(msgspec.to_builtins(target))).hexdigest()
        key: PoolKey = (tenant, upstream.id, digest)
        # Stamped with the time the load started: a change during the load is not masked for long.
        self._entries[tenant, upstream.id] = (now, shape, target, key)
        return target, key

    def invalidate(self, tenant: str | None = None, upstream_id: int | None = None) -> None:
        """Drop the targets of ``tenant`` for ``upstream_id``; None matches every one."""
        for key in list(self._entries):
            if (tenant is None or key[0] == tenant) and (upstream_id is None or key[1] == upstream_id):
                del self._entries[key]
