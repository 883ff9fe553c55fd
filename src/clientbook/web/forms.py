"""Form posts: their fields as a plain dict, ready for a service call.

Browsers send every input of a form, empty ones as "". A service sees an empty optional input
as absent (None), the way the API sees a field set to null, so "clear this field" works the
same from a page and from a program.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from fastapi import Request

from clientbook.domain.fields import Field
from clientbook.web.session import CSRF_FIELD

_TRUE = frozenset({"on", "true", "1", "yes"})


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


def extra_fields(form: Mapping[str, str], known: Iterable[str]) -> dict[str, str]:
    """The posted fields a form does not have (besides its `version`), as they were sent.

    Passed on to the service with the form's own fields, so that it answers them as it answers
    the API: 403 naming a staff-only or system field, 422 naming an unknown one, never a silent
    drop (SPEC §5, §12)."""
    own = {*known, "version"}
    return {name: value for name, value in form.items() if name not in own}


def changes(form: dict[str, str], names: Iterable[str]) -> dict[str, Any]:
    """The named fields of a form, "" read as None (cleared)."""
    return {name: (form[name] or None) for name in names if name in form}


def typed(fields: Mapping[str, Field], values: Mapping[str, str]) -> dict[str, Any]:
    """Form text as the service expects it: "" → None, numbers parsed, checkboxes → bool.

    Text that is not a number is passed on unchanged, so the service names the field in its
    usual error ("must be a number") instead of the page inventing a message of its own.
    """
    out: dict[str, Any] = {}
    for name, raw in values.items():
        kind = fields[name].kind if name in fields else "string"
        if kind == "bool":
            out[name] = raw.lower() in _TRUE
        elif raw == "":
            out[name] = None
        elif kind in ("int", "float"):
            out[name] = _number(raw, kind)
        else:
            out[name] = raw
    return out


def _number(raw: str, kind: str) -> Any:
    text = raw.replace(",", "").replace(" ", "")
    try:
        number = float(text) if kind == "float" or "." in text or "e" in text.lower() else int(text)
    except ValueError:
        return raw
    if isinstance(number, float) and not math.isfinite(number):
        return raw
    return number


def form_version(form: Mapping[str, str]) -> int | None:
    """The record version a form was drawn from (its hidden `version` field), if any."""
    text = form.get("version", "")
    return int(text) if text.isascii() and text.isdigit() else None


def split_tags(text: str) -> list[str]:
    """ "vip, wholesale ,, kl" → ["vip", "wholesale", "kl"] (the service cleans and checks)."""
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def merge_note_texts(
    current: Mapping[str, Any] | None, form: Mapping[str, str]
) -> dict[str, Any] | None:
    """The record's `notes` object with the form's `notes.<key>` texts set ("" removes the
    key), its other keys kept; None when nothing is left."""
    merged = dict(current or {})
    for name, text in form.items():
        if name.startswith("notes."):
            key = name.split(".", 1)[1]
            if text:
                merged[key] = text
            else:
                merged.pop(key, None)
    return merged or None


# The service's name of an error → the form input that shows it, where the two differ: the tags
# are `metadata.tags` inside the record, `tags` in the tags action (PUT …/tags) and its forms.
_ALIASES = {"metadata.tags": "tags"}


def errors_by_input(problems: Mapping[str, str], inputs: Collection[str]) -> dict[str, str]:
    """Service errors keyed by the form input that shows them.

    A nested key (`notes/general` or `notes.general`) goes to its own input, an error on a
    whole object (`notes`) to the object's first input (`notes.general`), `metadata.tags` to
    `tags`. A name with no input on the form is kept as it is: the form's summary lists it.
    Two errors shown on one input are joined with "; ".
    """
    shown: dict[str, str] = {}
    for name, message in problems.items():
        key = _input_for(name.replace("/", "."), inputs)
        shown[key] = f"{shown[key]}; {message}" if key in shown else message
    return shown


def _input_for(name: str, inputs: Collection[str]) -> str:
    if name in inputs:
        return name
    alias = _ALIASES.get(name)
    if alias in inputs:
        return str(alias)
    return next((key for key in inputs if key.startswith(name + ".")), name)
