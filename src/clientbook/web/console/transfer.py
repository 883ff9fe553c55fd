"""Console import and export pages (SPEC §8, §9): thin pages over services.import_jobs and
services.exports, the same calls as `api/transfer.py`.

Import: upload a file with its options; "Check the file" runs a dry run (the file is kept
aside, so that "Import" after the preview needs no second upload), "Import" runs it. Either way
the browser lands on the job's page: a progress bar while a large import runs (import.js polls
`GET /api/imports/{id}`; without JavaScript the page refreshes itself), then the report with
every failed row's errors.

Export: a form of list filters (the customers table's, parsed by the same query parser) that
downloads the file as the API streams it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, get_args

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import UploadFile

from clientbook.access import Principal
from clientbook.domain import errors
from clientbook.domain.enums import (
    CUSTOMER_SOURCES,
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    USER_STATUSES,
)
from clientbook.services import exports, import_jobs, import_uploads
from clientbook.services import users as user_service
from clientbook.services.imports import ImportOptions
from clientbook.services.imports.readers import ImportFormat, parse_format
from clientbook.web.console.staff import StaffDep
from clientbook.web.session import CSRF_FIELD, Visitor, db_of
from clientbook.web.templating import PageRoute, redirect, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

IMPORT_FORMATS: Final = get_args(ImportFormat)  # the formats the importer reads
EXPORT_FORMATS: Final = ("csv", "json", "jsonl", "xlsx")
# The export form's own filters; any other list filter in the URL (a link from the customers
# table) is carried along as it is.
EXPORT_FILTERS: Final = (
    "q",
    "status",
    "customerType",
    "source",
    "assignedTo",
    "company",
    "industry",
    "country",
    "tag",
)
# A report lists up to 10,000 failed rows; a page shows this many of their errors.
SHOWN_ROW_ERRORS: Final = 500
_CHECKED = frozenset({"on", "true", "1", "yes"})

# --- the file kept between a dry run and the import ----------------------------------------------
#
# A staged upload is two files in a private temporary folder: `<token>.upload` and
# `<token>.json` (who uploaded it, its name, its options). The token is random and only the
# uploader may use it; one unused for an hour is swept on the next upload. The files an import
# reads (the dry run's copy, the staged file once run) wait with every other upload in
# `services.import_uploads`' folder, whose leftovers a restart removes.
STAGING: Final = Path(tempfile.gettempdir()) / f"clientbook-web-imports-{os.getuid()}"
STAGED_FOR_SECONDS: Final = 3600
_TOKEN_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Staged:
    token: str
    path: Path
    filename: str | None
    options: ImportOptions


def _staging_dir() -> Path:
    STAGING.mkdir(mode=0o700, exist_ok=True)
    return STAGING


def _sweep(now: float) -> None:
    """Remove staged uploads older than STAGED_FOR_SECONDS (nobody ran their import)."""
    for path in _staging_dir().iterdir():
        try:
            if now - path.stat().st_mtime > STAGED_FOR_SECONDS:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def _stage(upload: UploadFile, owner: str, options: ImportOptions) -> Staged:
    """Keep the uploaded file for the import that may follow its dry run."""
    _sweep(time.time())
    token = secrets.token_urlsafe(18)
    path = _staging_dir() / f"{token}.upload"
    with path.open("wb") as handle:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, handle, 1024 * 1024)
    meta = {"owner": owner, "filename": upload.filename, "options": options.to_json()}
    (_staging_dir() / f"{token}.json").write_text(json.dumps(meta))
    return Staged(token, path, upload.filename, options)


def _find_staged(token: str, owner: str) -> Staged | None:
    """The staged upload `token` of `owner`, or None (unknown, expired, someone else's)."""
    if not token or len(token) > 64 or not set(token) <= _TOKEN_CHARS:
        return None
    folder = _staging_dir()
    path, meta_path = folder / f"{token}.upload", folder / f"{token}.json"
    try:
        meta = json.loads(meta_path.read_text())
        fresh = time.time() - path.stat().st_mtime <= STAGED_FOR_SECONDS
    except (OSError, ValueError):
        return None
    if not fresh or meta.get("owner") != owner:
        return None
    stored = meta.get("options") or {}
    options = ImportOptions(
        format=stored.get("format"),
        overwrite=bool(stored.get("overwrite")),
        skip_errors=bool(stored.get("skipErrors")),
        sheet=stored.get("sheet"),
    )
    return Staged(token, path, meta.get("filename"), options)


def _take_staged(staged: Staged) -> Path:
    """Hand the staged file over to an import: moved to where uploads wait for their import
    (`services.import_uploads`, swept after a crash); the import deletes it when done."""
    (_staging_dir() / f"{staged.token}.json").unlink(missing_ok=True)
    with import_uploads.new_upload() as handle:
        taken = Path(handle.name)
    try:
        os.replace(staged.path, taken)
    except FileNotFoundError:  # run twice at once: the other request has it
        taken.unlink(missing_ok=True)
        raise errors.NotFound("The checked file is no longer kept: upload it again") from None
    return taken


def _discard(staged: Staged) -> None:
    staged.path.unlink(missing_ok=True)
    (_staging_dir() / f"{staged.token}.json").unlink(missing_ok=True)


def _copy_for_dry_run(staged: Staged) -> Path:
    with import_uploads.new_upload() as handle, staged.path.open("rb") as source:
        shutil.copyfileobj(source, handle, 1024 * 1024)
    return Path(handle.name)


def _save(upload: UploadFile) -> Path:
    with import_uploads.new_upload() as handle:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, handle, 1024 * 1024)
    return Path(handle.name)


# --- import --------------------------------------------------------------------------------------


def _import_page(
    request: Request,
    visitor: Visitor,
    values: dict[str, Any] | None = None,
    form_errors: dict[str, str] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    context = {
        "nav": "import",
        "values": values or {"format": "", "overwrite": False, "skipErrors": False, "sheet": ""},
        "errors": form_errors or {},
        "formats": IMPORT_FORMATS,
        "max_upload_mb": db_of(request).settings.max_upload_bytes // (1024 * 1024),
    }
    return render(request, visitor, "console/import.html", context, status_code=status_code)


@router.get("/import")
def import_page(request: Request, visitor: StaffDep) -> Response:
    return _import_page(request, visitor)


def check_length(request: Request) -> None:
    """Refuse an upload over the limit before its body is read (a dependency declared before
    the visitor's, whose CSRF check reads the form; browsers always send the length)."""
    limit = db_of(request).settings.max_upload_bytes
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > limit:
        mib = limit // (1024 * 1024)
        raise errors.TooLarge(f"The upload is larger than the limit of {mib} MiB")


def _options_of(values: dict[str, Any], *, dry_run: bool) -> ImportOptions:
    try:
        fmt = parse_format(values.get("format"))  # the importer's rule, aliases included
    except errors.UnsupportedMedia as exc:  # on a form it is a field like the others: 422
        raise errors.ValidationFailed(exc.fields) from None
    return ImportOptions(
        format=fmt,
        overwrite=bool(values.get("overwrite")),
        skip_errors=bool(values.get("skipErrors")),
        dry_run=dry_run,
        sheet=values.get("sheet") or None,
    )


def _submit(
    request: Request, principal: Principal, path: Path, filename: str | None, options: ImportOptions
) -> import_jobs.Submitted:
    return import_jobs.submit_import(
        db_of(request), principal, path, filename=filename, options=options
    )


UploadLimit = Annotated[None, Depends(check_length)]


@router.post("/import")
async def upload_import(request: Request, _limit: UploadLimit, visitor: StaffDep) -> Response:
    """Upload: "check" runs a dry run of a kept copy; "run" imports at once."""
    principal = visitor.require()
    form = await request.form()  # parsed (and cached) by the CSRF check already
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    values: dict[str, Any] = {
        "format": fields.get("format", ""),
        "sheet": fields.get("sheet", "").strip(),
        "overwrite": fields.get("overwrite", "").lower() in _CHECKED,
        "skipErrors": fields.get("skipErrors", "").lower() in _CHECKED,
    }
    check = fields.get("action") != "run"
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(
            request, visitor, values, {"file": "required: the file to import"}, status_code=422
        )
    staged: Staged | None = None
    try:
        options = _options_of(values, dry_run=check)
        if check:
            staged = await run_in_threadpool(_stage, upload, principal.id or "", options)
            copy = await run_in_threadpool(_copy_for_dry_run, staged)
            submitted = await run_in_threadpool(
                _submit, request, principal, copy, upload.filename, options
            )
        else:
            path = await run_in_threadpool(_save, upload)
            submitted = await run_in_threadpool(
                _submit, request, principal, path, upload.filename, options
            )
    except (errors.ValidationFailed, errors.UnsupportedMedia) as exc:
        if staged is not None:
            _discard(staged)
        problems = exc.fields or {"file": exc.message}
        status = 415 if isinstance(exc, errors.UnsupportedMedia) else 422
        return _import_page(request, visitor, values, problems, status_code=status)
    target = f"/admin/import/jobs/{submitted.job['$id']}"
    if staged is not None:
        target += f"?staged={staged.token}"
    return redirect(target)


@router.post("/import/run")
async def run_staged_import(request: Request, visitor: StaffDep) -> Response:
    """Import the file checked by a dry run, with the options chosen on its report."""
    principal = visitor.require()
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    staged = _find_staged(fields.get("staged", ""), principal.id or "")
    if staged is None:
        raise errors.NotFound("The checked file is no longer kept: upload it again")
    options = ImportOptions(
        format=staged.options.format,
        overwrite=fields.get("overwrite", "").lower() in _CHECKED,
        skip_errors=fields.get("skipErrors", "").lower() in _CHECKED,
        sheet=staged.options.sheet,
    )
    path = await run_in_threadpool(_take_staged, staged)
    submitted = await run_in_threadpool(_submit, request, principal, path, staged.filename, options)
    return redirect(f"/admin/import/jobs/{submitted.job['$id']}")


@router.get("/import/jobs/{job_id}")
def import_job_page(
    request: Request, visitor: StaffDep, job_id: str, staged: str | None = None
) -> Response:
    """A job: its progress while it runs, then its report (and, after a dry run, the run)."""
    principal = visitor.require()
    job = import_jobs.get_job(db_of(request), principal, job_id)
    kept = _find_staged(staged, principal.id or "") if staged else None
    report = job["report"] or {}
    failures = [
        {"row": failure["row"], "field": field, "message": message}
        for failure in report.get("failures", [])
        for field, message in failure["errors"].items()
    ]
    truncated = len(failures) > SHOWN_ROW_ERRORS or bool(report.get("failuresTruncated"))
    running = job["status"] in ("queued", "running")
    context = {
        "nav": "import",
        "job": job,
        "report": report,
        "failures": failures[:SHOWN_ROW_ERRORS],
        "failures_truncated": truncated,
        "running": running,
        "staged": kept.token if kept is not None and job["options"].get("dryRun") else None,
    }
    return render(request, visitor, "console/import_job.html", context)


# --- export --------------------------------------------------------------------------------------


def _staff_choices(request: Request, principal: Principal) -> list[tuple[str, str]]:
    """The staff accounts records can be assigned to (blocked ones too: their records stay
    assigned), for the "assigned to" filter, by name."""
    with db_of(request).read() as conn:
        rows = user_service.list_staff(conn, principal, statuses=USER_STATUSES)
    choices = [(row["id"], row["name"] or row["email"] or row["id"]) for row in rows]
    return choices


def _export_page(
    request: Request,
    visitor: Visitor,
    params: list[tuple[str, str]],
    form_errors: dict[str, str] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    values = dict(params)
    carried = [(k, v) for k, v in params if k not in EXPORT_FILTERS and k != "format" and v]
    context = {
        "nav": "export",
        "values": values,
        "errors": form_errors or {},
        "carried": carried,
        "formats": EXPORT_FORMATS,
        "statuses": CUSTOMER_STATUSES,
        "types": CUSTOMER_TYPES,
        "sources": CUSTOMER_SOURCES,
        "staff": _staff_choices(request, visitor.require()),
    }
    return render(request, visitor, "console/export.html", context, status_code=status_code)


@router.get("/export")
def export_page(request: Request, visitor: StaffDep) -> Response:
    return _export_page(request, visitor, list(request.query_params.multi_items()))


@router.get("/export/download")
def export_download(request: Request, visitor: StaffDep) -> Response:
    """The file, streamed as the API streams it; a bad filter shows the form with its error."""
    principal = visitor.require()
    given = list(request.query_params.multi_items())
    params = [(k, v.strip()) for k, v in given if v.strip()]
    try:
        plan = exports.plan_export(principal, params)
    except errors.BadQuery as exc:
        problems = exc.fields or {"q": exc.message}
        return _export_page(request, visitor, given, problems, status_code=400)
    filename = plan.filename(datetime.now(UTC).date())
    return StreamingResponse(
        exports.stream_export(db_of(request), principal, plan),
        media_type=plan.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
