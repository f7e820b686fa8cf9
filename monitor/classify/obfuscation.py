"""Pure: the obfuscation suite, its disguised variants, and recall per disguise.

tests/fixtures/fairness/obfuscation.yaml (fictional) marks the words a writer would disguise
in [brackets]. `variants` writes each post plainly and in five disguises (leetspeak, spaced
letters, swapped letters, a dropped letter, missing spaces), deterministically, so figures are
comparable between runs and models.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FORMS: tuple[str, ...] = ("plain", "leet", "spaced", "swap", "drop", "nospace")

_MARKED = re.compile(r"\[([^\]]+)\]")
_LEET = str.maketrans("aeiostAEIO", "4310573410")


def default_suite() -> Path:
    return (
        Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "fairness" / "obfuscation.yaml"
    )


@dataclass(frozen=True, slots=True)
class ObfuscationCase:
    text: str
    form: str
    hostile: bool
    source: int  # index of the plain post it came from


def leet(word: str) -> str:
    return word.translate(_LEET)


def spaced(word: str) -> str:
    return " ".join(word)


def swap(word: str) -> str:
    """Swap the two letters after the first ("vermin" -> "vremin"); short words unchanged."""
    if len(word) < 4:
        return word
    return word[0] + word[2] + word[1] + word[3:]


def drop(word: str) -> str:
    """Drop the first inner vowel, else the second letter ("vermin" -> "vrmin")."""
    if len(word) < 4:
        return word
    for i in range(1, len(word) - 1):
        if word[i] in "aeiou":
            return word[:i] + word[i + 1 :]
    return word[0] + word[2:]


def _apply(marked: str, fn: Callable[[str], str]) -> str:
    return _MARKED.sub(lambda m: fn(m.group(1)), marked)


def _nospace(marked: str) -> str:
    # Remove the spaces either side of each marked word: "are [vermin] and" -> "areverminand".
    joined = re.sub(r"\s*\[([^\]]+)\]\s*", lambda m: m.group(1), marked)
    return joined


def variants(marked: str) -> dict[str, str]:
    return {
        "plain": _apply(marked, lambda w: w),
        "leet": _apply(marked, leet),
        "spaced": _apply(marked, spaced),
        "swap": _apply(marked, swap),
        "drop": _apply(marked, drop),
        "nospace": _nospace(marked),
    }


def load_suite(path: Path | None = None) -> list[ObfuscationCase]:
    path = path or default_suite()
    if not path.is_file():
        raise FileNotFoundError(f"obfuscation suite not found: {path}")
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases: list[ObfuscationCase] = []
    n = 0
    for key, hostile in (("hostile", True), ("benign", False)):
        for marked in spec[key]:
            if not _MARKED.search(marked):
                raise ValueError(f"{path}: no [marked] word in {marked!r}")
            for form, text in variants(marked).items():
                cases.append(ObfuscationCase(text, form, hostile, n))
            n += 1
    return cases


def obfuscation_report(
    cases: Sequence[ObfuscationCase], scores: Sequence[float], threshold: float
) -> dict[str, Any]:
    """Recall on hostile posts and FPR on benign ones, per form; `recall_kept` is the share of
    hostile posts caught in plain form that are still caught when disguised."""
    flag = [s >= threshold for s in scores]
    plain_caught = {
        c.source for c, f in zip(cases, flag, strict=True) if c.form == "plain" and f and c.hostile
    }
    out: dict[str, Any] = {}
    for form in FORMS:
        hostile = [f for c, f in zip(cases, flag, strict=True) if c.form == form and c.hostile]
        benign = [f for c, f in zip(cases, flag, strict=True) if c.form == form and not c.hostile]
        kept = [
            f
            for c, f in zip(cases, flag, strict=True)
            if c.form == form and c.hostile and c.source in plain_caught
        ]
        out[form] = {
            "recall": round(sum(hostile) / len(hostile), 4) if hostile else None,
            "recall_kept": round(sum(kept) / len(kept), 4) if kept else None,
            "fpr": round(sum(benign) / len(benign), 4) if benign else None,
        }
    disguised = [f for c, f in zip(cases, flag, strict=True) if c.form != "plain" and c.hostile]
    return {
        "threshold": threshold,
        "per_form": out,
        "recall_disguised": round(sum(disguised) / len(disguised), 4) if disguised else None,
    }
