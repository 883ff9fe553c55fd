"""HTTP clients that remember what the server acknowledged, and the check that it kept it.

Each writer owns its records (no two writers touch one record), and writes one request at a
time, so the last acknowledged answer for a record is what the record must hold after a crash:
exactly (same version, same body), or one version later when a request for it was in flight
when the server died (that write may or may not have been applied). A request without an
answer is never counted as acknowledged.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from benchmarks.reliability.harness import Canaries

STATUSES = ("active", "inactive", "lead", "prospect", "archived")
TAGS = ("vip", "wholesale", "newsletter", "late-payer", "partner", "Ünïcode")
TRANSPORT_ERRORS = (httpx.TransportError,)


def version_of(response: httpx.Response) -> int:
    """The record version in an ETag `"<id>.<version>"`."""
    return int(response.headers["ETag"].strip('"').rsplit(".", 1)[1])


@dataclass
class Acked:
    version: int
    body: dict[str, Any]


@dataclass
class Ledger:
    """What the server acknowledged, over any number of crashes."""

    customers: dict[str, Acked] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    in_flight: set[str] = field(default_factory=set)  # records with an unanswered request
    touched: set[str] = field(default_factory=set)  # records written since the last check
    acknowledged: int = 0
    unanswered: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    error_bodies: list[str] = field(default_factory=list)
    sequence: list[int] = field(default_factory=list)  # every answer's status, in order
    unknown_applied: int = 0  # unanswered (or 5xx) writes found applied after a restart

    def ack(self, response: httpx.Response) -> dict[str, Any]:
        body: dict[str, Any] = response.json()
        self.customers[body["$id"]] = Acked(version_of(response), body)
        self.touched.add(body["$id"])
        self.acknowledged += 1
        return body

    def answer(self, response: httpx.Response) -> bool:
        """Count an answer; keep error bodies (for the canary scan). True on 2xx."""
        self.answers[response.status_code] += 1
        self.sequence.append(response.status_code)
        if response.status_code >= 400:
            self.error_bodies.append(response.text[:2000])
        return response.is_success

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.answers.items() if status >= 500)


@dataclass
class Writer:
    """One client: staff (an API key) creating and changing its own customers, or a user
    changing their own record."""

    name: str
    headers: dict[str, str]
    staff: bool
    own: list[str] = field(default_factory=list)
    creates: int = 0


async def _send(
    http: httpx.AsyncClient,
    ledger: Ledger,
    method: str,
    url: str,
    writer: Writer,
    record: str | None,
    **kwargs: Any,
) -> httpx.Response:
    if record is not None:
        ledger.in_flight.add(record)
        ledger.touched.add(record)
    try:
        response = await http.request(method, url, headers=writer.headers, **kwargs)
    except TRANSPORT_ERRORS:
        ledger.unanswered += 1
        raise
    if record is not None and response.status_code < 500:
        # A 5xx leaves the outcome unknown (a commit whose fsync failed may still be in the
        # file): like a request without an answer, it may or may not have been applied.
        ledger.in_flight.discard(record)
    ledger.answer(response)
    return response


async def _staff_create(http: httpx.AsyncClient, ledger: Ledger, w: Writer, tag: str) -> None:
    w.creates += 1
    email = f"{tag}-{w.name}-{w.creates}@example.com"
    made = await _send(
        http,
        ledger,
        "POST",
        "/api/users",
        w,
        None,
        json={"email": email, "name": f"Owner {w.creates}"},
    )
    if not made.is_success:
        return
    user_id = made.json()["$id"]
    ledger.users.add(user_id)
    ledger.acknowledged += 1
    body = {"userId": user_id, "name": f"Customer {tag} {w.creates}", "email": email}
    response = await _send(http, ledger, "POST", "/api/customers", w, None, json=body)
    if response.is_success:
        w.own.append(ledger.ack(response)["$id"])


async def _change(http: httpx.AsyncClient, ledger: Ledger, w: Writer, rng: random.Random) -> None:
    record = rng.choice(w.own)
    kind = rng.random()
    if kind < 0.4 or (not w.staff and kind < 0.7):
        method, url = "PATCH", f"/api/customers/{record}"
        body: dict[str, Any] = {
            "company": f"Company {rng.randrange(10**6)}",
            "jobTitle": rng.choice(["Owner", "Buyer", None]),
            "notes": {"note": "x" * rng.randrange(0, 400)},
        }
    elif kind < 0.7:
        method, url = "PUT", f"/api/customers/{record}/status"
        body = {"status": rng.choice(STATUSES), "reason": f"reason {rng.randrange(1000)}"}
    else:
        method, url = "PUT", f"/api/customers/{record}/tags"
        body = {"tags": rng.sample(TAGS, rng.randrange(0, 4))}
    response = await _send(http, ledger, method, url, w, record, json=body)
    if response.is_success:
        ledger.ack(response)


async def run_writer(
    http: httpx.AsyncClient,
    ledger: Ledger,
    w: Writer,
    rng: random.Random,
    *,
    tag: str,
    stop: asyncio.Event,
) -> None:
    """Write until the server stops answering or `stop` is set."""
    try:
        while not stop.is_set():
            if w.staff and (not w.own or rng.random() < 0.25):
                await _staff_create(http, ledger, w, tag)
            elif not w.staff and not w.own:
                await _own_record(http, ledger, w)
            else:
                await _change(http, ledger, w, rng)
    except TRANSPORT_ERRORS:
        return


async def _own_record(http: httpx.AsyncClient, ledger: Ledger, w: Writer) -> None:
    """A user's record: found (it may have been created by a request that got no answer) or
    created."""
    found = await _send(http, ledger, "GET", "/api/customers/me", w, None)
    if found.is_success:
        ledger.ack(found)
        ledger.acknowledged -= 1  # a read, not a write
        w.own.append(found.json()["$id"])
        return
    response = await _send(
        http, ledger, "POST", "/api/customers", w, None, json={"name": f"Self {w.name}"}
    )
    if response.is_success:
        w.own.append(ledger.ack(response)["$id"])


async def login(http: httpx.AsyncClient, email: str, password: str, canaries: Canaries) -> str:
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    token: str = response.json()["token"]
    canaries.add(f"session token of {email}", token)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def verify(
    http: httpx.AsyncClient, ledger: Ledger, headers: dict[str, str], *, every: bool = False
) -> tuple[list[str], int]:
    """Compare what the server holds with what it acknowledged. Returns (problems, records
    checked). Records with an unanswered request adopt what the server holds."""
    problems: list[str] = []
    ids = sorted(ledger.customers) if every else sorted(ledger.touched & set(ledger.customers))
    semaphore = asyncio.Semaphore(16)

    async def check(record: str) -> None:
        async with semaphore:
            response = await http.get(f"/api/customers/{record}", headers=headers)
        acked = ledger.customers[record]
        if response.status_code == 404:
            problems.append(f"lost: customer {record} (acknowledged at version {acked.version})")
            return
        response.raise_for_status()
        version, body = version_of(response), response.json()
        if version == acked.version:
            if body != acked.body:
                problems.append(f"changed: customer {record} at version {version} differs")
        elif version == acked.version + 1 and record in ledger.in_flight:
            ledger.customers[record] = Acked(version, body)
            ledger.unknown_applied += 1
        else:
            problems.append(
                f"lost: customer {record} is at version {version}, acknowledged {acked.version}"
            )

    await asyncio.gather(*(check(record) for record in ids))
    if every:

        async def check_user(user_id: str) -> None:
            async with semaphore:
                response = await http.get(f"/api/users/{user_id}", headers=headers)
            if response.status_code != 200:
                problems.append(f"lost: account {user_id} ({response.status_code})")

        await asyncio.gather(*(check_user(user_id) for user_id in sorted(ledger.users)))
    ledger.in_flight.clear()
    ledger.touched.clear()
    return problems, len(ids)
