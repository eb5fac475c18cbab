"""item leases: an owner and an expiry on a feed item while one process fetches it

Two ingests (or two Airflow fetch tasks) on one state claim items before
fetching them, so each page is fetched once and its item ends ``done``.

Revision ID: 0003_item_leases
Revises: 0002
Create Date: 2026-12-05 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pipeline.store.tables

revision: str = "0003_item_leases"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=80), nullable=True))
        batch.add_column(
            sa.Column(
                "lease_until", pipeline.store.tables.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
