"""A process-wide memo of files already parsed and validated, keyed by what they hold.

Every runtime start, hot reload of rule packs and preview in the rule editor parses the same
rule packs and gazetteers again (YAML, schema checks, compiling every query): about a fifth of
a second of CPU each time, for files that rarely change. A key is the file's name as results
give it, the SHA-256 of its bytes and whatever else the parse depends on (a pack's id, the
limits, today's date for review warnings), never its modification time: a file edited in
place is read anew even when its size and mtime stay the same, and hot reload sees the edit.

What is kept must be immutable (frozen dataclasses, tuples, read-only mappings), because every
runtime in the process that loads the same bytes gets the same objects. A parse that raises is
not kept, so its problems are reported again on every attempt.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


def digest(raw: bytes) -> bytes:
    """The content part of a key."""
    return hashlib.sha256(raw).digest()


class ParsedFiles(Generic[T]):
    """The last `max_entries` parse results, least recently used forgotten first (edits and
    the rule editor's drafts would otherwise pile up in a long-running process)."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        # Runtimes may start in threads of their own (the CLI, tests): the dict is guarded,
        # the parse is not (two threads may parse the same file once each; both results are
        # equal, and the one stored last is kept).
        self._lock = threading.Lock()

    def get(self, key: Hashable, parse: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = parse()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value
