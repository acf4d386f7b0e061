from __future__ import annotations

import json
import random
from collections import OrderedDict

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from registry._canonical import (
    canonical_json,
    definition_hash,
    pretty_json,
    prompt_definition,
    tool_definition,
)
from registry._errors import InvalidInputError

SAFE_INT = 2**53 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-SAFE_INT, max_value=SAFE_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=6)
whitespace = st.sampled_from(["", " ", "  ", "\n", "\t", "\r\n", " \n\t "])


def make_tool(**overrides: object) -> dict[str, object]:
    tool: dict[str, object] = {
        "name": "get_weather",
        "title": "Weather",
        "description": "Get the current weather for a city.",
        "inputSchema": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
        "annotations": {"readOnlyHint": True},
    }
    tool.update(overrides)
    return tool


def shuffled(value: object, rnd: random.Random) -> object:
    """The same JSON value with every object's keys in a random order."""
    if isinstance(value, dict):
        keys = list(value)
        rnd.shuffle(keys)
        return {key: shuffled(value[key], rnd) for key in keys}
    if isinstance(value, list):
        return [shuffled(item, rnd) for item in value]
    return value


@given(json_values, st.randoms(use_true_random=False))
def test_key_order_does_not_change_the_canonical_form(value: object, rnd: random.Random) -> None:
    assert canonical_json(shuffled(value, rnd)) == canonical_json(value)


@given(json_objects, st.randoms(use_true_random=False))
def test_key_order_does_not_change_the_hash(definition: dict[str, object], rnd: random.Random) -> None:
    reordered = shuffled(definition, rnd)
    assert isinstance(reordered, dict)
    assert definition_hash(reordered) == definition_hash(definition)


@given(json_values, whitespace, whitespace, st.none() | st.integers(0, 4))
def test_whitespace_in_the_upstream_text_does_not_change_the_canonical_form(
    value: object, before: str, after: str, indent: int | None
) -> None:
    text = json.dumps(value, indent=indent, separators=(f"{before},{after}", f"{before}:{after}"))
    padded = f"{before}{text}{after}"
    assert canonical_json(json.loads(padded)) == canonical_json(value)


@given(st.integers(min_value=-SAFE_INT, max_value=SAFE_INT))
def test_integer_spellings_are_the_same_number(number: int) -> None:
    spellings = [f"{number}", f"{number}.0", f"{number}e0", f"{number}.000E+0", f"{number * 10}e-1"]
    encoded = {canonical_json(json.loads(f'{{"n": {text}}}')) for text in spellings}
    assert encoded == {f'{{"n":{number}}}'.encode()}


@pytest.mark.parametrize("text", ["9007199254740992", "100000000000000000000", "-18446744073709551616"])
def test_large_integers_a_double_holds_exactly_equal_their_float_spelling(text: str) -> None:
    assert canonical_json(json.loads(text)) == canonical_json(float(text))


def test_float_spellings_of_one_hash_the_same() -> None:
    hashes = {definition_hash(json.loads(f'{{"x": {text}}}')) for text in ("1", "1.0", "1e0", "10E-1")}
    assert len(hashes) == 1


# Integral doubles from 2**53 up to 1e21 print as integer text that a double holds only
# approximately; reading that text back is refused rather than rounded (tested below).
exact_floats = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not 2**53 <= abs(x) < 1e21)
exact_values = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE_INT, SAFE_INT) | exact_floats | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)


@given(exact_values)
def test_canonical_form_is_a_fixed_point(value: object) -> None:
    encoded = canonical_json(value)
    assert canonical_json(json.loads(encoded)) == encoded


@given(st.text(), st.text())
def test_different_descriptions_hash_differently(first: str, second: str) -> None:
    same = definition_hash(make_tool(description=first)) == definition_hash(make_tool(description=second))
    assert same == (first == second)


@given(json_objects, st.text(), json_values)
def test_adding_a_field_changes_the_hash(definition: dict[str, object], key: str, value: object) -> None:
    assume(key not in definition)
    assert definition_hash({**definition, key: value}) != definition_hash(definition)


@pytest.mark.parametrize(("first", "second"), [(1, True), (0, False), (1, "1"), (None, 0), ([], {})])
def test_values_with_different_json_meaning_hash_differently(first: object, second: object) -> None:
    assert definition_hash({"x": first}) != definition_hash({"x": second})


def test_canonical_json_follows_rfc_8785() -> None:
    value = {"b": [1.0, "é", None, True], "a": {"z": 1e21, "y": 0.000001}, "\u20ac": -0.0}
    assert canonical_json(value) == '{"a":{"y":0.000001,"z":1e+21},"b":[1,"é",null,true],"€":0}'.encode()


def test_canonical_json_accepts_any_mapping_and_tuples() -> None:
    assert canonical_json(OrderedDict([("b", (1, 2)), ("a", 1)])) == b'{"a":1,"b":[1,2]}'


def test_hash_is_lowercase_hex_sha256() -> None:
    digest = definition_hash(make_tool())
    assert len(digest) == 64
    assert digest == digest.lower()
    int(digest, 16)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), -float("inf"), 2**53 + 1, -(2**53) - 1, 10**400, {1: "x"}, object(), "\ud800"],
)
def test_values_without_a_canonical_form_are_invalid_input(value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        canonical_json({"x": value})
    assert caught.value.code == "invalid_input"


def test_integer_text_a_double_only_approximates_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        canonical_json(json.loads("39585355253654980"))


def test_too_deep_nesting_is_invalid_input() -> None:
    value: object = "leaf"
    for _ in range(100_000):
        value = [value]
    with pytest.raises(InvalidInputError):
        canonical_json(value)


def test_meta_and_icons_do_not_change_the_tool_hash() -> None:
    plain = make_tool()
    decorated = make_tool(
        _meta={"io.example/trace": "abc"}, icons=[{"src": "https://example.com/i.png", "sizes": ["48x48"]}]
    )
    assert definition_hash(tool_definition(decorated)) == definition_hash(tool_definition(plain))


def test_meta_and_icons_do_not_change_the_prompt_hash() -> None:
    prompt = {"name": "summarise", "arguments": [{"name": "text", "required": True}]}
    decorated = {**prompt, "_meta": {"k": 1}, "icons": [{"src": "data:image/png;base64,AAAA"}]}
    assert definition_hash(prompt_definition(decorated)) == definition_hash(prompt_definition(prompt))


def test_an_unknown_new_field_changes_the_hash() -> None:
    plain = tool_definition(make_tool())
    extended = tool_definition(make_tool(futureField={"shownToModel": "yes"}))
    assert definition_hash(extended) != definition_hash(plain)


@pytest.mark.parametrize(
    "field", ["name", "title", "description", "inputSchema", "outputSchema", "annotations", "execution"]
)
def test_every_known_model_visible_field_is_hashed(field: str) -> None:
    assert field in tool_definition(make_tool(**{field: {"x": 1}}))


def test_tool_definition_does_not_modify_its_input() -> None:
    tool = make_tool(_meta={"a": 1})
    tool_definition(tool)
    assert "_meta" in tool


def test_pretty_json_is_sorted_indented_and_keeps_non_ascii() -> None:
    assert pretty_json({"b": 1.0, "a": "café"}) == '{\n  "a": "café",\n  "b": 1\n}'


@given(json_objects, st.randoms(use_true_random=False))
def test_pretty_json_is_stable_under_key_order(definition: dict[str, object], rnd: random.Random) -> None:
    reordered = shuffled(definition, rnd)
    assert isinstance(reordered, dict)
    assert pretty_json(reordered) == pretty_json(definition)
