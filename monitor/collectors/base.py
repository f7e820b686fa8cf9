"""What every collector hands its posts to, and what it is told about deletions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from monitor.types import RawPost


class PostSink(Protocol):
    """Where collectors deliver. The pipeline implements it over the store.

    `deliver` commits the posts and then the source's cursor in one transaction, so a crash
    resumes from the cursor with nothing lost; re-delivered posts are ignored by id (dedup).
    """

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None: ...

    async def load_cursor(self, source: str) -> str | None: ...

    async def delete_posts(self, post_ids: Sequence[str]) -> int:
        """A platform reported these posts deleted: purge their text everywhere."""
        ...

    async def delete_author(self, platform: str, author_id: str) -> int:
        """A platform reported an account deleted or taken down: purge all its posts' text."""
        ...

    async def update_post(self, post: RawPost) -> None:
        """A platform reported an edit: replace the stored text."""
        ...
