"""A short-lived cache of each endpoint's served lists, dropped whenever they may have changed.

Lists are read far more often than curation, syncs and reviews change them. The change
notifier drops an endpoint's entries at once in this process; the TTL bounds staleness
when another process made the change. Calls never use this cache: each call re-reads its
pin from the database (fail closed).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from registry import ItemKind, ServedEntry

DEFAULT_TTL = 5.0
_Key = tuple[str, str, ItemKind]


class ServedViewCache:
    def __init__(self, ttl: float = DEFAULT_TTL) -> None:
        self._ttl = ttl
        self._entries: dict[_Key, tuple[float, list[ServedEntry]]] = {}

    async def get(
        self, tenant: str, slug: str, kind: ItemKind, load: Callable[[], Awaitable[list[ServedEntry]]]
    ) -> list[ServedEntry]:
        key = (tenant, slug, kind)
        cached = self._entries.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        served = await load()
        # Stamped with the time the load started: a change during the load is not masked for long.
        self._entries[key] = (now, served)
        return served

    def invalidate(self, tenant: str, slug: str) -> None:
        for key in [key for key in self._entries if key[:2] == (tenant, slug)]:
            del self._entries[key]
