"""Fuzz the import format (JSONL and CSV): every line is either a post or a problem with its
line number (nothing lost, nothing raised), and every post it yields can be stored."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from monitor.ingest.bounds import EARLIEST, FUTURE_SLACK, MAX_COUNT
from monitor.ingest.core import IngestError, Ingestor
from monitor.ingest.places import PlaceMatcher
from monitor.ingest.replay import FIELDS, ImportProblem, iter_records, parse_jsonl_line
from monitor.privacy.postids import PostIds
from monitor.types import RawPost
from tests.fuzz.strategies import any_json, fuzz, mutate

IDS = PostIds(b"i" * 32)  # fictional post id key
NOW = datetime.now(UTC)
GOOD = {
    "platform": "partner",
    "id": "fictional-1",
    "text": "(fictional) Heard the library in Manningham is closing, is it true?",
    "created_at": "2026-11-03T10:00:00+00:00",
    "author": "partner-author-1",
    "url": "https://partner.example/p/1",
    "lang": "en",
    "reply_to": "partner:fictional-0",
    "likes": 3,
    "reposts": 1,
    "replies": 0,
    "html": False,
    "source": "partner-feed",
    "synthetic": True,
}
INGEST = Ingestor(PlaceMatcher([]), detect=lambda text, declared: declared)


def stores_cleanly(post: RawPost) -> None:
    """What the store needs of every accepted post (else an IngestError, never a crash)."""
    try:
        stored = INGEST.ingest(post, b"k" * 32, NOW, ids=IDS)
    except IngestError:
        return
    assert len(stored.text) <= INGEST.max_text_chars
    assert EARLIEST <= stored.created_at <= NOW + FUTURE_SLACK
    assert 0 <= stored.like_count <= MAX_COUNT and 0 <= stored.repost_count <= MAX_COUNT
    assert 0 <= stored.reply_count <= MAX_COUNT


@fuzz
@given(data=st.data())
def test_a_mutated_record_is_a_post_or_a_numbered_problem(data: st.DataObject) -> None:
    record = mutate(data, GOOD)
    line = json.dumps(record, ensure_ascii=data.draw(st.booleans()))
    try:
        post = parse_jsonl_line(line, 7, NOW)
    except ImportProblem as problem:
        assert problem.lineno == 7 and problem.reason
        return
    # The import boundary itself bounds what it hands on (counts clamped, dates refused).
    assert EARLIEST <= post.created_at <= NOW + FUTURE_SLACK
    assert max(post.like_count, post.repost_count, post.reply_count) <= MAX_COUNT
    stores_cleanly(post)


@fuzz
@given(value=any_json)
def test_any_json_value_on_a_line_is_a_post_or_a_problem(value: Any) -> None:
    try:
        stores_cleanly(parse_jsonl_line(json.dumps(value), 1, NOW))
    except ImportProblem:
        pass


@fuzz
@given(
    lines=st.lists(
        st.one_of(st.binary(max_size=60), st.just(json.dumps(GOOD).encode())), max_size=8
    )
)
def test_a_file_of_arbitrary_lines_reports_every_line(
    tmp_path_factory: Any, lines: list[bytes]
) -> None:
    path = Path(tmp_path_factory.mktemp("jsonl")) / "posts.jsonl"
    body = b"\n".join(line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines)
    path.write_bytes(body)
    records = list(iter_records(path))
    numbers = [n for n, _ in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    non_blank = [i for i, raw in enumerate(body.split(b"\n"), start=1) if not _blank(raw, i)]
    # Nothing lost: each non-blank line is a post or a problem, under its own number.
    assert numbers == non_blank
    for _, record in records:
        if isinstance(record, RawPost):
            stores_cleanly(record)


def _blank(raw: bytes, lineno: int) -> bool:
    """Whether the importer skips a physical line: only whitespace once decoded."""
    if lineno == 1:
        raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return not raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False  # reported as a problem, not skipped


@fuzz
@given(data=st.data())
def test_a_mutated_csv_row_is_a_post_or_a_problem(
    tmp_path_factory: Any, data: st.DataObject
) -> None:
    record = mutate(data, {k: str(v) for k, v in GOOD.items()})
    if not isinstance(record, dict):
        record = {"text": record}
    header = [k for k in FIELDS if k in record] or ["platform"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerow(
        [
            json.dumps(record.get(k)) if not isinstance(record.get(k), str) else record[k]
            for k in header
        ]
    )
    path = Path(tmp_path_factory.mktemp("csv")) / "posts.csv"
    path.write_text(out.getvalue(), encoding="utf-8", errors="surrogatepass")
    try:
        records = list(iter_records(path))
    except ValueError as exc:  # a header the format does not know: refused whole, with why
        assert str(exc)
        return
    for _, record in records:
        if isinstance(record, RawPost):
            stores_cleanly(record)
        else:
            assert record.reason
