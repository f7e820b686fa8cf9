"""Finding 18: posts are stored under the source that collected them, not "import"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from monitor.types import RawPost
from tests.collectors.conftest import BASE_US, FakeClock, MemorySink, wait_until
from tests.collectors.test_jetstream import make, running, stream


class SourceRecordingSink(MemorySink):
    """The pipeline stores each RawPost's own `source`; this sink keeps what it was handed."""

    def __init__(self) -> None:
        super().__init__()
        self.handed: list[str] = []

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        self.handed.extend(p.source for p in posts)
        await super().deliver(source, posts, cursor)


async def test_jetstream_posts_carry_their_source_name(
    jetstream_server: Callable[..., Any], clock: FakeClock
) -> None:
    sink = SourceRecordingSink()
    frames, kept = stream(6)
    server = await jetstream_server(frames)
    async with aiohttp.ClientSession() as session:
        collector = make(server.url, sink, clock, session)
        async with running(collector):
            await wait_until(lambda: sink.cursors.get("bsky") == str(BASE_US + 5000))
    assert len(sink.handed) == len(kept)
    assert set(sink.handed) == {"bsky"}


def test_the_account_list_refusal_cites_a_document_the_project_has(tmp_path: Path) -> None:
    from tests.collectors.test_sources_config import errors_of

    message = errors_of(
        '[[sources]]\nkind = "jetstream"\nname = "b"\nplaces = ["X"]\n'
        'wantedDids = ["did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"]\n',
        tmp_path,
    )
    assert "DESIGN.md" not in message  # it once cited a file the project does not ship
    assert "Safeguards in the README" in message
    readme = Path(__file__).resolve().parent.parent.parent / "README.md"
    assert "### Safeguards" in readme.read_text(encoding="utf-8")
