"""Customer interactions (SPEC §3): calls, emails, meetings, ... logged against a customer.

`customerId` comes from the URL, never from the body, so it is not an accepted field here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from clientbook.domain.enums import INTERACTION_DIRECTIONS, INTERACTION_TYPES, VISIBILITIES
from clientbook.domain.fields import Field, validate_record
from clientbook.domain.timestamps import utcnow

MAX_DURATION_MINUTES = 1440  # one day

INTERACTION_FIELDS: Mapping[str, Field] = MappingProxyType(
    {
        "type": Field("enum", 20, required=True, values=INTERACTION_TYPES),
        "direction": Field("enum", 20, values=INTERACTION_DIRECTIONS),
        "subject": Field("string", 200, required=True),
        "description": Field("string", 5000, multiline=True),
        "occurredAt": Field("datetime", required=True, default_factory=utcnow),
        "durationMinutes": Field("int", minimum=0, maximum=MAX_DURATION_MINUTES),
        "outcome": Field("string", 100),
        "visibility": Field("enum", 20, required=True, default="shared", values=VISIBILITIES),
    }
)


def validate_interaction(
    data: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Clean an interaction body; one ValidationFailed lists every failing field.

    Create (no `current`): absent fields take their defaults (`occurredAt` now, `visibility`
    shared). Update: only the keys given are cleaned and returned.
    """
    return validate_record(INTERACTION_FIELDS, data, create=current is None)
