"""The first schema: users and their sessions, sites and zones, officers' sites, leases, audit.

Revision ID: 0001
Revises:
Create Date: 2026-12-08

Written by hand, frozen: it never imports the models, so a later change to `db.py` cannot change what this did.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)  # UTC (db.UtcDateTime)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("failed_count", sa.Integer, nullable=False),
        sa.Column("locked_until", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("password_changed_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_sessions_token_hash"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sessions_user_id", ondelete="CASCADE"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("max_override_s", sa.Float, nullable=False),
        sa.Column("registered_at", TIME, nullable=False),
        sa.Column("source_path", sa.Text, nullable=False),
        sa.Column("source_text", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
    )
    op.create_table(
        "user_sites",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "site", name="pk_user_sites"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_user_sites_user_id", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site"], ["sites.id"], name="fk_user_sites_site", ondelete="CASCADE"),
    )
    op.create_table(
        "zones",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("site", "zone", name="pk_zones"),
        sa.ForeignKeyConstraint(["site"], ["sites.id"], name="fk_zones_site", ondelete="CASCADE"),
    )
    op.create_table(
        "leases",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date, nullable=False),
        sa.Column("ended", sa.Date, nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("ended_by", sa.String(100), nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_leases"),
        sa.ForeignKeyConstraint(["tenant_id"], ["users.id"], name="fk_leases_tenant_id"),
        sa.ForeignKeyConstraint(["site", "zone"], ["zones.site", "zones.zone"], name="fk_leases_site_zone"),
    )
    op.create_index("ix_leases_tenant_id", "leases", ["tenant_id"])
    op.create_index("ix_leases_site_zone", "leases", ["site", "zone"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("username", sa.String(100), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("zone", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("command_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_time", "audit", ["time"])
    op.create_index("ix_audit_username", "audit", ["username"])


def downgrade() -> None:
    for table in ("audit", "leases", "zones", "user_sites", "sites", "sessions", "users"):
        op.drop_table(table)
