"""each customer's search words in a B-tree, and their counts, for search on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Search on PostgreSQL read the GIN index on `searchVector` (migration 0004), which gives the
matching rows in no useful order and cannot count them: every match's table page had to be read
to check that the row is visible. `q=mei` on 1M customers matched 27,681 rows on 24,466 pages,
~190 ms for its `total` alone, and a tier with few matches read all of them to sort them.

* `customer_words` holds one row per distinct word of each record's `searchText`, and the
  first-word marker `^` + its first word (exactly the lexemes of `searchVector`), with `lcp`:
  the length of the word's common prefix with the record's previous word in byte order
  (`COLLATE "C"`, as a tsquery compares lexemes). Its one index is led by the word's first
  three characters and then `seq`: the records with a word starting with any prefix of three
  characters or more come out of it in `seq` order, a page at a time, whatever the number of
  matches. The first-word marker does the same for search tier 1.
* A record's words starting with a prefix are consecutive in byte order, and only the first of
  them has an `lcp` shorter than the prefix, so `lcp < length(prefix)` picks each record once.
  `customer_word_counts` holds how many records have each (word, lcp), so the number of records
  matching a prefix is a sum over its distinct words (~1 ms), not a count of its records.

Triggers keep both, in the way 0002's counters are kept: per statement from the transition
tables for inserts and deletes, per row for an update that changes `searchText`; a TRUNCATE of
`customers` empties them. Count deltas go to `customer_word_deltas` (append-only, so concurrent
writers never wait on each other's counters), and every `COMPACT_EVERY`th trigger run folds the
committed ones into `customer_word_counts`. Zero counts stay until the word comes back.

SQLite's FTS5 index already counts and streams matches in rowid order; nothing changes there.
Building both takes a minute or two per million customers here (~1.2 GB for 1M customers);
run `VACUUM (ANALYZE)` on them afterwards on a large database, so that their reads are
index-only at once.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TRIGGER = "customer_words"
WORDS_INDEX = "ux_customer_words"
COMPACT_EVERY = 1000
# The pg_try_advisory_xact_lock key of the compaction: "cwrd" in ASCII (any unused constant).
COMPACT_LOCK = 0x63777264
_WORD = 'word text COLLATE "C" NOT NULL'
# A row's words and first-word marker, as in searchVector (migration 0004).
_ARRAY = (
    "array_append(string_to_array({0}.\"searchText\", ' '), "
    "'^' || split_part({0}.\"searchText\", ' ', 1))"
)
_EACH = f"unnest({_ARRAY}) AS w WHERE w <> ''"
# Into customer_words from a `words` (_with_lcp); one of its rows by its key.
_KEEP = "INSERT INTO customer_words (word, seq, lcp) SELECT word, seq, lcp FROM words"
_SAME_WORD = "left(c.word, 3) = left(words.word, 3) AND c.seq = words.seq AND c.word = words.word"


def _with_lcp(source: str, row: str) -> str:
    """(word, seq, lcp) of the distinct words of `row` (from `source`, if a table), each with
    the length of its common prefix with the record's previous word in byte order."""
    previous = 'lag(word) OVER (PARTITION BY seq ORDER BY word COLLATE "C")'
    return (
        f"SELECT word, seq, coalesce({TRIGGER}_lcp(word, {previous}), 0) AS lcp FROM "
        f"(SELECT DISTINCT w AS word, {row}.seq AS seq FROM {source}{_EACH.format(row)}) "
        "AS distinct_words"
    )


def _deltas(sign: str) -> str:
    return (
        "INSERT INTO customer_word_deltas (word, lcp, n) "
        f"SELECT word, lcp, {sign}count(*) FROM words GROUP BY word, lcp"
    )


def _add(source: str, row: str) -> str:
    """Keep the words of `row` (see _with_lcp) and count them in."""
    return f"WITH words AS ({_with_lcp(source, row)}), kept AS ({_KEEP}) {_deltas('')}"


def _remove(source: str, row: str) -> str:
    """Delete the words of `row` (see _with_lcp) and count them out."""
    gone = f"DELETE FROM customer_words c USING words WHERE {_SAME_WORD}"
    return f"WITH words AS ({_with_lcp(source, row)}), gone AS ({gone}) {_deltas('-')}"


def _counting(name: str, *statements: str) -> str:
    """The trigger function `name`: `statements`, then a compaction tick."""
    body = "".join(f"    {statement};\n" for statement in statements)
    return f"""
CREATE FUNCTION {TRIGGER}_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{body}    PERFORM {TRIGGER}_tick();
    RETURN NULL;
END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE TABLE customer_words ({_WORD}, seq bigint NOT NULL, lcp smallint NOT NULL)")
    op.execute(
        f'CREATE UNIQUE INDEX "{WORDS_INDEX}" ON customer_words (left(word, 3), seq, word) '
        "INCLUDE (lcp)"
    )
    op.execute(
        f"CREATE TABLE customer_word_counts ({_WORD}, lcp smallint NOT NULL, n bigint NOT NULL, "
        "PRIMARY KEY (word, lcp) INCLUDE (n))"
    )
    op.execute(
        f"CREATE TABLE customer_word_deltas ({_WORD}, lcp smallint NOT NULL, n bigint NOT NULL)"
    )
    op.execute(
        'CREATE INDEX "ix_customer_word_deltas_word" ON customer_word_deltas (word) INCLUDE (lcp, n)'
    )
    op.execute(f"CREATE SEQUENCE {TRIGGER}_ticks")
    for statement in [*_functions(), *_triggers()]:
        op.execute(statement)
    op.execute(
        f"WITH words AS ({_with_lcp('customers c, ', 'c')}), kept AS ({_KEEP}) "
        "INSERT INTO customer_word_counts (word, lcp, n) "
        "SELECT word, lcp, count(*) FROM words GROUP BY word, lcp"
    )
    op.execute("ANALYZE customer_words")
    op.execute("ANALYZE customer_word_counts")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}_{name} ON customers")
    for function in ("added()", "removed()", "changed()", "emptied()", "compact()", "tick()"):
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}_{function}")
    op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}_lcp(text, text)")
    op.execute(f"DROP SEQUENCE IF EXISTS {TRIGGER}_ticks")
    op.execute("DROP TABLE customer_words, customer_word_counts, customer_word_deltas")


def _functions() -> list[str]:
    return [
        f"""
CREATE FUNCTION {TRIGGER}_lcp(a text, b text) RETURNS smallint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    i int := 0;
    n int := least(length(a), length(b));
BEGIN
    WHILE i < n AND substr(a, i + 1, 1) = substr(b, i + 1, 1) LOOP
        i := i + 1;
    END LOOP;
    RETURN i;
END $$""",
        # Fold every committed delta into its (word, lcp) row. Deltas other transactions have
        # not committed are invisible here, so they are neither deleted nor counted twice.
        f"""
CREATE FUNCTION {TRIGGER}_compact() RETURNS void LANGUAGE sql AS $$
    WITH folded AS (DELETE FROM customer_word_deltas RETURNING word, lcp, n)
    INSERT INTO customer_word_counts (word, lcp, n)
    SELECT word, lcp, sum(n) FROM folded GROUP BY word, lcp
    ON CONFLICT (word, lcp) DO UPDATE SET n = customer_word_counts.n + excluded.n
$$""",
        f"""
CREATE FUNCTION {TRIGGER}_tick() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Nested, not AND: the lock is only taken on a compacting tick.
    IF nextval('{TRIGGER}_ticks') % {COMPACT_EVERY} = 0 THEN
        IF pg_try_advisory_xact_lock({COMPACT_LOCK}) THEN
            PERFORM {TRIGGER}_compact();
        END IF;
    END IF;
END $$""",
        _counting("added", _add("added r, ", "r")),
        _counting("removed", _remove("removed r, ", "r")),
        # Every word goes and comes back: the lcp of any of them may change.
        _counting("changed", _remove("", "old"), _add("", "new")),
        f"""
CREATE FUNCTION {TRIGGER}_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE customer_words, customer_word_counts, customer_word_deltas;
    RETURN NULL;
END $$""",
    ]


def _triggers() -> list[str]:
    return [
        f"CREATE TRIGGER {TRIGGER}_insert AFTER INSERT ON customers "
        f"REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}_added()",
        f"CREATE TRIGGER {TRIGGER}_delete AFTER DELETE ON customers "
        f"REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}_removed()",
        f'CREATE TRIGGER {TRIGGER}_update AFTER UPDATE OF "searchText" ON customers FOR EACH ROW '
        f'WHEN (old."searchText" IS DISTINCT FROM new."searchText") '
        f"EXECUTE FUNCTION {TRIGGER}_changed()",
        f"CREATE TRIGGER {TRIGGER}_truncate AFTER TRUNCATE ON customers "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}_emptied()",
    ]
