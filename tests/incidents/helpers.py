"""Fictional alerts and posts for the incident core's tests (no real people's posts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.incidents.model import AlertFacts, PostFacts, Where

T0 = datetime(2026, 11, 5, 19, 0, tzinfo=UTC)  # a Thursday evening
LOCALITY = {
    "Little Horton": "Bradford East",
    "Bowling and Barkerend": "Bradford East",
    "City": "Bradford West",
    "Manningham": "Bradford West",
    "Toller": "Bradford West",
    "Heaton": "Bradford West",
    "Wibsey": "Bradford South",
}


def ward(name: str) -> Where:
    return Where(name, "ward", name, LOCALITY.get(name), "Bradford")


def landmark(name: str, in_ward: str) -> Where:
    return Where(name, "landmark", in_ward, LOCALITY.get(in_ward), "Bradford")


def post(
    pid: str,
    minutes: float,
    author: str,
    places: tuple[Where, ...] = (),
    text: str = "Fictional post",
    **kw: object,
) -> PostFacts:
    return PostFacts(
        id=pid,
        at=T0 + timedelta(minutes=minutes),
        author=author,
        text=text,
        places=places,
        **kw,  # type: ignore[arg-type]
    )


def alert(
    aid: int,
    kind: str,
    area: str,
    posts: list[PostFacts],
    *,
    topic: str = "",
    severity: str = "medium",
    incident: int | None = None,
    pinned: bool = False,
    status: str = "new",
    **labels: str,
) -> AlertFacts:
    all_labels = {"kind": kind, "area": area, "severity": severity, **labels}
    if topic:
        all_labels["topic"] = topic
    times = [p.at for p in posts] or [T0]
    return AlertFacts(
        id=aid,
        key=",".join(f"{k}={v}" for k, v in sorted(all_labels.items())),
        labels=all_labels,
        summary=f"{kind} in {area}",
        status=status,
        first_seen=min(times),
        last_seen=max(times),
        posts=tuple(sorted(p.id for p in posts)),
        incident=incident,
        pinned=pinned,
    )


def crowd(
    prefix: str,
    n: int,
    start: float,
    step: float,
    places: tuple[Where, ...],
    text: str,
    **kw: object,
) -> list[PostFacts]:
    """n posts from n distinct fictional authors, `step` minutes apart."""
    return [
        post(f"{prefix}{i}", start + i * step, f"{prefix}-author{i}", places, text, **kw)
        for i in range(n)
    ]


def index(*groups: list[PostFacts]) -> dict[str, PostFacts]:
    return {p.id: p for g in groups for p in g}
