"""The console's words for the follow-up windows; stored values (statuses, sources, types)
are `clientbook.web.vocabulary`'s. Functions, not constants: each call translates into the
language of the page being drawn.
"""

from __future__ import annotations

from clientbook.domain.enums import CUSTOMER_SOURCES, CUSTOMER_STATUSES, CUSTOMER_TYPES
from clientbook.web.i18n import gettext as _
from clientbook.web.vocabulary import options


def statuses() -> dict[str, str]:
    return dict(options(CUSTOMER_STATUSES))


def sources() -> dict[str, str]:
    return dict(options(CUSTOMER_SOURCES))


def customer_types() -> dict[str, str]:
    return dict(options(CUSTOMER_TYPES))


def due_windows() -> dict[str, str]:
    return {"overdue": _("Overdue"), "today": _("Due today"), "week": _("Due this week")}
