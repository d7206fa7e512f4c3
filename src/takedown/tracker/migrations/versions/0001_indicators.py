"""Indicators and the history of their status.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The tables as this revision made them: a migration never imports the
# current schema, which later revisions change.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("value", sa.String(2048), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("family", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.BigInteger),
        sa.Column("last_seen", sa.BigInteger),
        sa.Column("last_online", sa.BigInteger),
        sa.Column("last_checked", sa.BigInteger),
        sa.Column("asn", sa.BigInteger),
        sa.Column("as_name", sa.Text),
        sa.Column("country", sa.String(2)),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("confidence", sa.Integer, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("checkins", sa.BigInteger),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated", sa.BigInteger),
    )
    for col in ("family", "status", "last_seen", "last_checked"):
        op.create_index(f"ix_indicators_{col}", "indicators", [col])
    op.create_table(
        "changes",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("indicator_id", ID, sa.ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("old", sa.String(16)),
        sa.Column("new", sa.String(16), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_changes_indicator_id", "changes", ["indicator_id"])
    op.create_index("ix_changes_at", "changes", ["at"])


def downgrade() -> None:
    op.drop_table("changes")
    op.drop_table("indicators")
