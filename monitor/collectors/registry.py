"""Every platform a `[[sources]]` table may name, by its `kind`: one line per platform module."""

from __future__ import annotations

from typing import Any

from monitor.collectors import jetstream, mastodon, reddit, rss
from monitor.collectors.platform import Platform, SourceConfig

PLATFORMS: dict[str, Platform[Any]] = {
    p.kind: p
    for p in (
        jetstream.SOURCE_PLATFORM,
        mastodon.SOURCE_PLATFORM,
        rss.SOURCE_PLATFORM,
        reddit.SOURCE_PLATFORM,
    )
}
_BY_CONFIG: dict[type[Any], Platform[Any]] = {p.config: p for p in PLATFORMS.values()}


def platform_of(config: SourceConfig) -> Platform[Any]:
    """The platform whose config this is."""
    try:
        return _BY_CONFIG[type(config)]
    except KeyError:
        raise TypeError(f"no platform reads a {type(config).__name__}") from None
