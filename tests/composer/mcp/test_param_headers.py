"""Mirrored headers: the Base64 sentinel and the x-mcp-header annotations of a tool schema."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mcp.shared.inbound import encode_header_value

from composer.mcp._param_headers import decode_header_value, header_map, param_header_mismatch


@given(st.text())
def test_decoding_inverts_the_sdk_clients_encoding(value: str) -> None:
    assert decode_header_value(encode_header_value(value)) == value


def test_malformed_sentinels_decode_to_nothing() -> None:
    assert decode_header_value("=?base64?***?=") is None
    assert decode_header_value("=?base64?/w==?=") is None  # not UTF-8
    assert decode_header_value("=?base64?YQ=?=") is None  # not canonical
    assert decode_header_value(None) is None


def test_annotations_are_found_along_properties_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "where": {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}},
            "items": {"type": "array", "items": {"type": "string", "x-mcp-header": "Ignored"}},
        },
    }
    assert header_map(schema) == {("where", "region"): ("Region", "string")}
    assert param_header_mismatch(schema, {"where": {"region": "eu"}}, {"mcp-param-region": "eu"}, {}) is None
    assert param_header_mismatch(schema, {"where": {"region": "eu"}}, {}, {}) is not None


def test_a_schema_with_an_invalid_annotation_is_not_enforced() -> None:
    for bad in ({"type": "number", "x-mcp-header": "N"}, {"type": "string", "x-mcp-header": "bad name"}):
        schema = {"properties": {"value": bad}}
        assert header_map(schema) is None
        assert param_header_mismatch(schema, {"value": 1}, {}, {}) is None
    duplicated = {
        "properties": {"a": {"type": "string", "x-mcp-header": "X"}, "b": {"type": "string", "x-mcp-header": "x"}}
    }
    assert header_map(duplicated) is None


def test_a_repeated_param_header_is_a_mismatch() -> None:
    schema = {"properties": {"flag": {"type": "boolean", "x-mcp-header": "Flag"}}}
    assert param_header_mismatch(schema, {"flag": True}, {"mcp-param-flag": "true"}, {"mcp-param-flag": 1}) is None
    assert param_header_mismatch(schema, {"flag": True}, {"mcp-param-flag": "true"}, {"mcp-param-flag": 2}) is not None
    assert param_header_mismatch(schema, {"flag": [1]}, {"mcp-param-flag": "x"}, {}) is not None
