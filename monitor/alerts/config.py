"""Pure: read and validate `alerts/routing.yaml` — the routing tree, receivers, time windows,
inhibition rules, escalation policies and digests — into typed values.

Every mistake is reported with file, line and reason, all at once, when the service starts or
when `monitor alerts check` runs; a bad file never half-loads. Secrets (SMTP passwords, webhook
URLs and signing secrets) can only be given by the name of an environment variable
(`password_env: MONITOR_SMTP_PASSWORD`); any other text field may be given either way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    InstanceOf,
    StringConstraints,
    model_validator,
)

from monitor.alerts import windows
from monitor.alerts.matchers import Matcher, parse_matcher
from monitor.alerts.routing import Route, RouteOptions, RouteSpec, build
from monitor.alerts.schedule import Cron, parse_cron
from monitor.documents.schema import Document, DocumentError, Problem, Schema, validate

CHANNELS = ("local", "email", "teams", "slack", "webhook")
SECTIONS = ("summary", "levels", "incidents", "alerts", "alerts_by_kind", "rumours")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}$")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
# Longer than any wait, interval or silence means; a time plus it stays in the calendar (a
# silence of "999999999999d" overflowed Python's dates and came back as a 500).
MAX_DURATION = timedelta(days=36_500)
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


class AlertConfigError(ValueError):
    """The routing file cannot be used; `problems` lists every reason with file and line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# --- the typed result ---------------------------------------------------------------------


@dataclass(frozen=True)
class Integration:
    """One way a receiver is reached (a mailbox, an e-mail server, a Teams or Slack channel, a
    webhook). Text fields may point at environment variables; `resolve` reads them."""

    channel: str
    index: int
    values: Mapping[str, Any]
    env_refs: Mapping[str, str]
    optional: bool = False
    line: int = 0

    @property
    def label(self) -> str:
        return f"{self.channel}#{self.index}"

    def missing_env(self, environ: Mapping[str, str]) -> list[str]:
        return sorted(v for v in self.env_refs.values() if not environ.get(v))

    def resolve(self, environ: Mapping[str, str]) -> dict[str, Any]:
        out = dict(self.values)
        for name, env_name in self.env_refs.items():
            value = environ.get(env_name)
            if value:
                out[name] = value
        return out

    def recipients(self, receiver: str, environ: Mapping[str, str]) -> list[str]:
        """One outbox row is written per recipient: each address, or the integration itself."""
        if self.channel == "email":
            to = self.resolve(environ).get("to", ())
            items = to.split(",") if isinstance(to, str) else to
            return [str(a).strip() for a in items if str(a).strip()]
        if self.channel == "local":
            return [str(self.resolve(environ).get("mailbox") or receiver)]
        return [self.label]


@dataclass(frozen=True)
class Receiver:
    name: str
    integrations: tuple[Integration, ...]
    audience: str = ""
    excerpts: bool = False  # whether post excerpts go out to this receiver (minimisation)
    line: int = 0


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True)
class EscalationStep:
    after: timedelta
    receiver: str


@dataclass(frozen=True)
class Escalation:
    name: str
    during: tuple[str, ...]
    steps: tuple[EscalationStep, ...]


@dataclass(frozen=True)
class DigestSpec:
    name: str
    title: str
    cron: Cron
    receivers: tuple[str, ...]
    sections: tuple[str, ...]
    matchers: tuple[Matcher, ...] = ()
    excerpts: bool = False
    top: int = 10
    description: str = ""
    line: int = 0


@dataclass(frozen=True)
class AlertConfig:
    route: Route
    receivers: Mapping[str, Receiver]
    time_intervals: Mapping[str, tuple[windows.TimeInterval, ...]] = field(default_factory=dict)
    inhibit_rules: tuple[InhibitRule, ...] = ()
    escalations: Mapping[str, Escalation] = field(default_factory=dict)
    digests: Mapping[str, DigestSpec] = field(default_factory=dict)
    source: str = "routing.yaml"

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        return self.route.match(labels)

    def window(self, names: Sequence[str]) -> tuple[windows.TimeInterval, ...]:
        return tuple(i for name in names for i in self.time_intervals[name])

    def warnings(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Integrations that are switched off because their environment variables are unset."""
        env = os.environ if environ is None else environ
        out = []
        for receiver in self.receivers.values():
            for integ in receiver.integrations:
                missing = integ.missing_env(env)
                if missing:
                    out.append(
                        f"{self.source}:{integ.line}: receiver {receiver.name}: {integ.channel} "
                        f"is switched off until {', '.join('$' + m for m in missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} set"
                    )
        return out

    def active_integrations(
        self, receiver: str, environ: Mapping[str, str] | None = None
    ) -> list[Integration]:
        env = os.environ if environ is None else environ
        return [i for i in self.receivers[receiver].integrations if not i.missing_env(env)]


# --- reading ------------------------------------------------------------------------------


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> AlertConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AlertConfigError([f"{path}: routing file not found"]) from None
    except UnicodeDecodeError as exc:
        raise AlertConfigError(
            [f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"]
        ) from None
    except OSError as exc:  # a directory, a symlink loop, no permission
        raise AlertConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    return parse_config(text, str(path), environ)


def parse_config(
    text: str, source: str = "routing.yaml", environ: Mapping[str, str] | None = None
) -> AlertConfig:
    """Validate a whole routing file. Required integrations whose environment variables are not
    set are errors; `optional: true` ones are switched off with a warning instead."""
    try:
        doc = Document.parse(text, source)
        resolver = _Resolver(doc)
        config = resolver.config()
    except DocumentError as exc:
        raise AlertConfigError([str(p) for p in exc.problems]) from None
    problems = [str(p) for p in resolver.problems]
    env = os.environ if environ is None else environ
    for receiver in config.receivers.values():
        for integ in receiver.integrations:
            missing = integ.missing_env(env)
            if missing and not integ.optional:
                where = f"{source}:{integ.line}" if integ.line else source
                problems.append(
                    f"{where}: receiver {receiver.name}: {integ.channel} needs "
                    f"{', '.join('$' + m for m in missing)} (or mark it optional: true)"
                )
    if problems:
        raise AlertConfigError(problems)
    return config


def parse_duration(value: Any) -> timedelta:
    text = str(value).strip().replace(" ", "")
    if text in ("0", "0s"):
        return timedelta(0)
    pos, total = 0, timedelta(0)
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        try:
            if len(m.group(1)) > 15:  # int() refuses very long numbers with its own words
                raise OverflowError
            total += int(m.group(1)) * _UNITS[m.group(2)]
        except OverflowError:  # past timedelta's own range: longer than MAX_DURATION anyway
            total = timedelta.max
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"duration {value!r} must look like 30s, 5m, 4h, 1d or 1h30m")
    if total > MAX_DURATION:
        raise ValueError(f"duration {str(value)[:40]!r} is longer than {MAX_DURATION.days} days")
    return total


# --- the file's schema ----------------------------------------------------------------------
# Shapes, types, unknown keys and values that stand alone (durations, matchers, schedules,
# addresses) are checked by these models; references between sections (a route's receiver, a
# digest's receivers, an escalation's time intervals) by `_Resolver` below. Both report at the
# line of the key or item at fault.


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("name must be lower-case letters, digits, - or _")
    return value


def _duration(value: Any) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a duration such as 30s, 5m, 4h, 1d or 1h30m")
    return parse_duration(value)


def _matcher(value: Any) -> Matcher:
    return parse_matcher(str(value))


def _cron(value: Any) -> Cron:
    return parse_cron(str(value))


def _env_name(value: str) -> str:
    if not re.match(r"^[A-Z_][A-Z0-9_]*$", value):
        raise ValueError("must name an environment variable (LIKE_THIS)")
    return value


def _address(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _addresses(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError("must be an address or a list of addresses")
    bad = [a for a in items if not isinstance(a, str) or not _EMAIL.match(a)]
    if bad:
        raise ValueError(f"has addresses that are not valid: {bad}")
    return tuple(items)


def _port(value: int) -> int:
    if not 0 < value < 65536:
        raise ValueError("must be a whole number (a port)")
    return value


def _web_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("url must start with http:// or https://")
    return value


def _tls(value: str) -> str:
    if value not in ("starttls", "tls", "none"):
        raise ValueError("tls must be starttls, tls or none")
    return value


def _secret(field_name: str) -> Callable[[Any], Any]:
    def refuse(_value: Any) -> Any:
        raise ValueError(
            f"{field_name} is a secret — give the name of an environment variable that holds "
            f"it as {field_name}_env, never the value itself"
        )

    return refuse


def _top(value: int) -> int:
    if not 1 <= value <= 100:
        raise ValueError("top must be a whole number from 1 to 100")
    return value


def _word(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("items must be text")
    return str(value)


Text = Annotated[str, StringConstraints(min_length=1)]
Word = Annotated[str, BeforeValidator(_word)]
Name = Annotated[str, AfterValidator(_name)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
MatcherField = Annotated[InstanceOf[Matcher], BeforeValidator(_matcher)]
EnvName = Annotated[str, AfterValidator(_env_name)]


# A secret written in the file itself is refused at its line (only `<name>_env` may give it).
PasswordInFile = Annotated[Any, AfterValidator(_secret("password"))]
UrlInFile = Annotated[Any, AfterValidator(_secret("url"))]
SecretInFile = Annotated[Any, AfterValidator(_secret("secret"))]


class _Integration(Schema):
    """A way a receiver is reached; each value may instead be named by `<field>_env`."""

    optional: bool = False
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    SECRETS: ClassVar[tuple[str, ...]] = ()

    def settings(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The values given in the file, and the environment variables named for the rest."""
        values: dict[str, Any] = {}
        env_refs: dict[str, str] = {}
        for name, value in self:
            if name == "optional" or value is None:
                continue
            if name.endswith("_env"):
                env_refs[name.removesuffix("_env").removesuffix("_")] = value
            else:
                values[name.removesuffix("_")] = value
        return values, env_refs

    @model_validator(mode="after")
    def _required(self) -> _Integration:
        values, env_refs = self.settings()
        missing = [f for f in self.REQUIRED if f not in values and f not in env_refs]
        if missing:
            raise ValueError(f"{missing[0]} is required")
        return self


class _Local(_Integration):
    mailbox: Text | None = None
    mailbox_env: EnvName | None = None


class _Email(_Integration):
    REQUIRED = ("to", "from", "host")
    to: Annotated[tuple[str, ...], BeforeValidator(_addresses)] | None = None
    to_env: EnvName | None = None
    from_: Annotated[Text, AfterValidator(_address)] | None = Field(None, alias="from")
    from_env: EnvName | None = None
    host: Text | None = None
    host_env: EnvName | None = None
    port: Annotated[int, AfterValidator(_port)] | None = None
    port_env: EnvName | None = None
    tls: Annotated[Text, AfterValidator(_tls)] | None = None
    tls_env: EnvName | None = None
    username: Text | None = None
    username_env: EnvName | None = None
    password: PasswordInFile = None
    password_env: EnvName | None = None
    timeout: Duration | None = None
    timeout_env: EnvName | None = None


class _Chat(_Integration):
    REQUIRED = ("url",)
    url: UrlInFile = None
    url_env: EnvName | None = None
    timeout: Duration | None = None
    timeout_env: EnvName | None = None


class _Webhook(_Integration):
    REQUIRED = ("url",)
    url: Annotated[Text, AfterValidator(_web_url)] | None = None
    url_env: EnvName | None = None
    secret: SecretInFile = None
    secret_env: EnvName | None = None
    timeout: Duration | None = None
    timeout_env: EnvName | None = None


class _Receiver(Schema):
    name: Name
    audience: Any = ""
    excerpts: bool = False
    local: list[_Local] | None = None
    email: list[_Email] | None = None
    teams: list[_Chat] | None = None
    slack: list[_Chat] | None = None
    webhook: list[_Webhook] | None = None


class _TimeRange(Schema):
    # An unquoted 18:00 is read by YAML as the number 1080 (minutes); windows reads both.
    start_time: str | int
    end_time: str | int


class _Interval(Schema):
    weekdays: list[Word] | None = None
    times: list[_TimeRange] | None = None
    days_of_month: list[Word] | None = None
    months: list[Word] | None = None
    location: Word | None = None


class _TimeIntervals(Schema):
    name: Name
    time_intervals: list[_Interval] | None = None


class _Step(Schema):
    after: Duration | None = None
    receiver: Word | None = None


class _Escalation(Schema):
    name: Name
    during: list[Word] | None = None
    steps: list[_Step] | None = None


class _Route(Schema):
    name: Any = ""
    receiver: Word | None = None
    matchers: list[MatcherField] | None = None
    continue_: bool = Field(False, alias="continue")
    group_by: list[Word] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    active_time_intervals: list[Word] | None = None
    escalation: Word | None = None
    routes: list[Any] | None = None  # each child is checked on its own


class _Inhibit(Schema):
    source_matchers: list[MatcherField] | None = None
    target_matchers: list[MatcherField] | None = None
    equal: list[Word] | None = None


class _Digest(Schema):
    name: Name
    title: Any = None
    description: Any = ""
    schedule: Annotated[InstanceOf[Cron], BeforeValidator(_cron)]
    receivers: list[Word] | None = None
    sections: list[Word] | None = None
    matchers: list[MatcherField] | None = None
    excerpts: bool = False
    top: Annotated[int, AfterValidator(_top)] = 10


class _RoutingFile(Schema):
    """The sections; each item of each is checked on its own (see `_Resolver.item`)."""

    route: Any
    receivers: list[Any] | None = None
    time_intervals: list[Any] | None = None
    inhibit_rules: list[Any] | None = None
    escalations: list[Any] | None = None
    digests: list[Any] | None = None


Loc = tuple[str | int, ...]
S = TypeVar("S", bound=Schema)


class _Resolver:
    """From the checked file to `AlertConfig`, checking what refers to what."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def error(self, loc: Loc, message: str, key: str | None = None) -> None:
        """A problem with the entry at `loc`; with `key`, at that key's line."""
        problem = self.doc.problem(loc, message)
        if key is not None:
            problem = replace(problem, line=self.doc.line((*loc, key)))
        self.problems.append(problem)

    def node_line(self, loc: Loc) -> int:
        """Where the mapping at `loc` starts (for a value under a key, below the key)."""
        line = getattr(self.doc.value(loc), "line", 0)
        return int(line) if line else self.doc.line(loc)

    def item(self, model: type[S], loc: Loc) -> S | None:
        """The part of the file at `loc` as `model`; None (and its problems noted) if wrong."""
        try:
            return validate(model, self.doc, loc)
        except DocumentError as exc:
            self.problems.extend(exc.problems)
            return None

    def items(self, model: type[S], section: str) -> list[tuple[Loc, S]]:
        raw = self.doc.value((section,))
        found: list[tuple[Loc, S]] = []
        for i in range(len(raw) if isinstance(raw, list) else 0):
            value = self.item(model, (section, i))
            if value is not None:
                found.append(((section, i), value))
        return found

    def names(self, section: str) -> set[str]:
        """Every name written in a section, right or not: a reference to an entry that has a
        mistake of its own is not a second mistake."""
        raw = self.doc.value((section,))
        return (
            {str(e.get("name")) for e in raw if isinstance(e, dict)}
            if isinstance(raw, list)
            else set()
        )

    def config(self) -> AlertConfig:
        try:
            validate(_RoutingFile, self.doc)
        except DocumentError as exc:
            self.problems.extend(exc.problems)
        receivers = self.receivers(self.items(_Receiver, "receivers"))
        intervals = self.time_intervals(self.items(_TimeIntervals, "time_intervals"))
        escalations = self.escalations(self.items(_Escalation, "escalations"), receivers, intervals)
        route = self.root_route(receivers, intervals, escalations)
        return AlertConfig(
            route=route,
            receivers=receivers,
            time_intervals=intervals,
            inhibit_rules=self.inhibit_rules(self.items(_Inhibit, "inhibit_rules")),
            escalations=escalations,
            digests=self.digests(self.items(_Digest, "digests"), receivers),
            source=self.doc.source,
        )

    def receivers(self, items: Sequence[tuple[Loc, _Receiver]]) -> dict[str, Receiver]:
        if not self.doc.value(("receivers",)):
            self.error(("receivers",), "at least one receiver is needed")
        out: dict[str, Receiver] = {}
        for loc, r in items:
            if r.name in out:
                self.error(loc, f"receiver {r.name}: defined twice")
            integrations: list[Integration] = []
            for channel in CHANNELS:
                for j, integ in enumerate(getattr(r, channel) or ()):
                    values, env_refs = integ.settings()
                    integrations.append(
                        Integration(
                            channel,
                            len(integrations),
                            values,
                            env_refs,
                            integ.optional,
                            self.node_line((*loc, channel, j)),
                        )
                    )
            out[r.name] = Receiver(
                name=r.name,
                integrations=tuple(integrations),
                audience=str(r.audience),
                excerpts=r.excerpts,
                line=self.node_line(loc),
            )
        return out

    def time_intervals(
        self, items: Sequence[tuple[Loc, _TimeIntervals]]
    ) -> dict[str, tuple[windows.TimeInterval, ...]]:
        out: dict[str, tuple[windows.TimeInterval, ...]] = {}
        for loc, t in items:
            if not t.time_intervals:
                self.error(loc, f"time interval {t.name}: needs a time_intervals list")
            parsed = []
            for j, entry in enumerate(t.time_intervals or ()):
                interval = self.interval(entry, (*loc, "time_intervals", j))
                if interval is not None:
                    parsed.append(interval)
            out[t.name] = tuple(parsed)
        return out

    def interval(self, entry: _Interval, loc: Loc) -> windows.TimeInterval | None:
        try:
            weekdays = windows.parse_weekdays(entry.weekdays or ())
            months = windows.parse_months(entry.months or ())
            days = windows.parse_days_of_month(entry.days_of_month or ())
        except ValueError as exc:
            self.error(loc, str(exc))
            return None
        ok = True
        times = []
        for k, rng in enumerate(entry.times or ()):
            try:
                times.append(windows.parse_time_range(rng.start_time, rng.end_time))
            except ValueError as exc:
                self.error((*loc, "times", k), str(exc))
                ok = False
        location = windows.LONDON
        if entry.location is not None:
            try:
                location = ZoneInfo(entry.location)
            except (ZoneInfoNotFoundError, ValueError):
                self.error((*loc, "location"), f"unknown time zone {entry.location!r}")
                ok = False
        if not ok:
            return None
        return windows.TimeInterval(
            weekdays=weekdays,
            times=tuple(times),
            days_of_month=days,
            months=months,
            location=location,
        )

    def escalations(
        self,
        items: Sequence[tuple[Loc, _Escalation]],
        receivers: Mapping[str, Receiver],
        intervals: Mapping[str, Any],
    ) -> dict[str, Escalation]:
        out: dict[str, Escalation] = {}
        known_intervals = self.names("time_intervals")
        known_receivers = self.names("receivers")
        for loc, e in items:
            for w in e.during or ():
                if w not in known_intervals:
                    self.error((*loc, "during"), f"no time interval named {w!r}")
            steps: list[EscalationStep] = []
            for j, step in enumerate(e.steps or ()):
                if step.receiver is None or step.receiver not in known_receivers:
                    self.error(
                        (*loc, "steps", j), f"step names no known receiver ({step.receiver!r})"
                    )
                elif step.after is None:
                    self.error((*loc, "steps", j), "each step needs after: (e.g. 1h)")
                elif step.receiver in receivers:
                    steps.append(EscalationStep(step.after, step.receiver))
            if not e.steps:
                self.error(loc, f"escalation {e.name}: needs at least one step")
            steps.sort(key=lambda s: s.after)
            out[e.name] = Escalation(e.name, tuple(e.during or ()), tuple(steps))
        return out

    def root_route(
        self,
        receivers: Mapping[str, Receiver],
        intervals: Mapping[str, Any],
        escalations: Mapping[str, Escalation],
    ) -> Route:
        loc: Loc = ("route",)
        node = self.doc.value(loc)
        if isinstance(node, dict):
            if "matchers" in node:
                self.error((*loc, "matchers"), "the root route must not have matchers")
            if "continue" in node:
                self.error((*loc, "continue"), "the root route cannot have continue")
            if "receiver" not in node:
                self.error(loc, "the root route must name a default receiver")
        spec = self.route_spec(loc, self.names("receivers"), self.names("time_intervals"))
        receiver = spec.overrides.get("receiver", "")
        return build(spec, RouteOptions(receiver=str(receiver)))

    def route_spec(self, loc: Loc, receivers: set[str], intervals: set[str]) -> RouteSpec:
        """One node of the tree and, each checked on its own, its children."""
        route = self.item(_Route, loc) if self.doc.value(loc) is not None else None
        raw_children = self.doc.value((*loc, "routes"))
        children = []
        for i in range(len(raw_children) if isinstance(raw_children, list) else 0):
            child_loc = (*loc, "routes", i)
            child = self.doc.value(child_loc)
            if isinstance(child, dict) and "matchers" not in child:
                self.error(child_loc, "a child route needs matchers")
            children.append(self.route_spec(child_loc, receivers, intervals))
        if route is None:
            return RouteSpec(routes=tuple(children), line=self.node_line(loc))
        overrides: dict[str, object] = {}
        if route.receiver is not None:
            if route.receiver not in receivers:
                self.error(loc, f"no receiver named {route.receiver!r}", "receiver")
            overrides["receiver"] = route.receiver
        if route.group_by is not None:
            if "..." in route.group_by and len(route.group_by) > 1:
                self.error(loc, "'...' must be the only group_by", "group_by")
            overrides["group_by"] = tuple(route.group_by)
        for key in ("group_wait", "group_interval", "repeat_interval"):
            value = getattr(route, key)
            if value is not None:
                overrides[key] = value
        if route.group_interval == timedelta(0):
            self.error(loc, "group_interval must be above 0", "group_interval")
        if route.active_time_intervals is not None:
            for name in route.active_time_intervals:
                if name not in intervals:
                    self.error(loc, f"no time interval named {name!r}", "active_time_intervals")
            overrides["active_time_intervals"] = tuple(route.active_time_intervals)
        if "escalation" in route.model_fields_set:
            if route.escalation is not None and route.escalation not in self.names("escalations"):
                self.error(loc, f"no escalation named {route.escalation!r}", "escalation")
            overrides["escalation"] = route.escalation
        return RouteSpec(
            matchers=tuple(route.matchers or ()),
            continue_=route.continue_,
            overrides=overrides,
            routes=tuple(children),
            line=self.node_line(loc),
            name=str(route.name),
        )

    def inhibit_rules(self, items: Sequence[tuple[Loc, _Inhibit]]) -> tuple[InhibitRule, ...]:
        out = []
        for loc, rule in items:
            if not rule.source_matchers or not rule.target_matchers:
                self.error(loc, "needs source_matchers and target_matchers")
                continue
            out.append(
                InhibitRule(
                    tuple(rule.source_matchers),
                    tuple(rule.target_matchers),
                    tuple(rule.equal or ()),
                    self.node_line(loc),
                )
            )
        return tuple(out)

    def digests(
        self, items: Sequence[tuple[Loc, _Digest]], receivers: Mapping[str, Receiver]
    ) -> dict[str, DigestSpec]:
        out: dict[str, DigestSpec] = {}
        known_receivers = self.names("receivers")
        for loc, d in items:
            if d.name in out:
                self.error(loc, f"digest {d.name}: defined twice")
            targets = tuple(d.receivers or ())
            if not targets:
                self.error(loc, f"digest {d.name}: needs receivers: [name, ...]")
            for receiver in targets:
                if receiver not in known_receivers:
                    self.error((*loc, "receivers"), f"no receiver named {receiver!r}")
            sections = tuple(d.sections or ()) or ("levels", "alerts")
            for s in sections:
                if s not in SECTIONS:
                    self.error(
                        (*loc, "sections"), f"unknown section {s!r} (use {', '.join(SECTIONS)})"
                    )
            if d.excerpts:
                for receiver in targets:
                    if receiver in receivers and not receivers[receiver].excerpts:
                        self.error(
                            (*loc, "excerpts"),
                            f"has excerpts but receiver {receiver} does not take them "
                            "(set excerpts: true on the receiver if its audience may see posts)",
                        )
            out[d.name] = DigestSpec(
                name=d.name,
                title=str(d.title or d.name),
                cron=d.schedule,
                receivers=targets,
                sections=sections,
                matchers=tuple(d.matchers or ()),
                excerpts=d.excerpts,
                top=d.top,
                description=str(d.description),
                line=self.node_line(loc),
            )
        return out
