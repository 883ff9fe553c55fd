"""Reading a segment whose statement was built once: its parameters go with every statement
derived from it, the windows of a PostgreSQL search's scan included."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from clientbook.db.engine import Database
from clientbook.db.tables import customers
from clientbook.query import reading
from clientbook.query.reading import SegmentStatements
from tests.factories import make_customer


def test_a_windowed_scan_binds_the_statements_parameters(database: Database) -> None:
    for name in ("Ada", "Bob", "Ada", "Cy"):
        make_customer(database, name=name)
    seq = customers.c.seq
    named = select(customers.c.name, seq).where(customers.c.name == bindparam("name"))
    segment = SegmentStatements(
        named.order_by(seq),
        forced=lambda edge: named.order_by(seq),  # not reached: every window is dense
        seq=seq,
        params={"name": "Ada"},
    )
    with database.read() as conn:
        rows = reading._read_windowed(conn, segment, wanted=5)
    assert [row["name"] for row in rows] == ["Ada", "Ada"]
