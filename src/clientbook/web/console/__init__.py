"""The staff console at `/admin` (SPEC §9): every page needs a signed-in staff member.

Each area of the console has its own module with a router, included here. The pages only ask
the service layer, which checks the permissions itself; `StaffDep` exists so that a customer who
wanders into `/admin` gets a clear "not allowed" page before any service call.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin", include_in_schema=False)

from clientbook.web.console import (  # noqa: E402
    accounts,
    audit,
    customers,
    duplicates,
    home,
    transfer,
)

home.install(router)
for _area in (customers, transfer, duplicates, audit, accounts):
    router.include_router(_area.router)

# Keep this one last: its `/customers/{customer_id}` would capture the fixed paths of the others.
from clientbook.web.console import customer_page  # noqa: E402

router.include_router(customer_page.router)
