"""Pure: turn alerts and digests into what each channel sends.

Post text is untrusted everywhere it goes:
- e-mail HTML comes from Jinja2 templates (`alerts/templates/*.html`) with autoescaping on, so
  `<script>` in a post arrives as the text "<script>";
- Teams cards are built as Python data and serialised with `json.dumps` (never by string
  templating of JSON), and anything that could hold post text goes in a `TextRun`, which Teams
  shows literally (no markdown, so no smuggled links);
- Slack text is mrkdwn with `&`, `<` and `>` escaped, so `<https://x|click>` or `<!channel>` in a
  post is shown, not acted on, and link unfurling is off;
- webhook bodies are `json.dumps` of plain data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from monitor.alerts import briefing
from monitor.documents.cache import CompiledTemplates

LONDON = ZoneInfo("Europe/London")
LEVELS = ("normal", "elevated", "high", "critical")
LEVEL_COLOURS = {
    "": "#f2f2f2",
    "normal": "#dff0d8",
    "elevated": "#fff3bf",
    "high": "#ffc078",
    "critical": "#c92a2a",
}
# Text on each level's colour, chosen for at least 4.5:1 contrast (WCAG AA); the test computes
# the ratio of every pair the e-mail uses.
LEVEL_TEXT = {"critical": "#ffffff"}
DEFAULT_TEXT = "#1a1a1a"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
TEAMS_TEXT = 20_000


@dataclass(frozen=True)
class AlertView:
    id: int
    key: str
    summary: str
    labels: Mapping[str, str]
    status: str
    post_count: int
    first_seen: datetime
    last_seen: datetime
    excerpts: tuple[str, ...] = ()
    # Evidence posts not quoted because their text is gone: deleted by their authors (a
    # platform deletion or re-check) or past the excerpt retention. Said in the message.
    removed: int = 0
    url: str | None = None


@dataclass(frozen=True)
class AlertMessage:
    """What one notification says: one or more alerts of a group, and why it is sent now."""

    receiver: str
    reason: str  # alert | updated | reminder | escalation | escalated (by a person)
    alerts: tuple[AlertView, ...]
    group: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """A rendered message: every channel takes what it needs from it."""

    subject: str
    text: str
    html: str
    data: Mapping[str, Any]  # plain JSON-able data for cards and webhooks


# Compiled once per process for every alert service (one per runtime start); one cache for
# each kind of environment, since autoescaping changes the compiled code.
_COMPILED_HTML = CompiledTemplates()
_COMPILED_TEXT = CompiledTemplates()


def make_environment(templates: Path) -> tuple[Environment, Environment]:
    """(html, text) Jinja2 environments over `alerts/templates`; HTML ones autoescape."""
    common: dict[str, Any] = {
        "loader": FileSystemLoader(templates),
        "undefined": StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    html = Environment(autoescape=True, bytecode_cache=_COMPILED_HTML, **common)
    text = Environment(autoescape=False, bytecode_cache=_COMPILED_TEXT, **common)
    for env in (html, text):
        env.filters["london"] = london
        env.filters["level_colour"] = lambda lvl: LEVEL_COLOURS.get(str(lvl), "#f2f2f2")
        env.filters["level_text"] = lambda lvl: LEVEL_TEXT.get(str(lvl), DEFAULT_TEXT)
        env.filters["labels"] = format_labels
        env.filters["accounts"] = briefing.accounts
    return html, text


TEMPLATES = ("alert.html", "alert.txt", "digest.html", "digest.txt")


def check_templates(envs: tuple[Environment, Environment], templates: Path) -> list[str]:
    """Every message template of `make_environment(templates)` compiled (kept in those
    environments for the renders after), its problems as 'file:line: reason' (none: [])."""
    from jinja2 import TemplateError, TemplateSyntaxError

    problems: list[str] = []
    html, text = envs
    for name in TEMPLATES:
        env = html if name.endswith(".html") else text
        where = templates / name
        try:
            env.get_template(name)
        except TemplateSyntaxError as exc:
            problems.append(f"{where}:{exc.lineno}: {exc.message}")
        except UnicodeDecodeError as exc:
            problems.append(f"{where}: not UTF-8 text (byte {exc.start})")
        except TemplateError as exc:  # not found, or an include that is
            problems.append(f"{where}: {exc.__class__.__name__}: {exc}")
        except OSError as exc:  # a directory, no permission
            problems.append(f"{where}: cannot read: {exc.strerror or exc}")
    return problems


def london(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(LONDON).strftime("%a %d %b %Y %H:%M")


def format_labels(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={labels[k]}" for k in sorted(labels))


def one_line(text: str, limit: int = 200) -> str:
    """For subjects and titles: no line breaks (header injection) and bounded."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs require."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- alerts ------------------------------------------------------------------------------

_REASON_PREFIX = {
    "alert": "",
    "updated": "Updated: ",
    "reminder": "Reminder (not yet acknowledged): ",
    "escalation": "Escalated (not acknowledged): ",
    "escalated": "Escalated to you by the communities team: ",
}


def alert_subject(msg: AlertMessage) -> str:
    prefix = _REASON_PREFIX.get(msg.reason, "")
    if len(msg.alerts) == 1:
        return one_line(prefix + msg.alerts[0].summary)
    group = ", ".join(v for v in msg.group.values() if v) or "one group"
    return one_line(f"{prefix}{len(msg.alerts)} alerts: {group}")


def alert_data(msg: AlertMessage) -> dict[str, Any]:
    return {
        "type": "alert",
        "receiver": msg.receiver,
        "reason": msg.reason,
        "title": alert_subject(msg),
        "group": dict(msg.group),
        "alerts": [
            {
                **asdict(a),
                "labels": dict(a.labels),
                "excerpts": list(a.excerpts),
                "first_seen": a.first_seen.isoformat(),
                "last_seen": a.last_seen.isoformat(),
            }
            for a in msg.alerts
        ],
    }


def render_alert(msg: AlertMessage, envs: tuple[Environment, Environment]) -> Message:
    html_env, text_env = envs
    data = alert_data(msg)
    context = {**data, "alerts": msg.alerts}
    return Message(
        subject=data["title"],
        text=text_env.get_template("alert.txt").render(**context),
        html=html_env.get_template("alert.html").render(**context),
        data=data,
    )


# --- digests -----------------------------------------------------------------------------


def render_digest(view: Mapping[str, Any], envs: tuple[Environment, Environment]) -> Message:
    """`view` is the JSON-able digest data built by monitor/alerts/digests.py."""
    html_env, text_env = envs
    late = " (late)" if view.get("late") else ""
    subject = one_line(f"{view['title']}{late}: {view['period_label']}")
    data = {"type": "digest", "title": subject, **view}
    return Message(
        subject=subject,
        text=text_env.get_template("digest.txt").render(**data),
        html=html_env.get_template("digest.html").render(**data),
        data=data,
    )


# --- channel payloads: built as data, serialised with json.dumps ---------------------------


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _rich(*runs: dict[str, Any], spacing: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "RichTextBlock", "inlines": list(runs)}
    if spacing:
        block["spacing"] = spacing
    return block


def teams_payload(message: Message) -> dict[str, Any]:
    """A Workflows-webhook message with one Adaptive Card (schema 1.4)."""
    data = message.data
    body: list[dict[str, Any]] = [_rich(_run(message.subject, weight="Bolder", size="Medium"))]
    actions: list[dict[str, Any]] = []
    if data.get("type") == "alert":
        for alert in data["alerts"]:
            body.append(_rich(_run(alert["summary"], weight="Bolder"), spacing="Medium"))
            facts = [f"{k}: {v}" for k, v in sorted(alert["labels"].items())]
            facts.append(f"posts: {alert['post_count']}  ·  status: {alert['status']}")
            facts.append(f"first seen {london(alert['first_seen'])}")
            body.append(_rich(_run("\n".join(facts), isSubtle=True)))
            for excerpt in alert["excerpts"]:
                body.append(_rich(_run(excerpt, italic=True)))
            if alert.get("url") and len(actions) < 5:
                actions.append(
                    {
                        "type": "Action.OpenUrl",
                        "title": f"Open alert {alert['id']}",
                        "url": alert["url"],
                    }
                )
    else:
        # Teams refuses cards over about 28 KB: the text digest is cut, with the link to the
        # full one in the web UI left to the digest itself.
        text = message.text if len(message.text) <= TEAMS_TEXT else message.text[:TEAMS_TEXT] + "…"
        body.append(_rich(_run(text, fontType="Monospace")))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def slack_payload(message: Message) -> dict[str, Any]:
    """An incoming-webhook message: mrkdwn with Slack's control characters escaped."""
    data = message.data
    blocks: list[dict[str, Any]] = [_mrkdwn(f"*{slack_escape(message.subject)}*")]
    if data.get("type") == "alert":
        for alert in data["alerts"][:20]:  # Slack allows 50 blocks
            lines = [f"*{slack_escape(alert['summary'])}*"]
            labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
            lines.append(slack_escape(labels))
            lines.append(f"posts: {alert['post_count']} · status: {slack_escape(alert['status'])}")
            if alert.get("url"):
                lines.append(f"<{_slack_url(alert['url'])}|Open alert {alert['id']}>")
            blocks.append(_mrkdwn("\n".join(lines)))
            for excerpt in alert["excerpts"]:
                quoted = "\n".join("> " + line for line in slack_escape(excerpt).splitlines())
                blocks.append({"type": "context", "elements": [_text(quoted or "> ")]})
    else:
        blocks.append(_mrkdwn("```" + slack_escape(message.text[:2900]) + "```"))
    return {
        "text": slack_escape(message.subject),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text(text)}


def _text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:3000]}


def _slack_url(url: str) -> str:
    # Our own link: only characters that cannot end the <url|label> form.
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def webhook_body(message: Message, idempotency_key: str, sent_at: datetime) -> bytes:
    """The generic webhook's JSON body (compact, UTF-8)."""
    payload = {
        "id": idempotency_key,
        "timestamp": sent_at.isoformat(),
        "subject": message.subject,
        **message.data,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
