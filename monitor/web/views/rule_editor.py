"""Admin: edit a rule pack's YAML file in the browser, check it, run its examples, backtest it
over the stored history, and publish it with a recorded reason.

The YAML files stay the source of truth: the editor edits a file's text and publishing writes
that text back (so the diff is exactly the edit). Every check goes through the project's own
loader (`monitor.rules.loader.load_ruleset`) on a copy of the packs with the draft in place,
so the problems shown are the loader's `file:line: reason`; a draft with an error is never
written, and the running service keeps its last good set (its holder reloads only a set that
loads cleanly). A backtest shows matching posts' excerpts, so it is an evidence route (purpose
and audit); publishing writes the audit log with the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import difflib
import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.rules.engine import RuleSet, evaluate_post
from monitor.rules.examples import ExampleResult, run_examples
from monitor.rules.loader import PACK_FILE, RuleSetHolder, load_ruleset, pack_dirs, rule_files
from monitor.rules.normalise import Doc, make_doc
from monitor.rules.schema import PackError, Problem, RuleSpec
from monitor.rules.service import rules_dir
from monitor.runtime.state import RUNTIME, Runtime
from monitor.safeguards import audit
from monitor.store.alerts import excerpt
from monitor.store.tables import posts
from monitor.types import Post
from monitor.web.charts import draft_against_published
from monitor.web.explain import current_ruleset
from monitor.web.files import replace_text
from monitor.web.params import json_object
from monitor.web.queries.evidence import RULE_POST_COLUMNS, rule_posts
from monitor.web.render import page
from monitor.web.state import WEB, note_audit, require_session

routes = web.RouteTableDef()
LONDON = ZoneInfo("Europe/London")
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,80}\.ya?ml")
PACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,80}")
MAX_TEXT = 200_000
BACKTEST_MAX = 200_000  # newest posts a backtest reads at most
PAGE = 2000
SAMPLES = 20
WINDOWED = "its per-post conditions hold; its window (counts, authors, velocity) needs the stream"
MIN_REASON = 10


class EditError(ValueError):
    """A request the editor refuses; the message says why."""


# --- where the files are ------------------------------------------------------------------------


def holder_of(rt: Runtime) -> RuleSetHolder | None:
    holder = getattr(rt.rules, "holder", None)
    return holder if isinstance(holder, RuleSetHolder) else None


def root_of(rt: Runtime) -> Path:
    holder = holder_of(rt)
    return holder.rules_dir if holder is not None else rules_dir(rt.home)


def today_of(rt: Runtime) -> dt.date:
    holder = holder_of(rt)
    return holder.today() if holder is not None else dt.date.today()


def locate(rt: Runtime, pack: str, file: str) -> Path:
    """The file `pack/file` under the rules folder: an existing pack, a plain YAML name."""
    if not PACK_NAME.fullmatch(pack) or not FILE_NAME.fullmatch(file):
        raise web.HTTPNotFound(text="no such rule file")
    root = root_of(rt)
    try:
        packs = {d.name for d in pack_dirs(root)}
    except PackError:
        packs = set()
    if pack not in packs:
        raise web.HTTPNotFound(text=f"no rule pack {pack!r}")
    return root / pack / file


def display(rt: Runtime, path: Path) -> str:
    """The file as the loader names it in problems and on rules (`rules/<pack>/<file>`)."""
    root = root_of(rt)
    return str(path.relative_to(root.parent))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def clean(text: str) -> str:
    """Text as a file holds it: LF line ends (browsers send CRLF) and a final newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_TEXT:
        raise EditError(f"the file may hold at most {MAX_TEXT:,} characters")
    return text if text.endswith("\n") or not text else text + "\n"


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def pack_files(rt: Runtime) -> dict[str, list[str]]:
    """Each pack's files: pack.yaml first, then its rule files."""
    try:
        dirs = pack_dirs(root_of(rt))
    except PackError:
        return {}
    return {d.name: [PACK_FILE, *(p.name for p in rule_files(d))] for d in dirs}


# --- checking a draft with the loader -----------------------------------------------------------


@dataclasses.dataclass
class Draft:
    text: str
    file: str  # as the loader names it
    ruleset: RuleSet | None  # every pack, with the draft in place; None when it does not load
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    def rules(self) -> list[RuleSpec]:
        return rules_in(self.ruleset, self.file)


def rules_in(ruleset: RuleSet | None, file: str) -> list[RuleSpec]:
    if ruleset is None:
        return []
    return [r for p in ruleset.packs for r in p.rules if r.file == file]


@contextmanager
def draft_tree(root: Path, pack: str, file: str, text: str) -> Iterator[Path]:
    """A copy of the rule packs with the draft written in place of `pack/file`."""
    with tempfile.TemporaryDirectory(prefix="rules-draft-") as tmp:
        copy = Path(tmp) / root.name
        copy.mkdir()
        for d in pack_dirs(root):
            shutil.copytree(d, copy / d.name)
        (copy / pack / file).write_text(text, encoding="utf-8")
        yield copy


def check_draft(rt: Runtime, pack: str, file: str, text: str) -> Draft:
    """Load every pack with the draft in place, through the loader the service uses."""
    root = root_of(rt)
    holder = holder_of(rt)
    name = display(rt, root / pack / file)
    # The packs the service runs (rules_packs), and the edited one even when it runs none.
    only = tuple(sorted({*holder.only, pack})) if holder and holder.only else ()
    with draft_tree(root, pack, file, text) as copy:
        try:
            ruleset = load_ruleset(copy, only=only, today=today_of(rt))
        except PackError as exc:
            return Draft(text, name, None, list(exc.problems))
    return Draft(text, name, ruleset, list(ruleset.warnings))


def only_file(ruleset: RuleSet, file: str, rule_id: str | None = None) -> RuleSet:
    """The rule set of one file's rules (with their packs' counter-speech exclusions)."""
    packs = []
    for p in ruleset.packs:
        kept = tuple(r for r in p.rules if r.file == file and (rule_id is None or r.id == rule_id))
        if kept or any(c.file == file for c in p.counter_speech):
            packs.append(dataclasses.replace(p, rules=kept))
    return RuleSet(tuple(packs))


async def examples(rt: Runtime, draft: Draft) -> list[ExampleResult]:
    """The examples of the draft file's rules (and its counter-speech entries), run as
    `monitor rules test` runs them; examples without scores of their own are scored by the
    service's classifier."""
    if draft.ruleset is None:
        return []
    mine = only_file(draft.ruleset, draft.file)
    needs = list(
        dict.fromkeys(
            ex.text
            for r in mine.rules
            if r.scores
            for ex in (*r.match, *r.no_match)
            if ex.scores is None
        )
    )
    scored: dict[str, dict[str, float]] = {}
    if needs:
        scored = {t: dict(s) for t, s in zip(needs, await rt.classifier.score(needs), strict=True)}
    results = run_examples(mine, (lambda texts: [scored[t] for t in texts]) if needs else None)
    return [r for r in results if r.file == draft.file]


def diff_lines(before: str, after: str, name: str) -> list[str]:
    return list(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), f"a/{name}", f"b/{name}", lineterm="", n=2
        )
    )


# --- backtest over the stored history -----------------------------------------------------------


@dataclasses.dataclass
class Backtest:
    scanned: int = 0
    purged: int = 0  # stored posts whose text was purged (retention): not tested
    capped: bool = False
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    draft_posts: int = 0
    published_posts: int = 0
    per_rule: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # id -> [d, p]
    days: dict[dt.date, list[int]] = dataclasses.field(default_factory=dict)  # -> [d, p]
    samples: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    dropped: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # published only

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "purged": self.purged,
            "capped": self.capped,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "draft_posts": self.draft_posts,
            "published_posts": self.published_posts,
            "rules": [
                {"rule": k, "draft": v[0], "published": v[1]}
                for k, v in sorted(self.per_rule.items())
            ],
            "days": [
                {"day": d.isoformat(), "draft": v[0], "published": v[1]}
                for d, v in sorted(self.days.items())
            ],
            "samples": [_sample_json(s) for s in self.samples],
            "no_longer_matching": [_sample_json(s) for s in self.dropped],
        }


def _sample_json(s: dict[str, Any]) -> dict[str, Any]:
    return {**s, "created_at": s["created_at"].isoformat()}


async def _page(
    conn: AsyncConnection, before: tuple[dt.datetime, str] | None
) -> list[tuple[Post, dict[str, float]]]:
    stmt = select(*RULE_POST_COLUMNS).where(posts.c.text.is_not(None))
    if before is not None:
        at, pid = before
        stmt = stmt.where(
            or_(posts.c.created_at < at, and_(posts.c.created_at == at, posts.c.id < pid))
        )
    rows = (
        await conn.execute(stmt.order_by(posts.c.created_at.desc(), posts.c.id.desc()).limit(PAGE))
    ).all()
    return await rule_posts(conn, rows)


def _fired(
    ruleset: RuleSet, post: Post, scores: dict[str, float], doc: Doc
) -> list[tuple[str, list[str]]]:
    """The rules of `ruleset` that fire on the post, as the pipeline decides it (windowed rules
    by their per-post conditions: their counts need the stream), each with its reason."""
    found = evaluate_post(ruleset, post, scores, doc)
    out = [(hit.rule_id, [hit.reason] if hit.reason else []) for hit in found.hits]
    out += [(rule.id, [WINDOWED]) for rule in found.windowed]
    return out


def _match_page(
    result: Backtest,
    draft: RuleSet,
    published: RuleSet,
    batch: list[tuple[Post, dict[str, float]]],
) -> None:
    """Runs in a worker thread: the rule sets are this request's own."""
    for post, scores in batch:
        result.scanned += 1
        at = post.created_at
        result.first = at if result.first is None or at < result.first else result.first
        result.last = at if result.last is None or at > result.last else result.last
        doc = make_doc(post.text)  # once for both versions: it is most of the work
        now = _fired(draft, post, scores, doc)
        before = _fired(published, post, scores, doc)
        for rule_id, _ in now:
            result.per_rule.setdefault(rule_id, [0, 0])[0] += 1
        for rule_id, _ in before:
            result.per_rule.setdefault(rule_id, [0, 0])[1] += 1
        day = at.astimezone(LONDON).date()
        counts = result.days.setdefault(day, [0, 0])
        if now:
            result.draft_posts += 1
            counts[0] += 1
            if len(result.samples) < SAMPLES:
                result.samples.append(_hit(post, now, new=not before))
        if before:
            result.published_posts += 1
            counts[1] += 1
            if not now and len(result.dropped) < SAMPLES // 2:
                result.dropped.append(_hit(post, before, new=False))


def _hit(post: Post, fired: list[tuple[str, list[str]]], new: bool) -> dict[str, Any]:
    return {
        "post": "post-" + hashlib.sha256(post.id.encode()).hexdigest()[:10],
        "created_at": post.created_at,
        "places": [p.name for p in post.places],
        "excerpt": excerpt(post.text),
        "language": post.language,
        "rules": [rule_id for rule_id, _ in fired],
        "lines": [line for _, lines in fired for line in lines][:12],
        "new": new,
    }


async def backtest(
    rt: Runtime, draft: Draft, published: RuleSet | None, rule_id: str | None
) -> Backtest:
    """The draft file's rules against every stored post whose text is still kept (newest
    first, at most BACKTEST_MAX), beside the published version of the same file."""
    assert draft.ruleset is not None
    mine = only_file(draft.ruleset, draft.file, rule_id)
    theirs = only_file(published, draft.file, rule_id) if published else RuleSet(())
    result = Backtest()
    async with rt.engine.connect() as conn:
        result.purged = int(
            (await conn.execute(select(func.count()).where(posts.c.text.is_(None)))).scalar_one()
        )
        before: tuple[dt.datetime, str] | None = None
        while result.scanned < BACKTEST_MAX:
            batch = await _page(conn, before)
            if not batch:
                break
            await asyncio.to_thread(_match_page, result, mine, theirs, batch)
            before = (batch[-1][0].created_at, batch[-1][0].id)
            if len(batch) < PAGE:
                break
        else:
            result.capped = True
    return result


# --- publishing ---------------------------------------------------------------------------------


async def publish(
    request: web.Request, pack: str, file: str, text: str, reason: str, base: str
) -> dict[str, Any]:
    """Write the draft after the loader accepted it, reload the service's rules, audit it."""
    rt = request.app[RUNTIME]
    session = require_session(request)
    if len(reason.strip()) < MIN_REASON:
        raise EditError(f"give the reason for publishing (at least {MIN_REASON} characters)")
    path = locate(rt, pack, file)
    before = read_text(path)
    if base and base != sha(before):
        raise EditError(
            "the file changed since you opened it (someone else published, or it was edited on "
            "disk): copy your draft, reload the page and apply it again"
        )
    if text == before:
        raise EditError("the draft is the same as the published file: nothing to publish")
    draft = check_draft(rt, pack, file, text)
    if draft.errors:
        raise EditError("the draft does not load: " + "; ".join(str(p) for p in draft.errors))
    old_rules = {r.id for r in rules_in(current_ruleset(rt.rules), draft.file)}
    new_rules = {r.id for r in draft.rules()}
    diff = diff_lines(before, text, draft.file)
    replace_text(path, text)
    holder = holder_of(rt)
    reloaded = holder.reload_if_changed() if holder is not None else False
    refused = [str(p) for p in holder.problems if p.level == "error"] if holder else []
    detail = {
        "file": draft.file,
        "before": sha(before),
        "after": sha(text),
        "rules_added": sorted(new_rules - old_rules),
        "rules_removed": sorted(old_rules - new_rules),
        "lines_added": sum(1 for d in diff if d.startswith("+") and not d.startswith("+++")),
        "lines_removed": sum(1 for d in diff if d.startswith("-") and not d.startswith("---")),
        "in_force": reloaded,
    }
    async with rt.engine.begin() as conn:
        await audit.record(
            conn,
            session.user.username,
            "rules.publish",
            reason.strip()[:1000],
            detail,
            request.app[WEB].clock(),
        )
    return {**detail, "refused_on_reload": refused}


# --- pages --------------------------------------------------------------------------------------


def _edit_page(
    request: web.Request,
    pack: str,
    file: str,
    text: str,
    *,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    rt = request.app[RUNTIME]
    path = locate(rt, pack, file)
    published_text = read_text(path)
    name = display(rt, path)
    holder = holder_of(rt)
    refused = [p for p in holder.problems if p.level == "error"] if holder else []
    draft_rules = extra.pop("draft_rules", None)
    context: dict[str, Any] = {
        "pack": pack,
        "file": file,
        "display_file": name,
        "text": text,
        "base": extra.pop("base", None) or sha(published_text),
        "exists": path.is_file(),
        "rule_ids": [r.id for r in (draft_rules or rules_in(current_ruleset(rt.rules), name))],
        "refused": refused,
        "problems": None,
        "results": None,
        "diff": None,
        "bt": None,
        "chart": None,
        "published": None,
        "error": None,
        "reason": "",
        "rule": "",
        "has_purpose": _purpose(request),
    }
    context.update(extra)
    return page(request, "admin_rule.html", status=status, title=f"Edit {name}", **context)


def _purpose(request: web.Request) -> bool:
    session = require_session(request)
    return session.purpose_at(request.app[WEB].clock()) is not None


def _names(request: web.Request) -> tuple[str, str]:
    return request.match_info["pack"], request.match_info["file"]


@routes.get("/admin/rules/{pack}/{file}", name="rule_edit")
async def rule_edit(request: web.Request) -> web.Response:
    pack, file = _names(request)
    rt = request.app[RUNTIME]
    path = locate(rt, pack, file)
    published = None
    if request.query.get("published"):
        published = request.query["published"][:40]
    return _edit_page(request, pack, file, read_text(path), published=published)


async def _form(request: web.Request) -> tuple[str, str, str, str]:
    form = await request.post()
    try:
        text = clean(str(form.get("text", "")))
    except EditError as exc:
        raise web.HTTPRequestEntityTooLarge(MAX_TEXT, len(str(form.get("text", "")))) from exc
    return (
        text,
        str(form.get("base", ""))[:40],
        str(form.get("reason", "")),
        str(form.get("rule", ""))[:200],
    )


async def _checked(request: web.Request, pack: str, file: str, text: str) -> dict[str, Any]:
    rt = request.app[RUNTIME]
    path = locate(rt, pack, file)  # first: an unknown pack or file is a 404, not a draft to write
    draft = check_draft(rt, pack, file, text)
    return {
        "problems": draft.problems,
        "results": await examples(rt, draft),
        "diff": diff_lines(read_text(path), text, draft.file),
        "draft_rules": draft.rules() or None,
        "draft": draft,
    }


@routes.post("/admin/rules/{pack}/{file}/check", name="rule_check")
async def rule_check(request: web.Request) -> web.Response:
    pack, file = _names(request)
    text, base, reason, rule = await _form(request)
    checked = await _checked(request, pack, file, text)
    checked.pop("draft")
    return _edit_page(request, pack, file, text, base=base, reason=reason, rule=rule, **checked)


@routes.post("/admin/rules/{pack}/{file}/backtest", name="rule_backtest")
async def rule_backtest(request: web.Request) -> web.Response:
    pack, file = _names(request)
    text, base, reason, rule = await _form(request)
    rt = request.app[RUNTIME]
    checked = await _checked(request, pack, file, text)
    draft: Draft = checked.pop("draft")
    if draft.errors:
        return _edit_page(
            request, pack, file, text, status=400, base=base, reason=reason, rule=rule,
            error="Fix the problems below before a backtest.", **checked,
        )  # fmt: skip
    ids = {r.id for r in draft.rules()}
    result = await backtest(rt, draft, current_ruleset(rt.rules), rule if rule in ids else None)
    note_audit(
        request,
        file=draft.file,
        rule=rule or None,
        scanned=result.scanned,
        matched=result.draft_posts,
        shown=len(result.samples) + len(result.dropped),
    )
    points = [(d, v[0], v[1]) for d, v in sorted(result.days.items())]
    return _edit_page(
        request, pack, file, text, base=base, reason=reason, rule=rule, bt=result,
        chart=draft_against_published(points), **checked,
    )  # fmt: skip


@routes.post("/admin/rules/{pack}/{file}/publish", name="rule_publish")
async def rule_publish(request: web.Request) -> web.StreamResponse:
    pack, file = _names(request)
    text, base, reason, rule = await _form(request)
    try:
        done = await publish(request, pack, file, text, reason, base)
    except EditError as exc:
        checked = await _checked(request, pack, file, text)
        checked.pop("draft")
        return _edit_page(
            request, pack, file, text, status=400, base=base, reason=reason, rule=rule,
            error=f"Not published: {exc}", **checked,
        )  # fmt: skip
    raise web.HTTPSeeOther(f"/admin/rules/{pack}/{file}?published={done['after']}")


# --- API ----------------------------------------------------------------------------------------


def _problem_json(p: Problem) -> dict[str, Any]:
    return {"file": p.file, "line": p.line, "message": p.message, "level": p.level}


def _example_json(r: ExampleResult) -> dict[str, Any]:
    return {
        "rule": r.origin,
        "line": r.line,
        "text": r.text,
        "expected": "match" if r.expected else "no match",
        "passed": r.passed,
        "why": list(r.lines),
        "note": r.note,
    }


async def _body(request: web.Request) -> tuple[str, str, str, dict[str, Any]]:
    body = await json_object(request)
    pack, file = str(body.get("pack", "")), str(body.get("file", ""))
    locate(request.app[RUNTIME], pack, file)
    try:
        text = clean(str(body.get("text", "")))
    except EditError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return pack, file, text, body


@routes.get("/api/v1/admin/rules/{pack}/{file}", name="api_rule_file")
async def api_rule_file(request: web.Request) -> web.Response:
    pack, file = _names(request)
    rt = request.app[RUNTIME]
    path = locate(rt, pack, file)
    text = read_text(path)
    return web.json_response(
        {"file": display(rt, path), "exists": path.is_file(), "text": text, "sha": sha(text)}
    )


@routes.post("/api/v1/admin/rules/validate", name="api_rule_validate")
async def api_rule_validate(request: web.Request) -> web.Response:
    pack, file, text, _ = await _body(request)
    checked = await _checked(request, pack, file, text)
    results: list[ExampleResult] = checked["results"]
    draft: Draft = checked["draft"]
    return web.json_response(
        {
            "ok": not draft.errors,
            "problems": [_problem_json(p) for p in draft.problems],
            "rules": [r.id for r in draft.rules()],
            "examples": {
                "passed": sum(r.passed for r in results),
                "failed": [_example_json(r) for r in results if not r.passed],
            },
            "diff": checked["diff"],
        }
    )


@routes.post("/api/v1/admin/rules/backtest", name="api_rule_backtest")
async def api_rule_backtest(request: web.Request) -> web.Response:
    pack, file, text, body = await _body(request)
    rt = request.app[RUNTIME]
    draft = check_draft(rt, pack, file, text)
    if draft.errors:
        return web.json_response(
            {
                "error": "the draft does not load",
                "problems": [_problem_json(p) for p in draft.errors],
            },
            status=400,
        )
    rule = str(body.get("rule", "")) or None
    result = await backtest(rt, draft, current_ruleset(rt.rules), rule)
    note_audit(request, file=draft.file, rule=rule, scanned=result.scanned,
               matched=result.draft_posts)  # fmt: skip
    return web.json_response(result.as_dict())


@routes.post("/api/v1/admin/rules/publish", name="api_rule_publish")
async def api_rule_publish(request: web.Request) -> web.Response:
    pack, file, text, body = await _body(request)
    try:
        done = await publish(
            request, pack, file, text, str(body.get("reason", "")), str(body.get("base", ""))[:40]
        )
    except EditError as exc:
        return web.json_response(
            {"error": str(exc)}, status=409 if "changed since" in str(exc) else 400
        )
    return web.json_response(done)
