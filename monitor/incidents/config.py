"""The incident settings (from the one settings table), as the pure core needs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from monitor.config import Settings


@dataclass(frozen=True)
class IncidentsConfig:
    gap: timedelta = timedelta(hours=6)
    min_posts: int = 5
    min_authors: int = 3
    min_places: int = 1
    immediate_min_posts: int = 2
    immediate_within: timedelta = timedelta(minutes=60)
    corroborated_min_posts: int = 3
    corroborated_places: int = 0
    corroborated_rule_authors: int = 1
    corroborated_episode_posts: int = 3
    corroborated_episode_within: timedelta = timedelta(minutes=30)
    cool_after: timedelta = timedelta(hours=12)
    close_after: timedelta = timedelta(hours=168)
    privacy_min_count: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> IncidentsConfig:
        return cls(
            gap=timedelta(hours=settings.incidents_gap_hours),
            min_posts=settings.incidents_min_posts,
            min_authors=settings.incidents_min_authors,
            min_places=settings.incidents_min_places,
            immediate_min_posts=settings.incidents_immediate_min_posts,
            immediate_within=timedelta(minutes=settings.incidents_immediate_minutes),
            corroborated_min_posts=settings.incidents_corroborated_min_posts,
            corroborated_places=settings.incidents_corroborated_places,
            corroborated_rule_authors=settings.incidents_corroborated_rule_authors,
            corroborated_episode_posts=settings.incidents_corroborated_episode_posts,
            corroborated_episode_within=timedelta(
                minutes=settings.incidents_corroborated_episode_minutes
            ),
            cool_after=timedelta(hours=settings.incidents_cool_hours),
            close_after=timedelta(hours=settings.incidents_close_hours),
            privacy_min_count=settings.privacy_min_count,
        )
