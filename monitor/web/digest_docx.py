"""A stored digest as a Word document (the weekly Community Tension Summary is filed and
forwarded as one): the same sections the page shows, built from the run's stored data with post
text already removed (`views/digests.without_text`), so the document holds aggregates,
sentences and places only."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document

LONDON = ZoneInfo("Europe/London")
SUMMARY = (
    ("drivers", "Drivers"),
    ("events", "Forthcoming events"),
    ("reassurance", "Community reassurance"),
    ("actions", "Recommended actions (for people to decide)"),
)


def _london(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return str(value.astimezone(LONDON).strftime("%a %d %b %Y %H:%M"))
    return "—"


def _bullets(doc: Any, lines: Any) -> None:
    items = [str(x) for x in lines or [] if str(x).strip()]
    for line in items or ["None."]:
        doc.add_paragraph(line, style="List Bullet")


def digest_docx(view: Mapping[str, Any], sent_at: datetime | None) -> bytes:
    """The document's bytes (Office Open XML)."""
    doc = Document()
    doc.core_properties.title = str(view.get("title") or view.get("name") or "Digest")
    doc.core_properties.author = "Community tension monitor"
    doc.add_heading(str(view.get("title") or view.get("name") or "Digest"), level=0)
    period = str(view.get("period_label") or "")
    sent = f"; sent {_london(sent_at)}" if sent_at else ""
    doc.add_paragraph(f"{period}{' (sent late)' if view.get('late') else ''}{sent}.")
    doc.add_paragraph(
        "OFFICIAL-SENSITIVE. Aggregates and places from public posts; authors are never named "
        "and no post text is included. People decide what to do."
    )
    summary = view.get("summary")
    if isinstance(summary, Mapping):
        doc.add_heading("Community tension summary", level=1)
        doc.add_paragraph(str(summary.get("overall") or "")).runs[0].bold = True
        for key, heading in SUMMARY:
            doc.add_heading(heading, level=2)
            _bullets(doc, summary.get(key))
        doc.add_heading("Incidents by area", level=2)
        by_area = summary.get("by_area") or []
        _bullets(
            doc,
            [f"{a.get('area')}: {'; '.join(map(str, a.get('items') or []))}" for a in by_area],
        )
    incidents = view.get("incidents") or []
    if "incidents" in (view.get("sections") or []):
        doc.add_heading("Incidents", level=1)
        if not incidents:
            doc.add_paragraph("No incidents in this period.")
        for i in incidents:
            doc.add_heading(str(i.get("headline") or "Incident"), level=2)
            s = i.get("sentences")
            if isinstance(s, Mapping):
                for key in ("where", "when", "level", "change", "next", "action"):
                    if s.get(key):
                        doc.add_paragraph(str(s[key]))
            else:
                places = ", ".join(map(str, i.get("places") or [])) or "No named place"
                gathering = f"; gathering: {i['gathering']}" if i.get("gathering") else ""
                doc.add_paragraph(f"{places}: {i.get('level')}, {i.get('status')}{gathering}")
    levels = view.get("levels")
    if isinstance(levels, Mapping) and levels.get("rows"):
        doc.add_heading("Flagged posts by place", level=1)
        buckets = [str(b) for b in levels.get("buckets") or []]
        table = doc.add_table(rows=1, cols=len(buckets) + 2)
        table.style = "Table Grid"
        head = table.rows[0].cells
        head[0].text = "Place"
        for n, b in enumerate(buckets, start=1):
            head[n].text = b
        head[-1].text = "Peak"
        for r in levels["rows"]:
            cells = table.add_row().cells
            cells[0].text = str(r.get("area") or "")
            for n, c in enumerate(r.get("cells") or [], start=1):
                if n < len(cells) - 1:
                    level = f" {c.get('level')}" if c.get("level") else ""
                    cells[n].text = f"{c.get('count') or ''}{level}".strip()
            cells[-1].text = str(r.get("peak") or "—")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
