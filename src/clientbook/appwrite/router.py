"""`/v1`: the Appwrite-compatible face, mounted by `app.py` with one `include_router`.

Not in the OpenAPI document of `/api` (it is Appwrite's API, documented by Appwrite). Any other
path under /v1 is 404 `general_route_not_found`, in Appwrite's error shape; paths outside /v1
keep the native API's answers.
"""

from __future__ import annotations

from fastapi import APIRouter

from clientbook.appwrite import account, users
from clientbook.appwrite.errors import route_not_found
from clientbook.appwrite.http import AppwriteRoute
from clientbook.appwrite.records import DOCUMENTS_ROUTER, ROWS_ROUTER

router = APIRouter(prefix="/v1", route_class=AppwriteRoute, include_in_schema=False)
router.include_router(ROWS_ROUTER)
router.include_router(DOCUMENTS_ROUTER)
router.include_router(account.router)
router.include_router(users.router)

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("", methods=_METHODS)
@router.api_route("/{path:path}", methods=_METHODS)
async def unknown_route(path: str = "") -> None:
    """Every other /v1 path, and every other method on a known one."""
    raise route_not_found()
