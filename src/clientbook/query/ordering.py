"""The order a list is read in: sort keys, the `seq` tie-break, or search relevance tiers.

Nulls sort lowest (SPEC §12): first ascending, last descending. Every order ends with a key that
is unique and never null, normally `seq` ascending (creation order), so that the order is total
and a keyset cursor names exactly one position.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from clientbook.domain.errors import BadQuery
from clientbook.query.fields import Field, Kind, Resource
from clientbook.query.model import ListQuery, Sort
from clientbook.query.search import SearchTerms, parse_terms

RANK = "_rank"  # the relevance tier of a search (0 best)
TIERS = (0, 1, 2)


@dataclass(frozen=True, slots=True)
class Key:
    """One term of an ORDER BY. `column` is where a row (a dict of raw columns) holds its value."""

    name: str
    column: str
    descending: bool = False
    nullable: bool = False
    kind: Kind | None = None  # None for the rank
    case_insensitive: bool = False

    @property
    def is_rank(self) -> bool:
        return self.column == RANK

    @property
    def is_seq(self) -> bool:
        return self.column == "seq"

    def flipped(self) -> Key:
        return replace(self, descending=not self.descending)


SEQ_KEY = Key("$sequence", "seq", kind=Kind.INT)


@dataclass(frozen=True, slots=True)
class Ordering:
    keys: tuple[Key, ...]
    fingerprint: str
    # Relevance order of a search: keys are (rank, seq) and these are its terms.
    terms: SearchTerms | None = None

    @property
    def ranked(self) -> bool:
        return self.terms is not None

    @property
    def by_seq_only(self) -> bool:
        """Every key but the rank is `seq`: rows can stream from the full-text index in rowid
        order."""
        return all(k.is_seq or k.is_rank for k in self.keys)

    def reversed(self) -> Ordering:
        """The same order backwards (asc nulls first <-> desc nulls last), for a before cursor."""
        return replace(self, keys=tuple(k.flipped() for k in self.keys))

    def tiers(self) -> tuple[int, ...]:
        """The relevance tiers in reading order."""
        return tuple(reversed(TIERS)) if self.keys[0].descending else TIERS


def _key(spec: Field, descending: bool) -> Key:
    return Key(
        name=spec.name,
        column=spec.column.name,
        descending=descending,
        nullable=spec.nullable,
        kind=spec.kind,
        case_insensitive=spec.case_insensitive,
    )


def sort_field(resource: Resource, sort: Sort) -> Field:
    param = sort.param or "sort"
    spec = resource.lookup(sort.field, param=param)
    if not spec.sortable:
        message = f"`{sort.field}` cannot be sorted on"
        raise BadQuery(message, fields={param: message})
    return spec


def ordering_for(resource: Resource, query: ListQuery) -> Ordering:
    """The order of `query`: its sorts then `seq`; else relevance for a search; else `seq`."""
    keys: list[Key] = []
    terms = None
    if query.sort:
        for sort in query.sort:
            spec = sort_field(resource, sort)
            keys.append(_key(spec, sort.descending))
            if spec.unique:
                break
        else:
            keys.append(SEQ_KEY)
    elif query.search and not (terms := parse_terms(query.search)).empty:
        # (A blank search is no search; one with no words is handled as "no row" by the
        # compiler and needs no ranking.)
        keys = [Key(RANK, RANK, kind=None), SEQ_KEY]
    else:
        terms = None
        keys = [SEQ_KEY]
    return Ordering(tuple(keys), _fingerprint(resource, keys, terms), terms)


def _fingerprint(resource: Resource, keys: list[Key], terms: SearchTerms | None) -> str:
    spec = ",".join(("-" if k.descending else "") + k.name for k in keys)
    if terms is not None:
        # Tiers depend on the search text: its cursor means nothing to another search.
        spec += "|" + terms.text + "|" + " ".join(terms.tokens)
    digest = hashlib.blake2s(f"{resource.name}|{spec}".encode(), digest_size=6)
    return digest.hexdigest()
