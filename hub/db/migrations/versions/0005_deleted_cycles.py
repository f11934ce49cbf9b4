"""deleted DRAFT cycles are remembered, so that their ids are never given to another cycle"""

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table('deleted_cycles',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('deleted_by', sa.String(length=200), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deleted_cycles'))
    )


def downgrade() -> None:
    op.drop_table('deleted_cycles')
