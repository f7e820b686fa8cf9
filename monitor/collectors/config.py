"""The `[[sources]]` tables of the settings file: read, checked, turned into collector configs.

```toml
[[sources]]
kind = "jetstream"            # jetstream | mastodon | rss | reddit
name = "bluesky"
places = ["Exampletown", "Northfield"]
hashtags = ["Exampletown"]

[[sources]]
kind = "reddit"
name = "reddit-exampletown"
subreddits = ["exampletown"]
client_id_env = "REDDIT_ID"          # secrets only by the name of an environment variable
client_secret_env = "REDDIT_SECRET"
user_agent = "python:uk.gov.example.monitor:v0.1 (by /u/ExampleCouncilData)"
```

Every problem is reported at once, each with the file, the source's position and name, and
the key. Sources are chosen by topic, place, hashtag or feed: keys that would watch named
accounts are refused outright (see Safeguards in the README).
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from monitor.collectors.platform import Platform, SourceConfig
from monitor.collectors.registry import PLATFORMS, platform_of
from monitor.config import CONFIG_ENV, DEFAULT_CONFIG_FILE, ConfigError

__all__ = ["KINDS", "SourceConfig", "SourcesError", "describe", "load_sources", "parse_sources"]

# Each platform's config class, by the `kind` a `[[sources]]` table names.
KINDS: dict[str, type[Any]] = {kind: p.config for kind, p in PLATFORMS.items()}

# Keys a council might reach for that would turn topic monitoring into watching people.
ACCOUNT_KEYS = frozenset(
    {
        "accounts",
        "account",
        "users",
        "user",
        "authors",
        "author",
        "dids",
        "wanted_dids",
        "wanteddids",
        "handles",
        "people",
        "watchlist",
        "follow",
        "following",
    }
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SourcesError(ConfigError):
    """One or more `[[sources]]` entries cannot be used; the message lists every problem."""


def config_path(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The settings file, found as `load_settings` finds it (argument, $MONITOR_CONFIG, ./)."""
    env = os.environ if environ is None else environ
    if path:
        return Path(path)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_sources(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> list[SourceConfig]:
    """The sources in the settings file; none when there is no file or no `[[sources]]`."""
    file_path = config_path(path, environ)
    if file_path is None:
        return []
    try:
        data = tomllib.loads(file_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourcesError(f"{file_path}: settings file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{file_path}: not valid TOML: {exc}") from None
    entries = data.get("sources")
    if entries is None and isinstance(data.get("monitor"), dict):
        entries = data["monitor"].get("sources")
    if entries is None:
        return []
    return parse_sources(entries, str(file_path))


def parse_sources(entries: Any, origin: str = "settings") -> list[SourceConfig]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SourcesError(f"{origin}: 'sources' must be an array of tables, written [[sources]]")
    problems: list[str] = []
    configs: list[SourceConfig] = []
    names: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        where = f"{origin}: [[sources]] #{index}"
        name = entry.get("name")
        if isinstance(name, str):
            where += f" ({name!r})"
        errors: list[str] = []
        config = _parse_entry(entry, errors)
        problems.extend(f"{where}: {e}" for e in errors)
        if config is None:
            continue
        if config.name in names:
            problems.append(f"{where}: name: already used by [[sources]] #{names[config.name]}")
            continue
        names[config.name] = index
        configs.append(config)
    if problems:
        raise SourcesError("\n".join(problems))
    return configs


def _parse_entry(entry: dict[str, Any], errors: list[str]) -> SourceConfig | None:
    kind = entry.get("kind")
    if kind not in PLATFORMS:
        errors.append(f"kind: must be one of {', '.join(PLATFORMS)} (got {kind!r})")
        return None
    cls = PLATFORMS[kind].config
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "kind":
            continue
        if key.lower() in ACCOUNT_KEYS:
            errors.append(
                f"{key}: collecting by a list of accounts is not allowed; collect by topic, "
                "place, hashtag or feed (see Safeguards in the README: no per-person monitoring)"
            )
            continue
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"{key}: not a setting of a {kind} source{hint}")
            continue
        coerced = _coerce(key, value, hints[key], errors)
        if coerced is not None:
            values[key] = coerced
    missing = [f.name for f in known.values() if f.default is MISSING and f.name not in values]
    for name in missing:
        if name not in entry:
            errors.append(f"{name}: required for a {kind} source")
    if missing:
        return None
    platform = PLATFORMS[kind]
    config: SourceConfig = cls(**platform.prepare(values))
    # Also when other keys were wrong: report everything at once.
    _validate(config, platform, errors)
    return None if errors else config


MAX_NUMBER = 1_000_000_000


def _coerce(key: str, value: Any, hint: Any, errors: list[str]) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors.append(f"{key}: must be a list of strings")
            return None
        return tuple(v.strip() for v in value if v.strip())
    if isinstance(hint, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is bool:
        if not isinstance(value, bool):
            errors.append(f"{key}: must be true or false")
            return None
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{key}: must be a whole number")
            return None
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{key}: must be a number")
            return None
        if not math.isfinite(value):  # TOML's nan and inf, or 1e400
            errors.append(f"{key}: must be a finite number")
            return None
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            errors.append(f"{key}: must be a string")
            return None
        return value.strip()
    errors.append(f"{key}: unsupported value")
    return None


def _validate(config: SourceConfig, platform: Platform[Any], errors: list[str]) -> None:
    if not _NAME.match(config.name):
        errors.append("name: letters, digits and _ . : - only (at most 100)")
    for f in fields(platform.config):
        value = getattr(config, f.name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            errors.append(f"{f.name}: must be greater than 0")
        elif isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_NUMBER:
            # Seconds, counts and sizes: far past any sensible value, and past what the
            # collectors' arithmetic (a cursor rewound in microseconds) can hold.
            errors.append(f"{f.name}: must be at most {MAX_NUMBER:,}")
        if f.name.endswith("_env") and value and not _ENV_NAME.match(value):
            errors.append(f"{f.name}: must name an environment variable (e.g. REDDIT_SECRET)")
    errors.extend(platform.problems(config))


def describe(config: SourceConfig) -> str:
    """One line saying what a source reads and how it filters (for `monitor sources`)."""
    what = platform_of(config).reads(config)
    terms = [
        f"{len(v)} {k}"
        for k, v in (
            ("keywords", config.keywords),
            ("hashtags", config.hashtags),
            ("places", config.places),
        )
        if v
    ]
    return f"{what}; filter: {', '.join(terms) if terms else 'none (all items kept)'}"
