"""The store: SQLAlchemy tables, engine set-up, queries and Alembic migrations."""
