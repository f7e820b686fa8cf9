"""Model folders: heads round-trip through safetensors; altered files are refused clearly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from monitor.classify.heads import Head, HeadSet, lexical_features
from monitor.classify.manifest import (
    FORMAT,
    HEADS_FILE,
    MANIFEST,
    ModelError,
    load_model_dir,
    sha256_file,
)


def _head(name: str, outputs: tuple[str, ...], lexical: bool, rng: np.random.Generator) -> Head:
    d = 384 * 2 + (7 if lexical else 0)
    k = len(outputs)
    return Head(
        name=name,
        kind="binary" if k == 1 else "softmax",
        outputs=outputs,
        layers=(5, 6),
        lexical=lexical,
        mean=rng.normal(size=d).astype(np.float32),
        scale=np.abs(rng.normal(size=d)).astype(np.float32) + 0.5,
        weight=rng.normal(size=(d, k)).astype(np.float32) * 0.05,
        bias=np.zeros(k, np.float32),
        calib_scale=np.array([1.0], np.float32),
        calib_shift=np.zeros(k, np.float32),
    )


def _model(tmp_path: Path) -> tuple[Path, HeadSet]:
    rng = np.random.default_rng(0)
    heads = HeadSet(
        [_head("hostile", ("hostile",), False, rng), _head("s", ("s_a", "s_b"), True, rng)]
    )
    heads.save(tmp_path / HEADS_FILE)
    manifest = {
        "format": FORMAT,
        "name": "test-heads",
        "heads": heads.specs(),
        "thresholds": {"hostile": 0.5, "s_a": 0.4, "s_b": 0.4},
        "files": {HEADS_FILE: sha256_file(tmp_path / HEADS_FILE)},
    }
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    return tmp_path, heads


def test_heads_round_trip_and_score_in_unit_interval(tmp_path: Path) -> None:
    path, heads = _model(tmp_path)
    loaded = load_model_dir(path, check_base=False)
    rng = np.random.default_rng(1)
    pools = {5: rng.normal(size=(3, 384)).astype(np.float32), 6: rng.normal(size=(3, 384))}
    texts = ["a?", "no it is not", "http://x"]
    assert loaded.heads.score(pools, texts) == heads.score(pools, texts)
    for s in loaded.heads.score(pools, texts):
        assert all(0.0 <= v <= 1.0 for v in s.values())
        assert abs(s["s_a"] + s["s_b"] - 1.0) < 1e-5
    assert loaded.all_thresholds == {"hostile": 0.5, "s_a": 0.4, "s_b": 0.4}
    assert loaded.thresholds == {"hostile": 0.5}  # only flag labels become flags


def test_altered_heads_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    path, _ = _model(tmp_path)
    with (path / HEADS_FILE).open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError, match="sha256 .* does not match"):
        load_model_dir(path, check_base=False)


def test_missing_manifest_or_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no manifest.json"):
        load_model_dir(tmp_path / "nowhere", check_base=False)
    path, _ = _model(tmp_path)
    (path / HEADS_FILE).unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model_dir(path, check_base=False)


def test_shipped_model_folder_verifies(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "models" / "minilm-heads-v1"
    if not (shipped / MANIFEST).is_file():
        pytest.skip("no shipped model folder")
    manifest = json.loads((shipped / MANIFEST).read_text())
    assert set(manifest["files"]) >= {HEADS_FILE}
    assert (shipped / "MODEL_CARD.md").is_file()
    for name in manifest["files"]:
        assert sha256_file(shipped / name) == manifest["files"][name]
    total = sum(f.stat().st_size for f in shipped.iterdir())
    assert total < 20 * 2**20  # what models/ ships stays small
    copy = tmp_path / "copy"
    shutil.copytree(shipped, copy)
    load_model_dir(copy, check_base=False)


def test_lexical_features_see_questions_and_negation() -> None:
    f = lexical_features(["Is that true?", "No, that's false.", "Nice day"])
    assert f[0, 0] == 1.0 and f[1, 0] == 0.0
    assert f[1, 2] == 1.0 and f[2, 2] == 0.0
