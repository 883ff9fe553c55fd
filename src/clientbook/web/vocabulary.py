"""The closed vocabularies (SPEC §3 enums) as people read them, in the page's language.

    options(CUSTOMER_TYPES)  →  [("individual", "Individual"), ("company", "Company"), ...]

In templates: `label_of(value)` for one value, `options_of(values)` for a select's options.
"""

from __future__ import annotations

from collections.abc import Iterable

from clientbook.web.i18n import N_, gettext

LABELS: dict[str, str] = {
    # customer status
    "active": N_("Active"),
    "inactive": N_("Inactive"),
    "lead": N_("Lead"),
    "prospect": N_("Prospect"),
    "archived": N_("Archived"),
    # customer type
    "individual": N_("Individual"),
    "company": N_("Company"),
    "non-profit": N_("Non-profit"),
    "government": N_("Government"),
    # source
    "website": N_("Website"),
    "referral": N_("Referral"),
    "social_media": N_("Social media"),
    "advertising": N_("Advertising"),
    "trade_show": N_("Trade show"),
    "cold_call": N_("Cold call"),
    "email_campaign": N_("Email campaign"),
    "other": N_("Other"),
    # languages name themselves
    "en": "English",
    "ms": "Bahasa Melayu",
    # interactions
    "call": N_("Call"),
    "email": N_("Email"),
    "meeting": N_("Meeting"),
    "sms": N_("SMS"),
    "chat": N_("Chat"),
    "visit": N_("Visit"),
    "support": N_("Support"),
    "inbound": N_("Inbound"),
    "outbound": N_("Outbound"),
    "shared": N_("Shared with the customer"),
    "internal": N_("Internal (staff only)"),
    # note categories
    "general": N_("General"),
    "preference": N_("Preference"),
    "important": N_("Important"),
    "follow_up": N_("Follow-up"),
    # accounts
    "user": N_("Customer (user)"),
    "super_admin": N_("Staff (super admin)"),
    "invited": N_("Invited"),
    "blocked": N_("Blocked"),
    # what happened to a record (audit actions on its timeline)
    "customer.created": N_("Record created"),
    "customer.updated": N_("Details changed"),
    "customer.status_changed": N_("Status changed"),
    "customer.assigned": N_("Assignment changed"),
    "customer.contacted": N_("Contact recorded"),
    "customer.tagged": N_("Tags changed"),
    "customer.deleted": N_("Record deleted"),
    "import.completed": N_("Imported"),
}


# The customer record's attributes as forms and timelines name them (the `metadata` of a
# change is its tags; `notes.<key>` are the texts of the record's notes object).
FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "customerType": N_("Customer type"),
    "company": N_("Company"),
    "jobTitle": N_("Job title"),
    "industry": N_("Industry"),
    "website": N_("Website"),
    "address": N_("Address"),
    "city": N_("City"),
    "state": N_("State"),
    "zipCode": N_("Postcode"),
    "country": N_("Country"),
    "source": N_("Source"),
    "totalRevenue": N_("Total revenue"),
    "totalInvoices": N_("Invoices"),
    "lastContactAt": N_("Last contact (UTC)"),
    "nextFollowUpAt": N_("Next follow-up (UTC)"),
    "language": N_("Language"),
    "currency": N_("Currency"),
    "timezone": N_("Time zone"),
    "notes.general": N_("General notes"),
    "notes.preferences": N_("Preferences"),
    "notes.importantInfo": N_("Important information"),
    "status": N_("Status"),
    "assignedTo": N_("Assigned to"),
    "metadata": N_("Tags"),
}


def field_label(name: str) -> str:
    text = FIELD_LABELS.get(name)
    return name if text is None else gettext(text)


def label(value: str | None) -> str:
    if value is None:
        return ""
    text = LABELS.get(value)
    return value if text is None else gettext(text)


def options(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, label(value)) for value in values]
