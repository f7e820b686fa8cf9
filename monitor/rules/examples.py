"""Pure: run every rule's examples, and explain a rule set's verdict on one post.

`monitor rules test` and CI run `run_examples` on the shipped packs: each rule's `match`
examples must fire it and its `no_match` examples must not; each counter-speech entry's
`match` examples must be recognised as counter-speech. For a windowed rule an example tests its
per-post conditions (the window needs a stream; its tests use an injected clock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from monitor.rules.engine import RuleSet, asks_claims_back, language_code, own_words_match
from monitor.rules.normalise import Doc, make_doc
from monitor.rules.query import explain as explain_query
from monitor.rules.query import short
from monitor.rules.schema import CounterSpeech, Example, RuleSpec
from monitor.types import Post

Scorer = Callable[[Sequence[str]], list[dict[str, float]]]
EXAMPLE_TIME = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def example_post(example: Example, origin: str) -> Post:
    """A synthetic post for an example (fictional by construction: the text is the example)."""
    return Post(
        id=f"example:{origin}:{example.line}",
        platform="example",
        source="rules-test",
        text=example.text,
        language=example.language,
        created_at=EXAMPLE_TIME,
        collected_at=EXAMPLE_TIME,
        author_ref="example",
        places=example.places,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why one rule did or did not fire on one post, condition by condition."""

    rule: RuleSpec
    fired: bool
    lines: tuple[str, ...]


def counter_speech_match(ruleset: RuleSet, rule: RuleSpec, doc: Doc) -> CounterSpeech | None:
    if not rule.counter_speech:
        return None
    for pack in ruleset.packs:
        if pack.id == rule.pack:
            return next((c for c in pack.counter_speech if c.query.test(doc)), None)
    return None


def verdict(
    ruleset: RuleSet,
    rule: RuleSpec,
    post: Post,
    scores: Mapping[str, float] | None,
    doc: Doc | None = None,
    *,
    detail: bool = True,
) -> Verdict:
    """Evaluate every condition of `rule` on `post` (no short-cuts), saying why.

    `scores` None means no classifier was available: score conditions count as unmet.
    """
    doc = doc or make_doc(post.text)
    ok = True
    lines: list[str] = []

    def note(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        lines.append(f"[{'yes' if passed else 'no '}] {text}")

    if rule.languages is not None:
        code = language_code(post.language)
        note(code in rule.languages, f"language {code} in {', '.join(sorted(rule.languages))}")
    if rule.place is not None:
        where = ", ".join(p.ward or p.locality or p.name for p in post.places) or "no place"
        note(rule.place.accepts(post.places), f"place: {rule.place} (post mentions {where})")
    for cond in rule.scores:
        if scores is None:
            note(False, f"score {cond}: no classifier available, so this counts as unmet")
            continue
        value = scores.get(cond.head)
        if value is None:
            note(False, f"score {cond}: the classifier gives no {cond.head!r} score")
        else:
            note(cond.cmp.holds(value), f"score {cond.head} {value:.2f} {cond.cmp}")
    if rule.query is not None:
        passed = rule.query.test(doc)
        note(passed, f"query: {short(rule.query.source, 110)}")
        if detail:
            lines.extend("      " + line for line in explain_query(rule.query.ast, doc))
    if rule.ignore_quoted and (
        doc.own_words() is not doc
        or (asks_claims_back(post.language) and bool(doc.asked_claims()[1]))
    ):
        own = own_words_match(rule, doc, post.language)
        note(
            own,
            "quoted_words: ignore (outside its quotations and the claims it asks back and "
            "answers, the query "
            f"{'matches' if own else 'does not match'})",
        )
    if rule.unless is not None:
        hit = rule.unless.test(doc)
        note(not hit, f"unless: {short(rule.unless.source, 90)} ({'present' if hit else 'absent'})")
    cs = counter_speech_match(ruleset, rule, doc)
    if cs is not None:
        note(False, f"counter-speech: excluded by {cs.id} ({cs.description})")
    if rule.window is not None:
        lines.append(f"[...] window {rule.window.describe()}: needs the stream")
    return Verdict(rule, ok, tuple(lines))


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """One example's outcome: what was expected, what happened, and the why."""

    origin: str  # rule or counter-speech id
    file: str
    line: int
    text: str
    expected: bool
    got: bool
    lines: tuple[str, ...] = ()
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.expected == self.got


def run_examples(
    ruleset: RuleSet, scorer: Scorer | None = None, *, include_disabled: bool = True
) -> list[ExampleResult]:
    """Every example of every rule and counter-speech entry. `scorer` scores example texts
    that give no `scores:` of their own; without one, score conditions count as unmet."""
    rules = [r for p in ruleset.packs for r in p.rules if include_disabled or r.enabled]
    needs_scores = [
        ex.text for r in rules if r.scores for ex in (*r.match, *r.no_match) if ex.scores is None
    ]
    scored: dict[str, dict[str, float]] = {}
    if scorer is not None and needs_scores:
        unique = list(dict.fromkeys(needs_scores))
        scored = dict(zip(unique, scorer(unique), strict=True))
    results: list[ExampleResult] = []
    for rule in rules:
        for expected, examples in ((True, rule.match), (False, rule.no_match)):
            for ex in examples:
                scores: Mapping[str, float] | None
                note = ""
                if ex.scores is not None:
                    scores = ex.scores
                elif rule.scores and scorer is not None:
                    scores, note = scored[ex.text], "scored by the classifier"
                elif rule.scores:
                    scores, note = None, "no classifier: score conditions count as unmet"
                else:
                    scores = {}
                v = verdict(ruleset, rule, example_post(ex, rule.id), scores)
                results.append(
                    ExampleResult(
                        rule.id, rule.file, ex.line, ex.text, expected, v.fired, v.lines, note
                    )
                )
    for pack in ruleset.packs:
        for cs in pack.counter_speech:
            for expected, examples in ((True, cs.match), (False, cs.no_match)):
                for ex in examples:
                    doc = make_doc(ex.text)
                    got = cs.query.test(doc)
                    results.append(
                        ExampleResult(
                            cs.id,
                            cs.file,
                            ex.line,
                            ex.text,
                            expected,
                            got,
                            tuple(explain_query(cs.query.ast, doc)),
                        )
                    )
    return results


def explain_post(
    ruleset: RuleSet,
    post: Post,
    scores: Mapping[str, float] | None,
    *,
    everything: bool = False,
) -> list[Verdict]:
    """Verdicts of the rules a post could match (its words name them), or of every rule."""
    doc = make_doc(post.text)
    candidates = set(ruleset.candidates(doc))
    return [
        verdict(ruleset, rule, post, scores, doc)
        for i, rule in enumerate(ruleset.rules)
        if everything or i in candidates
    ]
