"""Pure: label matchers in Alertmanager's syntax — `name=value`, `name!=value`, `name=~regex`,
`name!~regex` — with values optionally in double quotes.

Regular expressions come from a file a non-programmer edits and run on every alert, so they are
bounded: at most `MAX_PATTERN` characters, anchored (the whole value must match, as in
Alertmanager), no back-references or look-arounds, and no quantified group that itself holds a
quantifier (`(a+)+`), the shape behind catastrophic backtracking. Label values are at most
`MAX_VALUE` characters when matched.

Matchers may not name a person: routing on an author would be monitoring a particular person,
which the service must never do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_PATTERN = 200
MAX_VALUE = 200
PERSONAL_LABELS = frozenset(
    {"author", "author_ref", "user", "username", "handle", "account", "profile", "person"}
)
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
_FORBIDDEN_REGEX = re.compile(r"\\[1-9]|\(\?[=!<P]|\(\?<[=!]")
OPS = ("=", "!=", "=~", "!~")


class MatcherError(ValueError):
    """A matcher that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Alertmanager semantics: a missing label is the empty string."""
        value = labels.get(self.name, "")[:MAX_VALUE]
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self.regex is not None
        found = self.regex.fullmatch(value) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str) -> Matcher:
    m = _MATCHER.match(text)
    if m is None:
        raise MatcherError(
            f"not a matcher: {text!r} (write name=value, name!=value, name=~regex or name!~regex)"
        )
    name, op, value = m.group(1), m.group(2), m.group(3)
    if name.lower() in PERSONAL_LABELS:
        raise MatcherError(
            f"label {name!r} names a person: routing works on labels about content and places, "
            "never on an author"
        )
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    return Matcher(name, op, value, _compile(value) if op in ("=~", "!~") else None)


def parse_matchers(items: Iterable[str]) -> tuple[Matcher, ...]:
    return tuple(parse_matcher(item) for item in items)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def _compile(pattern: str) -> re.Pattern[str]:
    if len(pattern) > MAX_PATTERN:
        raise MatcherError(f"regular expression longer than {MAX_PATTERN} characters")
    if _FORBIDDEN_REGEX.search(pattern):
        raise MatcherError("back-references and look-arounds are not allowed in matchers")
    if _nested_quantifier(pattern):
        raise MatcherError(
            f"regular expression {pattern!r} repeats a group that itself repeats "
            "(like (a+)+); it could take very long to match — rewrite it without the nesting"
        )
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise MatcherError(f"bad regular expression {pattern!r}: {exc}") from None


def _nested_quantifier(pattern: str) -> bool:
    """True when a group containing a quantifier is itself quantified."""
    stack: list[bool] = []  # per open group: does it contain a quantifier?
    i = 0
    escaped = in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            stack.append(False)
        elif ch == ")":
            inner = stack.pop() if stack else False
            repeated = i + 1 < len(pattern) and pattern[i + 1] in "*+{"
            if inner and repeated:
                return True
            if stack and (inner or repeated):
                stack[-1] = True
        elif ch in "*+{" and stack:
            stack[-1] = True
        i += 1
    return False
