"""`customer_words` and the counts per (word, lcp) (migration 0006, PostgreSQL): hold exactly
each record's distinct searchText words, and how many records have each, after any mix of
writes through every write path, compactions at any point and a TRUNCATE; the search totals and
tier sizes read from them equal the counts of `searchVector` matches; the migration backfills
them and its downgrade removes them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text, update

from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.db.tables import customers
from clientbook.query.search import prefix_count, ts_match, tsquery_starts
from clientbook.services import demo
from tests.conftest import BACKENDS
from tests.db.old_rows import old_customer
from tests.db.test_customer_counts import Writes, _downgrade, random_writes
from tests.factories import make_customer

pytestmark = pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)
_c = customers.c


def expected_words(conn: Connection) -> set[tuple[str, int]]:
    """Each record's words, and `^` + its first word (the marker of search tier 1)."""
    rows = conn.execute(select(_c.seq, _c.searchText))
    found: set[tuple[str, int]] = set()
    for seq, search_text in rows:
        words = search_text.split(" ")
        found |= {(word, seq) for word in words if word} | {("^" + words[0], seq)}
    return found


def stored_words(conn: Connection) -> set[tuple[str, int]]:
    return {(w, s) for w, s in conn.execute(text("SELECT word, seq FROM customer_words"))}


def stored_counts(conn: Connection) -> dict[tuple[str, int], int]:
    """The counts per (word, lcp), deltas folded in, zeros left out."""
    rows = conn.execute(
        text(
            "SELECT word, lcp, sum(n) FROM (SELECT word, lcp, n FROM customer_word_counts "
            "UNION ALL SELECT word, lcp, n FROM customer_word_deltas) AS c "
            "GROUP BY word, lcp HAVING sum(n) <> 0"
        )
    )
    return {(w, lcp): n for w, lcp, n in rows}


def expected_counts(conn: Connection) -> dict[tuple[str, int], int]:
    """How many records have each (word, lcp), lcp computed here from the stored words."""
    by_record: dict[int, list[str]] = {}
    for word, seq in stored_words(conn):
        by_record.setdefault(seq, []).append(word)
    counts: dict[tuple[str, int], int] = {}
    for words in by_record.values():
        previous = ""
        for word in sorted(words, key=lambda w: w.encode()):
            lcp = next(
                (i for i, (a, b) in enumerate(zip(previous, word, strict=False)) if a != b), None
            )
            lcp = min(len(previous), len(word)) if lcp is None else lcp
            counts[word, lcp] = counts.get((word, lcp), 0) + 1
            previous = word
    return counts


def vector_count(conn: Connection, tokens: tuple[str, ...]) -> int:
    query = select(func.count()).select_from(customers).where(ts_match(customers, tokens))
    return int(conn.execute(query).scalar_one())


def some_prefixes(words: set[tuple[str, int]], rng: random.Random) -> list[str]:
    """Prefixes of stored words, and a word no record has."""
    known = sorted({w for w, _ in words if not w.startswith("^")})
    return [w[: rng.randint(1, len(w))] for w in rng.sample(known, min(6, len(known)))] + ["zzzqx"]


def counted(conn: Connection, prefix: str) -> int:
    return int(conn.execute(select(prefix_count(prefix))).scalar_one())


def tier_one_count(conn: Connection, token: str) -> int:
    starts = ts_match(customers, (token,), tsquery_starts(token))
    return int(conn.execute(select(func.count()).select_from(customers).where(starts)).scalar_one())


def assert_words_match(db: Database, rng: random.Random) -> int:
    with db.read() as conn:
        words = expected_words(conn)
        assert stored_words(conn) == words
        assert stored_counts(conn) == expected_counts(conn)
        for prefix in some_prefixes(words, rng):
            assert counted(conn, prefix) == vector_count(conn, (prefix,)), prefix
            assert counted(conn, "^" + prefix) == tier_one_count(conn, prefix), prefix
    return len(words)


class WordWrites(Writes):
    def compact(self) -> None:
        """Also fold the words' count deltas now, or make the next trigger run do it."""
        super().compact()
        with self.db.transaction() as conn:
            if self.rng.random() < 0.5:
                conn.execute(text("SELECT customer_words_compact()"))
            else:
                conn.execute(text("SELECT setval('customer_words_ticks', 999)"))


@pytest.mark.parametrize("seed", [6, 7])
def test_the_words_equal_search_text_after_random_writes(
    database: Database, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    sizes: list[int] = []
    random_writes(
        WordWrites(database, rng, tmp_path), lambda: sizes.append(assert_words_match(database, rng))
    )
    assert max(sizes) > 20


def test_the_demo_loader_keeps_the_words(database: Database) -> None:
    demo.run_demo(database, customers=300, seed=5, transaction_size=120, chunk_size=50)
    assert assert_words_match(database, random.Random(10)) > 300


def test_a_record_with_a_word_twice_counts_once(database: Database) -> None:
    make_customer(database, name="Mei Mei", email="mei.meiling@example.com")
    make_customer(database, name="Tan Ah Kow", email="kow@example.com")
    with database.read() as conn:
        # `mei` and `meiling` start with `mei`; `example` is a word of both records.
        assert counted(conn, "mei") == 1
        assert counted(conn, "exam") == 2
        assert counted(conn, "^mei") == 1


def test_words_beyond_ascii_count_by_characters(database: Database) -> None:
    record = make_customer(database, name="Li Ming")
    with database.transaction() as conn:
        changed = update(customers).where(_c.id == record["id"])
        conn.execute(changed.values(searchText="李明 李 李明华 0\U00010b78 0\U00010b781 0"))
    with database.read() as conn:
        for token in ("李", "李明", "李明华", "0", "0\U00010b78", "0\U00010b781"):
            assert counted(conn, token) == 1, token
            assert vector_count(conn, (token,)) == 1, token
        assert (counted(conn, "^李明"), counted(conn, "^0")) == (1, 0)


def test_truncating_the_customers_empties_the_words(database: Database) -> None:
    make_customer(database, name="Siti Aminah")
    with database.transaction() as conn:
        conn.execute(text("TRUNCATE customers CASCADE"))
    with database.read() as conn:
        assert stored_words(conn) == set()


def _words_table_exists(db: Database) -> bool:
    with db.read() as conn:
        return conn.execute(text("SELECT to_regclass('customer_words') IS NOT NULL")).scalar_one()


def test_upgrade_backfills_the_words_and_downgrade_removes_them(
    unmigrated_postgresql: Database,
) -> None:
    db = unmigrated_postgresql
    migrate.upgrade(db, "0005")
    for name in ("Siti Aminah", "Aminah Yusof", "Lim Wei"):
        old_customer(db, name=name)
    assert not _words_table_exists(db)

    migrate.upgrade(db)
    assert assert_words_match(db, random.Random(8)) > 0
    make_customer(db, name="Amir Hamzah")
    with db.read() as conn:
        assert counted(conn, "ami") == 3

    _downgrade(db, "0005")
    assert not _words_table_exists(db)
    old_customer(db, name="Wong Ka Ho")  # writes work without the triggers
    migrate.upgrade(db)
    assert_words_match(db, random.Random(9))


def test_a_word_is_counted_on_the_counts_index(database: Database) -> None:
    """A row per distinct (word, lcp), never the customers' table pages."""
    make_customer(database, name="Mei Ling")
    with database.transaction() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # a table of one record
        statement = select(prefix_count("mei"))
        compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(conn.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert "customer_word_counts_pkey" in plan
    assert " customers " not in plan
