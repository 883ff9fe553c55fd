"""SPEC §4 tags and the seed's four tag helpers (getCustomerTags and friends)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clientbook.domain.errors import ValidationFailed
from clientbook.domain.tags import (
    add_customer_tag,
    get_customer_tags,
    normalize_tags,
    remove_customer_tag,
    set_customer_tags,
    tag_key,
)


def tag_error(tags: Any) -> str:
    with pytest.raises(ValidationFailed) as caught:
        normalize_tags(tags)
    assert set(caught.value.fields) == {"metadata.tags"}
    return caught.value.fields["metadata.tags"]


def test_tags_are_trimmed() -> None:
    assert normalize_tags(["  vip ", "\tenterprise"]) == ["vip", "enterprise"]


def test_duplicates_are_dropped_regardless_of_case_keeping_the_first_spelling() -> None:
    assert normalize_tags(["VIP", "enterprise", "vip", "Vip ", "Enterprise"]) == [
        "VIP",
        "enterprise",
    ]


def test_tag_order_is_kept() -> None:
    assert normalize_tags(["b", "a", "c"]) == ["b", "a", "c"]


def test_a_tag_of_50_characters_is_accepted_and_51_rejected() -> None:
    assert normalize_tags(["t" * 50]) == ["t" * 50]
    assert tag_error(["ok", "t" * 51]) == "tag 2 must be at most 50 characters"


def test_an_empty_tag_is_rejected() -> None:
    assert tag_error(["ok", "   "]) == "tag 2 must not be empty"


def test_fifty_tags_are_accepted_and_fifty_one_rejected() -> None:
    fifty = [f"tag{i}" for i in range(50)]
    assert normalize_tags(fifty) == fifty
    assert tag_error([*fifty, "one more"]) == "at most 50 tags are allowed"


def test_the_tag_limit_counts_tags_after_removing_duplicates() -> None:
    tags = [f"tag{i}" for i in range(50)] + [f"TAG{i}" for i in range(10)]
    assert len(normalize_tags(tags)) == 50


@pytest.mark.parametrize("tags", ["vip", {"vip": True}, 3, None])
def test_tags_must_be_a_list(tags: Any) -> None:
    assert tag_error(tags) == "must be a list of strings"


def test_every_bad_tag_is_named() -> None:
    assert tag_error([1, "ok", "a\x00b"]) == (
        "tag 1 must be a string; tag 3 must not contain control characters"
    )


def test_tag_key_ignores_case_and_surrounding_spaces() -> None:
    assert tag_key(" VIP ") == tag_key("vip") == "vip"
    assert tag_key("Straße") == tag_key("STRASSE")


# --- the seed's helpers ----------------------------------------------------------------------


def test_get_customer_tags_reads_metadata_tags() -> None:
    assert get_customer_tags('{"tags":["vip","enterprise"],"x":1}') == ["vip", "enterprise"]


@pytest.mark.parametrize("metadata", [None, "", "{broken", "[]", '{"tags":"vip"}', '{"x":1}'])
def test_get_customer_tags_is_empty_when_there_are_none(metadata: str | None) -> None:
    assert get_customer_tags(metadata) == []


def test_set_customer_tags_keeps_the_other_metadata_keys() -> None:
    metadata = set_customer_tags('{"customFields":{"a":1},"tags":["old"]}', ["vip", " VIP", "new"])
    assert json.loads(metadata) == {"customFields": {"a": 1}, "tags": ["vip", "new"]}


def test_set_customer_tags_on_empty_metadata_creates_it() -> None:
    assert set_customer_tags(None, ["vip"]) == '{"tags":["vip"]}'


def test_set_customer_tags_rejects_bad_tags() -> None:
    with pytest.raises(ValidationFailed):
        set_customer_tags(None, [""])


def test_add_customer_tag_appends_a_new_tag() -> None:
    assert get_customer_tags(add_customer_tag('{"tags":["vip"]}', "priority")) == [
        "vip",
        "priority",
    ]


def test_add_customer_tag_ignores_a_tag_present_in_another_case() -> None:
    assert get_customer_tags(add_customer_tag('{"tags":["VIP"]}', "vip")) == ["VIP"]


def test_remove_customer_tag_is_case_insensitive_and_keeps_other_keys() -> None:
    metadata = remove_customer_tag('{"tags":["VIP","new"],"lastSyncAt":"x"}', " vip ")
    assert json.loads(metadata) == {"tags": ["new"], "lastSyncAt": "x"}


def test_remove_customer_tag_of_an_absent_tag_changes_nothing_else() -> None:
    assert json.loads(remove_customer_tag('{"tags":["a"]}', "b")) == {"tags": ["a"]}
