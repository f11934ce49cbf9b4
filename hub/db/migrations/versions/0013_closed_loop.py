"""closed loop: training-need rules per indicator, and HR's merit matrix (one row per version)"""

from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "training_need_rules",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("courses", sa.JSON(), nullable=False),
        sa.Column("set_at", timestamp, nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicators.id"], name=op.f("fk_training_need_rules_indicator_id_indicators")
        ),
        sa.PrimaryKeyConstraint("indicator_id", name=op.f("pk_training_need_rules")),
    )
    op.create_table(
        "merit_matrices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("set_at", timestamp, nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merit_matrices")),
    )


def downgrade() -> None:
    op.drop_table("merit_matrices")
    op.drop_table("training_need_rules")
