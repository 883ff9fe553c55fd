"""`format_datetime` builds on orjson's output: it must give `isoformat`'s text exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clientbook.domain import timestamps
from clientbook.domain.timestamps import format_datetime, to_millis

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
)


def reference(value: datetime) -> str:
    return to_millis(value).isoformat(timespec="milliseconds")


@given(st.datetimes(timezones=ZONES))
def test_any_aware_instant_formats_as_isoformat_in_utc(value: datetime) -> None:
    assert format_datetime(value) == reference(value)


@given(st.datetimes())
def test_a_naive_instant_is_taken_as_utc(value: datetime) -> None:
    assert format_datetime(value) == reference(value.replace(tzinfo=UTC))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 1, 15, 9, 30, tzinfo=UTC), "2025-01-15T09:30:00.000+00:00"),
        (datetime(2025, 1, 15, 9, 30, 0, 123000, tzinfo=UTC), "2025-01-15T09:30:00.123+00:00"),
        (datetime(2025, 1, 15, 9, 30, 0, 999999, tzinfo=UTC), "2025-01-15T09:30:00.999+00:00"),
        (datetime(2025, 1, 15, 9, 30, 0, 1, tzinfo=UTC), "2025-01-15T09:30:00.000+00:00"),
        (datetime(999, 12, 31, 23, 59, 59, 5000, tzinfo=UTC), "0999-12-31T23:59:59.005+00:00"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000+00:00"),
        (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), "9999-12-31T23:59:59.999+00:00"),
    ],
)
def test_edges(value: datetime, text: str) -> None:
    assert format_datetime(value) == text


def test_none_is_none() -> None:
    assert format_datetime(None) is None


def test_a_text_of_another_shape_falls_back_to_isoformat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timestamps.orjson, "dumps", lambda value: b'"2025-01-15T09:30:00.123Z"')
    value = datetime(2025, 1, 15, 9, 30, 0, 123000, tzinfo=UTC)
    assert format_datetime(value) == "2025-01-15T09:30:00.123+00:00"
