"""Read a YAML document into plain values that remember their line, so that a mistake in
`alerts/routing.yaml` is reported as `alerts/routing.yaml:42: ...` rather than a traceback.

The one YAML reader for the files people edit (rule packs, routing, gazetteers, public
accounts, counter messages): `read_file` and `read_yaml` give `Map`/`Seq` (a dict and a
list that know their lines) and scalars. Anchors and aliases are refused: these files do not
need them, and they are how a small YAML file expands into a huge one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1_000_000
# Lists and mappings inside each other: the project's deepest file (routing) nests under ten.
# Reading recurses once a level, and libyaml accepts about 900 levels before it refuses, deep
# enough to exhaust Python's stack: a bad file must be refused with its line, not crash.
MAX_DEPTH = 64
# libyaml's parser when PyYAML has it (ten times faster on big files); the same nodes and marks.
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    def __init__(self, source: str, line: int, message: str, duplicate: str | None = None) -> None:
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")
        self.source = source
        self.line = line
        self.reason = message
        self.duplicate = duplicate  # the key given twice, for a reader that words it its own way


class Block(str):
    """Text written as a block (`|` or `>`): it starts on the line after its key, which a
    problem inside it (a rule's query) counts from. Validated, it is a plain `str`."""

    __slots__ = ()


class Map(dict[str, Any]):
    """A mapping with the line of the mapping and of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class Seq(list[Any]):
    """A list with its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def read_file(path: Path, source: str | None = None, what: str = "file") -> Any:
    """Read the YAML file at `path`; errors name it `source` (default: the path). `what` says
    what it is when it is missing ("gazetteer file not found")."""
    where = str(path) if source is None else source
    return parse_bytes(read_bytes(path, where, what), where)


def read_bytes(path: Path, source: str, what: str = "file") -> bytes:
    """The bytes of the file at `path` (for a reader that keys what it parsed on them);
    errors as `read_file` gives them."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise YamlError(source, 0, f"{what} not found") from None
    except OSError as exc:
        raise YamlError(source, 0, f"cannot read: {exc.strerror or exc}") from None


def parse_bytes(raw: bytes, source: str) -> Any:
    """A file's bytes as `read_file` reads them: at most MAX_BYTES of UTF-8 YAML."""
    if len(raw) > MAX_BYTES:
        raise YamlError(source, 0, f"file larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(source, 0, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    return read_yaml(text, source)


def compose(text: str, source: str, anchor_hint: str = "") -> yaml.Node | None:
    """The YAML node tree of `text` (None when it holds no document), with each node's line:
    refusing files over MAX_BYTES, anchors and aliases, and more than one document."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise YamlError(source, 0, f"file larger than {MAX_BYTES} bytes")
    try:
        depth = 0
        for event in yaml.parse(text, Loader=LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise YamlError(
                        source,
                        mark.line + 1 if mark is not None else 0,
                        f"nested more than {MAX_DEPTH} levels deep",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                raise YamlError(
                    source,
                    mark.line + 1 if mark is not None else 0,
                    f"anchors and aliases (& and *) are not allowed here{anchor_hint}",
                )
        node: yaml.Node | None = yaml.compose(text, Loader=LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise YamlError(source, line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(source, 0, f"not valid YAML: {exc}") from None
    return node


def read_yaml(
    text: str, source: str, anchor_hint: str = "", problems: list[YamlError] | None = None
) -> Any:
    """`text` as plain values that know their lines (`Map`, `Seq`, scalars); an empty document
    is an empty `Map` with no line (0).

    Given `problems`, a key given twice, a key that is not text or a value YAML cannot build
    (an unquoted 2026-13-45) is added to it and the reading goes on (the first value of the
    key kept, the value as written), so that a reader can report the file's other mistakes
    with it; otherwise the first is raised."""
    node = compose(text, source, anchor_hint)
    if node is None:
        return Map()
    # One constructor for the document's scalars: making one per scalar (a whole loader:
    # reader, scanner, parser, resolver) was most of the reading, some 3,500 times a start.
    # It only builds scalars here, which keep no state between them.
    return _convert(node, source, problems, yaml.SafeLoader(" "))


def _convert(
    node: yaml.Node, source: str, problems: list[YamlError] | None, scalars: yaml.SafeLoader
) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = Map()
        out.line = line
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = _convert(key_node, source, problems, scalars)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                _problem(problems, YamlError(source, key_line, "keys must be text"))
            elif key in out:
                _problem(problems, YamlError(source, key_line, f"{key!r} given twice", key))
            else:
                out[key] = _convert(value_node, source, problems, scalars)
                out.key_lines[key] = key_line
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = Seq(_convert(item, source, problems, scalars) for item in node.value)
        seq.line = line
        seq.item_lines = [item.start_mark.line + 1 for item in node.value]
        return seq
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("|", ">"):
            return Block(node.value)
        try:
            return scalars.construct_object(node)
        except yaml.YAMLError as exc:
            _problem(problems, YamlError(source, line, f"bad value: {exc}"))
        except (ValueError, OverflowError):  # an unquoted 2026-13-45 read as a date
            why = f"{node.value[:40]!r} is not a valid value; quote it"
            _problem(problems, YamlError(source, line, why))
        return node.value
    raise YamlError(source, line, "anchors and aliases (& and *) are not allowed here")


def _problem(problems: list[YamlError] | None, error: YamlError) -> None:
    if problems is None:
        raise error
    problems.append(error)
