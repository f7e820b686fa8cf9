"""The shared loop of polled sources (Mastodon, RSS, Reddit): rounds over units, errors sorted.

A source has several units (a feed, a server's hashtag timeline, a subreddit's new posts), each
with its own resume state inside the source's one cursor (a JSON object). One failing unit does
not stop the others; a rate limit is waited out; refusals count towards "looks blocked";
a configuration error stops the source and says why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

import aiohttp

from monitor.collectors.base import PostSink
from monitor.collectors.common import (
    AuthFailure,
    Backoff,
    Clock,
    MalformedPayload,
    RateLimited,
    SourceConfigError,
    SystemClock,
    TransientError,
)
from monitor.collectors.health import SourceHealth
from monitor.collectors.text import TextFilter
from monitor.types import RawPost

log = logging.getLogger(__name__)


class PolledConfig(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def poll_interval_seconds(self) -> float: ...


C = TypeVar("C", bound=PolledConfig)


class PollingCollector(Generic[C]):
    """Subclasses provide `units()`, `poll_unit(unit)` and may override `start()`; each is
    built from its config, the shared HTTP session, the sink and the filter posts must pass."""

    kind = "polling"

    def __init__(
        self,
        config: C,
        session: aiohttp.ClientSession,
        sink: PostSink,
        accept: TextFilter,
        health: SourceHealth | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.name = name = config.name
        self._session = session
        self._sink = sink
        self._accept = accept
        self.interval_seconds = interval_seconds = config.poll_interval_seconds
        self.health = health or SourceHealth(name, self.kind)
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff(5.0, min(300.0, max(5.0, interval_seconds)))
        self._committed: dict[str, Any] = {}

    # -- for subclasses --

    def units(self) -> Sequence[str]:
        raise NotImplementedError

    async def poll_unit(self, unit: str) -> None:
        raise NotImplementedError

    async def recheck_due(self) -> None:
        """Re-check recent posts for deletions and edits when due (polled APIs report no
        deletions of their own); nothing by default."""
        return None

    async def start(self) -> None:
        """Load the cursor; subclasses add start-up checks (raise SourceConfigError to stop)."""
        self._committed = await self.load_state()

    # -- the loop --

    async def run(self) -> None:
        try:
            await self.start()
        except SourceConfigError as exc:
            self.health.failed(str(exc))
            log.error("%s %s: %s; not starting", self.kind, self.name, exc)
            return
        while True:
            try:
                delay = await self.poll_round()
            except SourceConfigError as exc:
                self.health.failed(str(exc))
                log.error("%s %s: %s; stopping", self.kind, self.name, exc)
                return
            await self._clock.sleep(delay)

    async def poll_round(self) -> float:
        """Poll every unit once; return how long to wait before the next round."""
        failed = 0
        units = self.units()
        if not units:
            raise SourceConfigError("nothing to poll (every unit was refused at start-up)")
        for unit in units:
            try:
                await self.poll_unit(unit)
                self.health.success(self._clock.now())
            except RateLimited as exc:
                self.health.rate_limited()
                log.warning("%s %s: %s; waiting %.0fs", self.kind, self.name, exc, exc.wait_seconds)
                await self._clock.sleep(exc.wait_seconds)
            except AuthFailure as exc:
                failed += 1
                self.health.auth_failure(f"{unit}: {exc}")
            except MalformedPayload as exc:
                failed += 1
                self.health.malformed()
                self.health.error("malformed", f"{unit}: {exc}")
                log.warning(
                    "%s %s: %s: skipped a malformed response: %s", self.kind, self.name, unit, exc
                )
            except SourceConfigError as exc:
                # One unit's problem (a feed moved, a tag that doesn't exist): keep the others.
                failed += 1
                self.health.error("config", f"{unit}: {exc}")
                log.error("%s %s: %s: %s", self.kind, self.name, unit, exc)
            except (aiohttp.ClientError, TimeoutError, OSError, TransientError) as exc:
                failed += 1
                self.health.error("network", f"{unit}: {exc!r}")
                log.warning("%s %s: %s: %r", self.kind, self.name, unit, exc)
            except Exception as exc:  # a sink or programming error: log, live on, retry
                failed += 1
                self.health.error("internal", f"{unit}: {exc!r}")
                log.exception("%s %s: %s: unexpected error", self.kind, self.name, unit)
        await self._recheck()
        if failed:
            return min(self.interval_seconds, self._backoff.next())
        self._backoff.reset()
        return self.interval_seconds

    async def _recheck(self) -> None:
        try:
            await self.recheck_due()
        except RateLimited as exc:
            self.health.rate_limited()
            await self._clock.sleep(exc.wait_seconds)
        except Exception as exc:  # the next round tries again; collection goes on
            self.health.error("recheck", repr(exc))
            log.warning("%s %s: re-checking recent posts failed: %r", self.kind, self.name, exc)

    # -- cursor state: one JSON object per source, one key per unit --

    async def load_state(self) -> dict[str, Any]:
        raw = await self._sink.load_cursor(self.name)
        if not raw:
            return {}
        try:
            state = json.loads(raw)
        except ValueError:
            state = None
        if not isinstance(state, dict):
            log.warning(
                "%s %s: ignoring a stored cursor that is not a JSON object", self.kind, self.name
            )
            return {}
        return state

    def unit_state(self, unit: str) -> Any:
        return self._committed.get(unit)

    async def commit(self, posts: Sequence[RawPost], unit: str, state: Any) -> None:
        """Deliver posts with this unit's new state; the other units' committed states stay."""
        new = dict(self._committed)
        new[unit] = state
        await self._sink.deliver(self.name, posts, json.dumps(new, sort_keys=True))
        self._committed = new
        self.health.delivered(len(posts))
