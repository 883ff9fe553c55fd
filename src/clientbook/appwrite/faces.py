"""The two faces of the same data: TablesDB (rows) and the older Databases (documents)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Face:
    """What differs between the rows and documents APIs: names only, never behaviour."""

    record: str  # "row" | "document": error types `row_not_found`, ...
    container: str  # "table" | "collection": `table_not_found`, ...
    id_key: str  # the create body's id: "rowId" | "documentId"
    container_key: str  # "$tableId" | "$collectionId"
    list_key: str  # "rows" | "documents"


ROWS = Face("row", "table", "rowId", "$tableId", "rows")
DOCUMENTS = Face("document", "collection", "documentId", "$collectionId", "documents")
