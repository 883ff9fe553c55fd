"""Generating one demo customer, its owner account and its activity, as API bodies.

Pure and deterministic: everything is drawn from the `random.Random` passed in, and from the
customer's position `index` among `total` (which fixes its creation time and makes its email
unique). Nothing here validates or writes: `demo.build_chunk` runs every body through the
domain validators, exactly as the API would.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate
from random import Random
from typing import Any, Generic, NamedTuple, TypeVar

from clientbook.services import demo_vocabulary as vocab
from clientbook.services.demo_vocabulary import Place

T = TypeVar("T")
Body = dict[str, Any]

HISTORY = timedelta(days=730)  # creation dates spread over the two years before `as_of`
_HISTORY_MILLIS = int(HISTORY.total_seconds() * 1000)


class Weighted(Generic[T]):
    """A weighted choice drawn with one `random()` call (rng.choices is several times slower)."""

    __slots__ = ("cumulative", "total", "values")

    def __init__(self, pairs: Sequence[tuple[T, int]]) -> None:
        self.values = [value for value, _ in pairs]
        self.cumulative = list(accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: Random) -> T:
        return self.values[bisect(self.cumulative, rng.random() * self.total)]


STATUSES = Weighted(
    [("active", 62), ("lead", 12), ("prospect", 10), ("inactive", 10), ("archived", 6)]
)
TYPES = Weighted([("individual", 78), ("company", 17), ("non-profit", 3), ("government", 2)])
SOURCES = Weighted(
    [("website", 27), ("referral", 20), ("social_media", 18), ("advertising", 9),
     ("trade_show", 5), ("cold_call", 5), ("email_campaign", 8), ("other", 3), (None, 5)]
)  # fmt: skip
COUNTRIES = Weighted([("Malaysia", 90), ("Singapore", 6), ("Indonesia", 4)])
ETHNICITY_MY = Weighted([("malay", 52), ("chinese", 28), ("indian", 10), ("other", 10)])
PLACES = {
    "Malaysia": Weighted([(p, p.weight) for p in vocab.MALAYSIA]),
    "Singapore": Weighted([(p, p.weight) for p in vocab.SINGAPORE]),
    "Indonesia": Weighted([(p, p.weight) for p in vocab.INDONESIA]),
}
CURRENCY = {"Malaysia": "MYR", "Singapore": "SGD", "Indonesia": "IDR"}
TIMEZONE = {"Malaysia": "Asia/Kuala_Lumpur", "Singapore": "Asia/Singapore",
            "Indonesia": "Asia/Jakarta"}  # fmt: skip
INDUSTRIES = Weighted(list(vocab.INDUSTRIES))
SUFFIXES = Weighted([s for s in vocab.COMPANY_SUFFIXES if s[1] > 0])
DOMAINS = Weighted(list(vocab.PERSONAL_DOMAINS))
TAGS = Weighted(list(vocab.TAGS))
REPS = Weighted(list(zip(range(len(vocab.STAFF)), vocab.STAFF_WEIGHTS, strict=True)))
INTERACTION_TYPES = Weighted(list(vocab.INTERACTION_TYPES))
NOTE_CATEGORIES = Weighted(list(vocab.NOTE_CATEGORIES))
# Leads and prospects are chased; archived records are not.
FOLLOW_UP_SHARE = {"lead": 0.7, "prospect": 0.75, "active": 0.25, "inactive": 0.1, "archived": 0}
REVENUE_SHARE = {"active": 0.6, "inactive": 0.4, "archived": 0.3, "prospect": 0.05, "lead": 0.0}
ACTIVITY_SHARE = 0.10  # customers with logged interactions and notes


class Person(NamedTuple):  # a tuple: built ~10 times faster than a frozen dataclass
    name: str
    given: str  # for the email address
    family: str  # "" when the name is a given name alone
    malay: bool  # language leans to `ms`


@dataclass
class DemoCustomer:
    """One generated customer: the owner account body, the record body and its activity."""

    index: int
    created_at: datetime
    user: Body
    customer: Body
    created_by_rep: int | None  # None: the owner created the record (self-service)
    updated_by_rep: int | None
    updated_at: datetime
    interactions: list[Body] = field(default_factory=list)
    notes: list[Body] = field(default_factory=list)
    # Per interaction, then per note: the rep who logged it and when.
    item_reps: list[int] = field(default_factory=list)
    item_times: list[datetime] = field(default_factory=list)


# --- people ----------------------------------------------------------------------------------


def _choice(rng: Random, values: Sequence[T]) -> T:
    return values[int(rng.random() * len(values))]


def _malay(rng: Random) -> Person:
    male = rng.random() < 0.5
    given = _choice(rng, vocab.MALAY_MALE if male else vocab.MALAY_FEMALE)
    father = _choice(rng, vocab.MALAY_FATHER)
    if rng.random() < 0.75:
        return Person(f"{given} {'bin' if male else 'binti'} {father}", given, father, True)
    return Person(given, given, "", True)


def _chinese(rng: Random) -> Person:
    male = rng.random() < 0.5
    family = _choice(rng, vocab.CHINESE_FAMILY)
    given = _choice(rng, vocab.CHINESE_MALE if male else vocab.CHINESE_FEMALE)
    if rng.random() < 0.25:
        english = _choice(rng, vocab.ENGLISH_MALE if male else vocab.ENGLISH_FEMALE)
        return Person(f"{english} {family} {given}", english, family, False)
    return Person(f"{family} {given}", given, family, False)


def _indian(rng: Random) -> Person:
    male = rng.random() < 0.5
    given = _choice(rng, vocab.INDIAN_MALE if male else vocab.INDIAN_FEMALE)
    father = _choice(rng, vocab.INDIAN_FATHER)
    if rng.random() < 0.6:
        return Person(f"{given} {'a/l' if male else 'a/p'} {father}", given, father, False)
    return Person(f"{given} {father}", given, father, False)


def _other(rng: Random) -> Person:
    given = _choice(rng, vocab.OTHER_GIVEN)
    family = _choice(rng, vocab.OTHER_FAMILY)
    return Person(f"{given} {family}", given, family, False)


def _indonesian(rng: Random) -> Person:
    given = _choice(rng, vocab.INDONESIAN_GIVEN)
    family = _choice(rng, vocab.INDONESIAN_FAMILY)
    return Person(f"{given} {family}", given, family, True)


_PEOPLE = {"malay": _malay, "chinese": _chinese, "indian": _indian, "other": _other}


def person(rng: Random, country: str) -> Person:
    if country == "Indonesia":
        return _indonesian(rng)
    if country == "Singapore":
        return _chinese(rng) if rng.random() < 0.7 else _PEOPLE[ETHNICITY_MY.pick(rng)](rng)
    return _PEOPLE[ETHNICITY_MY.pick(rng)](rng)


@cache
def slug(text: str) -> str:
    """ASCII letters of a name for addresses: "José" → "jose", "D'Cruz" → "dcruz"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def email_for(p: Person, index: int, domain: str, rng: Random) -> str:
    """A name-based address made unique by the customer's position (letters never end in a
    digit, so the trailing number alone tells two addresses apart)."""
    given, family = slug(p.given), slug(p.family)
    pattern = int(rng.random() * 4)
    if not family:
        return f"{given}{index + 1}@{domain}"
    local = (f"{given}.{family}", f"{given}{family}", f"{family}.{given}", f"{given[0]}{family}")
    return f"{local[pattern]}{index + 1}@{domain}"


# --- places, phones, organisations -----------------------------------------------------------


def address(rng: Random, place: Place) -> str:
    template = _choice(rng, vocab.HOUSE_FORMATS)
    return template.format(
        n=1 + int(rng.random() * 250),
        f=1 + int(rng.random() * 30),
        street=_choice(rng, place.streets),
        tower=_choice(rng, vocab.TOWERS),
    )


def zip_code(rng: Random, country: str, place: Place) -> str:
    low, high = place.postcodes
    code = low + int(rng.random() * (high - low))
    return f"{code:06d}" if country == "Singapore" else f"{code:05d}"


def _digits(rng: Random, count: int) -> str:
    return f"{int(rng.random() * 10**count):0{count}d}"


# Digits that may follow each prefix in phonenumbers' metadata, so numbers come out valid
# (apart from the few typed too short on purpose): mobile "01X", landline area codes.
_MOBILE_NEXT = {"12": "0123456789", "13": "123456789", "14": "235679", "16": "0123456789",
                "17": "123456789", "18": "236", "19": "0123456789", "11": "12345"}  # fmt: skip
_MOBILE_PREFIXES = tuple(_MOBILE_NEXT)
_LANDLINE_NEXT = {"04": "345679", "05": "3468", "06": "46", "07": "2579", "09": "2567"}
_KL_NEXT = ("21", "22", "23", "26", "27", "28", "30", "31", "40", "41", "42", "55", "56", "61",
            "62", "77", "78", "79", "80", "81", "89", "90", "91", "92")  # fmt: skip
_SG_MOBILE = ("81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93", "94",
              "95", "96", "97", "98")  # fmt: skip


def _my_mobile(rng: Random) -> str:
    """A Malaysian mobile number, written in one of the ways people type them."""
    prefix = _choice(rng, _MOBILE_PREFIXES)
    digits = _choice(rng, _MOBILE_NEXT[prefix]) + _digits(rng, 7 if prefix == "11" else 6)
    head, tail = digits[:-4], digits[-4:]
    style = int(rng.random() * 6)
    if style == 0:
        return f"+60 {prefix}-{head} {tail}"
    if style == 1:
        return f"0{prefix}-{head}{tail}"
    if style == 2:
        return f"0{prefix}-{head} {tail}"
    if style == 3:
        return f"+60{prefix}{head}{tail}"
    if style == 4:
        return f"0{prefix}{head}{tail}"
    return f"(0{prefix}) {head} {tail}"


def _my_landline(rng: Random, area: str) -> str:
    if area == "03":
        return f"03-{_choice(rng, _KL_NEXT)}{_digits(rng, 2)} {_digits(rng, 4)}"
    return f"{area}-{_choice(rng, _LANDLINE_NEXT[area])}{_digits(rng, 2)} {_digits(rng, 4)}"


def phone(rng: Random, country: str, place: Place, organisation: bool) -> str | None:
    """Mostly valid numbers in varied formats; ~6% none, ~0.5% typed too short (flagged)."""
    roll = rng.random()
    if roll < 0.06:
        return None
    if roll < 0.065:
        return f"0{_choice(rng, ('12', '16', '19'))}-{_digits(rng, 3)}"
    if country == "Singapore":
        return f"+65 {_choice(rng, _SG_MOBILE)}{_digits(rng, 2)} {_digits(rng, 4)}"
    if country == "Indonesia":
        return f"+62 8{_choice(rng, '125')}{_digits(rng, 1)}-{_digits(rng, 4)}-{_digits(rng, 4)}"
    if organisation and place.area and rng.random() < 0.6:
        return _my_landline(rng, place.area)
    return _my_mobile(rng)


def company_name(rng: Random, customer_type: str, place: Place, country: str) -> str:
    stem = _choice(rng, vocab.COMPANY_STEMS)
    if customer_type == "non-profit":
        return _choice(rng, vocab.NON_PROFITS).format(city=place.city, stem=stem)
    if customer_type == "government":
        state = place.state or place.city
        return _choice(rng, vocab.GOVERNMENT).format(city=place.city, state=state)
    trade = _choice(rng, vocab.COMPANY_TRADES)
    suffix = {"Singapore": "Pte Ltd", "Indonesia": "PT"}.get(country) or SUFFIXES.pick(rng)
    if suffix == "PT":
        return f"PT {stem} {trade}"
    return f"{stem} {trade} {suffix}"


def company_domain(company: str) -> str:
    """The demo web domain of an organisation: its first words, under `.example`."""
    words = [slug(w) for w in company.split()[:3] if w not in ("PT", "&")]
    return "".join(words)[:40] + ".example"


# --- dates -----------------------------------------------------------------------------------


def created_at(index: int, total: int, as_of: datetime, rng: Random) -> datetime:
    """Creation times rise with `index` over HISTORY, so `seq` order is creation order."""
    slot = _HISTORY_MILLIS / max(total, 1)
    millis = int(slot * index + slot * 0.9 * rng.random())
    return as_of - HISTORY + timedelta(milliseconds=millis)


def between(rng: Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def follow_up(rng: Random, status: str, created: datetime, as_of: datetime) -> datetime | None:
    """About a third of follow-ups are overdue; the rest fall in the next 60 days."""
    if rng.random() >= FOLLOW_UP_SHARE[status]:
        return None
    if rng.random() < 0.33:
        return between(rng, max(created, as_of - timedelta(days=60)), as_of)
    return as_of + timedelta(days=60) * rng.random() + timedelta(hours=1)


# --- JSON attributes -------------------------------------------------------------------------


def metadata(rng: Random, organisation: bool) -> dict[str, Any] | None:
    """Tags on ~30% of records, custom fields on some."""
    out: dict[str, Any] = {}
    if rng.random() < 0.30:
        count = 1 + int(rng.random() * 3)
        out["tags"] = list(dict.fromkeys(TAGS.pick(rng) for _ in range(count)))
    if rng.random() < 0.12:
        custom: dict[str, Any] = {"preferredContact": _choice(rng, vocab.PREFERRED_CONTACT)}
        if rng.random() < 0.5:
            custom["loyaltyTier"] = _choice(rng, vocab.LOYALTY_TIERS)
        if organisation and rng.random() < 0.5:
            custom["ssmNumber"] = f"20{_digits(rng, 2)}01{_digits(rng, 6)}"
        out["customFields"] = custom
    return out or None


def notes_attribute(rng: Random) -> dict[str, Any] | None:
    """The record's own `notes` JSON (the seed's CustomerNotes) on ~20% of records."""
    if rng.random() >= 0.20:
        return None
    out: dict[str, Any] = {"general": _choice(rng, vocab.NOTES_GENERAL)}
    if rng.random() < 0.5:
        out["preferences"] = _choice(rng, vocab.NOTES_PREFERENCES)
    if rng.random() < 0.2:
        out["importantInfo"] = _choice(rng, vocab.NOTES_IMPORTANT)
    return out


# --- activity --------------------------------------------------------------------------------


def interaction(rng: Random, created: datetime, as_of: datetime) -> Body:
    kind = INTERACTION_TYPES.pick(rng)
    body: Body = {
        "type": kind,
        "direction": "inbound" if rng.random() < 0.4 else "outbound",
        "subject": _choice(rng, vocab.INTERACTION_SUBJECTS[kind]),
        "occurredAt": between(rng, created, as_of),
        "outcome": _choice(rng, vocab.INTERACTION_OUTCOMES),
        "visibility": "internal" if rng.random() < 0.3 else "shared",
    }
    if kind in ("call", "meeting", "visit", "support"):
        body["durationMinutes"] = 5 + int(rng.random() * (115 if kind != "call" else 25))
    if rng.random() < 0.4:
        body["description"] = f"{body['subject']}. Outcome: {body['outcome'].lower()}."
    return body


def note(rng: Random) -> Body:
    category = NOTE_CATEGORIES.pick(rng)
    body: Body = {
        "content": _choice(rng, vocab.NOTE_TEXTS[category]),
        "category": category,
        "isPinned": rng.random() < 0.15,
        "visibility": "internal" if rng.random() < 0.6 else "shared",
    }
    if rng.random() < 0.6:
        body["title"] = category.replace("_", " ").capitalize()
    return body


def _activity(rng: Random, demo: DemoCustomer, as_of: datetime, rep: int) -> None:
    """Interactions (1-5) and notes (0-3) for ~10% of customers, by their rep mostly."""
    if rng.random() >= ACTIVITY_SHARE:
        return
    for _ in range(1 + int(rng.random() * 5)):
        body = interaction(rng, demo.created_at, as_of)
        demo.interactions.append(body)
        logged = body["occurredAt"] + timedelta(minutes=5 + 120 * rng.random())
        demo.item_times.append(min(logged, as_of))
        demo.item_reps.append(rep if rng.random() < 0.8 else REPS.pick(rng))
    for _ in range(int(rng.random() * 4)):
        demo.notes.append(note(rng))
        demo.item_times.append(between(rng, demo.created_at, as_of))
        demo.item_reps.append(rep if rng.random() < 0.8 else REPS.pick(rng))
    # The seed: logging an interaction moves lastContactAt to the later of the two.
    latest = max(body["occurredAt"] for body in demo.interactions)
    current = demo.customer.get("lastContactAt")
    demo.customer["lastContactAt"] = latest if current is None else max(current, latest)


# --- one customer ----------------------------------------------------------------------------


def _organisation_fields(
    rng: Random, body: Body, customer_type: str, place: Place, country: str
) -> str | None:
    """Company, website and industry; returns the organisation's email domain, if any."""
    organisation = customer_type != "individual"
    if organisation or rng.random() < 0.35:
        body["company"] = company_name(rng, "company" if not organisation else customer_type,
                                       place, country)  # fmt: skip
    if organisation or rng.random() < 0.55:
        industry = INDUSTRIES.pick(rng)
        body["industry"] = "Public Sector" if customer_type == "government" else industry
    if organisation or rng.random() < 0.6:
        body["jobTitle"] = _choice(rng, vocab.JOB_TITLES)
    if not organisation:
        return None
    domain = company_domain(body["company"])
    if rng.random() < 0.7:
        body["website"] = f"https://www.{domain}"
    return domain if rng.random() < 0.6 else None


def _money(rng: Random, body: Body, status: str, organisation: bool, country: str) -> None:
    if rng.random() < REVENUE_SHARE[status]:
        amount = rng.lognormvariate(7.5, 1.2) * (5 if organisation else 1)
        body["totalRevenue"] = round(amount, 2)
    currency = CURRENCY[country]
    if organisation and rng.random() < 0.05:
        currency = "USD"
    if currency != "MYR":  # MYR is the default: most bodies leave it out, as clients do
        body["currency"] = currency


def customer(
    rng: Random, index: int, total: int, as_of: datetime, *, user_id: str, reps: Sequence[str]
) -> DemoCustomer:
    """Generate customer number `index` of `total`; `reps` are the staff user ids."""
    created = created_at(index, total, as_of, rng)
    country = COUNTRIES.pick(rng)
    place = PLACES[country].pick(rng)
    who = person(rng, country)
    customer_type = TYPES.pick(rng)
    status = STATUSES.pick(rng)
    organisation = customer_type != "individual"
    body: Body = {"userId": user_id, "name": who.name, "status": status,
                  "customerType": customer_type, "country": country}  # fmt: skip
    domain = _organisation_fields(rng, body, customer_type, place, country)
    body["email"] = email_for(who, index, domain or DOMAINS.pick(rng), rng)
    number = phone(rng, country, place, organisation)
    if number is not None:
        body["phone"] = number
    if rng.random() < 0.8:
        body["address"] = address(rng, place)
        body["zipCode"] = zip_code(rng, country, place)
    body["city"] = place.city
    if place.state is not None:
        body["state"] = place.state
    source = SOURCES.pick(rng)
    if source is not None:
        body["source"] = source
    if who.malay and rng.random() < 0.6:
        body["language"] = "ms"
    if rng.random() < 0.85:
        body["timezone"] = TIMEZONE[country]
    _money(rng, body, status, organisation, country)
    _contact_dates(rng, body, status, created, as_of)
    rep = REPS.pick(rng)
    if status != "lead" or rng.random() < 0.4:
        body["assignedTo"] = reps[rep]
    for key, value in (("metadata", metadata(rng, organisation)), ("notes", notes_attribute(rng))):
        if value is not None:
            body[key] = value
    # Owner accounts are `invited`: no password until the person activates it (SPEC §3).
    user = {"email": body["email"], "name": who.name, "role": "user", "status": "invited"}
    demo = _history(rng, index, created, as_of, body, user, rep)
    _activity(rng, demo, as_of, rep)
    return demo


def _contact_dates(
    rng: Random, body: Body, status: str, created: datetime, as_of: datetime
) -> None:
    if status != "lead" and rng.random() < 0.55:
        body["lastContactAt"] = between(rng, created, as_of)
    due = follow_up(rng, status, created, as_of)
    if due is not None:
        body["nextFollowUpAt"] = due


def _history(
    rng: Random, index: int, created: datetime, as_of: datetime, body: Body, user: Body, rep: int
) -> DemoCustomer:
    """Who created the record (the owner ~70%, else their rep) and whether it was edited."""
    created_by_rep = None if rng.random() < 0.7 else rep
    edited = rng.random() < 0.4
    return DemoCustomer(
        index=index,
        created_at=created,
        user=user,
        customer=body,
        created_by_rep=created_by_rep,
        updated_by_rep=rep if edited else None,
        updated_at=between(rng, created, as_of) if edited else created,
    )
