"""Counter-message templates (#MakeSureItAddsUp), read from `<home>/alerts/counter-messages.yaml`.

Templates are plain text with `$placeholders` (Python's string.Template): no logic, no code, so
editing them cannot run anything. A missing or broken file falls back to one built-in template
and says why on the planner page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Annotated, Any

from pydantic import StringConstraints, model_validator

from monitor.documents.schema import Document, DocumentError, Schema, validate

FILE = Path("alerts") / "counter-messages.yaml"
FALLBACK_TEXT = (
    "You may have seen posts saying that $claim. It doesn't add up.\n\n$facts\n\n"
    "Before you share something, check it. #MakeSureItAddsUp\nWhere this comes from: $sources\n"
)


@dataclass(frozen=True, slots=True)
class CounterTemplate:
    id: str
    name: str
    text: str


FALLBACK = CounterTemplate("makesureitaddsup", "#MakeSureItAddsUp: the facts", FALLBACK_TEXT)


Text = Annotated[str, StringConstraints(min_length=1)]


class _TemplateEntry(Schema):
    id: Text
    name: Text
    text: Text

    @model_validator(mode="before")
    @classmethod
    def _complete(cls, data: Any) -> Any:
        if isinstance(data, dict) and not all(
            isinstance(data.get(k), str) and data[k] for k in ("id", "name", "text")
        ):
            raise ValueError("a template needs id, name and text")
        return data


class _TemplatesFile(Schema):
    templates: list[_TemplateEntry] = []


def load_templates(home: Path) -> tuple[list[CounterTemplate], str | None]:
    """The templates, and a problem to show (None when the file read cleanly)."""
    path = home / FILE
    try:
        doc = Document.read(path, what="counter-message templates file")
        found = [
            CounterTemplate(t.id, t.name, t.text) for t in validate(_TemplatesFile, doc).templates
        ]
    except DocumentError as exc:
        return [FALLBACK], f"{exc}; using the built-in template"
    if not found:
        return [FALLBACK], f"{path} has no templates: using the built-in template"
    return found, None


def _join(names: Sequence[str]) -> str:
    names = [n for n in names if n]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def fill(
    template: CounterTemplate,
    *,
    claim: str,
    places: Sequence[str],
    facts: Sequence[Mapping[str, str]],
    messengers: str,
) -> str:
    values = {
        "claim": claim.strip().rstrip(".") or "a claim that is going round",
        "places": _join(list(places)) or "our area",
        "facts": "\n".join(f"• {f['fact']}" for f in facts if f.get("fact")) or "• (add the facts)",
        "sources": "\n".join(f["source"] for f in facts if f.get("source")) or "(add sources)",
        "messengers": messengers.strip() or "trusted messengers",
    }
    return Template(template.text).safe_substitute(values).strip() + "\n"
