"""The Mutation root, assembled from the declarations (``declare.py``), one module per area.

The order of the modules, and of the declarations in each, is the order of the fields in the schema.
"""

from __future__ import annotations

import strawberry

from schema.mutations import (
    calibration,
    closed_loop,
    cycles,
    metrics,
    nominations,
    organisation,
    ratings,
    versions,
    webhooks,
)
from schema.mutations.declare import declared_in

_AREAS = (versions, cycles, ratings, metrics, calibration, organisation, nominations, webhooks, closed_loop)

Mutation = strawberry.type(
    type("Mutation", (), {declared.python_name: declared.field for declared in declared_in(*_AREAS)})
)
