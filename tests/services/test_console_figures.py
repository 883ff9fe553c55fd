"""Figures of the console: records per state, and the follow-up periods as list filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.domain.errors import BadQuery, Forbidden
from clientbook.services import state_counts
from clientbook.services.follow_up_due import due_params
from tests.factories import as_principal, make_customer, make_user


def test_top_states_largest_first_then_the_rest(database: Database) -> None:
    for state, n in (("Selangor", 3), ("Johor", 2), ("Penang", 2), ("Sabah", 1)):
        for _ in range(n):
            make_customer(database, state=state)
    make_customer(database)  # no state
    with database.read() as conn:
        found = state_counts.top_states(conn, SYSTEM, limit=2)
    assert found["byState"] == [
        {"value": "Selangor", "count": 3},
        {"value": "Johor", "count": 2},  # ties by name
    ]
    assert found["otherStates"] == {"groups": 2, "count": 3}
    assert found["noState"] == 1


def test_top_states_is_for_staff(database: Database) -> None:
    with database.read() as conn, pytest.raises(Forbidden):
        state_counts.top_states(conn, as_principal(make_user(database)))


# Wednesday 2026-11-25, 10:00 UTC.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_overdue_is_before_now_and_not_archived() -> None:
    assert due_params("overdue", now=NOW) == [
        ("status[ne]", "archived"),
        ("nextFollowUpAt[lt]", "2026-11-25T10:00:00.000+00:00"),
    ]


@pytest.mark.parametrize(
    ("window", "tz", "end"),
    [
        ("today", "UTC", "2026-11-26T00:00:00.000+00:00"),
        ("week", "UTC", "2026-11-30T00:00:00.000+00:00"),  # the end of Sunday
        ("today", "Asia/Kuala_Lumpur", "2026-11-25T16:00:00.000+00:00"),
    ],
)
def test_today_and_this_week_end_at_local_midnight(window: str, tz: str, end: str) -> None:
    params = dict(due_params(window, now=NOW, tz=tz))
    assert params["nextFollowUpAt[gte]"] == "2026-11-25T10:00:00.000+00:00"
    assert params["nextFollowUpAt[lt]"] == end
    assert params["status[ne]"] == "archived"


def test_an_unknown_period_names_the_parameter() -> None:
    with pytest.raises(BadQuery) as caught:
        due_params("soon")
    assert set(caught.value.fields) == {"due"}
