"""What an import did (SPEC §8): counts, and every field error of every failed row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

# Counts are always exact; the per-row list stops here so that a file of a million bad rows
# cannot fill the memory (or the job's stored report).
MAX_LISTED_FAILURES: Final = 10_000
ROW_NUMBERING: Final = "1-based data rows: the header row of a CSV or XLSX file is not counted"


@dataclass(frozen=True)
class ImportOptions:
    """`overwrite` updates matched records; `skip_errors` imports the valid rows and reports the
    rest (else all rows or none); `dry_run` validates and reports, writing nothing."""

    format: str | None = None
    overwrite: bool = False
    skip_errors: bool = False
    dry_run: bool = False
    sheet: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "overwrite": self.overwrite,
            "skipErrors": self.skip_errors,
            "dryRun": self.dry_run,
            "sheet": self.sheet,
        }


@dataclass
class RowFailure:
    row: int
    errors: dict[str, str]


@dataclass
class ImportReport:
    import_id: str
    format: str
    options: ImportOptions
    total_rows: int = 0
    processed_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    failures: list[RowFailure] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    # True once the changes are committed; False for a dry run or a rolled-back import.
    applied: bool = False
    # A failed all-or-nothing import: what its valid rows would have done (`roll_back`).
    would_have: tuple[int, int] | None = None
    # {field: the file's column} where they differ (`id` for `$id`): errors name the column.
    column_names: dict[str, str] = field(default_factory=dict)

    def fail(self, row: int, errors: dict[str, str]) -> None:
        self.failed += 1
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append(RowFailure(row, self._as_columns(errors)))

    def _as_columns(self, errors: dict[str, str]) -> dict[str, str]:
        """The errors named by the file's columns (`metadata.tags` by its column's name too)."""
        names = self.column_names
        if not names:
            return dict(errors)
        named: dict[str, str] = {}
        for key, message in errors.items():
            head, dot, rest = key.partition(".")
            named[names.get(head, head) + dot + rest] = message
        return named

    def roll_back(self) -> None:
        """A failed all-or-nothing import wrote nothing, and its counts say so: created and
        updated are 0; what its valid rows would have done (imported with skipErrors) is kept
        apart, as `withSkipErrors`."""
        self.would_have = (self.created, self.updated)
        self.created = self.updated = 0

    @property
    def skipped(self) -> int:
        """Rows skipped because they would change nothing (`unchanged`); failed rows are
        counted apart, in `failed`."""
        return self.unchanged

    def to_json(self) -> dict[str, Any]:
        return {
            "importId": self.import_id,
            "format": self.format,
            "dryRun": self.options.dry_run,
            "overwrite": self.options.overwrite,
            "skipErrors": self.options.skip_errors,
            "applied": self.applied,
            "totalRows": self.total_rows,
            "processedRows": self.processed_rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "withSkipErrors": None
            if self.would_have is None
            else {"created": self.would_have[0], "updated": self.would_have[1]},
            "rowNumbering": ROW_NUMBERING,
            "failures": [{"row": f.row, "errors": f.errors} for f in self.failures],
            "failuresTruncated": self.failed > len(self.failures),
            "ignoredColumns": self.ignored_columns,
        }
