"""Customer statistics at the service layer: every figure checked against a plain Python count
of the same records, on both backends, with calendar periods in UTC and in a local zone."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.db.tables import customers
from clientbook.domain.enums import CUSTOMER_SOURCES, CUSTOMER_STATUSES, CUSTOMER_TYPES
from clientbook.domain.errors import BadQuery, Forbidden, Unauthenticated
from clientbook.services import stats
from tests.factories import as_principal, make_customer, make_staff, make_user

# A Wednesday, mid-morning UTC (evening in Kuala Lumpur, UTC+8).
NOW = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def read_stats(db: Database, principal: Principal | None = SYSTEM, **kw: Any) -> dict[str, Any]:
    with db.read() as conn:
        return stats.customer_stats(conn, principal, now=NOW, **kw)


def set_columns(db: Database, customer_id: str, **values: Any) -> None:
    """Columns no service sets freely (e.g. `createdAt`), set for a test."""
    with db.transaction() as conn:
        conn.execute(update(customers).where(customers.c.id == customer_id).values(**values))


def as_counts(items: list[dict[str, Any]]) -> dict[Any, int]:
    return {item["value"]: item["count"] for item in items}


def test_only_staff_read_statistics(database: Database) -> None:
    with pytest.raises(Unauthenticated):
        read_stats(database, None)
    with pytest.raises(Forbidden):
        read_stats(database, as_principal(make_user(database)))
    assert read_stats(database, as_principal(make_staff(database)))["total"] == 0


def test_empty_table_gives_zero_filled_figures(database: Database) -> None:
    result = read_stats(database)
    assert result["total"] == 0
    assert [i["value"] for i in result["byStatus"]] == list(CUSTOMER_STATUSES)
    assert {i["count"] for i in result["byStatus"] + result["bySource"]} == {0}
    assert result["byAssignedTo"] == [] and result["byCountry"] == []
    assert result["revenue"] == {"total": 0.0, "average": 0.0, "customersWithRevenue": 0}
    assert result["followUps"] == {"overdue": 0, "dueToday": 0, "dueThisWeek": 0}
    assert [m["month"] for m in result["newPerMonth"]] == [
        "2024-02", "2024-03", "2024-04", "2024-05", "2024-06", "2024-07", "2024-08", "2024-09",
        "2024-10", "2024-11", "2024-12", "2025-01",
    ]  # fmt: skip
    assert {m["count"] for m in result["newPerMonth"]} == {0}


def test_counts_match_a_plain_count_of_random_records(database: Database) -> None:
    rng = random.Random(7)
    reps = [make_staff(database, name=f"Rep {i}") for i in range(3)]
    records = []
    for i in range(40):
        kind = rng.choice(CUSTOMER_TYPES)
        fields = {
            "status": rng.choice(CUSTOMER_STATUSES),
            "customerType": kind,
            "company": f"Co {i}" if kind != "individual" else None,
            "source": rng.choice([*CUSTOMER_SOURCES, None]),
            "assignedTo": rng.choice([*(r["id"] for r in reps), None]),
            "country": rng.choice(["Malaysia", "Singapore", "Japan", None]),
            "totalRevenue": rng.choice([0.0, 10.5, 99.25]),
        }
        records.append({**make_customer(database, **fields), **fields})
    result = read_stats(database)

    def tally(field: str) -> Counter[Any]:
        return Counter(r[field] for r in records)

    assert result["total"] == 40
    assert as_counts(result["byStatus"]) == {v: tally("status")[v] for v in CUSTOMER_STATUSES}
    assert as_counts(result["byCustomerType"]) == {
        v: tally("customerType")[v] for v in CUSTOMER_TYPES
    }
    sources: dict[Any, int] = {v: tally("source")[v] for v in CUSTOMER_SOURCES}
    if tally("source")[None]:
        sources[None] = tally("source")[None]
    assert as_counts(result["bySource"]) == sources
    assert as_counts(result["byAssignedTo"]) == dict(tally("assignedTo"))
    names = {r["id"]: r["name"] for r in reps} | {None: None}
    assert all(item["name"] == names[item["value"]] for item in result["byAssignedTo"])
    counts = [item["count"] for item in result["byAssignedTo"]]
    assert counts == sorted(counts, reverse=True)
    assert as_counts(result["byCountry"]) == dict(tally("country"))
    revenue = sum(r["totalRevenue"] for r in records)
    assert result["revenue"] == {
        "total": round(revenue, 2),
        "average": round(revenue / 40, 2),
        "customersWithRevenue": sum(1 for r in records if r["totalRevenue"] > 0),
    }


def test_countries_beyond_the_largest_are_summed(database: Database, monkeypatch: Any) -> None:
    monkeypatch.setattr(stats, "TOP_COUNTRIES", 2)
    for country, n in (("Malaysia", 3), ("Japan", 2), ("Chile", 1), ("Peru", 1)):
        for _ in range(n):
            make_customer(database, country=country)
    result = read_stats(database)
    assert result["byCountry"] == [
        {"value": "Malaysia", "count": 3},
        {"value": "Japan", "count": 2},
    ]
    assert result["otherCountries"] == {"groups": 2, "count": 2}


def _follow_up(db: Database, at: datetime, status: str = "active") -> None:
    make_customer(db, status=status, nextFollowUpAt=at)


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        # UTC: today ends 2025-01-16 00:00, the week on Monday 2025-01-20 00:00.
        ("UTC", {"overdue": 2, "dueToday": 2, "dueThisWeek": 4}),
        # Kuala Lumpur (UTC+8): it is 18:00 on Wednesday; today ends at 16:00 UTC, the week at
        # 2025-01-19 16:00 UTC.
        ("Asia/Kuala_Lumpur", {"overdue": 2, "dueToday": 1, "dueThisWeek": 3}),
    ],
)
def test_follow_ups_are_calendar_periods_in_the_zone(
    database: Database, tz: str, expected: dict[str, int]
) -> None:
    for delta in (
        timedelta(days=-30),  # overdue
        timedelta(minutes=-1),  # overdue
        timedelta(hours=5),  # 15:00 UTC: today in both zones
        timedelta(hours=7),  # 17:00 UTC: today in UTC, tomorrow in Kuala Lumpur
        timedelta(days=4, hours=3),  # Sunday 13:00 UTC: this week in both
        timedelta(days=4, hours=7),  # Sunday 17:00 UTC: Monday in Kuala Lumpur
        timedelta(days=6),  # next Tuesday
    ):
        _follow_up(database, NOW + delta)
    # Archived records are not followed up; records without a date neither.
    _follow_up(database, NOW - timedelta(days=1), status="archived")
    _follow_up(database, NOW + timedelta(hours=1), status="archived")
    make_customer(database)
    assert read_stats(database, tz=tz)["followUps"] == expected


def test_new_records_per_month_are_zero_filled_calendar_months(database: Database) -> None:
    created = [
        datetime(2023, 12, 31, 23, 0, tzinfo=UTC),  # before the window
        datetime(2024, 2, 1, 0, 0, tzinfo=UTC),  # the window's first instant (UTC)
        datetime(2024, 7, 10, tzinfo=UTC),
        datetime(2024, 7, 31, 20, 0, tzinfo=UTC),  # July in UTC, August in Kuala Lumpur
        datetime(2025, 1, 15, 9, 0, tzinfo=UTC),
    ]
    for at in created:
        record = make_customer(database)
        set_columns(database, record["id"], createdAt=at)
    utc = {m["month"]: m["count"] for m in read_stats(database)["newPerMonth"]}
    assert len(utc) == 12
    assert {k: v for k, v in utc.items() if v} == {"2024-02": 1, "2024-07": 2, "2025-01": 1}
    local = read_stats(database, tz="Asia/Kuala_Lumpur")["newPerMonth"]
    assert {m["month"]: m["count"] for m in local if m["count"]} == {
        "2024-02": 1, "2024-07": 1, "2024-08": 1, "2025-01": 1,
    }  # fmt: skip


def test_month_starts_cross_years_in_local_time() -> None:
    starts = stats.month_starts(NOW, stats._zone("Asia/Kuala_Lumpur"), months=2)
    assert starts == [
        datetime(2024, 11, 30, 16, 0, tzinfo=UTC),
        datetime(2024, 12, 31, 16, 0, tzinfo=UTC),
        datetime(2025, 1, 31, 16, 0, tzinfo=UTC),
    ]


def test_unknown_time_zone_is_a_bad_query_naming_tz(database: Database) -> None:
    with pytest.raises(BadQuery) as caught:
        read_stats(database, tz="Mars/Olympus")
    assert set(caught.value.fields) == {"tz"}
