"""The SDK client's callbacks for a session shared by many client requests (stdio, legacy SSE).

On these transports every message shares one stream, and a server-to-client request or a
log message does not name the request it belongs to. So they go to a client only while
exactly one request is in flight on the session: then there is no doubt whose it is. With
none or several in flight, a server-to-client request is refused with a JSON-RPC error and a
log message is written to our own log at debug level. Never to the wrong client.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import mcp_types as types

from registry._downstream import Downstream, DownstreamError
from registry._upstream_target import ClientCallbacks

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mcp.client.session import ClientRequestContext
    from pydantic import BaseModel

logger = logging.getLogger(__name__)

AMBIGUOUS: Final = "the upstream session is shared by several requests: Atrium cannot tell which client to ask"


class SharedSessionCallbacks:
    """Tracks the requests in flight on one session and routes the upstream's requests to them."""

    def __init__(self) -> None:
        self._serving: list[Downstream] = []

    @property
    def in_flight(self) -> int:
        return len(self._serving)

    @contextmanager
    def serving(self, downstream: Downstream) -> Iterator[None]:
        self._serving.append(downstream)
        try:
            yield
        finally:
            self._serving.remove(downstream)

    def _only(self) -> Downstream | None:
        return self._serving[0] if len(self._serving) == 1 else None

    def client_callbacks(self) -> ClientCallbacks:
        return ClientCallbacks(
            sampling=self._sampling,
            elicitation=self._elicitation,
            list_roots=self._list_roots,
            logging=self._logging,
            log_level="debug",  # 2026-07-28 upstreams log only when asked; clients filter by their own level
        )

    async def _ask(self, method: str, params: BaseModel | None, result: type[Any]) -> Any:
        downstream = self._only()
        if downstream is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message=AMBIGUOUS)
        wire = {} if params is None else params.model_dump(by_alias=True, mode="json", exclude_none=True)
        try:
            return result.model_validate(await downstream.request(method, wire))
        except DownstreamError as exc:
            return types.ErrorData(code=exc.code, message=exc.message, data=exc.data)

    async def _sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        answer: types.CreateMessageResult | types.ErrorData = await self._ask(
            "sampling/createMessage", params, types.CreateMessageResult
        )
        return answer

    async def _elicitation(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        answer: types.ElicitResult | types.ErrorData = await self._ask("elicitation/create", params, types.ElicitResult)
        return answer

    async def _list_roots(self, context: ClientRequestContext) -> types.ListRootsResult | types.ErrorData:
        answer: types.ListRootsResult | types.ErrorData = await self._ask("roots/list", None, types.ListRootsResult)
        return answer

    async def _logging(self, params: types.LoggingMessageNotificationParams) -> None:
        downstream = self._only()
        if downstream is None:
            logger.debug("upstream log message with no single request in flight: %r", params.data)
            return
        await downstream.log(params.level, params.data, params.logger)
