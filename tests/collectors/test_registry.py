"""The platform registry: every `kind` comes from one platform module, which owns its config,
checks, description and construction."""

from __future__ import annotations

import importlib
from dataclasses import fields

import pytest

from monitor.collectors.config import KINDS
from monitor.collectors.registry import PLATFORMS, platform_of
from monitor.collectors.rss import RssConfig


def test_each_platform_lives_in_the_module_named_by_its_kind() -> None:
    for kind, platform in PLATFORMS.items():
        module = importlib.import_module(platform.config.__module__)
        assert module.SOURCE_PLATFORM is platform
        assert KINDS[kind] is platform.config
        # every platform's config has the keys the generic parts read
        names = {f.name for f in fields(platform.config)}
        assert {"name", "keywords", "hashtags", "places", "enabled"} <= names, kind


def test_a_config_finds_its_platform_and_a_stranger_is_refused() -> None:
    assert platform_of(RssConfig(name="n", feeds=("https://a.example/rss",))).kind == "rss"
    with pytest.raises(TypeError, match="no platform reads a str"):
        platform_of("rss")  # type: ignore[arg-type]
