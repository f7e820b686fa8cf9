"""The rumour head reads the words that pass a claim on, beside the encoder's pools (issue 18).

Fictional posts only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monitor.classify.finetune import init_heads
from monitor.classify.heads import RUMOUR_CUE_NAMES, Head, HeadSet, rumour_cues
from monitor.classify.manifest import load_model_dir
from monitor.classify.train import LinearFit, Recipe
from tests.classify.conftest import write_model_dir


def _cue(texts: list[str], name: str) -> list[float]:
    return rumour_cues(texts)[:, RUMOUR_CUE_NAMES.index(name)].tolist()


def test_cues_tell_passed_on_news_from_reactions() -> None:
    news = "BREAKING police sources say 2 men held near Fictional Road station unconfirmed"
    reaction = "my thoughts are with everyone in Fictionton tonight"
    texts = [news, reaction]
    assert _cue(texts, "breaking") == [1.0, 0.0]
    assert _cue(texts, "attribution") == [1.0, 0.0]
    assert _cue(texts, "hedge") == [1.0, 0.0]
    assert _cue(texts, "number") == [1.0, 0.0]
    assert _cue(texts, "personal") == [0.0, 1.0]
    assert _cue(["Is it true the bridge in Fictionton is closed"], "question") == [1.0]
    # Whole words: 'Ripon' is not 'rip', 'mayor' not 'may'.
    assert rumour_cues(["Ripon mayor opens the fete"])[0, :4].tolist() == [0.0] * 4
    # Shouting is not passing news on: capitals change nothing.
    assert np.array_equal(
        rumour_cues(["WHAT A GAME TONIGHT"]), rumour_cues(["what a game tonight"])
    )


def _head(
    cues: bool, rng: np.random.Generator, layers: tuple[int, ...] = (5, 6), centred: bool = True
) -> Head:
    d = 384 * len(layers) + (len(RUMOUR_CUE_NAMES) if cues else 0)
    return Head(
        name="rumour",
        kind="binary",
        outputs=("rumour",),
        layers=layers,
        lexical=False,
        mean=np.zeros(d, np.float32) if centred else rng.normal(size=d).astype(np.float32),
        scale=np.ones(d, np.float32),
        weight=rng.normal(size=(d, 1)).astype(np.float32),
        bias=np.zeros(1, np.float32),
        calib_scale=np.array([1.0], np.float32),
        calib_shift=np.zeros(1, np.float32),
        cues=cues,
    )


def _save(path: Path, heads: HeadSet, drop_cues_key: bool = False) -> Path:
    return write_model_dir(
        path, heads, "test-rumour", {"rumour": 0.5}, drop_spec_key="cues" if drop_cues_key else None
    )


def test_a_head_with_cues_scores_the_words_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    heads = HeadSet([_head(True, rng)])
    loaded = load_model_dir(_save(tmp_path, heads), check_base=False).heads
    pools = {5: np.zeros((2, 384), np.float32), 6: np.zeros((2, 384), np.float32)}
    # Same pools, different words: only the cues can tell the two posts apart.
    texts = ["reports say the Fictional Road depot is on fire", "lovely walk by the canal"]
    scores = loaded.score(pools, texts)
    assert scores == heads.score(pools, texts)
    assert scores[0]["rumour"] != scores[1]["rumour"]


def test_a_manifest_from_before_the_cues_loads_without_them(tmp_path: Path) -> None:
    heads = HeadSet([_head(False, np.random.default_rng(1))])
    loaded = load_model_dir(_save(tmp_path, heads, drop_cues_key=True), check_base=False).heads
    assert not loaded.heads[0].cues
    pools = {5: np.ones((2, 384), np.float32), 6: np.ones((2, 384), np.float32)}
    texts = ["reports say the Fictional Road depot is on fire", "lovely walk by the canal"]
    first, second = loaded.score(pools, texts)
    assert first == second


def test_the_boosted_cues_are_scored_as_they_were_fitted() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 12)).astype(np.float32)
    y = (x[:, -1] + 0.3 * rng.normal(size=200) > 0).astype(np.int64)
    plain = LinearFit(x, y, 1, 1.0, Recipe())
    boosted = LinearFit(x, y, 1, 1.0, Recipe(), None, 3, 5.0)
    # A smaller penalty on the last columns: the informative one weighs more.
    assert abs(boosted.weight[-1, 0] / boosted.scale[-1]) > abs(
        plain.weight[-1, 0] / plain.scale[-1]
    )
    head = boosted.head("r", "binary", ("r",), (6,), False, 1.0, np.zeros(1), cues=True)
    assert np.allclose(head.logits(x), boosted.logits(x), atol=1e-4)


def test_fine_tuning_starts_the_rumour_task_from_the_pooled_columns() -> None:
    head = _head(True, np.random.default_rng(3), layers=(3, 4, 5, 6), centred=False)
    mean, scale, weight, _ = init_heads(HeadSet([head]))["rumour"]
    assert mean.shape == scale.shape == (384 * 4,)
    assert np.array_equal(weight, head.weight[: 384 * 4])
