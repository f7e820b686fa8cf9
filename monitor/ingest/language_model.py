"""py3langid's model, loaded in milliseconds from an unpacked copy kept in the cache folder.

py3langid ships its model as one LZMA-compressed npz (4.5 MB) and unpacks all 68 MB of it on
every load: 0.6-0.8 s of CPU in each process that detects a language (every `monitor run`,
`import` and `demo`, every worker). The first load here unpacks it as py3langid does and
keeps the arrays, one uncompressed `.npy` each, in
`<cache>/langid-<py3langid version>-<sha256 of the model file>/`; later loads map those files
into memory (shared by every process on the machine) instead. The arrays, and so every
answer, are the very ones py3langid's own loader gives (tests/ingest/test_language_model.py).

The folder is written whole under a temporary name and renamed into place, so a process
never reads a half-written copy; a copy that cannot be read or written (a read-only home, a
full disk, another py3langid layout) only means the slow load, as before.
"""

from __future__ import annotations

import hashlib
import io
import logging
import lzma
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The arrays py3langid's model file holds (py3langid.modelio); another set is another layout.
_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
# Bump when what is kept in the folder changes: older folders are then left unused.
CACHE_FORMAT = 1


def load_identifier(cache_dir: Path | None) -> Any:
    """py3langid's LanguageIdentifier (probabilities normalised), from the unpacked copy in
    `cache_dir` when there is one, else from py3langid's own file (keeping a copy there)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    source = Path(MODEL_DIR) / MODEL_FILE
    model = _model_arrays(source, cache_dir)
    if model is None:  # a layout this does not know: py3langid's own loader
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier(LanguageIdentifier, model)


def _identifier(cls: Any, arrays: dict[str, Any]) -> Any:
    """As py3langid.LanguageIdentifier.from_model_file builds it from the same arrays."""
    import numpy as np
    from py3langid.modelio import _to_array

    return cls(
        np.asarray(arrays["ptc"]),
        np.asarray(arrays["pc"]),
        arrays["classes"].tolist(),
        _to_array(arrays["nextmove"]),
        arrays["out_feat"].tolist(),
        norm_probs=True,
        tk_row=_to_array(arrays["nextmove_row"]),
    )


def _model_arrays(source: Path, cache_dir: Path | None) -> dict[str, Any] | None:
    """The model's arrays: mapped from the cache when it holds them, else unpacked from
    `source` (and kept in the cache); None when `source` is not a layout known here."""
    if not source.name.endswith(".npz.xz"):
        return None
    folder = None
    if cache_dir is not None:
        folder = cache_dir / _folder_name(source)
        cached = _read_folder(folder)
        if cached is not None:
            return cached
    arrays = _unpack(source)
    if arrays is not None and folder is not None:
        _write_folder(folder, arrays)
    return arrays


def _folder_name(source: Path) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("py3langid")
    except PackageNotFoundError:
        release = "unknown"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    return f"langid-f{CACHE_FORMAT}-{release}-{digest}"


def _unpack(source: Path) -> dict[str, Any] | None:
    import numpy as np

    with lzma.open(source) as packed:
        data = io.BytesIO(packed.read())
    with np.load(data, allow_pickle=False) as npz:
        if set(_ARRAYS) - set(npz.files):
            return None
        return {name: npz[name] for name in _ARRAYS}


def _read_folder(folder: Path) -> dict[str, Any] | None:
    import numpy as np

    if not folder.is_dir():
        return None
    try:
        return {
            name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in _ARRAYS
        }
    except (OSError, ValueError) as exc:  # damaged or partly deleted: unpack again
        log.warning("language model: ignoring the copy in %s (%s)", folder, exc)
        return None


def _write_folder(folder: Path, arrays: dict[str, Any]) -> None:
    import numpy as np

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as exc:
        log.info("language model: not keeping an unpacked copy (%s)", exc)
        return
    try:
        for name, array in arrays.items():
            np.save(staging / f"{name}.npy", array, allow_pickle=False)
        # A damaged copy is replaced whole; when another process renamed its copy into place
        # first, that copy (the same arrays) stays and this one is dropped.
        if folder.is_dir() and _read_folder(folder) is None:
            shutil.rmtree(folder, ignore_errors=True)
        os.rename(staging, folder)
    except OSError as exc:
        if not folder.is_dir():
            log.info("language model: not keeping an unpacked copy (%s)", exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
