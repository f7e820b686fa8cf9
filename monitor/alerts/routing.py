"""Pure: the routing tree, in the shape of Alertmanager's `route:`.

Each node has label matchers, options (receiver, grouping and timing, windows, escalation) that
its children inherit unless they set their own, child routes, and `continue`. `match(labels)`
walks the tree depth first, left to right: a node that matches and has no matching child is a
result; after a child matches, its later siblings are tried only if that child has
`continue: true`. Input is a label set and nothing else — never an author.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta

from monitor.alerts.matchers import Matcher, matches_all


@dataclass(frozen=True, slots=True)
class RouteOptions:
    receiver: str
    group_by: tuple[str, ...] = ("kind", "area")
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    active_time_intervals: tuple[str, ...] = ()
    escalation: str | None = None

    @property
    def group_all(self) -> bool:
        """`group_by: ['...']` groups by every label, as in Alertmanager (no batching)."""
        return self.group_by == ("...",)


@dataclass(frozen=True)
class Route:
    options: RouteOptions
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    path: str = "root"  # "root", "root.0", "root.0.2": stable while the file is unchanged
    line: int = 0
    name: str = ""

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        return found or [self]

    def walk(self) -> Iterator[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()

    def label(self) -> str:
        return self.name or self.path


@dataclass(frozen=True)
class RouteSpec:
    """A node as written: only the options it sets itself (the rest are inherited)."""

    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    overrides: Mapping[str, object] = field(default_factory=dict)
    routes: tuple[RouteSpec, ...] = ()
    line: int = 0
    name: str = ""


def build(spec: RouteSpec, parent: RouteOptions, path: str = "root") -> Route:
    """Resolve inheritance: each node takes its parent's options and overrides what it sets."""
    options = RouteOptions(**{**_as_dict(parent), **spec.overrides})  # type: ignore[arg-type]
    children = tuple(build(child, options, f"{path}.{i}") for i, child in enumerate(spec.routes))
    return Route(
        options=options,
        matchers=spec.matchers,
        continue_=spec.continue_,
        routes=children,
        path=path,
        line=spec.line,
        name=spec.name,
    )


def _as_dict(options: RouteOptions) -> dict[str, object]:
    return {f.name: getattr(options, f.name) for f in fields(RouteOptions)}
