"""employees and departments get created_at and updated_at (SCIM meta), employees the given and family names"""

import datetime as dt

from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    # Rows already stored were made and last changed at some unknown time: they are stamped with the upgrade's,
    # so an identity provider that syncs by meta.lastModified sees each of them once more.
    now = sa.bindparam("now", dt.datetime.now(dt.UTC), type_=sa.DateTime(timezone=True))
    for table in ("employees", "departments"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
            if table == "employees":
                batch_op.add_column(sa.Column("given_name", sa.String(length=200), nullable=True))
                batch_op.add_column(sa.Column("family_name", sa.String(length=200), nullable=True))
        stamped = sa.table(table, sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at"))
        op.execute(stamped.update().values(created_at=now, updated_at=now))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("created_at", existing_type=sa.DateTime(timezone=True), nullable=False)
            batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
            if table == "employees":
                batch_op.create_index(batch_op.f("ix_employees_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    for table in ("employees", "departments"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "employees":
                batch_op.drop_index(batch_op.f("ix_employees_updated_at"))
                batch_op.drop_column("family_name")
                batch_op.drop_column("given_name")
            batch_op.drop_column("updated_at")
            batch_op.drop_column("created_at")
