"""The quarantine for admins: listed without any author, id or link; retried after a fix;
closed to other roles; viewing it is audited like any evidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from monitor.runtime.state import Runtime
from monitor.store.tables import audit_events
from monitor.types import Post, RuleHit
from tests.web.conftest import Client, raw, sign_in, state_purpose

MARK = "(fictional) the broken rule trips on this"


class Broken:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.on = True

    def evaluate(self, post: Post, scores: dict[str, float], now: datetime) -> Sequence[RuleHit]:
        if self.on and MARK in post.text:
            raise KeyError("fictional missing label")
        return self.inner.evaluate(post, scores, now)  # type: ignore[attr-defined,no-any-return]


async def test_admins_see_and_retry_quarantined_records_without_authors(
    runtime: Runtime, client: Client, users: dict[str, str]
) -> None:
    broken = Broken(runtime.pipeline.rules)
    runtime.pipeline.rules = broken
    await runtime.pipeline.deliver(
        "test", [raw(1, MARK + " in Toller"), raw(2, "(fictional) fine in Heaton")], None
    )
    assert await runtime.pipeline.drain(timeout=30)

    csrf = await sign_in(client, users["analyst"])
    assert (await client.get("/api/v1/quarantine")).status == 403
    await client.post("/logout", data={"csrf_token": csrf})

    csrf = await sign_in(client, users["admin"])
    assert (await client.get("/api/v1/quarantine")).status == 428  # a purpose first
    await state_purpose(client, csrf)
    listed = await (await client.get("/api/v1/quarantine")).json()
    assert listed["total"] == 1
    entry = listed["entries"][0]
    assert entry["stage"] == "rules" and "KeyError" in entry["error"]
    text = str(listed)
    assert "author" not in text and "social.example" not in text and "statuses" not in text
    page = await client.get("/admin/quarantine")
    assert page.status == 200 and "fictional missing label" in await page.text()
    async with runtime.engine.connect() as conn:
        actions = (await conn.execute(select(audit_events.c.action))).scalars().all()
    assert actions.count("view_evidence") == 2  # the API list and the page

    broken.on = False  # the fix
    retried = await client.post(
        f"/api/v1/quarantine/{entry['id']}/retry", headers={"X-CSRF-Token": csrf}
    )
    assert retried.status == 200 and await retried.json() == {"done": 1, "failed_again": 0}
    assert (await (await client.get("/api/v1/quarantine")).json())["total"] == 0
    metrics = await (await client.get("/metrics")).text()
    assert "monitor_quarantine_records 0.0" in metrics
    assert "monitor_posts_quarantined_total 1.0" in metrics
