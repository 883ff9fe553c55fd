"""Customer tags (SPEC §4): kept in `metadata.tags`, plus the seed's four tag helpers.

A tag is trimmed text of 1-50 characters; a list holds at most 50, de-duplicated without regard
to case (the first spelling and the order are kept). Filters and untagging compare `tag_key`s.
"""

from __future__ import annotations

from typing import Any

from clientbook.domain.errors import ValidationFailed
from clientbook.domain.fields import FieldError, clean_text, dump_json, stored_object

TAG_MAX_LENGTH = 50
TAGS_MAX_COUNT = 50
TAGS_FIELD = "metadata.tags"


def tag_key(tag: str) -> str:
    """The form tags are compared in: trimmed and case-folded."""
    return tag.strip().casefold()


def _clean_tag(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("must be a string")
    tag = clean_text(value, size=TAG_MAX_LENGTH)
    if tag is None:
        raise FieldError("must not be empty")
    return tag


def normalize_tags(tags: Any) -> list[str]:
    """The cleaned tag list, or ValidationFailed on `metadata.tags` naming every bad tag."""
    if not isinstance(tags, list | tuple):
        raise ValidationFailed({TAGS_FIELD: "must be a list of strings"})
    problems: list[str] = []
    seen: dict[str, str] = {}
    for position, value in enumerate(tags, start=1):
        try:
            tag = _clean_tag(value)
        except FieldError as exc:
            problems.append(f"tag {position} {exc.message}")
            continue
        seen.setdefault(tag_key(tag), tag)
    if len(seen) > TAGS_MAX_COUNT:
        problems.append(f"at most {TAGS_MAX_COUNT} tags are allowed")
    if problems:
        raise ValidationFailed({TAGS_FIELD: "; ".join(problems)})
    return list(seen.values())


# --- the seed's helpers (lib/customer-utils.ts), over the stored metadata JSON text -----------


def get_customer_tags(metadata: str | None) -> list[str]:
    """getCustomerTags: the tags of a metadata string ([] when there are none)."""
    tags = stored_object(metadata).get("tags")
    if not isinstance(tags, list):
        return []
    return [tag for tag in tags if isinstance(tag, str)]


def set_customer_tags(metadata: str | None, tags: list[str]) -> str:
    """setCustomerTags: the metadata string with `tags` (cleaned); other keys kept."""
    obj = stored_object(metadata)
    obj["tags"] = normalize_tags(tags)
    return dump_json(obj)


def add_customer_tag(metadata: str | None, tag: str) -> str:
    """addCustomerTag: appended unless present already (in any case)."""
    return set_customer_tags(metadata, [*get_customer_tags(metadata), tag])


def remove_customer_tag(metadata: str | None, tag: str) -> str:
    """removeCustomerTag: every tag equal to `tag` regardless of case removed."""
    key = tag_key(tag)
    kept = [t for t in get_customer_tags(metadata) if tag_key(t) != key]
    return set_customer_tags(metadata, kept)
