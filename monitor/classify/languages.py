"""Which languages the classifier covers, and the multilingual suite that shows the gap.

A model folder's manifest declares `covered_languages` (ISO 639-1 codes, e.g. ["en"]): the
languages its heads were trained and measured on. A post whose detected language is known and
not covered is NOT scored: a hostile score of 0.02 on a Polish threat would read as "checked,
fine" when nothing was checked. It is counted and shown instead ("53 Polish posts not scored by
the classifier; rules still apply"). A post with no detected language (too short, or langid
unsure) is scored: most are English fragments, and leaving them out would hide more than it
protects.

The suite (tests/fixtures/fairness/languages.yaml, fictional) gives per-language figures in
`monitor eval`.
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
    "zh": "Chinese", "uk": "Ukrainian", "hu": "Hungarian", "lv": "Latvian",
}  # fmt: skip


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def covered_languages(manifest: Mapping[str, Any]) -> frozenset[str]:
    value = manifest.get("covered_languages", DEFAULT_COVERED)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("manifest covered_languages must be a list of language codes")
    return frozenset(v.lower() for v in value)


def is_covered(language: str | None, covered: frozenset[str]) -> bool:
    """Whether a post in `language` gets classifier scores (unknown language: yes, see doc)."""
    if not language:
        return True
    return language.split("-")[0].lower() in covered


def default_suite() -> Path:
    return (
        Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "fairness" / "languages.yaml"
    )


@dataclass(frozen=True, slots=True)
class LanguageCase:
    text: str
    key: str  # the suite's entry ("ur", "ur-Latn")
    language: str  # the ISO code ingest stores
    hostile: bool


def load_suite(path: Path | None = None) -> tuple[list[LanguageCase], dict[str, str]]:
    path = path or default_suite()
    if not path.is_file():
        raise FileNotFoundError(f"language suite not found: {path}")
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases: list[LanguageCase] = []
    names: dict[str, str] = {}
    for key, entry in spec["languages"].items():
        names[key] = str(entry["name"])
        code = str(entry.get("language", key))
        for text in entry["hostile"]:
            cases.append(LanguageCase(text, key, code, True))
        for text in entry["benign"]:
            cases.append(LanguageCase(text, key, code, False))
    return cases, names


def language_report(
    cases: Sequence[LanguageCase],
    scores: Sequence[float],
    threshold: float,
    names: Mapping[str, str],
    covered: frozenset[str],
    detect: Callable[[str], str | None],
) -> dict[str, Any]:
    """Per suite language: whether covered, hostile recall and FPR if the scores were used
    anyway, and how often ingest's language detection names the language (which is what the
    coverage gate relies on)."""
    out: dict[str, Any] = {}
    for key in names:
        mine = [(c, s) for c, s in zip(cases, scores, strict=True) if c.key == key]
        hostile = [s >= threshold for c, s in mine if c.hostile]
        benign = [s >= threshold for c, s in mine if not c.hostile]
        detected = [detect(c.text) for c, _ in mine]
        code = mine[0][0].language if mine else key
        out[key] = {
            "name": names[key],
            "language": code,
            "covered": code in covered,
            "posts": len(mine),
            "recall_hostile_if_scored": round(sum(hostile) / len(hostile), 4) if hostile else None,
            "fpr_if_scored": round(sum(benign) / len(benign), 4) if benign else None,
            "detected_as_language": round(
                sum(d is not None and d.split("-")[0] == code for d in detected) / len(detected), 4
            )
            if detected
            else None,
            "scored_in_service": round(
                sum(is_covered(d, covered) for d in detected) / len(detected), 4
            )
            if detected
            else None,
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
