"""Hostile scored per sentence as well as per post (issue 18): a measurement, not shipped.

The hostile head reads a post's mean-pooled layers. A hateful sentence followed or preceded
by an ordinary one is read as the mean of both, and mostly missed: the functional suite's
hateful sentences are caught 0.49 of the time plain, 0.05 with " It was raining earlier."
after them (benchmarks/surface_forms.py for hashtags, links, handles and emoji). This
benchmark scores each post of several sets three ways:

- **post**: as served (one pass over the whole post);
- **max**: the largest hostile probability of the whole post and each of its sentences (split
  after '.', '!' or '?' and at line breaks), at the shipped threshold;
- **max, re-chosen**: the same scores, the threshold chosen again by the refit's own rule
  (best TweetEval hate val macro-F1 among thresholds that flag at most 5% of the held-out
  benign augmentation sentences, all scored the max way).

Sets: TweetEval hate test (macro-F1, share flagged), the functional suite plain and with an
ordinary sentence before or after, the fairness suite (counter-speech and mention false
positives, groups over the bar, hostile recall), and the demo week's English posts (fictional,
unlabelled: the posts the rule newly flags or clears are printed to be read).

    nice -n 5 .venv/bin/python benchmarks/sentence_scoring.py --cache-dir DIR

Figures are in the model card ("Hostile on posts as written").
"""

from __future__ import annotations

import argparse
import json
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from monitor.classify import data as datasets
from monitor.classify import fairness, functional
from monitor.classify.deobfuscate import cache_texts
from monitor.classify.evaluate import score_pools
from monitor.classify.features import FeatureCache
from monitor.classify.finetune import lora_data, operating_threshold
from monitor.classify.labels import HOSTILE
from monitor.classify.lora import LoraRecipe
from monitor.classify.manifest import ModelDir, load_model_dir
from monitor.classify.refit import refit_validation
from monitor.classify.train import _macro_f1

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "minilm-heads-v1"
DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"
FloatArray = npt.NDArray[np.float64]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")

FORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda t: t,
    "+ ordinary sentence after": lambda t: f"{t} It was raining earlier.",
    "ordinary sentence + post": lambda t: f"Just got back from work. {t}",
    "+ long ordinary sentence": lambda t: (
        f"{t} Anyway, the bus was late again and the shop had run out of bread."
    ),
}


def sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if len(p) > 1]


class Scorer:
    def __init__(self, model: ModelDir, served: FeatureCache) -> None:
        self.model, self.served = model, served

    def _hostile(self, name: str, texts: Sequence[str]) -> FloatArray:
        pools = self.served.layers(name, cache_texts(texts, True))
        return np.array([s[HOSTILE] for s in score_pools(self.model.heads, pools, texts)])

    def both(self, name: str, texts: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        """(post, max of the post and its sentences) hostile probabilities."""
        whole = self._hostile(name, texts)
        parts: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            split = sentences(text)
            if len(split) > 1:
                parts.extend(split)
                owner.extend([i] * len(split))
        best = whole.copy()
        if parts:
            scored = self._hostile(f"{name}-sentences", parts)
            np.maximum.at(best, np.array(owner), scored)
        return whole, best


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    data_dir = args.data_dir or datasets.default_data_dir()
    model = load_model_dir(MODEL)
    served = FeatureCache(args.cache_dir, variant="onnx", adapter=model.adapter)
    score = Scorer(model, served)
    recipe = LoraRecipe()
    _, val, _ = lora_data(recipe, data_dir)
    hv_texts, hv_labels, benign = refit_validation(val)
    shipped = model.all_thresholds[HOSTILE]
    pv_post, pv_max = score.both("tweeteval-hate-val", hv_texts)
    _, pb_max = score.both("augment-val", benign)
    rechosen, benign_flagged = operating_threshold(
        pv_max, np.array(hv_labels), pb_max, recipe.max_benign_fpr
    )
    yv = np.array(hv_labels)
    print(
        f"threshold: shipped {shipped}; re-chosen for the max rule {rechosen} "
        f"(flags {benign_flagged:.1%} of {len(benign)} benign sentences); val macro-F1 post "
        f"{_macro_f1(yv, (pv_post >= shipped).astype(int))}, max at shipped "
        f"{_macro_f1(yv, (pv_max >= shipped).astype(int))}, max re-chosen "
        f"{_macro_f1(yv, (pv_max >= rechosen).astype(int))}"
    )
    ways = (("post", 0, shipped), ("max", 1, shipped), ("max, re-chosen", 1, rechosen))
    rows: dict[str, list[str]] = {w[0]: [] for w in ways}
    header: list[str] = []

    hate = datasets.tweeteval("hate", "test", data_dir)
    both = score.both(hate.name, hate.texts)
    header.append("TweetEval hate test macro-F1 / flagged")
    for way, i, t in ways:
        flags = (both[i] >= t).astype(int)
        rows[way].append(f"{_macro_f1(np.array(hate.labels), flags)} / {flags.mean():.3f}")

    cases = functional.load_suite()
    hateful = np.array([c.hateful for c in cases])
    for form_name, form in FORMS.items():
        both = score.both(f"functional-form-{form_name}", [form(c.text) for c in cases])
        header.append(f"functional {form_name}: hateful / non-hateful flagged")
        for way, i, t in ways:
            flags = both[i] >= t
            rows[way].append(f"{flags[hateful].mean():.3f} / {flags[~hateful].mean():.3f}")

    fcases = fairness.load_suite()
    both = score.both("fairness-suite", [c.text for c in fcases])
    header.append("fairness: counter FPR / mention FPR / groups over the bar / recall")
    for way, i, t in ways:
        rep = fairness.fairness_report(fcases, list(both[i]), t)["overall"]
        rows[way].append(
            f"{rep['fpr_counter']} / {rep['fpr_mention']} / "
            f"{len(rep['groups_failing_fpr_bar'])} / {rep['recall_hostile']}"
        )

    print("\n| hostile scored | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for way, cells in rows.items():
        print(f"| {way} | " + " | ".join(cells) + " |")

    demo = [
        json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    texts = [d["text"] for d in demo if d.get("lang", "en") == "en"]
    post, best = score.both("demo-week-en", texts)
    gained = [i for i in range(len(texts)) if best[i] >= rechosen and post[i] < shipped]
    cleared = [i for i in range(len(texts)) if best[i] < rechosen and post[i] >= shipped]
    by_post, by_rule = int((post >= shipped).sum()), int((best >= rechosen).sum())
    print(
        f"\ndemo week, {len(texts)} English posts: flagged by the post {by_post}, "
        f"by the sentence rule (re-chosen) {by_rule}; newly flagged "
        f"{len(gained)}, cleared {len(cleared)}"
    )
    for i in gained[:15]:
        print(f"  + {post[i]:.2f} -> {best[i]:.2f}  {texts[i][:110]}")
    for i in cleared[:8]:
        print(f"  - {post[i]:.2f} -> {best[i]:.2f}  {texts[i][:110]}")


if __name__ == "__main__":
    main()
