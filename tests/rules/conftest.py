"""Fixtures for the rule engine's tests: packs written to a temporary rules folder, and posts."""

from __future__ import annotations

import datetime as dt
import functools
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.rules.engine import RuleSet
from monitor.rules.loader import load_ruleset
from monitor.types import PlaceMatch, Post

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

PACK_YAML = """\
id: {id}
version: "1"
owner: Test team
purpose: Tests
review_by: 2099-01-01
"""


def post(
    text: str,
    *,
    ward: str | None = None,
    locality: str | None = None,
    language: str | None = "en",
    author: str = "author-1",
    when: dt.datetime = T0,
    number: int = 0,
) -> Post:
    """A fictional post, optionally about a ward (and its locality)."""
    places: tuple[PlaceMatch, ...] = ()
    if ward or locality:
        name = ward or locality or ""
        places = (PlaceMatch(f"test/{name}", name, "ward", ward, locality, "Testshire", name),)
    return Post(
        id=f"test:{number}",
        platform="test",
        source="test",
        text=text,
        language=language,
        created_at=when,
        collected_at=when,
        author_ref=author,
        places=places,
    )


WritePack = Callable[..., Path]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    return d


@pytest.fixture
def write_pack(rules_dir: Path) -> WritePack:
    """write_pack("demo", rules="<yaml>", pack_extra="<yaml>", file="rules.yaml") -> pack dir.

    YAML is dedented, so tests can write it indented inside triple quotes."""

    def write(
        pack: str = "demo",
        rules: str | None = None,
        *,
        pack_extra: str = "",
        file: str = "rules.yaml",
    ) -> Path:
        d = rules_dir / pack
        d.mkdir(exist_ok=True)
        (d / "pack.yaml").write_text(
            PACK_YAML.format(id=pack) + textwrap.dedent(pack_extra), encoding="utf-8"
        )
        if rules is not None:
            (d / file).write_text(textwrap.dedent(rules), encoding="utf-8")
        return d

    return write


def rule_yaml(
    name: str,
    query: str,
    *,
    extra: str = "",
    kind: str = "rumour",
    match: str = "x",
    no_match: str = "y",
) -> str:
    """One rule as YAML (a list item), with placeholder examples."""
    body = f"""\
- id: {name}
  description: test rule {name}
  query: '{query}'
  labels: {{kind: {kind}, topic: test, severity: low}}
  examples: {{match: ["{match}"], no_match: ["{no_match}"]}}
"""
    if extra:
        body += textwrap.indent(textwrap.dedent(extra), "  ")
    return body


def rules_file(*rules: str) -> str:
    """A rule file holding rules made by `rule_yaml`."""
    return "rules:\n" + "".join(textwrap.indent(r, "  ") for r in rules)


SHIPPED_RULES = Path(__file__).resolve().parents[2] / "rules"


@functools.cache
def shipped_ruleset() -> RuleSet:
    """The rules/ folder as the service loads it, on a fixed day (so a passed review date
    cannot change a test), loaded once for the test session."""
    return load_ruleset(SHIPPED_RULES, today=dt.date(2026, 1, 1))
