"""Canonical definitions and their content hashes.

A tool or prompt version is identified by the SHA-256 of its *canonical definition*: the
RFC 8785 (JCS) encoding of the JSON object the upstream sent, minus a few fields. JCS makes
the hash depend on meaning only: key order, whitespace and number spelling (``1``, ``1.0``
and ``1e0`` are the same number) never create a new version.

What goes into the hash is decided by an *exclusion* list, not an inclusion list. Everything
the upstream sends is hashed except fields known not to reach the model:

- ``_meta``: protocol metadata for clients and transports, never shown to the model.
- ``icons``: images that client UIs render; the model does not read them.

The consequence is deliberate: a field added by a future MCP revision (or an unknown vendor
field) changes the hash, so its first appearance goes through review. Failing closed costs a
re-review; failing open could let new model-visible text in unreviewed. The excluded fields
are still kept in stored definitions; they are only left out of the hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import rfc8785

from registry._errors import InvalidInputError

# Top-level fields of a tool or prompt that are not hashed (see the module docstring).
# Separate sets so the two kinds can diverge when the spec does.
TOOL_EXCLUDED_FIELDS: frozenset[str] = frozenset({"_meta", "icons"})
PROMPT_EXCLUDED_FIELDS: frozenset[str] = frozenset({"_meta", "icons"})
_SAFE_INT = 2**53 - 1  # the largest integer rfc8785 encodes as an int


def _plain(value: object) -> object:
    """Turn any Mapping into a dict and tuples into lists: rfc8785 accepts only those."""
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"object keys must be strings, not {type(key).__name__}")
            out[key] = _plain(item)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INT:
        # JSON numbers are IEEE doubles: 1e20 and 100000000000000000000 are the same number,
        # but rfc8785 rejects the int spelling. Accept it when a double holds it exactly;
        # otherwise hashing would silently merge distinct integers, so refuse.
        try:
            as_float = float(value)
        except OverflowError:
            as_float = math.inf
        if as_float != value:
            raise InvalidInputError(f"integer {value} is not exactly representable as a JSON number")
        return as_float
    return value


def canonical_json(value: object) -> bytes:
    """Encode a JSON-like value as RFC 8785 (JCS) canonical JSON.

    Args:
        value: Nested dicts (or other Mappings with string keys), lists, tuples, strings,
            ints, floats, booleans and None. Integers beyond +/-(2**53 - 1) are accepted
            when a double represents them exactly, as JSON numbers are doubles.

    Returns:
        The canonical UTF-8 bytes; equal for any two values with the same JSON meaning.

    Raises:
        InvalidInputError: The value has no canonical form: NaN or infinite floats,
            integers beyond +/-(2**53 - 1), non-string keys, unsupported types, lone
            surrogates, or nesting too deep to walk.
    """
    try:
        plain: Any = _plain(value)
        return rfc8785.dumps(plain)
    except rfc8785.CanonicalizationError as exc:
        raise InvalidInputError(f"value has no canonical JSON form: {exc}") from exc
    except RecursionError as exc:
        raise InvalidInputError("value is nested too deeply to canonicalize") from exc


def _without(definition: Mapping[str, object], excluded: frozenset[str]) -> dict[str, object]:
    # Shallow on purpose: nested values are only read, and canonical_json copies anyway.
    return {key: value for key, value in definition.items() if key not in excluded}


def tool_definition(tool: Mapping[str, object]) -> dict[str, object]:
    """Select the hashed part of a tool as an upstream listed it.

    Args:
        tool: One entry of a ``tools/list`` result, as decoded JSON.

    Returns:
        A shallow copy without the fields in ``TOOL_EXCLUDED_FIELDS``; every other field,
        known or not, is kept.
    """
    return _without(tool, TOOL_EXCLUDED_FIELDS)


def prompt_definition(prompt: Mapping[str, object]) -> dict[str, object]:
    """Select the hashed part of a prompt as an upstream listed it.

    Args:
        prompt: One entry of a ``prompts/list`` result, as decoded JSON.

    Returns:
        A shallow copy without the fields in ``PROMPT_EXCLUDED_FIELDS``; every other field,
        known or not, is kept.
    """
    return _without(prompt, PROMPT_EXCLUDED_FIELDS)


def definition_hash(definition: Mapping[str, object]) -> str:
    """Hash a definition by its meaning.

    Args:
        definition: The output of :func:`tool_definition` or :func:`prompt_definition`.

    Returns:
        The lowercase hex SHA-256 of :func:`canonical_json` of the definition.

    Raises:
        InvalidInputError: The definition has no canonical JSON form.
    """
    return hashlib.sha256(canonical_json(definition)).hexdigest()


def pretty_json(definition: Mapping[str, object]) -> str:
    """Render a definition as stable, human-readable JSON for display and diffs.

    Numbers are first normalised through the canonical form, so two definitions with the
    same hash always render identically (``1.0`` shows as ``1``).

    Args:
        definition: Any JSON-like mapping.

    Returns:
        JSON with sorted keys, two-space indentation and non-ASCII text kept as is.

    Raises:
        InvalidInputError: The definition has no canonical JSON form.
    """
    normalised = json.loads(canonical_json(definition))
    try:
        return json.dumps(normalised, sort_keys=True, indent=2, ensure_ascii=False)
    except RecursionError as exc:  # the indenting encoder is pure Python, so shallower
        raise InvalidInputError("value is nested too deeply to display") from exc
