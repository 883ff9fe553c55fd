"""The closed vocabularies of the seed and of SPEC §3."""

from __future__ import annotations

CUSTOMER_STATUSES = ("active", "inactive", "lead", "prospect", "archived")
CUSTOMER_TYPES = ("individual", "company", "non-profit", "government")
CUSTOMER_SOURCES = (
    "website",
    "referral",
    "social_media",
    "advertising",
    "trade_show",
    "cold_call",
    "email_campaign",
    "other",
)
LANGUAGES = ("en", "ms")
# Customer types for which the seed makes `company` required.
ORGANISATION_TYPES = ("company", "non-profit", "government")

USER_ROLES = ("user", "super_admin")
USER_STATUSES = ("active", "invited", "blocked")

INTERACTION_TYPES = ("call", "email", "meeting", "sms", "chat", "visit", "support", "other")
INTERACTION_DIRECTIONS = ("inbound", "outbound")
VISIBILITIES = ("shared", "internal")
NOTE_CATEGORIES = ("general", "preference", "important", "follow_up", "other")

ACTOR_KINDS = ("user", "api_key", "system")
