"""employees get an e-mail (unique where set), a status (ACTIVE or INACTIVE) and the day a leaver left"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        # The server default makes every employee already stored ACTIVE.
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum("ACTIVE", "INACTIVE", name="employeestatus", native_enum=False, length=32),
                server_default="ACTIVE",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("left_on", sa.Date(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_employees_email"), ["email"])


def downgrade() -> None:
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_employees_email"), type_="unique")
        batch_op.drop_column("left_on")
        batch_op.drop_column("status")
        batch_op.drop_column("email")
