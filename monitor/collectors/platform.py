"""What a platform module provides, and what every collector is built from.

Each platform (`jetstream.py`, `mastodon.py`, `rss.py`, `reddit.py`) owns everything about
itself in one module, as a Home Assistant integration does: its `[[sources]]` config (a frozen
dataclass), the checks on it beyond types, the one line `monitor sources` shows, and how its
collector is built from the config and the service's `Wiring`. It says so in one `SOURCE_PLATFORM`
value, which `registry.py` lists; adding a platform is one module and one line there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import aiohttp

from monitor.collectors.base import PostSink
from monitor.collectors.common import CheckResult, Clock
from monitor.collectors.health import SourceHealth
from monitor.collectors.text import TextFilter


class SourceConfig(Protocol):
    """What every platform's config has, whatever else it reads (`[[sources]]` keys)."""

    @property
    def name(self) -> str: ...

    @property
    def keywords(self) -> tuple[str, ...]: ...

    @property
    def hashtags(self) -> tuple[str, ...]: ...

    @property
    def places(self) -> tuple[str, ...]: ...

    @property
    def enabled(self) -> bool: ...


class Collector(Protocol):
    name: str
    kind: str
    health: SourceHealth

    async def run(self) -> None: ...

    async def check(self) -> CheckResult: ...


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the service hands each collector it builds: the shared HTTP session, where posts
    go, the filter a post must pass, its health record, its clock and where secrets are read."""

    session: aiohttp.ClientSession
    sink: PostSink
    accept: TextFilter
    health: SourceHealth
    clock: Clock | None = None
    environ: Mapping[str, str] | None = None

    def secret(self, env_name: str) -> str | None:
        """The secret in the named environment variable; None when unset, empty or unnamed."""
        if not env_name:
            return None
        env = os.environ if self.environ is None else self.environ
        return env.get(env_name) or None


C = TypeVar("C", bound=SourceConfig)


def _unchanged(values: dict[str, Any]) -> dict[str, Any]:
    return values


@dataclass(frozen=True, slots=True)
class Platform(Generic[C]):
    """One platform: its `kind` (as written in `[[sources]]`), its config class, and

    - `problems(config)`: what is wrong with a config whose keys and types are right (the
      generic checks, names, positive numbers, environment-variable names, are done for all);
    - `reads(config)`: what it reads, for `monitor sources` (the filter is added for all);
    - `build(config, wiring)`: its collector;
    - `prepare(values)`: the typed values before the config is made (e.g. `r/` dropped)."""

    kind: str
    config: type[C]
    problems: Callable[[C], list[str]]
    reads: Callable[[C], str]
    build: Callable[[C, Wiring], Collector]
    prepare: Callable[[dict[str, Any]], dict[str, Any]] = _unchanged
