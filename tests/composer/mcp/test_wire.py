"""Decoding JSON-RPC bodies and params: the envelope once, params per method, nothing unknown rejected."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from composer.mcp._wire import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorBody,
    InitializeParams,
    ListenParams,
    Notification,
    PaginatedParams,
    ProtocolError,
    Request,
    Response,
    decode_body,
    decode_object,
    decode_params,
    encode_error,
    encode_notification,
    encode_result,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def test_a_request_keeps_its_params_raw_and_unknown_fields_are_ignored() -> None:
    body = b'{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","_meta":{"k":1}},"later":true}'
    [message], batch = decode_body(body)
    assert not batch
    assert isinstance(message, Request)
    assert (message.id, message.method) == ("a", "tools/call")
    assert decode_object(message.params) == {"name": "x", "_meta": {"k": 1}}


def test_messages_are_classified_by_their_members() -> None:
    messages, batch = decode_body(
        b'[{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"error":{}}]'
    )
    assert batch
    assert [type(message) for message in messages] == [Notification, Response, Response]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", PARSE_ERROR),
        (b"{", PARSE_ERROR),
        (b"[[[[", PARSE_ERROR),
        (b"17", INVALID_REQUEST),
        (b"[]", INVALID_REQUEST),
        (b"[1]", INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1,"result":{},"error":{}}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":{},"method":"x"}', INVALID_REQUEST),
    ],
)
def test_bodies_that_are_not_messages_are_protocol_errors(body: bytes, code: int) -> None:
    with pytest.raises(ProtocolError) as raised:
        decode_body(body)
    assert raised.value.code == code


def _error_code(decode: Callable[[], object]) -> int | None:
    try:
        decode()
    except ProtocolError as exc:
        return exc.code
    return None


@given(json_values)
def test_any_json_value_decodes_or_is_a_protocol_error(value: Any) -> None:
    assert _error_code(lambda: decode_body(json.dumps(value).encode())) in (None, PARSE_ERROR, INVALID_REQUEST)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_a_protocol_error(body: bytes) -> None:
    assert _error_code(lambda: decode_body(body)) in (None, PARSE_ERROR, INVALID_REQUEST)


@given(json_values)
def test_any_params_decode_or_are_invalid_params(value: Any) -> None:
    raw = msgspec.Raw(json.dumps(value).encode())
    for kind in (PaginatedParams, InitializeParams, ListenParams):
        assert _error_code(partial(decode_params, raw, kind)) in (None, INVALID_PARAMS)
    assert _error_code(lambda: decode_object(raw)) in (None, INVALID_PARAMS)


def test_params_decode_from_raw_or_from_a_mapping_alike() -> None:
    raw = msgspec.Raw(b'{"cursor":"2","_meta":{"progressToken":1},"extra":[1]}')
    assert decode_params(raw, PaginatedParams) == decode_params(
        {"cursor": "2", "_meta": {"progressToken": 1}}, PaginatedParams
    )
    assert decode_params(msgspec.UNSET, PaginatedParams).cursor is None
    initialize = decode_params(
        msgspec.Raw(b'{"protocolVersion":"2025-11-25","clientInfo":{"name":"c"}}'), InitializeParams
    )
    assert (initialize.protocol_version, initialize.client_info) == ("2025-11-25", {"name": "c"})


def test_meta_must_be_an_object() -> None:
    with pytest.raises(ProtocolError) as raised:
        decode_object(msgspec.Raw(b'{"_meta":[]}'))
    assert raised.value.code == INVALID_PARAMS


def test_encoders_write_json_rpc_2() -> None:
    assert json.loads(encode_result(1, {"a": 1})) == {"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}
    assert json.loads(encode_error(None, ErrorBody(code=-1, message="m"))) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -1, "message": "m"},
    }
    assert json.loads(encode_notification("n")) == {"jsonrpc": "2.0", "method": "n"}
