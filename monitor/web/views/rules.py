"""Rules: the loaded packs, and trying a rule (or a draft query) against recent posts.

Trying shows matching posts' excerpts, so it is an evidence route: a purpose is asked for and
each try is audited. It runs on posts already stored and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.rules.engine import RuleSet
from monitor.rules.examples import verdict
from monitor.rules.normalise import make_doc
from monitor.rules.query import QueryError, compile_query, matched_words
from monitor.rules.schema import RuleSpec
from monitor.runtime.state import RUNTIME
from monitor.store.alerts import excerpt
from monitor.store.tables import posts
from monitor.types import Post
from monitor.web.explain import current_ruleset
from monitor.web.queries.evidence import RULE_POST_COLUMNS, rule_posts
from monitor.web.render import page
from monitor.web.state import WEB, note_audit
from monitor.web.views.rule_editor import pack_files

routes = web.RouteTableDef()
SCAN_CHOICES = (200, 1000, 5000)
SHOW = 50


def find_rule(ruleset: RuleSet, rule_id: str) -> RuleSpec | None:
    for pack in ruleset.packs:
        for rule in pack.rules:
            if rule.id == rule_id:
                return rule
    return None


@routes.get("/rules", name="rules")
async def rules_page(request: web.Request) -> web.Response:
    ruleset = current_ruleset(request.app[RUNTIME].rules)
    today = request.app[WEB].clock().date()
    return page(
        request,
        "rules.html",
        title="Rules",
        ruleset=ruleset,
        today=today,
        scan_choices=SCAN_CHOICES,
        files=pack_files(request.app[RUNTIME]),
    )


async def _recent(conn: AsyncConnection, limit: int) -> list[tuple[Post, dict[str, float]]]:
    rows = (
        await conn.execute(
            select(*RULE_POST_COLUMNS)
            .where(posts.c.text.is_not(None))
            .order_by(posts.c.created_at.desc())
            .limit(limit)
        )
    ).all()
    return await rule_posts(conn, rows)


def _hit(post: Post, lines: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {
        "post_id": post.id,
        "created_at": post.created_at,
        "places": [p.name for p in post.places],
        "excerpt": excerpt(post.text),
        "language": post.language,
        "lines": list(lines),
    }


@routes.get("/rules/try", name="rules_try")
async def try_page(request: web.Request) -> web.Response:
    ruleset = current_ruleset(request.app[RUNTIME].rules)
    rule_id = request.query.get("rule", "")
    query_text = request.query.get("query", "").strip()[:2000]
    try:
        scan = int(request.query.get("scan", "1000"))
    except ValueError:
        scan = 1000
    scan = scan if scan in SCAN_CHOICES else 1000
    rule = find_rule(ruleset, rule_id) if ruleset is not None and rule_id else None
    problem = None
    compiled = None
    if query_text:
        try:
            compiled = compile_query(query_text)
        except QueryError as exc:
            problem = f"The query does not parse: {exc}"
    elif rule is None:
        problem = "Choose a rule, or write a query to try."
    hits: list[dict[str, Any]] = []
    scanned = total = 0
    if problem is None:
        async with request.app[RUNTIME].engine.connect() as conn:
            recent = await _recent(conn, scan)
        for post, scores in recent:  # every post scanned is counted; the first SHOW shown
            scanned += 1
            if compiled is not None:
                doc = make_doc(post.text)
                if compiled.test(doc):
                    total += 1
                    if len(hits) < SHOW:
                        words = matched_words(compiled, doc)
                        hits.append(_hit(post, ["matched " + ", ".join(repr(w) for w in words)]))
            elif rule is not None and ruleset is not None:
                v = verdict(ruleset, rule, post, scores or None)
                if v.fired:
                    total += 1
                    if len(hits) < SHOW:
                        hits.append(_hit(post, v.lines))
    note_audit(
        request,
        rule=rule_id or None,
        query=query_text or None,
        scanned=scanned,
        matched=total,
        shown=len(hits),
    )
    return page(
        request,
        "rules_try.html",
        title="Try a rule",
        ruleset=ruleset,
        rule=rule,
        rule_id=rule_id,
        query=query_text,
        scan=scan,
        scan_choices=SCAN_CHOICES,
        problem=problem,
        hits=hits,
        scanned=scanned,
        total=total,
        show=SHOW,
        windowed=rule is not None and rule.window is not None,
    )
