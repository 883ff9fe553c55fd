"""The console's customers table, its bulk actions, home and statistics pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from clientbook.db.engine import Database
from clientbook.domain.timestamps import utcnow
from tests.factories import make_customer, make_staff, make_user
from tests.web.conftest import Pages, field_errors

_ROW_NAME = re.compile(r'<th scope="row"><a href="/admin/customers/[^"]+">([^<]+)</a></th>')


def names(html: str) -> list[str]:
    """The customer names of the table, in order."""
    return _ROW_NAME.findall(html)


def ticked(html: str) -> set[str]:
    """The ids of the rows whose checkbox is ticked."""
    return set(re.findall(r'<input type="checkbox" name="ids" value="([^"]+)"[^>]* checked', html))


def ids_of(html: str) -> list[str]:
    return re.findall(r'name="ids" value="([^"]+)"', html)


@pytest.fixture
def staff(pages: Pages) -> dict[str, Any]:
    user = make_staff(pages.db, name="Rita Rep")
    pages.sign_in(user)
    return user


def _three(db: Database) -> list[dict[str, Any]]:
    return [
        make_customer(
            db, name="Alice Tan", company="Acme, Inc.", status="lead", country="Malaysia"
        ),
        make_customer(
            db, name="Bob Lim", company="Borneo Oil", status="active", country="Singapore"
        ),
        make_customer(
            db, name="Chen Wei", status="prospect", country="Malaysia", source="referral"
        ),
    ]


def test_the_table_lists_newest_first_with_the_total(pages: Pages, staff: dict[str, Any]) -> None:
    _three(pages.db)
    page = pages.get("/admin/customers")
    assert page.status_code == 200
    assert names(page.text) == ["Chen Wei", "Bob Lim", "Alice Tan"]
    assert "3 records" in page.text
    assert 'aria-current="page"' in page.text


def test_only_staff_see_the_table(pages: Pages) -> None:
    pages.sign_in(make_user(pages.db))
    assert pages.get("/admin/customers").status_code == 403
    pages.sign_out()
    response = pages.get("/admin/customers", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


def test_sorting_by_a_column_and_turning_it(pages: Pages, staff: dict[str, Any]) -> None:
    _three(pages.db)
    ascending = pages.get("/admin/customers?sort=name")
    assert names(ascending.text) == ["Alice Tan", "Bob Lim", "Chen Wei"]
    assert re.search(r'aria-sort="ascending">\s*<a href="[^"]*sort=-name', ascending.text)
    descending = pages.get("/admin/customers?sort=-name")
    assert names(descending.text) == ["Chen Wei", "Bob Lim", "Alice Tan"]
    assert 'aria-sort="descending"' in descending.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=lead", ["Alice Tan"]),
        ("country=Malaysia&sort=name", ["Alice Tan", "Chen Wei"]),
        ("company=Acme, Inc.", ["Alice Tan"]),  # taken whole, comma included
        ("source=referral", ["Chen Wei"]),
        ("q=borneo", ["Bob Lim"]),
        ("q=tan", ["Alice Tan"]),
    ],
)
def test_filters_and_search_use_the_api_rules(
    pages: Pages, staff: dict[str, Any], query: str, expected: list[str]
) -> None:
    _three(pages.db)
    page = pages.get(f"/admin/customers?{query}")
    assert page.status_code == 200
    assert names(page.text) == expected
    # A filtered list is not counted unless asked: the count walks every match.
    assert "Count all matches" in page.text
    counted = pages.get(f"/admin/customers?{query}&count=1")
    assert f"{len(expected)} record" in counted.text


def test_assigned_rep_filter_and_unassigned(pages: Pages, staff: dict[str, Any]) -> None:
    alice, _bob, _chen = _three(pages.db)
    other = make_staff(pages.db, name="Omar Other")
    pages.post_form(
        "/admin/customers/bulk",
        {"action": "assign", "assignedTo": other["id"], "ids": [alice["id"]]},
    )
    assert names(pages.get(f"/admin/customers?assignedTo={other['id']}").text) == ["Alice Tan"]
    unassigned = pages.get("/admin/customers?assignedTo=none&sort=name")
    assert names(unassigned.text) == ["Bob Lim", "Chen Wei"]
    assert "Omar Other" in pages.get("/admin/customers").text  # the rep's name in the row


def test_follow_up_due_filter_matches_the_statistics(pages: Pages, staff: dict[str, Any]) -> None:
    now = utcnow()
    make_customer(pages.db, name="Late", nextFollowUpAt=(now - timedelta(days=2)).isoformat())
    make_customer(
        pages.db, name="Late archived", status="archived",
        nextFollowUpAt=(now - timedelta(days=2)).isoformat(),
    )  # fmt: skip
    make_customer(pages.db, name="Soon", nextFollowUpAt=(now + timedelta(minutes=1)).isoformat())
    make_customer(pages.db, name="Far", nextFollowUpAt=(now + timedelta(days=30)).isoformat())
    assert names(pages.get("/admin/customers?due=overdue").text) == ["Late"]
    week = names(pages.get("/admin/customers?due=week").text)
    assert "Soon" in week and "Far" not in week and "Late" not in week
    # Soonest first unless another order is asked for.
    week_page = pages.get("/admin/customers?due=week").text
    assert re.search(r'aria-sort="ascending">\s*<a href="[^"]*">Next follow-up', week_page)
    home = pages.get("/admin")
    assert re.search(r'due=overdue[^"]*"><span class="figure-value">1<', home.text)


def test_a_bad_filter_is_shown_next_to_it(pages: Pages, staff: dict[str, Any]) -> None:
    _three(pages.db)
    page = pages.get("/admin/customers?status=bogus")
    assert page.status_code == 400
    assert "status" in field_errors(page.text)
    assert names(page.text) == []
    assert pages.get("/admin/customers?limit=7").status_code == 400


@pytest.mark.parametrize(
    ("query", "reason", "fixed"),
    [
        (
            "sort=bogus&status=lead",
            "`bogus` is not a field of customers",
            "/admin/customers?status=lead",
        ),
        ("cursor=garbage&sort=name", "malformed cursor", "/admin/customers?sort=name"),
    ],
)
def test_a_bad_sort_or_cursor_from_a_link_says_why(
    pages: Pages, staff: dict[str, Any], query: str, reason: str, fixed: str
) -> None:
    """The form has no input for these, so the reason is told with the results, not marked."""
    _three(pages.db)
    page = pages.get(f"/admin/customers?{query}")
    assert page.status_code == 400
    assert reason in page.text
    assert f'href="{fixed.replace("&", "&amp;")}"' in page.text
    assert "correct the filters marked above" not in page.text


def test_keyset_pages_forward_and_back(pages: Pages, staff: dict[str, Any]) -> None:
    owner_names = [f"Person {n:02d}" for n in range(30)]
    for name in owner_names:
        make_customer(pages.db, name=name)
    first = pages.get("/admin/customers?sort=name")
    assert names(first.text) == owner_names[:25]
    assert 'rel="prev"' not in first.text
    next_link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert next_link
    second = pages.get(next_link.group(1).replace("&amp;", "&"))
    assert names(second.text) == owner_names[25:]
    assert 'rel="next"' not in second.text
    back = re.search(r'href="([^"]+)" rel="prev"', second.text)
    assert back
    assert names(pages.get(back.group(1).replace("&amp;", "&")).text) == owner_names[:25]
    assert len(names(pages.get("/admin/customers?sort=name&limit=50").text)) == 30


def test_the_fragment_is_only_the_results(pages: Pages, staff: dict[str, Any]) -> None:
    _three(pages.db)
    fragment = pages.get("/admin/customers?q=chen", headers={"X-Requested-With": "fetch"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<form" not in fragment.text
    assert names(fragment.text) == ["Chen Wei"]
    assert names(pages.get("/admin/customers?q=chen&fragment=rows").text) == ["Chen Wei"]


# --- bulk actions ------------------------------------------------------------------------------


def test_bulk_status_with_reason_and_the_result(pages: Pages, staff: dict[str, Any]) -> None:
    alice, _bob, chen = _three(pages.db)
    response = pages.post_form(
        "/admin/customers/bulk",
        {
            "action": "status", "status": "archived", "reason": "closed",
            "ids": [alice["id"], chen["id"]], "return": "sort=name&status=lead",
        },
    )  # fmt: skip
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/admin/customers?")
    assert "sort=name" in location and "status=lead" in location
    after = pages.get(location)
    assert "2 of 2 selected records changed." in after.text
    archived = pages.get("/admin/customers?status=archived&sort=name")
    assert names(archived.text) == ["Alice Tan", "Chen Wei"]
    record = pages.get(f"/api/customers/{alice['id']}").json()
    assert record["metadata"] is not None and "closed" in record["metadata"]


def test_bulk_assign_tag_untag_unassign(pages: Pages, staff: dict[str, Any]) -> None:
    alice, bob, _chen = _three(pages.db)
    ids = [alice["id"], bob["id"]]
    pages.post_form(
        "/admin/customers/bulk", {"action": "assign", "assignedTo": staff["id"], "ids": ids}
    )
    assert names(pages.get(f"/admin/customers?assignedTo={staff['id']}&sort=name").text) == [
        "Alice Tan",
        "Bob Lim",
    ]
    pages.post_form("/admin/customers/bulk", {"action": "tag", "tags": "vip, hot", "ids": ids})
    assert names(pages.get("/admin/customers?tag=hot&sort=name").text) == ["Alice Tan", "Bob Lim"]
    pages.post_form("/admin/customers/bulk", {"action": "untag", "tags": "HOT", "ids": [bob["id"]]})
    assert names(pages.get("/admin/customers?tag=hot").text) == ["Alice Tan"]
    pages.post_form("/admin/customers/bulk", {"action": "unassign", "ids": ids})
    assert names(pages.get(f"/admin/customers?assignedTo={staff['id']}").text) == []


def test_bulk_problems_are_shown_and_nothing_changes(pages: Pages, staff: dict[str, Any]) -> None:
    alice, _bob, _chen = _three(pages.db)
    nothing = pages.post_form("/admin/customers/bulk", {"action": "status", "status": "active"})
    assert nothing.status_code == 422
    assert "Select at least one record" in nothing.text
    customer_user = make_user(pages.db)
    refused = pages.post_form(
        "/admin/customers/bulk",
        {"action": "assign", "assignedTo": customer_user["id"], "ids": [alice["id"]]},
    )
    assert refused.status_code == 422
    assert "must be an active staff user" in refused.text
    no_tags = pages.post_form(
        "/admin/customers/bulk", {"action": "tag", "tags": " , ", "ids": [alice["id"]]}
    )
    assert no_tags.status_code == 422
    assert names(pages.get(f"/admin/customers?assignedTo={customer_user['id']}").text) == []


def test_bulk_problems_keep_the_selected_rows_ticked(pages: Pages, staff: dict[str, Any]) -> None:
    make_customer(pages.db, name="Dina Ali", status="inactive")
    eve = make_customer(pages.db, name="Eve Ong", status="inactive")
    fay = make_customer(pages.db, name="Fay Goh", status="inactive")
    tag = "t" * 60
    failed = pages.post_form(
        "/admin/customers/bulk",
        {"action": "tag", "tags": tag, "ids": [eve["id"], fay["id"]], "return": "status=inactive"},
    )
    assert failed.status_code == 422
    assert "tag 1 must be at most 50 characters" in failed.text
    assert f'value="{tag}"' in failed.text
    assert set(names(failed.text)) == {"Dina Ali", "Eve Ong", "Fay Goh"}
    assert ticked(failed.text) == {eve["id"], fay["id"]}
    assert '<span data-selected-count aria-live="polite">2</span>' in failed.text
    assert ticked(pages.get("/admin/customers?status=inactive").text) == set()


def test_bulk_delete_asks_first_without_javascript(pages: Pages, staff: dict[str, Any]) -> None:
    alice, bob, _chen = _three(pages.db)
    ask = pages.post_form(
        "/admin/customers/bulk", {"action": "delete", "ids": [alice["id"], bob["id"]]}
    )
    assert ask.status_code == 200
    assert "Delete 2 selected records?" in ask.text
    assert names(pages.get("/admin/customers").text) == ["Chen Wei", "Bob Lim", "Alice Tan"]
    done = pages.post_form(
        "/admin/customers/bulk",
        {"action": "delete", "confirmed": "1", "ids": [alice["id"], bob["id"]]},
    )
    assert done.status_code == 303
    assert "Deleted 2 of 2 selected records." in pages.get(done.headers["location"]).text
    assert names(pages.get("/admin/customers").text) == ["Chen Wei"]


def test_bulk_export_is_a_csv_of_the_selected(pages: Pages, staff: dict[str, Any]) -> None:
    alice, _bob, chen = _three(pages.db)
    response = pages.post_form(
        "/admin/customers/bulk", {"action": "export", "ids": [alice["id"], chen["id"]]}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    body = response.text
    assert "Alice Tan" in body and "Chen Wei" in body and "Bob Lim" not in body
    empty = pages.post_form("/admin/customers/bulk", {"action": "export"})
    assert empty.status_code == 422  # never "everything" by accident


def test_bulk_needs_the_form_token(pages: Pages, staff: dict[str, Any]) -> None:
    alice, _bob, _chen = _three(pages.db)
    response = pages.post(
        "/admin/customers/bulk", data={"action": "delete", "confirmed": "1", "ids": alice["id"]}
    )
    assert response.status_code == 403
    assert len(names(pages.get("/admin/customers").text)) == 3


# --- home and statistics --------------------------------------------------------------------


def test_home_shows_figures_and_charts_with_their_numbers(
    pages: Pages, staff: dict[str, Any]
) -> None:
    _three(pages.db)
    home = pages.get("/admin")
    assert home.status_code == 200
    images = re.findall(
        r'<img src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="([^"]+)"', home.text
    )
    assert len(images) == 3
    assert any(alt.startswith("Status funnel: Lead 1, Prospect 1, Active 1") for alt in images)
    assert "<script>" not in home.text and 'style="' not in home.text
    assert re.search(r'<th scope="row">Lead</th><td class="num">1</td>', home.text)


def test_statistics_page_has_every_chart(pages: Pages, staff: dict[str, Any]) -> None:
    _three(pages.db)
    make_customer(pages.db, name="Dina", state="Selangor")
    make_customer(pages.db, name="Eli", state="Selangor")
    make_customer(pages.db, name="Fay", state="Johor")
    page = pages.get("/admin/stats")
    assert page.status_code == 200
    alts = re.findall(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="([^"]+)"', page.text)
    titles = [alt.split(":")[0] for alt in alts]
    assert titles == [
        "Status funnel",
        "New records per month",
        "Records by source",
        "Records by state",
        "Follow-ups due",
    ]
    assert "Records by state: Selangor 2, Johor 1, Not given 3" in page.text


def test_charts_load_nothing_and_run_nothing() -> None:
    import base64

    from clientbook.web.console.charts import chart

    drawn = chart("bar", "T", ("a", "b"), (1, 2))
    svg = base64.b64decode(drawn.image.split(",", 1)[1])
    assert b"<script" not in svg
    assert b"http://" not in svg.replace(b"http://www.w3.org/", b"") and b"https://" not in svg


def test_pages_in_malay(pages: Pages, staff: dict[str, Any]) -> None:
    _three(pages.db)
    pages.cookies.set("clientbook_language", "ms")
    table = pages.get("/admin/customers")
    assert "Pelanggan" in table.text and "Prospek" in table.text
    assert "Corong status" in pages.get("/admin").text
