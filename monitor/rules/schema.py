"""Pure: validate rule packs from YAML text into typed, compiled specs; every problem carries
file, line and reason.

YAML is read by the project's one reader (`monitor.documents.lines`: size bound, no anchors or
aliases, one document, every value's line) and checked by declarative schemas (pydantic models
through `monitor.documents.schema.validate`, as every file people edit), so that a typo is
reported where it is ("rules/tension/threats.yaml:42: unknown key 'severty' (did you mean
'severity'?)") rather than as a Python traceback.

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
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    PlainValidator,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from monitor.documents.lines import Block, Map, Seq, YamlError, read_yaml
from monitor.documents.schema import Document, DocumentError, Schema, Wording, validate
from monitor.documents.schema import Loc as Where
from monitor.rules.query import DEFAULT_LIMITS, Compiled, Limits, QueryError, compile_query
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
    # True when words inside quotation marks, and claims asked back and answered, do not count
    # (`quoted_words: ignore`): the query must also match the post's own words, so naming a
    # word or a claim to reject it does not fire.
    ignore_quoted: bool = False
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


# --- the files' schemas ----------------------------------------------------------------------
#
# Each part of a pack is a pydantic model (`_Part`): the keys it allows and needs, and for each
# value a validator that says what is wrong in the words rule writers have always been shown.
# `monitor.documents.schema.validate` turns every failure into a `file:line: reason`.

_ANCHOR_HINT = " (rule files: write the text out, or quote it if * is part of a query)"
Loc = tuple[str | int, ...]
P = TypeVar("P", bound=BaseModel)


def _bad(message: str, *, at: Loc = (), line_offset: int = 0) -> PydanticCustomError:
    """A problem; `at` puts it at a key below the value checked, `line_offset` lines into it."""
    ctx: dict[str, Any] = {"message": message}
    if at:
        ctx["at"] = at
    if line_offset:
        ctx["line_offset"] = line_offset
    return PydanticCustomError("rule_pack", "{message}", ctx)


class _PackWording(Wording):
    """Problems as rule writers read them: no path, the mapping named ("a rule needs
    `labels:`"), and a problem about a mapping or list at the line where it starts."""

    def missing(self, model: type[BaseModel] | None, parent: Where, key: str) -> str:
        return f"{_what(model)} needs `{key}:`"

    def unknown(self, model: type[BaseModel] | None, parent: Where, key: str) -> str:
        if model is not None and issubclass(model, _Part):
            return f"unknown key {key!r} in {model.what}{model.unknown_hint(key)}"
        return super().unknown(model, parent, key)

    def reason(self, error: ErrorDetails, loc: Where) -> str:
        if error["type"] == "rule_pack":
            return str(error["msg"])
        return super().reason(error, loc)

    def line(self, doc: Document, loc: Where) -> int:
        value = doc.value(loc)
        if isinstance(value, Map | Seq) and value.line:
            return value.line
        return doc.line(loc)


_WORDING = _PackWording()


def _what(model: type[BaseModel] | None) -> str:
    return model.what if model is not None and issubclass(model, _Part) else "this mapping"


class _Part(Schema):
    """A mapping in a pack file; `what` names it in problems."""

    # Values are converted by the validators into the engine's own types (Compiled, Cmp).
    model_config = ConfigDict(arbitrary_types_allowed=True)
    what: ClassVar[str] = "a mapping"

    @model_validator(mode="wrap")
    @classmethod
    def _a_mapping(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if not isinstance(data, Mapping):
            return cls.not_a_mapping(data)
        return handler(data).whole()

    @classmethod
    def not_a_mapping(cls, data: Any) -> Any:
        raise _bad(f"{cls.what} must be a mapping of `key: value` lines")

    def whole(self) -> Any:
        """Checks of the keys together, once each is right."""
        return self

    @classmethod
    def unknown_hint(cls, key: str) -> str:
        allowed = list(cls.model_fields)
        close = difflib.get_close_matches(key, allowed, n=1)
        return f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"


# --- values ----------------------------------------------------------------------------------


def _text(what: str, value: Any) -> str:
    if isinstance(value, Mapping | list):
        raise _bad("expected a single value here, not a list or mapping")
    if isinstance(value, bool) or value is None or not isinstance(value, str | int | float):
        raise _bad(f"{what} must be text (put it in quotes)")
    text = str(value).strip()
    if not text:
        raise _bad(f"{what} is empty")
    return text


def _texts(what: str, value: Any) -> list[str]:
    """One text or a list of them."""
    if isinstance(value, list):
        return [_text(what, v) for v in value]
    return [_text(what, value)]


def _by(check: Callable[..., Any], *args: Any) -> PlainValidator:
    """A value checked (and converted) by `check(*args, value)`."""
    return PlainValidator(partial(check, *args) if args else check)


def _an_id(what: str, value: Any) -> str:
    text = _text("id", value)
    if not _ID.fullmatch(text):
        raise _bad(f"{what} is lower-case letters, digits, _ and -")
    return text


def _query(value: Any, info: ValidationInfo) -> Compiled:
    text = _text("query", value)
    limits = info.context["limits"] if info.context else DEFAULT_LIMITS
    try:
        return compile_query(text, limits)
    except QueryError as exc:
        # Point at the line within a multi-line (| or >) query, which starts below its key.
        offset = 1 + text[: exc.pos].count("\n") if isinstance(value, Block) else 0
        col = exc.pos - (text.rfind("\n", 0, exc.pos) + 1) + 1
        raise _bad(f"query: {exc.message} (column {col})", line_offset=offset) from None


def _duration(what: str, most: dt.timedelta | None, value: Any) -> dt.timedelta:
    text = _text(what, value)
    m = _DURATION.fullmatch(text)
    if not m:
        raise _bad(f"{what} must be a duration like 15m, 1h or 7d, not {text!r}")
    n, unit = int(m.group(1)), m.group(2)
    try:
        d = {"m": dt.timedelta(minutes=n), "min": dt.timedelta(minutes=n),
             "h": dt.timedelta(hours=n), "d": dt.timedelta(days=n)}[unit]  # fmt: skip
    except OverflowError:  # "99999999999999999999h": past what any time can hold
        raise _bad(f"{what} {text!r} is longer than any window can be") from None
    if d <= dt.timedelta(0):
        raise _bad(f"{what} must be longer than zero")
    if most is not None and d > most:
        raise _bad(f"{what} may be at most {_fmt_duration(most)}")
    return d


def _cmp(what: str, unit: str, value: Any) -> Cmp:
    text = _text(what, value)
    m = _CMP.fullmatch(text)
    if not m or (m.group(3) or "") not in ("", unit):
        example = {"": ">= 20", "x": ">= 3x", "/h": ">= 30/h"}[unit]
        raise _bad(f"{what} must be a threshold like {example!r}, not {text!r}")
    return Cmp(m.group(1) or ">=", float(m.group(2)), unit)


def _score(value: Any) -> ScoreCondition:
    text = _text("a score condition", value)
    m = _SCORE.fullmatch(text)
    if not m:
        raise _bad(f"score conditions look like 'hostile >= 0.8', not {text!r}")
    threshold = float(m.group(3))
    if not 0.0 <= threshold <= 1.0:
        raise _bad(f"scores run from 0 to 1; {threshold:g} can never be reached")
    return ScoreCondition(m.group(1), Cmp(m.group(2), threshold))


def _as_list(value: Any) -> Any:
    """One item or a list of them."""
    return value if isinstance(value, list) else [value]


def _languages(value: Any) -> frozenset[str]:
    out = set()
    for code in _texts("language", value):
        code = code.lower()
        if not _LANG.fullmatch(code):
            raise _bad(f"language codes are like en, ur, pl (or unknown), not {code!r}")
        out.add(code)
    return frozenset(out)


def _per(value: Any) -> str:
    per = _text("per", value)
    if per in ("author", "author_ref", "user", "account"):
        raise _bad("rules never target an account: count per place or cluster")
    if per not in WINDOW_PER:
        raise _bad(f"per must be one of {', '.join(WINDOW_PER)}, not {per!r}")
    return per


def _floor(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _bad("baseline_floor must be a number above 0")
    return float(value)


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _bad("labels must be a mapping of `key: value` lines")
    labels: dict[str, str] = {}
    for key, text in value.items():
        if not _LABEL_NAME.fullmatch(key):
            raise _bad(f"label names are lower-case words like topic, not {key!r}", at=(key,))
        if key in PERSONAL_LABELS:
            raise _bad(f"rules never target an account: no {key!r} label", at=(key,))
        if key in RESERVED_LABELS:
            raise _bad(f"the engine sets {key!r} itself; remove it from labels", at=(key,))
        if isinstance(text, Mapping | list):
            raise _bad("expected a single value here, not a list or mapping", at=(key,))
        if not isinstance(text, str):
            raise _bad(f"label {key}'s value must be text; put {text!r} in quotes", at=(key,))
        if not _LABEL_VALUE.fullmatch(text):
            raise _bad(f"label {key}'s value may use letters, digits, _ - . and spaces", at=(key,))
        labels[key] = str(text)
    for key, allowed in (("kind", KINDS), ("severity", SEVERITIES)):
        if key not in labels:
            raise _bad(f"labels need `{key}:` ({' | '.join(allowed)})")
        if labels[key] not in allowed:
            raise _bad(f"{key} must be one of {' | '.join(allowed)}, not {labels[key]!r}")
    if "topic" not in labels:
        raise _bad("labels need `topic:` (what the rule is about, e.g. hotel, gathering)")
    if "stance" in labels and labels["stance"] not in STANCES:
        raise _bad(f"stance must be one of {' | '.join(STANCES)}")
    return labels


def _example_scores(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise _bad("an example's scores must be a mapping of `key: value` lines")
    scores: dict[str, float] = {}
    for head, score in value.items():
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise _bad(f"score {head} must be a number from 0 to 1", at=(head,))
        if not 0 <= score <= 1:
            raise _bad(f"score {head} must be from 0 to 1", at=(head,))
        scores[head] = float(score)
    return scores


def _counter_flag(value: Any) -> bool:
    if value not in ("apply", "ignore"):
        raise _bad("counter_speech must be `apply` (the default) or `ignore`")
    return bool(value == "apply")


def _quoted_flag(value: Any) -> bool:
    if value not in ("count", "ignore"):
        raise _bad("quoted_words must be `count` (the default) or `ignore`")
    return bool(value == "ignore")


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad("enabled must be true or false")
    return value


def _listed(message: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, list):
            raise _bad(message)
        return value

    return BeforeValidator(check)


def _posts(name: str) -> BeforeValidator:
    """examples.match / no_match: a list of at least one post."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list) or not value:
            owner = (info.context or {}).get("name") or "this rule"
            raise _bad(f"examples.{name} must list at least one post for {owner}")
        return value

    return BeforeValidator(check)


# --- the parts -------------------------------------------------------------------------------


class _ExamplePlace(_Part):
    what = "an example's place"
    name: Annotated[str, _by(_text, "name")] | None = None
    ward: Annotated[str, _by(_text, "ward")] | None = None
    locality: Annotated[str, _by(_text, "locality")] | None = None
    district: Annotated[str, _by(_text, "district")] | None = None


class _Example(_Part):
    """A post: plain text, or a mapping with its place, language and scores."""

    what = "an example"
    text: Annotated[str, _by(_text, "an example's text")]
    place: _ExamplePlace | None = None
    language: Annotated[str, _by(_text, "language")] | None = None
    scores: Annotated[dict[str, float], _by(_example_scores)] | None = None

    @classmethod
    def not_a_mapping(cls, data: Any) -> Any:
        if isinstance(data, list):
            return super().not_a_mapping(data)
        return cls.model_construct(text=_text("an example", data))


class _Examples(_Part):
    what = "examples"
    match: Annotated[list[_Example], _posts("match")]
    no_match: Annotated[list[_Example], _posts("no_match")]


class _Place(_Part):
    what = "place"
    ward: Annotated[list[str], _by(_texts, "ward")] | None = None
    locality: Annotated[list[str], _by(_texts, "locality")] | None = None
    district: Annotated[list[str], _by(_texts, "district")] | None = None

    @classmethod
    def not_a_mapping(cls, data: Any) -> Any:
        if data == "any":
            return cls.model_construct()
        if isinstance(data, list):
            return super().not_a_mapping(data)
        raise _bad("place must be `any` or a mapping with ward, locality or district")

    def whole(self) -> _Place:
        if not (self.ward or self.locality or self.district):
            raise _bad("place needs at least one of ward, locality, district (or write `any`)")
        return self

    def spec(self) -> PlaceFilter:
        return PlaceFilter(
            wards=frozenset(fold_name(s) for s in self.ward or ()),
            localities=frozenset(fold_name(s) for s in self.locality or ()),
            districts=frozenset(fold_name(s) for s in self.district or ()),
        )


_DEFAULT_WINDOW = WindowSpec(per="all", within=dt.timedelta(hours=1))


class _Window(_Part):
    what = "window"
    per: Annotated[str, _by(_per)]
    within: Annotated[dt.timedelta, _by(_duration, "within", dt.timedelta(days=7))]
    count: Annotated[Cmp, _by(_cmp, "count", "")] | None = None
    distinct_authors: Annotated[Cmp, _by(_cmp, "distinct_authors", "")] | None = None
    velocity: Annotated[Cmp, _by(_cmp, "velocity", "/h")] | None = None
    velocity_within: Annotated[dt.timedelta, _by(_duration, "velocity_within", None)] | None = None
    rise: Annotated[Cmp, _by(_cmp, "rise", "x")] | None = None
    baseline: Annotated[dt.timedelta, _by(_duration, "baseline", dt.timedelta(days=28))] | None = (
        None
    )
    baseline_floor: Annotated[float, _by(_floor)] | None = None

    def whole(self) -> _Window:
        if self.velocity_within is not None and self.velocity_within > self.within:
            raise _bad("velocity_within may not be longer than within", at=("velocity_within",))
        if (self.count, self.distinct_authors, self.velocity, self.rise) == (None,) * 4:
            raise _bad("window needs at least one of count, distinct_authors, velocity, rise")
        baseline = self.baseline or _DEFAULT_WINDOW.baseline
        if self.rise is not None and baseline < 2 * self.within:
            raise _bad("baseline must be at least twice as long as within to measure a rise")
        return self

    def spec(self) -> WindowSpec:
        return WindowSpec(
            per=self.per,
            within=self.within,
            count=self.count,
            distinct_authors=self.distinct_authors,
            velocity=self.velocity,
            velocity_within=self.velocity_within or min(self.within, dt.timedelta(minutes=15)),
            rise=self.rise,
            baseline=self.baseline or _DEFAULT_WINDOW.baseline,
            baseline_floor=(
                self.baseline_floor
                if self.baseline_floor is not None
                else _DEFAULT_WINDOW.baseline_floor
            ),
        )


_LABEL_KEYS = ("kind", "topic", "severity", "stance")


class _Rule(_Part):
    what = "a rule"
    id: Annotated[str, _by(_an_id, "a rule id")]
    description: Annotated[str, _by(_text, "description")]
    query: Annotated[Compiled, _by(_query)] | None = None
    unless: Annotated[Compiled, _by(_query)] | None = None
    scores: (
        Annotated[list[Annotated[ScoreCondition, _by(_score)]], BeforeValidator(_as_list)] | None
    ) = None
    place: _Place | None = None
    language: Annotated[frozenset[str], _by(_languages)] | None = None
    window: _Window | None = None
    labels: Annotated[dict[str, str], _by(_labels)]
    examples: _Examples
    counter_speech: Annotated[bool, _by(_counter_flag)] = True
    quoted_words: Annotated[bool, _by(_quoted_flag)] = False
    enabled: Annotated[bool, _by(_enabled)] = True

    @classmethod
    def unknown_hint(cls, key: str) -> str:
        close = difflib.get_close_matches(key, (*cls.model_fields, *_LABEL_KEYS), n=1)
        if key in _LABEL_KEYS or (close and close[0] in _LABEL_KEYS):
            label = key if key in _LABEL_KEYS else close[0]
            return f" ({label} is a label: put it under `labels:`)"
        return f" (did you mean {close[0]!r}?)" if close else ""


class _Counter(_Part):
    what = "a counter_speech entry"
    id: Annotated[str, _by(_an_id, "an id")]
    description: Annotated[str, _by(_text, "description")]
    query: Annotated[Compiled, _by(_query)]
    examples: _Examples


def _review_by(value: Any) -> dt.date:
    if isinstance(value, Mapping | list):
        raise _bad("expected a single value here, not a list or mapping")
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            pass
    if not isinstance(value, dt.date):
        raise _bad("review_by must be a date like 2027-03-31")
    return value


class _PackFile(_Part):
    what = "pack.yaml"
    id: Annotated[str, _by(_an_id, "a pack id")]
    version: Annotated[str, _by(_text, "version")]
    owner: Annotated[str, _by(_text, "owner")]
    purpose: Annotated[str, _by(_text, "purpose")]
    review_by: Annotated[dt.date, _by(_review_by)]
    # Each entry is checked on its own (`_counter`), so one bad entry does not hide the others.
    counter_speech: Annotated[
        list[Any], _listed("counter_speech must be a list of entries with id and query")
    ] = []


class _RuleFile(_Part):
    what = "a rule file"
    # Each rule is checked on its own (`_rule`): one bad rule does not hide the others.
    rules: Annotated[list[Any], _listed("`rules:` must be a list; start each rule with `- id:`")]


RULE_KEYS = tuple(_Rule.model_fields)
PACK_KEYS = tuple(_PackFile.model_fields)


# --- packs and rules -------------------------------------------------------------------------


def _read(text: str, file: str, problems: list[Problem]) -> Document:
    """The file read by the one YAML reader (`monitor.documents`: size bound, no anchors or
    aliases, one document, each value's line). A key given twice or a value YAML cannot build
    is added to `problems` and the rest is still checked; a file that is not YAML at all
    raises PackError."""
    found: list[YamlError] = []
    try:
        doc = Document(file, read_yaml(text, file, _ANCHOR_HINT, found))
    except YamlError as exc:
        raise PackError([Problem(exc.source, exc.line, exc.reason)]) from None
    for mistake in found:
        twice = mistake.duplicate
        reason = mistake.reason if twice is None else f"{twice!r} appears twice"
        problems.append(Problem(mistake.source, mistake.line, reason))
    return doc


def _problems(exc: DocumentError) -> list[Problem]:
    return [Problem(p.source, p.line, p.message) for p in exc.problems]


def _empty(doc: Document) -> bool:
    return isinstance(doc.data, Map) and not doc.data and not doc.data.line


def _check(
    model: type[P], doc: Document, at: Loc, context: dict[str, Any], out: list[Problem]
) -> P | None:
    """The part of `doc` at `at` as a `model`, or None with its problems added to `out`."""
    try:
        return validate(model, doc, at, wording=_WORDING, context=context)
    except DocumentError as exc:
        out.extend(_problems(exc))
        return None


def _name(doc: Document, at: Loc) -> str | None:
    """A rule's or entry's id as written, for problems that name it (even a malformed one)."""
    try:
        return _text("id", doc.value((*at, "id")))
    except PydanticCustomError:
        return None


def _examples(doc: Document, at: Loc, examples: _Examples) -> tuple[tuple[Example, ...], ...]:
    return tuple(
        tuple(
            _example_spec(example, doc.line((*at, "examples", name, i)))
            for i, example in enumerate(getattr(examples, name))
        )
        for name in ("match", "no_match")
    )


def _example_spec(example: _Example, line: int) -> Example:
    places: tuple[PlaceMatch, ...] = ()
    if example.place is not None:
        p = example.place
        name = p.name or p.ward or p.locality or "Example place"
        places = (
            PlaceMatch(
                place_id=f"example/{fold_name(name).replace(' ', '-')}",
                name=name,
                kind="ward" if p.ward is not None and p.name is None else "neighbourhood",
                ward=p.ward,
                locality=p.locality,
                district=p.district or "Exampleshire",
                matched=name,
            ),
        )
    language = example.language.lower() if example.language is not None else None
    scores = MappingProxyType(example.scores) if example.scores is not None else None
    return Example(example.text, line, places, language, scores)


def parse_pack_file(
    text: str, file: str, today: dt.date, limits: Limits
) -> tuple[PackSpec, list[Problem]]:
    """A pack's `pack.yaml` (without its rules) and its warnings. Raises PackError."""
    problems: list[Problem] = []
    doc = _read(text, file, problems)
    if _empty(doc):
        raise PackError([Problem(file, 0, "pack.yaml is empty")])
    pack = _check(_PackFile, doc, (), {"limits": limits}, problems)
    entries = doc.value(("counter_speech",))
    counters: list[CounterSpeech] = []
    for i in range(len(entries) if isinstance(entries, list) else 0):
        at: Loc = ("counter_speech", i)
        context = {"limits": limits, "name": _name(doc, at)}
        entry = _check(_Counter, doc, at, context, problems)
        if entry is not None and pack is not None:
            match, no_match = _examples(doc, at, entry.examples)
            counters.append(
                CounterSpeech(
                    id=f"{pack.id}.{entry.id}",
                    description=entry.description,
                    query=entry.query,
                    file=file,
                    line=doc.line(at),
                    match=match,
                    no_match=no_match,
                )
            )
    if pack is None or problems:
        raise PackError(problems)
    if pack.review_by < today:
        problems.append(
            Problem(
                file,
                doc.line(("review_by",)),
                f"review date {pack.review_by.isoformat()} has passed: review the pack and set "
                "a new one",
                "warning",
            )
        )
    spec = PackSpec(
        id=pack.id,
        version=pack.version,
        owner=pack.owner,
        purpose=pack.purpose,
        review_by=pack.review_by,
        file=file,
        counter_speech=tuple(counters),
    )
    return spec, problems


def parse_rules_file(
    text: str, file: str, pack_id: str, limits: Limits
) -> tuple[list[RuleSpec], list[Problem]]:
    """The rules in one rule file, and every problem found (errors and warnings)."""
    problems: list[Problem] = []
    doc = _read(text, file, problems)
    if _empty(doc):
        return [], [Problem(file, 0, "the file is empty; it needs a `rules:` list")]
    if _check(_RuleFile, doc, (), {}, problems) is None:
        return [], problems
    rules: list[RuleSpec] = []
    for i in range(len(doc.value(("rules",)))):
        rule = _rule(doc, ("rules", i), pack_id, limits, problems)
        if rule is not None:
            rules.append(rule)
    return rules, problems


def _rule(
    doc: Document, at: Loc, pack_id: str, limits: Limits, problems: list[Problem]
) -> RuleSpec | None:
    """One rule, or None with its problems added: every mistake in it at once."""
    name = _name(doc, at)
    found: list[Problem] = []
    rule = _check(_Rule, doc, at, {"limits": limits, "name": name}, found)
    raw = doc.value(at)
    if isinstance(raw, Mapping) and not any(k in raw for k in ("query", "scores", "window")):
        if all(k in RULE_KEYS for k in raw):  # else likely a misspelt query, already reported
            found.append(
                Problem(
                    doc.source,
                    _WORDING.line(doc, at),
                    f"rule {name} needs a query, scores or a window to say what it matches",
                )
            )
    problems.extend(found)
    if rule is None or found:
        return None
    scores = tuple(rule.scores or ())
    if rule.query is not None and rule.query.anchors is None and not scores:
        problems.append(
            Problem(
                doc.source,
                doc.line((*at, "query")),
                f"rule {rule.id}'s query has no word it requires (only NOT), so it is checked on "
                "every post; add a word or a score condition",
                "warning",
            )
        )
    match, no_match = _examples(doc, at, rule.examples)
    return RuleSpec(
        id=f"{pack_id}.{rule.id}",
        pack=pack_id,
        description=rule.description,
        # Read-only: a parsed file is shared by every runtime in the process that loads it
        # (monitor.documents.cache); hits copy the labels they add to.
        labels=MappingProxyType(rule.labels),
        file=doc.source,
        line=_WORDING.line(doc, at),
        query=rule.query,
        unless=rule.unless,
        scores=scores,
        place=rule.place.spec() if rule.place is not None else None,
        languages=rule.language,
        window=rule.window.spec() if rule.window is not None else None,
        counter_speech=rule.counter_speech,
        ignore_quoted=rule.quoted_words,
        enabled=rule.enabled,
        match=match,
        no_match=no_match,
    )
