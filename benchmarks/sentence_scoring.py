"""Hostile scored per sentence as well as per post (issue 18): the opt-in sentence rule, and the
ones measured before it.

The hostile head reads a post's mean-pooled layers. A hateful sentence followed or preceded
by an ordinary one is read as the mean of both, and mostly missed: the functional suite's
hateful sentences are caught 0.49 of the time plain, 0.05 with " It was raining earlier."
after them (benchmarks/surface_forms.py for hashtags, links, handles and emoji). This
benchmark scores each post of several sets four ways:

- **post**: the whole post only (the model before its sentence rule, `classifier_sentences`
  off);
- **max**: the largest hostile probability of the whole post and each of its sentences
  (`monitor.classify.sentences.split_sentences`), at the post threshold;
- **max, re-chosen**: the same scores, the threshold chosen again by the refit's own rule
  (best TweetEval hate val macro-F1 among thresholds that flag at most 5% of the held-out
  benign augmentation sentences, all scored the max way): 0.59, measured and not shipped;
- **sentence rule (opt-in)**: the whole post at the post threshold or one sentence at the
  manifest's sentence threshold (`hostile_sentences`, chosen on everyday posts by
  `monitor train`'s refit step; 0.74), as serving scores with `classifier_sentences` on and
  `monitor eval --sentences`.

Sets: TweetEval hate test (macro-F1, share flagged), the functional suite plain and with an
ordinary sentence before or after, split counter-speech (each hateful sentence followed by a
rejection: every flag a false positive), the fairness suite (counter-speech and mention false
positives, groups over the bar, hostile recall), everyday posts (TweetEval offensive val and
test, not offensive: the share the sentences newly flag), and the demo week's English posts
(fictional, unlabelled: the posts each rule newly flags are printed to be read). A second table
moves the sentence threshold over a grid, to show what the choice trades.

    nice -n 5 .venv/bin/python benchmarks/sentence_scoring.py --cache-dir DIR

Figures are in the model card ("Hostile on posts as written").
"""

from __future__ import annotations

import json
import sys
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
from monitor.classify.manifest import ModelDir
from monitor.classify.refit import refit_validation
from monitor.classify.sentences import best_sentence, expand, sentence_rule
from monitor.classify.train import _macro_f1

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.shipped_model import MODEL, ROOT, open_shipped

DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"
FloatArray = npt.NDArray[np.float64]
GRID = (0.6, 0.65, 0.7, 0.74, 0.8, 0.85)

FORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda t: t,
    "+ ordinary sentence after": lambda t: f"{t} It was raining earlier.",
    "ordinary sentence + post": lambda t: f"Just got back from work. {t}",
    "+ long ordinary sentence": lambda t: (
        f"{t} Anyway, the bus was late again and the shop had run out of bread."
    ),
}


class Scorer:
    def __init__(self, model: ModelDir, served: FeatureCache) -> None:
        self.model, self.served = model, served

    def _hostile(self, name: str, texts: Sequence[str]) -> FloatArray:
        pools = self.served.layers(name, cache_texts(texts, True))
        return np.array([s[HOSTILE] for s in score_pools(self.model.heads, pools, texts)])

    def both(self, name: str, texts: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        """(post, best sentence) hostile probabilities; best sentence 0 for a post of one."""
        whole = self._hostile(name, texts)
        parts, owner = expand(texts)
        scored = self._hostile(f"{name}-sentences", parts) if parts else np.zeros(0)
        return whole, best_sentence(len(texts), owner, scored.tolist())


# Counter-speech that restates the hatred as a sentence of its own, then rejects it: each of the
# functional suite's hateful sentences with a rejection after it (fictional, benign by
# construction: the post reports or refuses the hatred). Read alone, the restated sentence is
# hatred; only the post says it is rejected.
COUNTER_FORMS: dict[str, Callable[[str], str]] = {
    "then 'That is what the graffiti on our street said. Disgusting.'": lambda t: (
        f"{t} That is what the graffiti on our street said. Disgusting."
    ),
    "then 'No. Not here, not ever.'": lambda t: f"{t} No. Not here, not ever.",
}


def flags(
    way: str, post: FloatArray, sent: FloatArray, t: float, ts: float
) -> npt.NDArray[np.bool_]:
    """Hostile flags of `way`: the post alone, the largest of post and sentences at `t`, or
    the post at `t` or a sentence at `ts` (the sentence rule)."""
    if way == "post":
        return post >= t
    if way == "rule":
        return (post >= t) | (sent >= ts)
    return np.maximum(post, sent) >= t


def main(argv: Sequence[str] | None = None) -> None:
    shipped = open_shipped(__doc__, argv)
    data_dir, model, served = shipped.data_dir, shipped.model, shipped.served
    rule = sentence_rule(model.manifest)
    if rule is None:
        raise SystemExit(f"{MODEL} has no sentence rule (hostile_sentences) to measure")
    score = Scorer(model, served)
    recipe = LoraRecipe()
    _, val, _ = lora_data(recipe, data_dir)
    hv_texts, hv_labels, benign = refit_validation(val)
    t = model.all_thresholds[HOSTILE]
    pv = score.both("tweeteval-hate-val", hv_texts)
    pb = score.both("augment-val", benign)
    yv = np.array(hv_labels)
    rechosen, benign_flagged = operating_threshold(
        np.maximum(*pv), yv, np.maximum(*pb), recipe.max_benign_fpr
    )
    print(
        f"post threshold {t}; max rule re-chosen {rechosen} (flags {benign_flagged:.1%} of "
        f"{len(benign)} benign sentences); sentence rule: sentences at {rule.threshold}"
    )
    ways = (
        ("the post only", "post", t),
        ("largest of post and sentences", "max", t),
        ("the same, re-chosen", "max", rechosen),
        ("sentence rule (opt-in)", "rule", t),
    )
    rows: dict[str, list[str]] = {w[0]: [] for w in ways}
    header: list[str] = ["val macro-F1"]
    for title, way, at in ways:
        rows[title].append(f"{_macro_f1(yv, flags(way, *pv, at, rule.threshold).astype(int))}")

    hate = datasets.tweeteval("hate", "test", data_dir)
    hate_scores = score.both(hate.name, hate.texts)
    header.append("TweetEval hate test macro-F1 / flagged")
    for title, way, at in ways:
        f = flags(way, *hate_scores, at, rule.threshold)
        rows[title].append(f"{_macro_f1(np.array(hate.labels), f.astype(int))} / {f.mean():.3f}")

    everyday = {}
    for split in ("val", "test"):
        off = datasets.tweeteval("offensive", split, data_dir)
        texts = [x for x, y in zip(off.texts, off.labels, strict=True) if y == 0]
        everyday[split] = score.both(f"{off.name}-everyday", texts)
    header.append("everyday posts flagged, val / test")
    for title, way, at in ways:
        rows[title].append(
            " / ".join(
                f"{flags(way, *everyday[s], at, rule.threshold).mean():.3f}" for s in everyday
            )
        )

    cases = functional.load_suite()
    hateful = np.array([c.hateful for c in cases])
    forms = {}
    for form_name, form in FORMS.items():
        forms[form_name] = score.both(f"functional-form-{form_name}", [form(c.text) for c in cases])
        header.append(f"functional {form_name}: hateful / non-hateful flagged")
        for title, way, at in ways:
            f = flags(way, *forms[form_name], at, rule.threshold)
            rows[title].append(f"{f[hateful].mean():.3f} / {f[~hateful].mean():.3f}")

    for form_name, form in COUNTER_FORMS.items():
        texts = [form(c.text) for c in cases if c.hateful]
        counter = score.both(f"functional-counter-{form_name}", texts)
        header.append(f"split counter-speech, hateful sentence {form_name}: flagged")
        for title, way, at in ways:
            rows[title].append(f"{flags(way, *counter, at, rule.threshold).mean():.3f}")

    fcases = fairness.load_suite()
    both = score.both("fairness-suite", [c.text for c in fcases])
    header.append("fairness: counter FPR / mention FPR / groups over the bar / recall")
    for title, way, at in ways:
        f = flags(way, *both, at, rule.threshold)
        rep = fairness.fairness_report(fcases, [float(x) for x in f], 0.5)["overall"]
        rows[title].append(
            f"{rep['fpr_counter']} / {rep['fpr_mention']} / "
            f"{len(rep['groups_failing_fpr_bar'])} / {rep['recall_hostile']}"
        )

    print("\n| hostile scored | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for title, cells in rows.items():
        print(f"| {title} | " + " | ".join(cells) + " |")

    demo = [
        json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    texts = [d["text"] for d in demo if d.get("lang", "en") == "en"]
    demo_scores = score.both("demo-week-en", texts)
    post_only = flags("post", *demo_scores, t, rule.threshold)

    print(
        "\n| sentence threshold | everyday val / test newly flagged | val macro-F1 | "
        "TweetEval hate test | functional + ordinary sentence after: hateful caught | "
        "demo week newly flagged |"
    )
    print("|---|---|---|---|---|---|")
    off_val, off_test = everyday["val"], everyday["test"]
    for ts in sorted({*GRID, rule.threshold}):
        new = [
            float(np.mean(~flags("post", *e, t, ts) & flags("rule", *e, t, ts)))
            for e in (off_val, off_test)
        ]
        after = flags("rule", *forms["+ ordinary sentence after"], t, ts)
        demo_new = int((flags("rule", *demo_scores, t, ts) & ~post_only).sum())
        mark = " (chosen)" if ts == rule.threshold else ""
        print(
            f"| {ts}{mark} | {new[0]:.4f} / {new[1]:.4f} | "
            f"{_macro_f1(yv, flags('rule', *pv, t, ts).astype(int))} | "
            f"{_macro_f1(np.array(hate.labels), flags('rule', *hate_scores, t, ts).astype(int))} | "
            f"{after[hateful].mean():.3f} | {demo_new} |"
        )

    print(f"\ndemo week, {len(texts)} English posts: flagged by the post {int(post_only.sum())}")
    for title, way, at in ways[1:]:
        f = flags(way, *demo_scores, at, rule.threshold)
        gained = [i for i in range(len(texts)) if f[i] and not post_only[i]]
        print(f"{title}: flagged {int(f.sum())}, newly {len(gained)}")
        for i in gained[:12]:
            post, sent = demo_scores[0][i], demo_scores[1][i]
            print(f"  + post {post:.2f}, best sentence {sent:.2f}  {texts[i][:100]}")


if __name__ == "__main__":
    main()
