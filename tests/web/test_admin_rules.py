"""Admin rule editor: a pack's YAML edited in the browser, checked by the loader (its
file:line problems shown, the file untouched), examples run, backtested over the stored posts
with totals, a volume chart and samples, and published with a reason that the audit log keeps;
the service then runs the new rules, and a broken draft never reaches the file."""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Settings
from monitor.runtime.state import Runtime
from monitor.safeguards import audit
from monitor.web.explain import current_ruleset
from tests.conftest import ROOT
from tests.web.conftest import HOSTILE_POSTS, Client, deliver, sign_in, state_purpose

FILE = "rules/tension/dehumanising.yaml"
NEW_RULE = """
  - id: send_back
    description: (fictional test rule) calls to send people away
    query: '"send them back" OR "kick them out" OR "get them out"'
    labels:
      kind: hostility
      topic: exclusion
      severity: medium
    examples:
      match:
        - "(fictional) send them back, all of them"
      no_match:
        - "(fictional) send the parcel back to the depot"
"""


def examples_in(text: str) -> int:
    """How many examples the rules of a rule file have."""
    rules = yaml.safe_load(text)["rules"]
    return sum(
        len(r["examples"].get("match", [])) + len(r["examples"].get("no_match", [])) for r in rules
    )


BROKEN = """rules:
  - id: half_written
    description: a rule whose query does not parse
    query: '("send them back" OR'
    labels: {kind: hostility}
"""


@pytest.fixture
def settings(migrated_sqlite_url: str, tmp_path: Path) -> Settings:
    """A home of its own: publishing writes the rule files, never the checkout's."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copytree(ROOT / "rules", home / "rules")
    shutil.copytree(ROOT / "alerts", home / "alerts")
    (home / "models").symlink_to(ROOT / "models")
    return Settings(database_url=migrated_sqlite_url, home=str(home), classifier="keyword")


def rule_file(settings: Settings) -> Path:
    return Path(settings.home) / FILE


async def test_a_broken_draft_shows_the_loaders_problems_and_is_never_written(
    client: Client, users: dict[str, str], settings: Settings, runtime: Runtime
) -> None:
    csrf = await sign_in(client, "admin")
    before = rule_file(settings).read_text()
    rules = html.unescape(await (await client.get("/rules")).text())
    assert 'href="/admin/rules/tension/dehumanising.yaml"' in rules
    page = await client.get("/admin/rules/tension/dehumanising.yaml")
    assert page.status == 200 and "These people are vermin" in html.unescape(await page.text())

    checked = await client.post(
        "/admin/rules/tension/dehumanising.yaml/check", data={"csrf_token": csrf, "text": BROKEN}
    )
    body = html.unescape(await checked.text())
    assert checked.status == 200
    assert f"{FILE}:4" in body and "The draft does not load" in body

    live = await client.post(
        "/api/v1/admin/rules/validate",
        json={"pack": "tension", "file": "dehumanising.yaml", "text": BROKEN},
        headers={"X-CSRF-Token": csrf},
    )
    found = await live.json()
    assert found["ok"] is False
    assert any(p["file"] == FILE and p["line"] == 4 for p in found["problems"])

    refused = await client.post(
        "/admin/rules/tension/dehumanising.yaml/publish",
        data={"csrf_token": csrf, "text": BROKEN, "reason": "(fictional) trying a broken rule"},
    )
    assert refused.status == 400
    assert "Not published: the draft does not load" in html.unescape(await refused.text())
    assert rule_file(settings).read_text() == before
    ruleset = current_ruleset(runtime.rules)
    assert ruleset is not None and not any("half_written" in r.id for r in ruleset.rules)


async def test_admin_edits_backtests_and_publishes_a_rule(
    client: Client, users: dict[str, str], settings: Settings, runtime: Runtime
) -> None:
    await deliver(runtime, HOSTILE_POSTS)
    csrf = await sign_in(client, "admin")
    path = rule_file(settings)
    before = path.read_text()
    draft = before + NEW_RULE

    checked = await client.post(
        "/admin/rules/tension/dehumanising.yaml/check", data={"csrf_token": csrf, "text": draft}
    )
    body = html.unescape(await checked.text())
    assert "The draft loads cleanly" in body
    n = examples_in(before) + 2  # the file's and the new rule's 2
    assert f"Examples: {n} of {n} passed" in body
    assert "+  - id: send_back" in body  # the diff against the published file

    # a backtest shows posts: it needs a purpose, and is audited
    await state_purpose(client, csrf, "quality")
    tested = await client.post(
        "/admin/rules/tension/dehumanising.yaml/backtest",
        data={"csrf_token": csrf, "text": draft, "rule": ""},
    )
    body = html.unescape(await tested.text())
    assert tested.status == 200, body[:500]
    assert "3 of 3 stored posts match the draft (0 match the published version)" in " ".join(
        body.replace("<strong>", "").replace("</strong>", "").split()
    )
    assert "<svg" in body and "draft 3, published 0" in body
    assert "Not welcome here in Manningham" in body and "new: the published version" in body
    async with runtime.engine.connect() as conn:
        (seen,) = await audit.recent(conn, limit=1, actor="admin", action="view_evidence")
    assert seen.detail is not None and seen.detail["file"] == FILE
    assert seen.detail["matched"] == 3 and seen.detail["scanned"] == 3

    stale = await client.post(
        "/admin/rules/tension/dehumanising.yaml/publish",
        data={"csrf_token": csrf, "text": draft, "base": "0000", "reason": "(fictional) x" * 2},
    )
    assert stale.status == 400 and "changed since you opened it" in await stale.text()
    short = await client.post(
        "/admin/rules/tension/dehumanising.yaml/publish",
        data={"csrf_token": csrf, "text": draft, "reason": "because"},
    )
    assert short.status == 400 and path.read_text() == before

    done = await client.post(
        "/admin/rules/tension/dehumanising.yaml/publish",
        data={
            "csrf_token": csrf,
            "text": draft.replace("\n", "\r\n"),  # as a browser sends a textarea
            "reason": "(fictional) residents report 'send them back' chants",
        },
        allow_redirects=False,
    )
    assert done.status == 303, await done.text()
    assert path.read_text() == draft  # exactly the draft: the diff is the edit
    ruleset = current_ruleset(runtime.rules)
    assert ruleset is not None and "tension.send_back" in {r.id for r in ruleset.rules}
    async with runtime.engine.connect() as conn:
        (event,) = await audit.recent(conn, limit=1, actor="admin", action="rules.publish")
    assert event.purpose == "(fictional) residents report 'send them back' chants"
    assert event.detail is not None
    assert event.detail["rules_added"] == ["tension.send_back"]
    assert event.detail["lines_added"] == NEW_RULE.count("\n") and event.detail["in_force"]


async def test_the_api_reads_checks_backtests_and_publishes(
    client: Client, users: dict[str, str], settings: Settings, runtime: Runtime
) -> None:
    await deliver(runtime, HOSTILE_POSTS)
    csrf = await sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf}
    got = await (await client.get("/api/v1/admin/rules/tension/dehumanising.yaml")).json()
    assert got["file"] == FILE and got["exists"]
    draft = got["text"] + NEW_RULE
    where = {"pack": "tension", "file": "dehumanising.yaml", "text": draft}
    need = await client.post("/api/v1/admin/rules/backtest", json=where, headers=headers)
    assert need.status == 428  # a purpose first: it returns posts
    await client.post("/api/v1/purpose", json={"purpose": "checking a rule"}, headers=headers)
    bt = await (
        await client.post(
            "/api/v1/admin/rules/backtest",
            json={**where, "rule": "tension.send_back"},
            headers=headers,
        )
    ).json()
    assert bt["draft_posts"] == 3 and bt["rules"] == [
        {"rule": "tension.send_back", "draft": 3, "published": 0}
    ]
    assert sum(d["draft"] for d in bt["days"]) == 3 and len(bt["samples"]) == 3
    assert all(s["post"].startswith("post-") for s in bt["samples"])
    published = await client.post(
        "/api/v1/admin/rules/publish",
        json={**where, "base": got["sha"], "reason": "(fictional) published through the API"},
        headers=headers,
    )
    assert published.status == 200, await published.text()
    assert rule_file(settings).read_text() == draft
    again = await client.post(
        "/api/v1/admin/rules/publish",
        json={**where, "base": got["sha"], "reason": "(fictional) a second time, stale"},
        headers=headers,
    )
    assert again.status == 409
    escape = await client.get("/api/v1/admin/rules/tension/..%2F..%2Fpyproject.toml")
    assert escape.status == 404


async def test_the_rule_tester_counts_every_match_it_scans(
    client: Client, users: dict[str, str], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It used to stop at the first 50 hits and say "50+": now it gives the total and shows
    the newest few."""
    from monitor.web.views import rules

    monkeypatch.setattr(rules, "SHOW", 1)
    await deliver(runtime, HOSTILE_POSTS)
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf, "quality")
    page = await client.get("/rules/try", params={"query": "Manningham", "scan": "200"})
    text = " ".join(html.unescape(await page.text()).split())
    assert "2 matching posts among the 3 most recent scanned (the newest 1 shown)" in text
    assert text.count('<blockquote class="excerpt"') == 1


async def test_a_pack_the_service_does_not_run_is_still_checked(
    aiohttp_client: Any, settings: Settings, users: dict[str, str], passwords: Any, clock: Any
) -> None:
    """With rules_packs naming only the rumour pack, an edit of a tension file is still loaded
    (a broken draft must not pass because its pack was left out of the check)."""
    import dataclasses

    from monitor.classify.keyword import KeywordClassifier
    from monitor.runtime.app import open_runtime
    from monitor.web.server import create_app
    from tests.web.conftest import add_user, ensure_tables

    only_rumour = dataclasses.replace(settings, rules_packs="rumour")
    async with open_runtime(only_rumour, classifier=KeywordClassifier()) as rt:
        await ensure_tables(rt.engine)
        await add_user(rt, passwords, "boss", "admin")
        client = await aiohttp_client(create_app(only_rumour, rt, passwords=passwords, clock=clock))
        csrf = await sign_in(client, "boss")
        found = await (
            await client.post(
                "/api/v1/admin/rules/validate",
                json={"pack": "tension", "file": "dehumanising.yaml", "text": BROKEN},
                headers={"X-CSRF-Token": csrf},
            )
        ).json()
    assert found["ok"] is False and any(p["line"] == 4 for p in found["problems"])
