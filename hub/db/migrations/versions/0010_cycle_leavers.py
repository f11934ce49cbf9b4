"""people can leave an OPEN cycle, and a cycle's transitions note who joined or left and the scope it opened with"""

from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("cycle_transitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.create_table(
        "cycle_leavers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_cycle_leavers_cycle_id_cycles")),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_cycle_leavers_employee_id_employees")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_leavers")),
        sa.UniqueConstraint("cycle_id", "employee_id", name=op.f("uq_cycle_leavers_cycle_id_employee_id")),
    )
    with op.batch_alter_table("cycle_leavers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cycle_leavers_cycle_id"), ["cycle_id"], unique=False)


def downgrade() -> None:
    op.drop_table("cycle_leavers")
    # SQLite drops a plain column in place (3.35+); batch mode would copy the table, which the foreign keys of the
    # tables pointing at it could refuse.
    if op.get_context().dialect.name == "sqlite":
        op.execute("ALTER TABLE cycle_transitions DROP COLUMN note")
        return
    with op.batch_alter_table("cycle_transitions", schema=None) as batch_op:
        batch_op.drop_column("note")
