"""Migration 0007: the stored search words and name keys of records holding a letter Unicode does
not decompose (đ ø ł æ ...) are refolded, so that `q=doan` finds "Đoàn" on either backend."""

from __future__ import annotations

from sqlalchemy import select, update

from clientbook.access import SYSTEM
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.db.tables import customers
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.services import customers as customer_service
from tests.db.old_rows import old_customer

# What the fold before 0007 stored for this record: the letters kept inside their words.
NAME, COMPANY = "Đoàn Văn Hải", "Bjørn Æsir"
OLD_SEARCH_TEXT = "đoan van hai doan example com bjørn æsir"
OLD_NAME_KEY = "bjørn æsir|hai van đoan"


def _found(db: Database, q: str) -> list[str]:
    query = parse_list_query(CUSTOMERS, [("q", q)])
    with db.read() as conn:
        return [row["id"] for row in customer_service.list_customers(conn, SYSTEM, query).rows]


def test_upgrade_refolds_what_the_old_fold_stored(unmigrated: Database) -> None:
    db = unmigrated
    migrate.upgrade(db, "0006")
    record = old_customer(db, name=NAME, company=COMPANY, email="doan@example.com")
    plain = old_customer(db, name="Tan Mei Ling")
    with db.read() as conn:
        columns = (customers.c.searchText, customers.c.duplicateNameKey)
        derived = conn.execute(select(*columns).where(customers.c.id == record["id"])).one()
    with db.transaction() as conn:
        conn.execute(
            update(customers)
            .where(customers.c.id == record["id"])
            .values(searchText=OLD_SEARCH_TEXT, duplicateNameKey=OLD_NAME_KEY)
        )
    assert _found(db, "bjorn") == []

    migrate.upgrade(db)

    with db.read() as conn:
        rows = {r.id: r for r in conn.execute(select(customers.c.id, *columns))}
    assert (rows[record["id"]].searchText, rows[record["id"]].duplicateNameKey) == tuple(derived)
    assert rows[record["id"]].searchText == "doan van hai example com bjorn aesir"
    assert rows[plain["id"]].searchText == "tan mei ling"
    for q in ("doan", "Đoàn", "bjorn", "bjørn", "aesir hai"):
        assert _found(db, q) == [record["id"]], q
