"""Collectors: one module per source kind; network (fetch) kept apart from parsing (pure)."""
