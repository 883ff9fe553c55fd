"""Who may see a console page: signed in (else the sign-in page), and staff (else 403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from clientbook.domain.errors import Forbidden
from clientbook.web.session import Visitor, VisitorDep


async def get_staff(visitor: VisitorDep) -> Visitor:
    visitor.require()
    if not visitor.is_staff:
        raise Forbidden("The console is for staff")
    return visitor


StaffDep = Annotated[Visitor, Depends(get_staff)]
