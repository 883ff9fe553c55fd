"""The staff console at `/admin` (SPEC §9): every page needs a signed-in staff member.

Each area of the console has its own module with a router, included here. The pages only ask
the service layer, which checks the permissions itself; `StaffDep` exists so that a customer who
wanders into `/admin` gets a clear "not allowed" page before any service call.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin", include_in_schema=False)
