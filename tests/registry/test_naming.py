from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry import InvalidInputError
from registry._naming import default_exposed_name, exposed_name

SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
slugs = st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True)
names = st.text(min_size=1, max_size=200)


@given(slugs, names)
def test_default_names_are_always_safe_for_strict_clients(slug: str, name: str) -> None:
    assert SAFE.match(default_exposed_name(slug, name))


@given(slugs, names)
def test_default_names_are_a_pure_function_of_the_configuration(slug: str, name: str) -> None:
    assert default_exposed_name(slug, name) == default_exposed_name(slug, name)


@given(slugs, names, names)
def test_different_originals_get_different_default_names(slug: str, first: str, second: str) -> None:
    # Unsafe characters fold to "_", but then a digest of the original tells them apart.
    if first != second:
        assert default_exposed_name(slug, first) != default_exposed_name(slug, second)


def test_a_plain_name_keeps_its_readable_form() -> None:
    assert default_exposed_name("github", "create_issue") == "github_create_issue"


def test_a_custom_name_may_use_the_spec_alphabet_but_nothing_else() -> None:
    assert exposed_name("github", "create_issue", "create.issue") == "create.issue"
    with pytest.raises(InvalidInputError):
        exposed_name("github", "create_issue", "create issue")
