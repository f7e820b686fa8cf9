"""Import a JSONL or CSV file of posts through the pipeline, resumably and idempotently.

The file's cursor (lines committed) is stored under a source name derived from the file's
content hash, in the same transaction as the posts; a killed import re-run skips what was
committed and dedup by post id covers the rest, so nothing is lost or stored twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.collectors.base import PostSink
from monitor.collectors.common import Clock, SystemClock
from monitor.ingest.replay import ImportProblem, Record, iter_records, replay
from monitor.types import RawPost


@dataclass
class ImportReport:
    lines: int = 0
    delivered: int = 0
    skipped_committed: int = 0
    problems: list[ImportProblem] = field(default_factory=list)


def source_name(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"import:{path.name}:{digest.hexdigest()[:16]}"


async def _records(path: Path, speed: float, clock: Clock) -> AsyncIterator[Record]:
    if speed > 0:
        async for record in replay(iter_records(path), speed, clock):
            yield record
    else:
        for record in iter_records(path):
            yield record


async def _batches(
    records: AsyncIterator[Record], size: int, report: ImportReport
) -> AsyncIterator[tuple[int, list[RawPost]]]:
    batch: list[RawPost] = []
    last = 0
    async for lineno, record in records:
        report.lines += 1
        last = lineno
        if isinstance(record, ImportProblem):
            report.problems.append(record)
        else:
            batch.append(record)
        if len(batch) >= size:
            yield last, batch
            batch = []
    if batch or last:
        yield last, batch


async def import_file(
    path: Path,
    sink: PostSink,
    *,
    batch_size: int = 500,
    speed: float = 0.0,
    clock: Clock | None = None,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Deliver every post in `path` to `sink`; `speed` > 0 replays it paced by the recorded
    timeline, that many times faster (60: an hour of posts a minute)."""
    source = source_name(path)
    committed = int(await sink.load_cursor(source) or 0)
    report = ImportReport()
    batch_size = 1 if speed > 0 else batch_size
    records = _records(path, speed, clock or SystemClock())
    async for last_line, batch in _batches(records, batch_size, report):
        if last_line <= committed:
            report.skipped_committed += len(batch)
            continue
        await sink.deliver(source, batch, str(last_line))
        report.delivered += len(batch)
        if progress is not None:
            progress(report)
    return report
