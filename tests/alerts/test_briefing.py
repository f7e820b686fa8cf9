"""Digests written for their reader: plain sentences, no raw labels, no zero-post rows,
small counts as "fewer than 10", and e-mail colours a reader can read (WCAG AA 4.5:1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from monitor.alerts import briefing
from monitor.alerts.render import LEVEL_COLOURS, make_environment, render_digest

ROOT = Path(__file__).resolve().parents[2]
RAW = ("kind=", "area=", "severity=", "unplaced", "(ward)", "0 posts", "<10")


def incident(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": 4,
        "headline": "Tension after the fire in Little Horton",
        "family": "tension",
        "status": "open",
        "level": "critical",
        "trend": "rising",
        "kinds": ["threat", "call_to_gather"],
        "places": ["Little Horton", "City"],
        "post_count": 103,
        "authors": "93",
        "alerts": 21,
        "alerts_in_period": 12,
        "gathering": "Centenary Square, Friday 19:00",
        "first_seen": "2026-11-05T19:44:49+00:00",
        "last_seen": "2026-11-06T06:50:00+00:00",
        "url": None,
    }
    return {**base, **over}


def alert(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": 7,
        "summary": "rising tension in Little Horton (ward): critical; rise ×12.7 (needs 8)",
        "labels": {
            "area": "Little Horton",
            "area_kind": "ward",
            "kind": "rising_tension",
            "level": "critical",
        },
        "status": "new",
        "post_count": 16,
        "period_posts": 16,
        "authors": "<10",
        "first_seen": "2026-11-05T19:44:49+00:00",
        "last_seen": "2026-11-05T23:10:00+00:00",
        "excerpts": [],
        "url": None,
    }
    return {**base, **over}


def test_an_incident_reads_as_where_when_level_change_next_and_action() -> None:
    s = briefing.incident_sentences(incident(), datetime(2026, 11, 5, 7, 0, tzinfo=UTC))
    assert s["where"] == "Where: Little Horton and City."
    assert s["when"] == "When: from Thu 05 Nov 19:44 to Fri 06 Nov 06:50 (UK time)."
    assert s["level"].startswith("Level: critical, rising, from 103 posts by 93 accounts")
    assert s["change"] == "New since the last digest: first seen Thu 05 Nov 19:44."
    assert s["next"] == "Expected next: a gathering at Centenary Square, Friday 19:00."
    assert s["action"].startswith("Recommended action: Consider a proportionate")
    later = briefing.incident_sentences(incident(status="cooling"), "2026-11-06T07:00:00+00:00")
    assert later["change"].startswith("Continuing since Thu 05 Nov 19:44; level now critical")
    assert "cooling" in later["change"]


def test_an_alert_reads_as_a_sentence_without_labels_and_small_counts_are_words() -> None:
    text = briefing.alert_sentence(alert())
    assert text == (
        "Rising tension in Little Horton: level critical; 16 posts from fewer than 10 "
        "accounts, Thu 05 Nov 19:44 to Thu 05 Nov 23:10."
    )
    unplaced = briefing.alert_sentence(
        alert(labels={"area": "unplaced", "kind": "threat", "topic": "vigilante"})
    )
    assert unplaced is not None and "with no named place" in unplaced
    assert "talk of vigilante action" in unplaced
    disorder = briefing.alert_sentence(
        alert(labels={"area": "Manningham", "kind": "tension", "topic": "disorder"})
    )
    assert disorder is not None and "(disorder described as it happens)" in disorder
    identity = briefing.alert_sentence(
        alert(labels={"area": "Manningham", "kind": "rumour", "topic": "attacker_identity"})
    )
    assert identity is not None and "(claims naming the group an attacker belongs to)" in identity
    derogation = briefing.alert_sentence(
        alert(labels={"area": "Toller", "kind": "hostility", "topic": "derogation"})
    )
    assert derogation is not None and derogation.startswith(
        "Hostile posts (a named group called criminals or filth, or hated outright) in Toller"
    )
    wished = briefing.alert_sentence(
        alert(labels={"area": "Toller", "kind": "hostility", "topic": "violence_wished"})
    )
    assert wished is not None and "(violence wished on a named group)" in wished
    assert briefing.alert_sentence(alert(period_posts=0)) is None  # no zero-post rows
    # Built after its period (late, or the demo's replay): times are those of the period.
    clamped = briefing.alert_sentence(
        alert(first_seen="2026-11-03T09:46:00+00:00", last_seen="2026-11-06T23:06:00+00:00"),
        "2026-11-05T07:00:00+00:00",
        "2026-11-06T07:00:00+00:00",
    )
    assert clamped is not None and "Thu 05 Nov 07:00 to Fri 06 Nov 07:00." in clamped


def view(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "liaison-daily",
        "title": "Daily community tension digest",
        "description": "",
        "period": "2026-11-06T07:00",
        "period_start": "2026-11-05T07:00:00+00:00",
        "period_end": "2026-11-06T07:00:00+00:00",
        "period_label": "Thu 05 Nov 2026 07:00 – Fri 06 Nov 2026 07:00 (UK time)",
        "late": False,
        "sections": ["levels", "incidents", "alerts"],
        "levels": {
            "buckets": ["07:00", "19:00"],
            "rows": [
                {
                    "area": "Little Horton",
                    "total": 10,
                    "cells": [{"count": 2, "level": lvl} for lvl in ("", *LEVEL_COLOURS.keys())],
                    "peak": "critical",
                }
            ],
            "legend": [k for k in LEVEL_COLOURS if k],
        },
        "levels_text": "",
        "map_uri": None,
        "map_attribution": "",
        "alerts": [],
        "alerts_by_kind": [],
        "incidents": [],
        "rumours": [],
        "not_scored": [],
    }
    return {**base, **over}


def rendered(**over: object) -> tuple[str, str]:
    envs = make_environment(ROOT / "alerts" / "templates")
    start = "2026-11-05T07:00:00+00:00"
    inc = incident(headline="<script>alert(1)</script> in Little Horton")
    inc["sentences"] = briefing.incident_sentences(inc, start)
    al = alert()
    al["sentence"] = briefing.alert_sentence(al)
    msg = render_digest(view(incidents=[inc], alerts=[al], **over), envs)
    return msg.text, msg.html


def test_the_liaison_digest_says_where_when_and_what_next_with_no_raw_labels() -> None:
    text, html = rendered()
    for body in (text, html):
        assert "Little Horton" in body
        assert "Expected next: a gathering at Centenary Square, Friday 19:00." in body
        assert "Recommended action:" in body
        assert "fewer than 10 accounts" in body
    for raw in RAW:
        assert raw not in text, raw
    assert "<script>" not in html and "&lt;script&gt;" in html  # escaped, never run


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_coloured_cell_in_the_email_meets_wcag_aa_contrast() -> None:
    _, html = rendered()
    pairs = re.findall(r"background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6})", html)
    # Every level's cell and legend chip names its text colour; critical included.
    assert {bg for bg, _ in pairs} >= set(LEVEL_COLOURS.values())
    for bg, fg in pairs:
        assert contrast(bg, fg) >= 4.5, (bg, fg, round(contrast(bg, fg), 2))
    assert round(contrast("#ffffff", "#000000"), 1) == 21.0  # the formula itself


def test_the_weekly_summary_has_the_shape_of_a_community_tension_summary() -> None:
    rumour = incident(
        id=5,
        headline="Rumour spreading in Toller, City",
        family="rumour",
        level="medium",
        places=["Toller", "City", "unplaced"],
        gathering=None,
    )
    week = view(incidents=[incident(), rumour])
    s = briefing.tension_summary(week, flagged=420, before=150)
    assert s["overall"] == (
        "Overall level: critical. Trend over the period: rising (420 flagged posts, up from 150)."
    )
    assert s["drivers"][0].startswith("Tension after the fire in Little Horton (Little Horton")
    areas = {a["area"]: a["items"] for a in s["by_area"]}
    assert set(areas) == {"Little Horton", "City", "Toller"}  # never "unplaced"
    assert len(areas["City"]) == 2
    assert s["events"] == [
        "A gathering at Centenary Square, Friday 19:00, linked to: "
        "Tension after the fire in Little Horton."
    ]
    assert any("A rumour spread in Toller and City" in r for r in s["reassurance"])
    assert any("Little Horton and City" in r for r in s["reassurance"])
    assert s["actions"][0].startswith("Little Horton and City: Consider a proportionate")
    quiet = briefing.tension_summary(view(levels=None), flagged=0, before=0)
    assert quiet["overall"] == "Overall level: normal. Trend over the period: steady (quiet)."
    assert briefing.trend_of(90, 100).startswith("steady")
    assert briefing.trend_of(50, 100).startswith("falling")


def test_the_summary_is_rendered_first_and_escaped() -> None:
    inc = incident(headline="<b>fire</b> in Little Horton")
    summary = briefing.tension_summary(view(incidents=[inc]), flagged=3, before=3)
    msg = render_digest(
        view(summary=summary, incidents=[], sections=["summary", "levels"]),
        make_environment(ROOT / "alerts" / "templates"),
    )
    assert msg.text.index("COMMUNITY TENSION SUMMARY") < msg.text.index("LEVELS BY PLACE")
    for heading in ("Drivers:", "Incidents by area:", "Forthcoming events:"):
        assert heading in msg.text
    assert "Community reassurance" in msg.html and "Recommended actions" in msg.html
    assert "<b>fire</b>" not in msg.html and "&lt;b&gt;fire&lt;/b&gt;" in msg.html
