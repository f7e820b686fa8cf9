"""The file importer's parser (JSONL or CSV of posts, format in docs/import-format.md) and a
replay helper that paces posts by their recorded times.

Parsing is strict and per record: a bad line (not JSON, a missing or mistyped field, a time
without a UTC offset, bytes that are not UTF-8, a line over 1 MB) becomes an `ImportProblem`
carrying its line number and reason, and the lines after it are still read. Nothing is guessed:
a record is imported as written or reported.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import sys
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from monitor.collectors.common import Clock
from monitor.ingest.bounds import clamp_count, created_at_problem, has_lone_surrogate, has_nul
from monitor.types import RawPost

MAX_LINE_BYTES = 1 << 20  # 1 MB
TOO_MANY_DIGITS = f"a number has more than {sys.get_int_max_str_digits():,} digits"
REQUIRED = ("platform", "id", "text", "created_at")
OPTIONAL = (
    "author", "url", "lang", "reply_to", "quote_of", "repost_of",
    "likes", "reposts", "replies", "html", "source", "synthetic",
)  # fmt: skip
FIELDS = REQUIRED + OPTIONAL
_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_POST_REF = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}:\S.*$", re.DOTALL)
_MAX_ID_CHARS = 400  # with the platform, within posts.id's 512
_MAX_SOURCE_CHARS = 200
_MAX_URL_CHARS = 4096
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class ImportProblem(ValueError):
    """A record that was not imported: its (first) line number and why."""

    def __init__(self, lineno: int, reason: str) -> None:
        super().__init__(f"line {lineno}: {reason}")
        self.lineno = lineno
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImportProblem) and (self.lineno, self.reason) == (
            other.lineno,
            other.reason,
        )

    def __hash__(self) -> int:
        return hash((self.lineno, self.reason))


Record = tuple[int, RawPost | ImportProblem]


# --- one record ------------------------------------------------------------------------------


def parse_jsonl_line(line: str, lineno: int, now: datetime | None = None) -> RawPost:
    """The post on one JSONL line (without its line ending); ImportProblem if unusable."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ImportProblem(lineno, f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ImportProblem(lineno, "not valid JSON: nested too deeply") from None
    except ValueError:
        # Not a JSONDecodeError: Python refuses to read an integer of over 4,300 digits (a
        # guard against quadratic conversion). Uncaught, it ended the whole import.
        raise ImportProblem(lineno, f"not valid JSON: {TOO_MANY_DIGITS}") from None
    return parse_json_record(data, lineno, now)


def parse_json_record(data: object, lineno: int, now: datetime | None = None) -> RawPost:
    """The post in one already-decoded JSON value (an item of a pushed array)."""
    if not isinstance(data, dict):
        raise ImportProblem(lineno, f"expected a JSON object, got {_json_type(data)}")
    return _record(data, lineno, from_csv=False, now=now)


def parse_csv_row(row: Mapping[str, str], lineno: int, now: datetime | None = None) -> RawPost:
    """The post in one CSV row (header name → cell); empty cells are absent fields, except
    that an empty `text` is an empty text (a repost without comment has one)."""
    cells = {k: v for k, v in row.items() if v != "" or k == "text"}
    return _record(cells, lineno, from_csv=True, now=now)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


class _Fields:
    """Reads typed fields from one record, collecting every problem rather than the first."""

    def __init__(self, data: Mapping[str, Any], from_csv: bool, now: datetime) -> None:
        self.data = data
        self.from_csv = from_csv
        self.now = now
        self.problems: list[str] = []

    def bad(self, name: str, reason: str) -> None:
        self.problems.append(f"{name}: {reason}")

    def string(
        self,
        name: str,
        required: bool = False,
        max_chars: int | None = None,
        numbers_ok: bool = False,
    ) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.problems.append(f"missing required field {name!r}")
            return None
        # Platform ids and author ids are sometimes numbers in exports; nothing else is.
        is_number = isinstance(value, int) and not isinstance(value, bool)
        if not (isinstance(value, str) or (numbers_ok and is_number)):
            self.bad(name, f"expected a string, got {_json_type(value)}")
            return None
        text = str(value)
        if name != "text" and has_lone_surrogate(text):
            self.bad(name, "contains an unpaired UTF-16 surrogate (a broken \\ud800 escape)")
            return None
        if name != "text" and has_nul(text):
            self.bad(name, "contains a NUL character (\\u0000), which the store cannot hold")
            return None
        if max_chars is not None and len(text) > max_chars:
            self.bad(name, f"longer than {max_chars} characters")
            return None
        return text

    def count(self, name: str) -> int:
        value = self.data.get(name)
        if value is None:
            return 0
        if self.from_csv and isinstance(value, str) and value.strip().isascii():
            if value.strip().isdigit() and len(value.strip()) <= 30:
                return clamp_count(int(value.strip()))
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return clamp_count(value)
        self.bad(name, f"expected a whole number of 0 or more, got {value!r}")
        return 0

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if self.from_csv and isinstance(value, str):
            low = value.strip().lower()
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
        self.bad(name, f"expected true or false, got {value!r}")
        return False

    def timestamp(self, name: str) -> datetime | None:
        text = self.string(name, required=True)
        if text is None:
            return None
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            self.bad(name, f"not an ISO 8601 time: {text[:40]!r}")
            return None
        if when.tzinfo is None:
            self.bad(name, f"{text[:40]!r} has no UTC offset (add Z or +00:00)")
            return None
        try:
            when = when.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable time
            self.bad(name, f"{text[:40]!r} is out of range")
            return None
        problem = created_at_problem(when, self.now)
        if problem is not None:
            self.bad(name, problem)
            return None
        return when

    def url(self, name: str) -> str | None:
        text = self.string(name, max_chars=_MAX_URL_CHARS)
        if text is None:
            return None
        # Only web links: the UI renders this as a link, and javascript: or data: URLs there
        # would run in an analyst's browser.
        if not re.match(r"^https?://[^\s/]+", text, re.IGNORECASE) or any(
            c.isspace() for c in text
        ):
            self.bad(name, "must be an http:// or https:// address without spaces")
            return None
        return text

    def post_ref(self, name: str) -> str | None:
        text = self.string(name, max_chars=512)
        if text is None:
            return None
        if not _POST_REF.match(text):
            self.bad(name, f"expected a full post id 'platform:native_id', got {text[:60]!r}")
            return None
        return text


def _record(data: Mapping[str, Any], lineno: int, from_csv: bool, now: datetime | None) -> RawPost:
    """`now` bounds created_at (see monitor.ingest.bounds); the wall clock when not given."""
    unknown = sorted(set(data) - set(FIELDS))
    f = _Fields(data, from_csv, now or datetime.now(UTC))
    if unknown:
        f.problems.append(f"unknown field {', '.join(repr(u) for u in unknown)}")
    platform = f.string("platform", required=True)
    if platform is not None:
        platform = platform.strip().lower()
        if not _PLATFORM.match(platform):
            f.bad("platform", "use lower-case letters, digits, '.', '_' or '-' (e.g. mastodon)")
    native_id = f.string("id", required=True, max_chars=_MAX_ID_CHARS, numbers_ok=True)
    if native_id is not None and not native_id.strip():
        f.bad("id", "is empty")
    text = f.string("text", required=True)
    created_at = f.timestamp("created_at")
    author = f.string("author", max_chars=_MAX_ID_CHARS, numbers_ok=True)
    url = f.url("url")
    lang = f.string("lang", max_chars=35)
    reply_to = f.post_ref("reply_to")
    quote_of = f.post_ref("quote_of")
    repost_of = f.post_ref("repost_of")
    likes, reposts, replies = f.count("likes"), f.count("reposts"), f.count("replies")
    is_html = f.flag("html")
    source = f.string("source", max_chars=_MAX_SOURCE_CHARS)
    f.flag("synthetic")  # informational only; checked so that a typo in it is reported
    if f.problems:
        raise ImportProblem(lineno, "; ".join(f.problems))
    assert platform is not None and native_id is not None and text is not None
    assert created_at is not None
    return RawPost(
        platform=platform,
        native_id=native_id,
        text=text,
        created_at=created_at,
        author_id=author or None,
        source=source.strip() if source and source.strip() else "import",
        url=url,
        language=lang,
        reply_to=reply_to,
        quote_of=quote_of,
        repost_of=repost_of,
        like_count=likes,
        repost_count=reposts,
        reply_count=replies,
        is_html=is_html,
    )


# --- whole files -----------------------------------------------------------------------------


def file_format(path: Path) -> str:
    """ "jsonl" or "csv", from the file name (a trailing .gz is looked through)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffixes and suffixes[-1] == ".csv":
        return "csv"
    raise ValueError(f"{path}: unknown file type; name it .jsonl or .csv (optionally .gz)")


def _open(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


@dataclass(frozen=True, slots=True)
class _Line:
    lineno: int
    text: str | None  # None when the line could not be read
    problem: str | None = None


def _lines(fh: IO[bytes]) -> Iterator[_Line]:
    """Physical lines, decoded; at most MAX_LINE_BYTES of any line is ever held in memory."""
    lineno = 0
    while True:
        try:
            raw = fh.readline(MAX_LINE_BYTES + 1)
        except (EOFError, OSError, zlib.error) as exc:
            # A .gz cut short (EOFError) or damaged (BadGzipFile is an OSError): the lines
            # read so far are delivered; the rest is reported, not silently dropped.
            yield _Line(lineno + 1, None, f"the compressed file is truncated or corrupt: {exc}")
            return
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            size = len(raw)
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                raw = fh.readline(MAX_LINE_BYTES)
                size += len(raw)
            size -= len(raw) - len(raw.rstrip(b"\r\n"))
            yield _Line(lineno, None, f"line is longer than 1 MB ({size:,} bytes)")
            continue
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield _Line(lineno, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield _Line(
                lineno,
                None,
                f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}; "
                "save the file as UTF-8",
            )


def iter_records(path: Path, fmt: str | None = None) -> Iterator[Record]:
    """(line number, post or problem) for every record of a JSONL or CSV file, in file order.

    Blank lines are skipped. The format comes from the file name unless `fmt` says.
    """
    kind = fmt or file_format(path)
    if kind not in ("jsonl", "csv"):
        raise ValueError(f"unknown import format {kind!r}: use jsonl or csv")
    with _open(path) as fh:
        if kind == "jsonl":
            yield from _jsonl_records(_lines(fh))
        else:
            yield from _csv_records(_lines(fh))


def _jsonl_records(lines: Iterable[_Line]) -> Iterator[Record]:
    for line in lines:
        if line.text is None:
            yield line.lineno, ImportProblem(line.lineno, line.problem or "unreadable line")
            continue
        text = line.text.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            yield line.lineno, parse_jsonl_line(text, line.lineno)
        except ImportProblem as problem:
            yield line.lineno, problem


def _csv_records(lines: Iterable[_Line]) -> Iterator[Record]:
    # The csv module's own limit (128 KiB a field) is below our line limit; raise it (it is
    # process-wide, and only ever raised).
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))
    bad: dict[int, str] = {}

    def feed() -> Iterator[str]:
        for line in lines:
            if line.text is None:
                bad[line.lineno] = line.problem or "unreadable line"
                yield "\n"  # keeps the reader's line count; the row is reported below
            else:
                yield line.text

    reader = csv.reader(feed(), strict=True)
    header: list[str] | None = None
    consumed = 0
    while True:
        first = consumed + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            consumed = reader.line_num
            yield first, ImportProblem(first, f"not valid CSV: {exc}")
            continue
        consumed = reader.line_num
        problems = [bad.pop(n) for n in range(first, consumed + 1) if n in bad]
        if header is None:
            if problems:
                yield first, ImportProblem(first, f"header row: {problems[0]}")
                return
            header = [h.strip() for h in row]
            problem = _check_header(header)
            if problem:
                yield first, ImportProblem(first, problem)
                return
            continue
        if problems:
            yield first, ImportProblem(first, "; ".join(problems))
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            yield (
                first,
                ImportProblem(first, f"row has {len(row)} cells but the header has {len(header)}"),
            )
            continue
        try:
            yield first, parse_csv_row(dict(zip(header, row, strict=True)), first)
        except ImportProblem as problem:
            yield first, problem


def _check_header(header: list[str]) -> str | None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return f"header row: column {name!r} appears twice"
        seen.add(name)
    unknown = [h for h in header if h not in FIELDS]
    if unknown:
        return f"header row: unknown column {unknown[0]!r} (known: {', '.join(FIELDS)})"
    missing = [r for r in REQUIRED if r not in seen]
    if missing:
        return f"header row: missing required column {missing[0]!r}"
    return None


# --- paced replay ----------------------------------------------------------------------------


async def replay(records: Iterable[Record], speed: float, clock: Clock) -> AsyncIterator[Record]:
    """The records again, each post held back until its place in the recorded timeline.

    A post created `g` seconds after the first one is released `g / speed` seconds after the
    replay started (speed 60: an hour of posts a minute; 0: no waiting at all). Times are
    measured from the start, so sleeping late never accumulates drift; a post older than one
    already released goes straight out; problems pass through unpaced.
    """
    if speed < 0:
        raise ValueError("speed must be 0 or more")
    started: datetime | None = None
    first: datetime | None = None
    latest: datetime | None = None
    for lineno, record in records:
        if speed > 0 and isinstance(record, RawPost):
            if started is None or first is None or latest is None:
                started, first, latest = clock.now(), record.created_at, record.created_at
            else:
                latest = max(latest, record.created_at)
                due = (latest - first).total_seconds() / speed
                wait = due - (clock.now() - started).total_seconds()
                if wait > 0:
                    await clock.sleep(wait)
        yield lineno, record
