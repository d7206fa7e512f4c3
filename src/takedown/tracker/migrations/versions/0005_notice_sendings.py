"""Every sending of the notice to the defendants (takedown.case.sendings).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out here, not imported: a migration keeps building what it built.
    op.create_table(
        "notice_sendings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notice", sa.String(64), nullable=False),
        sa.Column("case_number", sa.String(200), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_notice_sendings_notice_address", "notice_sendings", ["notice", "address"])


def downgrade() -> None:
    op.drop_index("ix_notice_sendings_notice_address", table_name="notice_sendings")
    op.drop_table("notice_sendings")
