"""Why an evidence post was flagged (monitor.web.explain.reasons): the classifier's line."""

from __future__ import annotations

from typing import Any

from monitor.web.explain import reasons

THRESHOLDS = {"hostile": 0.55, "rumour": 0.393}


def row(text: str, **scores: float) -> dict[str, object]:
    return {
        "text": text,
        "scores": scores,
        "rules": [f"classifier:{head}" for head in scores],
        "created_at": None,
    }


def test_the_classifier_line_gives_the_score_and_threshold() -> None:
    (reason,) = reasons(row("Fictional: one sentence only", hostile=0.61), None, THRESHOLDS)
    assert reason.title == "Classifier: hostile"
    assert reason.lines == ("score 0.61, threshold 0.55",)


def test_a_longer_post_says_a_sentence_alone_can_flag_it() -> None:
    """A post flagged by one sentence read alone shows a score mapped over 0.55: the line
    says the rule exists, for posts it can apply to."""
    mixed = row("Fictional: they are vermin. It was raining earlier.", hostile=0.58, rumour=0.5)
    hostile, rumour = reasons(mixed, None, THRESHOLDS, sentence_threshold=0.74)
    assert hostile.lines == ("score 0.58, threshold 0.55 (or one sentence read alone at 0.74)",)
    assert rumour.lines == ("score 0.50, threshold 0.39",)
    single = row("Fictional: one sentence only", hostile=0.61)
    assert reasons(single, None, THRESHOLDS, sentence_threshold=0.74)[0].lines == (
        "score 0.61, threshold 0.55",
    )
    # A model without the rule (or the keyword classifier) says nothing of it.
    assert reasons(mixed, None, THRESHOLDS)[0].lines == ("score 0.58, threshold 0.55",)


async def test_the_alert_page_names_the_sentence_rule_of_the_running_classifier(
    client: Any, users: dict[str, str], seeded: Any, runtime: Any
) -> None:
    """Through the page: the running classifier's sentence rule (the keyword classifier has
    none; one is given to it here) reaches the evidence's classifier line."""
    from monitor.classify.sentences import SentenceRule

    from .conftest import sign_in, state_purpose

    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    pages = [await (await client.get(f"/alerts/{i}")).text() for i in seeded.alert_ids]
    assert any("Classifier: hostile" in p for p in pages), "no evidence flagged by the classifier"
    assert not any("read alone" in p for p in pages)
    runtime.classifier.sentence_rule = SentenceRule(0.74, 0.55)
    try:
        pages = [await (await client.get(f"/alerts/{i}")).text() for i in seeded.alert_ids]
    finally:
        del runtime.classifier.sentence_rule
    # "(fictional) Send them back, simple as. Not welcome here in Manningham" is two sentences.
    assert any("(or one sentence read alone at 0.74)" in p for p in pages)
