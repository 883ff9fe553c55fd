"""Customer imports (SPEC §8): readers per format, column mapping, the engine, the report.

    source = open_source(path, filename="customers.csv", fmt=None)
    report = run_import(db, principal, source, ImportOptions(overwrite=True), import_id=job_id)

`run_import` opens the one transaction an import is; `import_jobs` runs big ones in the
background.
"""

from clientbook.services.imports.engine import prepare_source, run_import, source_columns
from clientbook.services.imports.readers import ImportFormat, Source, open_source, parse_format
from clientbook.services.imports.report import ImportOptions, ImportReport, RowFailure

__all__ = [
    "ImportFormat",
    "ImportOptions",
    "ImportReport",
    "RowFailure",
    "Source",
    "open_source",
    "parse_format",
    "prepare_source",
    "run_import",
    "source_columns",
]
