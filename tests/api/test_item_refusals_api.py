"""An owner's note or interaction body with several fields they may not send is refused once,
naming every one of them (docs/design.md "One 403 names every refused field"): a system field
such as `createdBy` and `visibility: internal` (SPEC §12) together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.factories import make_customer, make_user

if TYPE_CHECKING:
    from tests.api.conftest import Api

KINDS = {
    "notes": {"content": "c"},
    "interactions": {"type": "call", "subject": "s"},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        ({"visibility": "internal", "createdBy": "x"}, {"visibility", "createdBy"}),
        ({"visibility": " internal ", "$createdAt": "2020"}, {"visibility", "$createdAt"}),
        ({"visibility": "internal"}, {"visibility"}),
    ],
)
def test_an_owner_is_told_every_refused_field_at_once(
    api: Api, kind: str, extra: dict[str, Any], refused: set[str]
) -> None:
    owner = make_user(api.db)
    record = make_customer(api.db, owner=owner)
    headers = api.bearer(owner)
    items = f"/api/customers/{record['id']}/{kind}"
    created = api.post(items, json={**KINDS[kind], **extra}, headers=headers)
    assert created.status_code == 403, created.text
    assert set(created.json()["error"]["fields"]) == refused
    item = api.post(items, json=KINDS[kind], headers=headers).json()
    patched = api.patch(f"/api/{kind}/{item['$id']}", json=extra, headers=headers)
    assert patched.status_code == 403, patched.text
    assert set(patched.json()["error"]["fields"]) == refused
    listing = api.get(items, headers=api.staff_headers()).json()
    assert [row["visibility"] for row in listing["rows"]] == ["shared"]


@pytest.mark.parametrize("kind", KINDS)
def test_staff_sending_a_system_field_with_internal_is_refused_for_that_field_only(
    api: Api, kind: str
) -> None:
    record = make_customer(api.db)
    body = {**KINDS[kind], "visibility": "internal", "createdBy": "x"}
    url = f"/api/customers/{record['id']}/{kind}"
    response = api.post(url, json=body, headers=api.staff_headers())
    assert response.status_code == 403, response.text
    assert set(response.json()["error"]["fields"]) == {"createdBy"}
