"""Trained heads on the encoder's features: small, numpy-only at inference, saved as safetensors.

A head maps one post's feature vector to calibrated probabilities:
    x = (features - mean) / scale            standardise (statistics from the training data)
    z = x @ W + b                            a linear layer (logistic regression)
    binary:  p = sigmoid(a * z + c)          Platt scaling fitted on validation data
    softmax: p = softmax(z / T + c)          temperature and prior shift fitted on validation data
Features are the encoder's pooled layers, optionally followed by a few cheap lexical features
(`lexical_features`) that the encoder is known to blur: question marks, negation, links; for
the rumour head, the cues of a claim being passed on (`rumour_cues`); and for the stance head,
the cues of how a reply answers a claim (`stance_cues`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

LEXICAL_NAMES: tuple[str, ...] = (
    "has_question",
    "questions",
    "negation",
    "has_link",
    "starts_with_mention",
    "length",
    "affirmation",
)
_NEGATION = re.compile(
    r"\b(not|no|never|nothing|fake|false|lie|lies|lying|hoax|wrong|debunk\w*|isn'?t|aren'?t|"
    r"wasn'?t|didn'?t|doesn'?t|don'?t|untrue|rubbish|nonsense)\b"
)
_AFFIRM = re.compile(r"\b(true|confirmed|confirms|yes|indeed|official|officially)\b")


def lexical_features(texts: Sequence[str]) -> FloatArray:
    """A few surface features the pooled embedding loses (a '?' matters for 'query')."""
    rows = []
    for text in texts:
        low = text.lower().replace("\u2019", "'")
        rows.append(
            [
                1.0 if "?" in text else 0.0,
                min(text.count("?"), 5) / 5.0,
                1.0 if _NEGATION.search(low) else 0.0,
                1.0 if ("http" in low or "www." in low) else 0.0,
                1.0 if low.lstrip().startswith("@") else 0.0,
                min(len(text), 280) / 280.0,
                1.0 if _AFFIRM.search(low) else 0.0,
            ]
        )
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), len(LEXICAL_NAMES))


def _cues(*patterns: str) -> tuple[re.Pattern[str], ...]:
    """Word cues, matched whatever their case."""
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


RUMOUR_CUE_NAMES: tuple[str, ...] = (
    "breaking",
    "attribution",
    "hedge",
    "confirmation",
    "number",
    "personal",
    "question",
    "length",
)
# Word cues only: PHEME's training text has no punctuation, @users, links or '#', so a '?' or a
# link would be a feature the head never saw vary. Each is a way of passing on news (or, for
# 'personal' and 'question', of reacting to it) that reads the same whatever the event is about.
# A share of capitalised words scored the same leave-one-event-out (0.730 with it, 0.729
# without) and is left out: capitals mark shouting and placeholders ('@USER', 'URL') as much as
# news.
_RUMOUR_CUES = _cues(
    r"\b(breaking|just in|update|developing|urgent)\b",
    r"\b(report\w*|sources?|according|officials?|police say|witness\w*|told|say|says|said)\b",
    r"\b(allegedly|alleged|unconfirmed|apparently|possibly|may|might|could|believed|"
    r"suspected|rumou?r\w*|unverified|not confirmed|hearing)\b",
    r"\b(confirm\w*|identified|named)\b",
    r"\d",
    r"\b(i|my|me|we|our|you|your|pray\w*|thoughts|sad|rip|love|hate|shame|disgust\w*|support)\b",
    r"\b(is it true|really|who|what|why|how|is this|anyone know)\b",
)


def rumour_cues(texts: Sequence[str]) -> FloatArray:
    """Cues of a claim being passed on, which the rumour head reads beside the pooled layers:
    in PHEME rumours say 'breaking' 4x as often as other posts, attribute ('reports',
    'sources') 3x, hedge 5x and confirm 12x; first-person and sympathy words run the other way
    (11% against 28%)."""
    rows = []
    for text in texts:
        words = text.split()
        rows.append(
            [1.0 if cue.search(text) else 0.0 for cue in _RUMOUR_CUES]
            + [min(len(words), 40) / 40.0]
        )
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), len(RUMOUR_CUE_NAMES))


STANCE_CUE_NAMES: tuple[str, ...] = (
    "quotes_claim",
    "denial",
    "opens_with_question",
    "evidence",
    "exclamation",
    "reaction",
    "hashtag",
    "leading_mentions",
)
# How a reply answers a claim, in the words the pooled embedding blurs. Passing the claim on
# word for word ('"@user: ...', 'RT @user') is support; denial has its own words; a question
# is opened with a question word (a '?' alone also ends rhetorical comments); asking for a
# source is a query; reactions ('rip', 'omg', 'smh') are comments.
_STANCE_CUES = _cues(
    r"([\u201c\"]\s*@\w+\s*:|\brt\s+@|\bvia\s+@)",
    r"\b(fake|hoax|not true|false|lie|lies|lying|liar|untrue|bs|bullshit|rubbish|nonsense|"
    r"debunk\w*|wrong|misinformation|misleading|doubt\w*|don'?t believe|no way|"
    r"stop spreading|not real|photoshop\w*|satire|not confirmed|unconfirmed|denied|denies|"
    r"deny)\b",
    r"^[^\w@]*(?:@\w+[^\w@]*)*(who|what|why|how|is|are|was|were|do|does|did|can|could|should|would|"
    r"will|has|have|where|when|any|really|so)\b",
    r"\b(source|sources|proof|evidence|link|citation|verify|verified|confirm\w*)\b",
    r"!",
    r"\b(rip|pray\w*|sad|omg|wow|lol|lmao|haha\w*|smh|wtf|god|hope|thoughts|prayers|horrible|"
    r"terrible|awful|disgust\w*|shame)\b",
    r"#\w+",
)
_LEADING_MENTIONS = re.compile(r"^(\s*@\w+)+")


def stance_cues(texts: Sequence[str]) -> FloatArray:
    """Cues of a reply's stance, which the stance head reads after the lexical features:
    out of fold on RumourEval traindev they lift macro-F1 from 0.516 to 0.521 (mean of three
    fold seeds); on its test split 0.512 to 0.526, deny and query most."""
    rows = []
    for text in texts:
        low = text.replace("\u2019", "'")
        lead = _LEADING_MENTIONS.match(low)
        mentions = lead.group(0).count("@") if lead else 0
        rows.append(
            [1.0 if cue.search(low) else 0.0 for cue in _STANCE_CUES] + [min(mentions, 5) / 5.0]
        )
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), len(STANCE_CUE_NAMES))


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = (1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))).astype(np.float32)
    return out


def _softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


@dataclass(frozen=True)
class Head:
    """One head. `outputs` are the score names it writes (one for binary, k for softmax)."""

    name: str
    kind: str  # "binary" | "softmax"
    outputs: tuple[str, ...]
    layers: tuple[int, ...]  # which encoder layers' pools it reads
    lexical: bool  # whether lexical_features are appended
    mean: FloatArray
    scale: FloatArray
    weight: FloatArray  # (d, 1) or (d, k)
    bias: FloatArray  # (1,) or (k,)
    calib_scale: FloatArray  # binary: (1,) Platt a; softmax: (1,) 1/T
    calib_shift: FloatArray  # binary: (1,) Platt c; softmax: (k,) prior shift
    cues: bool = False  # whether rumour_cues are appended (after any lexical features)
    stance_cues: bool = False  # whether stance_cues are appended (last)

    def logits(self, x: FloatArray) -> FloatArray:
        # float64: a BLAS float32 product sums in an order that depends on how many rows
        # are multiplied at once, so a post's score would move (by ~1e-7) with its batch.
        x64 = x.astype(np.float64)
        z = ((x64 - self.mean) / self.scale) @ self.weight.astype(np.float64) + self.bias
        return np.asarray(z, dtype=np.float32)

    def probabilities(self, x: FloatArray) -> FloatArray:
        z = self.logits(x) * self.calib_scale + self.calib_shift
        if self.kind == "binary":
            return _sigmoid(z)
        return _softmax(z)

    def tensors(self) -> dict[str, FloatArray]:
        return {
            f"{self.name}.mean": self.mean,
            f"{self.name}.scale": self.scale,
            f"{self.name}.weight": self.weight,
            f"{self.name}.bias": self.bias,
            f"{self.name}.calib_scale": self.calib_scale,
            f"{self.name}.calib_shift": self.calib_shift,
        }

    def spec(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "outputs": list(self.outputs),
            "layers": list(self.layers),
            "lexical": self.lexical,
            "cues": self.cues,
            "stance_cues": self.stance_cues,
        }


class HeadSet:
    """All heads of one model, scoring from a shared per-layer feature matrix."""

    def __init__(self, heads: Sequence[Head]) -> None:
        self.heads = tuple(heads)

    @property
    def layers(self) -> tuple[int, ...]:
        """Every encoder layer some head reads, sorted: what the encoder must pool."""
        return tuple(sorted({i for h in self.heads for i in h.layers}))

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(o for h in self.heads for o in h.outputs)

    def score(
        self, pools: Mapping[int, FloatArray], texts: Sequence[str]
    ) -> list[dict[str, float]]:
        """Scores per text. `pools[i]` is the (n, 384) mean pool of encoder layer i."""
        n = len(texts)
        lex: FloatArray | None = None
        columns: dict[str, FloatArray] = {}
        for head in self.heads:
            x = np.concatenate([pools[i] for i in head.layers], axis=1)
            if head.lexical:
                if lex is None:
                    lex = lexical_features(texts)
                x = np.concatenate([x, lex], axis=1)
            if head.cues:
                x = np.concatenate([x, rumour_cues(texts)], axis=1)
            if head.stance_cues:
                x = np.concatenate([x, stance_cues(texts)], axis=1)
            p = head.probabilities(x.astype(np.float32))
            for j, out in enumerate(head.outputs):
                columns[out] = p[:, j]
        return [{k: round(float(v[r]), 6) for k, v in columns.items()} for r in range(n)]

    def save(self, path: Path) -> None:
        from safetensors.numpy import save_file

        tensors: dict[str, FloatArray] = {}
        for h in self.heads:
            tensors.update({k: np.ascontiguousarray(v, np.float32) for k, v in h.tensors().items()})
        save_file(tensors, str(path))

    def specs(self) -> list[dict[str, object]]:
        return [h.spec() for h in self.heads]

    @classmethod
    def load(cls, path: Path, specs: Sequence[Mapping[str, object]]) -> HeadSet:
        from safetensors.numpy import load_file

        tensors = load_file(str(path))
        heads = []
        for spec in specs:
            name = str(spec["name"])
            try:
                t = {k: tensors[f"{name}.{k}"].astype(np.float32) for k in _TENSORS}
            except KeyError as exc:
                raise ValueError(f"{path}: head {name!r} lacks tensor {exc.args[0]}") from None
            layers = tuple(int(i) for i in spec["layers"])  # type: ignore[attr-defined]
            outputs = tuple(str(o) for o in spec["outputs"])  # type: ignore[attr-defined]
            # Manifests written before the rumour cues have no "cues" entry: none appended.
            cues = bool(spec.get("cues", False))
            # ... and those written before the stance cues none of those.
            stance = bool(spec.get("stance_cues", False))
            width = feature_width(layers, bool(spec["lexical"]), cues, stance)
            if t["weight"].shape != (width, len(outputs)):
                raise ValueError(
                    f"{path}: head {name!r} weight is {t['weight'].shape}, "
                    f"expected {(width, len(outputs))}"
                )
            heads.append(
                Head(
                    name=name,
                    kind=str(spec["kind"]),
                    outputs=outputs,
                    layers=layers,
                    lexical=bool(spec["lexical"]),
                    cues=cues,
                    stance_cues=stance,
                    **t,
                )
            )
        return cls(heads)


def feature_width(layers: Sequence[int], lexical: bool, cues: bool, stance: bool = False) -> int:
    """Length of a head's feature vector: pools, then lexical features, then rumour cues,
    then stance cues."""
    return (
        384 * len(layers)
        + (len(LEXICAL_NAMES) if lexical else 0)
        + (len(RUMOUR_CUE_NAMES) if cues else 0)
        + (len(STANCE_CUE_NAMES) if stance else 0)
    )


_TENSORS = ("mean", "scale", "weight", "bias", "calib_scale", "calib_shift")
