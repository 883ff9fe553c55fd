"""`query.periods.range_count`: one statement per shape of range, the values as parameters."""

from __future__ import annotations

from datetime import UTC, datetime

from clientbook.db.tables import customers
from clientbook.query.periods import Bound, range_count

DUE = customers.c.nextFollowUpAt


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, 30, tzinfo=UTC)


def test_ranges_of_one_shape_share_the_statement_and_differ_in_parameters() -> None:
    monday = range_count("followUpDay", DUE, None, Bound(at(2, 9), True), leave_out_archived=True)
    friday = range_count("followUpDay", DUE, None, Bound(at(6, 17), True), leave_out_archived=True)
    assert friday.query.statement is monday.query.statement
    assert friday.signs == monday.signs == (1, 1, -1)  # whole days, the partial day less archived
    # The whole days before the last one's midnight, and that day's part up to the end.
    monday_midnight, friday_midnight = (datetime(2026, 3, d, tzinfo=UTC) for d in (2, 6))
    assert monday.query.params == {
        "last_day": "2026-03-02",
        "low_0": monday_midnight,
        "high_0": at(2, 9),
    }
    assert friday.query.params == {
        "last_day": "2026-03-06",
        "low_0": friday_midnight,
        "high_0": at(6, 17),
    }


def test_the_shape_is_the_ends_and_their_inclusiveness() -> None:
    counts = [
        range_count("followUpDay", DUE, None, Bound(at(2, 9), True), leave_out_archived=True),
        range_count("followUpDay", DUE, None, Bound(at(2, 9), False), leave_out_archived=True),
        range_count("followUpDay", DUE, at(1, 3), Bound(at(2, 9), True), leave_out_archived=True),
        range_count("followUpDay", DUE, at(1, 3), at(1, 9), leave_out_archived=True),
        range_count("createdDay", customers.c.createdAt, at(1, 3), at(1, 9)),
    ]
    assert len({id(count.query.statement) for count in counts}) == len(counts)
    within_a_day = counts[3]
    assert within_a_day.signs == (1, -1)  # no whole day: one partial range
    assert within_a_day.query.params == {"low_0": at(1, 3), "high_0": at(1, 9)}
    assert counts[4].signs == (1,)  # created records: none left out
