"""Fixtures for the safeguards tests: the privacy tests' store (tests/privacy/helpers.py)."""

from tests.privacy.helpers import db_path, engine

__all__ = ["db_path", "engine"]
