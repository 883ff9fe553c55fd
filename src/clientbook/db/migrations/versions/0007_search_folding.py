"""search words fold the letters Unicode does not decompose (đ ø ł æ ...)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

`domain.text.fold` now maps them to the letters their readers type (`UNDECOMPOSED`): `q=doan`
finds "Đoàn" (SPEC §7: accent-insensitive). A record's `searchText` and `duplicateNameKey` are
its folded words, so the records holding such a letter in either get them refolded here. The old
fold kept these letters inside their words, so mapping each stored word gives what deriving the
columns anew gives, without the phone's region (a setting) or the record's other fields. The
search indexes follow `searchText`: SQLite's FTS5 triggers, PostgreSQL's generated vector and the
word triggers of 0006. One pass over `customers`; only the few matching rows are written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clientbook.domain.text import UNDECOMPOSED

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TABLE = str.maketrans(UNDECOMPOSED)
_BATCH = 1000
customers = sa.table(
    "customers",
    sa.column("id", sa.String),
    sa.column("searchText", sa.Text),
    sa.column("duplicateNameKey", sa.String),
)


def refold_search_text(text: str) -> str:
    return " ".join(dict.fromkeys(word.translate(_TABLE) for word in text.split(" ") if word))


def refold_name_key(key: str) -> str:
    """`domain.customers._name_key`: company words as they come, `|`, name words sorted."""
    company, _, name = key.partition("|")
    name_words = sorted(word.translate(_TABLE) for word in name.split(" ") if word)
    return (company.translate(_TABLE) + "|" + " ".join(name_words))[:320]


def upgrade() -> None:
    conn = op.get_bind()
    holds = [
        column.contains(letter, autoescape=True)
        for letter in UNDECOMPOSED
        for column in (customers.c.searchText, customers.c.duplicateNameKey)
    ]
    found = conn.execute(
        sa.select(customers.c.id, customers.c.searchText, customers.c.duplicateNameKey).where(
            sa.or_(*holds)
        )
    ).all()
    changes = [
        {
            "_id": row.id,
            "searchText": refold_search_text(row.searchText or ""),
            "duplicateNameKey": None if row.duplicateNameKey is None
            else refold_name_key(row.duplicateNameKey),
        }
        for row in found
    ]  # fmt: skip
    statement = (
        sa.update(customers)
        .where(customers.c.id == sa.bindparam("_id"))
        .values(
            searchText=sa.bindparam("searchText"),
            duplicateNameKey=sa.bindparam("duplicateNameKey"),
        )
    )
    for start in range(0, len(changes), _BATCH):
        conn.execute(statement, changes[start : start + _BATCH])


def downgrade() -> None:
    """Nothing to undo: the old fold's words differ only in the letters it kept."""
