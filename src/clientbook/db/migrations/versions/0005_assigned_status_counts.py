"""customers per (assignedTo, status) kept by triggers; the counters indexed on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

"A rep's active customers" (`assignedTo=X&status=active`) is the console's everyday list, and
its total was counted over the (assignedTo, status, name) index: 57-75 ms on PostgreSQL (three
parallel processes, busy machine) for a rep's 186,000 active records in 1M. `customer_counts`
(migration 0002) counts each column on its own, which cannot give the pair, so this adds the
dimension `assignedToStatus`, valued `<assignedTo>|<status>` (status is last and never holds
`|`; unassigned records are not counted), kept by triggers of their own in the way 0002's are:
on SQLite an upsert per changed row; on PostgreSQL signed deltas, per statement from the
transition tables for inserts and deletes and per changed row for updates, folded by 0002's
compaction with the rest.

On PostgreSQL the counters had no index: readers of a few keys scanned the whole table, which
every compaction (a DELETE of all rows and an INSERT of their sums) leaves full of dead rows;
after loading 1M customers with autovacuum off it held 902 live rows in 543 MB, and reading
the `status` counters took 460 ms. The index on (dimension, value) reads a key's rows alone
(0.1 ms). (SQLite already has its unique index on them.)
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DIMENSION = "assignedToStatus"
SEPARATOR = "|"
# Not named customer_counts_*: those are migration 0002's.
TRIGGER = "customer_pair_counts"
PG_INDEX = "ix_customer_counts_key"
_INSERT = 'INSERT INTO customer_counts (dimension, value, "count") '


def pair(row: str) -> str:
    """The SQL key of `row` (new/old, or a table alias); null for an unassigned record."""
    return f"{row}.\"assignedTo\" || '{SEPARATOR}' || {row}.status"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        statements = _sqlite_triggers()
    else:
        statements = [f'CREATE INDEX "{PG_INDEX}" ON customer_counts (dimension, value)']
        statements += _postgres_triggers()
    for statement in statements:
        op.execute(statement)
    op.execute(
        f"{_INSERT}SELECT '{DIMENSION}', {pair('customers')}, count(*) FROM customers "
        'WHERE "assignedTo" IS NOT NULL GROUP BY "assignedTo", status'
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}_{name}")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}_{name} ON customers")
        for function in ("added", "removed", "changed"):
            op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}_{function}()")
        op.execute(f'DROP INDEX IF EXISTS "{PG_INDEX}"')
    op.execute(f"DELETE FROM customer_counts WHERE dimension = '{DIMENSION}'")


_CHANGED = 'old."assignedTo" IS {differs} new."assignedTo" OR old.status IS {differs} new.status'


def _sqlite_upsert(row: str, sign: str) -> str:
    # The WHERE also keeps SQLite from reading ON CONFLICT as a join's ON.
    return (
        f"{_INSERT}SELECT '{DIMENSION}', {pair(row)}, {sign} WHERE {row}.\"assignedTo\" IS NOT NULL "
        'ON CONFLICT (dimension, value) DO UPDATE SET "count" = "count" + excluded."count"'
    )


def _sqlite_triggers() -> list[str]:
    return [
        f"CREATE TRIGGER {TRIGGER}_insert AFTER INSERT ON customers BEGIN "
        f"{_sqlite_upsert('new', '1')}; END",
        f"CREATE TRIGGER {TRIGGER}_delete AFTER DELETE ON customers BEGIN "
        f"{_sqlite_upsert('old', '-1')}; END",
        f'CREATE TRIGGER {TRIGGER}_update AFTER UPDATE OF "assignedTo", status ON customers '
        f"WHEN {_CHANGED.format(differs='NOT')} BEGIN "
        f"{_sqlite_upsert('old', '-1')}; {_sqlite_upsert('new', '1')}; END",
    ]


def _pg_statement_function(name: str, table: str, sign: str) -> str:
    return f"""
CREATE FUNCTION {TRIGGER}_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_INSERT}
    SELECT '{DIMENSION}', {pair("r")}, {sign} * count(*) FROM {table} r
    WHERE r."assignedTo" IS NOT NULL GROUP BY r."assignedTo", r.status;
    RETURN NULL;
END $$"""


def _postgres_triggers() -> list[str]:
    return [
        _pg_statement_function("added", "added", "1"),
        _pg_statement_function("removed", "removed", "-1"),
        f"""
CREATE FUNCTION {TRIGGER}_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_INSERT}
    SELECT '{DIMENSION}', d.value, d.n
    FROM (VALUES ({pair("old")}, -1), ({pair("new")}, 1)) AS d(value, n)
    WHERE d.value IS NOT NULL;
    RETURN NULL;
END $$""",
        f"CREATE TRIGGER {TRIGGER}_insert AFTER INSERT ON customers "
        f"REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}_added()",
        f"CREATE TRIGGER {TRIGGER}_delete AFTER DELETE ON customers "
        f"REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}_removed()",
        f'CREATE TRIGGER {TRIGGER}_update AFTER UPDATE OF "assignedTo", status ON customers '
        f"FOR EACH ROW WHEN ({_CHANGED.format(differs='DISTINCT FROM')}) "
        f"EXECUTE FUNCTION {TRIGGER}_changed()",
    ]
