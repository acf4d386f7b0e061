"""What changed between two versions of a definition, for reviewers.

Two views of the same change: :func:`definition_diff` is the full unified diff shown on a
review page, :func:`changed_fields` the short list of dotted paths used in summaries and
notifications ("description, inputSchema.properties.city.description changed").
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from registry._canonical import pretty_json


def definition_diff(
    previous: Mapping[str, object] | None,
    current: Mapping[str, object],
    *,
    previous_label: str = "previous",
    current_label: str = "current",
) -> str:
    """Render a unified diff between two definitions.

    Both sides are rendered with :func:`~registry._canonical.pretty_json`, so key order and
    number spelling never show up as changes.

    Args:
        previous: The earlier definition, or None when the item is new (then every line of
            ``current`` is an addition).
        current: The newer definition.
        previous_label: Name of the earlier side in the ``---`` header.
        current_label: Name of the newer side in the ``+++`` header.

    Returns:
        The diff text, newline-terminated; empty when the definitions render identically.

    Raises:
        InvalidInputError: A definition has no canonical JSON form.
    """
    before = pretty_json(previous).splitlines() if previous is not None else []
    after = pretty_json(current).splitlines()
    lines = list(difflib.unified_diff(before, after, fromfile=previous_label, tofile=current_label, lineterm=""))
    return "\n".join(lines) + "\n" if lines else ""


def _same_leaf(a: object, b: object) -> bool:
    # JSON meaning, not Python equality: True == 1 in Python but not in JSON, while 1 and
    # 1.0 are the same JSON number (and hash the same under JCS).
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _leaves(root: Mapping[str, object]) -> dict[str, object]:
    """Flatten to ``{dotted path: leaf}``; empty objects and arrays count as leaves.

    Iterative, so a deeply nested definition cannot exhaust the interpreter stack.
    """
    out: dict[str, object] = {}
    stack: list[tuple[str, object]] = [(str(key), value) for key, value in root.items()]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping) and value:
            stack.extend((f"{path}.{key}", item) for key, item in value.items())
        elif isinstance(value, list | tuple) and value:
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        else:
            out[path] = value
    return out


def changed_fields(previous: Mapping[str, object] | None, current: Mapping[str, object]) -> list[str]:
    """List the leaves that differ between two definitions.

    A leaf is a scalar or an empty object/array; a leaf present on one side only counts as
    changed, so a new property lists each of its own leaves.

    Args:
        previous: The earlier definition, or None when the item is new (then every leaf
            of ``current`` is listed).
        current: The newer definition.

    Returns:
        Sorted dotted paths such as ``description`` or
        ``inputSchema.properties.mode.enum[2]``. Keys are not escaped: they are for people
        to read, not to address values by.
    """
    before = _leaves(previous) if previous is not None else {}
    after = _leaves(current)
    missing = object()
    return sorted(
        path
        for path in before.keys() | after.keys()
        if not _same_leaf(before.get(path, missing), after.get(path, missing))
    )
