"""Import a JSONL or CSV file of posts through the pipeline, resumably and idempotently.

The file's cursor (lines committed) is stored under a source name derived from the file's
content hash, in the same transaction as the posts; a killed import re-run skips what was
committed and dedup by post id covers the rest, so nothing is lost or stored twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from monitor.collectors.base import PostSink
from monitor.collectors.replay import ImportProblem, iter_records
from monitor.types import RawPost

Sleep = Callable[[float], Awaitable[None]]


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


def _batches(
    records: Iterator[tuple[int, RawPost | ImportProblem]], size: int, report: ImportReport
) -> Iterator[tuple[int, list[RawPost]]]:
    batch: list[RawPost] = []
    last = 0
    for lineno, record in records:
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
    sleep: Sleep = asyncio.sleep,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Deliver every post in `path` to `sink`; `speed` > 0 replays with the recorded gaps
    shortened by that factor (60: an hour of posts a minute)."""
    source = source_name(path)
    committed = int(await sink.load_cursor(source) or 0)
    report = ImportReport()
    batch_size = 1 if speed > 0 else batch_size
    previous: datetime | None = None
    for last_line, batch in _batches(iter_records(path), batch_size, report):
        if last_line <= committed:
            report.skipped_committed += len(batch)
            continue
        if speed > 0 and batch:
            created = batch[0].created_at
            if previous is not None and created > previous:
                await sleep((created - previous).total_seconds() / speed)
            previous = created
        await sink.deliver(source, batch, str(last_line))
        report.delivered += len(batch)
        if progress is not None:
            progress(report)
    return report
