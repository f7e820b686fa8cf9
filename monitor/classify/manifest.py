"""A shipped model folder: `heads.safetensors`, `manifest.json`, `MODEL_CARD.md` (and, for a
fine-tuned model, `adapter.safetensors` and the offensive `branch.safetensors`).

The manifest names the base encoder (package and version), the sha256 of every shipped file,
the labels, the operating thresholds, the seed and the hashes of the data it was trained on.
`load_model_dir` verifies the checksums before anything is used, and fails with a message that
says which file and what to do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.classify.deobfuscate import deobfuscation_level, emoji_words
from monitor.classify.export import AdapterSpec, BranchSpec
from monitor.classify.heads import HeadSet
from monitor.classify.labels import FLAG_LABELS, STANCE_LABELS

MANIFEST = "manifest.json"
HEADS_FILE = "heads.safetensors"
CARD = "MODEL_CARD.md"
FORMAT = 1
DEFAULT_MODEL = "minilm-heads-v1"


class ModelError(RuntimeError):
    """A model folder that cannot be used: missing, altered or for another encoder."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelDir:
    path: Path
    manifest: Mapping[str, Any]
    heads: HeadSet

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    def _listed(self, key: str) -> tuple[Mapping[str, Any], Path, str] | None:
        """The manifest's record `key` (a file's entry), the file's path and its sha256."""
        spec = self.manifest.get(key)
        if not spec:
            return None
        name = str(spec["file"])
        return spec, self.path / name, str(self.manifest["files"][name])

    @property
    def adapter(self) -> AdapterSpec | None:
        """The fine-tuned encoder's LoRA adapter (issue 18), when the model has one, with the
        offensive branch that runs beside it; their files were checked against the
        manifest's sha256 when the folder was loaded."""
        listed = self._listed("adapter")
        if listed is None:
            return None
        spec, path, sha = listed
        return AdapterSpec(
            path=path,
            sha256=sha,
            rank=int(spec["rank"]),
            alpha=int(spec["alpha"]),
            graph_sha256=str(spec.get("onnx_sha256", "")),
            branch=self.branch,
        )

    @property
    def branch(self) -> BranchSpec | None:
        """The offensive branch (monitor.classify.branch), when the model has one."""
        listed = self._listed("branch")
        if listed is None:
            return None
        spec, path, sha = listed
        return BranchSpec(path=path, sha256=sha, first=int(spec["first"]))

    @property
    def all_thresholds(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in self.manifest["thresholds"].items()}

    @property
    def thresholds(self) -> dict[str, float]:
        """Operating thresholds of the labels that become flags."""
        return {k: v for k, v in self.all_thresholds.items() if k in FLAG_LABELS}

    @property
    def stance_thresholds(self) -> dict[str, float]:
        """Thresholds of the stance classes, used by `decide_stance`, never as flags."""
        return {k: v for k, v in self.all_thresholds.items() if k in STANCE_LABELS}


def read_manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    if not file.is_file():
        raise ModelError(f"{path}: no {MANIFEST}; run `monitor train` or reinstall the package")
    try:
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{file}: not valid JSON: {exc}") from None
    if data.get("format") != FORMAT:
        raise ModelError(f"{file}: manifest format {data.get('format')!r}, expected {FORMAT}")
    return data


def load_model_dir(path: Path, *, check_base: bool = True) -> ModelDir:
    """Read and verify a model folder. Raises ModelError with the reason."""
    manifest = read_manifest(path)
    for name, expected in manifest.get("files", {}).items():
        file = path / name
        if not file.is_file():
            raise ModelError(f"{path}: {name} is listed in the manifest but missing")
        actual = sha256_file(file)
        if actual != expected:
            raise ModelError(
                f"{file}: sha256 {actual[:12]}… does not match the manifest's {expected[:12]}…; "
                "the file was changed or damaged: retrain with `monitor train` or restore it"
            )
    if HEADS_FILE not in manifest.get("files", {}):
        raise ModelError(f"{path}: the manifest does not list {HEADS_FILE}")
    adapter = manifest.get("adapter")
    if adapter and str(adapter.get("file")) not in manifest.get("files", {}):
        raise ModelError(f"{path}: the manifest's adapter {adapter.get('file')} has no sha256")
    branch = manifest.get("branch")
    if branch:
        _check_branch(path, manifest, branch)
    if check_base:
        _check_base(manifest)
    try:
        deobfuscation_level(manifest)  # a level this code knows, refused here not mid-scoring
        emoji_words(manifest)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from None
    try:
        heads = HeadSet.load(path / HEADS_FILE, manifest["heads"])
    except (KeyError, ValueError) as exc:
        raise ModelError(f"{path}: heads do not match the manifest: {exc}") from None
    return ModelDir(path, manifest, heads)


def _check_branch(path: Path, manifest: Mapping[str, Any], spec: Mapping[str, Any]) -> None:
    """The branch's file is listed with a sha256 (so it was checked above), it runs beside an
    adapter (its pools follow the adapter's 7 and 8) and it reads as a branch."""
    from monitor.classify.branch import load_branch

    name = str(spec.get("file"))
    if name not in manifest.get("files", {}):
        raise ModelError(f"{path}: the manifest's branch {name} has no sha256")
    if not manifest.get("adapter"):
        raise ModelError(f"{path}: the manifest's branch {name} needs an adapter beside it")
    try:
        stored = load_branch(path / name)
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    if stored.first != int(spec.get("first", -1)):
        raise ModelError(
            f"{path / name}: starts at hidden state {stored.first}, "
            f"the manifest says {spec.get('first')}"
        )


def _check_base(manifest: Mapping[str, Any]) -> None:
    from monitor.classify.encoder import base_model_path, base_model_version

    base = manifest.get("base_model", {})
    try:
        version = base_model_version()
    except Exception as exc:  # PackageNotFoundError and friends
        raise ModelError(f"the encoder package {base.get('package')} is not installed") from exc
    if base.get("version") and base["version"] != version:
        raise ModelError(
            f"heads were trained on {base.get('package')} {base['version']}, "
            f"but {version} is installed: install that version or retrain with `monitor train`"
        )
    expected = base.get("sha256")
    if expected:
        actual = sha256_file(base_model_path() / "model.safetensors")
        if actual != expected:
            raise ModelError(
                "the installed encoder's model.safetensors differs from the one the heads were "
                "trained on (sha256 mismatch): reinstall the package or retrain"
            )
