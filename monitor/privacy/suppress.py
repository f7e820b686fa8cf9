"""Pure: small-count suppression for aggregates, exports and digests.

A distinct-author count of 1, 2 or 3 in a ward in an hour can point at particular people ("the
two accounts posting about Fern Street"), so counts from 1 to k-1 are shown as "fewer than k"
(default k = 10, setting `privacy_min_count`). Zero is shown: it says nothing about anyone.
The counts are still used in full inside the service (tension levels need them); only what
leaves it — pages, the JSON API, CSV exports, digests — is suppressed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from typing import Any

DEFAULT_K = 10
AUTHOR_FIELDS = ("authors", "author_count", "distinct_authors")
# Sentences written inside the service (a level change's reason, an alert's summary) that quote
# a distinct-author count: "by 3 distinct authors", "from 1 distinct author".
TEXT_FIELDS = ("reason", "summary")
_AUTHORS_IN_TEXT = re.compile(r"\b(\d+)( distinct authors?\b)")


def is_suppressed(count: int | None, k: int = DEFAULT_K) -> bool:
    """Whether `count` must not be shown as it is (1 ≤ count < k)."""
    return count is not None and 0 < count < max(1, k)


def shown(count: int | None, k: int = DEFAULT_K) -> int | str | None:
    """The count as it may be shown: the number itself, or "<k" for a small one."""
    if count is None:
        return None
    return f"<{k}" if is_suppressed(count, k) else int(count)


def words(count: int | None, k: int = DEFAULT_K) -> str:
    """For sentences: "12", "fewer than 10", "none"."""
    if not count:
        return "none"
    return f"fewer than {k}" if is_suppressed(count, k) else str(count)


def suppress_text(text: str, k: int = DEFAULT_K) -> str:
    """A sentence with each small "N distinct authors" read as "fewer than k distinct authors"."""

    def one(m: re.Match[str]) -> str:
        n = int(m.group(1))
        # In a sentence zero is hidden too: "by 0 distinct authors" of a cooling area says no
        # more than "fewer than k", and one rule for all small numbers is easier to trust.
        return f"fewer than {k} distinct authors" if 0 <= n < max(1, k) else m.group(0)

    return _AUTHORS_IN_TEXT.sub(one, text)


def suppress_rows(
    rows: Iterable[MutableMapping[str, Any]],
    k: int = DEFAULT_K,
    fields: Iterable[str] = AUTHOR_FIELDS,
) -> None:
    """Replace small counts in `fields` of every row, in place (missing fields are skipped),
    also inside a nested `measures` mapping and in the sentences of `TEXT_FIELDS`."""
    names = tuple(fields)
    for row in rows:
        for name in names:
            value = row.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                row[name] = shown(value, k)
        measures = row.get("measures")
        if isinstance(measures, MutableMapping):
            row["measures"] = dict(measures)
            suppress_rows([row["measures"]], k, names)
        for name in TEXT_FIELDS:
            value = row.get(name)
            if isinstance(value, str):
                row[name] = suppress_text(value, k)
