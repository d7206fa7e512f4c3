"""The tracker's tables (SQLAlchemy Core), the shape the migrations build.

Times are stored as Unix seconds (``BIGINT``), not as SQL timestamps: the
model's times are UTC to the second, an integer means the same thing in
SQLite and PostgreSQL (SQLite has no timestamp type; its ISO strings sort
but convert slowly) and a million rows are written without a datetime
conversion each. Tags and a change's detail are JSON text, which both
databases store and compare the same way.

The migrations under ``migrations/versions`` must build exactly these
tables: ``tests/test_tracker_store.py`` compares a migrated database with
this metadata (alembic's ``compare_metadata``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

__all__ = ["metadata", "indicators", "changes", "exports", "ID"]

metadata = MetaData()

# SQLite makes an INTEGER PRIMARY KEY the rowid (autoincrementing); a BIGINT one is not.
ID = BigInteger().with_variant(Integer(), "sqlite")

indicators = Table(
    "indicators", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("value", String(2048), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("family", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("first_seen", BigInteger),
    Column("last_seen", BigInteger),
    Column("last_online", BigInteger),
    Column("last_checked", BigInteger),
    Column("asn", BigInteger),
    Column("as_name", Text),
    Column("country", String(2)),
    Column("source", Text, nullable=False),
    Column("confidence", Integer, nullable=False),
    Column("tags", Text, nullable=False),  # JSON array of strings
    Column("notes", Text, nullable=False),
    Column("checkins", BigInteger),
    Column("revision", Integer, nullable=False),
    Column("updated", BigInteger),
    Index("ix_indicators_family", "family"),
    Index("ix_indicators_status", "status"),
    Index("ix_indicators_last_seen", "last_seen"),
    Index("ix_indicators_last_checked", "last_checked"),
)

changes = Table(
    "changes", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("indicator_id", ID, ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("old", String(16)),  # NULL: the indicator was created
    Column("new", String(16), nullable=False),
    Column("by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=False),  # JSON object
    Index("ix_changes_indicator_id", "indicator_id"),
    Index("ix_changes_at", "at"),
)

exports = Table(
    "exports", metadata,
    Column("format", String(64), primary_key=True),
    Column("serial", BigInteger, nullable=False),
    Column("exported_at", BigInteger, nullable=False),
)
