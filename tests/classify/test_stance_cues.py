"""The stance head reads how a reply answers a claim, beside the encoder's pools (issue 18).

Fictional posts and threads only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from monitor.classify.features import FeatureCache
from monitor.classify.heads import (
    LEXICAL_NAMES,
    STANCE_CUE_NAMES,
    Head,
    HeadSet,
    feature_width,
    stance_cues,
)
from monitor.classify.manifest import load_model_dir
from monitor.classify.train import Recipe, train_stance
from tests.classify.conftest import write_model_dir


def _cue(texts: list[str], name: str) -> list[float]:
    return stance_cues(texts)[:, STANCE_CUE_NAMES.index(name)].tolist()


def test_cues_tell_the_ways_a_reply_answers_a_claim() -> None:
    passed_on = '"@fictional_news: Fictional Road bridge closed after crash" wow'
    denial = "@fictional_news this is fake, stop spreading it"
    query = "@fictional_news @ward_watch is this confirmed? any source"
    reaction = "@fictional_news RIP, thoughts with everyone in Fictionton"
    texts = [passed_on, denial, query, reaction]
    assert _cue(texts, "quotes_claim") == [1.0, 0.0, 0.0, 0.0]
    assert _cue(["RT @fictional_news: depot on fire"], "quotes_claim") == [1.0]
    assert _cue(texts, "denial") == [0.0, 1.0, 0.0, 0.0]
    assert _cue(["I don\u2019t believe a word of it"], "denial") == [1.0]
    assert _cue(texts, "opens_with_question") == [0.0, 0.0, 1.0, 0.0]
    assert _cue(texts, "evidence") == [0.0, 0.0, 1.0, 0.0]
    assert _cue(texts, "reaction") == [1.0, 0.0, 0.0, 1.0]
    # Two handles open the query, one the others; the quoted handle opens nothing.
    assert np.allclose(_cue(texts, "leading_mentions"), [0.0, 0.2, 0.4, 0.2])
    # Whole words: 'Ripon' is not 'rip', 'falsetto' not 'false', 'sources' is evidence.
    assert _cue(["Ripon choir's falsetto section"], "reaction") == [0.0]
    assert _cue(["Ripon choir's falsetto section"], "denial") == [0.0]
    # A question that is not opened as one ('... right?') is not a question opening.
    assert _cue(["Fictional Road is shut again right?"], "opens_with_question") == [0.0]


def _head(stance: bool, rng: np.random.Generator) -> Head:
    d = feature_width((6,), True, False, stance)
    return Head(
        name="stance",
        kind="softmax",
        outputs=("stance_support", "stance_deny", "stance_query", "stance_comment"),
        layers=(6,),
        lexical=True,
        mean=np.zeros(d, np.float32),
        scale=np.ones(d, np.float32),
        weight=rng.normal(size=(d, 4)).astype(np.float32),
        bias=np.zeros(4, np.float32),
        calib_scale=np.array([1.0], np.float32),
        calib_shift=np.zeros(4, np.float32),
        stance_cues=stance,
    )


def _save(path: Path, heads: HeadSet, drop_key: bool = False) -> Path:
    return write_model_dir(
        path, heads, "test-stance", {}, drop_spec_key="stance_cues" if drop_key else None
    )


# Same length, same lexical features (no '?', no negation word, no link, one handle):
# only the stance cues tell these two replies apart.
_TWO = ["@fictional_news RT @ward_watch: depot shut", "@fictional_news omg wow, the depot is shut"]


def test_a_head_with_stance_cues_scores_them_and_round_trips(tmp_path: Path) -> None:
    heads = HeadSet([_head(True, np.random.default_rng(0))])
    loaded = load_model_dir(_save(tmp_path, heads), check_base=False).heads
    pools = {6: np.zeros((2, 384), np.float32)}
    scores = loaded.score(pools, _TWO)
    assert scores == heads.score(pools, _TWO)
    assert scores[0]["stance_support"] != scores[1]["stance_support"]


def test_a_manifest_from_before_the_stance_cues_loads_without_them(tmp_path: Path) -> None:
    heads = HeadSet([_head(False, np.random.default_rng(1))])
    loaded = load_model_dir(_save(tmp_path, heads, drop_key=True), check_base=False).heads
    assert not loaded.heads[0].stance_cues
    first, second = loaded.score({6: np.ones((2, 384), np.float32)}, _TWO)
    assert first == second


class _Pools:
    """Stands in for the feature cache: fixed pseudo-random pools per text."""

    def layers(self, name: str, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            rows.append(np.random.default_rng(seed).normal(size=(7, 384)))
        return np.asarray(rows, np.float32)


_REPLIES = {
    0: ['"@fictional_news: the {p} is shut" yes', "RT @fictional_news: {p} shut, confirmed"],
    1: ["@fictional_news that's fake, the {p} is open", "@fictional_news not true, {p} is fine"],
    2: ["@fictional_news is the {p} really shut? source?", "@fictional_news who says the {p}?"],
    3: ["@fictional_news omg the {p} again", "@fictional_news I walked past the {p} today"],
}
_PLACES = ["depot", "bridge", "library", "market", "pool", "mill", "school", "station", "park"]


def _rumoureval(root: Path) -> Path:
    """A fictional RumourEval-shaped split: nine threads, eight replies each."""
    folder = root / "labelled" / "rumoureval2017" / "traindev"
    folder.mkdir(parents=True)
    posts: dict[str, dict[str, Any]] = {}
    trees: dict[str, dict[str, Any]] = {}
    ids: list[str] = []
    labels: list[str] = []
    raw = {0: 0, 1: 2, 2: 1, 3: 3}  # the processed copy's numbering (query 1, deny 2)
    for t, place in enumerate(_PLACES):
        source = f"{t}000"
        posts[source] = {"text": f"Fictional News: the {place} is shut", "time": 0}
        replies = {}
        for stance, shapes in _REPLIES.items():
            for k, shape in enumerate(shapes):
                pid = f"{t}{stance}{k}1"
                posts[pid] = {"text": shape.format(p=place), "time": 1}
                replies[pid] = []
                ids.append(pid)
                labels.append(str(raw[stance]))
        trees[source] = {source: replies}
    (folder / "posts.json").write_text(json.dumps(posts))
    (folder / "structures.json").write_text(json.dumps(trees))
    (folder / "post_id.txt").write_text("\n".join(ids) + "\n")
    (folder / "post_label.txt").write_text("\n".join(labels) + "\n")
    return root


def test_the_stance_cues_leave_the_fine_tunings_start_as_it_was(tmp_path: Path) -> None:
    data_dir = _rumoureval(tmp_path)
    cache = cast(FeatureCache, _Pools())
    recipe = Recipe(layers=(6,), max_iter=20, stance_folds=3)
    with_cues = train_stance(cache, recipe, data_dir)
    without = train_stance(cache, replace(recipe, stance_cues=False), data_dir)
    pooled = 384 * len(recipe.layers) + len(LEXICAL_NAMES)
    assert with_cues.head.stance_cues and not without.head.stance_cues
    assert with_cues.head.weight.shape == (pooled + len(STANCE_CUE_NAMES), 4)
    # The adapter's auxiliary stance task starts from the head it was trained from before
    # the cues: the same columns and the same weights.
    assert without.start is None and with_cues.start is not None
    assert np.array_equal(with_cues.start.weight, without.head.weight)
    assert with_cues.start.layers == (6,)


def test_a_reply_opened_by_many_handles_is_read_in_one_pass() -> None:
    # Forty handles and no question word: the opening pattern once tried every way of
    # splitting the spaces between handles (2^40 ways: the scoring never returned).
    text = "@fictional_user " * 40 + "lovely walk by the canal"
    assert _cue([text], "opens_with_question") == [0.0]
    assert _cue([text], "leading_mentions") == [1.0]
    assert _cue(["@fictional_user " * 40 + "is the canal path shut"], "opens_with_question") == [
        1.0
    ]
