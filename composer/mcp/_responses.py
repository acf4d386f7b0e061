"""Writing HTTP responses: plain JSON, status-only, and the JSON-or-SSE answer to a POST.

A POST that carries requests is answered from its :class:`~composer.mcp._sse.EventStream`:
when the result arrives with nothing streamed before it (within ``json_window``), it goes back
as ``application/json``; once the backend sends progress, a log message or a server-to-client
request, or stays silent past the window, the answer becomes ``text/event-stream``. A client
that accepts only one of the two always gets that one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, NamedTuple

import anyio

from composer.mcp._settings import McpSettings
from composer.mcp._sse import EventStream, Send, end_body, priming_event, pump, start_sse
from composer.mcp._wire import ErrorBody, RequestId, encode_error

Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Headers = tuple[tuple[bytes, bytes], ...]
JSON_HEADERS: Headers = ((b"content-type", b"application/json"),)


class Accept(NamedTuple):
    json: bool
    sse: bool

    @classmethod
    def parse(cls, header: str | None) -> Accept:
        """What an ``Accept`` header admits; no header admits anything (RFC 9110)."""
        if header is None:
            return cls(json=True, sse=True)
        types = {part.split(";", 1)[0].strip().lower() for part in header.split(",")}
        anything = "*/*" in types
        return cls(
            json=anything or bool(types & {"application/json", "application/*"}),
            sse=anything or bool(types & {"text/event-stream", "text/*"}),
        )


async def send_json(send: Send, status: int, body: bytes, headers: Headers = ()) -> None:
    start: MutableMapping[str, Any] = {
        "type": "http.response.start",
        "status": status,
        "headers": [*JSON_HEADERS, (b"content-length", str(len(body)).encode()), *headers],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_status(send: Send, status: int, headers: Headers = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def send_error(
    send: Send, status: int, error: ErrorBody, request_id: RequestId | None = None, headers: Headers = ()
) -> None:
    """A JSON-RPC error response (no id unless known) with an HTTP error status."""
    await send_json(send, status, encode_error(request_id, error), headers)


async def until_disconnect(receive: Receive) -> None:
    while (await receive()).get("type") != "http.disconnect":
        pass


async def while_connected(receive: Receive, write: Callable[[], Awaitable[None]]) -> bool:
    """Run ``write`` until it finishes or the client goes away; True when the client went away."""
    gone = False
    async with anyio.create_task_group() as tasks:

        async def watch() -> None:
            nonlocal gone
            await until_disconnect(receive)
            gone = True
            tasks.cancel_scope.cancel()

        tasks.start_soon(watch)
        await write()
        tasks.cancel_scope.cancel()
    return gone


async def write_answer(
    send: Send,
    stream: EventStream,
    *,
    accept: Accept,
    settings: McpSettings,
    headers: Headers = (),
    status_of: Callable[[int | None], int] = lambda _code: 200,
    batch: bool = False,
    event_ids: bool = False,
    priming: bool = False,
) -> None:
    """Answer a POST from its stream, as JSON or SSE (see the module docstring).

    ``status_of`` maps a JSON answer's error code to its HTTP status. With ``event_ids`` the SSE
    events carry ids the client can resume from with ``Last-Event-ID``; ``priming`` sends one
    first, before any message.
    """
    if accept.sse:
        with anyio.move_on_after(settings.json_window):
            while not stream.closed and all(frame.response for frame in stream.after(0)):
                await stream.wait(stream.last_seq)
    else:
        while not stream.closed:
            await stream.wait(stream.last_seq)
    frames = stream.after(0)
    if stream.closed and not frames:
        # Every request was cancelled and no response is owed: an empty event stream (without an
        # id to resume from), or no content at all for a client that does not take streams.
        if accept.sse:
            await start_sse(send, headers)
            await end_body(send)
        else:
            await send_status(send, 204, headers)
        return
    as_json = stream.closed and all(frame.response for frame in frames)
    if not accept.sse or (accept.json and as_json):
        responses = [frame for frame in frames if frame.response]
        if batch:
            await send_json(send, 200, b"[" + b",".join(frame.data for frame in responses) + b"]", headers)
        else:
            await send_json(send, status_of(responses[0].error_code), responses[0].data, headers)
        return
    await start_sse(send, headers)
    if priming:
        await send({"type": "http.response.body", "body": priming_event(stream, 0), "more_body": True})
    await pump(send, stream, after=0, keepalive=settings.sse_keepalive, event_ids=event_ids)
    await end_body(send)
