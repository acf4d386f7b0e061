"""Each endpoint's served view (titles, lists and pins), kept in memory and dropped whenever it may change.

Lists and calls are far more frequent than curation, syncs and reviews, and a call must not pay
a database query for its pin check. Fail closed still holds in this process: every change that
can make an entry stop being served (curation, a sync, a review decision, an override decision,
an upstream disabled or deleted, a virtual server or tenant deleted) goes through the
:class:`~composer._endpoints.ChangeNotifier`, which calls :meth:`ServedViewCache.invalidate`
before the next call is served, so a version that stops being approved is refused on the next
call. The TTL is only the backstop for changes made by *another* process (a second Atrium, the
CLI against the same database): those are seen after at most ``ttl`` seconds.
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
        self._entries: dict[_Key, tuple[float, list[ServedEntry], dict[str, ServedEntry]]] = {}
        self._titles: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._generation = 0  # bumped by every invalidation

    async def get(
        self, tenant: str, slug: str, kind: ItemKind, load: Callable[[], Awaitable[list[ServedEntry]]]
    ) -> list[ServedEntry]:
        """The served entries of ``kind``, in curation order."""
        return (await self._load(tenant, slug, kind, load))[0]

    async def entry(
        self, tenant: str, slug: str, kind: ItemKind, name: str, load: Callable[[], Awaitable[list[ServedEntry]]]
    ) -> ServedEntry | None:
        """The entry served as ``name`` now (the call-time pin check), or None."""
        return (await self._load(tenant, slug, kind, load))[1].get(name)

    async def title(self, tenant: str, slug: str, load: Callable[[], Awaitable[str | None]]) -> str | None:
        """The virtual server's name, or None when there is no such server."""
        cached = self._titles.get((tenant, slug))
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        generation = self._generation
        title = await load()
        if generation == self._generation:
            self._titles[tenant, slug] = (now, title)
        return title

    async def _load(
        self, tenant: str, slug: str, kind: ItemKind, load: Callable[[], Awaitable[list[ServedEntry]]]
    ) -> tuple[list[ServedEntry], dict[str, ServedEntry]]:
        key = (tenant, slug, kind)
        cached = self._entries.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1], cached[2]
        generation = self._generation
        served = await load()
        by_name = {entry.exposed_name: entry for entry in served}
        # Stamped with the time the load started: a change during the load is not masked for long.
        # An invalidation during the load wins: then the result serves this request only.
        if generation == self._generation:
            self._entries[key] = (now, served, by_name)
        return served, by_name

    def invalidate(self, tenant: str, slug: str | None = None) -> None:
        """Drop what is cached of ``tenant``'s virtual server ``slug`` (None: all of the tenant's)."""
        self._generation += 1
        for key in [key for key in self._entries if key[0] == tenant and slug in (None, key[1])]:
            del self._entries[key]
        for title_key in [key for key in self._titles if key[0] == tenant and slug in (None, key[1])]:
            del self._titles[title_key]
