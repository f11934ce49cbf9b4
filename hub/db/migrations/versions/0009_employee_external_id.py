"""employees get the id an identity provider knows them by (SCIM externalId), unique where set"""

from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_employees_external_id"), ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_employees_external_id"), type_="unique")
        batch_op.drop_column("external_id")
