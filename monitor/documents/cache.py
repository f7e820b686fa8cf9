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
from types import CodeType
from typing import Generic, TypeVar

from jinja2.bccache import Bucket, BytecodeCache

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
        found = self.find(key)
        if found is not None:
            return found
        value = parse()
        self.put(key, value)
        return value

    def find(self, key: Hashable) -> T | None:
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value: T) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, kept for the process: every web app and alert service makes
    its own Environment (per runtime start), which compiled each template again on first use
    (parse, generate Python, compile: about 15 ms a page). Compiled code depends on the
    environment's options (autoescape, whitespace control), so one instance serves only
    environments made alike, by one factory. Entries are keyed by the template's name, file and
    a checksum of its source, so an edited template is compiled anew; code objects are
    immutable, and each environment runs them in a namespace of its own."""

    def __init__(self, max_entries: int = 512) -> None:
        self._code: ParsedFiles[CodeType] = ParsedFiles(max_entries)

    def load_bytecode(self, bucket: Bucket) -> None:
        found = self._code.find((bucket.key, bucket.checksum))
        if found is not None:
            bucket.code = found

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is not None:
            self._code.put((bucket.key, bucket.checksum), bucket.code)
