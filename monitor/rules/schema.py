"""Pure: validate rule packs from YAML text into typed, compiled specs; every problem carries
file, line and reason.

YAML is read by the project's one reader (`monitor.documents.lines.compose`: size bound, no
anchors or aliases, one document), whose nodes keep their lines, and converted here so that a
typo is reported where it is ("rules/tension/threats.yaml:42: unknown key 'severty' (did you
mean 'severity'?)") rather than as a Python traceback. (The other files people edit are
checked by declarative schemas, `monitor.documents.schema`; rule packs are not yet: their
queries point at the line inside a multi-line value, which needs the nodes.)

A pack is a folder: `pack.yaml` (id, version, owner, purpose, review_by, counter_speech) and
rule files, each a mapping with a `rules:` list.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import yaml

from monitor.documents import lines
from monitor.rules.query import Compiled, Limits, QueryError, compile_query
from monitor.types import PlaceMatch

KINDS = ("rumour", "tension", "threat", "call_to_gather", "hostility")
SEVERITIES = ("low", "medium", "high", "critical")
STANCES = ("support", "deny", "query", "comment")
WINDOW_PER = ("ward", "locality", "district", "place", "cluster", "all")
# Labels the engine sets itself, and names that would point a rule at a person.
RESERVED_LABELS = frozenset({"area", "cluster", "rule", "pack"})
PERSONAL_LABELS = frozenset(
    {"author", "author_ref", "user", "username", "handle", "account", "profile", "person"}
)
_ID = re.compile(r"[a-z0-9][a-z0-9_\-]*")
_LABEL_NAME = re.compile(r"[a-z][a-z0-9_]*")
_LABEL_VALUE = re.compile(r"[A-Za-z0-9_\-. ]{1,80}")
_LANG = re.compile(r"[a-z]{2,3}|unknown")
_DURATION = re.compile(r"\s*(\d+)\s*(m|min|h|d)\s*")
_CMP = re.compile(r"\s*(>=|<=|>|<|==)?\s*(\d+(?:\.\d+)?)\s*(x|/h)?\s*")
_SCORE = re.compile(r"\s*([a-z][a-z0-9_]*)\s*(>=|<=|>|<)\s*(\d*\.?\d+)\s*")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth a look) in a pack, where it is and why."""

    file: str
    line: int  # 1-based; 0 when the problem is with the file as a whole
    message: str
    level: str = "error"  # error | warning

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.level}: {self.message}"


class PackError(ValueError):
    """Packs that cannot be loaded; `problems` lists every error found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line))
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class Cmp:
    """A threshold such as ">= 20"; `unit` is "", "x" (a ratio) or "/h" (per hour)."""

    op: str
    value: float
    unit: str = ""

    def holds(self, x: float) -> bool:
        if self.op == ">=":
            return x >= self.value
        if self.op == ">":
            return x > self.value
        if self.op == "<=":
            return x <= self.value
        if self.op == "<":
            return x < self.value
        return x == self.value

    def __str__(self) -> str:
        v = f"{self.value:g}"
        return f"{self.op} {v}{self.unit}"


@dataclass(frozen=True, slots=True)
class ScoreCondition:
    head: str
    cmp: Cmp

    def __str__(self) -> str:
        return f"{self.head} {self.cmp}"


@dataclass(frozen=True, slots=True)
class PlaceFilter:
    """Places a post must mention: any known place, or one in the listed wards, localities or
    districts (names compared without case or accents)."""

    wards: frozenset[str] = frozenset()
    localities: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()

    def accepts(self, places: Iterable[PlaceMatch]) -> bool:
        for p in places:
            if not (self.wards or self.localities or self.districts):
                return True
            if p.ward and fold_name(p.ward) in self.wards:
                return True
            if p.locality and fold_name(p.locality) in self.localities:
                return True
            if fold_name(p.district) in self.districts:
                return True
        return False

    def __str__(self) -> str:
        parts = [
            f"{what} in {', '.join(sorted(names))}"
            for what, names in (
                ("ward", self.wards),
                ("locality", self.localities),
                ("district", self.districts),
            )
            if names
        ]
        return " or ".join(parts) if parts else "any known place"


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """Conditions over the stream: of the posts that met the rule's per-post conditions in
    the last `within`, per `per` key."""

    per: str
    within: dt.timedelta
    count: Cmp | None = None
    distinct_authors: Cmp | None = None
    velocity: Cmp | None = None  # posts per hour over the last `velocity_within`
    velocity_within: dt.timedelta = dt.timedelta(minutes=15)
    rise: Cmp | None = None  # count in `within` over the key's average per `within`
    baseline: dt.timedelta = dt.timedelta(days=7)
    baseline_floor: float = 1.0  # an empty baseline counts as this many posts per window

    def describe(self) -> str:
        conds = [
            f"{name} {c}"
            for name, c in (
                ("count", self.count),
                ("distinct authors", self.distinct_authors),
                ("velocity", self.velocity),
                ("rise over baseline", self.rise),
            )
            if c is not None
        ]
        return f"per {self.per} over {_fmt_duration(self.within)}: " + ", ".join(conds)


@dataclass(frozen=True, slots=True)
class Example:
    """A post a rule must (or must not) match; places, language and scores are optional."""

    text: str
    line: int
    places: tuple[PlaceMatch, ...] = ()
    language: str | None = None
    scores: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class CounterSpeech:
    """Posts a pack never flags: the council's own counter messages, people refuting a claim."""

    id: str
    description: str
    query: Compiled
    file: str
    line: int
    match: tuple[Example, ...] = ()
    no_match: tuple[Example, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str  # "<pack>.<name>", unique across packs
    pack: str
    description: str
    labels: Mapping[str, str]
    file: str
    line: int
    query: Compiled | None = None
    unless: Compiled | None = None
    scores: tuple[ScoreCondition, ...] = ()
    place: PlaceFilter | None = None
    languages: frozenset[str] | None = None
    window: WindowSpec | None = None
    counter_speech: bool = True  # apply the pack's counter-speech exclusions
    enabled: bool = True
    match: tuple[Example, ...] = ()
    no_match: tuple[Example, ...] = ()


@dataclass(frozen=True, slots=True)
class PackSpec:
    id: str
    version: str
    owner: str
    purpose: str
    review_by: dt.date
    file: str
    counter_speech: tuple[CounterSpeech, ...] = ()
    rules: tuple[RuleSpec, ...] = ()


def fold_name(name: str) -> str:
    from monitor.rules.normalise import fold

    return " ".join(fold(name).split())


def _fmt_duration(d: dt.timedelta) -> str:
    s = int(d.total_seconds())
    if s % 86400 == 0:
        return f"{s // 86400}d"
    if s % 3600 == 0:
        return f"{s // 3600}h"
    return f"{s // 60}m"


# --- YAML with lines -------------------------------------------------------------------------

_constructor = yaml.constructor.SafeConstructor()
_ANCHOR_HINT = " (rule files: write the text out, or quote it if * is part of a query)"
T = TypeVar("T")


class _Bad(Exception):
    """Raised inside a converter; the caller records it as a Problem and goes on."""

    def __init__(self, node: yaml.Node | None, message: str, line: int | None = None) -> None:
        super().__init__(message)
        if line is None:
            line = node.start_mark.line + 1 if node is not None else 0
        self.line = line
        self.message = message


def compose(text: str, file: str) -> yaml.Node | None:
    """The YAML node tree of `text`, read by the one YAML reader (`monitor.documents.lines`:
    size bound, no anchors or aliases, one document)."""
    try:
        return lines.compose(text, file, _ANCHOR_HINT)
    except lines.YamlError as exc:
        raise PackError([Problem(file, exc.line, exc.reason)]) from None


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise _Bad(node, "expected a single value here, not a list or mapping")
    try:
        return _constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError):
        # YAML reads 2026-13-45 unquoted as a date and fails building it: say so, not crash.
        raise _Bad(node, f"{node.value[:40]!r} is not a valid value here; quote it") from None


def _mapping(node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise _Bad(node, f"{what} must be a mapping of `key: value` lines")
    out: list[tuple[str, yaml.Node, yaml.Node]] = []
    seen: set[str] = set()
    for k, v in node.value:
        key = _scalar(k)
        if not isinstance(key, str):
            raise _Bad(k, f"keys must be words, not {key!r}")
        if key in seen:
            raise _Bad(k, f"{key!r} appears twice in {what}")
        seen.add(key)
        out.append((key, k, v))
    return out


def _check_keys(
    items: list[tuple[str, yaml.Node, yaml.Node]],
    allowed: Iterable[str],
    required: Iterable[str],
    what: str,
    node: yaml.Node,
) -> dict[str, yaml.Node]:
    allowed = tuple(allowed)
    found: dict[str, yaml.Node] = {}
    for key, knode, vnode in items:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
            )
            raise _Bad(knode, f"unknown key {key!r} in {what}{hint}")
        found[key] = vnode
    for key in required:
        if key not in found:
            raise _Bad(node, f"{what} needs `{key}:`")
    return found


def _str(node: yaml.Node, *, what: str, allow_empty: bool = False) -> str:
    value = _scalar(node)
    if isinstance(value, bool) or value is None or not isinstance(value, str | int | float):
        raise _Bad(node, f"{what} must be text (put it in quotes)")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    text = str(value).strip()
    if not text and not allow_empty:
        raise _Bad(node, f"{what} is empty")
    return text


def _strs(node: yaml.Node, what: str) -> list[str]:
    if isinstance(node, yaml.SequenceNode):
        return [_str(n, what=what) for n in node.value]
    return [_str(node, what=what)]


def _query(node: yaml.Node, *, limits: Limits) -> Compiled:
    text = _str(node, what="query")
    try:
        return compile_query(text, limits)
    except QueryError as exc:
        # Point at the line within a multi-line (| or >) query where we can.
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            line += 1 + text[: exc.pos].count("\n")
        col = exc.pos - (text.rfind("\n", 0, exc.pos) + 1) + 1
        raise _Bad(node, f"query: {exc.message} (column {col})", line) from None


def _duration(node: yaml.Node, what: str) -> dt.timedelta:
    text = _str(node, what=what)
    m = _DURATION.fullmatch(text)
    if not m:
        raise _Bad(node, f"{what} must be a duration like 15m, 1h or 7d, not {text!r}")
    n, unit = int(m.group(1)), m.group(2)
    d = {"m": dt.timedelta(minutes=n), "min": dt.timedelta(minutes=n),
         "h": dt.timedelta(hours=n), "d": dt.timedelta(days=n)}[unit]  # fmt: skip
    if d <= dt.timedelta(0):
        raise _Bad(node, f"{what} must be longer than zero")
    return d


def _cmp(node: yaml.Node, what: str, unit: str) -> Cmp:
    text = _str(node, what=what)
    m = _CMP.fullmatch(text)
    if not m or (m.group(3) or "") not in ("", unit):
        example = {"": ">= 20", "x": ">= 3x", "/h": ">= 30/h"}[unit]
        raise _Bad(node, f"{what} must be a threshold like {example!r}, not {text!r}")
    return Cmp(m.group(1) or ">=", float(m.group(2)), unit)


def _score(node: yaml.Node) -> ScoreCondition:
    text = _str(node, what="a score condition")
    m = _SCORE.fullmatch(text)
    if not m:
        raise _Bad(node, f"score conditions look like 'hostile >= 0.8', not {text!r}")
    value = float(m.group(3))
    if not 0.0 <= value <= 1.0:
        raise _Bad(node, f"scores run from 0 to 1; {value:g} can never be reached")
    return ScoreCondition(m.group(1), Cmp(m.group(2), value))


def _place(node: yaml.Node) -> PlaceFilter:
    if isinstance(node, yaml.ScalarNode):
        if _scalar(node) == "any":
            return PlaceFilter()
        raise _Bad(node, "place must be `any` or a mapping with ward, locality or district")
    keys = _check_keys(_mapping(node, "place"), ("ward", "locality", "district"), (), "place", node)
    if not keys:
        raise _Bad(node, "place needs at least one of ward, locality, district (or write `any`)")
    return PlaceFilter(
        wards=frozenset(fold_name(s) for s in _strs(keys["ward"], "ward")) if "ward" in keys
        else frozenset(),
        localities=frozenset(fold_name(s) for s in _strs(keys["locality"], "locality"))
        if "locality" in keys else frozenset(),
        districts=frozenset(fold_name(s) for s in _strs(keys["district"], "district"))
        if "district" in keys else frozenset(),
    )  # fmt: skip


def _languages(node: yaml.Node) -> frozenset[str]:
    out = set()
    for code in _strs(node, "language"):
        code = code.lower()
        if not _LANG.fullmatch(code):
            raise _Bad(node, f"language codes are like en, ur, pl (or unknown), not {code!r}")
        out.add(code)
    return frozenset(out)


def _window(node: yaml.Node) -> WindowSpec:
    keys = _check_keys(
        _mapping(node, "window"),
        (
            "per",
            "within",
            "count",
            "distinct_authors",
            "velocity",
            "velocity_within",
            "rise",
            "baseline",
            "baseline_floor",
        ),  # fmt: skip
        ("per", "within"),
        "window",
        node,
    )
    per = _str(keys["per"], what="per")
    if per in ("author", "author_ref", "user", "account"):
        raise _Bad(keys["per"], "rules never target an account: count per place or cluster")
    if per not in WINDOW_PER:
        raise _Bad(keys["per"], f"per must be one of {', '.join(WINDOW_PER)}, not {per!r}")
    within = _duration(keys["within"], "within")
    if within > dt.timedelta(days=7):
        raise _Bad(keys["within"], "within may be at most 7d")
    spec = WindowSpec(per=per, within=within)
    changes: dict[str, Any] = {}
    if "count" in keys:
        changes["count"] = _cmp(keys["count"], "count", "")
    if "distinct_authors" in keys:
        changes["distinct_authors"] = _cmp(keys["distinct_authors"], "distinct_authors", "")
    if "velocity" in keys:
        changes["velocity"] = _cmp(keys["velocity"], "velocity", "/h")
    changes["velocity_within"] = (
        _duration(keys["velocity_within"], "velocity_within")
        if "velocity_within" in keys
        else min(within, dt.timedelta(minutes=15))
    )
    if changes["velocity_within"] > within:
        raise _Bad(keys["velocity_within"], "velocity_within may not be longer than within")
    if "rise" in keys:
        changes["rise"] = _cmp(keys["rise"], "rise", "x")
    if "baseline" in keys:
        changes["baseline"] = _duration(keys["baseline"], "baseline")
        if changes["baseline"] > dt.timedelta(days=28):
            raise _Bad(keys["baseline"], "baseline may be at most 28d")
    if "baseline_floor" in keys:
        floor = _scalar(keys["baseline_floor"])
        if isinstance(floor, bool) or not isinstance(floor, int | float) or floor <= 0:
            raise _Bad(keys["baseline_floor"], "baseline_floor must be a number above 0")
        changes["baseline_floor"] = float(floor)
    if not any(k in changes for k in ("count", "distinct_authors", "velocity", "rise")):
        raise _Bad(node, "window needs at least one of count, distinct_authors, velocity, rise")
    baseline = changes.get("baseline", spec.baseline)
    if "rise" in changes and baseline < 2 * within:
        raise _Bad(node, "baseline must be at least twice as long as within to measure a rise")
    return WindowSpec(**{**_window_fields(spec), **changes})


def _window_fields(spec: WindowSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__slots__}


def _labels(node: yaml.Node) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key, knode, vnode in _mapping(node, "labels"):
        if not _LABEL_NAME.fullmatch(key):
            raise _Bad(knode, f"label names are lower-case words like topic, not {key!r}")
        if key in PERSONAL_LABELS:
            raise _Bad(knode, f"rules never target an account: no {key!r} label")
        if key in RESERVED_LABELS:
            raise _Bad(knode, f"the engine sets {key!r} itself; remove it from labels")
        value = _scalar(vnode)
        if not isinstance(value, str):
            raise _Bad(vnode, f"label {key}'s value must be text; put {value!r} in quotes")
        if not _LABEL_VALUE.fullmatch(value):
            raise _Bad(vnode, f"label {key}'s value may use letters, digits, _ - . and spaces")
        labels[key] = value
    for key, allowed in (("kind", KINDS), ("severity", SEVERITIES)):
        if key not in labels:
            raise _Bad(node, f"labels need `{key}:` ({' | '.join(allowed)})")
        if labels[key] not in allowed:
            raise _Bad(node, f"{key} must be one of {' | '.join(allowed)}, not {labels[key]!r}")
    if "topic" not in labels:
        raise _Bad(node, "labels need `topic:` (what the rule is about, e.g. hotel, gathering)")
    if "stance" in labels and labels["stance"] not in STANCES:
        raise _Bad(node, f"stance must be one of {' | '.join(STANCES)}")
    return labels


def _example(node: yaml.Node) -> Example:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        return Example(_str(node, what="an example"), line)
    keys = _check_keys(
        _mapping(node, "an example"), ("text", "place", "language", "scores"), ("text",),
        "an example", node,
    )  # fmt: skip
    places: tuple[PlaceMatch, ...] = ()
    if "place" in keys:
        p = _check_keys(
            _mapping(keys["place"], "an example's place"),
            ("name", "ward", "locality", "district"), (), "an example's place", keys["place"],
        )  # fmt: skip
        vals = {k: _str(v, what=k) for k, v in p.items()}
        name = vals.get("name") or vals.get("ward") or vals.get("locality") or "Example place"
        places = (
            PlaceMatch(
                place_id=f"example/{fold_name(name).replace(' ', '-')}",
                name=name,
                kind="ward" if "ward" in vals and "name" not in vals else "neighbourhood",
                ward=vals.get("ward"),
                locality=vals.get("locality"),
                district=vals.get("district", "Exampleshire"),
                matched=name,
            ),
        )
    language = _str(keys["language"], what="language").lower() if "language" in keys else None
    scores: dict[str, float] | None = None
    if "scores" in keys:
        scores = {}
        for head, knode, vnode in _mapping(keys["scores"], "an example's scores"):
            value = _scalar(vnode)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Bad(vnode, f"score {head} must be a number from 0 to 1")
            if not 0 <= value <= 1:
                raise _Bad(vnode, f"score {head} must be from 0 to 1")
            scores[head] = float(value)
            del knode
    return Example(_str(keys["text"], what="an example's text"), line, places, language, scores)


def _examples(node: yaml.Node, *, what: str) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    keys = _check_keys(
        _mapping(node, "examples"), ("match", "no_match"), ("match", "no_match"), "examples", node
    )
    out: list[tuple[Example, ...]] = []
    for name in ("match", "no_match"):
        seq = keys[name]
        if not isinstance(seq, yaml.SequenceNode) or not seq.value:
            raise _Bad(seq, f"examples.{name} must list at least one post for {what}")
        out.append(tuple(_example(n) for n in seq.value))
    return out[0], out[1]


# --- packs and rules -------------------------------------------------------------------------

RULE_KEYS = ("id", "description", "query", "unless", "scores", "place", "language", "window",
             "labels", "examples", "counter_speech", "enabled")  # fmt: skip
_LABEL_KEYS = ("kind", "topic", "severity", "stance")
PACK_KEYS = ("id", "version", "owner", "purpose", "review_by", "counter_speech")


class _Collector:
    """Runs converters, turning failures into Problems so one bad rule does not hide others."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def run(self, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except _Bad as exc:
            self.problems.append(Problem(self.file, exc.line, exc.message))
            return None

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message, "warning"))


def parse_pack_file(
    text: str, file: str, today: dt.date, limits: Limits
) -> tuple[PackSpec, list[Problem]]:
    """A pack's `pack.yaml` (without its rules) and its warnings. Raises PackError."""
    root = compose(text, file)
    col = _Collector(file)

    def build() -> PackSpec:
        if root is None:
            raise _Bad(None, "pack.yaml is empty")
        keys = _check_keys(
            _mapping(root, "pack.yaml"), PACK_KEYS, ("id", "version", "owner", "purpose",
            "review_by"), "pack.yaml", root,
        )  # fmt: skip
        pack_id = _str(keys["id"], what="id")
        if not _ID.fullmatch(pack_id):
            raise _Bad(keys["id"], "a pack id is lower-case letters, digits, _ and -")
        review = _scalar(keys["review_by"])
        if isinstance(review, str):
            try:
                review = dt.date.fromisoformat(review)
            except ValueError:
                review = None
        if not isinstance(review, dt.date):
            raise _Bad(keys["review_by"], "review_by must be a date like 2027-03-31")
        if review < today:
            col.warn(
                keys["review_by"].start_mark.line + 1,
                f"review date {review.isoformat()} has passed: review the pack and set a new one",
            )
        counters: list[CounterSpeech] = []
        if "counter_speech" in keys:
            seq = keys["counter_speech"]
            if not isinstance(seq, yaml.SequenceNode):
                raise _Bad(seq, "counter_speech must be a list of entries with id and query")
            for item in seq.value:
                cs = col.run(partial(_counter, item, pack_id, file, limits))
                if cs is not None:
                    counters.append(cs)
        return PackSpec(
            id=pack_id,
            version=_str(keys["version"], what="version"),
            owner=_str(keys["owner"], what="owner"),
            purpose=_str(keys["purpose"], what="purpose"),
            review_by=review,
            file=file,
            counter_speech=tuple(counters),
        )

    pack = col.run(build)
    errors = [p for p in col.problems if p.level == "error"]
    if errors or pack is None:
        raise PackError(col.problems)
    return pack, col.problems


def _counter(node: yaml.Node, pack_id: str, file: str, limits: Limits) -> CounterSpeech:
    keys = _check_keys(
        _mapping(node, "a counter_speech entry"), ("id", "description", "query", "examples"),
        ("id", "description", "query", "examples"), "a counter_speech entry", node,
    )  # fmt: skip
    name = _str(keys["id"], what="id")
    if not _ID.fullmatch(name):
        raise _Bad(keys["id"], "an id is lower-case letters, digits, _ and -")
    match, no_match = _examples(keys["examples"], what=name)
    return CounterSpeech(
        id=f"{pack_id}.{name}",
        description=_str(keys["description"], what="description"),
        query=_query(keys["query"], limits=limits),
        file=file,
        line=node.start_mark.line + 1,
        match=match,
        no_match=no_match,
    )


def parse_rules_file(
    text: str, file: str, pack_id: str, limits: Limits
) -> tuple[list[RuleSpec], list[Problem]]:
    """The rules in one rule file, and every problem found (errors and warnings)."""
    root = compose(text, file)
    col = _Collector(file)
    rules: list[RuleSpec] = []

    def items() -> list[yaml.Node]:
        if root is None:
            raise _Bad(None, "the file is empty; it needs a `rules:` list")
        keys = _check_keys(_mapping(root, "a rule file"), ("rules",), ("rules",), "a rule file",
                           root)  # fmt: skip
        seq = keys["rules"]
        if not isinstance(seq, yaml.SequenceNode):
            raise _Bad(seq, "`rules:` must be a list; start each rule with `- id:`")
        return list(seq.value)

    for node in col.run(items) or []:
        try:
            rule = col.run(partial(_rule, node, pack_id, file, limits, col))
        except _Refused:
            continue
        if rule is not None:
            rules.append(rule)
    return rules, col.problems


def _rule(node: yaml.Node, pack_id: str, file: str, limits: Limits, col: _Collector) -> RuleSpec:
    """One rule. Each field is checked on its own, so one rule's several mistakes are all
    reported at once; the rule is refused (raises) if any was found."""
    items = _mapping(node, "a rule")
    before = len(col.problems)
    for key, knode, _ in items:
        if key not in RULE_KEYS:
            close = difflib.get_close_matches(key, (*RULE_KEYS, *_LABEL_KEYS), n=1)
            if key in _LABEL_KEYS or (close and close[0] in _LABEL_KEYS):
                label = key if key in _LABEL_KEYS else close[0]
                hint = f" ({label} is a label: put it under `labels:`)"
            else:
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            col.problems.append(Problem(file, knode.start_mark.line + 1,
                                        f"unknown key {key!r} in a rule{hint}"))  # fmt: skip
    keys = {k: v for k, _, v in items if k in RULE_KEYS}
    for required in ("id", "description", "labels", "examples"):
        if required not in keys:
            col.problems.append(Problem(file, node.start_mark.line + 1,
                                        f"a rule needs `{required}:`"))  # fmt: skip

    def field(key: str, convert: Callable[[yaml.Node], T]) -> T | None:
        return col.run(partial(convert, keys[key])) if key in keys else None

    name = field("id", partial(_str, what="id"))
    if name is not None and not _ID.fullmatch(name):
        col.problems.append(
            Problem(
                file,
                keys["id"].start_mark.line + 1,
                "a rule id is lower-case letters, digits, _ and -",
            )
        )
    query = field("query", partial(_query, limits=limits))
    unless = field("unless", partial(_query, limits=limits))
    scores = field("scores", _scores) or ()
    window = field("window", _window)
    labels = field("labels", _labels)
    examples = field("examples", partial(_examples, what=name or "this rule"))
    description = field("description", partial(_str, what="description"))
    place = field("place", _place)
    languages = field("language", _languages)
    counter = field("counter_speech", _counter_flag)
    enabled = field("enabled", _enabled)
    unknown = any(key not in RULE_KEYS for key, _, _ in items)  # likely a misspelt query:
    if "query" not in keys and "scores" not in keys and "window" not in keys and not unknown:
        col.problems.append(Problem(file, node.start_mark.line + 1,
            f"rule {name} needs a query, scores or a window to say what it matches"))  # fmt: skip
    if query is not None and query.anchors is None and not scores:
        col.warn(
            keys["query"].start_mark.line + 1,
            f"rule {name}'s query has no word it requires (only NOT), so it is checked on every "
            "post; add a word or a score condition",
        )
    errors = [p for p in col.problems[before:] if p.level == "error"]
    if errors or name is None or labels is None or examples is None or description is None:
        raise _Refused()
    return RuleSpec(
        id=f"{pack_id}.{name}",
        pack=pack_id,
        description=description,
        labels=labels,
        file=file,
        line=node.start_mark.line + 1,
        query=query,
        unless=unless,
        scores=scores,
        place=place,
        languages=languages,
        window=window,
        counter_speech=counter if counter is not None else True,
        enabled=enabled if enabled is not None else True,
        match=examples[0],
        no_match=examples[1],
    )


class _Refused(Exception):
    """A rule whose problems are already recorded."""


def _scores(node: yaml.Node) -> tuple[ScoreCondition, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return tuple(_score(n) for n in items)


def _counter_flag(node: yaml.Node) -> bool:
    value = _scalar(node)
    if value not in ("apply", "ignore"):
        raise _Bad(node, "counter_speech must be `apply` (the default) or `ignore`")
    return bool(value == "apply")


def _enabled(node: yaml.Node) -> bool:
    value = _scalar(node)
    if not isinstance(value, bool):
        raise _Bad(node, "enabled must be true or false")
    return value
