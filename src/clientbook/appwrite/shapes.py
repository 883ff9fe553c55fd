"""What the SDKs' models expect (appwrite-compat §4): rows and documents, users, sessions.

SDK 27 validates every response with pydantic: `$sequence` must be a string, a user needs
`prefs` and a boolean `status`, a session every one of its string fields. Values come from the
services' own presenters (`$id`, ISO datetimes, every attribute), so only Appwrite's envelope is
added here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clientbook.appwrite.faces import Face
from clientbook.appwrite.queries import EVERYTHING, Selection
from clientbook.domain.timestamps import format_datetime

STAFF_LABEL = "super_admin"
_ACTIONS = ("read", "update", "delete")
_STAFF_PERMISSIONS = [f'{action}("label:{STAFF_LABEL}")' for action in _ACTIONS]


def permissions(owner_id: str | None) -> list[str]:
    """`$permissions`, derived (compat §3): the owner's read/update/delete, and staff's."""
    if owner_id is None:
        return list(_STAFF_PERMISSIONS)
    return [f'{action}("user:{owner_id}")' for action in _ACTIONS] + _STAFF_PERMISSIONS


def record(
    face: Face,
    container_id: str,
    database_id: str,
    row: Mapping[str, Any],
    presented: Mapping[str, Any],
    *,
    owner_id: str | None,
    selection: Selection = EVERYTHING,
) -> dict[str, Any]:
    """A row or document: Appwrite's `$` fields, then every (selected) attribute.

    `row` is the raw row (for `seq`), `presented` the service's public object of it."""
    out: dict[str, Any] = {
        "$id": presented["$id"],
        "$sequence": str(row["seq"]),
        face.container_key: container_id,
        "$databaseId": database_id,
        "$createdAt": presented["$createdAt"],
        "$updatedAt": presented["$updatedAt"],
        "$permissions": permissions(owner_id),
    }
    if selection.names is None:
        # Every attribute: one C-level update (the `$` keys already in `out` keep their place).
        out.update(presented)
        return out
    for name, value in presented.items():
        if name[0] != "$" and name in selection.names:
            out[name] = value
    return out


def _text(value: datetime | None) -> str:
    return format_datetime(value) or ""


def user(row: Mapping[str, Any]) -> dict[str, Any]:
    """An account as Appwrite's User model (never a password or hash)."""
    created = _text(row["createdAt"])
    return {
        "$id": row["id"],
        "$createdAt": created,
        "$updatedAt": _text(row["updatedAt"]),
        "name": row["name"] or "",
        "registration": created,
        # Appwrite's status is "not blocked"; an invited account is not blocked.
        "status": row["status"] != "blocked",
        "labels": [STAFF_LABEL] if row["role"] == STAFF_LABEL else [],
        "passwordUpdate": _text(row.get("passwordUpdatedAt")),
        "email": row["email"] or "",
        "phone": "",
        "emailVerification": False,
        "phoneVerification": False,
        "mfa": False,
        "prefs": {},
        "targets": [],
        "accessedAt": _text(row.get("lastLoginAt")),
    }


_SESSION_TEXT = (
    "providerUid", "providerAccessToken", "providerAccessTokenExpiry", "providerRefreshToken",
    "ip", "osCode", "osName", "osVersion", "clientType", "clientCode", "clientName",
    "clientVersion", "clientEngine", "clientEngineVersion", "deviceName", "deviceBrand",
    "deviceModel", "countryCode", "countryName", "mfaUpdatedAt",
)  # fmt: skip


def session(
    *,
    session_id: str,
    user_id: str,
    created_at: datetime | None,
    expires_at: datetime,
    current: bool,
    secret: str = "",
) -> dict[str, Any]:
    """A session as Appwrite's Session model; `secret` is "" unless it may be shown (§3)."""
    created = _text(created_at)
    return {
        "$id": session_id,
        "$createdAt": created,
        "$updatedAt": created,
        "userId": user_id,
        "expire": _text(expires_at),
        "provider": "email",
        **dict.fromkeys(_SESSION_TEXT, ""),
        "current": current,
        "factors": ["password"],
        "secret": secret,
    }
