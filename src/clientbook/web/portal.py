"""The self-service portal at `/` (SPEC §9): a customer's own record, tags, settings, timeline,
notes and data (export, erase), and their password.

Every rule is the service layer's: these routes read a form, call the same functions as the
REST API with the visitor's principal, and show the answer — field errors next to the fields,
typed values kept. The details and settings forms hold only profile fields (access.py's
PROFILE_FIELDS); a field posted that a form does not have is passed on all the same, so the
service refuses it as it refuses the API (403 naming a staff-only field, 422 an unknown one).
Staff have the console: a staff member who opens a portal page is sent to `/admin`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Connection

from clientbook.access import Principal
from clientbook.api.auth import clear_session_cookie, set_session_cookie
from clientbook.domain import errors
from clientbook.domain.customers import ISO_4217_CODES
from clientbook.domain.customers import time_zones as accepted_time_zones
from clientbook.domain.enums import CUSTOMER_TYPES, NOTE_CATEGORIES
from clientbook.domain.fields import stored_object
from clientbook.domain.tags import get_customer_tags, normalize_tags
from clientbook.domain.timestamps import parse_datetime, to_millis, utcnow
from clientbook.services import auth, gdpr, notes, timeline
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service
from clientbook.web import vocabulary
from clientbook.web.forms import (
    changes,
    errors_by_input,
    extra_fields,
    form_version,
    merge_note_texts,
    read_form,
    split_tags,
)
from clientbook.web.i18n import N_, gettext
from clientbook.web.session import (
    LANGUAGE_COOKIE,
    LANGUAGE_COOKIE_AGE,
    Visitor,
    VisitorDep,
    db_of,
)
from clientbook.web.templating import (
    FORM_ERRORS,
    PageRoute,
    Redirect,
    field_problems,
    redirect,
    render,
    set_page_cookie,
    status_of,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
T = TypeVar("T")


# The "my details" form: the profile fields a customer edits there (settings are their own page).
DETAIL_FIELDS = (
    "name", "email", "phone", "company", "jobTitle", "customerType", "industry", "website",
    "address", "city", "state", "zipCode", "country",
)  # fmt: skip
# The texts of the record's own `notes` object (the seed's CustomerNotes) a customer writes.
NOTE_TEXTS = ("general", "preferences")
DETAIL_INPUTS = (*DETAIL_FIELDS, *(f"notes.{key}" for key in NOTE_TEXTS))
SETTING_FIELDS = ("language", "timezone", "currency")
NOTE_FORM_FIELDS = ("title", "content", "category")
NOTE_INPUTS = (*NOTE_FORM_FIELDS, "isPinned")
PAGE_SIZE = "20"

EVENT_LABELS = {
    "customer.created": N_("Your record was created"),
    "customer.updated": N_("Your details were updated"),
    "customer.status_changed": N_("Status changed"),
    "customer.assigned": N_("A representative was assigned"),
    "customer.tagged": N_("Tags changed"),
    "customer.contacted": N_("Contact recorded"),
}
LABELS = {
    "events": EVENT_LABELS,
    # What a customer's timeline names when their record changed: their own fields, status, tags.
    "fields": {
        name: vocabulary.FIELD_LABELS[name]
        for name in (*DETAIL_FIELDS, *SETTING_FIELDS, "metadata", "status")
    },
    "other_event": N_("Your record changed"),
}
# The texts of the record's notes object, as the details form names them.
NOTE_TEXT_LABELS = {"general": N_("About me"), "preferences": N_("Preferences")}


def changed_fields(changes: dict[str, Any]) -> list[str]:
    """What a timeline entry names for a change of the record, in the page's language: the
    customer's own fields, and for the notes object the texts that changed in it."""
    names: list[str] = []
    for name, change in changes.items():
        if name == "notes" and isinstance(change, dict):
            names += _changed_note_texts(change.get("from"), change.get("to"))
        elif name in LABELS["fields"]:
            names.append(vocabulary.field_label(name))
    return names


def _changed_note_texts(before: Any, after: Any) -> list[str]:
    old, new = stored_object(before), stored_object(after)
    keys = [key for key in dict.fromkeys([*old, *new]) if old.get(key) != new.get(key)]
    named = [gettext(NOTE_TEXT_LABELS[key]) for key in keys if key in NOTE_TEXT_LABELS]
    if any(key not in NOTE_TEXT_LABELS for key in keys):
        named.append(gettext(N_("Other notes")))
    return named


@cache
def time_zones() -> list[str]:
    return sorted(accepted_time_zones())


CURRENCIES = sorted(ISO_4217_CODES)


# --- who is looking, and their record ----------------------------------------------------------


async def get_customer(visitor: VisitorDep) -> Principal:
    """The signed-in customer; staff are sent to their home, the console."""
    principal = visitor.require()
    if visitor.is_staff:
        raise Redirect("/admin")
    return principal


CustomerDep = Annotated[Principal, Depends(get_customer)]


def _own_record(request: Request, principal: Principal) -> dict[str, Any] | None:
    with db_of(request).read() as conn:
        return customer_service.find_own_customer(conn, principal)


def _clock(record: dict[str, Any] | None) -> Callable[[datetime | str | None], str]:
    """`at(value)`: a timestamp in the customer's own time zone (UTC until they choose one)."""
    zone_name = (record or {}).get("timezone") or "UTC"
    try:
        zone: zoneinfo.ZoneInfo = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")

    def at(value: datetime | str | None) -> str:
        if value is None or value == "":
            return ""
        moment = parse_datetime(value) if isinstance(value, str) else to_millis(value)
        local = moment.astimezone(zone)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname() or zone_name}"

    return at


def _page(
    request: Request,
    visitor: Visitor,
    template: str,
    record: dict[str, Any] | None,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    """A portal page: every template gets the record, its tags, the labels and the clock."""
    base = {
        "record": record,
        "tags": get_customer_tags(record["metadata"]) if record else [],
        "labels": LABELS,
        "at": _clock(record),
        "tags_of": get_customer_tags,
        "changed_fields": changed_fields,
    }
    return render(request, visitor, template, {**base, **context}, status_code=status_code)


def _needs_record() -> Redirect:
    return Redirect("/me/details", notice=N_("Fill in your details first."))


async def _on_own_record(
    request: Request, principal: Principal, action: Callable[[Connection, dict[str, Any]], T]
) -> T:
    """`action(conn, record)` on the customer's own record, in one write transaction (in the
    thread pool); without a record yet, the customer is sent to fill in their details."""
    db = db_of(request)

    def work() -> T:
        with db.transaction() as conn:
            record = customer_service.find_own_customer(conn, principal)
            if record is None:
                raise _needs_record()
            return action(conn, record)

    return await run_in_threadpool(work)


# --- home ------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    with db_of(request).read() as conn:
        record = customer_service.find_own_customer(conn, principal)
        recent = (
            timeline.customer_timeline(
                conn, principal, record["id"], [("limit", "3"), ("total", "false")]
            ).rows
            if record is not None
            else []
        )
        account = user_service.get_user(conn, principal.id or "")
    welcome = request.query_params.get("notice") == "welcome"
    context = {"nav": "home", "recent": recent, "account": account, "welcome": welcome}
    return _page(request, visitor, "portal/home.html", record, context)


# --- my details and tags ---------------------------------------------------------------------


def _details_page(
    request: Request,
    visitor: Visitor,
    record: dict[str, Any] | None,
    *,
    values: dict[str, Any] | None = None,
    field_errors: dict[str, str] | None = None,
    tag_errors: dict[str, str] | None = None,
    tag_value: str = "",
    failure: str | None = None,
    status_code: int = 200,
) -> Response:
    if values is None:
        if record is not None:
            values = {name: record.get(name) for name in DETAIL_FIELDS}
            own_notes = _notes_object(record)
            for key in NOTE_TEXTS:
                text = own_notes.get(key)
                values[f"notes.{key}"] = text if isinstance(text, str) else ""
            values["version"] = record["version"]
        else:
            values = _prefill(request, visitor)
    context = {
        "nav": "details",
        "values": values,
        "errors": field_errors or {},
        "tag_errors": tag_errors or {},
        "tag_value": tag_value,
        "failure": failure,
        "inputs": DETAIL_INPUTS,
        "customer_types": vocabulary.options(CUSTOMER_TYPES),
    }
    return _page(request, visitor, "portal/details.html", record, context, status_code=status_code)


def _notes_object(record: dict[str, Any] | None) -> dict[str, Any]:
    """The record's `notes` attribute as an object ({} when empty or not an object)."""
    return stored_object((record or {}).get("notes"))


def _with_note_texts(
    data: dict[str, Any], form: dict[str, str], current: dict[str, Any] | None
) -> dict[str, Any]:
    """The form's `notes.*` texts (the ones a customer writes) merged into the record's notes
    object, its other keys kept."""
    texts = {f"notes.{key}": form[f"notes.{key}"] for key in NOTE_TEXTS if f"notes.{key}" in form}
    if not texts:
        return data
    return {**data, "notes": merge_note_texts(_notes_object(current), texts)}


def _prefill(request: Request, visitor: Visitor) -> dict[str, Any]:
    """A first record starts from the account's name and email (the service does the same
    when they are left out)."""
    principal = visitor.require()
    with db_of(request).read() as conn:
        account = user_service.get_user(conn, principal.id or "")
    return {"name": account.get("name") or "", "email": account.get("email") or ""}


@router.get("/me/details")
def details_page(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    return _details_page(request, visitor, _own_record(request, principal))


@router.post("/me/details")
async def save_details(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    form = await read_form(request)
    data = {**extra_fields(form, DETAIL_INPUTS), **changes(form, DETAIL_FIELDS)}
    db = db_of(request)

    def work() -> bool:
        with db.transaction() as conn:
            current = customer_service.find_own_customer(conn, principal)
            body = _with_note_texts(data, form, current)
            if current is None:
                # Left-out fields take the defaults (and the account's name and email).
                fresh = {name: value for name, value in body.items() if value is not None}
                customer_service.create_customer(conn, principal, fresh)
                return True
            customer_service.update_customer(
                conn, principal, current["id"], body, expected_version=form_version(form)
            )
            return False

    try:
        created = await run_in_threadpool(work)
    except FORM_ERRORS as exc:
        fields = errors_by_input(field_problems(exc), DETAIL_INPUTS)
        record = await run_in_threadpool(_own_record, request, principal)
        return _details_page(
            request, visitor, record, values=form, field_errors=fields, status_code=status_of(exc)
        )
    except errors.PreconditionFailed as exc:
        # Changed in another tab meanwhile: keep what was typed, against the latest version
        # (412, as the console and the API answer a stale version).
        record = await run_in_threadpool(_own_record, request, principal)
        values = {**form, "version": record["version"] if record else ""}
        failure = N_("Your record was changed elsewhere meanwhile. Check the form and save again.")
        return _details_page(
            request, visitor, record, values=values, failure=failure, status_code=status_of(exc)
        )
    return redirect("/" if created else "/me/details", notice=N_("Your details have been saved."))


@router.post("/me/tags")
async def add_tags(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    """Add the comma-separated tags typed (the service de-duplicates and checks them)."""
    form = await read_form(request)
    typed = form.get("tags", "")

    def add(conn: Connection, record: dict[str, Any]) -> None:
        new = split_tags(typed)
        # The typed tags alone first, so that a problem names a tag by its place in what was
        # typed ("tag 1"), not by its place after the tags already stored.
        normalize_tags(new)
        current = get_customer_tags(record["metadata"])
        customer_service.set_tags(conn, principal, record["id"], [*current, *new])

    try:
        await _on_own_record(request, principal, add)
    except FORM_ERRORS as exc:
        shown = errors_by_input(field_problems(exc), ("tags",))
        record = await run_in_threadpool(_own_record, request, principal)
        tag_errors = {"tags": shown.get("tags") or exc.message}
        return _details_page(
            request, visitor, record, tag_errors=tag_errors, tag_value=typed,
            status_code=status_of(exc),
        )  # fmt: skip
    return redirect("/me/details", notice=N_("Your tags have been saved."))


@router.post("/me/tags/remove")
async def remove_tag(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    form = await read_form(request)
    await _on_own_record(
        request,
        principal,
        lambda conn, record: customer_service.remove_tag(
            conn, principal, record["id"], form.get("tag", "")
        ),
    )
    return redirect("/me/details", notice=N_("Your tags have been saved."))


# --- timeline --------------------------------------------------------------------------------


def _paging(request: Request) -> list[tuple[str, str]]:
    params = [("limit", PAGE_SIZE)]
    cursor = request.query_params.get("cursor")
    if cursor:
        params.append(("cursor", cursor))
    return params


@router.get("/me/timeline")
def timeline_page(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    with db_of(request).read() as conn:
        record = customer_service.find_own_customer(conn, principal)
        if record is None:
            raise _needs_record()
        found = timeline.customer_timeline(conn, principal, record["id"], _paging(request))
    context = {
        "nav": "timeline",
        "items": found.rows,
        "total": found.total,
        "next_cursor": found.next_cursor,
        "first": "cursor" not in request.query_params,
    }
    return _page(request, visitor, "portal/timeline.html", record, context)


# --- notes -----------------------------------------------------------------------------------


def _note_data(form: dict[str, str]) -> dict[str, Any]:
    """A note as a customer writes it. The form offers no visibility (the service's default is
    shared), but a posted `visibility` is passed on, never dropped, as is any other field the
    form does not have: the service refuses `internal` from an owner with Forbidden naming the
    field (SPEC §5, §12), shown as a 403, and an unknown field with a 422."""
    data: dict[str, Any] = {**extra_fields(form, NOTE_INPUTS), **changes(form, NOTE_FORM_FIELDS)}
    data["isPinned"] = form.get("isPinned") == "on"
    return data


def _notes_page(
    request: Request,
    visitor: Visitor,
    principal: Principal,
    *,
    values: dict[str, Any] | None = None,
    field_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with db_of(request).read() as conn:
        record = customer_service.find_own_customer(conn, principal)
        if record is None:
            raise _needs_record()
        found = timeline.list_notes(conn, principal, record["id"], _paging(request))
    context = {
        "nav": "notes",
        "notes": found.rows,
        "total": found.total,
        "next_cursor": found.next_cursor,
        "first": "cursor" not in request.query_params,
        "me": principal.id,
        "values": values or {"category": "general"},
        "errors": field_errors or {},
        "inputs": NOTE_INPUTS,
        "categories": vocabulary.options(NOTE_CATEGORIES),
    }
    return _page(request, visitor, "portal/notes.html", record, context, status_code=status_code)


@router.get("/me/notes")
def notes_page(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    return _notes_page(request, visitor, principal)


@router.post("/me/notes")
async def add_note(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    form = await read_form(request)
    try:
        await _on_own_record(
            request,
            principal,
            lambda conn, record: notes.add_note(conn, principal, record["id"], _note_data(form)),
        )
    except FORM_ERRORS as exc:
        problems, status = errors_by_input(field_problems(exc), NOTE_INPUTS), status_of(exc)
        return await run_in_threadpool(
            lambda: _notes_page(
                request, visitor, principal, values=form, field_errors=problems, status_code=status
            )
        )
    return redirect("/me/notes", notice=N_("Your note has been added."))


def _edit_page(
    request: Request,
    visitor: Visitor,
    note: dict[str, Any],
    values: dict[str, Any],
    field_errors: dict[str, str],
    *,
    status_code: int = 200,
) -> Response:
    record = _own_record(request, visitor.require())
    context = {
        "nav": "notes",
        "note": note,
        "values": values,
        "errors": field_errors,
        "inputs": NOTE_INPUTS,
        "categories": vocabulary.options(NOTE_CATEGORIES),
    }
    return _page(
        request, visitor, "portal/note_edit.html", record, context, status_code=status_code
    )


@router.get("/me/notes/{note_id}/edit")
def edit_note_page(
    note_id: str, request: Request, visitor: VisitorDep, principal: CustomerDep
) -> Response:
    with db_of(request).read() as conn:
        # 403 for a note the customer may read but not change (one staff wrote), as a save is.
        note = notes.get_note_to_change(conn, principal, note_id)
    values = {name: note[name] for name in NOTE_INPUTS}
    return _edit_page(request, visitor, note, values, {})


@router.post("/me/notes/{note_id}")
async def update_note(
    note_id: str, request: Request, visitor: VisitorDep, principal: CustomerDep
) -> Response:
    form = await read_form(request)
    db = db_of(request)

    def work() -> None:
        with db.transaction() as conn:
            notes.update_note(conn, principal, note_id, _note_data(form))

    try:
        await run_in_threadpool(work)
    except FORM_ERRORS as exc:
        problems, status = errors_by_input(field_problems(exc), NOTE_INPUTS), status_of(exc)

        def again() -> Response:
            with db.read() as conn:
                note = notes.get_note(conn, principal, note_id)
            values = {**form, "isPinned": form.get("isPinned") == "on"}
            return _edit_page(request, visitor, note, values, problems, status_code=status)

        return await run_in_threadpool(again)
    return redirect("/me/notes", notice=N_("Your note has been saved."))


@router.post("/me/notes/{note_id}/delete")
async def delete_note(
    note_id: str, request: Request, visitor: VisitorDep, principal: CustomerDep
) -> Response:
    db = db_of(request)

    def work() -> None:
        with db.transaction() as conn:
            notes.delete_note(conn, principal, note_id)

    await run_in_threadpool(work)
    return redirect("/me/notes", notice=N_("Your note has been deleted."))


# --- settings and password -------------------------------------------------------------------


def _settings_page(
    request: Request,
    visitor: Visitor,
    record: dict[str, Any] | None,
    *,
    values: dict[str, Any] | None = None,
    field_errors: dict[str, str] | None = None,
    password_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if values is None:
        values = {name: (record or {}).get(name) for name in SETTING_FIELDS}
    context = {
        "nav": "settings",
        "values": values,
        "errors": field_errors or {},
        "inputs": SETTING_FIELDS,
        "password_errors": password_errors or {},
        "time_zones": [(zone, zone) for zone in time_zones()],
        "currencies": [(code, code) for code in CURRENCIES],
    }
    return _page(request, visitor, "portal/settings.html", record, context, status_code=status_code)


@router.get("/me/settings")
def settings_page(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    return _settings_page(request, visitor, _own_record(request, principal))


@router.post("/me/settings")
async def save_settings(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    """Language, time zone and currency; the next page is shown in the language chosen."""
    form = await read_form(request)
    data = {**extra_fields(form, SETTING_FIELDS), **changes(form, SETTING_FIELDS)}
    try:
        saved = await _on_own_record(
            request,
            principal,
            lambda conn, record: customer_service.update_customer(
                conn, principal, record["id"], data
            ),
        )
    except FORM_ERRORS as exc:
        problems = errors_by_input(field_problems(exc), SETTING_FIELDS)
        record = await run_in_threadpool(_own_record, request, principal)
        return _settings_page(
            request, visitor, record, values=form, field_errors=problems,
            status_code=status_of(exc),
        )  # fmt: skip
    response = redirect("/me/settings", notice=N_("Your settings have been saved."))
    if saved.get("language"):
        # Pages shown before sign-in (and after sign-out) keep the choice too.
        set_page_cookie(
            request, response, LANGUAGE_COOKIE, saved["language"], max_age=LANGUAGE_COOKIE_AGE
        )
    return response


@router.post("/me/password")
async def change_password(
    request: Request, visitor: VisitorDep, principal: CustomerDep
) -> Response:
    """A new password ends every other session; this browser gets a fresh one."""
    form = await read_form(request)
    authentication = visitor.authentication
    assert authentication is not None, "a customer is signed in with a session"
    try:
        signed = await run_in_threadpool(
            auth.change_password,
            db_of(request),
            authentication,
            form.get("currentPassword", "")[:1024],
            form.get("newPassword", "")[:1024],
        )
    except errors.ValidationFailed as exc:
        record = await run_in_threadpool(_own_record, request, principal)
        return _settings_page(request, visitor, record, password_errors=exc.fields, status_code=422)
    response = redirect("/me/settings", notice=N_("Your password has been changed."))
    set_session_cookie(request, response, signed.session)
    return response


# --- my data: export and erase ---------------------------------------------------------------


def _data_page(
    request: Request,
    visitor: Visitor,
    principal: Principal,
    *,
    field_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    record = _own_record(request, principal)
    context = {"nav": "data", "errors": field_errors or {}}
    return _page(request, visitor, "portal/data.html", record, context, status_code=status_code)


@router.get("/me/data")
def data_page(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    return _data_page(request, visitor, principal)


@router.get("/me/data/export")
def export_data(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    """Everything held about the visitor, as a JSON download (the API's /api/me/export)."""
    with db_of(request).read() as conn:
        document = gdpr.export_my_data(conn, principal)
    name = f"clientbook-my-data-{utcnow():%Y-%m-%d}.json"
    return Response(
        orjson.dumps(document, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/me/data/erase")
async def erase_data(request: Request, visitor: VisitorDep, principal: CustomerDep) -> Response:
    """Erase the record and the account once the password is confirmed; then signed out."""
    form = await read_form(request)
    password = form.get("password", "")[:1024]
    try:
        await run_in_threadpool(gdpr.erase_me, db_of(request), principal, password)
    except errors.ValidationFailed as exc:
        problems = exc.fields
        return await run_in_threadpool(
            lambda: _data_page(request, visitor, principal, field_errors=problems, status_code=422)
        )
    response = redirect("/signin", notice=N_("Your data has been erased."))
    clear_session_cookie(request, response)
    return response
