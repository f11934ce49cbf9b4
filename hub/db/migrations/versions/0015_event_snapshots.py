"""event snapshots: each result event stores what it carries as written (its figures at that moment)"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    # Nullable and without a default: the events written before it have no snapshot and are read live.
    op.add_column("result_events", sa.Column("snapshot", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("result_events", "snapshot")
