"""customer counts kept by triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

`customer_counts` holds how many customers have each value of status, customerType, source,
assignedTo and country (null values are not stored: they are the total less the rest), how
many were created on each (UTC) day and how many not archived have a follow-up on each day,
and one `total` row with the number of customers, the sum of `totalRevenue` and how many have
revenue. Triggers on `customers` keep it in step with every write path (service, bulk, import, demo,
foreign-key SET NULL), so the statistics read about a thousand small rows (mostly days)
instead of a million.

* SQLite has one writer: each key is one row, updated in place by an upsert per changed row.
* PostgreSQL has concurrent writers, and one `total` row updated by every insert would queue
  them all on its row lock (and deadlock bulk updates that touch keys in different orders). So
  the table is append-only there: writers add signed deltas (per statement for inserts and
  deletes, from the transition tables; per changed row for updates), readers add them up, and
  every `COMPACT_EVERY`th trigger run folds the deltas into one row per key, skipped when
  another transaction is already doing it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The columns counted per value, in the order the triggers list them; then the days (UTC,
# 'YYYY-MM-DD') records were created on and have a follow-up on (archived records left out):
# the statistics add whole days from here and count only the partial days at the ends of a
# period on the index, whatever the period and time zone.
COLUMNS = ("status", "customerType", "source", "assignedTo", "country")
DAYS = {"createdDay": "createdAt", "followUpDay": "nextFollowUpAt"}
DIMENSIONS = (*COLUMNS, *DAYS)
TRACKED = (*COLUMNS, *DAYS.values(), "totalRevenue")
COMPACT_EVERY = 1000
# The pg_try_advisory_xact_lock key of the compaction: "ccnt" in ASCII (any unused constant).
COMPACT_LOCK = 0x63636E74


def upgrade() -> None:
    op.create_table(
        "customer_counts",
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("revenue", sa.Float(), server_default="0", nullable=False),
        sa.Column("earning", sa.BigInteger(), server_default="0", nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            'CREATE UNIQUE INDEX "ux_customer_counts_key" ON "customer_counts" ("dimension", "value")'
        )
        for statement in _sqlite_triggers():
            op.execute(statement)
    else:
        for statement in _postgres_triggers():
            op.execute(statement)
    _backfill(op.get_bind().dialect.name)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS customer_counts_{name}")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS customer_counts_{name} ON customers")
        for function in ("added", "removed", "changed", "tick", "compact"):
            op.execute(f"DROP FUNCTION IF EXISTS customer_counts_{function}()")
        op.execute("DROP SEQUENCE IF EXISTS customer_counts_ticks")
    op.drop_table("customer_counts")


# --- the rows a customer contributes ------------------------------------------------------------


def _q(column: str) -> str:
    return f'"{column}"'


def _value(dimension: str, row: str, dialect: str) -> str:
    """The SQL value `row` (new/old, or a table alias) has in `dimension` (null: not counted)."""
    if dimension in COLUMNS:
        return f"{row}.{_q(dimension)}"
    stamp = f"{row}.{_q(DAYS[dimension])}"
    # SQLite stores UTC ISO text: the day is its first ten characters.
    day = (
        f"substr({stamp}, 1, 10)"
        if dialect == "sqlite"
        else f"to_char({stamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    )
    if dimension == "followUpDay":
        return f"CASE WHEN {row}.{_q('status')} <> 'archived' THEN {day} END"
    return day


def _contribution(row: str, sign: str, dialect: str) -> str:
    """SELECT of (dimension, value, count, revenue, earning) that row `row` (new/old, or a
    table alias) adds with `sign` (1 or -1): the total row, then one per non-null value."""
    revenue = f"{row}.{_q('totalRevenue')}"
    parts = [
        f"SELECT 'total' AS dimension, '' AS value, {sign} AS n, "
        f"{sign} * {revenue} AS revenue, {sign} * ({revenue} > 0) AS earning"
    ]
    parts += [f"SELECT '{d}', {_value(d, row, dialect)}, {sign}, 0, 0" for d in DIMENSIONS]
    return " UNION ALL ".join(parts)


def _update_deltas(dialect: str) -> str:
    """SELECT of the deltas of one changed row: -old/+new for each value that changed, and the
    revenue difference on the total row."""
    revenue_changed = 'old."totalRevenue" IS DISTINCT FROM new."totalRevenue"'
    parts = [
        "SELECT 'total' AS dimension, '' AS value, 0 AS n, "
        'new."totalRevenue" - old."totalRevenue" AS revenue, '
        '(new."totalRevenue" > 0)::int - (old."totalRevenue" > 0)::int AS earning, '
        f"{revenue_changed} AS changed"
    ]
    for d in DIMENSIONS:
        old, new = _value(d, "old", dialect), _value(d, "new", dialect)
        changed = f"{old} IS DISTINCT FROM {new}"
        parts.append(f"SELECT '{d}', {old}, -1, 0, 0, {changed}")
        parts.append(f"SELECT '{d}', {new}, 1, 0, 0, {changed}")
    return " UNION ALL ".join(parts)


def _any_change() -> str:
    return " OR ".join(f"old.{_q(c)} IS DISTINCT FROM new.{_q(c)}" for c in TRACKED)


# --- SQLite ------------------------------------------------------------------------------------

_SQLITE_UPSERT = (
    'INSERT INTO customer_counts (dimension, value, "count", revenue, earning) '
    "SELECT dimension, value, n, revenue, earning FROM ({rows}) WHERE {where} "
    'ON CONFLICT (dimension, value) DO UPDATE SET "count" = "count" + excluded."count", '
    "revenue = revenue + excluded.revenue, earning = earning + excluded.earning"
)


def _sqlite_triggers() -> list[str]:
    # SQLite has no IS DISTINCT FROM or ::int; IS NOT is its null-safe inequality, and a
    # comparison is already 0 or 1.
    changes = _update_deltas("sqlite").replace("IS DISTINCT FROM", "IS NOT").replace("::int", "")
    columns = ", ".join(_q(c) for c in TRACKED)
    return [
        "CREATE TRIGGER customer_counts_insert AFTER INSERT ON customers BEGIN "
        + _SQLITE_UPSERT.format(rows=_contribution("new", "1", "sqlite"), where="value IS NOT NULL")
        + "; END",
        "CREATE TRIGGER customer_counts_delete AFTER DELETE ON customers BEGIN "
        + _SQLITE_UPSERT.format(
            rows=_contribution("old", "-1", "sqlite"), where="value IS NOT NULL"
        )
        + "; END",
        f"CREATE TRIGGER customer_counts_update AFTER UPDATE OF {columns} ON customers "
        f"WHEN {_any_change().replace('IS DISTINCT FROM', 'IS NOT')} BEGIN "
        + _SQLITE_UPSERT.format(rows=changes, where="changed AND value IS NOT NULL")
        + "; END",
    ]


# --- PostgreSQL --------------------------------------------------------------------------------

_PG_INSERT = 'INSERT INTO customer_counts (dimension, value, "count", revenue, earning) '


def _pg_statement_function(name: str, table: str, sign: str) -> str:
    """A statement-level trigger function: one delta row per key over all the rows the
    statement inserted or deleted (a batch of 20,000 rows adds a few dozen)."""
    lateral = ", ".join(f"('{d}', ({_value(d, 'r', 'postgresql')})::text)" for d in DIMENSIONS)
    revenue = 'r."totalRevenue"'
    return f"""
CREATE FUNCTION customer_counts_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_PG_INSERT}
    SELECT 'total', '', {sign} * count(*), {sign} * coalesce(sum({revenue}), 0),
           {sign} * count(*) FILTER (WHERE {revenue} > 0)
    FROM {table} r HAVING count(*) > 0
    UNION ALL
    SELECT d.dimension, d.value, {sign} * count(*), 0, 0
    FROM {table} r CROSS JOIN LATERAL (VALUES {lateral}) AS d(dimension, value)
    WHERE d.value IS NOT NULL GROUP BY d.dimension, d.value;
    PERFORM customer_counts_tick();
    RETURN NULL;
END $$"""


def _postgres_triggers() -> list[str]:
    columns = ", ".join(_q(c) for c in TRACKED)
    fold = 'sum("count"), sum(revenue), sum(earning)'
    return [
        "CREATE SEQUENCE customer_counts_ticks",
        # Fold every committed delta into one row per key. Rows other transactions have not
        # committed are invisible here, so they are neither deleted nor counted twice.
        f"""
CREATE FUNCTION customer_counts_compact() RETURNS void LANGUAGE sql AS $$
    WITH folded AS (DELETE FROM customer_counts RETURNING *)
    {_PG_INSERT}
    SELECT dimension, value, {fold} FROM folded GROUP BY dimension, value
    HAVING sum("count") <> 0 OR sum(revenue) <> 0 OR sum(earning) <> 0
$$""",
        f"""
CREATE FUNCTION customer_counts_tick() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Nested, not AND: the lock is only taken on a compacting tick.
    IF nextval('customer_counts_ticks') % {COMPACT_EVERY} = 0 THEN
        IF pg_try_advisory_xact_lock({COMPACT_LOCK}) THEN
            PERFORM customer_counts_compact();
        END IF;
    END IF;
END $$""",
        _pg_statement_function("added", "added", "1"),
        _pg_statement_function("removed", "removed", "-1"),
        f"""
CREATE FUNCTION customer_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_PG_INSERT}
    SELECT dimension, value::text, n, revenue, earning FROM ({_update_deltas("postgresql")}) AS d
    WHERE changed AND value IS NOT NULL;
    PERFORM customer_counts_tick();
    RETURN NULL;
END $$""",
        "CREATE TRIGGER customer_counts_insert AFTER INSERT ON customers "
        "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
        "EXECUTE FUNCTION customer_counts_added()",
        "CREATE TRIGGER customer_counts_delete AFTER DELETE ON customers "
        "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
        "EXECUTE FUNCTION customer_counts_removed()",
        f"CREATE TRIGGER customer_counts_update AFTER UPDATE OF {columns} ON customers "
        f"FOR EACH ROW WHEN ({_any_change()}) EXECUTE FUNCTION customer_counts_changed()",
    ]


# --- existing rows -----------------------------------------------------------------------------


def _backfill(dialect: str) -> None:
    """Count the rows already there: one GROUP BY per dimension over its index."""
    op.execute(
        f"{_PG_INSERT}"
        "SELECT 'total', '', count(*), coalesce(sum(\"totalRevenue\"), 0), "
        'coalesce(sum(CASE WHEN "totalRevenue" > 0 THEN 1 ELSE 0 END), 0) FROM customers '
        # No row at all for no customers: a fresh database's tables are all empty.
        "HAVING count(*) > 0"
    )
    for d in DIMENSIONS:
        value = _value(d, "customers", dialect)
        op.execute(
            f"{_PG_INSERT}SELECT '{d}', {value}, count(*), 0, 0 FROM customers "
            f"WHERE {value} IS NOT NULL GROUP BY {value}"
        )
