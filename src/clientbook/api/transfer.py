"""Import and export (SPEC §8, §12): thin routes over services.exports and services.import_jobs.

    GET  /api/customers/export?format=csv|json|jsonl|xlsx|excel&<list filters>&q=&ids=
    POST /api/customers/import      multipart `file`; format, overwrite, skipErrors, dryRun, sheet
    GET  /api/imports/{id}          a job: status, progress, report

Included before the customers router, whose `/api/customers/{customer_id}` would take `export`
and `import` for ids. Everything that takes long runs off the event loop: the export streams
from a sync generator (Starlette iterates it in the thread pool), the import in the thread pool
or a job thread.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData, QueryParams, UploadFile
from starlette.types import Message

from clientbook.access import Principal, require_authenticated
from clientbook.api.deps import get_principal
from clientbook.api.errors import domain_error_response
from clientbook.api.http import JSONBytes
from clientbook.api.query_params import CHECKED_QUERY, parses_own_query
from clientbook.api.schemas import ERROR_RESPONSES
from clientbook.domain.errors import BadQuery, TooLarge, UnsupportedMedia, ValidationFailed
from clientbook.services import exports, import_jobs, import_uploads
from clientbook.services.imports import ImportOptions, parse_format
from clientbook.services.runtime import Database

router = APIRouter(tags=["import and export"], dependencies=CHECKED_QUERY)
_FLAGS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False}
_FLAGS |= {"no": False, "off": False, "": False}
_FLAG_NAMES = ("overwrite", "skipErrors", "dryRun")
_OPTION_NAMES = ("format", *_FLAG_NAMES, "sheet")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get(
    "/api/customers/export",
    responses={**ERROR_RESPONSES, 200: {"description": "The export file, streamed"}},
)
@parses_own_query
async def export_customers(
    request: Request, principal: Principal | None = Depends(get_principal)
) -> StreamingResponse:
    """Every record the caller may see that matches the list filters (`status=active`,
    `q=tan`, `tag=vip`, ...) or `ids=a,b,c`, as a file named `customers-YYYY-MM-DD.<format>`."""
    plan = exports.plan_export(principal, request.query_params.multi_items())
    return export_response(_db(request), principal, plan)


def export_response(
    db: Database, principal: Principal | None, plan: exports.ExportPlan
) -> StreamingResponse:
    """The planned export streamed as `customers-YYYY-MM-DD.<format>` (also the bulk export's)."""
    filename = plan.filename(datetime.now(UTC).date())
    return StreamingResponse(
        exports.stream_export(db, principal, plan),
        media_type=plan.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _limited_receive(request: Request, limit: int) -> Callable[[], Awaitable[Message]]:
    """The request's body, cut off with 413 once more than `limit` bytes have come (a body
    without a Content-Length is read only that far; SPEC §12)."""
    received = 0
    receive = request.receive

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(_too_large(limit))
        return message

    return limited


def _too_large(limit: int) -> str:
    return f"The upload is larger than the limit of {limit // (1024 * 1024)} MiB"


def _flag_errors(values: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: "must be true or false"
        for name in _FLAG_NAMES
        if str(values.get(name, "")).strip().lower() not in _FLAGS
    }


def _check_query_options(query: QueryParams) -> None:
    """SPEC §12: every bad import option in the query string named in one 400: one the import
    does not take, one given more than once (which value would it mean?), a bad flag or
    format. (In the form, a body field, a bad option is 422; a form's unknown format 415, as a
    file of that kind.)"""
    counts = Counter(name for name, _value in query.multi_items())
    errors = _flag_errors(query)
    try:
        parse_format(query.get("format"))
    except UnsupportedMedia as exc:
        errors.update(exc.fields)
    errors |= {name: "given more than once" for name, n in counts.items() if n > 1}
    errors |= {name: "not an import option" for name in counts if name not in _OPTION_NAMES}
    if errors:
        raise BadQuery("Invalid import options in the query string", fields=errors)


def _form_options(query: QueryParams, form: FormData) -> tuple[UploadFile, ImportOptions]:
    """The upload and its options. An option also in the query string is a 400 naming the
    query's (SPEC §12); the form's own errors (no file, an unknown field, one given twice, a
    bad flag) are one 422 naming each (SPEC §4). Either way no import runs on a guessed value."""
    names = [name for name, _value in form.multi_items() if name != "file"]
    both = sorted(set(names) & set(query))
    if both:
        message = "also given as a form field: give each option once"
        raise BadQuery(message, fields={name: message for name in both})
    errors = {name: "unknown field" for name in names if name not in _OPTION_NAMES}
    errors |= {name: "given more than once" for name in names if names.count(name) > 1}
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        errors["file"] = "required: the file to import"
    values = {**query, **{name: form[name] for name in names if name not in errors}}
    try:
        options = _options(values)
    except ValidationFailed as exc:
        errors |= exc.fields
    if errors or not isinstance(upload, UploadFile):
        raise ValidationFailed(errors)
    return upload, options


def _options(values: dict[str, Any]) -> ImportOptions:
    errors = _flag_errors(values)
    if errors:
        raise ValidationFailed(errors)
    flags = {name: _FLAGS[str(values.get(name, "")).strip().lower()] for name in _FLAG_NAMES}
    return ImportOptions(
        format=str(values["format"]) if values.get("format") else None,
        overwrite=flags["overwrite"],
        skip_errors=flags["skipErrors"],
        dry_run=flags["dryRun"],
        sheet=str(values["sheet"]) if values.get("sheet") else None,
    )


def _save(upload: UploadFile) -> Path:
    handle = import_uploads.new_upload()
    with handle:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, handle, 1024 * 1024)
    return Path(handle.name)


@router.post(
    "/api/customers/import",
    responses={**ERROR_RESPONSES, 202: {"description": "Started as a job: poll its Location"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "format": {"type": "string", "enum": ["csv", "json", "jsonl", "xlsx"]},
                            "overwrite": {"type": "boolean"},
                            "skipErrors": {"type": "boolean"},
                            "dryRun": {"type": "boolean"},
                            "sheet": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
@parses_own_query
async def import_customers(
    request: Request, principal: Principal | None = Depends(get_principal)
) -> JSONBytes:
    """Import a CSV, JSON / JSON Lines or XLSX file. Options come as form fields or query
    parameters. Small files answer 200 with the job and its report, or the error they failed
    on (422 for failed rows, 413 for too many rows) with the job; large ones 202 at once."""
    db = _db(request)
    require_authenticated(principal)
    _check_query_options(request.query_params)
    limit = db.settings.max_upload_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge(_too_large(limit))
    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise UnsupportedMedia("Send the file as multipart/form-data, in the field `file`")
    limited = Request(request.scope, _limited_receive(request, limit))
    async with limited.form(max_files=1, max_fields=len(_OPTION_NAMES)) as form:
        upload, options = _form_options(request.query_params, form)
        path = await run_in_threadpool(_save, upload)
        filename = upload.filename
    submitted = await run_in_threadpool(
        import_jobs.submit_import, db, principal, path, filename=filename, options=options
    )
    job = submitted.job
    if submitted.error is not None:
        # Failed rows or a file too large: the error (422, 413...) with the job and its report.
        return domain_error_response(submitted.error, {"job": job})
    if submitted.finished:
        return JSONBytes({"job": job})
    location = {"Location": f"/api/imports/{job['$id']}"}
    return JSONBytes({"job": job}, status_code=202, headers=location)


@router.get("/api/imports/{job_id}", responses=ERROR_RESPONSES)
async def read_import(
    job_id: str, request: Request, principal: Principal | None = Depends(get_principal)
) -> JSONBytes:
    """An import's status (queued, running, succeeded, failed), progress and report."""
    db = _db(request)
    return JSONBytes(await run_in_threadpool(import_jobs.get_job, db, principal, job_id))
