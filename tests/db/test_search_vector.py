"""`searchVector` (migration 0004): PostgreSQL stores the search vector, with the first-word
marker, computed by the database from `searchText` on every write path; the migration fills it
for existing customers and downgrades to the expression index."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text, update

from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.db.tables import customers
from tests.conftest import BACKENDS
from tests.db.old_rows import old_customer
from tests.factories import make_customer

pytestmark = pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)


def _vector(db: Database, customer_id: str) -> str:
    with db.read() as conn:
        query = text('SELECT "searchVector"::text FROM customers WHERE id = :id')
        return str(conn.execute(query, {"id": customer_id}).scalar_one())


def _search_indexes(db: Database) -> dict[str, str]:
    with db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'customers' "
                "AND indexdef LIKE '%USING gin%'"
            )
        )
        return {name: definition for name, definition in rows}


def test_the_vector_holds_the_words_and_a_marker_of_the_first_word(database: Database) -> None:
    record = make_customer(database, name="Tan Mei Ling", email="mei@example.com")
    vector = _vector(database, record["id"])
    assert "'^tan'" in vector
    assert {"'tan'", "'mei'", "'example'"} <= set(vector.split())
    with database.transaction() as conn:
        changed = update(customers).where(customers.c.id == record["id"])
        conn.execute(changed.values(searchText="lim tan 0\U00010b78"))
    # The words as they are: PostgreSQL's parser would have made `0𐭸` into `0`.
    assert _vector(database, record["id"]) == "'0\U00010b78' '^lim' 'lim' 'tan'"


def test_upgrade_fills_the_vector_and_downgrade_restores_the_expression_index(
    unmigrated_postgresql: Database,
) -> None:
    db = unmigrated_postgresql
    migrate.upgrade(db, "0003")
    before = old_customer(db, name="Siti Aminah")
    migrate.upgrade(db, "0004")
    assert "'^siti'" in _vector(db, before["id"])
    assert list(_search_indexes(db)) == ["ix_customers_searchVector"]

    config = migrate._config()
    with db.transaction() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    [definition] = _search_indexes(db).values()
    assert "to_tsvector('simple'::regconfig, \"searchText\")" in definition
    with db.read() as conn:
        columns = text(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'customers' "
            "AND column_name = 'searchVector'"
        )
        assert conn.execute(columns).scalar_one() == 0
    migrate.upgrade(db)
    assert "'^siti'" in _vector(db, before["id"])
