"""invitation links for invited accounts; account lists by role or status

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

An invited account (created by staff, by a staff import, or with a new customer record) has no
password. Staff issue it a one-time link; the person who opens it sets a password and the
account becomes active. Only the link's sha256 is stored, like session tokens and API keys.

Accounts filtered by role alone or status alone (the console's users page, `GET /api/users`)
walked every account in creation order, and the audit log filtered by entity type alone sorted
every entry of that type; an index on each, ending in `seq` like the customers' indexes,
answers them with one ordered range.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clientbook.db.types import Timestamp

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "userId",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tokenHash", sa.String(64), nullable=False, unique=True),
        sa.Column("createdAt", Timestamp(), nullable=False),
        sa.Column("expiresAt", Timestamp(), nullable=False),
        sa.Column(
            "createdBy",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index("ix_invitations_userId", "invitations", ["userId"])
    op.create_index("ix_users_role_seq", "users", ["role", "seq"])
    op.create_index("ix_users_status_seq", "users", ["status", "seq"])
    op.create_index("ix_audit_logs_entityType_seq", "audit_logs", ["entityType", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_logs_entityType_seq", table_name="audit_logs")
    op.drop_index("ix_users_status_seq", table_name="users")
    op.drop_index("ix_users_role_seq", table_name="users")
    op.drop_index("ix_invitations_userId", table_name="invitations")
    op.drop_table("invitations")
