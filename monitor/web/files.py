"""Writing the configuration files the admin pages edit (rule packs, sources.toml)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_text(path: Path, text: str) -> None:
    """Replace `path` with `text` all at once, keeping its permissions: the service may read
    the file at any moment, so it sees the old or the new text, never a half-written one.

    The folder must exist (callers decide whether a missing one is an error)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
