"""What the hub does to its own data: versioning, the cycle workflow, ratings, metrics, scoring.

Each operation takes a session factory and plain values, runs in one transaction, and raises an
:class:`~hub.operations.errors.OperationError` (or an appraisal error) before anything is written.
"""
