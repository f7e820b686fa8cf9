"""Declarative schemas for the YAML files people edit, with `file:line: where: reason` errors.

A file's shape is a pydantic model (`Schema`: unknown keys refused, values frozen). `validate`
checks a document read by `monitor.documents.lines` against it and turns every pydantic error
into a `Problem` at the line of the key or item it is about, in words a communities team can
act on ("accounts[2].kind: must be one of council, police ..."), not pydantic's own. Checks a
schema cannot express (a name used twice, a reference to an unknown ward) are reported the same
way with `Document.problem(loc, message)`.

How a problem is worded is a `Wording`: the default names the path, as above; rule packs word
theirs as they always have ("a rule needs `labels:`", "unknown key 'qurey' in a rule").
A validator may put its problem at a key below the one it checks (`ctx["at"]`) or some lines
into a block of text (`ctx["line_offset"]`), as a rule's query does.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from monitor.documents.lines import (
    Map,
    Seq,
    YamlError,
    parse_bytes,
    read_bytes,
    read_file,
    read_yaml,
)

__all__ = ["Document", "DocumentError", "Problem", "Schema", "Wording", "validate"]

Loc = Sequence[str | int]
M = TypeVar("M", bound=BaseModel)


class Schema(BaseModel):
    """Base of every file schema: unknown keys are mistakes, values are taken as written (no
    "yes" read as true, no "12" as a number: YAML already gave them their types), and what was
    read is frozen. Lists are `list[...]` (a YAML sequence is a list).

    A schema's validator is built when it first validates (`defer_build`), not when its class
    is made: a process pays only for the schemas of the files it reads (the rule editor's,
    the sources page's and the CLI checks' are not built at a service's start), about
    30 ms of each `monitor` start."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    line: int  # 1-based; 0 when it is about the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


class DocumentError(ValueError):
    """A file that cannot be used; `problems` holds every one found, in line order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(str(p) for p in self.problems))


@contextlib.contextmanager
def _as_document_error() -> Iterator[None]:
    """A file the line-aware reader refused, as the one problem of a `DocumentError`."""
    try:
        yield
    except YamlError as exc:
        raise DocumentError([Problem(exc.source, exc.line, exc.reason)]) from None


@dataclass(frozen=True, slots=True)
class Document:
    """The values read from one file (`Map`/`Seq` know their lines; plain dicts and lists,
    as tests pass, simply have none) and the name errors give it."""

    source: str
    data: Any

    @classmethod
    def read(cls, path: Path, source: str | None = None, what: str = "file") -> Document:
        with _as_document_error():
            return cls(str(path) if source is None else source, read_file(path, source, what))

    @staticmethod
    def read_bytes(path: Path, source: str | None = None, what: str = "file") -> bytes:
        """The file's bytes, errors as `read` gives them: for a reader that keeps what it
        parsed by content (`monitor.documents.cache`) and parses them with `from_bytes`."""
        with _as_document_error():
            return read_bytes(path, str(path) if source is None else source, what)

    @classmethod
    def from_bytes(cls, raw: bytes, source: str) -> Document:
        with _as_document_error():
            return cls(source, parse_bytes(raw, source))

    @classmethod
    def parse(cls, text: str, source: str) -> Document:
        with _as_document_error():
            return cls(source, read_yaml(text, source))

    def value(self, loc: Loc) -> Any:
        """The value at `loc` (None where there is none)."""
        node = self.data
        for part in loc:
            if isinstance(node, Mapping) and isinstance(part, str):
                node = node.get(part)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return None
        return node

    def line(self, loc: Loc) -> int:
        """The line of the deepest key or item of `loc` that is in the file."""
        node, line = self.data, getattr(self.data, "line", 0)
        for part in loc:
            if isinstance(node, Mapping) and isinstance(part, str) and part in node:
                if isinstance(node, Map):
                    line = node.line_of(part)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if isinstance(node, Seq):
                    line = node.line_of(part)
                node = node[part]
            else:
                break
        return line

    def problem(self, loc: Loc, message: str) -> Problem:
        where = path_text(loc)
        return Problem(self.source, self.line(loc), f"{where}: {message}" if where else message)


def path_text(loc: Loc) -> str:
    """`accounts[1].kind` for ("accounts", 1, "kind"): items counted from 0, as the routing
    file's and gazetteers' messages always have."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class Wording:
    """How problems are worded and placed; this default names the path of each
    (`wards[2]: 'name' is required`) and puts it at the line of that key or item."""

    def missing(self, model: type[BaseModel] | None, parent: Loc, key: str) -> str:
        return _at(parent, f"{key!r} is required")

    def unknown(self, model: type[BaseModel] | None, parent: Loc, key: str) -> str:
        allowed = _fields(model)
        close = difflib.get_close_matches(key, allowed, n=1) if allowed else []
        if close:
            hint = f" (did you mean {close[0]!r}?)"
        else:
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return _at(parent, f"unknown key {key!r}{hint}")

    def reason(self, error: ErrorDetails, loc: Loc) -> str:
        return _at(loc, _reason(error))

    def line(self, doc: Document, loc: Loc) -> int:
        return doc.line(loc)


PATHS = Wording()


def validate(
    model: type[M],
    doc: Document,
    at: Loc = (),
    *,
    wording: Wording = PATHS,
    context: Mapping[str, Any] | None = None,
) -> M:
    """`doc` (or the part of it at `at`) as a `model`, or `DocumentError` with every problem at
    its line. Checking a file part by part (each list item on its own) lets a reader go on
    with the parts that are right and report what refers to what in them too. `context`
    reaches the model's validators (`ValidationInfo.context`)."""
    data = doc.value(at)
    try:
        return model.model_validate({} if data is None and not at else data, context=context)
    except ValidationError as exc:
        raise DocumentError(_problems(model, doc, exc.errors(), tuple(at), wording)) from None


def _problems(
    model: type[BaseModel],
    doc: Document,
    errors: list[ErrorDetails],
    at: tuple[str | int, ...],
    wording: Wording,
) -> list[Problem]:
    problems: list[Problem] = []
    unknown: dict[tuple[str | int, ...], list[str]] = {}
    for error in errors:
        loc = (*at, *(p for p in error["loc"] if not _is_tag(p)))
        if error["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            unknown.setdefault(loc[:-1], []).append(loc[-1])
            continue
        if error["type"] == "missing" and loc and isinstance(loc[-1], str):
            # The key is not in the file: say so at the mapping that lacks it.
            parent = loc[:-1]
            owner = _model_at(model, parent[len(at) :])
            message = wording.missing(owner, parent, loc[-1])
            problems.append(Problem(doc.source, wording.line(doc, parent), message))
            continue
        ctx = error.get("ctx") or {}
        loc = (*loc, *ctx.get("at", ()))
        line = wording.line(doc, loc) + int(ctx.get("line_offset", 0))
        problems.append(Problem(doc.source, line, wording.reason(error, loc)))
    for parent, keys in unknown.items():
        owner = _model_at(model, parent[len(at) :])
        for key in keys:
            message = wording.unknown(owner, parent, key)
            problems.append(Problem(doc.source, doc.line((*parent, key)), message))
    return problems


def _is_tag(part: str | int) -> bool:
    # Unions and function validators add their own names to the path (`function-after[...]`).
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _at(loc: Loc, message: str) -> str:
    where = path_text(loc)
    return f"{where}: {message}" if where else message


_REASONS = {
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date (YYYY-MM-DD), not a time",
}


_TYPE_NAMES = {
    "str": "text",
    "list": "a list",
    "Seq": "a list",
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "NoneType": "nothing",
}


def _reason(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        got = _TYPE_NAMES.get(type(error.get("input")).__name__, type(error.get("input")).__name__)
        return f"expected a mapping (key: value lines), got {got}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '').replace(' or ', ', ')}".replace("'", "")
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"longer than {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        word = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}.get(kind, "<=")
        limit = next(iter(ctx.values()), "?")
        return f"must be {word} {limit}"
    return _REASONS.get(kind, str(error["msg"]))


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model that checks the mapping at `loc`, for the words about its keys."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _fields(model: type[BaseModel] | None) -> list[str]:
    """The keys `model` allows, for the hint after an unknown key."""
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
