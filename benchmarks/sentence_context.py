"""Hostile sentences read with the rest of their post (issue 18): two levers measured against the
opt-in sentence rule's cost to counter-speech, neither shipped.

The sentence rule (`monitor.classify.sentences`, `classifier_sentences`) reads each sentence of
a post alone, so counter-speech that restates the hatred as a sentence of its own and rejects
it in the next ("Get X out. That was the leaflet. We binned every one.") is flagged as often as
hatred beside an ordinary sentence is found (model card, "Hostile on posts as written"). A fix
needs the sentence read *with* the rest of its post. Measured here:

- **in context**: one encoder pass over the whole post (PyTorch fp32, the shipped adapter); each
  sentence's tokens mean-pooled from that pass's hidden states (frozen 3, 4 and adapted 5, 6:
  what the hostile head reads) and scored by the hostile head, so every token has attended to
  the rest of the post. Two poolings: the sentence's tokens alone, and with the post's [CLS]
  and [SEP] (as every whole-post pool has them). The sentence threshold is chosen exactly as
  the shipped rule's is (`choose_sentence_threshold`: at most 0.5% of everyday posts newly
  flagged, TweetEval offensive val not offensive), never on the suites.
- **veto by the stance head**: the shipped rule (each sentence alone at 0.74), except that a
  post is not flagged by a sentence when the rest of the post, read by the shipped stance head
  (argmax of probability / threshold), denies. The stance head is the model's own learnt
  reading of disagreement; no word list.

Sets, each flag counted as in `benchmarks/sentence_scoring.py`: everyday posts (val: where the
threshold is chosen; test), TweetEval hate test (macro-F1), the functional suite's hateful
sentences with an ordinary sentence beside them (caught; higher is better), split
counter-speech (each hateful sentence followed by a rejection; every flag a false positive),
and the fairness suite (counter-speech FPR, hostile recall).

    nice -n 5 .venv/bin/python benchmarks/sentence_context.py --cache-dir DIR

About 10 minutes on 2 cores (the in-context pass is not cached; the rest reads the serving
feature cache that `monitor eval` and `benchmarks/sentence_scoring.py` fill).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify import data as datasets
from monitor.classify import fairness, functional
from monitor.classify.deobfuscate import cache_texts
from monitor.classify.encoder import Encoder, preprocess
from monitor.classify.evaluate import score_pools
from monitor.classify.labels import HOSTILE
from monitor.classify.manifest import ModelDir
from monitor.classify.sentences import (
    _SENTENCE_END,
    MAX_SENTENCES,
    choose_sentence_threshold,
    expand,
    sentence_rule,
)
from monitor.classify.train import _macro_f1

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.sentence_scoring import COUNTER_FORMS, FORMS, Scorer
from benchmarks.shipped_model import open_shipped

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
CONTEXT_POOLS = (3, 4, 7, 8)  # frozen hidden states 3, 4; adapted 5, 6 (the hostile head's)
STANCES = ("stance_support", "stance_deny", "stance_query", "stance_comment")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of `split_sentences(text)`, in order (its first MAX_SENTENCES)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return [(a, b) for a, b in spans if len(text[a:b].strip()) > 1][:MAX_SENTENCES]


class InContext:
    """Each sentence's hostile score from the whole post's encoder pass."""

    def __init__(self, model: ModelDir, *, specials: bool) -> None:
        self.model, self.specials = model, specials
        self.encoder = Encoder(device="cpu", adapter=model.adapter, batch_size=32)

    def best(self, texts: Sequence[str]) -> FloatArray:
        """Per post, the highest in-context sentence score (0 for a post of one sentence)."""
        import torch

        from monitor.classify.lora import token_states

        prepared = [preprocess(t) for t in cache_texts(texts, True)]
        posts = [(i, p, s) for i, p in enumerate(prepared) if len(s := sentence_spans(p)) > 1]
        rows: list[npt.NDArray[np.float32]] = []
        owner: list[int] = []
        enc: Any = self.encoder
        for start in range(0, len(posts), 32):
            chunk = posts[start : start + 32]
            batch = enc.tokenizer(
                [p for _, p, _ in chunk],
                truncation=True,
                max_length=enc.max_length,
                padding=True,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            ids, mask = batch["input_ids"], batch["attention_mask"]
            with torch.inference_mode():
                hidden, adapted = token_states(enc.model, enc.top, ids, mask)
                states = dict(zip(CONTEXT_POOLS, (hidden[3], hidden[4], *adapted), strict=True))
            offsets = batch["offset_mapping"].tolist()
            for r, (i, _, spans) in enumerate(chunk):
                n = int(mask[r].sum())
                for a, b in spans:
                    tokens = [
                        k
                        for k in range(1, n - 1)
                        if offsets[r][k][0] >= a
                        and offsets[r][k][1] <= b
                        and offsets[r][k][1] > offsets[r][k][0]
                    ]
                    if not tokens:  # the sentence lies past the 128-token cut
                        continue
                    if self.specials:
                        tokens = [0, *tokens, n - 1]
                    pools = np.zeros((11, 384), dtype=np.float32)
                    for layer_index, state in states.items():
                        pools[layer_index] = state[r, tokens].float().mean(dim=0).numpy()
                    rows.append(pools)
                    owner.append(i)
        best = np.zeros(len(texts))
        if rows:
            scored = score_pools(self.model.heads, np.stack(rows), [""] * len(rows))
            np.maximum.at(best, np.array(owner), [s[HOSTILE] for s in scored])
        return best


class StanceVeto:
    """Whether the rest of a post, without its best-scoring sentence, denies (stance head)."""

    def __init__(self, model: ModelDir, scorer: Scorer) -> None:
        self.model, self.scorer = model, scorer
        self.thresholds = model.all_thresholds

    def denies(self, name: str, texts: Sequence[str]) -> BoolArray:
        parts, owner = expand(texts)
        out = np.zeros(len(texts), dtype=bool)
        if not parts:
            return out
        pools = self.scorer.served.layers(f"{name}-sentences", cache_texts(parts, True))
        hostile = [s[HOSTILE] for s in score_pools(self.model.heads, pools, parts)]
        by_post: dict[int, list[int]] = {}
        for k, i in enumerate(owner):
            by_post.setdefault(i, []).append(k)
        posts = sorted(by_post)
        rests = []
        for i in posts:
            top = max(by_post[i], key=hostile.__getitem__)
            rests.append(" ".join(parts[k] for k in by_post[i] if k != top))
        pools = self.scorer.served.layers(f"{name}-rest", cache_texts(rests, True))
        for i, s in zip(posts, score_pools(self.model.heads, pools, rests), strict=True):
            ratio = {c: s[c] / self.thresholds[c] for c in STANCES}
            out[i] = max(ratio, key=ratio.__getitem__) == "stance_deny"
        return out


def main(argv: Sequence[str] | None = None) -> None:
    shipped = open_shipped(__doc__, argv)
    model, data_dir = shipped.model, shipped.data_dir
    rule = sentence_rule(model.manifest)
    if rule is None:
        raise SystemExit("the shipped model has no sentence rule (hostile_sentences)")
    t = model.all_thresholds[HOSTILE]
    scorer = Scorer(model, shipped.served)
    veto = StanceVeto(model, scorer)

    sets: dict[str, list[str]] = {}
    for split in ("val", "test"):
        off = datasets.tweeteval("offensive", split, data_dir)
        sets[f"everyday {split}"] = [
            x for x, y in zip(off.texts, off.labels, strict=True) if y == 0
        ]
    hate = datasets.tweeteval("hate", "test", data_dir)
    sets["hate test"] = list(hate.texts)
    hate_y = np.array(hate.labels)
    cases = functional.load_suite()
    hateful = [c.text for c in cases if c.hateful]
    for form_name, form in FORMS.items():
        if form_name != "plain":
            sets[f"functional {form_name}"] = [form(x) for x in hateful]
    for form_name, form in COUNTER_FORMS.items():
        sets[f"split counter-speech {form_name}"] = [form(x) for x in hateful]
    fcases = fairness.load_suite()
    sets["fairness"] = [c.text for c in fcases]

    post: dict[str, FloatArray] = {}
    alone: dict[str, FloatArray] = {}
    for name, texts in sets.items():
        post[name], alone[name] = scorer.both(f"context-{name}", texts)

    ways: dict[str, tuple[dict[str, FloatArray], float]] = {
        "sentence rule, each sentence alone (opt-in, shipped)": (alone, rule.threshold)
    }
    for specials in (False, True):
        reader = InContext(model, specials=specials)
        best = {name: reader.best(texts) for name, texts in sets.items()}
        choice = choose_sentence_threshold(post["everyday val"], best["everyday val"], t)
        if choice.threshold is None:
            print(f"in context, specials {specials}: no threshold meets the everyday cap")
            continue
        title = "sentences in context" + (", with [CLS] and [SEP]" if specials else "")
        ways[f"{title}, chosen {choice.threshold}"] = (best, choice.threshold)
    vetoed = {name: veto.denies(f"context-{name}", texts) for name, texts in sets.items()}

    def flags(name: str, sentence: FloatArray, ts: float, use_veto: bool = False) -> BoolArray:
        """The post at the post threshold, or its best sentence at `ts` (unless vetoed)."""
        by_sentence: BoolArray = sentence >= ts
        if use_veto:
            by_sentence &= ~vetoed[name]
        flagged: BoolArray = (post[name] >= t) | by_sentence
        return flagged

    header = [
        "everyday newly flagged, val / test",
        "TweetEval hate test",
        *(n for n in sets if n.startswith("functional")),
        *(n for n in sets if n.startswith("split")),
        "fairness: counter FPR / recall",
    ]
    print("\n| way | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    rows: list[tuple[str, dict[str, FloatArray], float, bool]] = [
        ("the post only (served by default)", alone, 2.0, False),
        *((title, best, ts, False) for title, (best, ts) in ways.items()),
        ("sentence rule, vetoed where the rest denies (stance head)", alone, rule.threshold, True),
    ]
    for title, best, ts, use_veto in rows:
        cells = [
            " / ".join(
                f"{np.mean(flags(s, best[s], ts, use_veto) & (post[s] < t)):.4f}"
                for s in ("everyday val", "everyday test")
            ),
            f"{_macro_f1(hate_y, flags('hate test', best['hate test'], ts, use_veto).astype(int))}",
        ]
        cells += [f"{flags(n, best[n], ts, use_veto).mean():.3f}" for n in header[2:-1]]
        fair = flags("fairness", best["fairness"], ts, use_veto)
        rep = fairness.fairness_report(fcases, [float(x) for x in fair], 0.5)["overall"]
        cells.append(f"{rep['fpr_counter']} / {rep['recall_hostile']}")
        print(f"| {title} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
