"""Form posts: their fields as a plain dict, ready for a service call.

Browsers send every input of a form, empty ones as "". A service sees an empty optional input
as absent (None), the way the API sees a field set to null, so "clear this field" works the
same from a page and from a program.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from clientbook.web.session import CSRF_FIELD


async def read_form(request: Request) -> dict[str, str]:
    """Every text field of the posted form (the last value of a repeated name), token removed."""
    form = await request.form()
    return {
        key: value if "password" in key else value.strip()
        for key, value in form.multi_items()
        if isinstance(value, str) and key != CSRF_FIELD
    }


async def read_list(request: Request, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes: the selected rows)."""
    form = await request.form()
    return [value for value in form.getlist(name) if isinstance(value, str) and value]


def changes(form: dict[str, str], names: Iterable[str]) -> dict[str, Any]:
    """The named fields of a form, "" read as None (cleared)."""
    return {name: (form[name] or None) for name in names if name in form}
