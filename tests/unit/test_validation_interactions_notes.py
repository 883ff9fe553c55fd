"""SPEC §3 customer_interactions and customer_notes bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clientbook.domain.enums import INTERACTION_TYPES, NOTE_CATEGORIES
from clientbook.domain.errors import ValidationFailed
from clientbook.domain.interactions import validate_interaction
from clientbook.domain.notes import validate_note


def interaction_errors(data: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_interaction(data, **kwargs)
    return caught.value.fields


def note_errors(data: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_note(data, **kwargs)
    return caught.value.fields


def call(**fields: Any) -> dict[str, Any]:
    return {"type": "call", "subject": "Follow-up call", **fields}


# --- interactions ------------------------------------------------------------------------------


def test_interaction_defaults_to_now_and_shared() -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    values = validate_interaction(call())
    assert values["visibility"] == "shared"
    assert before <= values["occurredAt"] <= datetime.now(UTC)
    assert values["occurredAt"].microsecond % 1000 == 0
    assert values["direction"] is None and values["durationMinutes"] is None


@pytest.mark.parametrize("kind", INTERACTION_TYPES)
def test_every_interaction_type_is_accepted(kind: str) -> None:
    assert validate_interaction(call(type=kind))["type"] == kind


def test_interaction_type_and_subject_are_required() -> None:
    assert interaction_errors({}) == {"type": "is required", "subject": "is required"}


def test_interaction_rejects_unknown_type_direction_and_visibility() -> None:
    assert set(interaction_errors(call(type="fax", direction="up", visibility="secret"))) == {
        "type",
        "direction",
        "visibility",
    }


@pytest.mark.parametrize("direction", ["inbound", "outbound", None])
def test_interaction_direction_is_optional(direction: str | None) -> None:
    assert validate_interaction(call(direction=direction))["direction"] == direction


def test_subject_of_200_characters_is_accepted_and_201_rejected() -> None:
    assert validate_interaction(call(subject="s" * 200))["subject"] == "s" * 200
    assert interaction_errors(call(subject="s" * 201)) == {
        "subject": "must be at most 200 characters"
    }


def test_description_of_5000_characters_is_accepted_and_5001_rejected() -> None:
    assert validate_interaction(call(description="d" * 5000))["description"] == "d" * 5000
    assert interaction_errors(call(description="d" * 5001)) == {
        "description": "must be at most 5000 characters"
    }


def test_outcome_of_100_characters_is_accepted_and_101_rejected() -> None:
    assert validate_interaction(call(outcome="o" * 100))["outcome"] == "o" * 100
    assert interaction_errors(call(outcome="o" * 101)) == {
        "outcome": "must be at most 100 characters"
    }


@pytest.mark.parametrize("minutes", [0, 45, 1440])
def test_duration_between_0_and_1440_minutes_is_accepted(minutes: int) -> None:
    assert validate_interaction(call(durationMinutes=minutes))["durationMinutes"] == minutes


@pytest.mark.parametrize(
    ("minutes", "message"),
    [(-1, "must be at least 0"), (1441, "must be at most 1440"), (1.5, "must be an integer")],
)
def test_duration_outside_a_day_is_rejected(minutes: Any, message: str) -> None:
    assert interaction_errors(call(durationMinutes=minutes)) == {"durationMinutes": message}


def test_description_may_hold_newlines_but_subject_and_outcome_may_not() -> None:
    assert validate_interaction(call(description="a\n\tb"))["description"] == "a\n\tb"
    assert set(interaction_errors(call(subject="a\nb", outcome="a\tb"))) == {"subject", "outcome"}


def test_occurred_at_is_parsed_to_utc() -> None:
    values = validate_interaction(call(occurredAt="2025-01-15T17:30:00+08:00"))
    assert values["occurredAt"] == datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def test_occurred_at_cannot_be_cleared() -> None:
    assert interaction_errors(call(occurredAt=None)) == {"occurredAt": "is required"}


def test_customer_id_is_not_part_of_an_interaction_body() -> None:
    assert interaction_errors(call(customerId="cust_1")) == {"customerId": "unknown field"}


def test_interaction_patch_checks_only_the_keys_given() -> None:
    current = validate_interaction(call())
    assert validate_interaction({"outcome": "Interested"}, current=current) == {
        "outcome": "Interested"
    }


# --- notes -------------------------------------------------------------------------------------


def test_note_defaults() -> None:
    assert validate_note({"content": "Prefers WhatsApp"}) == {
        "content": "Prefers WhatsApp",
        "title": None,
        "category": "general",
        "isPinned": False,
        "visibility": "shared",
    }


def test_note_content_is_required() -> None:
    assert note_errors({"title": "x"}) == {"content": "is required"}
    assert note_errors({"content": "   "}) == {"content": "is required"}


def test_note_content_of_10000_characters_is_accepted_and_10001_rejected() -> None:
    assert validate_note({"content": "c" * 10000})["content"] == "c" * 10000
    assert note_errors({"content": "c" * 10001}) == {"content": "must be at most 10000 characters"}


def test_note_title_of_200_characters_is_accepted_and_201_rejected() -> None:
    assert validate_note({"content": "c", "title": "t" * 200})["title"] == "t" * 200
    assert note_errors({"content": "c", "title": "t" * 201}) == {
        "title": "must be at most 200 characters"
    }


@pytest.mark.parametrize("category", NOTE_CATEGORIES)
def test_every_note_category_is_accepted(category: str) -> None:
    assert validate_note({"content": "c", "category": category})["category"] == category


def test_note_rejects_unknown_category_and_visibility() -> None:
    assert set(note_errors({"content": "c", "category": "gossip", "visibility": "x"})) == {
        "category",
        "visibility",
    }


@pytest.mark.parametrize("value", [1, "true", None])
def test_is_pinned_must_be_a_boolean(value: Any) -> None:
    assert "isPinned" in note_errors({"content": "c", "isPinned": value})


def test_note_content_may_hold_newlines_but_the_title_may_not() -> None:
    assert validate_note({"content": "a\r\nb"})["content"] == "a\nb"
    assert note_errors({"content": "c", "title": "a\nb"}) == {
        "title": "must not contain control characters"
    }


def test_note_patch_checks_only_the_keys_given() -> None:
    current = validate_note({"content": "c"})
    assert validate_note({"isPinned": True}, current=current) == {"isPinned": True}


def test_every_failing_note_field_is_reported_at_once() -> None:
    assert set(
        note_errors({"title": "t" * 201, "category": "?", "isPinned": "y", "customerId": "c"})
    ) == {"title", "content", "category", "isPinned", "customerId"}
