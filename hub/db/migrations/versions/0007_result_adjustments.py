"""every calibration and correction of a result is kept: before, after, reason, who and when

A result calibrated before this revision keeps the one calibration it remembers: from the engine's total and
grade to its own, with its reason and actor, dated when it was scored (the calibration's own time was not
kept, nor any earlier calibration it replaced).
"""

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"

GRADE = sa.Enum("S", "A", "B", "C", "D", name="grade", native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "result_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("CALIBRATION", "CORRECTION", name="adjustmentkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("total_before", sa.Float(), nullable=False),
        sa.Column("grade_before", GRADE, nullable=False),
        sa.Column("total_after", sa.Float(), nullable=False),
        sa.Column("grade_after", GRADE, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        # A reopened cycle discards its unpublished results, and their calibrations with them.
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["appraisal_results.id"],
            name=op.f("fk_result_adjustments_result_id_appraisal_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_adjustments")),
    )
    with op.batch_alter_table("result_adjustments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_adjustments_result_id"), ["result_id"], unique=False)
    op.execute(
        "INSERT INTO result_adjustments (result_id, kind, total_before, grade_before, total_after, grade_after, "
        "reason, actor, at) "
        "SELECT id, 'CALIBRATION', computed_total, computed_grade, total_score, grade, "
        "COALESCE(calibration_reason, ''), COALESCE(calibrated_by, ''), computed_at "
        "FROM appraisal_results WHERE calibrated ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table("result_adjustments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_adjustments_result_id"))
    op.drop_table("result_adjustments")
