"""The console's customer page and new-customer form (SPEC §9).

One page shows a record with everything staff do to it: the details form, status with reason,
assignment, tags, last contact, interactions, internal notes and the timeline. Each action is
its own small form posting to `/admin/customers/{id}/<action>`; on success the browser is sent
back to the page (Post/Redirect/Get), on a field error the page is shown again with the error
next to the field and what was typed kept.

The details form sends only the fields whose text differs from what was shown, so a value the
form cannot show exactly (a timestamp's seconds) is never rewritten by saving something else.
A field posted that a form does not have is never dropped: the record forms pass it on to the
service, the action forms name it as the API's action routes do, so it is refused as the API
refuses it (403 for a system field, 422 for an unknown one), on the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from clientbook.access import Principal
from clientbook.domain.customers import CUSTOMER_ATTRIBUTES
from clientbook.domain.enums import (
    CUSTOMER_SOURCES,
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    INTERACTION_DIRECTIONS,
    INTERACTION_TYPES,
    LANGUAGES,
    NOTE_CATEGORIES,
    VISIBILITIES,
)
from clientbook.domain.errors import PreconditionFailed
from clientbook.domain.interactions import INTERACTION_FIELDS
from clientbook.domain.notes import NOTE_FIELDS
from clientbook.domain.tags import get_customer_tags, tag_key
from clientbook.services import customers as customer_service
from clientbook.services import interactions as interaction_service
from clientbook.services import notes as note_service
from clientbook.services import onboarding
from clientbook.services.timeline import customer_timeline
from clientbook.services.users import list_staff, present_users
from clientbook.web.console.staff import StaffDep
from clientbook.web.forms import (
    errors_by_input,
    extra_fields,
    form_version,
    merge_note_texts,
    read_form,
    split_tags,
    typed,
)
from clientbook.web.i18n import N_
from clientbook.web.session import Visitor, db_of
from clientbook.web.templating import (
    FORM_ERRORS,
    PageRoute,
    field_problems,
    redirect,
    render,
    status_of,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
T = TypeVar("T")

# The details form, in the order it shows them; `notes.*` are the seed's CustomerNotes texts.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("identity", ("name", "email", "phone", "customerType", "company", "jobTitle", "industry",
                  "website")),
    ("address", ("address", "city", "state", "zipCode", "country")),
    ("business", ("source", "totalRevenue", "totalInvoices", "lastContactAt", "nextFollowUpAt")),
    ("preferences", ("language", "currency", "timezone")),
    ("notes", ("notes.general", "notes.preferences", "notes.importantInfo")),
)  # fmt: skip
DETAIL_FIELDS = tuple(name for _, names in SECTIONS for name in names)
NEW_FIELDS = ("status", "assignedTo", *DETAIL_FIELDS)
# The inputs of the record's action forms (their ids carry a prefix, their names do not).
STATUS_INPUTS = ("status", "reason")
ASSIGNMENT_INPUTS = ("assignedTo",)
TAG_INPUTS = ("tags",)
CONTACT_INPUTS = ("at",)
INTERACTION_INPUTS = tuple(INTERACTION_FIELDS)
NOTE_INPUTS = tuple(NOTE_FIELDS)
NOTE_TEXTS = ("general", "preferences", "importantInfo")
CHOICES: dict[str, tuple[str, ...]] = {
    "customerType": CUSTOMER_TYPES,
    "source": CUSTOMER_SOURCES,
    "language": LANGUAGES,
    "status": CUSTOMER_STATUSES,
}
TIMELINE_PAGE = 20


# --- reading ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A stored value as the form shows it (timestamps to the minute, in UTC)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def form_values(record: Mapping[str, Any]) -> dict[str, str]:
    """The details form's texts for a record (`present_customers(..., parse_json=True)` shape)."""
    notes = record.get("notes") if isinstance(record.get("notes"), dict) else {}
    values = {name: _text(record.get(name)) for name in DETAIL_FIELDS if "." not in name}
    for key in NOTE_TEXTS:
        text = notes.get(key) if notes else None
        values[f"notes.{key}"] = text if isinstance(text, str) else ""
    for name in ("lastContactAt", "nextFollowUpAt"):
        raw = record.get(name)
        values[name] = raw[:16] if isinstance(raw, str) else ""
    return values


def _page_context(
    conn: Connection, visitor: Visitor, customer_id: str, cursor: str | None
) -> dict[str, Any]:
    principal = visitor.require()
    row = customer_service.get_customer(conn, principal, customer_id)
    record = customer_service.present_customers(
        conn, [row], expand=("assignedTo", "userId"), parse_json=True
    )[0]
    params: list[tuple[str, str]] = [("limit", str(TIMELINE_PAGE))]
    if cursor:
        params.append(("cursor", cursor))
    timeline = customer_timeline(conn, principal, customer_id, params)
    events = [item.present() for item in timeline.rows]
    metadata = record["metadata"] if isinstance(record.get("metadata"), dict) else {}
    return {
        "nav": "customers",
        "record": record,
        "version": row["version"],
        "tags": list(metadata.get("tags") or []),
        "assignees": list_staff(conn, principal),
        "timeline": events,
        "rep_names": _rep_names(conn, events),
        "tag_changes": tag_changes,
        "timeline_total": timeline.total,
        "timeline_next": timeline.next_cursor,
        "forms": {},
        "values": form_values(record),
        "inputs": DETAIL_FIELDS,
        "conflict": False,
    }


def _rep_names(conn: Connection, events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """user id → name (or email) of the reps the timeline's assignments name."""
    ids: set[str] = set()
    for item in events:
        change = (item.get("event") or {}).get("changes", {}).get("assignedTo")
        if isinstance(change, Mapping):
            ids.update(v for v in (change.get("from"), change.get("to")) if isinstance(v, str))
    if not ids:
        return {}
    return {user["$id"]: user.get("name") or user.get("email") or user["$id"]
            for user in present_users(conn, ids)}  # fmt: skip


def tag_changes(change: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(added, removed) tags of a `metadata` change, compared as tags are (case-insensitively)."""
    before = get_customer_tags(change.get("from"))
    after = get_customer_tags(change.get("to"))
    had = {tag_key(tag) for tag in before}
    has = {tag_key(tag) for tag in after}
    return (
        [tag for tag in after if tag_key(tag) not in had],
        [tag for tag in before if tag_key(tag) not in has],
    )


def _show(
    request: Request,
    visitor: Visitor,
    customer_id: str,
    *,
    form: str | None = None,
    errors: Mapping[str, str] | None = None,
    inputs: tuple[str, ...] = (),
    typed_values: Mapping[str, str] | None = None,
    status_code: int = 200,
    conflict: bool = False,
) -> Response:
    """The page; `form` shown with `errors` on its `inputs` and the others listed above it."""
    with db_of(request).read() as conn:
        context = _page_context(conn, visitor, customer_id, request.query_params.get("cursor"))
    if form is not None:
        problems = dict(errors or {})
        others = {name: text for name, text in problems.items() if name not in inputs}
        context["forms"] = {
            form: {"errors": problems, "values": dict(typed_values or {}), "others": others}
        }
        if form == "details" and typed_values is not None and not conflict:
            context["values"] = {**context["values"], **typed_values}
    context["conflict"] = conflict
    context.update(_choices())
    return render(request, visitor, "console/customer.html", context, status_code=status_code)


def _choices() -> dict[str, Any]:
    return {
        "choices": CHOICES,
        "sections": SECTIONS,
        "interaction_types": INTERACTION_TYPES,
        "interaction_directions": INTERACTION_DIRECTIONS,
        "visibilities": VISIBILITIES,
        "note_categories": NOTE_CATEGORIES,
    }


def _new_page(
    request: Request,
    visitor: Visitor,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    *,
    status_code: int = 200,
) -> Response:
    context = {
        "nav": "customers", "values": values, "errors": errors, "inputs": NEW_FIELDS, **_choices()
    }  # fmt: skip
    return render(request, visitor, "console/customer_new.html", context, status_code=status_code)


@router.get("/customers/new")
def new_customer_page(request: Request, visitor: StaffDep) -> Response:
    defaults = {"customerType": "individual", "language": "en", "currency": "MYR"}
    return _new_page(request, visitor, defaults, {})


@router.post("/customers/new")
async def create_customer(request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    shown = {name: form.get(name, "") for name in NEW_FIELDS}
    # Empty inputs are left out, so that the seed's defaults apply (absent, not null).
    data = {
        k: v
        for k, v in _record_data(
            {**extra_fields(form, NEW_FIELDS), **shown}, current_notes=None
        ).items()
        if v is not None
    }
    db = db_of(request)
    try:
        with db.transaction() as conn:
            created = onboarding.add_customer(conn, visitor.require(), data)
    except FORM_ERRORS as exc:
        problems = errors_by_input(field_problems(exc), NEW_FIELDS)
        return _new_page(request, visitor, shown, problems, status_code=status_of(exc))
    return redirect(f"/admin/customers/{created['id']}", notice=N_("Customer created"))


@router.get("/customers/{customer_id}")
def customer_page(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    return _show(request, visitor, customer_id)


# --- writing ---------------------------------------------------------------------------------


def _record_data(
    shown: Mapping[str, str], *, current_notes: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Form texts → a customer body: typed values, and `notes.*` merged into the notes object."""
    plain = {name: value for name, value in shown.items() if not name.startswith("notes.")}
    data = typed(CUSTOMER_ATTRIBUTES, plain)
    if any(name.startswith("notes.") for name in shown):
        data["notes"] = merge_note_texts(current_notes, shown)
    return data


def _act(
    request: Request,
    visitor: Visitor,
    customer_id: str,
    form_name: str,
    form: Mapping[str, str],
    inputs: tuple[str, ...],
    action: Callable[[Connection, Principal], T],
    notice: str,
    *,
    passes_extras: bool = False,
    unchanged: str | None = None,
) -> Response:
    """Run one record action in a write transaction; errors go back to the page's form, shown
    on the `inputs` they concern. Fields posted beyond the inputs are named as unknown (the API
    action routes' `check_body_keys`), unless the action `passes_extras` on to the service.
    `unchanged`: the notice when the action left the record as it was (no new version)."""
    try:
        with db_of(request).transaction() as conn:
            principal = visitor.require()
            if not passes_extras:
                customer_service.check_body_keys(extra_fields(form, inputs), ())
            before: int | None = None
            if unchanged is not None:  # one read more, only for the action that asks
                before = customer_service.get_customer(conn, principal, customer_id)["version"]
            result = action(conn, principal)
    except FORM_ERRORS as exc:
        errors = errors_by_input(field_problems(exc), inputs)
        return _show(
            request, visitor, customer_id, form=form_name, errors=errors, inputs=inputs,
            typed_values=form, status_code=status_of(exc),
        )  # fmt: skip
    except PreconditionFailed:
        return _show(request, visitor, customer_id, status_code=412, conflict=True)
    if unchanged is not None and isinstance(result, Mapping) and result["version"] == before:
        notice = unchanged
    return redirect(f"/admin/customers/{customer_id}", notice=notice)


@router.post("/customers/{customer_id}/details")
async def save_details(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    with db_of(request).read() as conn:
        row = customer_service.get_customer(conn, visitor.require(), customer_id)
        record = customer_service.present_customers(conn, [row], parse_json=True)[0]
    before = form_values(record)
    shown = {name: form[name] for name in DETAIL_FIELDS if name in form}
    changed = {name: text for name, text in shown.items() if text != before.get(name)}
    extra = extra_fields(form, DETAIL_FIELDS)
    if not changed and not extra:
        return redirect(f"/admin/customers/{customer_id}", notice=N_("Nothing to save"))
    notes = record.get("notes") if isinstance(record.get("notes"), dict) else None
    data = _record_data({**extra, **changed}, current_notes=notes)
    version = form_version(form)
    return _act(
        request, visitor, customer_id, "details", shown, DETAIL_FIELDS,
        lambda conn, who: customer_service.update_customer(
            conn, who, customer_id, data, expected_version=version
        ),
        N_("Details saved"), passes_extras=True,
    )  # fmt: skip


@router.post("/customers/{customer_id}/status")
async def change_status(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    version = form_version(form)
    return _act(
        request, visitor, customer_id, "status", form, STATUS_INPUTS,
        lambda conn, who: customer_service.change_status(
            conn, who, customer_id, form.get("status", ""), reason=form.get("reason") or None,
            expected_version=version,
        ),
        N_("Status changed"),
        # SPEC §12: the current status again is a no-op, and the page says so.
        unchanged=N_("Status unchanged: the record already has this status"),
    )  # fmt: skip


@router.post("/customers/{customer_id}/assignment")
async def assign(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    version = form_version(form)
    return _act(
        request, visitor, customer_id, "assignment", form, ASSIGNMENT_INPUTS,
        lambda conn, who: customer_service.assign_customer(
            conn, who, customer_id, form.get("assignedTo") or None, expected_version=version
        ),
        N_("Assignment saved"),
    )  # fmt: skip


@router.post("/customers/{customer_id}/tags")
async def set_tags(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    version = form_version(form)
    return _act(
        request, visitor, customer_id, "tags", form, TAG_INPUTS,
        lambda conn, who: customer_service.set_tags(
            conn, who, customer_id, split_tags(form.get("tags", "")), expected_version=version
        ),
        N_("Tags saved"),
    )  # fmt: skip


@router.post("/customers/{customer_id}/contact")
async def record_contact(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    return _act(
        request, visitor, customer_id, "contact", form, CONTACT_INPUTS,
        lambda conn, who: customer_service.record_contact(
            conn, who, customer_id, at=form.get("at") or None
        ),
        N_("Contact recorded"),
    )  # fmt: skip


def _item_data(
    fields: Mapping[str, Any], form: Mapping[str, str], names: Iterable[str]
) -> dict[str, Any]:
    """An interaction or note from its form: empty inputs left out (the defaults apply), and
    any field the form does not have passed on for the service to refuse."""
    sent = {name: form[name] for name in names if name in form}
    data = typed(fields, {**extra_fields(form, names), **sent})
    return {name: value for name, value in data.items() if value is not None}


@router.post("/customers/{customer_id}/interactions")
async def log_interaction(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    data = _item_data(INTERACTION_FIELDS, form, INTERACTION_FIELDS)
    return _act(
        request, visitor, customer_id, "interaction", form, INTERACTION_INPUTS,
        lambda conn, who: interaction_service.log_interaction(conn, who, customer_id, data),
        N_("Interaction logged"), passes_extras=True,
    )  # fmt: skip


@router.post("/customers/{customer_id}/notes")
async def add_note(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    data = _item_data(NOTE_FIELDS, {**form, "isPinned": form.get("isPinned", "")}, NOTE_FIELDS)
    return _act(
        request, visitor, customer_id, "note", form, NOTE_INPUTS,
        lambda conn, who: note_service.add_note(conn, who, customer_id, data),
        N_("Note added"), passes_extras=True,
    )  # fmt: skip


@router.post("/customers/{customer_id}/interactions/{item_id}/delete")
def delete_interaction(
    customer_id: str, item_id: str, request: Request, visitor: StaffDep
) -> Response:
    with db_of(request).transaction() as conn:
        interaction_service.delete_interaction(conn, visitor.require(), item_id)
    return redirect(f"/admin/customers/{customer_id}", notice=N_("Interaction deleted"))


@router.post("/customers/{customer_id}/notes/{item_id}/delete")
def delete_note(customer_id: str, item_id: str, request: Request, visitor: StaffDep) -> Response:
    with db_of(request).transaction() as conn:
        note_service.delete_note(conn, visitor.require(), item_id)
    return redirect(f"/admin/customers/{customer_id}", notice=N_("Note deleted"))


@router.post("/customers/{customer_id}/delete")
async def delete_customer(customer_id: str, request: Request, visitor: StaffDep) -> Response:
    form = await read_form(request)
    version = form_version(form)
    with db_of(request).transaction() as conn:
        customer_service.delete_customer(
            conn, visitor.require(), customer_id, expected_version=version
        )
    return redirect("/admin/customers", notice=N_("Customer deleted"))
