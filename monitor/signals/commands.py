"""`monitor signals`: tension levels and their changes, the rumour board, registering known
rumours, linking counter messages, and confirming posts held for a person.

Everything here reads or writes the store; the running pipeline takes up what people did
(claims, statuses, confirmations) at its next batch. Authors appear only as distinct counts.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.cli.context import LIMIT, RUMOUR_ID, Context, pass_context, with_store
from monitor.config import Settings
from monitor.privacy.postref import post_ref
from monitor.signals.config import SignalsConfig
from monitor.signals.counter import counter_effect
from monitor.signals.rumours import STATUSES, StatusError, check_status
from monitor.store import signals as store
from monitor.types import CALENDAR, utcnow, within_calendar

T = TypeVar("T")


def _run(
    settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]], *, write: bool = False
) -> T:
    """`work` on one connection (one transaction when it writes; see `with_store`)."""

    async def on_connection(engine: AsyncEngine) -> T:
        if write:
            async with engine.begin() as conn:
                return await work(conn)
        async with engine.connect() as conn:
            return await work(conn)

    try:
        return with_store(settings, on_connection, write=write)
    except store.SignalsMissing as exc:
        raise click.ClickException(str(exc)) from None


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers], *[[_cell(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.1f}"
    return safe(str(value))


def safe(text: str) -> str:
    """Post text is untrusted: control characters (terminal escape sequences among them) are
    shown as '?' rather than sent to the terminal."""
    return "".join(
        "?" if unicodedata.category(ch) in ("Cc", "Cf") and ch != "\n" else ch for ch in text
    )


def _json(rows: Any) -> str:
    return json.dumps(rows, indent=2, default=str, ensure_ascii=False)


def _who(by: str | None) -> str:
    return by or getpass.getuser()


# Options several commands share.
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of a table."
)
_by_option = click.option(
    "--by", default=None, help="Who does it, for the audit log (default: your user name)."
)


@click.group("signals")
def signals_group() -> None:
    """Tension levels per area and the rumour board."""


@signals_group.command("levels")
@click.option(
    "--kind",
    type=click.Choice(["ward", "locality", "district"]),
    default=None,
    help="Only areas of this kind.",
)
@click.option("--all", "show_all", is_flag=True, help="Include areas at the lowest level.")
@_json_option
@pass_context
def levels_command(ctx: Context, kind: str | None, show_all: bool, as_json: bool) -> None:
    """Current tension level of each area (highest first)."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        await store.require_tables(conn)
        return await store.list_levels(conn, kind, 0 if show_all else 1)

    rows = _run(ctx.settings, work)
    if as_json:
        click.echo(_json(rows))
        return
    if not rows:
        click.echo("Every area is at the lowest level." if not show_all else "No areas yet.")
        return
    out = []
    for r in rows:
        m = r["measures"] or {}
        out.append(
            (
                r["name"],
                r["area_kind"],
                r["level_name"],
                r["since"],
                m.get("weighted"),
                m.get("authors"),
                m.get("expected"),
                m.get("rise"),
            )
        )
    headers = ("area", "kind", "level", "since", "weighted", "authors", "baseline", "rise")
    click.echo(_table(headers, out))


@signals_group.command("changes")
@click.option("--area", default=None, help="Area name (e.g. 'Little Horton') or key.")
@click.option("--limit", type=LIMIT, default=20, show_default=True, help="Most rows shown.")
@_json_option
@pass_context
def changes_command(ctx: Context, area: str | None, limit: int, as_json: bool) -> None:
    """Changes of level, newest first, each with its reasons."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        await store.require_tables(conn)
        return await store.list_level_changes(conn, area, limit)

    rows = _run(ctx.settings, work)
    if as_json:
        click.echo(_json(rows))
        return
    for r in rows:
        alert = f" (alert {r['alert_id']})" if r["alert_id"] else ""
        click.echo(f"{_cell(r['at'])}{alert}\n  {safe(r['reason'])}")
    if not rows:
        click.echo("No level changes recorded.")


@signals_group.command("rumours")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Default: all live.")
@click.option("--limit", type=LIMIT, default=30, show_default=True, help="Most rows shown.")
@_json_option
@pass_context
def rumours_command(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """The rumour board: spreading first, then by velocity."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        await store.require_tables(conn)
        return await store.list_rumours(conn, status, limit)

    rows = _run(ctx.settings, work)
    if as_json:
        click.echo(_json(rows))
        return
    if not rows:
        click.echo("No rumours.")
        return
    out = []
    for r in rows:
        places = sorted((r["places"] or {}).items(), key=lambda kv: -kv[1])[:3]
        stance = r["stance"] or {}
        mix = "/".join(str(stance.get(s, 0)) for s in ("support", "deny", "query", "comment"))
        out.append(
            (
                f"r{r['id']}",
                r["status"] + (" *" if r["spreading"] else ""),
                r["first_seen"],
                r["post_count"],
                r["author_count"],
                r["velocity"],
                r["acceleration"],
                ", ".join(p for p, _ in places) or "-",
                mix,
                (r["representative"] or "")[:60],
            )
        )
    headers = (
        "id",
        "status",
        "first seen",
        "posts",
        "authors",
        "per h",
        "accel",
        "places",
        "sup/den/qry/com",
        "claim",
    )
    click.echo(_table(headers, out))
    click.echo("* spreading. Authors are distinct counts.")


@signals_group.command("show")
@click.argument("rumour_id", type=RUMOUR_ID)
@_json_option
@pass_context
def show_command(ctx: Context, rumour_id: int, as_json: bool) -> None:
    """One rumour: its figures, posts and authors per hour, counter messages and their
    before/after velocity."""
    window = SignalsConfig.from_settings(ctx.settings).rumours.counter_window

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        await store.require_tables(conn)
        row = await store.rumour(conn, rumour_id)
        if row is None:
            raise click.ClickException(f"no rumour r{rumour_id}")
        times = await store.member_times(conn, rumour_id)
        now = max([utcnow(), *times])
        counters = []
        for c in await store.counters(conn, rumour_id):
            effect = counter_effect(times, c["published_at"], window, now)
            counters.append({**c, "effect": effect.describe(), "change": effect.change})
        return {
            "rumour": row,
            "timeline": await store.rumour_timeline(conn, rumour_id),
            "counters": counters,
            "pending": len(await store.pending(conn, rumour_id, limit=1000)),
        }

    data = _run(ctx.settings, work)
    if as_json:
        click.echo(_json(data))
        return
    r = data["rumour"]
    merged = f", merged into r{r['merged_into']}" if r["merged_into"] else ""
    click.echo(f"r{r['id']} [{r['status']}{merged}] {'spreading' if r['spreading'] else ''}")
    click.echo(f"  claim: {safe(r['claim_text'] or r['representative'])}")
    click.echo(f"  first seen {_cell(r['first_seen'])}, last seen {_cell(r['last_seen'])}")
    click.echo(
        f"  {r['post_count']} posts from {r['author_count']} distinct authors; "
        f"{r['velocity']:.1f} posts/h, acceleration {r['acceleration']:+.1f}/h²"
    )
    click.echo(f"  places: {safe(str(r['places']))}")
    click.echo(f"  stance: {r['stance']}")
    if data["pending"]:
        click.echo(f"  {data['pending']} posts await confirmation (`monitor signals pending`)")
    click.echo("  per hour (posts, distinct authors):")
    for t in data["timeline"]:
        click.echo(f"    {_cell(t['hour'])}  {t['posts']:>4}  {t['distinct_authors']:>4}")
    for c in data["counters"]:
        click.echo(f"  counter message {c['id']} at {_cell(c['published_at'])}: {c['effect']}")


@signals_group.command("register")
@click.argument("claim_text")
@click.option("--by", default=None, help="Who registers it (default: your user name).")
@pass_context
def register_command(ctx: Context, claim_text: str, by: str | None) -> None:
    """Register a known rumour by its claim text; new posts repeating it join it."""
    text = " ".join(claim_text.split())
    if len(text) < 10:
        raise click.ClickException("a claim needs at least 10 characters to be matched")

    async def work(conn: AsyncConnection) -> int:
        await store.require_tables(conn)
        return await store.register_claim(conn, text, _who(by), utcnow())

    claim_id = _run(ctx.settings, work, write=True)
    click.echo(
        f"claim {claim_id} registered. The running pipeline takes it up at its next batch: it "
        "adopts a live cluster that already matches the claim, or starts a rumour of its own."
    )


@signals_group.command("status")
@click.argument("rumour_id", type=RUMOUR_ID)
@click.argument("status", type=click.Choice(STATUSES))
@_by_option
@pass_context
def status_command(ctx: Context, rumour_id: int, status: str, by: str | None) -> None:
    """Move a rumour to another status (new, watching, countering, closed)."""

    async def work(conn: AsyncConnection) -> str:
        await store.require_tables(conn)
        row = await store.rumour(conn, rumour_id)
        if row is None:
            raise click.ClickException(f"no rumour r{rumour_id}")
        try:
            check_status(row["status"], status)
        except StatusError as exc:
            raise click.ClickException(str(exc)) from None
        await store.set_status(conn, rumour_id, status, utcnow())
        return str(row["status"])

    before = _run(ctx.settings, work, write=True)
    click.echo(f"r{rumour_id}: {before} → {status} (by {_who(by)})")


@signals_group.command("counter")
@click.argument("rumour_id", type=RUMOUR_ID)
@click.option("--at", "published", required=True, help="Publication time, ISO 8601 with offset.")
@click.option("--url", default=None, help="Link to the published message (http or https).")
@click.option("--text", default=None, help="The message's text, as published.")
@click.option("--channel", default=None, help="Where it was published, e.g. 'council X account'.")
@_by_option
@pass_context
def counter_command(
    ctx: Context,
    rumour_id: int,
    published: str,
    url: str | None,
    text: str | None,
    channel: str | None,
    by: str | None,
) -> None:
    """Link a counter message to a rumour; the rumour moves to countering."""
    try:
        at = datetime.fromisoformat(published)
    except ValueError:
        raise click.ClickException(f"--at {published!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise click.ClickException("--at needs a UTC offset, e.g. 2026-11-04T16:30+00:00")
    if not within_calendar(at.date()):
        raise click.ClickException(f"--at {published!r}: a time {CALENDAR}")
    if url is not None and urlsplit(url.strip()).scheme not in ("http", "https"):
        # Pages link to it: only a web address may become a link staff click.
        raise click.ClickException(f"--url {url[:80]!r} must be an http:// or https:// address")

    async def work(conn: AsyncConnection) -> int:
        await store.require_tables(conn)
        row = await store.rumour(conn, rumour_id)
        if row is None:
            raise click.ClickException(f"no rumour r{rumour_id}")
        now = utcnow()
        counter_id = await store.add_counter(
            conn, rumour_id, at, by=_who(by), now=now, text=text, url=url, channel=channel
        )
        if row["status"] not in ("countering", "closed"):
            await store.set_status(conn, rumour_id, "countering", now)
        return counter_id

    counter_id = _run(ctx.settings, work, write=True)
    click.echo(f"counter message {counter_id} linked to r{rumour_id}")


@signals_group.command("pending")
@click.argument("rumour_id", type=RUMOUR_ID)
@click.option("--purpose", required=True, help="Why you are viewing these posts (audited).")
@_by_option
@pass_context
def pending_command(ctx: Context, rumour_id: int, purpose: str, by: str | None) -> None:
    """Posts held for confirmation: similar to the registered claim, but below the threshold."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        await store.require_tables(conn)
        rows = await store.pending(conn, rumour_id)
        from monitor.safeguards import audit

        # References, not platform ids: those carry the author's DID or handle.
        detail = {"rumour": rumour_id, "posts": [post_ref(r["post_id"]) for r in rows]}
        await audit.record(conn, _who(by), "view_pending_posts", purpose, detail, utcnow())
        return rows

    rows = _run(ctx.settings, work, write=True)
    for r in rows:
        click.echo(
            f"{post_ref(r['post_id'])}  similarity {r['similarity']:.2f}  {_cell(r['created_at'])}"
        )
        click.echo(f"    {safe(r['excerpt'] or '(text purged)')}")
    if not rows:
        click.echo("Nothing awaits confirmation.")


@signals_group.command("confirm")
@click.argument("rumour_id", type=RUMOUR_ID)
@click.argument("post_ids", nargs=-1, required=True)
@click.option("--reject", is_flag=True, help="The posts do not repeat the claim.")
@_by_option
@pass_context
def confirm_command(
    ctx: Context, rumour_id: int, post_ids: tuple[str, ...], reject: bool, by: str | None
) -> None:
    """Confirm (or --reject) posts held for a registered rumour, named by the references
    `monitor signals pending` prints (a stored post id works too)."""

    async def work(conn: AsyncConnection) -> int:
        await store.require_tables(conn)
        by_ref = {
            post_ref(r["post_id"]): r["post_id"] for r in await store.pending(conn, rumour_id)
        }
        done = 0
        for given in post_ids:
            post_id = by_ref.get(given, given)
            done += await store.decide_pending(
                conn, rumour_id, post_id, not reject, _who(by), utcnow()
            )
        return done

    done = _run(ctx.settings, work, write=True)
    verb = "rejected" if reject else "confirmed"
    click.echo(f"{done} of {len(post_ids)} posts {verb} for r{rumour_id}")


# --- `monitor eval events` -------------------------------------------------------------------


@click.command("events")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--encoder",
    is_flag=True,
    help="Use the transformer classifier's sentence embeddings (and, for the demo and PHEME, "
    "its scores) instead of the keyword classifier's: the figures to report; slower.",
)
@click.option(
    "--weeks",
    type=click.IntRange(0, 52),
    default=4,
    show_default=True,
    help="Generated busy weeks (plus two calm weeks and a quiet week); 0: none.",
)
@click.option("--no-demo", is_flag=True, help="Skip the bundled demo week.")
@click.option("--no-pheme", is_flag=True, help="Skip the PHEME events.")
@click.option(
    "--arrival",
    type=click.Choice(["batched", "bulk", "paced", "shuffled"]),
    default="batched",
    show_default=True,
    help="How posts reach the signals: batches of 64, of 500, one at a time, or shuffled "
    "batches with late posts.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Labelled data folder (default: ../shared/data, or $MONITOR_DATA_DIR).",
)
@pass_context
def events_command(
    ctx: Context,
    as_json: bool,
    encoder: bool,
    weeks: int,
    no_demo: bool,
    no_pheme: bool,
    arrival: str,
    data_dir: Path | None,
) -> None:
    """Replay labelled streams through the signals and report, per stream: items opened, true
    stories found, false items per week, minutes from a story's first post to its item,
    claim-cluster purity and levels raised by solidarity or counter-speech waves."""
    from monitor.classify.data import default_data_dir
    from monitor.demo import BUNDLED_SCENARIO
    from monitor.evaluation.event_streams import evaluate_all
    from monitor.evaluation.events import ITEM_UNIT, table

    settings = ctx.settings
    # The scratch pipeline's start-up chatter (receivers off, packs registered) is not news.
    logging.getLogger("monitor").setLevel(max(logging.WARNING, logging.getLogger().level))
    demo = None
    if not no_demo:
        demo = BUNDLED_SCENARIO
        if not demo.is_file():
            raise click.ClickException(f"demo week not found at {demo}; use --no-demo")
    pheme = None
    if not no_pheme:
        pheme = (data_dir or default_data_dir()) / "labelled" / "pheme" / "pheme9-sources.csv"
        if not pheme.is_file():
            raise click.ClickException(
                f"PHEME not found at {pheme} (see ../shared/data/README.md); use --no-pheme"
            )
    say = (lambda m: click.echo(m, err=True)) if not as_json else None
    try:
        results = asyncio.run(
            evaluate_all(
                settings,
                encoder=encoder,
                weeks=weeks,
                demo=demo,
                pheme=pheme,
                arrival=arrival,
                progress=say,
            )
        )
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        doc = {
            "item_unit": ITEM_UNIT,
            "embeddings": "encoder" if encoder else "keyword",
            "arrival": arrival,
            "streams": [r.as_dict() for r in results],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(safe(table(results)))


def register(cli: click.Group) -> None:
    """`monitor signals`, and `monitor eval events` once `eval` (the classifier's) is there."""
    cli.add_command(signals_group)
    scoring = cli.commands.get("eval")
    if isinstance(scoring, click.Group):
        scoring.add_command(events_command)
