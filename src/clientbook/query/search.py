"""Full-text search over `customers.searchText` (SPEC §7, §12).

The query text is folded with `domain.text` (the very folding the index text was built with),
each word becomes a word prefix, and all of them must match. A run of phone-like chunks
(`+60 12-345 6789`, `(03) 1234`) becomes one digit string, matched as a prefix of the national or
E.164 digits that `searchText` carries. Every term is quoted, so nothing a user types is read as
FTS5 or tsquery syntax; a query with no words at all matches nothing.

Ranking ("best matches first, exact name match first") is by tiers, each in creation order:

* tier 0 — the name is exactly the query (as typed, lower, upper or title case): `name IN (...)`
  on the `name` index;
* tier 1 — the name starts with the query's first word (the name's words come first in
  `searchText`, see `domain.customers.derive_customer_columns`): FTS5's initial-token query
  `^"w1"*` on SQLite; on PostgreSQL the prefix query `'^w1':*` on a marker lexeme, `^` + the
  first word of `searchText`, that the stored `searchVector` holds (migration 0004), so the
  GIN index answers it exactly. (Anchoring every word, `^"w1 w2"*`, costs a phrase check of
  every document of w1: 7 ms for `nur binti`, against 2 ms.)
* tier 2 — every other match.

Why tiers and not bm25: `ORDER BY rank` scores every match (PERFORMANCE.md: ~12 ms for a common
surname; measured here 15-140 ms for 9,000-157,000 matches in 1M rows), and bm25 scores move as
other rows are inserted, so a keyset cursor over them would not be stable. A tier is a property of
the row alone, so (tier, seq) is a stable keyset order, and each tier is read from the FTS index in
rowid order, stopping after one page: `q=tan` (157,000 matches) costs ~0.1 ms per page on SQLite.
A tier that has no more rows costs at most one pass over its doclist (~1-7 ms), and the compiler
reads the next tier only when a page is not yet full.

PostgreSQL ranks exactly as SQLite (the same tiers, order and cursors). It matches against the
stored `searchVector` (the words of `searchText` as they are, and the marker), never
`to_tsvector` per row: the GIN index is on that column (for filters, OR and NOT), and rows
read in `seq` order are tested on the stored vector. Candidates in `seq` order and totals
come from `customer_words` and its counts (migration 0006; see `compiler.py`). Neither side
goes through PostgreSQL's text-search parser: `searchText` is already our folded words, and
the query is a `tsquery` literal of the same words, so both split text exactly as
`domain.text.words` does (the parser splits `0𐭸` into `0`, so a search for it found every
phone starting with 0).
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    Table,
    TableClause,
    Text,
    and_,
    bindparam,
    cast,
    column,
    except_,
    exists,
    false,
    func,
    literal,
    literal_column,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.sql.selectable import Join, ScalarSelect, Subquery

from clientbook.domain.text import fold, words
from clientbook.query.prepared import Prepared

MAX_SEARCH_CHARS = 200
MAX_SEARCH_WORDS = 16
# A chunk made only of digits and phone punctuation, with at least one digit.
_PHONE_CHUNK = re.compile(r"[\d+()\-]*\d[\d+()\-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

FTS_TABLE = table("customers_fts", column("rowid", Integer), column("searchText", Text))
# Each record's distinct searchText words and first-word marker, indexed by (left(word, 3),
# seq, word), and how many records have each (word, lcp): the counts folded so far and the
# deltas since (PostgreSQL, migration 0006).
WORDS_TABLE = table(
    "customer_words", column("word", Text), column("seq", Integer), column("lcp", Integer)
)
# customer_words' index is led by left(word, 3): a prefix this long reads its records in seq order.
STREAM_FROM = 3
WORD_COUNTS = tuple(
    table(name, column("word", Text), column("lcp", Integer), column("n", Integer))
    for name in ("customer_word_counts", "customer_word_deltas")
)
# `searchVector` holds `^` + the first word of `searchText` as one more lexeme (migration 0004).
FIRST_WORD_MARK = "^"


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """What a search text means: word prefixes that must all match, and the text itself."""

    tokens: tuple[str, ...]
    # The text with runs of whitespace collapsed: what an exact name match compares.
    text: str

    @property
    def empty(self) -> bool:
        return not self.tokens


def check_search_text(text: str) -> str | None:
    """Why `text` is refused as a search (too long, too many words), or None."""
    if len(text) > MAX_SEARCH_CHARS:
        return f"at most {MAX_SEARCH_CHARS} characters"
    if len(parse_terms(text).tokens) > MAX_SEARCH_WORDS:
        return f"at most {MAX_SEARCH_WORDS} words"
    return None


def parse_terms(text: str) -> SearchTerms:
    """Fold and split a search text; consecutive phone-like chunks join into one digit string."""
    tokens: list[str] = []
    digits: list[str] = []
    for chunk in fold(text).split():
        if _PHONE_CHUNK.fullmatch(chunk):
            digits.append("".join(ch for ch in chunk if ch.isdigit()))
            continue
        if digits:
            tokens.append("".join(digits))
            digits = []
        tokens.extend(words(chunk))
    if digits:
        tokens.append("".join(digits))
    return SearchTerms(tokens=tuple(dict.fromkeys(tokens)), text=" ".join(text.split()))


def name_variants(terms: SearchTerms) -> tuple[str, ...]:
    """The spellings an exact name match tries, so the `name` index can answer it."""
    text = terms.text
    if _CONTROL.search(text):
        # No name holds a control character (and PostgreSQL refuses NUL in text).
        return ()
    forms = (text, text.lower(), text.upper(), text.title(), string.capwords(text))
    return tuple(dict.fromkeys(forms))


# --- SQLite FTS5 ----------------------------------------------------------------------------


def _fts_string(token: str) -> str:
    # Inside double quotes FTS5 reads nothing as syntax; a quote is escaped by doubling it.
    return '"' + token.replace('"', '""') + '"'


def fts_all(tokens: tuple[str, ...]) -> str:
    """Every token as a prefix: `"tan"* AND "mei"*`."""
    return " AND ".join(_fts_string(t) + "*" for t in tokens)


def fts_starts(token: str) -> str:
    """The document's first word starts with `token`: `^"tan"*`."""
    return "^" + _fts_string(token) + "*"


def fts_match(expression: str) -> ColumnElement[bool]:
    return literal_column("customers_fts").bool_op("MATCH")(literal(expression, Text))


def fts_rowids(expression: str) -> Select[Any]:
    return select(FTS_TABLE.c.rowid).where(fts_match(expression))


# --- PostgreSQL tsvector --------------------------------------------------------------------


def _ts_lexeme(token: str) -> str:
    # A quoted tsquery lexeme: quotes doubled, backslashes escaped.
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_all(tokens: tuple[str, ...]) -> str:
    """`'tan':* & 'mei':*`"""
    return " & ".join(_ts_lexeme(t) + ":*" for t in tokens)


def tsquery_starts(token: str, *, negated: bool = False) -> str:
    """The first word of `searchText` starts with `token`: `'^tan':*`, the prefix of the marker
    lexeme that `searchVector` holds (migration 0004); or, `negated`, does not: `!'^tan':*`."""
    return ("!" if negated else "") + _ts_lexeme(FIRST_WORD_MARK + token) + ":*"


def search_vector(searched: Table) -> ColumnElement[Any]:
    """The stored `searchVector` (PostgreSQL only, so not declared in `db.tables`)."""
    return literal_column(f'"{searched.name}"."searchVector"', TSVECTOR)


def ts_match(
    searched: Table, tokens: tuple[str, ...], starts: str | None = None
) -> ColumnElement[bool]:
    """Every token matches `searchVector` (the GIN index's column), and so does `starts`, a raw
    tsquery such as `tsquery_starts(w)` (or negated), when given (a condition of
    its own, so that the words alone decide what matches at all)."""
    query = literal(tsquery_all(tokens), Text)
    return _ts_match(searched, query, None if starts is None else literal(starts, Text))


def _ts_match(
    searched: Table, query: ColumnElement[str], starts: ColumnElement[str] | None
) -> ColumnElement[bool]:
    vector = search_vector(searched)
    matched: ColumnElement[bool] = vector.bool_op("@@")(cast(query, TSQUERY))
    if starts is None:
        return matched
    return and_(matched, vector.bool_op("@@")(cast(starts, TSQUERY)))


# Conditions on a `seq` column (keyset bounds), for the seqs read from `customer_words`.
SeqLimits = Callable[[ColumnElement[Any]], list[ColumnElement[bool]]]


def _no_limits(_seq: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    return []


def _starts(word: ColumnElement[Any], prefix: str | ColumnElement[str]) -> ColumnElement[bool]:
    value = literal(prefix, Text) if isinstance(prefix, str) else prefix
    return word.bool_op("^@")(value)


def _records_with(prefix: str, limits: SeqLimits = _no_limits) -> Select[Any]:
    """The seq of each record with a word starting with `prefix`, once (its first such word),
    through customer_words' index: in `seq` order when `prefix` has STREAM_FROM characters."""
    if len(prefix) >= STREAM_FROM:
        group = literal(prefix[:STREAM_FROM], Text)
        return _streamed_seqs(group, literal(prefix, Text), len(prefix), limits)
    words = WORDS_TABLE
    found = _starts(_group(words.c.word), prefix)
    return select(words.c.seq).where(found, words.c.lcp < len(prefix), *limits(words.c.seq))


def _group(word: ColumnElement[str]) -> ColumnElement[str]:
    # The index's own expression, 3 written out (a bound 3 would not match it in a generic plan).
    return func.left(word, literal_column(str(STREAM_FROM), Integer))


def _streamed_seqs(
    group: ColumnElement[str],
    prefix: ColumnElement[str],
    length: ColumnElement[int] | int,
    limits: SeqLimits = _no_limits,
) -> Select[Any]:
    """`_records_with` a prefix of STREAM_FROM characters or more: its group's entries of the
    index, in `seq` order."""
    words = WORDS_TABLE
    found = [_group(words.c.word) == group, _starts(words.c.word, prefix)]
    return select(words.c.seq).where(*found, words.c.lcp < length, *limits(words.c.seq))


def prefix_count(prefix: str) -> ScalarSelect[Any]:
    """How many records have a word starting with `prefix`, from the counts per (word, lcp):
    one row per distinct word, not one per record (see migration 0006)."""
    return _prefix_count(literal(prefix, Text), literal(len(prefix), Integer))


def _prefix_count(prefix: ColumnElement[str], length: ColumnElement[int]) -> ScalarSelect[Any]:
    def starting(t: TableClause) -> Select[Any]:
        return select(t.c.n).where(_starts(t.c.word, prefix), t.c.lcp < length)

    # sum() of bigints is numeric: cast back, so that a driver hands back an int.
    summed: Select[Any] = select(cast(func.coalesce(func.sum(literal_column("n")), 0), BigInteger))
    return summed.select_from(union_all(*map(starting, WORD_COUNTS)).subquery()).scalar_subquery()


@functools.cache
def _lead_statement(searched: Table) -> Select[Any]:
    # Built once, with parameters: building it anew took more Python than executing it.
    counts = [
        _prefix_count(bindparam(f"{name}_prefix", type_=Text), bindparam(f"{name}_length"))
        for name in ("word", "first")
    ]
    named = exists().where(searched.c.name.in_(bindparam("names", expanding=True)))
    return select(counts[0], named, counts[1])


def one_word_lead(searched: Table, terms: SearchTerms) -> Prepared:
    """A one-word search's total, whether some name is the query exactly, and how many records'
    first word starts with the word (`reading.LeadCounts`), in one statement."""
    word = terms.tokens[0]
    first = FIRST_WORD_MARK + word
    params = {
        "word_prefix": word,
        "word_length": len(word),
        "first_prefix": first,
        "first_length": len(first),
        "names": list(name_variants(terms)),
    }
    return Prepared(_lead_statement(searched), params)


def stream_prefix(token: str, tier: int | None) -> str | None:
    """The prefix whose records, read from customer_words in `seq` order, are the candidates
    of a one-word search in tier `tier` (1: the first-word marker; else the word itself), or
    None when it is too short to be read in that order."""
    prefix = FIRST_WORD_MARK + token if tier == 1 else token
    return prefix if len(prefix) >= STREAM_FROM else None


def one_word_stream(searched: Table, tier: int) -> tuple[Join, list[ColumnElement[bool]]]:
    """A one-word search's tier 1 or 2 (no filter, no cursor) read from customer_words in
    `seq` order (as `words_stream`), with parameters (`one_word_stream_params`): what the
    tier's page is selected from, and the conditions each row is checked against as it
    comes. (`compiler._streamed_tier` builds it once.)"""
    streamed = _streamed_seqs(
        bindparam("group", type_=Text), bindparam("prefix", type_=Text), bindparam("length")
    ).subquery("streamed")
    match = _ts_match(searched, bindparam("query", type_=Text), bindparam("starts", type_=Text))
    not_named = searched.c.name.not_in(bindparam("names", expanding=True))
    # `IS TRUE`: see `compiler._pg_search`.
    return searched.join(streamed, streamed.c.seq == searched.c.seq), [match.is_(true()), not_named]


def one_word_stream_params(terms: SearchTerms, tier: int) -> dict[str, Any]:
    """The values of `one_word_stream(…, tier)` for a one-word search of `terms`."""
    word = terms.tokens[0]
    prefix = stream_prefix(word, tier)
    assert prefix is not None and tier in (1, 2), "a tier streamed from customer_words"
    return {
        "group": prefix[:STREAM_FROM],
        "prefix": prefix,
        "length": len(prefix),
        "query": tsquery_all((word,)),
        "starts": tsquery_starts(word, negated=tier == 2),
        "names": list(name_variants(terms)),
    }


def words_stream(prefix: str, limits: SeqLimits) -> Subquery:
    """The records with a word starting with `prefix` (of STREAM_FROM characters or more),
    within `limits`: joined on `seq` and read in its order, a page costs a page of index
    entries and rows, however many records match."""
    return _records_with(prefix, limits).subquery("streamed")


def words_seqs(
    token: str, tier: int | None = None, limits: SeqLimits = _no_limits
) -> CompoundSelect[Any] | Select[Any]:
    """The seqs of the records with a word starting with `token` (and, in search tier 1 or 2,
    whose first word does or does not start with it: as `ts_match` with `tsquery_starts`),
    read from customer_words' index alone, within `limits`."""
    marker = _records_with(FIRST_WORD_MARK + token, limits)
    if tier == 1:
        return marker  # the marker implies the word
    matched = _records_with(token, limits)
    return except_(matched, marker) if tier == 2 else matched


def like_prefix(text: str) -> str:
    """A LIKE pattern (escape `\\`) for strings starting with `text`."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


# --- Either backend -------------------------------------------------------------------------


def matches(searched: Table, tokens: tuple[str, ...], dialect: str) -> ColumnElement[bool]:
    """A composable predicate "this row matches every token" (for filters, NOT, OR, counts)."""
    if not tokens:
        return false()
    if dialect == "sqlite":
        return searched.c.seq.in_(fts_rowids(fts_all(tokens)))
    return ts_match(searched, tokens)
