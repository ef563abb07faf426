"""Dossiers, pieces and their append-only status history.

Revision ID: 0001
Revises:
Create Date: 2024-11-23
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _amount() -> sa.types.TypeEngine[Any]:
    # SQLite numbers are binary floats: money is kept as a decimal string there.
    return sa.Numeric(19, 2).with_variant(sa.String(), "sqlite")


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


_PG_APPEND_ONLY = """
CREATE FUNCTION status_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'status_events is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER status_events_append_only BEFORE UPDATE OR DELETE ON status_events
    FOR EACH ROW EXECUTE FUNCTION status_events_append_only();
"""

_SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER status_events_no_update BEFORE UPDATE ON status_events "
    "BEGIN SELECT RAISE(ABORT, 'status_events is append-only: UPDATE refused'); END",
    "CREATE TRIGGER status_events_no_delete BEFORE DELETE ON status_events "
    "BEGIN SELECT RAISE(ABORT, 'status_events is append-only: DELETE refused'); END",
)


def upgrade() -> None:
    op.create_table(
        "dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("opened_at", _at(), nullable=False),
        sa.Column("supplier_siret", sa.String(), nullable=False),
        sa.Column("recipient_siret", sa.String(), nullable=True),
        sa.Column("moe_siret", sa.String(), nullable=True),
        sa.Column("moa_siret", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dossiers"),
        sa.UniqueConstraint("number", name="uq_dossiers_number"),
    )
    op.create_table(
        "pieces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("cadre", sa.String(), nullable=False),
        sa.Column("document_kind", sa.String(), nullable=False),
        sa.Column("invoice_number", sa.String(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("issue_year", sa.Integer(), nullable=False),
        sa.Column("supplier_siret", sa.String(), nullable=False),
        sa.Column("recipient_siret", sa.String(), nullable=True),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("total_excl_tax", _amount(), nullable=True),
        sa.Column("total_tax", _amount(), nullable=True),
        sa.Column("total_incl_tax", _amount(), nullable=True),
        sa.Column("amount_due", _amount(), nullable=True),
        sa.Column("deposited_at", _at(), nullable=False),
        sa.Column("made_available_at", _at(), nullable=True),
        sa.Column("payment_deadline", sa.Date(), nullable=True),
        sa.Column("certificate_number", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name="fk_pieces_dossier_id_dossiers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pieces"),
        sa.UniqueConstraint(
            "supplier_siret", "invoice_number", "issue_year", name="uq_pieces_reference"
        ),
    )
    op.create_index("ix_pieces_dossier_id", "pieces", ["dossier_id"])
    op.create_index("ix_pieces_sha256", "pieces", ["sha256"])
    op.create_table(
        "status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("at", _at(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("from_status", sa.String(), nullable=True),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["pieces.id"], name="fk_status_events_piece_id_pieces"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_status_events"),
    )
    op.create_index("ix_status_events_piece_id", "status_events", ["piece_id"])

    # The history is never rewritten (DESIGN section 5): the database refuses it too.
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    elif dialect == "sqlite":
        for statement in _SQLITE_APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER status_events_append_only ON status_events")
        op.execute("DROP FUNCTION status_events_append_only()")
    op.drop_table("status_events")
    op.drop_table("pieces")
    op.drop_table("dossiers")
