"""initial schema: organisation, indicators, schemes, cycles, results"""

from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None


def _index(table: str, *columns: str) -> None:
    """Indexes each of ``columns`` of ``table`` on its own, named ``ix_<table>_<column>`` as the models name them."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def _drop_table(table: str, *indexed: str) -> None:
    """Drops the indexes that ``_index(table, *indexed)`` made, last first, then the table."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in reversed(indexed):
            batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
    op.drop_table(table)


def upgrade() -> None:
    op.create_table('cycles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('state', sa.Enum('DRAFT', 'OPEN', 'SCORED', 'CALIBRATED', 'PUBLISHED', name='cyclestate', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycles'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['departments.id'], name=op.f('fk_departments_parent_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('code', name=op.f('uq_departments_code'))
    )
    _index('departments', 'parent_id')
    op.create_table('indicators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.Enum('CORE', 'EXTENSION', name='indicatorcategory', native_enum=False, length=32), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('direction', sa.Enum('HIGHER_IS_BETTER', 'LOWER_IS_BETTER', name='direction', native_enum=False, length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicators')),
    sa.UniqueConstraint('code', name=op.f('uq_indicators_code'))
    )
    _index('indicators', 'category')
    op.create_table('cycle_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.Enum('DRAFT', 'OPEN', 'SCORED', 'CALIBRATED', 'PUBLISHED', name='cyclestate', native_enum=False, length=32), nullable=True),
    sa.Column('to_state', sa.Enum('DRAFT', 'OPEN', 'SCORED', 'CALIBRATED', 'PUBLISHED', name='cyclestate', native_enum=False, length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_cycle_transitions_cycle_id_cycles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycle_transitions'))
    )
    _index('cycle_transitions', 'cycle_id')
    op.create_table('indicator_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('change_note', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rule', sa.JSON(), nullable=False),
    sa.Column('missing_policy', sa.Enum('ZERO', 'EXCLUDE', 'BLOCK', name='missingpolicy', native_enum=False, length=32), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_metric', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_indicator_versions_indicator_id_indicators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_versions')),
    sa.UniqueConstraint('indicator_id', 'version', name=op.f('uq_indicator_versions_indicator_id_version'))
    )
    _index('indicator_versions', 'indicator_id')
    op.create_table('posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_posts_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts')),
    sa.UniqueConstraint('code', name=op.f('uq_posts_code'))
    )
    _index('posts', 'department_id', 'family')
    op.create_table('employees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employee_no', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('hired_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_employees_department_id_departments')),
    sa.ForeignKeyConstraint(['manager_id'], ['employees.id'], name=op.f('fk_employees_manager_id_employees')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_employees_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employees')),
    sa.UniqueConstraint('employee_no', name=op.f('uq_employees_employee_no'))
    )
    _index('employees', 'department_id', 'manager_id', 'name', 'post_id')
    op.create_table('scheme_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('change_note', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_scheme_versions_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheme_versions')),
    sa.UniqueConstraint('post_id', 'version', name=op.f('uq_scheme_versions_post_id_version'))
    )
    _index('scheme_versions', 'post_id')
    op.create_table('appraisal_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('scheme_version_id', sa.Integer(), nullable=False),
    sa.Column('total_score', sa.Float(), nullable=False),
    sa.Column('grade', sa.Enum('S', 'A', 'B', 'C', 'D', name='grade', native_enum=False, length=32), nullable=False),
    sa.Column('rank_in_post', sa.Integer(), nullable=True),
    sa.Column('percentile_in_post', sa.Float(), nullable=True),
    sa.Column('rank_in_department', sa.Integer(), nullable=True),
    sa.Column('percentile_in_department', sa.Float(), nullable=True),
    sa.Column('calibrated', sa.Boolean(), nullable=False),
    sa.Column('computed_total', sa.Float(), nullable=False),
    sa.Column('computed_grade', sa.Enum('S', 'A', 'B', 'C', 'D', name='grade', native_enum=False, length=32), nullable=False),
    sa.Column('calibration_reason', sa.Text(), nullable=True),
    sa.Column('calibrated_by', sa.Text(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_appraisal_results_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_appraisal_results_department_id_departments')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_appraisal_results_employee_id_employees')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_appraisal_results_post_id_posts')),
    sa.ForeignKeyConstraint(['scheme_version_id'], ['scheme_versions.id'], name=op.f('fk_appraisal_results_scheme_version_id_scheme_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appraisal_results')),
    sa.UniqueConstraint('cycle_id', 'employee_id', name=op.f('uq_appraisal_results_cycle_id_employee_id'))
    )
    _index('appraisal_results', 'cycle_id', 'department_id', 'employee_id', 'post_id')
    op.create_table('cycle_schemes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('scheme_version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_cycle_schemes_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_cycle_schemes_post_id_posts')),
    sa.ForeignKeyConstraint(['scheme_version_id'], ['scheme_versions.id'], name=op.f('fk_cycle_schemes_scheme_version_id_scheme_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycle_schemes')),
    sa.UniqueConstraint('cycle_id', 'post_id', name=op.f('uq_cycle_schemes_cycle_id_post_id'))
    )
    _index('cycle_schemes', 'cycle_id')
    op.create_table('metric_values',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('indicator_version_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('metric', sa.String(length=128), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('stale', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_metric_values_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_metric_values_employee_id_employees')),
    sa.ForeignKeyConstraint(['indicator_version_id'], ['indicator_versions.id'], name=op.f('fk_metric_values_indicator_version_id_indicator_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_values')),
    sa.UniqueConstraint('cycle_id', 'employee_id', 'indicator_version_id', name=op.f('uq_metric_values_cycle_id_employee_id_indicator_version_id'))
    )
    _index('metric_values', 'cycle_id', 'employee_id')
    op.create_table('post_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_post_assignments_employee_id_employees')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_assignments_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_assignments'))
    )
    _index('post_assignments', 'employee_id', 'post_id')
    op.create_table('rater_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('ratee_id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('SELF', 'MANAGER', 'PEER', 'SUBORDINATE', name='raterrole', native_enum=False, length=32), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_rater_assignments_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['ratee_id'], ['employees.id'], name=op.f('fk_rater_assignments_ratee_id_employees')),
    sa.ForeignKeyConstraint(['rater_id'], ['employees.id'], name=op.f('fk_rater_assignments_rater_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rater_assignments')),
    sa.UniqueConstraint('cycle_id', 'ratee_id', 'rater_id', name=op.f('uq_rater_assignments_cycle_id_ratee_id_rater_id'))
    )
    _index('rater_assignments', 'cycle_id', 'ratee_id', 'rater_id')
    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('ratee_id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('SELF', 'MANAGER', 'PEER', 'SUBORDINATE', name='raterrole', native_enum=False, length=32), nullable=False),
    sa.Column('indicator_version_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_ratings_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['indicator_version_id'], ['indicator_versions.id'], name=op.f('fk_ratings_indicator_version_id_indicator_versions')),
    sa.ForeignKeyConstraint(['ratee_id'], ['employees.id'], name=op.f('fk_ratings_ratee_id_employees')),
    sa.ForeignKeyConstraint(['rater_id'], ['employees.id'], name=op.f('fk_ratings_rater_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('cycle_id', 'ratee_id', 'rater_id', 'indicator_version_id', name=op.f('uq_ratings_cycle_id_ratee_id_rater_id_indicator_version_id'))
    )
    _index('ratings', 'cycle_id', 'ratee_id')
    op.create_table('scheme_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme_version_id', sa.Integer(), nullable=False),
    sa.Column('indicator_version_id', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['indicator_version_id'], ['indicator_versions.id'], name=op.f('fk_scheme_items_indicator_version_id_indicator_versions')),
    sa.ForeignKeyConstraint(['scheme_version_id'], ['scheme_versions.id'], name=op.f('fk_scheme_items_scheme_version_id_scheme_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheme_items')),
    sa.UniqueConstraint('scheme_version_id', 'indicator_version_id', name=op.f('uq_scheme_items_scheme_version_id_indicator_version_id'))
    )
    _index('scheme_items', 'indicator_version_id', 'scheme_version_id')
    op.create_table('scheme_rater_weights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme_version_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('SELF', 'MANAGER', 'PEER', 'SUBORDINATE', name='raterrole', native_enum=False, length=32), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_version_id'], ['scheme_versions.id'], name=op.f('fk_scheme_rater_weights_scheme_version_id_scheme_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheme_rater_weights')),
    sa.UniqueConstraint('scheme_version_id', 'role', name=op.f('uq_scheme_rater_weights_scheme_version_id_role'))
    )
    _index('scheme_rater_weights', 'scheme_version_id')
    op.create_table('indicator_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('result_id', sa.Integer(), nullable=False),
    sa.Column('indicator_version_id', sa.Integer(), nullable=False),
    sa.Column('raw_value', sa.Float(), nullable=True),
    sa.Column('normalized_score', sa.Float(), nullable=True),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('effective_weight', sa.Float(), nullable=True),
    sa.Column('weighted_score', sa.Float(), nullable=True),
    sa.Column('provenance_system', sa.Text(), nullable=True),
    sa.Column('provenance_metric', sa.Text(), nullable=True),
    sa.Column('provenance_fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provenance_stale', sa.Boolean(), nullable=False),
    sa.Column('provenance_checksum', sa.Text(), nullable=True),
    sa.Column('inputs', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['indicator_version_id'], ['indicator_versions.id'], name=op.f('fk_indicator_scores_indicator_version_id_indicator_versions')),
    sa.ForeignKeyConstraint(['result_id'], ['appraisal_results.id'], name=op.f('fk_indicator_scores_result_id_appraisal_results')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_scores')),
    sa.UniqueConstraint('result_id', 'indicator_version_id', name=op.f('uq_indicator_scores_result_id_indicator_version_id'))
    )
    _index('indicator_scores', 'result_id')


def downgrade() -> None:
    _drop_table('indicator_scores', 'result_id')
    _drop_table('scheme_rater_weights', 'scheme_version_id')
    _drop_table('scheme_items', 'indicator_version_id', 'scheme_version_id')
    _drop_table('ratings', 'cycle_id', 'ratee_id')
    _drop_table('rater_assignments', 'cycle_id', 'ratee_id', 'rater_id')
    _drop_table('post_assignments', 'employee_id', 'post_id')
    _drop_table('metric_values', 'cycle_id', 'employee_id')
    _drop_table('cycle_schemes', 'cycle_id')
    _drop_table('appraisal_results', 'cycle_id', 'department_id', 'employee_id', 'post_id')
    _drop_table('scheme_versions', 'post_id')
    _drop_table('employees', 'department_id', 'manager_id', 'name', 'post_id')
    _drop_table('posts', 'department_id', 'family')
    _drop_table('indicator_versions', 'indicator_id')
    _drop_table('cycle_transitions', 'cycle_id')
    _drop_table('indicators', 'category')
    _drop_table('departments', 'parent_id')
    op.drop_table('cycles')
