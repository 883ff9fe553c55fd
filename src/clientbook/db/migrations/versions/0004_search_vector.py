"""a stored search vector for customer search on PostgreSQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

PostgreSQL's full-text index was an expression index, `gin (to_tsvector('simple', searchText))`:
every row a window scan passed, and every match the index handed back for a recheck, recomputed
`to_tsvector` (~8 µs a row). `searchVector` stores the vector once per write, and the GIN index
is built on it. The vector holds the words of `searchText` verbatim (already folded by
`domain.text`), not `to_tsvector`'s: PostgreSQL's parser splits some of them differently.

The vector also holds one marker lexeme, `^` followed by the first word of `searchText` (the
name's first word, see `domain.customers.derive_customer_columns`), so that "the name starts
with the query's first word" (search tier 1, as SQLite's FTS5 `^"w1"*`) is a prefix query the
index answers exactly: `'^w1':*`. No query lexeme can start with `^`: search words are letters
and digits only (`domain.text.words`).

SQLite keeps its FTS5 table; nothing changes there. The column is PostgreSQL's alone and is not
declared in `db.tables`, so no insert writes it and no read returns it.

Adding a stored column rewrites the table (about a minute per million customers here) and leaves
its visibility map empty: run `VACUUM (ANALYZE) customers` afterwards on a large database, or
index-only scans visit the table until autovacuum comes by.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The words of searchText as they are (no text-search parser: it would split words that
# `domain.text.words` keeps whole, such as `0𐭸`), and the marker.
SEARCH_VECTOR = (
    "array_to_tsvector(array_append(array_remove(string_to_array(\"searchText\", ' '), ''), "
    "'^' || split_part(\"searchText\", ' ', 1)))"
)
OLD_INDEX = (
    'CREATE INDEX "ix_customers_search" ON "customers" '
    "USING gin (to_tsvector('simple', \"searchText\"))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Dropped first, so that the rewrite does not rebuild it (recomputing every vector).
    op.execute('DROP INDEX "ix_customers_search"')
    op.execute(
        'ALTER TABLE "customers" ADD COLUMN "searchVector" tsvector '
        f"GENERATED ALWAYS AS ({SEARCH_VECTOR}) STORED"
    )
    op.execute('CREATE INDEX "ix_customers_searchVector" ON "customers" USING gin ("searchVector")')
    # The planner's lexeme statistics for the new column (an ANALYZE of one column is quick).
    op.execute('ANALYZE "customers" ("searchVector")')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute('ALTER TABLE "customers" DROP COLUMN "searchVector"')  # drops its index too
    op.execute(OLD_INDEX)
