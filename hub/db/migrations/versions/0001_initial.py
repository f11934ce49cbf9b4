"""initial schema: organisation, indicators, schemes, cycles, results

Revision ID: 0001
Revises: 
Create Date: 2026-11-30 09:56:54.513329

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    
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
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_departments_parent_id'), ['parent_id'], unique=False)

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
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicators_category'), ['category'], unique=False)

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
    with op.batch_alter_table('cycle_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycle_transitions_cycle_id'), ['cycle_id'], unique=False)

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
    with op.batch_alter_table('indicator_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_versions_indicator_id'), ['indicator_id'], unique=False)

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
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_posts_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_posts_family'), ['family'], unique=False)

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
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employees_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_employees_manager_id'), ['manager_id'], unique=False)
        batch_op.create_index('ix_employees_name', ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_employees_post_id'), ['post_id'], unique=False)

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
    with op.batch_alter_table('scheme_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheme_versions_post_id'), ['post_id'], unique=False)

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
    with op.batch_alter_table('appraisal_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appraisal_results_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appraisal_results_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appraisal_results_employee_id'), ['employee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appraisal_results_post_id'), ['post_id'], unique=False)

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
    with op.batch_alter_table('cycle_schemes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycle_schemes_cycle_id'), ['cycle_id'], unique=False)

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
    with op.batch_alter_table('metric_values', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metric_values_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_metric_values_employee_id'), ['employee_id'], unique=False)

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
    with op.batch_alter_table('post_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_assignments_employee_id'), ['employee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_post_assignments_post_id'), ['post_id'], unique=False)

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
    with op.batch_alter_table('rater_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rater_assignments_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rater_assignments_ratee_id'), ['ratee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rater_assignments_rater_id'), ['rater_id'], unique=False)

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
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ratings_ratee_id'), ['ratee_id'], unique=False)

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
    with op.batch_alter_table('scheme_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheme_items_indicator_version_id'), ['indicator_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheme_items_scheme_version_id'), ['scheme_version_id'], unique=False)

    op.create_table('scheme_rater_weights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme_version_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('SELF', 'MANAGER', 'PEER', 'SUBORDINATE', name='raterrole', native_enum=False, length=32), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_version_id'], ['scheme_versions.id'], name=op.f('fk_scheme_rater_weights_scheme_version_id_scheme_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheme_rater_weights')),
    sa.UniqueConstraint('scheme_version_id', 'role', name=op.f('uq_scheme_rater_weights_scheme_version_id_role'))
    )
    with op.batch_alter_table('scheme_rater_weights', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheme_rater_weights_scheme_version_id'), ['scheme_version_id'], unique=False)

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
    with op.batch_alter_table('indicator_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_scores_result_id'), ['result_id'], unique=False)

    


def downgrade() -> None:
    """Downgrade schema."""
    
    with op.batch_alter_table('indicator_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_scores_result_id'))

    op.drop_table('indicator_scores')
    with op.batch_alter_table('scheme_rater_weights', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheme_rater_weights_scheme_version_id'))

    op.drop_table('scheme_rater_weights')
    with op.batch_alter_table('scheme_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheme_items_scheme_version_id'))
        batch_op.drop_index(batch_op.f('ix_scheme_items_indicator_version_id'))

    op.drop_table('scheme_items')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_ratee_id'))
        batch_op.drop_index(batch_op.f('ix_ratings_cycle_id'))

    op.drop_table('ratings')
    with op.batch_alter_table('rater_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rater_assignments_rater_id'))
        batch_op.drop_index(batch_op.f('ix_rater_assignments_ratee_id'))
        batch_op.drop_index(batch_op.f('ix_rater_assignments_cycle_id'))

    op.drop_table('rater_assignments')
    with op.batch_alter_table('post_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_assignments_post_id'))
        batch_op.drop_index(batch_op.f('ix_post_assignments_employee_id'))

    op.drop_table('post_assignments')
    with op.batch_alter_table('metric_values', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metric_values_employee_id'))
        batch_op.drop_index(batch_op.f('ix_metric_values_cycle_id'))

    op.drop_table('metric_values')
    with op.batch_alter_table('cycle_schemes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycle_schemes_cycle_id'))

    op.drop_table('cycle_schemes')
    with op.batch_alter_table('appraisal_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appraisal_results_post_id'))
        batch_op.drop_index(batch_op.f('ix_appraisal_results_employee_id'))
        batch_op.drop_index(batch_op.f('ix_appraisal_results_department_id'))
        batch_op.drop_index(batch_op.f('ix_appraisal_results_cycle_id'))

    op.drop_table('appraisal_results')
    with op.batch_alter_table('scheme_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheme_versions_post_id'))

    op.drop_table('scheme_versions')
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employees_post_id'))
        batch_op.drop_index('ix_employees_name')
        batch_op.drop_index(batch_op.f('ix_employees_manager_id'))
        batch_op.drop_index(batch_op.f('ix_employees_department_id'))

    op.drop_table('employees')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posts_family'))
        batch_op.drop_index(batch_op.f('ix_posts_department_id'))

    op.drop_table('posts')
    with op.batch_alter_table('indicator_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_versions_indicator_id'))

    op.drop_table('indicator_versions')
    with op.batch_alter_table('cycle_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycle_transitions_cycle_id'))

    op.drop_table('cycle_transitions')
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicators_category'))

    op.drop_table('indicators')
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_departments_parent_id'))

    op.drop_table('departments')
    op.drop_table('cycles')
    
