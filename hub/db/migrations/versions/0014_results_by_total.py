"""results by total: an index for a cycle's results sorted by total score, ties by id (sorted lists, top-N)"""

from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.create_index("ix_appraisal_results_cycle_total", "appraisal_results", ["cycle_id", "total_score", "id"])


def downgrade() -> None:
    op.drop_index("ix_appraisal_results_cycle_total", table_name="appraisal_results")
