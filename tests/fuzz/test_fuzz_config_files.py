"""Fuzz the files people edit by hand: rule packs, rule files, the alert routing tree. Shipped
files are mutated line by line and character by character, and random YAML is thrown at each
reader: the only outcome besides success is the reader's own error listing file:line problems
(never a traceback, which would stop a reload or `monitor run`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from monitor.alerts.config import AlertConfigError, parse_config
from monitor.rules.query import DEFAULT_LIMITS, QueryError, parse
from monitor.rules.schema import PackError, parse_pack_file, parse_rules_file
from tests.fuzz.strategies import HOSTILE_STRINGS, any_json, fuzz

ROOT = Path(__file__).resolve().parent.parent.parent
RULE_FILES = sorted(p for p in (ROOT / "rules").glob("*/*.yaml") if p.parent.name != "places")
PACK_FILES = [p for p in RULE_FILES if p.name == "pack.yaml"]
RULES = [p for p in RULE_FILES if p.name != "pack.yaml"]
ROUTING = (ROOT / "alerts" / "routing.yaml").read_text(encoding="utf-8")
TODAY = dt.date(2026, 11, 3)


@st.composite
def edited(draw: st.DrawFn, original: str) -> str:
    """`original` after a few careless edits: lines dropped, repeated, re-indented or changed."""
    lines = original.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.integers(0, 4))
        if kind == 0:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[i])
        elif kind == 2:
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t", "- "])) + lines[i].lstrip()
        elif kind == 3:
            head, _, _ = lines[i].partition(":")
            value = draw(st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=20)))
            lines[i] = f"{head}: {value!r}" if draw(st.booleans()) else f"{head}: {value}"
        else:
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.text(max_size=5)) + lines[i][at:]
    return _as_on_disk("\n".join(lines))


def _as_on_disk(text: str) -> str:
    """What a file can hold once read as UTF-8: no lone surrogates."""
    return text.encode("utf-8", "ignore").decode("utf-8")


@fuzz
@given(data=st.data(), path=st.sampled_from(PACK_FILES))
def test_pack_files(data: st.DataObject, path: Path) -> None:
    text = data.draw(edited(path.read_text(encoding="utf-8")))
    try:
        parse_pack_file(text, "pack.yaml", TODAY, DEFAULT_LIMITS)
    except PackError as exc:
        assert str(exc)


@fuzz
@given(data=st.data(), path=st.sampled_from(RULES))
def test_rule_files(data: st.DataObject, path: Path) -> None:
    text = data.draw(edited(path.read_text(encoding="utf-8")))
    try:
        parse_rules_file(text, path.name, path.parent.name, DEFAULT_LIMITS)
    except PackError as exc:
        assert str(exc)


@fuzz
@given(value=any_json)
def test_any_yaml_document_as_a_rule_file_or_routing_tree(value: object) -> None:
    text = _as_on_disk(yaml.safe_dump(value, allow_unicode=True))
    try:
        parse_rules_file(text, "fuzz.yaml", "fuzz", DEFAULT_LIMITS)
    except PackError:
        pass
    try:
        parse_config(text, "routing.yaml", environ={})
    except AlertConfigError:
        pass


@fuzz
@given(data=st.data())
def test_routing_trees(data: st.DataObject) -> None:
    text = data.draw(edited(ROUTING))
    try:
        parse_config(text, "routing.yaml", environ={})
    except AlertConfigError as exc:
        assert str(exc)


@fuzz
@given(query=st.one_of(st.text(max_size=80), st.sampled_from(HOSTILE_STRINGS)))
def test_rule_queries(query: str) -> None:
    try:
        parse(query)
    except QueryError as exc:
        assert str(exc)
