"""Plans of one page, and reading them: segment after segment until the page is full.

A plan's segments are disjoint and ordered (keyset ranges, relevance tiers), so a page is the
first rows of the first segments; a segment is only read when the ones before it ran out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select

from clientbook.query.ordering import Ordering
from clientbook.query.prepared import Prepared

PG_SEARCH_WINDOW = 500  # rows of the first window, and of every window at least
PG_WINDOW_MAX = 50_000
# Below this share of matching rows an index (the words table, or GIN) costs less than window
# scans. A window reads its rows' pages in order (~10 rows a page: ~1-2 µs a row on 1M rows,
# table mostly outside shared_buffers), the index path one page per remaining match (~10 µs),
# for every match at once: on 1M rows and a page of 25 they break even near 0.2% (measured
# with GIN, the dearer of the two).
PG_DENSE_MATCHES = 0.002


@dataclass(frozen=True)
class SegmentStatements:
    """One ordered statement (no LIMIT/OFFSET yet), and for a PostgreSQL search in `seq` order
    the `seq` range of the segment and a builder of the statement with the matches read from
    an index first (see `compiler._pg_search`), given the `seq` the rows must lie past (None:
    the whole segment)."""

    statement: Select[Any]
    seq_bounds: tuple[ColumnElement[bool], ...] = ()
    forced: Callable[[int | None], Select[Any]] | None = None
    seq_descending: bool = False
    seq: ColumnElement[Any] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # of a statement built once


class SegmentPlan:
    """One segment of a page: its relevance tier, and its statements, built when first used.
    A page is nearly always full before the last tiers are reached: a one-word search on
    PostgreSQL reads 1.5 of its 3 tiers on average, and building a tier's statements costs
    about as much Python as executing one."""

    __slots__ = ("_build", "_built", "tier")

    def __init__(self, tier: int | None, build: Callable[[], SegmentStatements]) -> None:
        self.tier = tier
        self._build = build
        self._built: SegmentStatements | None = None

    @property
    def statements(self) -> SegmentStatements:
        if self._built is None:
            self._built = self._build()
        return self._built

    @property
    def statement(self) -> Select[Any]:
        """The statement alone (to inspect it): to execute it, pass `statements.params` too."""
        return self.statements.statement


@dataclass(frozen=True)
class ListPlan:
    """The statements of one page, and of its total."""

    ordering: Ordering  # the requested order
    segments: tuple[SegmentPlan, ...]
    count: Select[Any] | None  # None without a total, or when `lead` reads it
    # A before cursor: the segments read the reversed order; the rows are turned back.
    reverse: bool = False
    # SQLite, a search under an explicit sort: counts matches up to DENSE_SEARCH, to choose
    # between reading the sort's index (many matches) and sorting the matches (few).
    probe: Select[Any] | None = None
    # PostgreSQL, a one-word search with its total: the total, whether any name is the query
    # exactly, and how many first words start with it, in one statement read first (its row
    # makes a `LeadCounts`; see `compiler.run_list`).
    lead: Prepared | None = None

    def led(self, counts: LeadCounts) -> ListPlan:
        """This plan without the tiers that `counts` shows to be empty."""
        return replace(self, segments=tuple(s for s in self.segments if counts.may_hold(s.tier)))


@dataclass(frozen=True)
class LeadCounts:
    """What a one-word search's lead statement tells (PostgreSQL): the total; whether some name
    is the query exactly (tier 0); how many records' first word starts with the word (tier 1
    and tier 0: a name that is the word starts with it). Tier 2 holds the other matches.

    An empty tier costs a statement that finds nothing, and finding nothing is the dearest
    read of a tier: `harun` matches 14,951 records and no first word, and its tier 1 read every
    first word starting `ha` (36,378 records) to find none, 3 ms of 4.5 for the whole search."""

    total: int
    named: bool
    first: int

    def may_hold(self, tier: int | None) -> bool:
        if tier == 0:
            return self.named
        if tier == 1:
            return self.first > 0
        if tier == 2:
            return self.total > self.first
        return True


@dataclass
class Page:
    """One page: rows as dicts of raw column names, the total when asked, and the cursors of
    the next and previous pages (None at either end)."""

    rows: list[dict[str, Any]]
    total: int | None
    next_cursor: str | None
    prev_cursor: str | None = None
    ordering: Ordering | None = field(default=None, repr=False)


# --- reading ---------------------------------------------------------------------------------


Read = list[tuple[dict[str, Any], int | None]]


def read_segments(conn: Connection, plan: ListPlan, offset: int, need: int) -> Read:
    """Read the segments in turn until `need` rows are in (after skipping `offset`)."""
    rows: Read = []
    for segment in plan.segments:
        wanted = need - len(rows)
        if wanted <= 0:
            break
        statements = segment.statements
        if statements.forced is not None and offset == 0:
            found = _read_windowed(conn, statements, wanted)
        else:
            found = _fetch(conn, statements.statement, offset, wanted, statements.params)
            if not found and offset:
                # This segment holds at most `offset` rows: skip them all and go on.
                offset -= _count(conn, statements.statement, statements.params)
                continue
            offset = 0
        rows.extend((row, segment.tier) for row in found)
    return rows


def _read_windowed(
    conn: Connection, segment: SegmentStatements, wanted: int
) -> list[dict[str, Any]]:
    """PostgreSQL search in `seq` order: scan windows of rows in `seq` order with the match as a
    filter while matches are dense enough to fill the page soon (each window sized from the
    hit rate so far); once they are sparse, read the rest from an index (`forced`)."""
    assert segment.forced is not None and segment.seq is not None
    seq, descending = segment.seq, segment.seq_descending
    order = seq.desc() if descending else seq.asc()
    found: list[dict[str, Any]] = []
    window = PG_SEARCH_WINDOW
    past: list[ColumnElement[bool]] = []
    scanned = hits = 0
    while True:
        edge_of = select(seq).where(*segment.seq_bounds, *past).order_by(order)
        edge = conn.execute(edge_of.offset(window - 1).limit(1)).scalar()
        inside = [] if edge is None else [seq >= edge if descending else seq <= edge]
        window_rows = segment.statement.where(*past, *inside)
        got = _fetch(conn, window_rows, 0, wanted - len(found), segment.params)
        found += got
        if len(found) >= wanted or edge is None:
            return found
        past = [seq < edge if descending else seq > edge]
        # The hit rate over every window so far: one small window is too few rows to judge by.
        scanned, hits = scanned + window, hits + len(got)
        rate, need = hits / scanned, wanted - len(found)
        if rate < PG_DENSE_MATCHES:
            return found + _fetch(conn, segment.forced(edge), 0, need)
        window = min(PG_WINDOW_MAX, max(PG_SEARCH_WINDOW, math.ceil(need / rate * 1.25)))


def _fetch(
    conn: Connection,
    statement: Select[Any],
    offset: int,
    limit: int,
    params: Mapping[str, Any] | None = None,
) -> list[dict]:
    if offset:
        statement = statement.offset(offset)
    result = conn.execute(statement.limit(limit), params)
    keys = list(result.keys())
    # `all()` fetches the page in one call; iterating fetched row by row (psycopg: 4% of a list).
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _count(conn: Connection, statement: Select[Any], params: Mapping[str, Any]) -> int:
    inner = statement.order_by(None).subquery()
    return int(conn.execute(select(func.count()).select_from(inner), params).scalar_one())
