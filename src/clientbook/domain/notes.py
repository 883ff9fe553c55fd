"""Customer notes (SPEC §3): staff and owner notes about a customer, pinned or not.

Not to be confused with the customer's own `notes` attribute (a JSON object, customers.py).
`customerId` comes from the URL, never from the body, so it is not an accepted field here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from clientbook.domain.enums import NOTE_CATEGORIES, VISIBILITIES
from clientbook.domain.fields import Field, validate_record

NOTE_FIELDS: Mapping[str, Field] = MappingProxyType(
    {
        "title": Field("string", 200),
        "content": Field("string", 10000, required=True, multiline=True),
        "category": Field("enum", 20, required=True, default="general", values=NOTE_CATEGORIES),
        "isPinned": Field("bool", required=True, default=False),
        "visibility": Field("enum", 20, required=True, default="shared", values=VISIBILITIES),
    }
)


def validate_note(
    data: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Clean a note body; one ValidationFailed lists every failing field.

    Create (no `current`): `category` general, `isPinned` false and `visibility` shared unless
    given. Update: only the keys given are cleaned and returned.
    """
    return validate_record(NOTE_FIELDS, data, create=current is None)
