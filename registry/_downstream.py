"""The client a forwarded request came from, as the upstream side sees it.

While an upstream answers a forwarded request it may report progress, send log messages and
(in the handshake era) ask the client for sampling, elicitation or its roots. The pool hands
each of those to the :class:`Downstream` of the request that caused it, never to another
client's. The composer adapts its per-request context to this protocol (the registry does not
import the composer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping


class DownstreamError(Exception):
    """The client refused or failed a server-to-client request; answered upstream as this error.

    Not an ``AtriumError``: it never reaches a client, it is the JSON-RPC error the upstream gets.
    """

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


class Downstream(Protocol):
    """What an upstream may reach of the client whose request it is answering."""

    @property
    def log_level(self) -> str | None:
        """The lowest log level the client wants (2026-07-28 upstreams send logs only when asked)."""
        ...

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None: ...

    async def log(self, level: str, data: object, logger: str | None = None) -> None: ...

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """A server-to-client request answered by the client.

        Raises:
            DownstreamError: the client answered with an error, or cannot be asked at all.
        """
        ...


class NoDownstream:
    """For requests no client waits on: drops progress and logs, refuses every request."""

    log_level: str | None = None

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None

    async def log(self, level: str, data: object, logger: str | None = None) -> None:
        return None

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        raise DownstreamError(-32601, f"no client to ask for {method}")
