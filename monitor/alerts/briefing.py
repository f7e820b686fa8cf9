"""Pure: digest entries as plain sentences for their reader (a police liaison officer, a
communities team), not as label tables.

Each sentence says where, when, what level, what changed since the last digest, what is
expected next (a gathering's place and time, as the incidents layer extracted it) and the
recommended action. Raw routing labels ("kind=...", "unplaced", "(ward)") never appear, small
account counts read "fewer than 10", and rows with no posts in the period are left out. The
sentences are plain text: templates escape them (HTML autoescape) like everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
UNPLACED = "unplaced"

KIND_PHRASES = {
    "rising_tension": "Rising tension",
    "tension": "Tension",
    "hostility": "Hostile posts",
    "threat": "Threats",
    "call_to_gather": "Calls to gather",
    "rumour": "A rumour",
    "rumour_spreading": "A rumour spreading",
}
TOPIC_PHRASES = {
    "vigilante": "talk of vigilante action",
    "gathering": "a gathering being organised",
    "gathering_spreading": "calls to a gathering spreading",
    "disorder": "disorder described as it happens",
    "attacker_identity": "claims naming the group an attacker belongs to",
    "dehumanising_language": "a group called vermin, disease or animals",
    "derogation": "a named group called criminals or filth, or hated outright",
    "exclusion": "a group told it does not belong",
    "violence_wished": "violence wished on a named group",
}

# What the liaison officer is asked to consider, by level. People decide: these are prompts
# for a decision, never something the system does.
ACTIONS = {
    "critical": (
        "Consider a proportionate, visible presence and early contact with community and "
        "faith leaders; share this with the council's community safety lead today."
    ),
    "high": (
        "Brief the neighbourhood policing team and agree reassurance messages with the "
        "council's communications team."
    ),
    "elevated": "Keep under review; no action needed beyond the usual neighbourhood contact.",
    "medium": "Keep under review; no action needed beyond the usual neighbourhood contact.",
    "normal": "No action needed.",
    "low": "No action needed.",
}


def when(value: datetime | str) -> str:
    """'Thu 05 Nov 19:44' in UK time."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(LONDON).strftime("%a %d %b %H:%M")


def accounts(count: int | str) -> str:
    """Distinct accounts as a reader says it; suppressed small counts ("<10") included."""
    text = str(count)
    if text.startswith("<"):
        return f"fewer than {text[1:]} accounts"
    return "1 account" if text == "1" else f"{text} accounts"


def posts(count: int) -> str:
    return "1 post" if count == 1 else f"{count} posts"


def place_list(places: list[str]) -> str:
    named = [p for p in places if p and p != UNPLACED]
    if not named:
        return "no named place"
    if len(named) == 1:
        return named[0]
    return ", ".join(named[:-1]) + " and " + named[-1]


def action_for(level: str) -> str:
    return ACTIONS.get(level, ACTIONS["elevated"])


def _at(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _within(
    first: datetime | str, last: datetime | str, end: datetime | str | None
) -> tuple[datetime, datetime]:
    """(first, last) seen, with `last` no later than the period's end: a digest built after
    its period (a late one, or the demo's replay) reports the period, not what came later."""
    a, b = _at(first), _at(last)
    if end is not None:
        b = min(b, _at(end))
    return a, max(a, b)


def incident_sentences(
    incident: Mapping[str, Any],
    period_start: datetime | str,
    period_end: datetime | str | None = None,
) -> dict[str, str]:
    """An incident as: what, where, when, level, change since the last digest, what next,
    recommended action. `incident` is the digest's incident entry (digests._incidents)."""
    start = _at(period_start)
    first, last = _within(incident["first_seen"], incident["last_seen"], period_end)
    level, trend = incident["level"], incident["trend"]
    change = (
        f"New since the last digest: first seen {when(first)}."
        if first > start
        else f"Continuing since {when(first)}; level now {level}, trend {trend}."
    )
    if incident["status"] == "cooling":
        change += " Posting has slowed (cooling)."
    elif incident["status"] == "closed":
        change += " It has ended (closed)."
    return {
        "where": f"Where: {place_list(list(incident['places']))}.",
        "when": f"When: from {when(first)} to {when(last)} (UK time).",
        "level": f"Level: {level}, {trend}, from {posts(int(incident['post_count']))} by "
        f"{accounts(incident['authors'])}.",
        "change": change,
        "next": (
            f"Expected next: a gathering at {incident['gathering']}."
            if incident.get("gathering")
            else "Expected next: no gathering or event named in the posts."
        ),
        "action": f"Recommended action: {action_for(level)}",
    }


def alert_sentence(
    alert: Mapping[str, Any],
    period_start: datetime | str | None = None,
    period_end: datetime | str | None = None,
) -> str | None:
    """One alert as a sentence, or None when it had no posts in the period (no zero rows)."""
    if int(alert.get("period_posts", alert["post_count"]) or 0) == 0:
        return None
    labels = alert["labels"]
    kind = labels.get("kind", "")
    what = KIND_PHRASES.get(kind, "Posts of concern")
    topic = TOPIC_PHRASES.get(labels.get("topic", ""))
    if topic:
        what += f" ({topic})"
    area = labels.get("area", "")
    where = f"in {area}" if area and area != UNPLACED else "with no named place"
    level = labels.get("level") or labels.get("severity") or "not rated"
    n = int(alert.get("period_posts", alert["post_count"]))
    first, last = _within(alert["first_seen"], alert["last_seen"], period_end)
    if period_start is not None:
        first = min(max(first, _at(period_start)), last)
    return (
        f"{what} {where}: level {level}; {posts(n)} from {accounts(alert['authors'])}, "
        f"{when(first)} to {when(last)}."
    )


# --- the weekly Community Tension Summary ---------------------------------------------------

LEVEL_ORDER = {"normal": 1, "low": 1, "elevated": 2, "medium": 2, "high": 3, "critical": 4}


def trend_of(flagged: int, before: int) -> str:
    """This period's flagged posts against the period before, in words."""
    if before == 0:
        return "rising (nothing was flagged the period before)" if flagged else "steady (quiet)"
    ratio = flagged / before
    if ratio >= 1.25:
        return f"rising ({flagged} flagged posts, up from {before})"
    if ratio <= 0.8:
        return f"falling ({flagged} flagged posts, down from {before})"
    return f"steady ({flagged} flagged posts, {before} the period before)"


def tension_summary(view: Mapping[str, Any], flagged: int, before: int) -> dict[str, Any]:
    """The week in the shape of a police Community Tension Summary: overall level and trend,
    drivers, incidents by area, forthcoming events, community reassurance and recommended
    actions. Built only from the digest's aggregates (no post text)."""
    incidents = list(view.get("incidents") or [])
    peaks = [r.get("peak") or "" for r in (view.get("levels") or {}).get("rows", [])]
    levels = [str(i["level"]) for i in incidents] + [p for p in peaks if p]
    overall = max(levels, key=lambda lvl: LEVEL_ORDER.get(lvl, 0)) if levels else "normal"
    drivers = [
        f"{i['headline']} ({place_list(list(i['places']))}; level {i['level']})" for i in incidents
    ]
    by_area: dict[str, list[str]] = {}
    for i in incidents:
        for place in [p for p in i["places"] if p != UNPLACED][:3] or ["No named place"]:
            by_area.setdefault(place, []).append(f"{i['headline']} (level {i['level']})")
    events = [
        f"A gathering at {i['gathering']}, linked to: {i['headline']}."
        for i in incidents
        if i.get("gathering")
    ]
    # Places in the order the incidents give them (most evidence first), each once.
    rumour_places = list(
        dict.fromkeys(
            p
            for i in incidents
            if i.get("family") == "rumour"
            for p in i["places"]
            if p != UNPLACED
        )
    )
    reassurance = []
    if rumour_places:
        reassurance.append(
            "A rumour spread in " + place_list(rumour_places) + ": agree a factual, calm message "
            "with the council's communications team and community partners there."
        )
    tense = list(
        dict.fromkeys(
            p
            for i in incidents
            if LEVEL_ORDER.get(str(i["level"]), 0) >= 3 and i.get("family") != "rumour"
            for p in i["places"]
            if p != UNPLACED
        )
    )
    if tense:
        reassurance.append(
            "Visible reassurance and contact with community and faith leaders in "
            + place_list(tense)
            + "."
        )
    actions: list[str] = []
    for i in sorted(incidents, key=lambda i: -LEVEL_ORDER.get(str(i["level"]), 0)):
        action = f"{place_list(list(i['places'])[:3])}: {action_for(str(i['level']))}"
        if action not in actions:
            actions.append(action)
    return {
        "overall": f"Overall level: {overall}. Trend over the period: {trend_of(flagged, before)}.",
        "drivers": drivers or ["No incident drove tension in this period."],
        "by_area": [{"area": a, "items": v} for a, v in sorted(by_area.items())],
        "events": events or ["No gathering or event named in the posts."],
        "reassurance": reassurance or ["No reassurance need identified."],
        "actions": actions or [f"Recommended action: {action_for('normal')}"],
    }
