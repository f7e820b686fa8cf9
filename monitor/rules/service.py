"""The rule engine as the pipeline sees it: per-post and windowed hits, with hot reload.

`load_rule_evaluator` is what the composition root calls. The service checks the packs for
edits at most every `rules_reload_seconds` (a few stats), swaps in an edited set only when it
loads cleanly, and keeps the window counts of windowed rules that did not change.

With `stored_windows` (what a running instance uses) windowed rules are counted in the store
(monitor/rules/window_store.py) inside the transaction that records a batch, so a restart or
another worker counts the same; without it (tests, `monitor rules` tools) they count in memory.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.config import Settings
from monitor.rules.engine import RuleSet, WindowState, evaluate_post
from monitor.rules.loader import RuleSetHolder
from monitor.rules.window_store import Observation, StoredWindows
from monitor.types import Post, RuleHit

# Posts evaluated but not yet observed (their batch failed before its transaction): dropped
# beyond this many, as the batch is evaluated again when it is retried.
PENDING_MAX = 50_000


class RuleService:
    """Implements the pipeline's `RuleEvaluator`: `evaluate(post, scores, now)`."""

    def __init__(
        self,
        holder: RuleSetHolder,
        *,
        reload_every: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        stored_windows: bool = False,
    ) -> None:
        self.holder = holder
        self.window = WindowState()
        self.stored = StoredWindows() if stored_windows else None
        self._pending: dict[str, Observation] = {}
        self.reload_every = reload_every
        self._monotonic = monotonic
        self._checked = monotonic()
        # Set by the composition root: leaves out packs whose approval lapsed (governance).
        self.gate: Callable[[RuleSet, dt.datetime], RuleSet] | None = None
        holder.on_reload = self.window.retain
        holder.current  # noqa: B018 - load now, so a broken pack stops start-up with its reasons

    @property
    def ruleset(self) -> RuleSet:
        return self.holder.current

    def maybe_reload(self) -> bool:
        if self.reload_every <= 0:
            return False
        t = self._monotonic()
        if t - self._checked < self.reload_every:
            return False
        self._checked = t
        return self.holder.reload_if_changed()

    def evaluate(
        self,
        post: Post,
        scores: dict[str, float],
        now: dt.datetime,
        clusters: Sequence[str] = (),
    ) -> list[RuleHit]:
        """Per-post hits, then windowed hits. Windows run on the post's own time (never later
        than `now`), so a replay counts posts as they were written, not as they arrive."""
        self.maybe_reload()
        ruleset = self.holder.current
        if self.gate is not None:
            ruleset = self.gate(ruleset, now)
        evaluation = evaluate_post(ruleset, post, scores)
        hits = list(evaluation.hits)
        if evaluation.windowed:
            when = min(post.created_at, now) if post.created_at.tzinfo else now
            if self.stored is None:
                hits += self.window.observe(evaluation, post, when, clusters)
            else:  # counted by observe_windows, in the batch's transaction
                if len(self._pending) >= PENDING_MAX:
                    self._pending.clear()
                self._pending[post.id] = Observation(
                    post, evaluation.windowed, when, tuple(clusters)
                )
        return hits

    async def observe_windows(
        self, conn: AsyncConnection, posts: Sequence[Post]
    ) -> dict[str, list[RuleHit]]:
        """The window hits of these evaluated posts (in order), counted in the store within the
        caller's transaction; post id -> hits. Nothing to do with in-memory windows."""
        found = [self._pending.pop(p.id, None) for p in posts]
        if self.stored is None:
            return {}
        return await self.stored.observe(conn, [o for o in found if o is not None])


def rules_dir(home: Path) -> Path:
    return home / "rules"


def load_rule_evaluator(settings: Settings, home: Path) -> RuleService:
    """The rule service for a running instance. Raises PackError if the packs are broken."""
    only = tuple(p.strip() for p in settings.rules_packs.split(",") if p.strip())
    holder = RuleSetHolder(rules_dir(home), only=only)
    return RuleService(holder, reload_every=settings.rules_reload_seconds, stored_windows=True)
