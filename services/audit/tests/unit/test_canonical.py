from __future__ import annotations

from typing import Any

import pytest
from accord_audit.canonical import canonical_json, parse_canonical
from accord_audit.errors import InvalidRecord
from hypothesis import given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def test_keys_are_sorted_and_whitespace_removed() -> None:
    record = {"case_id": "c-1", "action": "read", "fields": ["victim.location"], "n": 1}
    assert canonical_json(record) == (
        b'{"action":"read","case_id":"c-1","fields":["victim.location"],"n":1}'
    )


def test_the_same_record_has_one_encoding_whatever_its_key_order() -> None:
    assert canonical_json({"b": 1, "a": {"d": 2, "c": 3}}) == canonical_json(
        {"a": {"c": 3, "d": 2}, "b": 1}
    )


@pytest.mark.parametrize(
    "record",
    [{"bad": float("nan")}, {"bad": 2**60}, {"bad": object()}, {1: "non-string key"}],
    ids=["nan", "integer-beyond-ijson", "object", "integer-key"],
)
def test_values_json_cannot_carry_exactly_are_refused(record: dict[Any, Any]) -> None:
    with pytest.raises(InvalidRecord):
        canonical_json(record)


@pytest.mark.parametrize(
    "body",
    [
        b'{"b":1,"a":2}',
        b'{"a": 1}',
        b'{"a":1.0}',
        b'{"a":1,"a":1}',
        b'["a"]',
        b"not json",
        b'{"a":"\xff"}',
    ],
    ids=["key-order", "whitespace", "float-form", "duplicate-key", "array", "garbage", "utf8"],
)
def test_stored_bodies_that_are_not_canonical_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidRecord):
        parse_canonical(body)


@settings(max_examples=200, deadline=None)
@given(records)
def test_canonical_bodies_round_trip(record: dict[str, Any]) -> None:
    body = canonical_json(record)
    decoded = parse_canonical(body)
    assert canonical_json(decoded) == body
