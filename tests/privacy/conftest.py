"""Fixtures for the privacy tests (defined in helpers.py, shared with the safeguards
tests, tests/safeguards/conftest.py)."""

from tests.privacy.helpers import db_path, engine

__all__ = ["db_path", "engine"]
