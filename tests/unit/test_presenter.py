"""`services.records.Presenter`: a row as its public JSON object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from clientbook.db.tables import customers
from clientbook.services.records import Presenter

PRESENT = Presenter(customers, ("id", "createdAt", "name", "lastContactAt", "nextFollowUpAt"))


def test_system_names_and_instants_as_iso_text_in_utc() -> None:
    row = {
        "id": "c1",
        "createdAt": datetime(2026, 1, 15, 9, 30, 0, 123456, tzinfo=UTC),
        "name": "Aisha",
        "lastContactAt": datetime(2026, 1, 15, 17, 30, tzinfo=timezone(timedelta(hours=8))),
        "nextFollowUpAt": None,
        "email": "not asked for",
    }
    assert PRESENT(row) == {
        "$id": "c1",
        "$createdAt": "2026-01-15T09:30:00.123+00:00",  # truncated to milliseconds
        "name": "Aisha",
        "lastContactAt": "2026-01-15T09:30:00.000+00:00",  # in UTC
        "nextFollowUpAt": None,
    }


def test_only_the_tables_timestamp_columns_are_formatted() -> None:
    """A column the table types as text keeps what it holds, even a datetime-looking value;
    an instant already given as text (a row built from JSON) is left as it is."""
    present = Presenter(customers, ("name", "createdAt"))
    assert present({"name": "2026-01-15", "createdAt": "2026-01-15T09:30:00.000+00:00"}) == {
        "name": "2026-01-15",
        "$createdAt": "2026-01-15T09:30:00.000+00:00",
    }


def test_a_single_column() -> None:
    assert Presenter(customers, ("id",))({"id": "c1", "name": "x"}) == {"$id": "c1"}
