"""Hatred of a named group as the service flags it: the classifier, the tension rules, or both.

A post is flagged hostile in service when the classifier's hostile score reaches its threshold
or a rule of the tension pack fires (every rule label is a flag; `monitor rules explain` shows
one post). This prints, per phenomenon, how many posts each of those flags, for the rules as
they are and for the rules at a baseline revision (`--baseline`, read with `git archive`), on

- the development set the tension pack's 1.7.0 rules were written from
  (tests/fixtures/fairness/rules_shapes_dev.yaml: emotion, threats, denied qualities,
  opinions, questions, "they" after the group, insinuation),
- a held-out set by another author, not written from (rules_shapes_heldout.yaml),
- the second development and held-out pair, for 1.7.1 (rules_shapes2_*.yaml: exclusion,
  wished violence, dehumanising words, traits, slogans), and a third for 1.7.7
  (rules_shapes3_*.yaml: exclusion, whole-group claims and slogans in less obvious words),
- a fourth pair for 1.8.0 (rules_shapes4_*.yaml): counter-speech that repeats or quotes
  hatred to reject it (quoted and rejected, asked and answered, negated, its speakers
  condemned, reported, mocked, told of by those it was said to, solidarity), and hateful
  posts that borrow that framing (a rebuttal that asserts the hate, "I'm not racist but",
  a quote agreed with),
- the functional suite (tests/fixtures/fairness/functional.yaml, `monitor eval`'s "functional"
  section, which scores the classifier alone).

Posts go through the rules as `monitor rules explain` runs them: English, no places, the
classifier's real scores (a rule that reads a score sees it). Hateful posts caught and benign
posts flagged are printed with the ratio of now to the baseline.

    .venv/bin/python benchmarks/rules_functional.py [--baseline REV] [--sets NAME ...]
        [--show-misses dev|dev2|dev3|dev4]

`--show-misses dev` (or dev2, dev3, dev4) lists a development set's hateful posts no rule
catches and its benign posts a rule flags (never a held-out set's: reading it would turn it
into another development set). `--sets dev4 heldout4` measures only those sets (`functional`
names the functional suite).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from monitor.classify import load_classifier  # noqa: E402
from monitor.classify.functional import load_suite  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.rules.engine import RuleSet, evaluate_post  # noqa: E402
from monitor.rules.examples import example_post  # noqa: E402
from monitor.rules.loader import load_ruleset  # noqa: E402
from monitor.rules.schema import Example  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "fairness"
SETS = {
    "dev": FIXTURES / "rules_shapes_dev.yaml",
    "heldout": FIXTURES / "rules_shapes_heldout.yaml",
    "dev2": FIXTURES / "rules_shapes2_dev.yaml",
    "heldout2": FIXTURES / "rules_shapes2_heldout.yaml",
    "dev3": FIXTURES / "rules_shapes3_dev.yaml",
    "heldout3": FIXTURES / "rules_shapes3_heldout.yaml",
    "dev4": FIXTURES / "rules_shapes4_dev.yaml",
    "heldout4": FIXTURES / "rules_shapes4_heldout.yaml",
    "dev5": FIXTURES / "rules_shapes5_dev.yaml",
}
# The sets whose posts may be read (`--show-misses`): the rules were written from them.
DEVELOPMENT = ["dev", "dev2", "dev3", "dev4", "dev5"]
# The last commit before the 1.7.0 rules for these shapes.
DEFAULT_BASELINE = "21090fc"


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    shape: str
    hateful: bool


def load_set(path: Path) -> list[Case]:
    posts = yaml.safe_load(path.read_text(encoding="utf-8"))["posts"]
    return [Case(p["text"], p["shape"], bool(p["hateful"])) for p in posts]


def functional_cases() -> list[Case]:
    return [Case(c.text, c.functionality, c.hateful) for c in load_suite()]


def rules_at(revision: str, into: Path) -> Path:
    """The rules/ folder as committed at `revision`, unpacked under `into`."""
    try:
        blob = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision, "rules"],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SystemExit(
            f"cannot read rules/ at {revision!r} with git archive: {detail.decode().strip() or exc}"
        ) from exc
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into / "rules"


def tension_flags(ruleset: RuleSet, cases: Sequence[Case], scores: Sequence[float]) -> list[bool]:
    flags = []
    for case, score in zip(cases, scores, strict=True):
        post = example_post(Example(case.text, 0, (), "en", None), "benchmark")
        hits = evaluate_post(ruleset, post, {"hostile": score}).hits
        flags.append(any(h.rule_id.split(".")[0] == "tension" for h in hits))
    return flags


async def hostile_scores(
    sets: Mapping[str, Sequence[Case]],
) -> tuple[dict[str, list[float]], float]:
    """Every set's hostile scores from one loaded classifier, and its hostile threshold."""
    clf = load_classifier(Settings())
    try:
        scores = {}
        for name, cases in sets.items():
            analyses = await clf.analyse([c.text for c in cases])
            scores[name] = [a.scores["hostile"] for a in analyses]
        return scores, clf.thresholds["hostile"]
    finally:
        await clf.close()


def _ratio(now: int, then: int) -> str:
    return f"{now / then:.2f}x" if then else "-"


def report(
    name: str,
    cases: Sequence[Case],
    classifier: Sequence[bool],
    before: Sequence[bool],
    after: Sequence[bool],
    out: Callable[[str], None] = print,
) -> None:
    rows: dict[tuple[bool, str], Counter[str]] = {}
    for case, c, b, a in zip(cases, classifier, before, after, strict=True):
        row = rows.setdefault((case.hateful, case.shape), Counter())
        row["n"] += 1
        row["classifier"] += c
        row["rules_before"] += b
        row["rules_now"] += a
        row["served_before"] += c or b
        row["served_now"] += c or a
    out(f"\n## {name}\n")
    out(
        "| shape | hateful | posts | classifier | rules before | rules now "
        "| served before | served now |"
    )
    out("|---|---|---|---|---|---|---|---|")
    totals = {True: Counter[str](), False: Counter[str]()}
    for (hateful, shape), row in sorted(rows.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        totals[hateful].update(row)
        out(
            f"| {shape} | {'yes' if hateful else 'no'} | {row['n']} | {row['classifier']} "
            f"| {row['rules_before']} | {row['rules_now']} | {row['served_before']} "
            f"| {row['served_now']} |"
        )
    for hateful, label in ((True, "hateful caught"), (False, "benign flagged")):
        t = totals[hateful]
        if not t["n"]:
            continue
        out(
            f"| **{label}** | | {t['n']} | {t['classifier']} | {t['rules_before']} "
            f"| {t['rules_now']} ({_ratio(t['rules_now'], t['rules_before'])}) "
            f"| {t['served_before']} | {t['served_now']} "
            f"({_ratio(t['served_now'], t['served_before'])}) |"
        )
    right_before = sum(
        (c or b) == k.hateful for k, c, b in zip(cases, classifier, before, strict=True)
    )
    right_now = sum((c or a) == k.hateful for k, c, a in zip(cases, classifier, after, strict=True))
    right_clf = sum(c == k.hateful for k, c in zip(cases, classifier, strict=True))
    n = len(cases)
    out(
        f"\nright: classifier alone {right_clf / n:.3f}, served before {right_before / n:.3f}, "
        f"served now {right_now / n:.3f}"
    )


def _version(ruleset: RuleSet) -> str:
    return next((p.version for p in ruleset.packs if p.id == "tension"), "absent")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision of rules/")
    parser.add_argument(
        "--rules-dir",
        type=Path,
        default=ROOT / "rules",
        help="the rules measured (default: rules/)",
    )
    parser.add_argument("--show-misses", choices=DEVELOPMENT, default=None)
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=[*SETS, "functional"],
        default=None,
        help="only these sets (default: all)",
    )
    args = parser.parse_args(argv)

    chosen = args.sets or [*SETS, "functional"]
    sets = {name: load_set(path) for name, path in SETS.items() if name in chosen}
    if "functional" in chosen:
        sets["functional suite"] = functional_cases()
    now = load_ruleset(args.rules_dir)
    with tempfile.TemporaryDirectory() as tmp:
        before = load_ruleset(rules_at(args.baseline, Path(tmp)))
    print(f"tension pack now {_version(now)}, at the baseline {args.baseline} {_version(before)}")
    all_scores, threshold = asyncio.run(hostile_scores(sets))
    for name, cases in sets.items():
        scores = all_scores[name]
        classifier = [s >= threshold for s in scores]
        after_flags = tension_flags(now, cases, scores)
        report(name, cases, classifier, tension_flags(before, cases, scores), after_flags)
        if args.show_misses == name:
            print(f"\n{name}: hateful posts no rule catches:")
            for case, flagged in zip(cases, after_flags, strict=True):
                if case.hateful and not flagged:
                    print(f"  [{case.shape}] {case.text}")
            print(f"\n{name}: benign posts a rule flags:")
            for case, flagged in zip(cases, after_flags, strict=True):
                if not case.hateful and flagged:
                    print(f"  [{case.shape}] {case.text}")


if __name__ == "__main__":
    main()
