"""indicators can be retired, indicator versions declare a valid range, and peers are nominated"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retired_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("indicator_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid_min", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("valid_max", sa.Float(), nullable=True))
    op.create_table(
        "peer_nominations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("ratee_id", sa.Integer(), nullable=False),
        sa.Column("nominee_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("PROPOSED", "APPROVED", "DECLINED", name="nominationstate", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_peer_nominations_cycle_id_cycles")),
        sa.ForeignKeyConstraint(
            ["nominee_id"], ["employees.id"], name=op.f("fk_peer_nominations_nominee_id_employees")
        ),
        sa.ForeignKeyConstraint(["ratee_id"], ["employees.id"], name=op.f("fk_peer_nominations_ratee_id_employees")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_nominations")),
        sa.UniqueConstraint(
            "cycle_id", "ratee_id", "nominee_id", name=op.f("uq_peer_nominations_cycle_id_ratee_id_nominee_id")
        ),
    )
    with op.batch_alter_table("peer_nominations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_nominations_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_peer_nominations_ratee_id"), ["ratee_id"], unique=False)


def downgrade() -> None:
    op.drop_table("peer_nominations")
    _drop_columns("indicator_versions", "valid_max", "valid_min")
    _drop_columns("indicators", "retired_reason", "retired_on")


def _drop_columns(table: str, *columns: str) -> None:
    # SQLite drops a plain column in place (3.35+); batch mode would copy the table and drop the original, which
    # the foreign keys of the tables pointing at it refuse once they hold rows.
    if op.get_context().dialect.name == "sqlite":
        for column in columns:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        return
    for column in columns:
        op.drop_column(table, column)
