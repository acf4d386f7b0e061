"""Event streams: bounded buffers followed by position, event ids, SSE framing."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest

from composer.mcp._sse import EventStream, parse_event_id, pump, sse_event

pytestmark = pytest.mark.anyio


def test_a_stream_keeps_only_its_newest_frames() -> None:
    stream = EventStream("s1", capacity=2)
    for index in range(4):
        stream.append(str(index).encode())
    assert [frame.data for frame in stream.after(0)] == [b"2", b"3"]
    assert stream.after(4) == []
    stream.close()
    stream.append(b"late")
    assert stream.last_seq == 4


def test_event_ids_name_the_stream_and_position() -> None:
    stream = EventStream("s7", capacity=4)
    assert parse_event_id(stream.event_id(3)) == ("s7", 3)
    assert parse_event_id("s7:3:p") == ("s7", 3)
    assert parse_event_id("nonsense") is None
    assert parse_event_id(":3") is None
    assert sse_event(b"{}", "s7:1") == b"event: message\nid: s7:1\ndata: {}\n\n"


async def test_a_reader_follows_appends_and_hears_keepalives_until_close() -> None:
    stream = EventStream("s1", capacity=8)
    sent: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["body"])

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lambda: pump(send, stream, after=0, keepalive=0.05, event_ids=True))
            stream.append(b"1")
            await anyio.sleep(0.2)
            stream.append(b"2")
            stream.close()
    assert sent[0] == sse_event(b"1", "s1:1")
    assert b": keepalive\n\n" in sent
    assert sent[-1] == sse_event(b"2", "s1:2")
