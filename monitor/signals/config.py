"""Signals settings, parsed once from the settings table into typed, validated values.

Everything a threshold or scale can be set to is a field of `monitor.config.Settings`
(`signals_*`); this module turns those strings and numbers into the structures the pure cores
use, and refuses a bad value with the setting's name and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from monitor.config import ConfigError, Settings

SEVERITIES = ("low", "medium", "high", "critical")


def _number(text: str) -> float:
    """A finite, non-negative number (a NaN threshold is never crossed, so nothing would ever
    alert; a negative one always is)."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _floats(name: str, text: str) -> tuple[float, ...]:
    try:
        return tuple(_number(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ConfigError(
            f"setting {name}: expected comma-separated numbers of 0 or more, got {text!r}"
        ) from None


def _names(name: str, text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    if len(set(names)) != len(names):
        raise ConfigError(f"setting {name}: names must be distinct, got {text!r}")
    return names


def parse_weights(name: str, text: str) -> dict[str, float]:
    """`a=1,b=0.5` -> {'a': 1.0, 'b': 0.5}."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError(part)
            out[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"setting {name}: expected name=number pairs, got {part!r}") from None
        if not math.isfinite(out[key.strip()]):
            raise ConfigError(f"setting {name}: weight of {key.strip()} is not a finite number")
        if out[key.strip()] < 0:
            raise ConfigError(f"setting {name}: weight of {key.strip()} is negative")
    return out


@dataclass(frozen=True, slots=True)
class LevelScale:
    """An ordered scale of levels; entering level i (i >= 1) needs all three thresholds[i-1]:
    rise over the area's own baseline, weighted flagged volume and distinct authors."""

    names: tuple[str, ...]
    rise: tuple[float, ...]
    weighted: tuple[float, ...]
    authors: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.names)
        if n < 2:
            raise ConfigError("setting signals_levels: a scale needs at least two levels")
        for label, values in (
            ("signals_level_rise", self.rise),
            ("signals_level_weighted", self.weighted),
            ("signals_level_authors", self.authors),
        ):
            if len(values) != n - 1:
                raise ConfigError(
                    f"setting {label}: needs {n - 1} values (one per level above "
                    f"{self.names[0]!r}), got {len(values)}"
                )
            if any(b < a for a, b in zip(values, values[1:], strict=False)):
                raise ConfigError(f"setting {label}: thresholds must not decrease: {values}")

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ConfigError(f"level {name!r} is not on the scale {self.names}") from None

    def severity(self, level: int) -> str:
        """The alert severity label for a level: its own name when that is a severity,
        else counted down from the top of the scale (top = critical)."""
        name = self.names[level]
        if name in SEVERITIES:
            return name
        from_top = len(self.names) - 1 - level
        return SEVERITIES[max(0, len(SEVERITIES) - 1 - from_top)]


@dataclass(frozen=True, slots=True)
class TensionConfig:
    scale: LevelScale
    window: timedelta
    baseline_weeks: int
    prior_rate: float  # weighted flagged volume per hour assumed for a place with no history
    prior_hours: float  # how many hours of history that prior is worth
    pseudocount: float  # added to both sides of the rise ratio, so 1 post over 0 is not "∞"
    down_factor: float  # thresholds are multiplied by this to decide a level may be lowered
    cool_down: timedelta  # ... and they must stay under it this long
    alert_level: int
    kind_weights: Mapping[str, float]
    severity_weights: Mapping[str, float]
    author_cap: float = 3.0  # most weight one author adds to a window
    alert_rule_authors: int = 0  # distinct authors of rule-flagged posts to reach alert_level
    timezone: str = "Europe/London"


@dataclass(frozen=True, slots=True)
class RumourConfig:
    join: float  # cosine similarity to a cluster centroid for a claim-like post to join it
    join_unclaimed: float  # ... for any other post (a question about it, a repeat in other words)
    merge: float  # centroid-to-centroid similarity at which two clusters are one rumour
    claim_match: float  # similarity to a registered claim for a post to join it
    claim_confirm: float  # from here up to claim_match: joins only once a person confirms
    simhash_distance: int  # Hamming distance (of 64 bits) counted as a near-duplicate
    claim_min_score: float  # rumour score from which a post may start a new cluster
    window: timedelta  # velocity window
    spread_posts: int
    spread_authors: int
    idle: timedelta  # unregistered clusters with no post this long are closed
    counter_window: timedelta  # before/after window around a counter message
    spread_places: int = 0  # distinct places a spreading rumour's window names
    claim_share: float = 0.0  # share of a spreading rumour's window that is claim-like
    cohesion: float = 0.0  # least mean similarity of a cluster's claim posts to its centroid
    term_overlap: float = 0.0  # least IDF-weighted share of a claim's terms typical of a cluster
    # The earlier way to spread (0 posts: off): fewer posts and authors in the window, when
    # the window's posts name at least `early_places` places.
    early_posts: int = 0
    early_authors: int = 0
    early_places: int = 2
    # ... or when posts from this many of the window's authors matched a rumour rule (0: off),
    # on `early_rule_posts` telling posts (0: as many as `early_posts`).
    early_rule_authors: int = 0
    early_rule_posts: int = 0


# Centroids of two halves of one rumour are closer than a single post is to either, and
# merging is not undone: demand this much more similarity to merge than to join.
MERGE_MARGIN = 0.1
# A post that is not itself claim-like (no rumour score, no rumour rule) needs a margin over
# `join` too. With hashed bag-of-words vectors it must be wider: short everyday posts share
# enough words with a claim ("parking outside the school in City", "charging for parking
# outside every shop in City") to look alike, which sentence embeddings do not. Measured on
# generated weeks and the demo (benchmarks/signals_detection.py): 0.15 removes such false
# alarms for hashed vectors; for the encoder 0.1 keeps questions about a claim joining it.
UNCLAIMED_MARGIN = {"encoder": 0.1, "hashed": 0.15}


@dataclass(frozen=True, slots=True)
class SignalsConfig:
    tension: TensionConfig
    rumours: RumourConfig

    @classmethod
    def from_settings(cls, settings: Settings, *, hashed_embeddings: bool = False) -> SignalsConfig:
        """`hashed_embeddings`: the keyword classifier's bag-of-words vectors are in use, whose
        similarities run lower than the encoder's, so their own thresholds apply."""
        s = settings
        scale = LevelScale(
            names=_names("signals_levels", s.signals_levels),
            rise=_floats("signals_level_rise", s.signals_level_rise),
            weighted=_floats("signals_level_weighted", s.signals_level_weighted),
            authors=_floats("signals_level_authors", s.signals_level_authors),
        )
        if not 0 < s.signals_down_factor <= 1:
            raise ConfigError("setting signals_down_factor: must be in (0, 1]")
        for name in ("signals_window_minutes", "signals_rumour_window_minutes"):
            if getattr(s, name) <= 0:
                raise ConfigError(f"setting {name}: must be positive")
        tension = TensionConfig(
            scale=scale,
            window=timedelta(minutes=s.signals_window_minutes),
            baseline_weeks=max(1, s.signals_baseline_weeks),
            prior_rate=s.signals_prior_rate,
            prior_hours=max(1e-6, s.signals_prior_hours),
            pseudocount=s.signals_rise_pseudocount,
            down_factor=s.signals_down_factor,
            cool_down=timedelta(minutes=s.signals_cool_down_minutes),
            alert_level=scale.index(s.signals_alert_level),
            kind_weights=parse_weights("signals_kind_weights", s.signals_kind_weights),
            severity_weights=parse_weights("signals_severity_weights", s.signals_severity_weights),
            author_cap=s.signals_author_cap if s.signals_author_cap > 0 else float("inf"),
            alert_rule_authors=max(0, s.signals_alert_rule_authors),
        )
        if not 0 <= s.signals_claim_share <= 1:
            raise ConfigError("setting signals_claim_share: must be in [0, 1]")
        if hashed_embeddings:
            cohesion = s.signals_keyword_cluster_cohesion
            join = s.signals_keyword_cluster_similarity
            match, confirm = s.signals_keyword_claim_match, s.signals_keyword_claim_confirm
        else:
            cohesion = s.signals_cluster_cohesion
            join = s.signals_cluster_similarity
            match, confirm = s.signals_claim_match, s.signals_claim_confirm
        if not confirm <= match:
            raise ConfigError(
                "settings signals_claim_confirm / signals_keyword_claim_confirm must not exceed "
                "the matching claim_match threshold"
            )
        rumours = RumourConfig(
            join=join,
            join_unclaimed=min(
                0.99, join + UNCLAIMED_MARGIN["hashed" if hashed_embeddings else "encoder"]
            ),
            merge=min(0.99, join + MERGE_MARGIN),
            claim_match=match,
            claim_confirm=confirm,
            simhash_distance=s.signals_simhash_distance,
            claim_min_score=s.signals_claim_min_score,
            window=timedelta(minutes=s.signals_rumour_window_minutes),
            spread_posts=s.signals_spread_posts,
            spread_authors=s.signals_spread_authors,
            idle=timedelta(hours=s.signals_rumour_idle_hours),
            counter_window=timedelta(hours=s.signals_counter_window_hours),
            spread_places=max(0, s.signals_spread_places),
            claim_share=s.signals_claim_share,
            cohesion=cohesion,
            term_overlap=s.signals_claim_term_overlap,
            early_posts=s.signals_spread_early_posts,
            early_authors=s.signals_spread_early_authors,
            early_places=s.signals_spread_early_places,
            early_rule_authors=s.signals_spread_early_rule_authors,
            early_rule_posts=s.signals_spread_early_rule_posts,
        )
        return cls(tension=tension, rumours=rumours)
