"""The rule engine as the pipeline sees it: per-post and windowed hits, with hot reload.

`load_rule_evaluator` is what the composition root calls. The service checks the packs for
edits at most every `rules_reload_seconds` (a few stats), swaps in an edited set only when it
loads cleanly, and keeps the window counts of windowed rules that did not change.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from monitor.config import Settings
from monitor.rules.engine import RuleSet, WindowState, evaluate_post
from monitor.rules.loader import RuleSetHolder
from monitor.types import Post, RuleHit


class RuleService:
    """Implements the pipeline's `RuleEvaluator`: `evaluate(post, scores, now)`."""

    def __init__(
        self,
        holder: RuleSetHolder,
        *,
        reload_every: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.holder = holder
        self.window = WindowState()
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
            hits += self.window.observe(evaluation, post, when, clusters)
        return hits


def rules_dir(home: Path) -> Path:
    return home / "rules"


def load_rule_evaluator(settings: Settings, home: Path) -> RuleService:
    """The rule service for a running instance. Raises PackError if the packs are broken."""
    only = tuple(p.strip() for p in settings.rules_packs.split(",") if p.strip())
    holder = RuleSetHolder(rules_dir(home), only=only)
    return RuleService(holder, reload_every=settings.rules_reload_seconds)
