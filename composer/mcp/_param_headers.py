"""2026-07-28 mirrored headers: ``Mcp-Name`` and the ``Mcp-Param-{Name}`` headers of ``x-mcp-header``.

A tool's ``inputSchema`` may mark properties (reached from the root through ``properties`` only,
typed string, integer or boolean) with ``"x-mcp-header": "<Name>"``; clients then send the
argument's value as ``Mcp-Param-<Name>``, Base64-wrapped as ``=?base64?…?=`` when it is not plain
ASCII. A server must reject a request whose headers and body disagree, or that omits a header
for a present argument. A schema with an invalid annotation is ignored (clients drop the tool).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

_SENTINEL = re.compile(r"=\?base64\?(?P<payload>.*)\?=", re.DOTALL)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.0+)?")
_TYPES: Final = frozenset({"string", "integer", "boolean"})


def decode_header_value(value: str | None) -> str | None:
    """A header value with the Base64 sentinel decoded; None when absent or malformed."""
    if value is None:
        return None
    match = _SENTINEL.fullmatch(value)
    if match is None:
        return value
    payload = match["payload"]
    try:
        decoded = base64.b64decode(payload, validate=True)
        if base64.b64encode(decoded).decode("ascii") != payload:
            return None  # non-canonical Base64 could make two readers disagree
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _annotations(schema: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """(property path, annotation, declared type) for every property carrying ``x-mcp-header``."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return
    for name, sub in properties.items():
        if isinstance(sub, Mapping):
            if "x-mcp-header" in sub:
                yield (*path, name), sub["x-mcp-header"], sub.get("type")
            yield from _annotations(sub, (*path, name))


def header_map(schema: Mapping[str, Any]) -> dict[tuple[str, ...], tuple[str, str]] | None:
    """Property path -> (header token, type) of a valid schema; None when an annotation is invalid."""
    found: dict[tuple[str, ...], tuple[str, str]] = {}
    seen: set[str] = set()
    for path, token, kind in _annotations(schema):
        if not isinstance(token, str) or not _TOKEN.fullmatch(token) or kind not in _TYPES or token.lower() in seen:
            return None
        seen.add(token.lower())
        found[path] = (token, kind)
    return found


def _value_at(arguments: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = arguments
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _rendered(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


def param_header_mismatch(
    schema: Mapping[str, Any], arguments: Mapping[str, Any], headers: Mapping[str, str], counts: Mapping[str, int]
) -> str | None:
    """Why the ``Mcp-Param-*`` headers disagree with ``arguments`` under ``schema``, or None if they agree.

    ``headers`` are keyed by lowercase name; ``counts`` says how often each name was sent.
    """
    annotated = header_map(schema)
    if annotated is None:
        return None
    for path, (token, kind) in annotated.items():
        name = f"mcp-param-{token.lower()}"
        raw = headers.get(name)
        value = _value_at(arguments, path)
        rendered = None if value is None else _rendered(value)
        if raw is None:
            if rendered is not None:
                return f"Mcp-Param-{token} is missing"
            continue
        if counts.get(name, 0) > 1:
            return f"Mcp-Param-{token} appears more than once"
        decoded = decode_header_value(raw)
        if rendered is None or decoded is None:
            return f"Mcp-Param-{token} has no matching argument"
        if decoded != rendered and not (kind == "integer" and _same_number(decoded, value)):
            return f"Mcp-Param-{token} does not match the argument"
    return None


def _same_number(header: str, value: Any) -> bool:
    """Integers compare numerically: ``42`` and ``42.0`` are the same argument."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not _DECIMAL.fullmatch(header):
        return False
    return int(header.partition(".")[0]) == value
