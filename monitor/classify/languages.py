"""Which languages the classifier covers, and the multilingual suite that shows the gap.

A model folder's manifest declares `covered_languages` (ISO 639-1 codes, e.g. ["en"]): the
languages its heads were trained and measured on. A post whose detected language is known and
not covered is NOT scored: a hostile score of 0.02 on a Polish threat would read as "checked,
fine" when nothing was checked. It is counted and shown instead ("53 Polish posts not scored by
the classifier; rules still apply"). A post with no detected language (too short, or langid
unsure) is scored: most are English fragments, and leaving them out would hide more than it
protects.

The suite (tests/fixtures/fairness/languages.yaml, fictional) gives per-language figures in
`monitor eval`: hostile posts and threats, neutral mentions of groups and places, counter-speech
and rumour-like claims in each community language, split into training posts (translation
pairs of English ones) and held-out evaluation posts written in other sentence shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Models trained before the manifest carried the field were trained on English only.
DEFAULT_COVERED: tuple[str, ...] = ("en",)

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "ur": "Urdu", "pa": "Punjabi", "pl": "Polish", "sk": "Slovak",
    "cs": "Czech", "ro": "Romanian", "bg": "Bulgarian", "lt": "Lithuanian", "ar": "Arabic",
    "bn": "Bengali", "gu": "Gujarati", "hi": "Hindi", "ku": "Kurdish", "fa": "Persian",
    "ps": "Pashto", "tr": "Turkish", "ru": "Russian", "fr": "French", "es": "Spanish",
    "de": "German", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "so": "Somali",
    "zh": "Chinese", "uk": "Ukrainian", "hu": "Hungarian", "lv": "Latvian", "uz": "Uzbek",
}  # fmt: skip


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def covered_languages(manifest: Mapping[str, Any]) -> frozenset[str]:
    value = manifest.get("covered_languages", DEFAULT_COVERED)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("manifest covered_languages must be a list of language codes")
    return frozenset(v.lower() for v in value)


def is_covered(language: str | None, covered: frozenset[str] | None) -> bool:
    """Whether a post in `language` gets classifier scores (unknown language: yes, see doc;
    a classifier that declares no coverage, None, scores every language)."""
    if not language or covered is None:
        return True
    return language.split("-")[0].lower() in covered


def default_suite() -> Path:
    return (
        Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "fairness" / "languages.yaml"
    )


# The suite's categories: the first two should be flagged hostile, the rest not.
HOSTILE_CATEGORIES: tuple[str, ...] = ("hostile", "threat")
CATEGORIES: tuple[str, ...] = ("hostile", "threat", "neutral", "counter", "rumour")
SPLITS: tuple[str, ...] = ("train", "eval")


@dataclass(frozen=True, slots=True)
class LanguageCase:
    text: str
    key: str  # the suite's entry ("ur", "ur-Latn")
    language: str  # the ISO code ingest stores
    category: str  # one of CATEGORIES
    split: str  # "train" (may be trained on) or "eval" (never)
    pair: int | None = None  # index of the English train post this one translates

    @property
    def hostile(self) -> bool:
        return self.category in HOSTILE_CATEGORIES

    @property
    def rumour(self) -> bool:
        return self.category == "rumour"


def load_suite(path: Path | None = None) -> tuple[list[LanguageCase], dict[str, str]]:
    """The suite's posts (every language, both splits) and each entry's display name."""
    path = path or default_suite()
    if not path.is_file():
        raise FileNotFoundError(f"language suite not found: {path}")
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    english = spec["languages"].get("en", {}).get("train", {})
    cases: list[LanguageCase] = []
    names: dict[str, str] = {}
    for key, entry in spec["languages"].items():
        names[key] = str(entry["name"])
        code = str(entry.get("language", key))
        for split in SPLITS:
            for category, texts in entry[split].items():
                if category not in CATEGORIES:
                    raise ValueError(f"{path}: {key}.{split}: unknown category {category!r}")
                paired = len(english.get(category, ())) if split == "train" else 0
                for i, text in enumerate(texts):
                    pair = i if i < paired else None
                    cases.append(LanguageCase(str(text), key, code, category, split, pair))
    return cases, names


def translation_pairs(cases: Sequence[LanguageCase]) -> list[tuple[str, str]]:
    """(English, other language) pairs of the suite's training posts."""
    english = {(c.category, c.pair): c.text for c in cases if c.key == "en" and c.split == "train"}
    return [
        (english[(c.category, c.pair)], c.text)
        for c in cases
        if c.key != "en" and c.pair is not None and (c.category, c.pair) in english
    ]


def _rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def flag_figures(
    cases: Sequence[LanguageCase], scores: Sequence[float], threshold: float
) -> dict[str, Any]:
    """Hostile recall and false-positive rates (neutral, counter-speech, rumour posts) of
    hostile scores flagged at `threshold`, with the counts they come from."""
    flagged = [(c, s >= threshold) for c, s in zip(cases, scores, strict=True)]
    hostile = [f for c, f in flagged if c.hostile]
    benign = [f for c, f in flagged if not c.hostile]
    out: dict[str, Any] = {
        "hostile_posts": len(hostile),
        "benign_posts": len(benign),
        "recall_hostile": _rate(hostile),
        "recall_threat": _rate([f for c, f in flagged if c.category == "threat"]),
        "fpr": _rate(benign),
    }
    for category in ("neutral", "counter", "rumour"):
        out[f"fpr_{category}"] = _rate([f for c, f in flagged if c.category == category])
    return out


def rumour_figures(
    cases: Sequence[LanguageCase], scores: Sequence[float], threshold: float
) -> dict[str, Any]:
    """Rumour recall on the rumour-like claims and the rumour flag's rate on the rest."""
    flagged = [(c, s >= threshold) for c, s in zip(cases, scores, strict=True)]
    return {
        "recall_rumour": _rate([f for c, f in flagged if c.rumour]),
        "fpr_rumour_flag": _rate([f for c, f in flagged if not c.rumour]),
    }


def language_report(
    cases: Sequence[LanguageCase],
    scores: Sequence[float],
    threshold: float,
    names: Mapping[str, str],
    covered: frozenset[str],
    detect: Callable[[str], str | None],
) -> dict[str, Any]:
    """Per suite entry: whether its language is covered, how many of its posts the service
    would score (ingest's detection decides: an uncovered language is counted as not scored,
    an undetected post is scored), how often detection names the language, and the hostile
    figures if the scores were used anyway (all posts of both splits: the shipped model was
    trained on none of them)."""
    out: dict[str, Any] = {}
    for key in names:
        mine = [(c, s) for c, s in zip(cases, scores, strict=True) if c.key == key]
        if not mine:
            continue
        code = mine[0][0].language
        detected = [detect(c.text) for c, _ in mine]
        scored = [is_covered(d, covered) for d in detected]
        figures = flag_figures([c for c, _ in mine], [s for _, s in mine], threshold)
        out[key] = {
            "name": names[key],
            "language": code,
            "covered": code in covered,
            "posts": len(mine),
            "posts_by_category": {
                cat: sum(c.category == cat for c, _ in mine) for cat in CATEGORIES
            },
            "detected_as_language": _rate(
                [d is not None and d.split("-")[0] == code for d in detected]
            ),
            "scored_in_service": _rate(scored),
            "not_scored_in_service": len(scored) - sum(scored),
            "recall_hostile_if_scored": figures["recall_hostile"],
            "fpr_if_scored": figures["fpr"],
            "if_scored": figures,
        }
    return out


def not_scored_notes(counts: Mapping[str, int]) -> list[str]:
    """One line per uncovered language: "112 Urdu posts not scored by the classifier; rules
    still apply" (most first, as `monitor.store.languages.not_scored` orders them)."""
    return [
        f"{n} {language_name(code)} post{'' if n == 1 else 's'} not scored by the classifier; "
        "rules still apply"
        for code, n in counts.items()
        if n > 0
    ]


def not_scored_short(counts: Mapping[str, int]) -> str:
    """A table cell: "3 Urdu, 1 Polish" (empty when none)."""
    return ", ".join(f"{n} {language_name(code)}" for code, n in counts.items() if n > 0)
