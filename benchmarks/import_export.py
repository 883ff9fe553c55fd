"""Import and export throughput and peak memory, per format (SPEC §8).

    .venv/bin/python benchmarks/import_export.py --customers 1000000
    .venv/bin/python benchmarks/import_export.py --customers 100000 --formats csv,xlsx

1. `clientbook demo --customers N` fills a SQLite database (the source).
2. Each format is exported from it, then imported (staff, overwrite) into a fresh, migrated,
   empty database: rows/s and the peak RSS of the process doing the work (each step runs in a
   process of its own, so the figures do not mix).
3. The XLSX readers are compared on the exported workbook: the streaming reader the importer
   uses against python-calamine (reading only, no validation).

Figures depend on the machine's load: the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FORMATS = ("csv", "json", "jsonl", "xlsx")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _usage(cpu_started: float) -> dict[str, float]:
    return {"cpu": _cpu_seconds() - cpu_started, "peak_mb": _peak_mb()}


def _cpu_seconds() -> float:
    """CPU time of this process: on a shared machine, the figure that load does not distort."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "CLIENTBOOK_DATABASE_URL": f"sqlite:///{db}"}


def _child(step: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, *args], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"{step} failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --- steps, each run in a child process -------------------------------------------------------


def step_export(db_path: str, fmt: str, target: str) -> dict[str, Any]:
    from clientbook.access import SYSTEM
    from clientbook.services import exports
    from clientbook.services.runtime import open_database

    db = open_database(_settings(db_path))
    plan = exports.plan_export(SYSTEM, [], fmt=fmt)
    counter = exports.ExportProgress()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    with open(target, "wb") as file:
        for chunk in exports.stream_export(db, SYSTEM, plan, progress=counter):
            file.write(chunk)
    seconds = time.perf_counter() - started
    db.dispose()
    return {
        "rows": counter.rows,
        "seconds": seconds,
        "cpu": _cpu_seconds() - cpu_started,
        "peak_mb": _peak_mb(),
    }


def step_import(db_path: str, fmt: str, source_path: str, staff_from: str) -> dict[str, Any]:
    import sqlite3

    from clientbook.access import SYSTEM
    from clientbook.services.imports import ImportOptions, open_source, run_import
    from clientbook.services.runtime import open_database, upgrade_schema

    db = open_database(_settings(db_path))
    upgrade_schema(db)
    db.dispose()
    # "Empty" but for the staff the records are assigned to (assignedTo must name active staff).
    with sqlite3.connect(db_path) as conn:
        conn.execute("ATTACH DATABASE ? AS source", (staff_from,))
        conn.execute("INSERT INTO users SELECT * FROM source.users WHERE role = 'super_admin'")
    db = open_database(_settings(db_path))
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    source = open_source(Path(source_path), filename=None, fmt=fmt)
    report = run_import(db, SYSTEM, source, ImportOptions(overwrite=True))
    seconds = time.perf_counter() - started
    db.dispose()
    if report.failed:
        raise SystemExit(f"{report.failed} rows failed: {report.failures[:3]}")
    rows = report.created + report.updated
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu": _cpu_seconds() - cpu_started,
        "peak_mb": _peak_mb(),
    }


def step_read_xlsx(reader: str, path: str) -> dict[str, Any]:
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    rows = 0
    if reader == "calamine":
        from python_calamine import CalamineWorkbook

        for _row in CalamineWorkbook.from_path(path).get_sheet_by_index(0).iter_rows():
            rows += 1
    else:
        from clientbook.services.imports import xlsx

        for _row in xlsx.read_rows(Path(path)):
            rows += 1
    seconds = time.perf_counter() - started
    return {
        "rows": rows - 1,
        "seconds": seconds,
        "cpu": _cpu_seconds() - cpu_started,
        "peak_mb": _peak_mb(),
    }


def step_write_xlsx_openpyxl(db_path: str, target: str) -> dict[str, Any]:
    """The alternative XLSX writer, for the comparison the issue asks for: the same rows
    (`exports.export_batches`) through openpyxl's write-only workbook, text cells typed as
    strings as `exports.write_xlsx` types them. openpyxl is not a dependency: install it
    next to the venv (`uv pip install --target DIR openpyxl`, `PYTHONPATH=DIR`) to run this."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from clientbook.access import SYSTEM
    from clientbook.services import exports
    from clientbook.services.runtime import open_database
    from clientbook.services.transfer_format import EXPORT_COLUMNS, join_tags

    db = open_database(_settings(db_path))
    plan = exports.plan_export(SYSTEM, [], fmt="xlsx")
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("customers")
    sheet.append(list(EXPORT_COLUMNS))
    rows = 0
    with db.read() as conn:
        for batch in exports.export_batches(conn, SYSTEM, plan):
            for values in batch:
                cells = []
                for value in values:
                    if value.__class__ is list:
                        value = join_tags(value) if value else None
                    cell = WriteOnlyCell(sheet, value=value)
                    if value.__class__ is str:
                        cell.data_type = "s"  # a string, never a formula
                    cells.append(cell)
                sheet.append(cells)
                rows += 1
    workbook.save(target)
    seconds = time.perf_counter() - started
    db.dispose()
    return {"rows": rows, "seconds": seconds, "cpu": _cpu_seconds() - cpu_started,
            "peak_mb": _peak_mb()}  # fmt: skip


def _settings(db_path: str) -> Any:
    from clientbook.config import Settings

    return Settings(database_url=f"sqlite:///{db_path}")


# --- the driver ----------------------------------------------------------------------------------


def _line(what: str, result: dict[str, Any]) -> None:
    rate = result["rows"] / result["seconds"] if result["seconds"] else 0
    per_cpu = result["rows"] / result["cpu"] if result["cpu"] else 0
    print(
        f"{what:<24} {result['rows']:>10,} rows {result['seconds']:7.1f} s "
        f"{rate:>9,.0f} rows/s  ({per_cpu:>9,.0f} rows per CPU-second)  "
        f"peak RSS {result['peak_mb']:5.0f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--workdir", default=None, help="Keep files here (default: a temp dir).")
    parser.add_argument("--skip-import", action="store_true", help="Exports and reads only.")
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.step:
        steps = {
            "export": step_export,
            "import": step_import,
            "read_xlsx": step_read_xlsx,
            "write_xlsx_openpyxl": step_write_xlsx_openpyxl,
        }
        print(json.dumps(steps[args.step](*rest)))
        return

    work = Path(args.workdir or tempfile.mkdtemp(prefix="clientbook-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source_db = work / "source.sqlite3"
    print(f"load average before: {os.getloadavg()}; work dir {work}", flush=True)
    if not source_db.exists():
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "clientbook"),
                "demo",
                "--customers",
                str(args.customers),
            ],
            env=_env(source_db),
            check=True,
            capture_output=True,
        )
        print(f"demo data: {args.customers:,} customers in {time.perf_counter() - started:.0f} s")
    for fmt in args.formats.split(","):
        exported = work / f"customers.{fmt}"
        _line(f"export {fmt}", _child("export", str(source_db), fmt, str(exported)))
        target = work / f"import-{fmt}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        if not args.skip_import:
            imported = _child("import", str(target), fmt, str(exported), str(source_db))
            _line(f"import {fmt}", imported)
        target.unlink(missing_ok=True)
        if fmt == "xlsx":
            for reader in ("streaming", "calamine"):
                _line(f"read xlsx ({reader})", _child("read_xlsx", reader, str(exported)))
            if importlib.util.find_spec("openpyxl") is None:
                print("write xlsx (openpyxl): not installed, see step_write_xlsx_openpyxl")
            else:
                other = str(work / "customers-openpyxl.xlsx")
                _line("write xlsx (openpyxl)", _child("write_xlsx_openpyxl", str(source_db), other))
    print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
