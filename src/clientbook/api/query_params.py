"""SPEC §12: a query parameter a route does not take is a 400 naming it, never silently ignored.

Every `/api` router lists `CHECKED_QUERY` among its dependencies. The parameters a route takes
are the ones FastAPI already knows from its signature (`Query(...)` arguments, its own and its
dependencies'); a route that reads the whole query string itself (the lists, whose filters are
named after fields) is marked `@parses_own_query` and checks it there.

    router = APIRouter(prefix="/api/things", dependencies=CHECKED_QUERY)

    @router.get("")
    @parses_own_query
    async def list_things(request: Request) -> ...: ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import BackgroundTasks, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from clientbook.access import require_authenticated
from clientbook.api.deps import get_authentication
from clientbook.domain.errors import BadQuery

F = TypeVar("F", bound=Callable[..., Any])
_OWN_QUERY = "_clientbook_parses_own_query"
# Per route: the route itself (so that its id is not reused while cached) and what it takes.
_DECLARED: dict[int, tuple[APIRoute, frozenset[str] | None]] = {}


def parses_own_query(endpoint: F) -> F:
    """Mark a route that checks every query parameter itself (put it under `@router.get`)."""
    setattr(endpoint, _OWN_QUERY, True)
    return endpoint


def _query_names(dependant: Dependant) -> Iterator[str]:
    for param in dependant.query_params:
        yield param.alias
    for sub in dependant.dependencies:
        yield from _query_names(sub)


def _asks_who_calls(dependant: Dependant) -> bool:
    """Whether the route resolves the caller's credential (every route but sign-up and the
    like, which anyone may call)."""
    return dependant.call is get_authentication or any(
        _asks_who_calls(sub) for sub in dependant.dependencies
    )


def _declared(route: APIRoute) -> frozenset[str] | None:
    """The query parameters `route` takes; None when it checks its query string itself."""
    cached = _DECLARED.get(id(route))
    if cached is not None and cached[0] is route:
        return cached[1]
    own = getattr(route.endpoint, _OWN_QUERY, False)
    names = None if own else frozenset(_query_names(route.dependant))
    _DECLARED[id(route)] = (route, names)
    return names


def unknown_query_error(unknown: list[str]) -> BadQuery:
    """The one answer to unknown query parameters (the stats and duplicates lists' wording)."""
    return BadQuery(
        f"Unknown query parameter(s): {', '.join(unknown)}",
        fields={name: "unknown query parameter" for name in unknown},
    )


async def reject_unknown_query(request: Request, background: BackgroundTasks) -> None:
    """400 `bad_query` naming every query parameter the matched route does not take; an
    anonymous caller of a route that needs one is told 401 first, as without the parameter."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    declared = _declared(route)
    if declared is None:
        return
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        if _asks_who_calls(route.dependant):
            authentication = await get_authentication(request, background)
            require_authenticated(None if authentication is None else authentication.principal)
        raise unknown_query_error(unknown)


CHECKED_QUERY = [Depends(reject_unknown_query)]
