"""`/admin/duplicates`: groups of records that look like one customer (SPEC §6), with why and
links to each record; a thin page over `services.duplicates.find_duplicates`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientbook.services import duplicates as duplicate_service
from clientbook.web.console.staff import StaffDep
from clientbook.web.session import db_of
from clientbook.web.templating import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/duplicates")
def duplicates_page(
    request: Request,
    visitor: StaffDep,
    reason: str | None = None,
    cursor: str | None = None,
) -> Response:
    with db_of(request).read() as conn:
        page = duplicate_service.find_duplicates(
            conn, visitor.require(), reason=reason or None, cursor=cursor or None
        )
    context = {
        "nav": "duplicates",
        "groups": page["groups"],
        "next_cursor": page["cursor"],
        "reason": reason or "",
        "reasons": tuple(duplicate_service.REASONS),
        "first_page": cursor is None or cursor == "",
        "members_shown": duplicate_service.MEMBERS_PER_GROUP,
    }
    return render(request, visitor, "console/duplicates.html", context)
