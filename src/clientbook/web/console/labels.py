"""The console's words for stored values (statuses, sources, types), in the page's language.

Functions, not constants: each call translates into the language of the page being drawn.
"""

from __future__ import annotations

from clientbook.web.i18n import gettext as _


def statuses() -> dict[str, str]:
    return {
        "active": _("Active"),
        "inactive": _("Inactive"),
        "lead": _("Lead"),
        "prospect": _("Prospect"),
        "archived": _("Archived"),
    }


def sources() -> dict[str, str]:
    return {
        "website": _("Website"),
        "referral": _("Referral"),
        "social_media": _("Social media"),
        "advertising": _("Advertising"),
        "trade_show": _("Trade show"),
        "cold_call": _("Cold call"),
        "email_campaign": _("Email campaign"),
        "other": _("Other"),
    }


def customer_types() -> dict[str, str]:
    return {
        "individual": _("Individual"),
        "company": _("Company"),
        "non-profit": _("Non-profit"),
        "government": _("Government"),
    }


def due_windows() -> dict[str, str]:
    return {"overdue": _("Overdue"), "today": _("Due today"), "week": _("Due this week")}
