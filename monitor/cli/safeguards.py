"""Commands for the safeguards: `monitor purge`, `monitor audit verify|head` and
`monitor governance list|approve|purposes`."""

from __future__ import annotations

import getpass
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.cli.context import Context, pass_context, with_store
from monitor.config import ConfigError, resolve_home
from monitor.safeguards import audit, governance, retention
from monitor.store.tables import audit_events, governance_register

_AUDIT = (audit_events.name,)
_GOVERNANCE = (governance_register.name,)


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


# --- purge ----------------------------------------------------------------------------------


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@pass_context
def purge_command(ctx: Context, dry_run: bool) -> None:
    """Purge post text and alert excerpts past their retention periods now.

    Post text goes after `retention_days`, alert excerpts (and their copies in digests and the
    mailbox) after `alert_excerpt_retention_days`; retired pseudonym keys are destroyed; with
    `classifier_encoding_cache` on, the cache's rows made from the purged texts and those
    unused for `retention_days` go too. A receipt is written to the audit log. `monitor run`
    does this every `retention_purge_minutes` by itself.
    """
    from monitor.classify.disk_cache import EncodingEraser

    settings = ctx.settings
    policy = retention.Policy.from_settings(settings)
    eraser = EncodingEraser.from_settings(settings)
    now = datetime.now(UTC)
    try:
        report = with_store(
            settings,
            lambda e: retention.purge(
                e, policy, now, dry_run=dry_run, actor=f"cli:{_who()}", encodings=eraser
            ),
            write=True,
        )
    finally:
        if eraser is not None:
            eraser.close()
    verb = "would purge" if dry_run else "purged"
    click.echo(
        f"{verb}: text of {report.posts_text_purged} posts collected before "
        f"{report.text_before:%Y-%m-%d %H:%M} UTC; {report.alert_excerpts_purged} alert "
        f"excerpts added before {report.excerpts_before:%Y-%m-%d %H:%M} UTC; "
        f"{report.rumour_claims_cleared} rumour claims; {report.keys_destroyed} retired keys"
    )
    if not dry_run:
        click.echo(f"copies scrubbed from digests and the mailbox: {report.copies_scrubbed}")
        if eraser is not None and report.encoding_cache_error is None:
            click.echo(
                f"encoding cache {eraser.path}: {report.encodings_forgotten} rows of purged "
                f"posts and {report.encodings_stale} unused or over the limit deleted"
            )
        if report.wal_truncated is False:
            click.echo("the write-ahead log was busy and not truncated; run again", err=True)
        click.echo("receipt written to the audit log")
        if report.encoding_cache_error is not None:
            raise click.ClickException(
                "post text was purged, but the encoding cache could not be updated "
                f"({report.encoding_cache_error}): the purged posts' rows there stay until "
                "unused for retention_days. Fix or delete that file (it is only a cache)."
            )


_BSKY_WEB = re.compile(r"^https://bsky\.app/profile/([^/]+)/post/([^/?#]+)")
PLATFORMS = ("bluesky", "mastodon", "reddit", "rss", "import")


def candidate_ids(given: str) -> set[str]:
    """Stored ids a reference may mean: the id itself, the platform's id with each platform
    prefix, and a Bluesky web link turned into its at-uri."""
    out = {given, *(f"{p}:{given}" for p in PLATFORMS)}
    web = _BSKY_WEB.match(given)
    if web:
        out.add(f"bluesky:at://{web.group(1)}/app.bsky.feed.post/{web.group(2)}")
    return out


@click.command("erase")
@click.argument("posts", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why, e.g. 'erasure request ref 123'.")
@pass_context
def erase_command(ctx: Context, posts: tuple[str, ...], reason: str) -> None:
    """Delete the text of POSTS everywhere it is kept (as a platform deletion is), e.g. for an
    erasure request. POSTS are stored ids or the posts' links."""
    from sqlalchemy import or_, select

    from monitor.classify.disk_cache import EncodingCacheError, EncodingEraser
    from monitor.store import posts as post_store
    from monitor.store.keys import PostKeys
    from monitor.store.tables import posts as posts_table
    from monitor.store.tables import quarantine as quarantine_table

    eraser = EncodingEraser.from_settings(ctx.settings)

    async def work(engine: AsyncEngine) -> tuple[int, int, int]:
        # The store holds ids and links only keyed (monitor/privacy/postids.py): key what was
        # given the same way. A stored id (already keyed) is matched as given.
        keyed = await PostKeys.from_settings(ctx.settings, engine).get()
        given = set().union(*(candidate_ids(p) for p in posts))
        wanted = given | {keyed.key(c) for c in given}
        links = [keyed.link(p) for p in posts]
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(posts_table.c.id).where(
                            or_(posts_table.c.id.in_(wanted), posts_table.c.url.in_(links))
                        )
                    )
                ).scalars()
            )
            # A post that failed a stage waits in the quarantine under the same keyed id, its
            # text kept in the record (purge_text removes the record).
            held = await conn.execute(
                select(quarantine_table.c.key).where(quarantine_table.c.key.in_(wanted))
            )
            ids += [k for k in held.scalars() if k not in ids]
            texts = await post_store.texts_of(conn, ids) if eraser is not None else []
            erased = await post_store.purge_text(conn, ids, now)
            details: dict[str, object] = {
                "requested": len(posts),
                "found": len(ids),
                "erased": erased,
            }
            deleted = 0
            if eraser is not None:
                # Inside the transaction: a cache that cannot be updated rolls the erasure
                # back, so it can be run again while the text (the rows' key) is still kept.
                deleted = (await eraser.forget_async(texts, checkpoint=True)).rows
                details["encodings_deleted"] = deleted
            await audit.record(conn, f"cli:{_who()}", "erase", reason, details, now)
        await retention.checkpoint(engine)
        return len(ids), erased, deleted

    try:
        found, erased, encodings = with_store(ctx.settings, work, write=True)
    except EncodingCacheError as exc:
        raise click.ClickException(
            f"nothing was erased: the classifier's encoding cache could not be updated ({exc}). "
            "Run again, or delete that file (it is only a cache) and run again."
        ) from None
    finally:
        if eraser is not None:
            eraser.close()
    cached = f", {encodings} encoding cache rows deleted" if eraser is not None else ""
    purged = f" ({found - erased} already purged)" if found > erased else ""
    click.echo(
        f"{len(posts)} requested, {found} found, text erased from {erased}{purged}{cached}; "
        "recorded in the audit log"
    )
    if found < len(posts):
        click.echo("some references matched no stored post", err=True)


# --- audit ----------------------------------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """Check the append-only, hash-chained audit log."""


@audit_group.command("verify")
@click.option(
    "--expect-head",
    default=None,
    metavar="COUNT:HASH",
    help="The `monitor audit head` noted earlier: also catches deletion of the newest events.",
)
@pass_context
def audit_verify(ctx: Context, expect_head: str | None) -> None:
    """Recompute the hash chain (with the key from audit_key_env) and check the head exported
    to audit_head_file; exit 1 and say where, if any event was edited, deleted, inserted or
    reordered."""
    settings = ctx.settings
    key = audit.key_from_settings(settings)
    heads: list[tuple[str, int, str]] = []
    if expect_head:
        try:
            count_text, digest = expect_head.split(":", 1)
            count = int(count_text)
            if not 0 <= count < 2**63:  # a row count; more would overflow the store's integers
                raise ValueError(count_text)
            heads.append(("the head given", count, digest))
        except ValueError:
            raise click.BadParameter("use COUNT:HASH as printed by `monitor audit head`") from None
    if settings.audit_head_file:
        head_file = Path(settings.audit_head_file).expanduser()
        try:
            exported = audit.last_exported_head(head_file)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if exported is None:
            click.echo(f"{head_file}: no head exported yet", err=True)
        else:
            heads.append((f"the head exported to {head_file}", *exported))

    async def work(engine: AsyncEngine) -> tuple[list[str], tuple[int, str]]:
        async with engine.connect() as conn:
            problems = await audit.verify(conn, key)
            for source, count, digest in heads:
                why = await audit.check_head(conn, count, digest)
                if why is not None:
                    problems.append(f"{source} ({count}:{digest[:12]}...): {why}")
            return problems, await audit.head(conn)

    problems, (count, newest) = with_store(settings, work, write=False, needs=_AUDIT, what="audit")
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(f"audit log NOT intact ({count} events)", err=True)
        sys.exit(1)
    kind = "keyed (HMAC-SHA256)" if key else "unkeyed: set audit_key_env"
    checked = "; exported head checked" if heads else "; no exported head to check"
    click.echo(f"audit log intact: {count} events, head {count}:{newest} ({kind}{checked})")


@audit_group.command("head")
@pass_context
def audit_head(ctx: Context) -> None:
    """Print COUNT:HASH of the newest event: note it outside the store (a ticket, an e-mail),
    and `verify --expect-head` later proves nothing was removed since."""

    async def work(engine: AsyncEngine) -> tuple[int, str]:
        async with engine.connect() as conn:
            return await audit.head(conn)

    count, newest = with_store(ctx.settings, work, write=False, needs=_AUDIT, what="audit")
    click.echo(f"{count}:{newest}")


# --- governance -----------------------------------------------------------------------------


@click.group("governance")
def governance_group() -> None:
    """Who owns each monitored topic and place, for what purpose, until when."""


@governance_group.command("list")
@pass_context
def governance_list(ctx: Context) -> None:
    """Every monitored subject with its owner, purpose, review date and whether it runs."""
    settings = ctx.settings
    try:
        subjects = governance.home_subjects(settings, resolve_home(settings))
    except ConfigError as exc:  # no such home folder: one line, as every other command
        raise click.ClickException(str(exc)) from None
    now = datetime.now(UTC)

    async def work(engine: AsyncEngine) -> dict[str, governance.Approval]:
        async with engine.connect() as conn:
            return await governance.load_register(conn)

    register = with_store(settings, work, write=False, needs=_GOVERNANCE, what="governance")
    names = sorted({s.id for s in subjects} | set(register))
    lapsed = 0
    for name in names:
        a = register.get(name)
        if a is None:
            click.echo(f"{name:<24} not yet registered (registered at the service's next start)")
            continue
        state = "running" if a.active(now) else "STOPPED: review date passed"
        lapsed += not a.active(now)
        monitored = "" if name in {s.id for s in subjects} else " (not configured now)"
        click.echo(
            f"{name:<24} {state}{monitored}\n"
            f"    owner {a.owner}; purpose {a.purpose}; review by {a.review_by:%Y-%m-%d}; "
            f"approved by {a.approved_by} on {a.approved_at:%Y-%m-%d}"
        )
    if lapsed:
        click.echo(f"{lapsed} subject(s) stopped: re-approve with `monitor governance approve`")


@governance_group.command("approve")
@click.argument("subject")
@click.option("--owner", required=True, help="The team or post responsible for it.")
@click.option(
    "--purpose",
    required=True,
    type=click.Choice(list(governance.PURPOSES)),
    help="Why it is monitored (see `monitor governance purposes`).",
)
@click.option("--by", "approved_by", required=True, help="Who approves it (name and post).")
@click.option("--days", default=None, type=int, help="Days until the next review.")
@click.option("--note", default=None, help="What was reviewed, e.g. the DPIA version.")
@pass_context
def governance_approve(
    ctx: Context,
    subject: str,
    owner: str,
    purpose: str,
    approved_by: str,
    days: int | None,
    note: str | None,
) -> None:
    """Approve (or re-approve) SUBJECT, e.g. pack:tension or places:bradford, until the next
    review. A running service takes it up within a minute."""
    settings = ctx.settings
    review_days = days if days is not None else settings.governance_review_days

    async def work(engine: AsyncEngine) -> governance.Approval:
        async with engine.begin() as conn:
            return await governance.approve(
                conn,
                subject,
                owner=owner,
                purpose=purpose,
                approved_by=approved_by,
                now=datetime.now(UTC),
                review_days=review_days,
                note=note,
            )

    try:
        approval = with_store(settings, work, write=True)
    except governance.GovernanceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{approval.subject} approved for {approval.purpose} until "
        f"{approval.review_by:%Y-%m-%d}; recorded in the audit log"
    )


@governance_group.command("purposes")
def governance_purposes() -> None:
    """The purposes monitoring may serve, and the uses excluded whatever the purpose."""
    click.echo("Purposes (closed list):")
    for name, text in governance.PURPOSES.items():
        click.echo(f"  {name}: {text}")
    click.echo("Never, whatever the purpose:")
    for text in governance.EXCLUDED_USES:
        click.echo(f"  - {text}")


def register(cli: click.Group) -> None:
    for command in (purge_command, erase_command, audit_group, governance_group):
        cli.add_command(command)
