"""Rule cover beyond English: a rule pack on the multilingual suite and the demo week.

Every post of the fictional multilingual suite (tests/fixtures/fairness/languages.yaml: Polish,
Urdu in Arabic script and romanised, Punjabi in Gurmukhi, Shahmukhi and romanised, Arabic,
Romanian, Slovak, and English for reference) goes through the shipped rule set, loaded as the
service loads it (`load_ruleset(Path("rules"))`), as `monitor rules explain` would run it: a
post built from the text with the suite's language code for it (`ur` for romanised Urdu, `pa`
for Shahmukhi and romanised Punjabi), no places and no classifier scores, so a rule that needs
scores does not fire and what is measured is the rules' words alone. Any rule of the pack
measured (`--pack`, the tension pack unless told) firing is a flag. For the tension pack it
prints per language and split

- hostile caught: hostile posts flagged (derogation, dehumanising, exclusion);
- threats caught: threat posts flagged, and of them those flagged by a rule of kind `threat`;
- neutral / counter / rumour flagged: ordinary posts, counter-speech and rumours flagged, each
  a false alarm for this pack.

For the rumour pack (`--pack rumour`): rumour posts caught, and hostile / threat / neutral /
counter posts flagged, each a false alarm for that pack.

The suite's `train` split was read when the non-English rules were written; its `eval` split
was not, so the eval figures are the honest ones. Then the demo week's non-English posts
(monitor/data/demo, fictional): how many are flagged, and the text, truth tags and rules of
each one flagged, for a person to judge.

    .venv/bin/python benchmarks/rules_languages.py [--pack tension|rumour]
        [--split train|eval|both] [--show-misses]

`--show-misses` also prints the train split's posts that were not flagged (never eval's): the
hostile and threat posts for the tension pack, the rumour posts for the rumour pack.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from monitor.rules.engine import RuleSet, evaluate_post  # noqa: E402
from monitor.rules.examples import example_post  # noqa: E402
from monitor.rules.loader import load_ruleset  # noqa: E402
from monitor.rules.schema import Example  # noqa: E402
from monitor.types import RuleHit  # noqa: E402

SUITE = ROOT / "tests" / "fixtures" / "fairness" / "languages.yaml"
DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"
TRUTH = DEMO.with_suffix(".truth.json")
CATEGORIES = ("hostile", "threat", "neutral", "counter", "rumour")
TODAY = dt.date(2026, 1, 1)  # a fixed day, so a passed review date cannot change the run


PACKS = ("tension", "rumour")
# The categories a pack is meant to catch; every other category flagged is a false alarm.
TARGETS = {"tension": ("hostile", "threat"), "rumour": ("rumour",)}


def pack_hits(ruleset: RuleSet, text: str, language: str | None, pack: str) -> list[RuleHit]:
    """The rules of `pack` that fire on `text` said in `language`, as `rules explain` runs."""
    post = example_post(Example(text, 0, (), language, None), "benchmark")
    hits = evaluate_post(ruleset, post, {}).hits
    return [h for h in hits if h.rule_id.split(".")[0] == pack]


@dataclass
class Row:
    language: str
    split: str
    counts: dict[str, tuple[int, int]]  # category -> (flagged, total)
    threat_kind: int  # threat posts flagged by a rule of kind threat
    misses: list[tuple[str, str]]  # (category, text) of the pack's target posts not flagged
    alarms: list[tuple[str, str, list[str]]]  # (category, text, rules) of others flagged


def measure_suite(ruleset: RuleSet, splits: Sequence[str], pack: str) -> list[Row]:
    suite = yaml.safe_load(SUITE.read_text(encoding="utf-8"))["languages"]
    rows: list[Row] = []
    for key, entry in suite.items():
        code = entry.get("language", key)
        for split in splits:
            counts: dict[str, tuple[int, int]] = {}
            threat_kind = 0
            misses: list[tuple[str, str]] = []
            alarms: list[tuple[str, str, list[str]]] = []
            for category in CATEGORIES:
                texts = entry[split].get(category, [])
                flagged = 0
                for text in texts:
                    hits = pack_hits(ruleset, text, code, pack)
                    flagged += bool(hits)
                    if category == "threat":
                        threat_kind += any(h.labels.get("kind") == "threat" for h in hits)
                    if category in TARGETS[pack] and not hits:
                        misses.append((category, text))
                    if category not in TARGETS[pack] and hits:
                        alarms.append((category, text, [h.rule_id for h in hits]))
                counts[category] = (flagged, len(texts))
            rows.append(Row(key, split, counts, threat_kind, misses, alarms))
    return rows


def measure_demo(ruleset: RuleSet, pack: str) -> tuple[dict[str, tuple[int, int]], list[tuple]]:
    """Flagged / total per language of the demo week's non-English posts, and those flagged."""
    tags = json.loads(TRUTH.read_text(encoding="utf-8"))["posts"]
    counts: dict[str, list[int]] = {}
    flagged: list[tuple] = []
    for line in DEMO.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        lang = record.get("lang")
        if lang in (None, "en"):
            continue
        hits = pack_hits(ruleset, record["text"], lang, pack)
        tally = counts.setdefault(lang, [0, 0])
        tally[0] += bool(hits)
        tally[1] += 1
        if hits:
            truth = tags.get(f"{record['platform']}:{record['id']}", {}).get("tags", [])
            flagged.append((lang, record["text"], truth, [h.rule_id for h in hits]))
    return {k: (v[0], v[1]) for k, v in sorted(counts.items())}, flagged


def cell(pair: tuple[int, int]) -> str:
    return f"{pair[0]}/{pair[1]}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", choices=PACKS, default="tension")
    parser.add_argument("--split", choices=("train", "eval", "both"), default="both")
    parser.add_argument(
        "--show-misses", action="store_true", help="print the train split's unflagged posts"
    )
    args = parser.parse_args(argv)
    pack = args.pack
    splits = ("train", "eval") if args.split == "both" else (args.split,)
    ruleset = load_ruleset(ROOT / "rules", today=TODAY)
    rows = measure_suite(ruleset, splits, pack)

    if pack == "tension":
        cols = ("language", "split", "hostile", "threat", "(as threat)", "neutral", "counter",
                "rumour")  # fmt: skip
        widths = (22, 5, 7, 6, 11, 7, 7, 6)
    else:
        cols = ("language", "split", "rumour caught", "hostile", "threat", "neutral", "counter")
        widths = (22, 5, 13, 7, 6, 7, 7)
    title = f"{pack.capitalize()} pack on the multilingual suite"
    print(f"{title} (flagged/total; no classifier scores)\n")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    names = yaml.safe_load(SUITE.read_text(encoding="utf-8"))["languages"]
    for split in splits:
        for row in (r for r in rows if r.split == split):
            name = f"{row.language} {names[row.language]['name'].split(' (')[-1].rstrip(')')}"
            threats = row.counts["threat"]
            if pack == "tension":
                values = (name[:22], split, cell(row.counts["hostile"]), cell(threats),
                          cell((row.threat_kind, threats[1])), cell(row.counts["neutral"]),
                          cell(row.counts["counter"]), cell(row.counts["rumour"]))  # fmt: skip
            else:
                values = (name[:22], split, cell(row.counts["rumour"]),
                          cell(row.counts["hostile"]), cell(threats),
                          cell(row.counts["neutral"]), cell(row.counts["counter"]))  # fmt: skip
            print("| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |")
    for split in splits:
        others = [r for r in rows if r.split == split and r.language != "en"]
        total = {c: (sum(r.counts[c][0] for r in others), sum(r.counts[c][1] for r in others))
                 for c in CATEGORIES}  # fmt: skip
        print(f"\nall non-English, {split}: " + ", ".join(
            f"{c} {cell(total[c])}" for c in CATEGORIES))  # fmt: skip
        alarms = [(r.language, *a) for r in others for a in r.alarms]
        if alarms:
            print(f"false alarms ({split}):")
            for lang, category, text, rules in alarms:
                if split == "train":
                    print(f"  [{lang} {category}] {text}  <- {', '.join(rules)}")
                else:  # the eval split's sentences stay unread: say which rules, not what
                    print(f"  [{lang} {category}] <- {', '.join(rules)}")
    if args.show_misses and "train" in splits:
        print(f"\nunflagged {'/'.join(TARGETS[pack])} posts (train):")
        for row in (r for r in rows if r.split == "train" and r.language != "en"):
            for category, text in row.misses:
                print(f"  [{row.language} {category}] {text}")

    demo, flagged = measure_demo(ruleset, pack)
    print(f"\nDemo week, non-English posts flagged by the {pack} pack: " + ", ".join(
        f"{lang} {cell(pair)}" for lang, pair in demo.items()))  # fmt: skip
    for lang, text, truth, rules in flagged:
        print(f"  [{lang}; truth: {', '.join(truth) or '-'}] {text}  <- {', '.join(rules)}")


if __name__ == "__main__":
    main()
