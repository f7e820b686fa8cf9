"""`monitor rules check | test | explain | scan`: validate packs, run their examples, explain a
post, scan a batch of posts as the service would."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from monitor.classify.languages import is_covered
from monitor.cli.context import Context, pass_context
from monitor.config import ConfigError, resolve_home
from monitor.rules.engine import RuleSet
from monitor.rules.examples import Scorer, example_post, explain_post, run_examples
from monitor.rules.loader import load_ruleset
from monitor.rules.normalise import make_doc
from monitor.rules.schema import Example, PackError, Problem, fold_name
from monitor.types import PlaceMatch

_rules_dir_option = click.option(
    "--rules-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of rule packs. Default: rules/ in the configured home.",
)


def _rules_dir(ctx: Context, rules_dir: Path | None) -> Path:
    if rules_dir is not None:
        return rules_dir
    try:
        return resolve_home(ctx.settings) / "rules"
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _load(ctx: Context, rules_dir: Path | None, packs: Sequence[str]) -> RuleSet:
    try:
        ruleset = load_ruleset(_rules_dir(ctx, rules_dir), only=tuple(packs))
    except PackError as exc:
        _print_problems(exc.problems)
        errors = sum(1 for p in exc.problems if p.level == "error")
        raise click.ClickException(f"{errors} error(s): the rule packs were refused") from None
    _print_problems(list(ruleset.warnings))
    return ruleset


def _print_problems(problems: Sequence[Problem]) -> None:
    for p in problems:
        click.echo(str(p), err=True)


def _scorer(ctx: Context) -> tuple[Scorer | None, str]:
    """The configured classifier as a scorer, or None and why (score conditions then fail)."""
    try:
        from monitor.classify import load_classifier  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None, "no classifier module: score conditions count as unmet"
    try:
        clf = load_classifier(ctx.settings, resolve_home(ctx.settings))
    except Exception as exc:  # any failure to load means: run without scores, and say so
        return None, f"classifier unavailable ({exc}): score conditions count as unmet"

    def score(texts: Sequence[str]) -> list[dict[str, float]]:
        async def run() -> list[dict[str, float]]:
            try:
                return [dict(s) for s in await clf.score(list(texts))]
            finally:
                await clf.close()

        return asyncio.run(run())

    return score, f"scores from the {getattr(clf, 'name', 'configured')} classifier"


@click.group("rules")
def rules_group() -> None:
    """Rule packs: check them, run their examples, explain what fires on a post."""


@rules_group.command("check")
@click.argument("packs", nargs=-1)
@_rules_dir_option
@click.option(
    "--strict", is_flag=True, help="Treat warnings (e.g. a passed review date) as errors."
)
@pass_context
def check_command(
    ctx: Context, packs: tuple[str, ...], rules_dir: Path | None, strict: bool
) -> None:
    """Validate rule packs (all, or the PACKS named): every error with file, line and reason."""
    ruleset = _load(ctx, rules_dir, packs)
    for pack in ruleset.packs:
        windowed = sum(1 for r in pack.rules if r.window is not None)
        disabled = sum(1 for r in pack.rules if not r.enabled)
        click.echo(
            f"{pack.id} {pack.version}: {len(pack.rules)} rules ({windowed} windowed, "
            f"{disabled} disabled), {len(pack.counter_speech)} counter-speech entries; "
            f"owner {pack.owner}; review by {pack.review_by.isoformat()}"
        )
    click.echo(f"ok: {len(ruleset.rules)} rules in force")
    if strict and ruleset.warnings:
        raise click.ClickException(f"{len(ruleset.warnings)} warning(s) and --strict")


@rules_group.command("test")
@click.argument("packs", nargs=-1)
@_rules_dir_option
@click.option("-v", "--verbose", is_flag=True, help="Show every example, not only failures.")
@click.option(
    "--no-classifier",
    is_flag=True,
    help="Do not load the classifier for examples without their own scores.",
)
@pass_context
def test_command(
    ctx: Context,
    packs: tuple[str, ...],
    rules_dir: Path | None,
    verbose: bool,
    no_classifier: bool,
) -> None:
    """Run every rule's examples: `match` ones must fire it, `no_match` ones must not."""
    ruleset = _load(ctx, rules_dir, packs)
    needs = any(
        ex.scores is None
        for p in ruleset.packs
        for r in p.rules
        if r.scores
        for ex in (*r.match, *r.no_match)
    )
    scorer: Scorer | None = None
    if needs and not no_classifier:
        scorer, how = _scorer(ctx)
        click.echo(f"examples without their own scores: {how}")
    results = run_examples(ruleset, scorer)
    failed = [r for r in results if not r.passed]
    for r in results if verbose else failed:
        status = "ok  " if r.passed else "FAIL"
        want = "match" if r.expected else "no match"
        got = "matched" if r.got else "did not match"
        click.echo(f"{status} {r.file}:{r.line}: {r.origin}: expected {want}, {got}")
        click.echo(textwrap.indent(textwrap.fill(r.text, 96), "       | "))
        if not r.passed:
            for line in r.lines:
                click.echo("       " + line)
            if r.note:
                click.echo(f"       ({r.note})")
    rules = len({r.origin for r in results})
    click.echo(f"{len(results)} examples of {rules} rules and exclusions: {len(failed)} failed")
    if failed:
        raise SystemExit(1)


def _place(ward: str | None, locality: str | None, district: str | None) -> tuple[PlaceMatch, ...]:
    if not (ward or locality or district):
        return ()
    name = ward or locality or district or ""
    return (
        PlaceMatch(
            place_id=f"explain/{fold_name(name)}",
            name=name,
            kind="ward" if ward else "locality" if locality else "district",
            ward=ward,
            locality=locality,
            district=district or "",
            matched=name,
        ),
    )


@rules_group.command("explain")
@click.argument("text")
@_rules_dir_option
@click.option("--pack", "packs", multiple=True, help="Only these packs (repeatable).")
@click.option("--ward", default=None, help="Treat the post as mentioning this ward.")
@click.option("--locality", default=None, help="…this locality.")
@click.option("--district", default=None, help="…this district.")
@click.option("--language", default=None, help="The post's language code, e.g. en.")
@click.option(
    "--score",
    "given",
    multiple=True,
    metavar="HEAD=VALUE",
    help="Use this score instead of the classifier's (repeatable), e.g. hostile=0.9.",
)
@click.option("--no-classifier", is_flag=True, help="Do not score the text with the classifier.")
@click.option("--all", "everything", is_flag=True, help="Show every rule, not just candidates.")
@pass_context
def explain_command(
    ctx: Context,
    text: str,
    rules_dir: Path | None,
    packs: tuple[str, ...],
    ward: str | None,
    locality: str | None,
    district: str | None,
    language: str | None,
    given: tuple[str, ...],
    no_classifier: bool,
    everything: bool,
) -> None:
    """Show which rules fire on TEXT, and for each rule every condition and why."""
    ruleset = _load(ctx, rules_dir, packs)
    overrides: dict[str, float] = {}
    for item in given:
        head, _, value = item.partition("=")
        try:
            overrides[head.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: write HEAD=VALUE, e.g. hostile=0.9") from None
    scores: dict[str, float] | None = None
    how = "no classifier: score conditions count as unmet"
    if not no_classifier:
        scorer, how = _scorer(ctx)
        if scorer is not None:
            scores = scorer([text])[0]
    if overrides:
        scores = {**(scores or {}), **overrides}
        how += "; given on the command line: " + ", ".join(
            f"{k}={v:g}" for k, v in overrides.items()
        )
    example = Example(text, 0, _place(ward, locality, district), language, scores)
    post = example_post(example, "explain")
    doc = make_doc(text)
    click.echo(f"words: {' '.join(doc.words)}")
    click.echo(f"scores: {how}")
    if scores:
        click.echo("        " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(scores.items())))
    verdicts = explain_post(ruleset, post, scores, everything=everything)
    fired = [v for v in verdicts if v.fired]
    for v in sorted(verdicts, key=lambda v: not v.fired):
        labels = " ".join(f"{k}={val}" for k, val in v.rule.labels.items())
        status = "FIRES" if v.fired else "no"
        click.echo(f"\n{v.rule.id}: {status}  [{labels}]  ({v.rule.file}:{v.rule.line})")
        click.echo(f"  {v.rule.description}")
        for line in v.lines:
            click.echo("  " + line)
    others = len(ruleset.rules) - len(verdicts)
    click.echo(
        f"\n{len(fired)} rule(s) fire"
        + (f"; {others} other rules need words this post does not have" if others else "")
    )


@rules_group.command("scan")
@_rules_dir_option
@click.option("--pack", "packs", multiple=True, help="Only these packs (repeatable).")
@click.option(
    "--language",
    default=None,
    help="Every post's language code, e.g. en. Default: detected as ingest detects it.",
)
@click.option("--no-classifier", is_flag=True, help="Do not score the posts with the classifier.")
@pass_context
def scan_command(
    ctx: Context,
    rules_dir: Path | None,
    packs: tuple[str, ...],
    language: str | None,
    no_classifier: bool,
) -> None:
    """Read posts one per line on stdin; write one JSON object per line: what the service
    would make of each.

    Each object has `language` (as ingest detects it, or --language), `scored` (whether the
    classifier scores posts in that language), `scores` and `flags` when scored (as `monitor
    classify` writes them), `rules` (each rule that fires, with its labels: id, kind, topic,
    severity) and `flagged` (a classifier flag or a rule: what the overview counts as a
    flagged post). Only per-post rules can fire here: places are not matched and there is no
    stream, so rules that need a place or a build-up of posts do not (`monitor rules explain
    --ward` shows one post with a place). Empty lines get a line of output too, so output
    lines match input.
    """
    import json
    import sys

    from monitor.classify.commands import line_chunks
    from monitor.ingest.core import detect_language, normalise_text
    from monitor.rules.scan import scan_post

    ruleset = _load(ctx, rules_dir, packs)
    clf: Any = None
    if not no_classifier:
        from monitor.classify import load_classifier  # type: ignore[attr-defined,unused-ignore]

        try:
            clf = load_classifier(ctx.settings, resolve_home(ctx.settings))
        except Exception as exc:
            raise click.ClickException(
                f"cannot load the classifier ({exc}); --no-classifier runs the rules alone"
            ) from None

    async def score(posts: list[tuple[str, str | None]]) -> list[dict[str, float] | None]:
        if clf is None:
            return [None] * len(posts)
        analyses = await clf.analyse([text for text, _ in posts])
        covered: frozenset[str] | None = getattr(clf, "covered_languages", None)
        # As the pipeline does: a post in a language the model does not cover keeps no
        # scores (and an empty line has nothing to score).
        return [
            dict(a.scores) if text.strip() and is_covered(lang, covered) else None
            for (text, lang), a in zip(posts, analyses, strict=True)
        ]

    async def write(lines: list[str]) -> None:
        texts = [normalise_text(line, False) for line in lines]
        posts = [(t, language or detect_language(t)) for t in texts]
        thresholds = clf.thresholds if clf is not None else {}
        for (text, lang), scores in zip(posts, await score(posts), strict=True):
            record = scan_post(ruleset, text, lang, scores, thresholds)
            if clf is not None:
                record["model"] = clf.name
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    async def run() -> None:
        try:
            for chunk in line_chunks(sys.stdin):
                await write(chunk)
        finally:
            if clf is not None:
                await clf.close()

    asyncio.run(run())


def register(cli: click.Group) -> None:
    cli.add_command(rules_group)
