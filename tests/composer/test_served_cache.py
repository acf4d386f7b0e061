from __future__ import annotations

import pytest

from composer._served_cache import ServedViewCache
from registry import ItemKind, ServedEntry

pytestmark = pytest.mark.anyio


class Loader:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> list[ServedEntry]:
        self.calls += 1
        return []


async def test_lists_are_loaded_once_until_invalidated() -> None:
    cache, load = ServedViewCache(ttl=60), Loader()
    for _ in range(3):
        await cache.get("acme", "support", ItemKind.TOOL, load)
    assert load.calls == 1
    cache.invalidate("acme", "other")
    await cache.get("acme", "support", ItemKind.TOOL, load)
    assert load.calls == 1
    cache.invalidate("acme", "support")
    await cache.get("acme", "support", ItemKind.TOOL, load)
    assert load.calls == 2


async def test_a_zero_ttl_never_serves_from_the_cache() -> None:
    cache, load = ServedViewCache(ttl=0.0), Loader()
    await cache.get("acme", "support", ItemKind.PROMPT, load)
    await cache.get("acme", "support", ItemKind.PROMPT, load)
    assert load.calls == 2
