"""The pieces the migrations (store/migrations/versions) build tables from.

A migration lists its new tables once (`Table`: columns, primary key, indexes) and both
creates them (`create_tables`) and drops them in reverse order (`drop_tables`) from that list,
so a downgrade cannot forget an index or drop tables in an order the foreign keys refuse.
Constraint and index names follow the store's naming convention (`op.f`: taken as written),
exactly as Alembic's autogenerate spelled them, so the schema is the same as the one the
earlier hand-expanded migrations built.

Only what a released migration uses belongs here, and a helper may never change what it
emits: every database already migrated was built by it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import op


def serial(name: str = "id") -> sa.Column[int]:
    """An integer key the database numbers itself."""
    return sa.Column(name, sa.Integer(), autoincrement=True, nullable=False)


@dataclass(frozen=True, slots=True)
class Reference:
    """A foreign key from `column` to `target` ("table.column"); by default a row goes with
    the row it refers to (`ondelete=None`: the database refuses to delete that row)."""

    column: str
    target: str
    ondelete: str | None = "CASCADE"

    def constraint(self, table: str) -> sa.ForeignKeyConstraint:
        parent = self.target.split(".", 1)[0]
        return sa.ForeignKeyConstraint(
            [self.column],
            [self.target],
            name=op.f(f"fk_{table}_{self.column}_{parent}"),
            ondelete=self.ondelete,
        )


@dataclass(frozen=True, slots=True)
class Index:
    """An index; `where` makes it partial, with the same condition on SQLite and PostgreSQL."""

    name: str
    columns: tuple[str, ...]
    unique: bool = False
    where: str | None = None

    def create(self, batch_op: Callable[..., None]) -> None:
        kw = {}
        if self.where is not None:
            kw = {"sqlite_where": sa.text(self.where), "postgresql_where": sa.text(self.where)}
        batch_op(self.name, list(self.columns), unique=self.unique, **kw)


def index(name: str, *columns: str, unique: bool = False, where: str | None = None) -> Index:
    return Index(name, columns, unique, where)


class Table:
    """A new table: its columns, foreign keys, primary key columns (none given: a serial `id`
    column first, as the key), single-column unique keys and indexes. A migration builds its
    tables afresh each time it runs (in a function): a column object belongs to one table."""

    def __init__(
        self,
        name: str,
        *columns: sa.Column[Any],
        references: Sequence[Reference] = (),
        pk: Sequence[str] | None = None,
        unique: Sequence[str] = (),
        indexes: Sequence[Index] = (),
    ) -> None:
        self.name = name
        # Most tables are keyed by a number the database gives: that is the default key.
        self.columns = columns if pk is not None else (serial(), *columns)
        self.references = tuple(references)
        self.pk = tuple(pk) if pk is not None else ("id",)
        self.unique = tuple(unique)
        self.indexes = tuple(indexes)

    def create(self) -> None:
        op.create_table(
            self.name,
            *self.columns,
            *(c.constraint(self.name) for c in self.references),
            sa.PrimaryKeyConstraint(*self.pk, name=op.f(f"pk_{self.name}")),
            *(sa.UniqueConstraint(c, name=op.f(f"uq_{self.name}_{c}")) for c in self.unique),
        )
        if self.indexes:
            with op.batch_alter_table(self.name, schema=None) as batch_op:
                for ix in self.indexes:
                    ix.create(batch_op.create_index)

    def drop(self) -> None:
        if self.indexes:
            with op.batch_alter_table(self.name, schema=None) as batch_op:
                for ix in reversed(self.indexes):
                    batch_op.drop_index(ix.name)
        op.drop_table(self.name)


def create_tables(tables: Sequence[Table]) -> None:
    for table in tables:
        table.create()


def drop_tables(tables: Sequence[Table]) -> None:
    """The tables of `create_tables`, last first (a table goes before those it refers to)."""
    for table in reversed(tables):
        table.drop()
