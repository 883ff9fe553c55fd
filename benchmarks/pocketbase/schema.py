"""The seed's `customers` collection as a PocketBase 0.40 collection, and how rows map onto it.

Attributes, sizes and required flags follow the seed's attribute table; the seed's relationships
(`userId`, `assignedTo`, `createdBy`, `updatedBy`) are text fields holding user ids, since the
benchmark loads no users into PocketBase. The 18 indexes are the seed's "Key Indexes", one
column each, with `createdAt` being PocketBase's `created` autodate field.
"""

from __future__ import annotations

from typing import Any

COLLECTION = "customers"

STATUSES = ["active", "inactive", "lead", "prospect", "archived"]
CUSTOMER_TYPES = ["individual", "company", "non-profit", "government"]
SOURCES = [
    "website",
    "referral",
    "social_media",
    "advertising",
    "trade_show",
    "cold_call",
    "email_campaign",
    "other",
]

# (name, max characters, required) of the seed's string attributes.
TEXT_FIELDS: list[tuple[str, int, bool]] = [
    ("userId", 36, True),
    ("name", 200, True),
    ("email", 255, False),
    ("phone", 50, False),
    ("company", 200, False),
    ("jobTitle", 100, False),
    ("address", 500, False),
    ("city", 100, False),
    ("state", 100, False),
    ("zipCode", 20, False),
    ("country", 100, False),
    ("website", 255, False),
    ("assignedTo", 36, False),
    ("industry", 100, False),
    ("currency", 3, False),
    ("language", 10, False),
    ("timezone", 50, False),
    ("notes", 5000, False),
    ("metadata", 5000, False),
    ("createdBy", 36, False),
    ("updatedBy", 36, False),
]
SELECT_FIELDS: list[tuple[str, list[str], bool]] = [
    ("status", STATUSES, True),
    ("source", SOURCES, False),
    ("customerType", CUSTOMER_TYPES, True),
]
DATE_FIELDS = ["lastContactAt", "nextFollowUpAt"]

# The seed's "Key Indexes", in its order: (column, descending?, unique?).
KEY_INDEXES: list[tuple[str, bool, bool]] = [
    ("userId", False, True),
    ("name", False, False),
    ("email", False, False),
    ("phone", False, False),
    ("company", False, False),
    ("status", False, False),
    ("assignedTo", False, False),
    ("source", False, False),
    ("industry", False, False),
    ("customerType", False, False),
    ("city", False, False),
    ("state", False, False),
    ("country", False, False),
    ("lastContactAt", True, False),
    ("nextFollowUpAt", False, False),
    ("totalRevenue", True, False),
    ("totalInvoices", True, False),
    ("created", True, False),
]

# Owners may touch their own record; superusers (the benchmark's token) bypass every rule.
OWNER_RULE = "@request.auth.id != '' && userId = @request.auth.id"


def _index_sql(column: str, descending: bool, unique: bool) -> str:
    kind = "UNIQUE INDEX" if unique else "INDEX"
    order = " DESC" if descending else ""
    return f"CREATE {kind} `idx_{COLLECTION}_{column}` ON `{COLLECTION}` (`{column}`{order})"


def collection_definition() -> dict[str, Any]:
    """The body of `POST /api/collections` that creates the collection."""
    fields: list[dict[str, Any]] = [
        # clientbook's ids are 20 lowercase hex characters: let the id field hold them, so that
        # both servers are asked for the very same records.
        {
            "name": "id",
            "type": "text",
            "primaryKey": True,
            "system": True,
            "required": True,
            "min": 15,
            "max": 20,
            "pattern": "^[a-z0-9]+$",
            "autogeneratePattern": "[a-z0-9]{15}",
        }
    ]
    fields += [
        {"name": name, "type": "text", "max": size, "required": required}
        for name, size, required in TEXT_FIELDS
    ]
    fields += [
        {"name": name, "type": "select", "values": values, "maxSelect": 1, "required": required}
        for name, values, required in SELECT_FIELDS
    ]
    fields += [{"name": name, "type": "date"} for name in DATE_FIELDS]
    fields += [
        {"name": "totalRevenue", "type": "number", "min": 0},
        {"name": "totalInvoices", "type": "number", "min": 0, "onlyInt": True},
        {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
    ]
    return {
        "name": COLLECTION,
        "type": "base",
        "listRule": OWNER_RULE,
        "viewRule": OWNER_RULE,
        "createRule": OWNER_RULE,
        "updateRule": OWNER_RULE,
        "deleteRule": OWNER_RULE,
        "fields": fields,
        "indexes": [_index_sql(*index) for index in KEY_INDEXES],
    }


def _pb_datetime(column: str) -> str:
    """clientbook's `2025-01-15T09:30:00.000+00:00` as PocketBase's `2025-01-15 09:30:00.000Z`
    (PocketBase keeps datetimes as UTC text and an empty string for "no value")."""
    quoted = f'src."{column}"'
    return (
        f"CASE WHEN {quoted} IS NULL THEN '' "
        f"ELSE replace(substr({quoted}, 1, 23), 'T', ' ') || 'Z' END"
    )


def copy_rows_sql(source_schema: str = "src") -> str:
    """One `INSERT … SELECT` from clientbook's customers table (attached as `src`) into
    PocketBase's; PocketBase's columns are NOT NULL with '' or 0 for "no value"."""
    targets: list[str] = ["id", "created", "updated"]
    values: list[str] = ["src.id", _pb_datetime("createdAt"), _pb_datetime("updatedAt")]
    for name, _size, _required in TEXT_FIELDS:
        targets.append(name)
        values.append(f"coalesce(src.\"{name}\", '')")
    for name, _values, _required in SELECT_FIELDS:
        targets.append(name)
        values.append(f"coalesce(src.\"{name}\", '')")
    for name in DATE_FIELDS:
        targets.append(name)
        values.append(_pb_datetime(name))
    for name in ("totalRevenue", "totalInvoices"):
        targets.append(name)
        values.append(f'coalesce(src."{name}", 0)')
    columns = ", ".join(f"`{name}`" for name in targets)
    return (
        f"INSERT INTO `{COLLECTION}` ({columns}) SELECT {', '.join(values)} "
        f"FROM {source_schema}.customers AS src ORDER BY src.seq"
    )
