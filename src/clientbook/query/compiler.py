"""The one compiler: a `ListQuery` for a `Resource` to SQLAlchemy Core, and running it.

`build_list` returns a `ListPlan`: the page as one or more ordered statements (keyset segments,
relevance tiers — see `keyset.py` and `search.py`) read in turn until the page is full, and the
count statement when `total` is asked for. `run_list` executes it and returns a `Page` of plain
dicts keyed by raw column names (`id`, `seq`, `createdAt`, ...), which the serialisers map.

`scope` is what the principal may see (STYLE: access control is a query filter): a `Filter`
of the query model (preferred — it also pins `needs` fields such as an interaction's
`customerId`) or a SQL predicate on the resource's table.

Search plans, by backend, when the list is ordered by relevance or `seq` (the common case):

* SQLite: the FTS5 table drives (`customers JOIN customers_fts ... ORDER BY customers_fts.rowid`),
  so rows stream from the index in creation order and reading stops after one page. The
  composable form `seq IN (SELECT rowid ...)` materialises every match first (13 ms for a common
  surname in 1M rows against 0.1 ms), so it is used only inside OR/NOT and under an explicit sort.
* PostgreSQL: a GIN index cannot return rows in `seq` order, and the planner's estimates for
  prefix queries are blind (any rare prefix is estimated at ~3,000 rows), so left alone it
  walks the primary key testing every row. A one-word search takes a tier's candidates from
  `customer_words` (migration 0006), whose index gives the records with a word starting with
  a prefix of three characters or more in `seq` order: joined on `seq`, each row is tested as
  it comes and reading stops after one page (tier 1 streams the first-word marker `^w`).
  Shorter words, and searches of several words, read windows in `seq` order with the match as
  a filter while matches are dense, then every remaining match (`seq = ANY(ARRAY(SELECT
  ...))`) from that index for one word, through the GIN index for several (a GIN bitmap
  intersects them without reading every record of each) — see `reading.py`. Rows are tested
  against the stored `searchVector`, never `to_tsvector` (~8 µs a row); tiers 1 and 2 add the
  first-word marker, or its negation. A one-word search alone is counted on the words' counts
  (`search.prefix_count`); any other search counts its matches' rows.

Under an explicit sort the match is evaluated first and the rows sorted (cost grows with the
number of matches); on SQLite, with 20,000 matches or more, the sort's index is walked instead.
The same holds for equality filters under a sort on another column: see `walking.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    FromClause,
    Integer,
    Select,
    Table,
    any_,
    case,
    false,
    func,
    literal,
    select,
    true,
)

from clientbook.domain.errors import BadQuery
from clientbook.query import cursor as cursors
from clientbook.query import walking
from clientbook.query.fields import Resource
from clientbook.query.keyset import Bound, Segment, segments
from clientbook.query.model import (
    MATCH_ALL,
    Condition,
    Cursor,
    Filter,
    Group,
    ListQuery,
    Op,
    conjoin,
)
from clientbook.query.ordering import Key, Ordering, ordering_for
from clientbook.query.predicates import check_query, compile_filter
from clientbook.query.prepared import Prepared
from clientbook.query.reading import (
    LeadCounts,
    ListPlan,
    Page,
    SegmentPlan,
    SegmentStatements,
    read_segments,
)
from clientbook.query.search import (
    FTS_TABLE,
    SearchTerms,
    fts_all,
    fts_match,
    fts_rowids,
    fts_starts,
    matches,
    name_variants,
    one_word_lead,
    one_word_stream,
    one_word_stream_params,
    parse_terms,
    prefix_count,
    stream_prefix,
    ts_match,
    tsquery_starts,
    words_seqs,
    words_stream,
)

Scope = Filter | ColumnElement[bool] | None
# Matches from which walking a sort's index beats sorting the matches (SQLite, measured on 1M
# rows: q=tan, 157,000 matches, by name: 42 ms against 500 ms; 9,000 matches: 68 against 25).
DENSE_SEARCH = 20_000


# --- building -------------------------------------------------------------------------------


def build_list(
    resource: Resource,
    query: ListQuery,
    *,
    scope: Scope = None,
    dialect: str,
    dense_search: bool = False,
    dense_filter: bool = False,
) -> ListPlan:
    """Compile `query` (checked against `resource`) into the statements of one page.

    `dense_search` (SQLite, search under an explicit sort): the search has many matches, so read
    the sort's index and test each row against the matches rather than sort every match;
    `run_list` decides it with `ListPlan.probe`. `dense_filter` (SQLite): the filters match
    many rows, so read the sort's index and test each row (see `walking.py`); `run_list`
    decides it with `walking.dense`."""
    scope_filter = scope if isinstance(scope, Condition | Group) else None
    check_query(resource, query, scope_filter)
    ordering = ordering_for(resource, query)
    position = _position(ordering, query.cursor)
    reverse = query.cursor is not None and query.cursor.before
    reading = ordering.reversed() if reverse else ordering
    builder = _Builder(resource, query, scope, dialect, reading, dense_search, dense_filter)
    plans = tuple(builder.segment(s) for s in segments(reading, position))
    lead = builder.lead() if query.with_total else None
    count = builder.count() if query.with_total and lead is None else None
    return ListPlan(ordering, plans, count, reverse, builder.probe(), lead)


def _position(ordering: Ordering, cursor: Cursor | None) -> tuple[Any, ...] | None:
    if cursor is None:
        return None
    if cursor.fingerprint != ordering.fingerprint:
        message = "this cursor belongs to a different sort order or search"
        raise BadQuery(message, fields={"cursor": message})
    return (*cursor.values, cursor.seq) if ordering.keys[-1].is_seq else cursor.values


class _Builder:
    """Builds the statements of one query; holds what every segment shares."""

    def __init__(
        self,
        resource: Resource,
        query: ListQuery,
        scope: Scope,
        dialect: str,
        reading: Ordering,
        dense: bool,
        dense_filter: bool = False,
    ) -> None:
        self.dense = dense
        self.resource = resource
        self.table = resource.table
        self.dialect = dialect
        self.reading = reading
        residual, search_tokens = _split_search(query.where)
        self.terms: SearchTerms | None = reading.terms
        searched = bool(query.search and query.search.strip())
        query_tokens = parse_terms(query.search).tokens if searched and query.search else ()
        self.tokens = tuple(dict.fromkeys(query_tokens + search_tokens))
        # Tokens beyond the ranked query's own (from `search` conditions): tier 0 checks them.
        self.extra_tokens = tuple(t for t in search_tokens if t not in query_tokens)
        self.filters: list[ColumnElement[bool]] = []
        if residual is not None:
            self.filters.append(compile_filter(resource, residual, dialect))
        if isinstance(scope, Condition | Group):
            self.filters.append(compile_filter(resource, scope, dialect))
        elif scope is not None:
            self.filters.append(scope)
        self.nothing = searched and not query_tokens
        if self.nothing:
            # A search of only punctuation: matches no row (not every row).
            self.filters.append(false())
        self.searching = bool(self.tokens)
        self.streams = self.searching and reading.by_seq_only
        # What the page's rows are read with; the count keeps `filters` (on their indexes).
        self.row_filters = self.filters
        if dense_filter and not self.searching and residual is not None:
            self._walk(residual, walking.candidates(resource, residual, reading))

    def _walk(self, residual: Filter, walked: tuple[Condition, ...]) -> None:
        """Read the rows with `residual` (filters[0]) again: the `walked` conditions out of
        their indexes' reach, the others (on a composite index in the sort's order) as they
        are."""
        resource, dialect = self.resource, self.dialect
        if walked:
            items = residual.items if isinstance(residual, Group) else (residual,)
            kept = [compile_filter(resource, i, dialect) for i in items if i not in walked]
            self.row_filters = [
                *(walking.walked(resource, c) for c in walked),
                *kept,
                *self.filters[1:],
            ]

    # Statement pieces.

    def seq_expr(self, from_fts: bool) -> ColumnElement[Any]:
        return FTS_TABLE.c.rowid if from_fts else self.table.c.seq

    def key_expr(self, key: Key, seq: ColumnElement[Any]) -> ColumnElement[Any]:
        return seq if key.is_seq else self.resource.fields[key.name].expr

    def order_by(self, seq: ColumnElement[Any]) -> list[ColumnElement[Any]]:
        clauses: list[ColumnElement[Any]] = []
        for key in self.reading.keys:
            if key.is_rank:
                continue
            expr = self.key_expr(key, seq)
            clause = expr.desc() if key.descending else expr.asc()
            if self.dialect == "postgresql" and key.nullable:
                # SQLite already sorts nulls lowest; the PostgreSQL indexes are NULLS FIRST.
                clause = clause.nulls_last() if key.descending else clause.nulls_first()
            clauses.append(clause)
        return clauses

    def bound(self, bound: Bound, seq: ColumnElement[Any]) -> ColumnElement[bool]:
        key = bound.key
        expr = self.key_expr(key, seq)
        if bound.relation == "null" or (bound.relation == "eq" and bound.value is None):
            return expr.is_(None)
        if bound.relation == "not_null":
            return expr.is_not(None)
        value = self._bind(key, bound.value)
        if bound.relation == "eq":
            return expr == value
        return expr < value if key.descending else expr > value

    def _bind(self, key: Key, value: Any) -> ColumnElement[Any]:
        if key.is_seq:
            return literal(value, Integer())
        spec = self.resource.fields[key.name]
        return literal(spec.compared(value), spec.expr.type)

    def select(
        self, from_: FromClause, where: Sequence[ColumnElement[bool]], seq: ColumnElement[Any]
    ) -> Select[Any]:
        return self.resource.listing.select_from(from_).where(*where).order_by(*self.order_by(seq))

    # Segments.

    def segment(self, segment: Segment) -> SegmentPlan:
        return SegmentPlan(segment.tier, lambda: self._statements(segment))

    def _statements(self, segment: Segment) -> SegmentStatements:
        if not self.searching:
            return self._plain(segment, [])
        if not self.streams:
            return self._plain(segment, [self._match_materialised()])
        if segment.tier == 0:
            return self._plain(segment, self._exact_name())
        if self.dialect == "sqlite":
            return self._fts_driven(segment)
        return self._pg_search(segment)

    def _plain(self, segment: Segment, extra: list[ColumnElement[bool]]) -> SegmentStatements:
        seq = self.table.c.seq
        bounds = [self.bound(b, seq) for b in segment.bounds]
        statement = self.select(self.table, [*self.row_filters, *extra, *bounds], seq)
        return SegmentStatements(statement)

    def _fts_driven(self, segment: Segment) -> SegmentStatements:
        seq = self.seq_expr(from_fts=True)
        joined = self.table.join(FTS_TABLE, FTS_TABLE.c.rowid == self.table.c.seq)
        where = [fts_match(self._fts_expression(segment.tier)), *self._not_exact_name(segment)]
        bounds = [self.bound(b, seq) for b in segment.bounds]
        statement = self.select(joined, [*where, *self.filters, *bounds], seq)
        return SegmentStatements(statement)

    def _fts_expression(self, tier: int | None) -> str:
        everything = fts_all(self.tokens)
        if tier is None or self.terms is None:
            return everything
        first = self.terms.tokens[0]
        starts = fts_starts(first)
        if tier == 1:
            # `^"w1"*` implies w1*: AND only the other words.
            others = tuple(t for t in self.tokens if t != first)
            return f"{starts} AND {fts_all(others)}" if others else starts
        return f"({everything}) NOT {starts}"

    def _pg_search(self, segment: Segment) -> SegmentStatements:
        """PostgreSQL, a tier in `seq` order. A one-word search streams its candidates from
        the search words' index in that order when the word is long enough, each row checked
        as it comes. Otherwise windows of rows in `seq` order, then the matches left: a single
        word's from that index, several words' through the GIN index, which intersects them
        without reading every record of each (`reading.py`)."""
        usual = self._usual_search_box(segment)
        if usual is not None:
            return usual
        seq = self.table.c.seq
        bounds = [self.bound(b, seq) for b in segment.bounds]
        common = [*self._not_exact_name(segment), *self.filters, *bounds]
        match = ts_match(self.table, self.tokens, self._tsquery_starts(segment.tier))
        # `IS TRUE` keeps the match out of the planner's reach, so that rows are tested one
        # by one as they come, never looked up through the whole GIN posting list.
        checked = [match.is_(true()), *common]
        seq_keys = [b for b in segment.bounds if b.key.is_seq]
        word = self.tokens[0] if len(self.tokens) == 1 else None
        prefix = None if word is None else stream_prefix(word, segment.tier)
        if prefix is not None:
            stream = words_stream(prefix, lambda column: [self.bound(b, column) for b in seq_keys])
            joined = self.table.join(stream, stream.c.seq == seq)
            return SegmentStatements(self.select(joined, checked, seq))
        descending = self.reading.keys[-1].descending

        def forced(edge: int | None) -> Select[Any]:
            def within(column: ColumnElement[Any]) -> list[ColumnElement[bool]]:
                """The segment's `seq` bounds, and past `edge` when given."""
                past = [] if edge is None else [column < edge if descending else column > edge]
                return [*(self.bound(b, column) for b in seq_keys), *past]

            if word is None:
                found = self._gin_materialised(match, *within(seq))
            else:
                found = self._seq_in(words_seqs(word, segment.tier, within))
            return self.select(self.table, [found, *common, *within(seq)], seq)

        statement = self.select(self.table, checked, seq)
        seq_bounds = tuple(self.bound(b, seq) for b in seq_keys)
        return SegmentStatements(statement, seq_bounds, forced, descending, seq)

    def _usual_search_box(self, segment: Segment) -> SegmentStatements | None:
        """`_pg_search`'s streamed tier, for one word alone (no filter, no cursor): the
        statement is built once (`_streamed_tier`), this search's values are parameters."""
        tier, terms = segment.tier, self.terms
        if tier not in (1, 2) or terms is None or len(self.tokens) != 1 or self.extra_tokens:
            return None
        if self.filters or segment.bounds or stream_prefix(terms.tokens[0], tier) is None:
            return None
        descending = self.reading.keys[-1].descending
        statement = _streamed_tier(self.resource.listing, self.table, tier, descending)
        return SegmentStatements(statement, params=one_word_stream_params(terms, tier))

    def _tsquery_starts(self, tier: int | None) -> str | None:
        """Tiers 1 and 2 on PostgreSQL: the first word does or does not start with the first
        token (as `_fts_expression`; the marker lexeme is exact in the GIN index)."""
        if tier not in (1, 2) or self.terms is None:
            return None
        return tsquery_starts(self.terms.tokens[0], negated=tier == 2)

    def _exact_name(self) -> list[ColumnElement[bool]]:
        """Tier 0: the name is the query exactly (and the other words match). On PostgreSQL the
        records with the name are read from its index first: left to itself the planner walks
        the primary key testing every name (2,203 records are named `Muhammad` in the 1M demo:
        it tested 12,351 rows for a page, 4.4 ms, against 0.7)."""
        assert self.terms is not None
        named = self.table.c.name.in_(name_variants(self.terms))
        where: list[ColumnElement[bool]] = [named]
        if self.extra_tokens:
            where.append(matches(self.table, self.extra_tokens, self.dialect))
        if self.dialect == "postgresql":
            where.append(self._seq_in(select(self.table.c.seq).where(named).correlate(None)))
        return where

    def _not_exact_name(self, segment: Segment) -> list[ColumnElement[bool]]:
        if segment.tier is None or self.terms is None:
            return []
        return [self.table.c.name.not_in(name_variants(self.terms))]

    def _match_materialised(self) -> ColumnElement[bool]:
        """The match evaluated through the full-text index first, whatever the planner thinks."""
        if self.dialect == "sqlite":
            # SQLite materialises an IN (subquery) list once. On `seq + 0` it cannot drive the
            # read from that list, so it walks the sort's index and tests each row instead.
            seq = self.table.c.seq + 0 if self.dense else self.table.c.seq
            return seq.in_(fts_rowids(fts_all(self.tokens)))
        return self._gin_materialised(ts_match(self.table, self.tokens))

    def _gin_materialised(
        self, match: ColumnElement[bool], *bounds: ColumnElement[bool]
    ) -> ColumnElement[bool]:
        """PostgreSQL: `match` read from the GIN index first, then the rows by primary key."""
        seqs = select(self.table.c.seq).where(match, *bounds)
        return self._seq_in(seqs.correlate(None))

    def _seq_in(self, seqs: Select[Any] | CompoundSelect[Any]) -> ColumnElement[bool]:
        # ARRAY(SELECT ...) is computed once, first (an InitPlan); the rows are then read by
        # primary key. (With `IN (SELECT ...)` the planner, misled by its estimates for prefix
        # queries, merge-joins against a scan of the whole table.)
        return self.table.c.seq == any_(func.array(seqs.scalar_subquery()))

    def probe(self) -> Select[Any] | None:
        if self.dialect != "sqlite" or not self.searching or self.streams or self.dense:
            return None
        capped = fts_rowids(fts_all(self.tokens)).limit(DENSE_SEARCH).subquery()
        return select(func.count()).select_from(capped)

    def lead(self) -> Prepared | None:
        """PostgreSQL, one word in relevance order: its total and the records whose first word
        starts with it (from the word counts), and whether any name is the query exactly, in
        one statement (a `LeadCounts`): a tier they show to be empty costs no statement."""
        word = self._counted_word()
        if self.dialect != "postgresql" or not self.streams or word is None or self.terms is None:
            return None
        return one_word_lead(self.table, self.terms)

    # The count.

    def _counted_word(self) -> str | None:
        """PostgreSQL: the word of a search of one word and no other filter, whose total is
        read from the word counts (`search.prefix_count`)."""
        return self.tokens[0] if len(self.tokens) == 1 and not self.filters else None

    def count(self) -> Select[Any]:
        counted = select(func.count())
        if not self.searching:
            return counted.select_from(self.table).where(*self.filters)
        if self.dialect == "postgresql":
            word = self._counted_word()
            if word is not None:
                return select(prefix_count(word))
            # Several words: the GIN index intersects them, then each match's row is counted.
            return counted.select_from(self.table).where(
                ts_match(self.table, self.tokens), *self.filters
            )
        match = fts_match(fts_all(self.tokens))
        if not self.filters:
            # Counting the index alone needs no row of `customers`.
            return counted.select_from(FTS_TABLE).where(match)
        joined = self.table.join(FTS_TABLE, FTS_TABLE.c.rowid == self.table.c.seq)
        return counted.select_from(joined).where(match, *self.filters)


@lru_cache(maxsize=16)
def _streamed_tier(listing: Select[Any], table: Table, tier: int, descending: bool) -> Select[Any]:
    """`_Builder._pg_search`'s statement for the usual search box (one word, no filter, no
    cursor), with parameters (`search.one_word_stream_params`): built once per tier and order,
    as `_Builder.select` builds it (the order of a streamed search is `seq` alone)."""
    joined, checked = one_word_stream(table, tier)
    seq = table.c.seq
    return (
        listing.select_from(joined)
        .where(*checked)
        .order_by(seq.desc() if descending else seq.asc())
    )


def _split_search(where: Filter) -> tuple[Filter | None, tuple[str, ...]]:
    """Take the top-level `search` conditions out of `where`: they drive the plan."""
    items: tuple[Filter, ...] = (where,) if isinstance(where, Condition) else ()
    if isinstance(where, Group) and where.kind == "and" and not where.negated:
        items = where.items
    elif isinstance(where, Group):
        return where, ()
    tokens: list[str] = []
    rest: list[Filter] = []
    for item in items:
        found = _search_tokens(item)
        if found:
            tokens.extend(found)
        else:
            # Everything else, including a search with no words (it compiles to "no row").
            rest.append(item)
    residual = conjoin(*rest) if rest else None
    if residual == MATCH_ALL:
        residual = None
    return residual, tuple(tokens)


def _search_tokens(item: Filter) -> tuple[str, ...]:
    if isinstance(item, Condition) and item.op is Op.SEARCH and isinstance(item.value, str):
        return parse_terms(item.value).tokens
    return ()


# --- running --------------------------------------------------------------------------------


def run_list(
    conn: Connection, resource: Resource, query: ListQuery, *, scope: Scope = None
) -> Page:
    """One page of `query`: `limit` rows, the total when asked, and cursors to either side."""
    plan = build_list(resource, query, scope=scope, dialect=conn.dialect.name)
    if plan.probe is not None and conn.execute(plan.probe).scalar_one() >= DENSE_SEARCH:
        plan = build_list(resource, query, scope=scope, dialect="sqlite", dense_search=True)
    elif conn.dialect.name == "sqlite" and scope is None and not query.search:
        residual, tokens = _split_search(query.where)
        walked = () if tokens else walking.candidates(resource, residual, plan.ordering)
        reach = query.offset + query.limit + 1
        if walked and walking.dense(conn, resource, walked, reach):
            plan = build_list(resource, query, dialect="sqlite", dense_filter=True)
    total = None
    if plan.lead is not None:
        counts = LeadCounts(*plan.lead.execute(conn).one())
        total, plan = counts.total, plan.led(counts)
    read = read_segments(conn, plan, query.offset, query.limit + 1)
    more = len(read) > query.limit
    read = read[: query.limit]
    if plan.reverse:
        read.reverse()
    ordering = plan.ordering
    next_cursor = prev_cursor = None
    if read:
        first, last = read[0], read[-1]
        after_start = query.cursor is not None or query.offset > 0
        if plan.reverse:
            prev_cursor = _token(ordering, first, before=True) if more else None
            next_cursor = _token(ordering, last, before=False)
        else:
            next_cursor = _token(ordering, last, before=False) if more else None
            prev_cursor = _token(ordering, first, before=True) if after_start else None
    if plan.count is not None and total is None:
        total = _counted_total(conn, resource, query, scope)
        if total is None:
            total = int(conn.execute(plan.count).scalar_one())
    rows = [row for row, _ in read]
    return Page(rows, total, next_cursor, prev_cursor, ordering)


def _counted_total(
    conn: Connection, resource: Resource, query: ListQuery, scope: Scope
) -> int | None:
    """The total from the counters when they know it (see `walking.counted_total`): on SQLite
    counting 900,000 index entries takes 30 ms, on PostgreSQL a count of a million rows takes
    hundreds of ms of the server's CPU."""
    if scope is not None or query.search:
        return None
    residual, tokens = _split_search(query.where)
    return None if tokens else walking.counted_total(conn, resource, residual)


def _token(ordering: Ordering, item: tuple[dict[str, Any], int | None], *, before: bool) -> str:
    row, tier = item
    return cursors.encode(cursors.cursor_from_row(ordering, row, rank=tier, before=before))


# --- cursors from rows ----------------------------------------------------------------------


def cursor_for_row(
    resource: Resource, query: ListQuery, row: Mapping[str, Any], *, before: bool = False
) -> str:
    """The cursor token for the position of `row` (raw column names) in `query`'s order.

    For a relevance-ranked search the row's tier is not in the row: use `find_cursor`."""
    ordering = ordering_for(resource, query)
    if ordering.ranked:
        raise ValueError("a relevance order needs find_cursor() to rank the row")
    return cursors.encode(cursors.cursor_from_row(ordering, row, before=before))


def find_cursor(
    conn: Connection,
    resource: Resource,
    query: ListQuery,
    row_id: str,
    *,
    scope: Scope = None,
    before: bool = False,
) -> Cursor | None:
    """The position of the row `$id = row_id` in `query`'s order (Appwrite's
    cursorAfter/cursorBefore), or None when that row does not exist or is out of `scope`."""
    ordering = ordering_for(resource, query)
    table = resource.table
    where: list[ColumnElement[bool]] = [table.c.id == row_id]
    if isinstance(scope, Condition | Group):
        where.append(compile_filter(resource, scope, conn.dialect.name))
    elif scope is not None:
        where.append(scope)
    columns: list[ColumnElement[Any]] = list(resource.columns)
    if ordering.terms is not None:
        columns.append(_rank_of_row(resource, ordering.terms, conn.dialect.name).label("_rank"))
    found = conn.execute(select(*columns).where(*where)).mappings().first()
    if found is None:
        return None
    rank = found["_rank"] if ordering.terms is not None else None
    return cursors.cursor_from_row(ordering, dict(found), rank=rank, before=before)


def _rank_of_row(resource: Resource, terms: SearchTerms, dialect: str) -> ColumnElement[int]:
    """The tier of one row, by the same predicates as the tier segments."""
    table = resource.table
    exact = table.c.name.in_(name_variants(terms))
    first = terms.tokens[0]
    starts: ColumnElement[bool]
    if dialect == "sqlite":
        starts = table.c.seq.in_(fts_rowids(fts_starts(first)))
    else:
        starts = ts_match(table, (first,), tsquery_starts(first))
    return case((exact, 0), (starts, 1), else_=2)


__all__ = [
    "ListPlan",
    "Page",
    "SegmentPlan",
    "build_list",
    "cursor_for_row",
    "find_cursor",
    "run_list",
]
