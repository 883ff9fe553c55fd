"""The console's home (`/admin`) and statistics (`/admin/stats`): figures and charts.

The figures are `services.stats.customer_stats` (and `services.state_counts.top_states` for the
states), the same the API's `/api/customers/stats` answers; the charts are drawn here from them
(`charts`). Each follow-up figure links to the customers table filtered to the same records.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientbook.access import Principal
from clientbook.services import state_counts, stats
from clientbook.web.console import labels
from clientbook.web.console.charts import Chart, chart
from clientbook.web.console.staff import StaffDep
from clientbook.web.i18n import gettext as _
from clientbook.web.session import db_of
from clientbook.web.templating import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# A funnel reads from the first contact to the end of the relationship.
FUNNEL_ORDER = ("lead", "prospect", "active", "inactive", "archived")


def _counts(items: list[dict[str, Any]]) -> dict[str | None, int]:
    return {item["value"]: int(item["count"]) for item in items}


def status_funnel(figures: dict[str, Any]) -> Chart:
    found, names = _counts(figures["byStatus"]), labels.statuses()
    values = tuple(found.get(status, 0) for status in FUNNEL_ORDER)
    return chart("hbar", _("Status funnel"), tuple(names[s] for s in FUNNEL_ORDER), values)


def new_per_month(figures: dict[str, Any], language: str) -> Chart:
    from babel.dates import format_date  # on the first chart, not at the server's start

    months = figures["newPerMonth"]
    names = tuple(
        format_date(date.fromisoformat(item["month"] + "-01"), "MMM yyyy", locale=language)
        for item in months
    )
    values = tuple(int(item["count"]) for item in months)
    return chart("bar", _("New records per month"), names, values, color=3)


def by_source(figures: dict[str, Any]) -> Chart:
    names = labels.sources()
    found = _counts(figures["bySource"])
    pairs = [(names.get(str(v), str(v)), n) for v, n in found.items() if v is not None]
    if found.get(None):
        pairs.append((_("Not given"), found[None]))
    pairs.sort(key=lambda pair: -pair[1])
    return chart(
        "hbar", _("Records by source"), tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    )


def by_state(states: dict[str, Any]) -> Chart:
    pairs = [(str(item["value"]), int(item["count"])) for item in states["byState"]]
    if states["otherStates"]["count"]:
        pairs.append((_("Other states"), int(states["otherStates"]["count"])))
    if states["noState"]:
        pairs.append((_("Not given"), int(states["noState"])))
    return chart(
        "hbar",
        _("Records by state"),
        tuple(p[0] for p in pairs),
        tuple(p[1] for p in pairs),
        height=360,
        color=2,
    )


def follow_ups(figures: dict[str, Any]) -> Chart:
    due, names = figures["followUps"], labels.due_windows()
    keys = (("overdue", "overdue"), ("today", "dueToday"), ("week", "dueThisWeek"))
    return chart(
        "bar",
        _("Follow-ups due"),
        tuple(names[window] for window, _key in keys),
        tuple(int(due[key]) for _window, key in keys),
        height=260,
        color=1,
    )


def _figures(request: Request, principal: Principal, *, with_states: bool) -> dict[str, Any]:
    with db_of(request).read() as conn:
        figures = stats.customer_stats(conn, principal)
        states = state_counts.top_states(conn, principal) if with_states else None
    return {"figures": figures, "states": states}


def home(request: Request, visitor: StaffDep) -> Response:
    read = _figures(request, visitor.require(), with_states=False)
    figures = read["figures"]
    context = {
        "nav": "home",
        "figures": figures,
        "charts": [
            status_funnel(figures),
            follow_ups(figures),
            new_per_month(figures, visitor.language),
        ],
    }
    return render(request, visitor, "console/home.html", context)


@router.get("/stats")
def statistics(request: Request, visitor: StaffDep) -> Response:
    read = _figures(request, visitor.require(), with_states=True)
    figures = read["figures"]
    context = {
        "nav": "stats",
        "figures": figures,
        "charts": [
            status_funnel(figures),
            new_per_month(figures, visitor.language),
            by_source(figures),
            by_state(read["states"]),
            follow_ups(figures),
        ],
        "types": labels.customer_types(),
    }
    return render(request, visitor, "console/stats.html", context)


def install(console: APIRouter) -> None:
    """Add `/admin` itself and `/admin/stats` to the console's router. The home is added
    directly: an included router cannot hold a route whose path and prefix are both empty."""
    console.add_api_route(
        "", home, methods=["GET"], route_class_override=PageRoute, include_in_schema=False
    )
    console.include_router(router)
