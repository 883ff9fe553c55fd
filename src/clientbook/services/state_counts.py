"""Records per state (the console's "by state" chart), counted on the `state` index.

`services.stats` reads its counts by value from `customer_counts`, which has no `state`
dimension; this is a separate, smaller figure: one GROUP BY over the `(state, seq)` index
(an index-only walk, no table rows), the largest states first.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, func, select

from clientbook.access import Principal, require_staff
from clientbook.db.tables import customers

TOP_STATES: Final = 10


def top_states(
    conn: Connection, principal: Principal | None, *, limit: int = TOP_STATES
) -> dict[str, Any]:
    """`{"byState": [{value, count}, ...], "otherStates": {groups, count}, "noState": n}`:
    the `limit` states with most records (largest first, ties by name), then what the other
    states hold together, and how many records have no state (staff only)."""
    require_staff(principal)
    state = customers.c.state
    rows = conn.execute(select(state, func.count()).group_by(state)).all()
    missing = sum(int(n) for value, n in rows if value is None)
    named = sorted(
        ((str(value), int(n)) for value, n in rows if value is not None),
        key=lambda item: (-item[1], item[0]),
    )
    rest = named[limit:]
    return {
        "byState": [{"value": value, "count": n} for value, n in named[:limit]],
        "otherStates": {"groups": len(rest), "count": sum(n for _, n in rest)},
        "noState": missing,
    }
