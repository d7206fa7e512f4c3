"""Export serials: each format's serial (the RPZ's SOA serial) and last export time.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("format", sa.String(64), primary_key=True),
        sa.Column("serial", sa.BigInteger, nullable=False),
        sa.Column("exported_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exports")
