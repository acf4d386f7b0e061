from __future__ import annotations

import composer.mcp


def test_public_names_are_sorted_and_importable() -> None:
    assert composer.mcp.__all__ == sorted(composer.mcp.__all__)
    for name in composer.mcp.__all__:
        assert hasattr(composer.mcp, name), name
