"""Cursor tokens: round trips, and every malformed token is a 400 naming `cursor`."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clientbook.domain.errors import BadQuery
from clientbook.query.cursor import cursor_from_row, decode, encode
from clientbook.query.fields import CUSTOMERS
from clientbook.query.model import Cursor, ListQuery, Sort
from clientbook.query.ordering import ordering_for
from tests.query.rows import at

ORDERING = ordering_for(
    CUSTOMERS,
    ListQuery(sort=(Sort("lastContactAt", True), Sort("totalRevenue"), Sort("name"))),
)
ROW = {"seq": 42, "lastContactAt": at(1.5), "totalRevenue": 10.5, "name": 'Zoë "Z" O\'Neil'}


def token_of(payload) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_cursor_survives_encoding():
    cursor = cursor_from_row(ORDERING, ROW)
    assert cursor.values == (at(1.5), 10.5, 'Zoë "Z" O\'Neil') and cursor.seq == 42
    assert decode(encode(cursor), ORDERING) == cursor
    before = cursor_from_row(ORDERING, ROW, before=True)
    assert decode(encode(before), ORDERING).before is True


def test_nulls_in_nullable_keys_survive():
    cursor = cursor_from_row(ORDERING, {**ROW, "lastContactAt": None})
    assert decode(encode(cursor), ORDERING).values[0] is None


def test_an_integer_revenue_is_read_as_a_float():
    token = token_of([ORDERING.fingerprint, 0, 1, ["2025-01-01T00:00:00.000+00:00", 10, "a"]])
    assert decode(token, ORDERING).values[1] == 10.0


def test_a_relevance_cursor_carries_the_tier():
    ordering = ordering_for(CUSTOMERS, ListQuery(search="tan"))
    cursor = cursor_from_row(ordering, ROW, rank=1)
    assert decode(encode(cursor), ordering) == Cursor((1,), 42, ordering.fingerprint)
    other_search = ordering_for(CUSTOMERS, ListQuery(search="lim"))
    with pytest.raises(BadQuery):
        decode(encode(cursor), other_search)


GOOD = [ORDERING.fingerprint, 0, 7, ["2025-01-01T00:00:00.000+00:00", 1.5, "a"]]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!",
        "e30",  # {}
        "bm90IGpzb24",  # not json
        token_of(GOOD[:3]),
        token_of(["other", *GOOD[1:]]),
        token_of([GOOD[0], 2, *GOOD[2:]]),
        token_of([GOOD[0], 0, "7", GOOD[3]]),
        token_of([GOOD[0], 0, True, GOOD[3]]),
        token_of([GOOD[0], 0, 2**70, GOOD[3]]),
        token_of([*GOOD[:3], GOOD[3][:2]]),
        token_of([*GOOD[:3], ["yesterday", 1.5, "a"]]),
        token_of([*GOOD[:3], ["2025-01-01T00:00:00Z", "1.5", "a"]]),
        token_of([*GOOD[:3], ["2025-01-01T00:00:00Z", 1.5, None]]),
        token_of([*GOOD[:3], ["2025-01-01T00:00:00Z", 1.5, 3]]),
        token_of([*GOOD[:3], ["2025-01-01T00:00:00Z", 1.5, "a\x00"]]),
        token_of([*GOOD[:3], ["2025-01-01T00:00:00Z", float("inf"), "a"]]),
        "A" * 5000,
    ],
)
def test_malformed_cursors_are_400s_naming_the_cursor(token):
    with pytest.raises(BadQuery) as caught:
        decode(token, ORDERING)
    assert list(caught.value.fields) == ["cursor"]


@given(st.text(max_size=200))
def test_any_token_decodes_or_is_refused(token):
    try:
        decode(token, ORDERING)
    except BadQuery as error:
        assert list(error.fields) == ["cursor"]


@given(
    st.lists(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
        max_size=4,
    ),
    st.integers(),
)
def test_any_payload_decodes_or_is_refused(values, seq):
    try:
        decode(token_of([ORDERING.fingerprint, 0, seq, values]), ORDERING)
    except BadQuery as error:
        assert list(error.fields) == ["cursor"]
