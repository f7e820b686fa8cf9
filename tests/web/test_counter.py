"""The counter-message planner: a draft from a template with the facts and their sources,
approval by someone else, and recording publication, which feeds the before/after view."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from monitor.runtime.state import Runtime
from monitor.store.tables import counter_messages, counter_plans, rumours
from monitor.web.counter_templates import fill, load_templates
from tests.web.conftest import (
    Client,
    Passwords,
    add_user,
    deliver,
    seed_rumour,
    sign_in,
    state_purpose,
)

ClientFactory = Callable[[web.Application], Awaitable[Client]]
FORM = {
    "claim": "the old mill on Toller Lane is being turned into flats for newcomers only",
    "fact0": "The mill on Toller Lane was sold to a housing association for family homes",
    "source0": "Planning decision 26/01234 (fictional)",
    "fact1": "Council housing is allocated by the published banding scheme, unchanged",
    "source1": "https://council.example/housing-allocation",
    "messengers": "Ward councillors; Toller Community Centre",
    "channels": ["Council website", "Community and faith leaders"],
    "template": "makesureitaddsup",
}


def test_the_shipped_templates_fill_every_placeholder() -> None:
    templates, problem = load_templates(Path(__file__).parents[2])
    assert problem is None and len(templates) >= 2
    facts = [{"fact": "A", "source": "S"}]
    for t in templates:
        text = fill(
            t, claim="the mill is X", places=["Toller", "City"], facts=facts, messengers="M"
        )
        assert "$" not in text, f"template {t.id} left a placeholder"
        assert "#MakeSureItAddsUp" in text


def test_a_broken_template_file_falls_back_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "counter-messages.yaml").write_text("templates: [{id: x}]", "utf-8")
    templates, problem = load_templates(tmp_path)
    assert [t.id for t in templates] == ["makesureitaddsup"] and "needs id, name and text" in str(
        problem
    )


async def test_draft_approve_publish(
    aiohttp_client: ClientFactory, app: web.Application, users: dict[str, str], runtime: Runtime
) -> None:
    await deliver(runtime, ["(fictional) apparently the old mill is being turned into flats"])
    rumour = await seed_rumour(runtime)
    comms = await aiohttp_client(app)
    csrf = await sign_in(comms, "comms")
    await state_purpose(comms, csrf, "counter")
    page = await comms.get(f"/rumours/{rumour}/counter")
    assert page.status == 200 and "Apparently the old mill" in await page.text()

    filled = await comms.post(
        f"/rumours/{rumour}/counter", data={**FORM, "do": "fill", "csrf_token": csrf}
    )
    text = await filled.text()
    assert "The mill on Toller Lane was sold" in text and "#MakeSureItAddsUp" in text
    assert "posts saying that the old mill on Toller Lane is being turned into flats" in text
    async with runtime.engine.connect() as conn:
        plan = (await conn.execute(select(counter_plans))).one()
    assert plan.status == "draft" and len(plan.facts) == 2 and "Toller" in plan.draft

    self_approve = await comms.post(
        f"/counter-plans/{plan.id}/approve", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert self_approve.headers["Location"].endswith("error=four_eyes")

    admin = await aiohttp_client(app)
    admin_csrf = await sign_in(admin, "admin")
    ok = await admin.post(
        f"/counter-plans/{plan.id}/approve", data={"csrf_token": admin_csrf}, allow_redirects=False
    )
    assert ok.headers["Location"].endswith("done=approved")

    future = await comms.post(
        f"/counter-plans/{plan.id}/publish",
        data={"csrf_token": csrf, "published_at": "2099-01-01T09:00", "channel": "Council website"},
        allow_redirects=False,
    )
    assert future.headers["Location"].endswith("error=future")
    for typo in ("0026-11-03T11:00", "20260-11-03T11:00"):  # a year mistyped
        ancient = await comms.post(
            f"/counter-plans/{plan.id}/publish",
            data={"csrf_token": csrf, "published_at": typo, "channel": "Council website"},
            allow_redirects=False,
        )
        assert ancient.headers["Location"].endswith("error=time"), typo
    done = await comms.post(
        f"/counter-plans/{plan.id}/publish",
        data={
            "csrf_token": csrf,
            "published_at": "2026-11-03T11:00",
            "channel": "Council website",
            "url": "https://council.example/news/mill",
        },
        allow_redirects=False,
    )
    assert done.headers["Location"].endswith("done=published")
    async with runtime.engine.connect() as conn:
        message = (await conn.execute(select(counter_messages))).one()
        status = (
            await conn.execute(select(rumours.c.status).where(rumours.c.id == rumour))
        ).scalar_one()
    assert message.rumour_id == rumour and message.channel == "Council website"
    assert message.published_at.isoformat() == "2026-11-03T11:00:00+00:00"  # UK time = UTC in Nov
    assert status == "countering"
    detail = await (await comms.get(f"/rumours/{rumour}")).text()
    assert "Counter messages: before and after" in detail and "Tue 03 Nov 11:00" in detail


async def test_an_approved_plan_that_is_edited_needs_approval_again(
    aiohttp_client: ClientFactory, app: web.Application, users: dict[str, str], runtime: Runtime
) -> None:
    rumour = await seed_rumour(runtime)
    comms = await aiohttp_client(app)
    csrf = await sign_in(comms, "comms")
    data = {**FORM, "draft": "Check before you share. #MakeSureItAddsUp", "do": "save"}
    await comms.post(f"/rumours/{rumour}/counter", data={**data, "csrf_token": csrf})
    admin = await aiohttp_client(app)
    await admin.post("/counter-plans/1/approve", data={"csrf_token": await sign_in(admin, "admin")})
    await comms.post(
        f"/rumours/{rumour}/counter", data={**data, "plan_id": "1", "csrf_token": csrf}
    )
    async with runtime.engine.connect() as conn:
        plan = (await conn.execute(select(counter_plans))).one()
    assert plan.status == "draft" and plan.approved_by is None


async def test_a_plan_has_versions_per_language_and_needs_approving_again(
    aiohttp_client: ClientFactory, app: web.Application, users: dict[str, str], runtime: Runtime
) -> None:
    from datetime import UTC, datetime

    from monitor.store.tables import counter_versions

    rumour = await seed_rumour(runtime)
    now = datetime.now(UTC)
    async with runtime.engine.begin() as conn:
        plan = (
            await conn.execute(
                counter_plans.insert()
                .values(
                    rumour_id=rumour, status="approved", claim="c", facts=[], messengers="",
                    channels=["Council website"], draft="(fictional) The mill is homes for sale.",
                    created_by="admin", created_at=now, updated_by="admin", updated_at=now,
                    approved_by="comms", approved_at=now,
                )
                .returning(counter_plans.c.id)
            )
        ).scalar_one()  # fmt: skip
    comms = await aiohttp_client(app)
    csrf = await sign_in(comms, "comms")
    await state_purpose(comms, csrf, "counter")
    polish = "(fikcja) Młyn to mieszkania na sprzedaż."
    urdu = "(فرضی) مل فروخت کے لیے گھر ہیں۔"
    for language, text in (("pl", polish), ("ur", urdu), ("xx", "nope")):
        done = await comms.post(
            f"/counter-plans/{plan}/versions",
            data={"csrf_token": csrf, "language": language, "text": text},
            allow_redirects=False,
        )
        expected = "error=language" if language == "xx" else "done=version"
        assert expected in done.headers["Location"]
    page = await (await comms.get(f"/rumours/{rumour}/counter?plan={plan}")).text()
    assert f'lang="pl" dir="ltr">{polish}' in page and f'lang="ur" dir="rtl">{urdu}' in page
    async with runtime.engine.connect() as conn:
        status = (
            await conn.execute(select(counter_plans.c.status).where(counter_plans.c.id == plan))
        ).scalar_one()
        langs = sorted((await conn.execute(select(counter_versions.c.language))).scalars())
    assert status == "draft" and langs == ["pl", "ur"]  # translated words are approved again
    await comms.post(
        f"/counter-plans/{plan}/versions", data={"csrf_token": csrf, "language": "pl", "text": ""}
    )
    async with runtime.engine.connect() as conn:
        langs = sorted((await conn.execute(select(counter_versions.c.language))).scalars())
    assert langs == ["ur"]


async def test_no_one_approves_words_they_wrote_whoever_saved_last(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    runtime: Runtime,
    passwords: Passwords,
) -> None:
    rumour = await seed_rumour(runtime)
    comms = await aiohttp_client(app)
    csrf = await sign_in(comms, "comms")
    await state_purpose(comms, csrf, "counter")
    data = {**FORM, "draft": "(fictional) Check before you share. #MakeSureItAddsUp"}
    await comms.post(f"/rumours/{rumour}/counter", data={**data, "do": "save", "csrf_token": csrf})
    admin = await aiohttp_client(app)
    admin_csrf = await sign_in(admin, "admin")

    async def approve(client: Client, token: str) -> str:
        done = await client.post(
            "/counter-plans/1/approve", data={"csrf_token": token}, allow_redirects=False
        )
        return done.headers["Location"]

    # A colleague's empty save of a version changes no words: the author still may not approve.
    await admin.post(
        "/counter-plans/1/versions", data={"csrf_token": admin_csrf, "language": "pl", "text": ""}
    )
    assert (await approve(comms, csrf)).endswith("error=four_eyes")
    # A colleague's Polish version: neither its writer nor the English draft's may approve.
    polish = "(fikcja) Sprawdź, zanim udostępnisz."
    await admin.post(
        "/counter-plans/1/versions",
        data={"csrf_token": admin_csrf, "language": "pl", "text": polish},
    )
    assert (await approve(comms, csrf)).endswith("error=four_eyes")
    refused = await approve(admin, admin_csrf)
    assert refused.endswith("error=four_eyes")
    assert "Someone who wrote none of its words" in await (await comms.get(refused)).text()
    await add_user(runtime, passwords, "comms2", "comms")
    third = await aiohttp_client(app)
    assert (await approve(third, await sign_in(third, "comms2"))).endswith("done=approved")
