"""The change hub: "the tools of endpoint X changed" reaches every client connected to X.

Whoever learns of a change (a sync, a review decision, an upstream's own ``list_changed``)
calls :meth:`ListChangedHub.publish`. Listeners are sessions (protocol versions up to
2025-11-25; delivered on their GET stream) and ``subscriptions/listen`` streams (2026-07-28).
Publishing is synchronous and never blocks: listeners only append to bounded buffers. Call it
from the event loop's thread.

An endpoint is ``(tenant, virtual_server)``; a change reaches the listeners of every role of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal, Protocol

import msgspec

logger = logging.getLogger(__name__)

ListChangedKind = Literal["tools", "prompts", "resources"]

_METHODS: dict[str, str] = {
    "tools": "notifications/tools/list_changed",
    "prompts": "notifications/prompts/list_changed",
    "resources": "notifications/resources/list_changed",
    "resource": "notifications/resources/updated",
}


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One change: a list changed (``uri`` None), or the resource at ``uri`` was updated."""

    kind: Literal["tools", "prompts", "resources", "resource"]
    uri: str | None = None

    @property
    def method(self) -> str:
        return _METHODS[self.kind]


class ChangeListener(Protocol):
    def changed(self, change: Change) -> None:
        """Called synchronously for each change; must not block."""
        ...

    def hub_closed(self) -> None:
        """The hub is shutting down: end gracefully."""
        ...


class ListChangedHub:
    """Fan-out of change notifications to the clients of each endpoint."""

    def __init__(self) -> None:
        self._listeners: dict[tuple[str, str], dict[int, ChangeListener]] = {}
        self._next = 0

    def publish(self, tenant: str, virtual_server: str, kind: ListChangedKind) -> int:
        """Tell every client of the endpoint that its ``kind`` list changed; returns how many heard."""
        return self._fan_out((tenant, virtual_server), Change(kind=kind))

    def publish_resource_updated(self, tenant: str, virtual_server: str, uri: str) -> int:
        """Tell the clients subscribed to ``uri`` that it changed; returns how many listeners were offered it."""
        return self._fan_out((tenant, virtual_server), Change(kind="resource", uri=uri))

    def publish_everywhere(self, tenant: str | None, kind: ListChangedKind) -> int:
        """Tell every client of every endpoint of ``tenant`` (of every tenant when None) that its
        ``kind`` list may have changed: after a policy change, which can touch any of them."""
        keys = [key for key in self._listeners if tenant is None or key[0] == tenant]
        return sum(self._fan_out(key, Change(kind=kind)) for key in keys)

    def listener_count(self, tenant: str, virtual_server: str) -> int:
        return len(self._listeners.get((tenant, virtual_server), {}))

    def subscribe(self, tenant: str, virtual_server: str, listener: ChangeListener) -> Callable[[], None]:
        """Register ``listener`` for the endpoint; returns the function that unregisters it."""
        key = (tenant, virtual_server)
        self._next += 1
        token = self._next
        self._listeners.setdefault(key, {})[token] = listener

        def unsubscribe() -> None:
            listeners = self._listeners.get(key)
            if listeners is not None:
                listeners.pop(token, None)
                if not listeners:
                    del self._listeners[key]

        return unsubscribe

    def close(self) -> None:
        """Shut down: every listener ends gracefully (listen streams send their final result)."""
        for listeners in list(self._listeners.values()):
            for listener in list(listeners.values()):
                listener.hub_closed()

    def _fan_out(self, key: tuple[str, str], change: Change) -> int:
        listeners = list(self._listeners.get(key, {}).values())
        for listener in listeners:
            try:
                listener.changed(change)
            except Exception:  # one broken listener must not starve the others
                logger.exception("a change listener failed")
        return len(listeners)
