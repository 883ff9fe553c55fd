"""The schema as SQLAlchemy Core tables: the single source the queries and migrations use.

Column names are the API's attribute names (camelCase, as the seed spells them), so that a row
read from the database already has the keys of the JSON it becomes. The `$`-prefixed system
fields map to `id`, `seq` (`$sequence`), `createdAt` and `updatedAt`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from clientbook.db.types import Timestamp
from clientbook.domain import enums

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only makes `INTEGER PRIMARY KEY` an alias of the rowid.
Sequence = BigInteger().with_variant(Integer(), "sqlite")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f'"{column}" IN ({quoted})'


def _system_columns() -> list[Column]:
    """`seq` orders by creation and is never reused; `id` is the public `$id`."""
    return [
        Column("seq", Sequence, primary_key=True, autoincrement=True),
        Column("id", String(36), nullable=False, unique=True),
        Column("createdAt", Timestamp, nullable=False),
        Column("updatedAt", Timestamp, nullable=False),
    ]


def _sized(name: str, size: int, **kwargs: Any) -> Column:
    """A text column whose size the database checks too (SQLite ignores VARCHAR sizes)."""
    return Column(name, String(size), info={"checked_length": size}, **kwargs)


def _check_lengths(table: Table) -> Table:
    for column in table.columns:
        size = column.info.get("checked_length")
        if size:
            name = f"{column.name}_length"
            table.append_constraint(CheckConstraint(f'length("{column.name}") <= {size}', name))
    return table


users = _check_lengths(
    Table(
        "users",
        metadata,
        *_system_columns(),
        _sized("email", 255, nullable=True),
        # Derived from `email` where it is written (`domain.text.email_folded`); never shown.
        Column("emailFolded", String(255), nullable=True),
        _sized("name", 128, nullable=False, server_default=""),
        Column("passwordHash", String(255), nullable=True),
        Column("passwordUpdatedAt", Timestamp, nullable=True),
        Column("role", String(20), nullable=False, server_default="user"),
        Column("status", String(20), nullable=False, server_default="active"),
        Column("lastLoginAt", Timestamp, nullable=True),
        CheckConstraint(_one_of("role", enums.USER_ROLES), name="role"),
        CheckConstraint(_one_of("status", enums.USER_STATUSES), name="status"),
        CheckConstraint('"email" IS NOT NULL OR "status" = \'invited\'', name="email_required"),
        Index("ix_users_role_status", "role", "status"),
        Index("ix_users_role_seq", "role", "seq"),
        Index("ix_users_status_seq", "status", "seq"),
        Index("ix_users_name", "name"),
        Index("ix_users_createdAt", "createdAt"),
        sqlite_autoincrement=True,
    )
)


def _user_ref(name: str, *, on_delete: str, nullable: bool = True) -> Column:
    return Column(name, String(36), ForeignKey("users.id", ondelete=on_delete), nullable=nullable)


customers = _check_lengths(
    Table(
        "customers",
        metadata,
        *_system_columns(),
        Column("version", Integer, nullable=False, server_default="1"),
        _user_ref("userId", on_delete="RESTRICT", nullable=False),
        _sized("name", 200, nullable=False),
        _sized("email", 255, nullable=True),
        _sized("phone", 50, nullable=True),
        _sized("company", 200, nullable=True),
        _sized("jobTitle", 100, nullable=True),
        _sized("address", 500, nullable=True),
        _sized("city", 100, nullable=True),
        _sized("state", 100, nullable=True),
        _sized("zipCode", 20, nullable=True),
        _sized("country", 100, nullable=True),
        _sized("website", 255, nullable=True),
        Column("status", String(20), nullable=False, server_default="active"),
        _user_ref("assignedTo", on_delete="SET NULL"),
        Column("source", String(50), nullable=True),
        _sized("industry", 100, nullable=True),
        Column("customerType", String(50), nullable=False, server_default="individual"),
        _sized("currency", 3, nullable=True, server_default="MYR"),
        _sized("language", 10, nullable=True, server_default="en"),
        _sized("timezone", 50, nullable=True),
        _sized("notes", 5000, nullable=True),
        _sized("metadata", 5000, nullable=True),
        Column("lastContactAt", Timestamp, nullable=True),
        Column("nextFollowUpAt", Timestamp, nullable=True),
        Column("totalRevenue", Float, nullable=False, server_default="0"),
        Column("totalInvoices", Integer, nullable=False, server_default="0"),
        _user_ref("createdBy", on_delete="SET NULL"),
        _user_ref("updatedBy", on_delete="SET NULL"),
        # Derived, kept in step by the service layer on every write; never set by a client.
        Column("phoneNormalized", String(32), nullable=True),
        Column("phoneValid", Boolean, nullable=True),
        Column("emailFolded", String(255), nullable=True),
        Column("emailKey", String(255), nullable=True),
        Column("duplicateNameKey", String(320), nullable=True),
        Column("searchText", Text, nullable=False, server_default=""),
        # PostgreSQL also has "searchVector", generated from searchText (migration 0004); it is
        # not declared here, so that no insert writes it and no read returns it.
        CheckConstraint(_one_of("status", enums.CUSTOMER_STATUSES), name="status"),
        CheckConstraint(_one_of("customerType", enums.CUSTOMER_TYPES), name="customerType"),
        CheckConstraint(
            f'"source" IS NULL OR {_one_of("source", enums.CUSTOMER_SOURCES)}', name="source"
        ),
        CheckConstraint('"totalRevenue" >= 0', name="totalRevenue"),
        CheckConstraint('"totalInvoices" >= 0', name="totalInvoices"),
        sqlite_autoincrement=True,
    )
)

customer_tags = Table(
    "customer_tags",
    metadata,
    Column(
        "customerId",
        String(36),
        ForeignKey("customers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # `tagKey` is the case-folded tag (up to 3x longer: "ß" folds to "ss"); filters compare on it.
    Column("tagKey", String(200), primary_key=True),
    Column("tag", String(50), nullable=False),
    Index("ix_customer_tags_tagKey", "tagKey", "customerId"),
)

# Kept by triggers on `customers` (migration 0002), never written by the application: how many
# customers have each `value` of a `dimension` (status, customerType, source, assignedTo and
# country, nulls not stored; createdDay and followUpDay, UTC days as 'YYYY-MM-DD'), and the
# `total` row (value '') with the revenue sum and how many customers have revenue (`earning`).
# On PostgreSQL rows are signed deltas, several per key until the triggers compact them, so a
# reader always sums per key.
customer_counts = Table(
    "customer_counts",
    metadata,
    Column("dimension", String(20), nullable=False),
    Column("value", String(100), nullable=False),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("revenue", Float, nullable=False, server_default="0"),
    Column("earning", BigInteger, nullable=False, server_default="0"),
)

customer_interactions = _check_lengths(
    Table(
        "customer_interactions",
        metadata,
        *_system_columns(),
        Column(
            "customerId", String(36), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
        ),
        Column("type", String(20), nullable=False),
        Column("direction", String(20), nullable=True),
        _sized("subject", 200, nullable=False),
        _sized("description", 5000, nullable=True),
        Column("occurredAt", Timestamp, nullable=False),
        Column("durationMinutes", Integer, nullable=True),
        _sized("outcome", 100, nullable=True),
        Column("visibility", String(20), nullable=False, server_default="shared"),
        _user_ref("createdBy", on_delete="SET NULL"),
        CheckConstraint(_one_of("type", enums.INTERACTION_TYPES), name="type"),
        CheckConstraint(
            f'"direction" IS NULL OR {_one_of("direction", enums.INTERACTION_DIRECTIONS)}',
            name="direction",
        ),
        CheckConstraint(_one_of("visibility", enums.VISIBILITIES), name="visibility"),
        CheckConstraint(
            '"durationMinutes" IS NULL OR "durationMinutes" BETWEEN 0 AND 1440',
            name="durationMinutes",
        ),
        sqlite_autoincrement=True,
    )
)

customer_notes = _check_lengths(
    Table(
        "customer_notes",
        metadata,
        *_system_columns(),
        Column(
            "customerId", String(36), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
        ),
        _sized("title", 200, nullable=True),
        _sized("content", 10000, nullable=False),
        Column("category", String(20), nullable=False, server_default="general"),
        Column("isPinned", Boolean, nullable=False, server_default="0"),
        Column("visibility", String(20), nullable=False, server_default="shared"),
        _user_ref("createdBy", on_delete="SET NULL"),
        _user_ref("updatedBy", on_delete="SET NULL"),
        CheckConstraint(_one_of("category", enums.NOTE_CATEGORIES), name="category"),
        CheckConstraint(_one_of("visibility", enums.VISIBILITIES), name="visibility"),
        sqlite_autoincrement=True,
    )
)

audit_logs = Table(
    "audit_logs",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("occurredAt", Timestamp, nullable=False),
    Column("actorType", String(20), nullable=False),
    Column("actorId", String(36), nullable=True),
    Column("action", String(64), nullable=False),
    Column("entityType", String(32), nullable=False),
    Column("entityId", String(36), nullable=True),
    Column("changes", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("requestId", String(64), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("userAgent", String(512), nullable=True),
    CheckConstraint(_one_of("actorType", enums.ACTOR_KINDS), name="actorType"),
    Index("ix_audit_logs_entity", "entityType", "entityId", "seq"),
    Index("ix_audit_logs_entityType_seq", "entityType", "seq"),
    Index("ix_audit_logs_actor", "actorId", "seq"),
    Index("ix_audit_logs_action", "action", "seq"),
    Index("ix_audit_logs_occurredAt", "occurredAt"),
    sqlite_autoincrement=True,
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("userId", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("tokenHash", String(64), nullable=False, unique=True),
    Column("createdAt", Timestamp, nullable=False),
    Column("expiresAt", Timestamp, nullable=False),
    Column("lastUsedAt", Timestamp, nullable=True),
    Column("ip", String(64), nullable=True),
    Column("userAgent", String(512), nullable=True),
    Index("ix_sessions_userId", "userId"),
)

api_keys = _check_lengths(
    Table(
        "api_keys",
        metadata,
        Column("id", String(36), primary_key=True),
        _sized("name", 100, nullable=False),
        Column("prefix", String(16), nullable=False),
        Column("keyHash", String(64), nullable=False, unique=True),
        Column("createdAt", Timestamp, nullable=False),
        Column("lastUsedAt", Timestamp, nullable=True),
        Column("revokedAt", Timestamp, nullable=True),
        _user_ref("createdBy", on_delete="SET NULL"),
    )
)

# One-time links that let an invited account set its password (only the hash is kept).
invitations = Table(
    "invitations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("userId", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("tokenHash", String(64), nullable=False, unique=True),
    Column("createdAt", Timestamp, nullable=False),
    Column("expiresAt", Timestamp, nullable=False),
    _user_ref("createdBy", on_delete="SET NULL"),
    Index("ix_invitations_userId", "userId"),
)

login_throttle = Table(
    "login_throttle",
    metadata,
    # `key` is `account:<email>` or `ip:<address>`.
    Column("key", String(320), primary_key=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("windowStart", Timestamp, nullable=False),
    Column("lockedUntil", Timestamp, nullable=True),
)

import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("format", String(10), nullable=False),
    Column("options", Text, nullable=False, server_default="{}"),
    Column("totalRows", Integer, nullable=True),
    Column("processedRows", Integer, nullable=False, server_default="0"),
    Column("report", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("actorType", String(20), nullable=False),
    Column("actorId", String(36), nullable=True),
    Column("createdAt", Timestamp, nullable=False),
    Column("updatedAt", Timestamp, nullable=False),
    Column("finishedAt", Timestamp, nullable=True),
    CheckConstraint("\"status\" IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
)

# The seed's "email (unique recommended)", made race-free and case-insensitive for every letter
# (migration 0008; SQLite's own lower() folds ASCII only). They also serve sorting by email.
Index("ux_users_emailFolded", users.c.emailFolded, unique=True)
Index("ux_customers_emailFolded", customers.c.emailFolded, unique=True)
Index("ux_customers_userId", customers.c.userId, unique=True)
