"""The date each seized name was first verified (takedown.case.history).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out here, not imported: a migration keeps building what it built.
    op.create_table(
        "seizure_verifications",
        sa.Column("name", sa.String(253), primary_key=True),
        sa.Column("first_verified", sa.BigInteger, nullable=False),
        sa.Column("checks", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("seizure_verifications")
