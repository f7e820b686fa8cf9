"""Pure: read and validate `alerts/routing.yaml` — the routing tree, receivers, time windows,
inhibition rules, escalation policies and digests — into typed values.

Every mistake is reported with file, line and reason, all at once, when the service starts or
when `monitor alerts check` runs; a bad file never half-loads. Secrets (SMTP passwords, webhook
URLs and signing secrets) can only be given by the name of an environment variable
(`password_env: MONITOR_SMTP_PASSWORD`); any other text field may be given either way.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.alerts import windows
from monitor.alerts.matchers import Matcher, MatcherError, parse_matcher
from monitor.alerts.routing import Route, RouteOptions, RouteSpec, build
from monitor.alerts.schedule import Cron, ScheduleError, parse_cron
from monitor.documents.lines import Map, Seq, YamlError, read_yaml

CHANNELS = ("local", "email", "teams", "slack", "webhook")
SECTIONS = ("summary", "levels", "incidents", "alerts", "alerts_by_kind", "rumours")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}$")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
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
    return parse_config(text, str(path), environ)


def parse_config(
    text: str, source: str = "routing.yaml", environ: Mapping[str, str] | None = None
) -> AlertConfig:
    """Validate a whole routing file. Required integrations whose environment variables are not
    set are errors; `optional: true` ones are switched off with a warning instead."""
    try:
        doc = read_yaml(text, source)
    except YamlError as exc:
        raise AlertConfigError([str(exc)]) from None
    reader = _Reader(source)
    config = reader.document(doc)
    env = os.environ if environ is None else environ
    if config is not None:
        for receiver in config.receivers.values():
            for integ in receiver.integrations:
                missing = integ.missing_env(env)
                if missing and not integ.optional:
                    reader.error(
                        integ.line,
                        f"receiver {receiver.name}: {integ.channel} needs "
                        f"{', '.join('$' + m for m in missing)} (or mark it optional: true)",
                    )
    if reader.problems or config is None:
        raise AlertConfigError(reader.problems or [f"{source}: empty routing file"])
    return config


def parse_duration(value: Any) -> timedelta:
    text = str(value).strip().replace(" ", "")
    if text in ("0", "0s"):
        return timedelta(0)
    pos, total = 0, timedelta(0)
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"duration {value!r} must look like 30s, 5m, 4h, 1d or 1h30m")
    return total


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(
            f"{self.source}:{line}: {message}" if line else f"{self.source}: {message}"
        )

    def keys(self, node: Map, allowed: Sequence[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.error(node.line_of(key), f"{where}: unknown key {key!r}{hint}")

    def mapping(self, value: Any, line: int, where: str) -> Map | None:
        if isinstance(value, Map):
            return value
        self.error(line, f"{where} must be a mapping (name: value lines)")
        return None

    def seq(self, value: Any, line: int, where: str) -> Seq:
        if value is None:
            return Seq()
        if isinstance(value, Seq):
            return value
        self.error(line, f"{where} must be a list")
        return Seq()

    def strings(self, node: Map, key: str, where: str) -> tuple[str, ...]:
        items = self.seq(node.get(key), node.line_of(key), f"{where}.{key}")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, str | int) or isinstance(item, bool):
                self.error(items.line_of(i), f"{where}.{key} items must be text")
            else:
                out.append(str(item))
        return tuple(out)

    def matchers(self, node: Map, key: str, where: str) -> tuple[Matcher, ...]:
        items = self.seq(node.get(key), node.line_of(key), f"{where}.{key}")
        out = []
        for i, item in enumerate(items):
            try:
                out.append(parse_matcher(str(item)))
            except MatcherError as exc:
                self.error(items.line_of(i), f"{where}: {exc}")
        return tuple(out)

    def convert(self, node: Map, key: str, fn: Callable[[Any], Any], where: str) -> Any:
        try:
            return fn(node[key])
        except (ValueError, TypeError) as exc:
            self.error(node.line_of(key), f"{where}.{key}: {exc}")
            return None

    # --- sections ---------------------------------------------------------------------

    def document(self, doc: Any) -> AlertConfig | None:
        root = self.mapping(doc, 1, "the routing file")
        if root is None:
            return None
        self.keys(
            root,
            ("route", "receivers", "time_intervals", "inhibit_rules", "escalations", "digests"),
            "top level",
        )
        receivers = self.receivers(root)
        intervals = self.time_intervals(root)
        escalations = self.escalations(root, receivers, intervals)
        route = self.root_route(root, receivers, intervals, escalations)
        inhibit = self.inhibit_rules(root)
        digests = self.digests(root, receivers)
        if route is None:
            return None
        return AlertConfig(
            route=route,
            receivers=receivers,
            time_intervals=intervals,
            inhibit_rules=inhibit,
            escalations=escalations,
            digests=digests,
            source=self.source,
        )

    def receivers(self, root: Map) -> dict[str, Receiver]:
        out: dict[str, Receiver] = {}
        items = self.seq(root.get("receivers"), root.line_of("receivers"), "receivers")
        if not items:
            self.error(root.line_of("receivers"), "at least one receiver is needed")
        for i, item in enumerate(items):
            node = self.mapping(item, items.line_of(i), f"receivers[{i}]")
            if node is None:
                continue
            name = str(node.get("name", ""))
            where = f"receiver {name or i}"
            if not _NAME.match(name):
                self.error(node.line, f"{where}: name must be lower-case letters, digits, - or _")
                continue
            if name in out:
                self.error(node.line, f"{where}: defined twice")
            self.keys(node, ("name", "audience", "excerpts", *CHANNELS), where)
            integrations: list[Integration] = []
            for channel in CHANNELS:
                configs = self.seq(node.get(channel), node.line_of(channel), f"{where}.{channel}")
                for j, cfg in enumerate(configs):
                    cnode = self.mapping(cfg, configs.line_of(j), f"{where}.{channel}[{j}]")
                    if cnode is not None:
                        integ = self.integration(channel, len(integrations), cnode, where)
                        if integ is not None:
                            integrations.append(integ)
            excerpts = node.get("excerpts", False)
            if not isinstance(excerpts, bool):
                self.error(node.line_of("excerpts"), f"{where}: excerpts must be true or false")
                excerpts = False
            out[name] = Receiver(
                name=name,
                integrations=tuple(integrations),
                audience=str(node.get("audience", "")),
                excerpts=excerpts,
                line=node.line,
            )
        return out

    def integration(self, channel: str, index: int, node: Map, where: str) -> Integration | None:
        spec = _CHANNEL_FIELDS[channel]
        allowed = ["optional"]
        for fname, (_kind, _required, secret) in spec.items():
            allowed.append(f"{fname}_env")
            if not secret:
                allowed.append(fname)
        where = f"{where}.{channel}"
        for fname, (_kind, _req, secret) in spec.items():
            if secret and fname in node:
                self.error(
                    node.line_of(fname),
                    f"{where}: {fname} is a secret — give the name of an environment variable "
                    f"that holds it as {fname}_env, never the value itself",
                )
        self.keys(node, [*allowed, *(f for f, s in spec.items() if s[2])], where)
        values: dict[str, Any] = {}
        env_refs: dict[str, str] = {}
        for fname, (kind, required, _secret) in spec.items():
            if f"{fname}_env" in node:
                env_name = node[f"{fname}_env"]
                if not isinstance(env_name, str) or not re.match(r"^[A-Z_][A-Z0-9_]*$", env_name):
                    self.error(
                        node.line_of(f"{fname}_env"),
                        f"{where}: {fname}_env must name an environment variable (LIKE_THIS)",
                    )
                else:
                    env_refs[fname] = env_name
            elif fname in node:
                value = self.field_value(node, fname, kind, where)
                if value is not None:
                    values[fname] = value
            elif required:
                self.error(node.line, f"{where}: {fname} is required")
        optional = node.get("optional", False)
        if not isinstance(optional, bool):
            self.error(node.line_of("optional"), f"{where}: optional must be true or false")
            optional = False
        if (
            channel == "email"
            and "tls" in values
            and values["tls"] not in ("starttls", "tls", "none")
        ):
            self.error(node.line_of("tls"), f"{where}: tls must be starttls, tls or none")
        if (
            channel == "webhook"
            and "url" in values
            and not str(values["url"]).startswith(("http://", "https://"))
        ):
            self.error(node.line_of("url"), f"{where}: url must start with http:// or https://")
        return Integration(channel, index, values, env_refs, optional, node.line)

    def field_value(self, node: Map, fname: str, kind: str, where: str) -> Any:
        value = node[fname]
        line = node.line_of(fname)
        if kind == "addresses":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items:
                self.error(line, f"{where}: {fname} must be an address or a list of addresses")
                return None
            bad = [a for a in items if not isinstance(a, str) or not _EMAIL.match(a)]
            if bad:
                self.error(line, f"{where}: {fname} has addresses that are not valid: {bad}")
                return None
            return tuple(items)
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
                self.error(line, f"{where}: {fname} must be a whole number (a port)")
                return None
            return value
        if kind == "duration":
            try:
                return parse_duration(value)
            except ValueError as exc:
                self.error(line, f"{where}: {exc}")
                return None
        if not isinstance(value, str) or not value:
            self.error(line, f"{where}: {fname} must be text")
            return None
        if kind == "address" and not _EMAIL.match(value):
            self.error(line, f"{where}: {fname} {value!r} is not an e-mail address")
            return None
        return value

    def time_intervals(self, root: Map) -> dict[str, tuple[windows.TimeInterval, ...]]:
        out: dict[str, tuple[windows.TimeInterval, ...]] = {}
        items = self.seq(root.get("time_intervals"), root.line_of("time_intervals"), "windows")
        for i, item in enumerate(items):
            node = self.mapping(item, items.line_of(i), f"time_intervals[{i}]")
            if node is None:
                continue
            name = str(node.get("name", ""))
            where = f"time interval {name or i}"
            self.keys(node, ("name", "time_intervals"), where)
            if not _NAME.match(name):
                self.error(node.line, f"{where}: name must be lower-case letters, digits, - or _")
                continue
            entries = self.seq(node.get("time_intervals"), node.line_of("time_intervals"), where)
            parsed = []
            for j, entry in enumerate(entries):
                enode = self.mapping(entry, entries.line_of(j), where)
                if enode is not None:
                    interval = self.interval(enode, where)
                    if interval is not None:
                        parsed.append(interval)
            if not entries:
                self.error(node.line, f"{where}: needs a time_intervals list")
            out[name] = tuple(parsed)
        return out

    def interval(self, node: Map, where: str) -> windows.TimeInterval | None:
        self.keys(node, ("weekdays", "times", "days_of_month", "months", "location"), where)
        ok = True
        try:
            weekdays = windows.parse_weekdays(self.strings(node, "weekdays", where))
            months = windows.parse_months(self.strings(node, "months", where))
            days = windows.parse_days_of_month(self.strings(node, "days_of_month", where))
        except ValueError as exc:
            self.error(node.line, f"{where}: {exc}")
            return None
        times = []
        ranges = self.seq(node.get("times"), node.line_of("times"), f"{where}.times")
        for k, rng in enumerate(ranges):
            rnode = self.mapping(rng, ranges.line_of(k), f"{where}.times")
            if rnode is None:
                ok = False
                continue
            self.keys(rnode, ("start_time", "end_time"), f"{where}.times")
            try:
                times.append(windows.parse_time_range(rnode["start_time"], rnode["end_time"]))
            except KeyError:
                self.error(rnode.line, f"{where}: each time range needs start_time and end_time")
                ok = False
            except ValueError as exc:
                self.error(rnode.line, f"{where}: {exc}")
                ok = False
        location = windows.LONDON
        if "location" in node:
            try:
                location = ZoneInfo(str(node["location"]))
            except (ZoneInfoNotFoundError, ValueError):
                self.error(
                    node.line_of("location"), f"{where}: unknown time zone {node['location']!r}"
                )
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
        self, root: Map, receivers: Mapping[str, Receiver], intervals: Mapping[str, Any]
    ) -> dict[str, Escalation]:
        out: dict[str, Escalation] = {}
        items = self.seq(root.get("escalations"), root.line_of("escalations"), "escalations")
        for i, item in enumerate(items):
            node = self.mapping(item, items.line_of(i), f"escalations[{i}]")
            if node is None:
                continue
            name = str(node.get("name", ""))
            where = f"escalation {name or i}"
            self.keys(node, ("name", "during", "steps"), where)
            if not _NAME.match(name):
                self.error(node.line, f"{where}: name must be lower-case letters, digits, - or _")
                continue
            during = self.strings(node, "during", where)
            for w in during:
                if w not in intervals:
                    self.error(node.line_of("during"), f"{where}: no time interval named {w!r}")
            steps: list[EscalationStep] = []
            raw_steps = self.seq(node.get("steps"), node.line_of("steps"), f"{where}.steps")
            for j, step in enumerate(raw_steps):
                snode = self.mapping(step, raw_steps.line_of(j), f"{where}.steps")
                if snode is None:
                    continue
                self.keys(snode, ("after", "receiver"), f"{where}.steps")
                after = (
                    self.convert(snode, "after", parse_duration, where)
                    if "after" in snode
                    else None
                )
                receiver = str(snode.get("receiver", ""))
                if receiver not in receivers:
                    self.error(snode.line, f"{where}: step names no known receiver ({receiver!r})")
                elif after is None:
                    self.error(snode.line, f"{where}: each step needs after: (e.g. 1h)")
                else:
                    steps.append(EscalationStep(after, receiver))
            if not raw_steps:
                self.error(node.line, f"{where}: needs at least one step")
            out[name] = Escalation(name, during, tuple(sorted(steps, key=lambda s: s.after)))
        return out

    def root_route(
        self,
        root: Map,
        receivers: Mapping[str, Receiver],
        intervals: Mapping[str, Any],
        escalations: Mapping[str, Escalation],
    ) -> Route | None:
        node = self.mapping(root.get("route"), root.line_of("route"), "route")
        if node is None:
            return None
        if "matchers" in node:
            self.error(node.line_of("matchers"), "the root route must not have matchers")
        if "continue" in node:
            self.error(node.line_of("continue"), "the root route cannot have continue")
        if "receiver" not in node:
            self.error(node.line, "the root route must name a default receiver")
            return None
        spec = self.route_spec(node, "route", receivers, intervals, escalations)
        defaults = RouteOptions(receiver=str(node["receiver"]))
        return build(spec, defaults)

    def route_spec(
        self,
        node: Map,
        where: str,
        receivers: Mapping[str, Receiver],
        intervals: Mapping[str, Any],
        escalations: Mapping[str, Escalation],
    ) -> RouteSpec:
        self.keys(
            node,
            (
                "name",
                "receiver",
                "matchers",
                "continue",
                "group_by",
                "group_wait",
                "group_interval",
                "repeat_interval",
                "active_time_intervals",
                "escalation",
                "routes",
            ),
            where,
        )
        overrides: dict[str, object] = {}
        if "receiver" in node:
            receiver = str(node["receiver"])
            if receiver not in receivers:
                self.error(node.line_of("receiver"), f"{where}: no receiver named {receiver!r}")
            overrides["receiver"] = receiver
        if "group_by" in node:
            group_by = self.strings(node, "group_by", where)
            if "..." in group_by and len(group_by) > 1:
                self.error(node.line_of("group_by"), f"{where}: '...' must be the only group_by")
            overrides["group_by"] = group_by
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in node:
                value = self.convert(node, key, parse_duration, where)
                if value is not None:
                    overrides[key] = value
        if "group_interval" in overrides and overrides["group_interval"] == timedelta(0):
            self.error(node.line_of("group_interval"), f"{where}: group_interval must be above 0")
        if "active_time_intervals" in node:
            names = self.strings(node, "active_time_intervals", where)
            for name in names:
                if name not in intervals:
                    self.error(
                        node.line_of("active_time_intervals"),
                        f"{where}: no time interval named {name!r}",
                    )
            overrides["active_time_intervals"] = names
        if "escalation" in node:
            esc = node["escalation"]
            if esc is not None and str(esc) not in escalations:
                self.error(node.line_of("escalation"), f"{where}: no escalation named {esc!r}")
            overrides["escalation"] = None if esc is None else str(esc)
        cont = node.get("continue", False)
        if not isinstance(cont, bool):
            self.error(node.line_of("continue"), f"{where}: continue must be true or false")
            cont = False
        children = []
        items = self.seq(node.get("routes"), node.line_of("routes"), f"{where}.routes")
        for i, item in enumerate(items):
            child = self.mapping(item, items.line_of(i), f"{where}.routes[{i}]")
            if child is not None:
                child_where = f"{where}.routes[{i}]"
                if "matchers" not in child:
                    self.error(child.line, f"{child_where}: a child route needs matchers")
                children.append(
                    self.route_spec(child, child_where, receivers, intervals, escalations)
                )
        return RouteSpec(
            matchers=self.matchers(node, "matchers", where) if "matchers" in node else (),
            continue_=cont,
            overrides=overrides,
            routes=tuple(children),
            line=node.line,
            name=str(node.get("name", "")),
        )

    def inhibit_rules(self, root: Map) -> tuple[InhibitRule, ...]:
        out = []
        items = self.seq(root.get("inhibit_rules"), root.line_of("inhibit_rules"), "inhibit_rules")
        for i, item in enumerate(items):
            where = f"inhibit_rules[{i}]"
            node = self.mapping(item, items.line_of(i), where)
            if node is None:
                continue
            self.keys(node, ("source_matchers", "target_matchers", "equal"), where)
            source = self.matchers(node, "source_matchers", where)
            target = self.matchers(node, "target_matchers", where)
            if not source or not target:
                self.error(node.line, f"{where}: needs source_matchers and target_matchers")
                continue
            out.append(InhibitRule(source, target, self.strings(node, "equal", where), node.line))
        return tuple(out)

    def digests(self, root: Map, receivers: Mapping[str, Receiver]) -> dict[str, DigestSpec]:
        out: dict[str, DigestSpec] = {}
        items = self.seq(root.get("digests"), root.line_of("digests"), "digests")
        for i, item in enumerate(items):
            node = self.mapping(item, items.line_of(i), f"digests[{i}]")
            if node is None:
                continue
            name = str(node.get("name", ""))
            where = f"digest {name or i}"
            self.keys(
                node,
                (
                    "name",
                    "title",
                    "description",
                    "schedule",
                    "receivers",
                    "sections",
                    "matchers",
                    "excerpts",
                    "top",
                ),
                where,
            )
            if not _NAME.match(name):
                self.error(node.line, f"{where}: name must be lower-case letters, digits, - or _")
                continue
            if name in out:
                self.error(node.line, f"{where}: defined twice")
            targets = self.strings(node, "receivers", where)
            if not targets:
                self.error(node.line, f"{where}: needs receivers: [name, ...]")
            for receiver in targets:
                if receiver not in receivers:
                    self.error(
                        node.line_of("receivers"), f"{where}: no receiver named {receiver!r}"
                    )
            try:
                cron = parse_cron(str(node.get("schedule", "")))
            except ScheduleError as exc:
                self.error(node.line_of("schedule"), f"{where}: {exc}")
                continue
            sections = self.strings(node, "sections", where) or ("levels", "alerts")
            for s in sections:
                if s not in SECTIONS:
                    self.error(
                        node.line_of("sections"),
                        f"{where}: unknown section {s!r} (use {', '.join(SECTIONS)})",
                    )
            top = node.get("top", 10)
            if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 100:
                self.error(
                    node.line_of("top"), f"{where}: top must be a whole number from 1 to 100"
                )
                top = 10
            excerpts = node.get("excerpts", False)
            if not isinstance(excerpts, bool):
                self.error(node.line_of("excerpts"), f"{where}: excerpts must be true or false")
                excerpts = False
            if excerpts:
                for receiver in targets:
                    if receiver in receivers and not receivers[receiver].excerpts:
                        self.error(
                            node.line_of("excerpts"),
                            f"{where}: has excerpts but receiver {receiver} does not take them "
                            "(set excerpts: true on the receiver if its audience may see posts)",
                        )
            out[name] = DigestSpec(
                name=name,
                title=str(node.get("title") or name),
                cron=cron,
                receivers=targets,
                sections=sections,
                matchers=self.matchers(node, "matchers", where) if "matchers" in node else (),
                excerpts=excerpts,
                top=top,
                description=str(node.get("description", "")),
                line=node.line,
            )
        return out


# channel -> field -> (kind, required, secret)
_CHANNEL_FIELDS: dict[str, dict[str, tuple[str, bool, bool]]] = {
    "local": {"mailbox": ("text", False, False)},
    "email": {
        "to": ("addresses", True, False),
        "from": ("address", True, False),
        "host": ("text", True, False),
        "port": ("int", False, False),
        "tls": ("text", False, False),
        "username": ("text", False, False),
        "password": ("text", False, True),
        "timeout": ("duration", False, False),
    },
    "teams": {"url": ("text", True, True), "timeout": ("duration", False, False)},
    "slack": {"url": ("text", True, True), "timeout": ("duration", False, False)},
    "webhook": {
        "url": ("text", True, False),
        "secret": ("text", False, True),
        "timeout": ("duration", False, False),
    },
}
