"""The importer's parser: every good record of a JSONL or CSV file is read, and every bad one is
reported with its line number and reason while the rest still import. All posts are fictional."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.ingest.replay import (
    MAX_LINE_BYTES,
    ImportProblem,
    Record,
    iter_records,
    parse_jsonl_line,
    replay,
)
from monitor.types import RawPost
from tests.collectors.conftest import FakeClock

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def post(n: int, **kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "platform": "bluesky",
        "id": f"at://did:plc:fictional{n}/app.bsky.feed.post/{n}",
        "text": f"Fictional post {n} about Girlington",
        "created_at": (T0 + timedelta(minutes=n)).isoformat(),
        "synthetic": True,
    }
    values.update(kw)
    return values


def write_jsonl(path: Path, lines: list[str | bytes]) -> Path:
    with path.open("wb") as fh:
        for line in lines:
            fh.write(line if isinstance(line, bytes) else line.encode("utf-8"))
            fh.write(b"\n")
    return path


def posts_and_problems(records: list[Record]) -> tuple[list[RawPost], list[ImportProblem]]:
    posts = [r for _, r in records if isinstance(r, RawPost)]
    problems = [r for _, r in records if isinstance(r, ImportProblem)]
    return posts, problems


def test_a_full_record_is_read_with_every_field() -> None:
    line = json.dumps(
        {
            "platform": "Mastodon",
            "id": "https://example.social/users/fictional/statuses/42",
            "text": "<p>Road closed by <b>Lister Park</b></p>",
            "created_at": "2026-11-03T10:15:00+01:00",
            "author": "https://example.social/users/fictional",
            "url": "https://example.social/@fictional/42",
            "lang": "en-GB",
            "reply_to": "mastodon:https://example.social/users/other/statuses/41",
            "likes": 3,
            "reposts": 1,
            "replies": 0,
            "html": True,
            "source": "fixture",
            "synthetic": True,
        }
    )
    p = parse_jsonl_line(line, 1)
    assert p.platform == "mastodon"
    assert p.post_id == "mastodon:https://example.social/users/fictional/statuses/42"
    assert p.created_at == datetime(2026, 11, 3, 9, 15, tzinfo=UTC)
    assert p.author_id == "https://example.social/users/fictional"
    assert (p.like_count, p.repost_count, p.reply_count) == (3, 1, 0)
    assert p.is_html and p.language == "en-GB" and p.source == "fixture"
    assert p.reply_to == "mastodon:https://example.social/users/other/statuses/41"


def test_numeric_ids_are_accepted_as_text() -> None:
    p = parse_jsonl_line(json.dumps(post(1, id=1234567890, author=42)), 1)
    assert p.native_id == "1234567890" and p.author_id == "42"
    assert p.source == "import"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got an array"),
        (json.dumps(post(1, text=None)), "missing required field 'text'"),
        (json.dumps(post(1, created_at="2026-11-03T10:00:00")), "has no UTC offset"),
        (json.dumps(post(1, created_at="yesterday")), "not an ISO 8601 time"),
        (json.dumps(post(1, likes=-1)), "likes: expected a whole number"),
        (json.dumps(post(1, likes="3")), "likes: expected a whole number"),
        (json.dumps(post(1, text=5)), "text: expected a string, got a number"),
        (json.dumps(post(1, url="javascript:alert(1)")), "url: must be an http"),
        (json.dumps(post(1, reply_to="12345")), "expected a full post id"),
        (json.dumps(post(1, html="yes")), "html: expected true or false"),
        (json.dumps(post(1, auther="x")), "unknown field 'auther'"),
        (json.dumps(post(1, platform="Blue Sky")), "platform: use lower-case"),
        (json.dumps(post(1, id="  ")), "id: is empty"),
    ],
)  # fmt: skip
def test_bad_records_say_why(record: str, reason: str) -> None:
    with pytest.raises(ImportProblem, match=reason) as info:
        parse_jsonl_line(record, 7)
    assert info.value.lineno == 7


def test_every_problem_of_a_record_is_reported_together() -> None:
    with pytest.raises(ImportProblem) as info:
        parse_jsonl_line(json.dumps(post(1, likes=-1, url="ftp://x", created_at="now")), 3)
    assert "likes" in info.value.reason and "url" in info.value.reason
    assert "created_at" in info.value.reason


def test_malformed_lines_are_reported_by_line_number_and_the_rest_parse(tmp_path: Path) -> None:
    huge = b'{"text": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    path = write_jsonl(
        tmp_path / "posts.jsonl",
        [
            json.dumps(post(1)),
            "{broken",
            "",  # blank lines are skipped
            json.dumps(post(2, created_at="2026-11-03 09:02")),
            json.dumps(post(3)).encode("utf-8").replace(b"Girlington", b"Girl\xe9ngton"),
            huge,
            json.dumps(post(4)),
            json.dumps(post(5, text="Lone surrogate \ud83d from a JSON escape")),
        ],
    )
    records = list(iter_records(path))
    posts, problems = posts_and_problems(records)
    assert [p.native_id.rsplit("/", 1)[1] for p in posts] == ["1", "4", "5"]
    assert [(p.lineno, p.reason.split(":")[0]) for p in problems] == [
        (2, "not valid JSON"),
        (4, "created_at"),
        (5, "not UTF-8"),
        (6, f"line is longer than 1 MB ({len(huge):,} bytes)"),
    ]
    assert "byte 0xe9" in problems[2].reason
    # Line numbers count physical lines, blank ones included.
    assert [n for n, r in records if isinstance(r, RawPost)] == [1, 7, 8]


def test_a_number_of_thousands_of_digits_is_a_problem_for_its_line_only(tmp_path: Path) -> None:
    # json.loads raises a plain ValueError (Python's limit on reading long integers), not a
    # JSONDecodeError: it ended the whole import with a traceback, storing nothing.
    huge = json.dumps(post(2)).replace('"synthetic": true', '"likes": 1' + "0" * 5000)
    path = write_jsonl(tmp_path / "posts.jsonl", [json.dumps(post(1)), huge, json.dumps(post(3))])
    posts, problems = posts_and_problems(list(iter_records(path)))
    assert [p.native_id.rsplit("/", 1)[1] for p in posts] == ["1", "3"]
    assert [(p.lineno, p.reason) for p in problems] == [
        (2, "not valid JSON: a number has more than 4,300 digits")
    ]


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(post(1)).encode() + b"\r\n")
    ((n, p),) = list(iter_records(path))
    assert n == 1 and isinstance(p, RawPost)


def test_gzipped_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(post(1)) + "\n" + json.dumps(post(2)) + "\n")
    posts, problems = posts_and_problems(list(iter_records(path)))
    assert len(posts) == 2 and not problems


def test_a_truncated_or_damaged_gzip_gives_its_lines_then_a_problem(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl.gz"
    with gzip.open(whole, "wt", encoding="utf-8") as fh:
        for i in range(1, 3001):
            fh.write(json.dumps(post(i)) + "\n")
    raw = whole.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(raw[: len(raw) * 2 // 3])
    records = list(iter_records(cut))
    posts, problems = posts_and_problems(records)
    assert len(posts) > 1000 and len(problems) == 1
    assert "truncated or corrupt" in problems[0].reason
    assert problems[0].lineno == len(posts) + 1  # the first line it could not read
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    posts, problems = posts_and_problems(list(iter_records(damaged)))
    assert not posts and "truncated or corrupt" in problems[0].reason


def test_unknown_file_types_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "posts.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match="unknown file type"):
        list(iter_records(path))


# --- CSV ---------------------------------------------------------------------------------------

HEADER = "platform,id,text,created_at,author,likes,html\n"


def test_csv_rows_parse_with_quoted_newlines_and_report_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_bytes(
        (
            HEADER
            + 'bluesky,p1,"Two lines,\nabout Girlington",2026-11-03T09:00:00Z,a1,2,false\n'
            + "bluesky,p2,No offset,2026-11-03T09:00:00,,,\n"
            + "bluesky,p3,,2026-11-03T09:00:00Z,,,\n"
            + "bluesky,p4,too,many,cells,2026-11-03T09:00:00Z,,\n"
            + "bluesky,p5,Bad bytes here\xe9,2026-11-03T09:00:00Z,,,\n"
        )
        .encode("utf-8")
        .replace(b"here\xc3\xa9", b"here\xe9")
        + b'bluesky,p6,"Fine again",2026-11-03T09:05:00+00:00,,0,TRUE\n'
        + b'bluesky,p7,"unclosed quote,2026-11-03T09:05:00Z,,,\n'
    )
    records = list(iter_records(path))
    posts, problems = posts_and_problems(records)
    assert [(p.native_id, p.text) for p in posts] == [
        ("p1", "Two lines,\nabout Girlington"),
        ("p3", ""),
        ("p6", "Fine again"),
    ]
    assert posts[0].author_id == "a1" and posts[0].like_count == 2 and not posts[0].is_html
    assert posts[2].is_html
    assert [(p.lineno, p.reason.split(":")[0]) for p in problems] == [
        (4, "created_at"),
        (6, "row has 8 cells but the header has 7"),
        (7, "not UTF-8"),
        (9, "not valid CSV"),
    ]
    assert [n for n, r in records if isinstance(r, RawPost)] == [2, 5, 8]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("platform,id,text\n", "missing required column 'created_at'"),
        ("platform,id,text,created_at,colour\n", "unknown column 'colour'"),
        ("platform,id,text,created_at,id\n", "column 'id' appears twice"),
    ],
)
def test_a_bad_csv_header_is_one_clear_problem(tmp_path: Path, header: str, reason: str) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(header + "bluesky,p1,x,2026-11-03T09:00:00Z\n", encoding="utf-8")
    ((n, problem),) = list(iter_records(path))
    assert n == 1 and isinstance(problem, ImportProblem) and reason in problem.reason


# --- paced replay ------------------------------------------------------------------------------


def records_at(*minutes: float) -> list[Record]:
    out: list[Record] = []
    for i, m in enumerate(minutes, start=1):
        created = T0 + timedelta(minutes=m)
        out.append((i, RawPost("bluesky", f"p{i}", "fictional", created)))
    return out


async def collect(records: list[Record], speed: float, clock: FakeClock) -> list[Record]:
    return [r async for r in replay(records, speed, clock)]


async def test_replay_keeps_the_recorded_gaps_divided_by_speed(clock: FakeClock) -> None:
    records = records_at(0, 1, 1, 11)
    start = clock.now()
    out = await collect(records, 60, clock)
    assert out == records
    # 1 minute at 60x is 1 s, then nothing, then 10 minutes is 10 s.
    assert clock.sleeps == pytest.approx([1.0, 10.0])
    assert clock.now() - start == timedelta(seconds=11)


async def test_replay_at_speed_zero_never_waits(clock: FakeClock) -> None:
    out = await collect(records_at(0, 60, 120), 0, clock)
    assert len(out) == 3 and clock.sleeps == []


async def test_replay_does_not_drift_when_processing_takes_time(clock: FakeClock) -> None:
    records = records_at(0, 1, 2)
    seen = []
    async for lineno, _ in replay(records, 60, clock):
        seen.append(lineno)
        clock.current += timedelta(seconds=0.25)  # the consumer's own work
    # Due at 1 s and 2 s after the start; the 0.25 s of work each time is not added on top.
    assert clock.sleeps == pytest.approx([0.75, 0.75])


async def test_replay_passes_problems_and_out_of_order_posts_straight_through(
    clock: FakeClock,
) -> None:
    records = records_at(0, 10, 5)
    records.insert(1, (99, ImportProblem(99, "not valid JSON")))
    out = await collect(records, 60, clock)
    assert out == records
    assert clock.sleeps == pytest.approx([10.0])


async def test_replay_refuses_a_negative_speed(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        await collect(records_at(0), -1, clock)


def test_the_documented_examples_import_cleanly(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "import-format.md").read_text()
    blocks = {lang: doc.split(f"```{lang}\n", 1)[1].split("```", 1)[0] for lang in ("json", "csv")}
    (tmp_path / "example.jsonl").write_text(blocks["json"], encoding="utf-8")
    (tmp_path / "example.csv").write_text(blocks["csv"], encoding="utf-8")
    for name, count in (("example.jsonl", 3), ("example.csv", 1)):
        posts, problems = posts_and_problems(list(iter_records(tmp_path / name)))
        assert problems == [] and len(posts) == count, name
