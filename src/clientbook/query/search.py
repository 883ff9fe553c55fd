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
`to_tsvector` per row: the GIN index is on that column, and a window scan reads the stored
vector. Neither side goes through PostgreSQL's text-search parser: `searchText` is already our
folded words, and the query is a `tsquery` literal of the same words, so both split text
exactly as `domain.text.words` does (the parser splits `0𐭸` into `0`, so a search for it
found every phone starting with 0).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    Text,
    and_,
    cast,
    column,
    false,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

from clientbook.domain.text import fold, words

MAX_SEARCH_CHARS = 200
MAX_SEARCH_WORDS = 16
# A chunk made only of digits and phone punctuation, with at least one digit.
_PHONE_CHUNK = re.compile(r"[\d+()\-]*\d[\d+()\-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

FTS_TABLE = table("customers_fts", column("rowid", Integer), column("searchText", Text))
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
    vector = search_vector(searched)
    query = cast(literal(tsquery_all(tokens), Text), TSQUERY)
    matched: ColumnElement[bool] = vector.bool_op("@@")(query)
    if starts is None:
        return matched
    return and_(matched, vector.bool_op("@@")(cast(literal(starts, Text), TSQUERY)))


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
