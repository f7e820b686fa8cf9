"""Fixtures for the privacy tests (defined in helpers.py, shared with
tests/safeguards/test_retention.py)."""

from tests.privacy.helpers import db_path, engine

__all__ = ["db_path", "engine"]
