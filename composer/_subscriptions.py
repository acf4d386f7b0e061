"""Resource subscriptions through virtual endpoints: which endpoints want updates of which upstream URI.

A virtual endpoint serves a resource under its upstream URI, so an upstream's
``notifications/resources/updated`` names the URI the clients subscribed to. The pool hands such
notifications to :meth:`ResourceSubscriptions.upstream_notified`; the hub delivers them only to the
sessions subscribed to that URI. Subscribing is forwarded every time (idempotent upstream, and a
pooled connection may have been replaced since); unsubscribing only when the last subscription of
that tenant to that upstream URI is gone, since one pooled upstream session serves them all.
A 2026-07-28 upstream has no resources/subscribe: the pool holds a ``subscriptions/listen`` stream
naming :meth:`ResourceSubscriptions.uris` instead (``registry._resource_listen``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from composer.mcp import ListChangedHub

_Key = tuple[str | None, int, str]


class ResourceSubscriptions:
    def __init__(self, hub: ListChangedHub) -> None:
        self._hub = hub
        self._endpoints: dict[_Key, Counter[str]] = {}

    def subscribed(self, tenant: str, slug: str, upstream_id: int, uri: str) -> None:
        self._endpoints.setdefault((tenant, upstream_id, uri), Counter())[slug] += 1

    def unsubscribed(self, tenant: str, slug: str, upstream_id: int, uri: str) -> bool:
        """Record one unsubscription; True when nobody of the tenant is subscribed to the URI any more."""
        key = (tenant, upstream_id, uri)
        slugs = self._endpoints.get(key)
        if slugs is None:
            return True
        slugs[slug] -= 1
        if slugs[slug] <= 0:
            del slugs[slug]
        if not slugs:
            del self._endpoints[key]
            return True
        return False

    def uris(self, tenant: str, upstream_id: int) -> frozenset[str]:
        """The URIs of ``upstream_id`` that someone of ``tenant`` is subscribed to."""
        return frozenset(uri for (t, u, uri) in self._endpoints if t == tenant and u == upstream_id)

    def upstream_notified(self, tenant: str | None, upstream_id: int, method: str, params: Mapping[str, Any]) -> None:
        """A notification no request owns, from an upstream connection of ``tenant``."""
        uri = params.get("uri")
        if tenant is None or method != "notifications/resources/updated" or not isinstance(uri, str):
            return
        for slug in list(self._endpoints.get((tenant, upstream_id, uri), ())):
            self._hub.publish_resource_updated(tenant, slug, uri)
