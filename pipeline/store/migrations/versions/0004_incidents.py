"""incidents: incident records, linked reports, the (type, cell, day) lookup, merges

Revision ID: 0004_incidents
Revises: 0003_item_leases
Create Date: 2026-12-05 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pipeline.store.tables

revision: str = "0004_incidents"
down_revision: str | None = "0003_item_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = pipeline.store.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("first_day", sa.Integer(), nullable=False),
        sa.Column("last_day", sa.Integer(), nullable=False),
        sa.Column("first_report", UTC(timezone=True), nullable=True),
        sa.Column("last_report", UTC(timezone=True), nullable=True),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("merged_into", sa.String(length=40), nullable=True),
        sa.Column("index_state", sa.String(length=10), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_last_report", "incidents", ["last_report"])
    op.create_index("ix_incidents_type_day", "incidents", ["type", "first_day"])
    op.create_table(
        "incident_reports",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("linked_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_incident_reports_incident", "incident_reports", ["incident_id"])
    op.create_index("ix_incident_reports_article", "incident_reports", ["article_id"])
    op.create_index("ix_incident_reports_linked", "incident_reports", ["linked_at"])
    op.create_table(
        "incident_keys",
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("cell", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("type", "cell", "day", "incident_id"),
    )
    op.create_table(
        "incident_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("other_id", sa.String(length=40), nullable=False),
        sa.Column("mention", sa.String(length=80), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "incident_articles",
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("linked_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("article_id"),
    )


def downgrade() -> None:
    op.drop_table("incident_articles")
    op.drop_table("incident_changes")
    op.drop_table("incident_keys")
    op.drop_index("ix_incident_reports_linked", table_name="incident_reports")
    op.drop_index("ix_incident_reports_article", table_name="incident_reports")
    op.drop_index("ix_incident_reports_incident", table_name="incident_reports")
    op.drop_table("incident_reports")
    op.drop_index("ix_incidents_type_day", table_name="incidents")
    op.drop_index("ix_incidents_last_report", table_name="incidents")
    op.drop_table("incidents")
