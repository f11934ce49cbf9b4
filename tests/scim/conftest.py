"""The served hub's fixtures (tests/served/conftest.py), for the SCIM tests against it."""

from tests.served.conftest import served, served_shared, served_to_read

__all__ = ["served", "served_shared", "served_to_read"]
