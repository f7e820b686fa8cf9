"""The OpenAPI 3.1 document of the JSON API, written by hand; a test checks that every API
route is in it and that it names no route that does not exist. Who may call each operation is
taken from the permission table (`x-roles`), so the document cannot disagree with the guard."""

from __future__ import annotations

from typing import Any

from monitor.web.permissions import ROUTES

Schema = dict[str, Any]

ALERT: Schema = {
    "type": "object",
    "description": "An alert: labels, counts, times and the lock. Never post text.",
    "properties": {
        "id": {"type": "integer"},
        "summary": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "area": {"type": "string"},
        "kind": {"type": "string"},
        "level": {"type": "string"},
        "status": {"enum": ["new", "acknowledged", "actioned", "dismissed", "closed"]},
        "owner": {"type": ["string", "null"], "description": "who holds the lock"},
        "owned_since": {"type": ["string", "null"], "format": "date-time"},
        "post_count": {"type": "integer"},
        "first_seen": {"type": "string", "format": "date-time"},
        "last_seen": {"type": "string", "format": "date-time"},
    },
}
EVIDENCE: Schema = {
    "type": "object",
    "properties": {
        "post": {
            "type": "string",
            "description": "a pseudonymous reference; platform ids and links name the author",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "excerpt": {"type": ["string", "null"], "description": "untrusted text: escape it"},
        "places": {"type": "array", "items": {"type": "string"}},
        "scores": {"type": "object", "additionalProperties": {"type": "number"}},
        "rules": {"type": "array", "items": {"type": "string"}},
        "reasons": {"type": "array", "items": {"type": "object"}},
    },
}
OUTCOME: Schema = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
}
ERROR: Schema = {"type": "object", "properties": {"error": {"type": "string"}}}
AREA: Schema = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "locality": {"type": ["string", "null"]},
        "level": {"type": ["integer", "null"]},
        "level_name": {"type": ["string", "null"]},
        "posts": {"type": "integer"},
        "flagged": {"type": "integer"},
        "authors": {"type": "integer", "description": "distinct authors (a count only)"},
    },
}
OBJECT: Schema = {"type": "object"}


LEVEL_CHANGE: Schema = {
    "type": "object",
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "area": {"type": "string"},
        "from_level": {"type": "string"},
        "to_level": {"type": "string"},
        "reason": {"type": "string"},
        "conditions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "measure": {"type": "string"},
                    "value": {"type": "number"},
                    "threshold": {"type": "number"},
                    "met": {"type": "boolean"},
                },
            },
        },
        "series": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "hour": {"type": "string", "format": "date-time"},
                    "weighted": {"type": "number"},
                    "baseline": {"type": "number"},
                },
            },
        },
    },
}


def _json(schema: Schema, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(route: str, summary: str, ok: Schema, **extra: Any) -> dict[str, Any]:
    access = ROUTES[route]
    responses: dict[str, Any] = {"200": _json(ok)}
    if not access.public:
        responses["401"] = _json(ERROR, "Not signed in")
        responses["403"] = _json(ERROR, "The role may not call this, or the CSRF token is wrong")
    if access.audited:
        responses["428"] = _json(ERROR, "State a purpose first (POST /api/v1/purpose)")
    op: dict[str, Any] = {
        "operationId": route,
        "summary": summary,
        "x-roles": sorted(access.roles) if not access.public else ["anyone"],
        "x-evidence": access.evidence,
        "responses": responses,
    }
    if access.public:
        op["security"] = []
    if access.audited:
        op["description"] = (
            "Shows post text: each call is written to the audit log with the purpose."
        )
    op.update(extra)
    return op


ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "integer"}}
RID = {"name": "rumour_id", "in": "path", "required": True, "schema": {"type": "integer"}}
CSRF = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string"}, "description": description}


def _body(properties: Schema, required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _change(route: str, summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"parameters": [ID, CSRF]}
    if body is not None:
        extra["requestBody"] = body
    op = _op(route, summary, OUTCOME, **extra)
    op["responses"]["409"] = _json(OUTCOME, "Not possible now (locked by someone else, closed)")
    return op


def _dismiss_body(several: bool = False) -> dict[str, Any]:
    """One alert's dismissal and the bulk one take the same reason and note; the bulk one
    names its alerts first."""
    alerts: Schema = {"alerts": {"type": "array", "items": {"type": "integer"}}} if several else {}
    reasons = [
        "not_relevant",
        "counter_speech",
        "misclassified",
        "duplicate",
        "already_handled",
        "other",
    ]
    return _body(
        {**alerts, "reason": {"enum": reasons}, "note": {"type": "string"}},
        [*alerts, "reason"],
    )


QID = {"name": "entry_id", "in": "path", "required": True, "schema": {"type": "integer"}}
IID = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _rumour_change(
    route: str, summary: str, properties: Schema, required: list[str], *, rid: bool = True
) -> dict[str, Any]:
    params = [RID, CSRF] if rid else [CSRF]
    op = _op(route, summary, OUTCOME, parameters=params, requestBody=_body(properties, required))
    op["responses"]["409"] = _json(OUTCOME, "Not possible (no such rumour, already merged)")
    return op


def _incident_change(
    route: str, summary: str, properties: Schema, required: list[str]
) -> dict[str, Any]:
    op = _op(
        route, summary, OUTCOME, parameters=[IID, CSRF], requestBody=_body(properties, required)
    )
    op["responses"]["409"] = _json(OUTCOME, "Not possible (no such incident, already merged)")
    return op


def _ingest_op() -> dict[str, Any]:
    signed = [
        {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
        for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    ]
    return {
        "operationId": "api_ingest",
        "summary": "Push posts in the import schema (JSON lines, or a JSON array)",
        "description": (
            "For partners and other tools. Signed the Standard Webhooks way with the secret "
            "named by push_secret_env; no session. See docs/import-format.md for the records."
        ),
        "security": [],
        "x-roles": ["signed request"],
        "x-evidence": False,
        "parameters": signed,
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": OBJECT}},
            },
        },
        "responses": {
            "202": _json(OBJECT, "Accepted: how many posts, and the records refused and why"),
            "200": _json(OBJECT, "A webhook-id already accepted: nothing delivered again"),
            "400": _json(ERROR, "The body is not UTF-8 JSON lines or a JSON array"),
            "401": _json(ERROR, "Unsigned, wrongly signed, or more than 5 minutes old"),
            "404": _json(ERROR, "The endpoint is off (push_secret_env not set)"),
            "413": _json(ERROR, "Body over 5 MB"),
        },
    }


def document() -> dict[str, Any]:
    filters = [
        _query("status", "open (default), closed or all"),
        _query("area", "a place, as in the alert's area label"),
        _query("kind", "an alert kind label"),
        _query("level", "a level or severity label"),
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Community tension monitor API",
            "version": "1",
            "description": (
                "Aggregates for every role; evidence (post excerpts) only for roles that may "
                "see it, after a purpose is stated, and every such call is audited. Sign in "
                "through /login; send the session's CSRF token (GET /api/v1/me) in X-CSRF-Token "
                "with every POST. Post text in responses is untrusted: escape it."
            ),
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "monitor_session"}
            },
            "schemas": {"Alert": ALERT, "Evidence": EVIDENCE, "Outcome": OUTCOME, "Area": AREA},
        },
        "security": [{"session": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": _op("api_openapi", "This document", OBJECT)},
            "/api/v1/me": {
                "get": _op("api_me", "Who is signed in, the CSRF token, the purpose", OBJECT)
            },
            "/api/v1/purpose": {
                "post": _op(
                    "api_purpose",
                    "State why you need evidence (kept for web_purpose_minutes)",
                    OBJECT,
                    parameters=[CSRF],
                    requestBody=_body({"purpose": {"type": "string", "minLength": 5}}, ["purpose"]),
                )
            },
            "/api/v1/overview": {"get": _op("api_overview", "Totals and posts per ward", OBJECT)},
            "/api/v1/ingest": {"post": _ingest_op()},
            "/api/v1/areas": {
                "get": _op(
                    "api_areas",
                    "Levels and counts per ward and locality, and level changes",
                    {
                        "type": "object",
                        "properties": {
                            "wards": {"type": "array", "items": AREA},
                            "localities": {"type": "array", "items": AREA},
                            "changes": {"type": "array", "items": OBJECT},
                        },
                    },
                )
            },
            "/api/v1/alerts": {
                "get": _op(
                    "api_alerts",
                    "The review queue, filtered",
                    {"type": "object", "properties": {"alerts": {"type": "array", "items": ALERT}}},
                    parameters=filters,
                )
            },
            "/api/v1/alerts/{alert_id}": {
                "get": _op(
                    "api_alert",
                    "An alert with its evidence, why each post was flagged, and the level "
                    "changes that raised it (thresholds crossed, window against baseline)",
                    {
                        "allOf": [
                            ALERT,
                            {
                                "properties": {
                                    "evidence": {"type": "array", "items": EVIDENCE},
                                    "level_changes": {"type": "array", "items": LEVEL_CHANGE},
                                }
                            },
                        ]
                    },
                    parameters=[ID],
                )
            },
            "/api/v1/alerts/{alert_id}/take": {
                "post": _change(
                    "api_alert_take",
                    "Take the alert's lock",
                    _body({"force": {"type": "string", "enum": ["1"]}}, []),
                )
            },
            "/api/v1/alerts/{alert_id}/release": {
                "post": _change("api_alert_release", "Release the alert's lock")
            },
            "/api/v1/alerts/{alert_id}/dismiss": {
                "post": _change(
                    "api_alert_dismiss",
                    "Dismiss an alert you hold, with a reason",
                    _dismiss_body(),
                )
            },
            "/api/v1/alerts/{alert_id}/action": {
                "post": _change(
                    "api_alert_action",
                    "Mark an alert you hold as actioned, saying what was done",
                    _body({"note": {"type": "string", "minLength": 1}}, ["note"]),
                )
            },
            "/api/v1/alerts/{alert_id}/escalate": {
                "post": _change(
                    "api_alert_escalate",
                    "Send the alert on to a receiver of the routing file now (e.g. "
                    "police-liaison); takes it if nobody holds it, and it stays open with you. "
                    "The alert's history and `escalations` say who was told and when",
                    _body(
                        {
                            "receiver": {
                                "type": "string",
                                "description": "a receiver's name in the routing file",
                            },
                            "note": {"type": "string"},
                        },
                        ["receiver"],
                    ),
                )
            },
            "/api/v1/alerts/dismiss": {
                "post": _op(
                    "api_alerts_dismiss",
                    "Dismiss several alerts with one reason (those nobody holds are taken "
                    "first); each alert's outcome is given",
                    {
                        "type": "object",
                        "properties": {
                            "dismissed": {"type": "integer"},
                            "results": {
                                "type": "array",
                                "items": {
                                    **OUTCOME,
                                    "properties": {
                                        "alert": {"type": "integer"},
                                        **OUTCOME["properties"],
                                    },
                                },
                            },
                        },
                    },
                    parameters=[CSRF],
                    requestBody=_dismiss_body(several=True),
                )
            },
            "/api/v1/rumours": {
                "get": _op(
                    "api_rumours",
                    "Rumours ranked by spread",
                    OBJECT,
                    parameters=[_query("status", "new, watching, countering or closed")],
                )
            },
            "/api/v1/rumours/{rumour_id}": {
                "get": _op(
                    "api_rumour",
                    "A rumour: timeline, places, stance mix, example posts, counter messages",
                    OBJECT,
                    parameters=[RID],
                )
            },
            "/api/v1/trends": {
                "get": _op(
                    "api_trends",
                    "Posts over time (and the tension level per step, for a place) for a place, "
                    "a rumour or an incident in a date range; counts only",
                    {
                        "type": "object",
                        "properties": {
                            "of": {"type": "string"},
                            "from": {"type": "string", "format": "date"},
                            "to": {"type": "string", "format": "date"},
                            "step_hours": {"type": "integer"},
                            "parts": {"type": "array", "items": {"type": "string"}},
                            "series": {"type": "array", "items": OBJECT},
                            "levels": {"type": "array", "items": OBJECT},
                        },
                    },
                    parameters=[
                        _query("area", "an area key, e.g. ward:Toller (default: every place)"),
                        _query("rumour", "a rumour number instead"),
                        _query("incident", "an incident number instead"),
                        _query("from", "first day (YYYY-MM-DD, UK)"),
                        _query("to", "last day (YYYY-MM-DD, UK), default the newest data"),
                    ],
                )
            },
            "/api/v1/rumours/claims": {
                "post": _rumour_change(
                    "api_rumour_register",
                    "Register a known claim; posts repeating it join a rumour from the next batch",
                    {"claim": {"type": "string", "minLength": 10}},
                    ["claim"],
                    rid=False,
                )
            },
            "/api/v1/rumours/{rumour_id}/status": {
                "post": _rumour_change(
                    "api_rumour_status",
                    "Move a rumour to another status",
                    {"status": {"enum": ["new", "watching", "countering", "closed"]}},
                    ["status"],
                )
            },
            "/api/v1/rumours/{rumour_id}/triage": {
                "post": _rumour_change(
                    "api_rumour_triage",
                    "Record comms staff's verdict on the claim (with the facts it rests on) "
                    "and/or who is on it; only what is given changes",
                    {
                        "verdict": {"enum": ["unverified", "false", "misleading", "true"]},
                        "verdict_note": {"type": "string"},
                        "assignee": {
                            "type": "string",
                            "description": "an active comms or admin account; empty: nobody",
                        },
                    },
                    [],
                )
            },
            "/api/v1/rumours/{rumour_id}/merge": {
                "post": _rumour_change(
                    "api_rumour_merge",
                    "This rumour is the same claim as another: its posts and counter messages "
                    "move there and it closes as merged",
                    {"into": {"type": "integer"}, "reason": {"type": "string", "minLength": 3}},
                    ["into", "reason"],
                )
            },
            "/api/v1/incidents": {
                "get": _op(
                    "api_incidents",
                    "Incidents (the stories people review), open first, then by level",
                    OBJECT,
                    parameters=[
                        _query(
                            "status",
                            "shown (open and cooling, the default), open, "
                            "cooling, held, closed, merged or all",
                        ),
                        _query("kind", "only incidents with an alert of this kind"),
                        _query("area", "only incidents in this ward or locality"),
                    ],
                )
            },
            "/api/v1/incidents/{incident_id}": {
                "get": _op(
                    "api_incident",
                    "An incident: headline, places, counts, gathering, its alerts and timeline",
                    OBJECT,
                    parameters=[IID],
                )
            },
            "/api/v1/incidents/{incident_id}/merge": {
                "post": _incident_change(
                    "api_incident_merge",
                    "Merge other incidents into this one (kept together from then on)",
                    {
                        "incidents": {"type": "array", "items": {"type": "integer"}},
                        "reason": {"type": "string"},
                    },
                    ["incidents", "reason"],
                )
            },
            "/api/v1/incidents/{incident_id}/split": {
                "post": _incident_change(
                    "api_incident_split",
                    "Split these alerts off into a new incident (kept apart from then on)",
                    {
                        "alerts": {"type": "array", "items": {"type": "integer"}},
                        "reason": {"type": "string"},
                    },
                    ["alerts", "reason"],
                )
            },
            "/api/v1/sources": {"get": _op("api_sources", "Source health", OBJECT)},
            "/api/v1/rules": {"get": _op("api_rules", "The loaded rule packs", OBJECT)},
            "/api/v1/digests": {"get": _op("api_digests", "Digests sent", OBJECT)},
            "/api/v1/audit": {
                "get": _op(
                    "api_audit",
                    "The newest audit events (100 per page)",
                    OBJECT,
                    parameters=[_query("before", "only events with a smaller id")],
                )
            },
            "/api/v1/quarantine": {
                "get": _op(
                    "api_quarantine",
                    "Records that failed a pipeline stage on their own (no author, no ids)",
                    OBJECT,
                )
            },
            "/api/v1/quarantine/{entry_id}/retry": {
                "post": _op(
                    "api_quarantine_retry",
                    "Run a quarantined record through the pipeline again (after a fix)",
                    OBJECT,
                    parameters=[QID, CSRF],
                )
            },
            **admin_paths(),
        },
    }


# --- administration: silences, routing, sources, rule packs, governance, accounts -------------

SILENCE: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "matchers": {"type": "array", "items": {"type": "string"}},
        "reason": {"type": "string"},
        "created_by": {"type": "string"},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "expired_at": {"type": ["string", "null"], "format": "date-time"},
        "state": {"enum": ["active", "pending", "ended", "expired"]},
    },
}
SID = {"name": "silence_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _admin_op(route: str, summary: str, ok: Schema, **extra: Any) -> dict[str, Any]:
    op = _op(route, summary, ok, **extra)
    if "requestBody" in extra or any(p is CSRF for p in extra.get("parameters", [])):
        op["responses"]["400"] = _json(ERROR, "Refused, with the reason")
        op["description"] = "A change: written to the audit log with who made it and why."
    return op


SOURCE_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
SOURCE: Schema = {
    "type": "object",
    "description": "A [[sources]] table: kind, name and that kind's keys (monitor/collectors/"
    "README.md); keys ending in _env name an environment variable, never hold a secret",
    "properties": {
        "kind": {"enum": ["jetstream", "mastodon", "rss", "reddit"]},
        "name": {"type": "string"},
    },
    "required": ["kind", "name"],
}
CHECK: Schema = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "ok": {"type": "boolean"},
        "state": {"enum": ["ok", "needs access", "failed"]},
        "detail": {"type": "string"},
    },
}


RULE_PARAMS = [
    {"name": "pack", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "file", "in": "path", "required": True, "schema": {"type": "string"}},
]
RULE_DRAFT: Schema = {
    "pack": {"type": "string", "description": "a pack folder under rules/"},
    "file": {"type": "string", "description": "pack.yaml or a rule file of the pack"},
    "text": {"type": "string", "description": "the whole file as it would be written"},
}
PROBLEM: Schema = {
    "type": "object",
    "properties": {
        "file": {"type": "string"},
        "line": {"type": "integer"},
        "message": {"type": "string"},
        "level": {"enum": ["error", "warning"]},
    },
}
BACKTEST: Schema = {
    "type": "object",
    "description": "The draft file's rules over every stored post whose text is kept, beside "
    "the published version: totals, per rule, per day, and samples (evidence)",
    "properties": {
        "scanned": {"type": "integer"},
        "purged": {"type": "integer", "description": "posts not tested: text purged"},
        "capped": {"type": "boolean"},
        "draft_posts": {"type": "integer"},
        "published_posts": {"type": "integer"},
        "rules": {"type": "array", "items": OBJECT},
        "days": {"type": "array", "items": OBJECT},
        "samples": {"type": "array", "items": OBJECT},
        "no_longer_matching": {"type": "array", "items": OBJECT},
    },
}


def admin_paths() -> dict[str, Any]:
    return {
        "/api/v1/governance": {
            "get": _admin_op(
                "api_governance",
                "Each monitored subject (rule pack, gazetteer): owner, purpose, review date, state",
                OBJECT,
            )
        },
        "/api/v1/governance/approve": {
            "post": _admin_op(
                "api_governance_approve",
                "Approve or re-approve a subject until its next review (as `monitor governance "
                "approve`; the approver is the signed-in admin)",
                OBJECT,
                parameters=[CSRF],
                requestBody=_body(
                    {
                        "subject": {"type": "string", "examples": ["pack:tension"]},
                        "owner": {"type": "string"},
                        "purpose": {"type": "string"},
                        "days": {"type": "integer", "minimum": 1, "maximum": 366},
                        "note": {"type": "string"},
                    },
                    ["subject", "owner", "purpose"],
                ),
            )
        },
        "/api/v1/users": {
            "get": _admin_op("api_users", "Staff accounts and their roles", OBJECT),
            "post": _admin_op(
                "api_user_change",
                "Add an account, or set one's role or password, or disable or enable it (role, "
                "password and disabling end its sessions)",
                OBJECT,
                parameters=[CSRF],
                requestBody=_body(
                    {
                        "action": {"enum": ["add", "role", "password", "disable", "enable"]},
                        "username": {"type": "string"},
                        "role": {"enum": ["admin", "analyst", "comms", "liaison"]},
                        "password": {"type": "string", "minLength": 12},
                    },
                    ["action", "username"],
                ),
            ),
        },
        "/api/v1/admin/rules/{pack}/{file}": {
            "get": _admin_op(
                "api_rule_file",
                "A rule pack file's text and version (sha), for editing",
                OBJECT,
                parameters=RULE_PARAMS,
            )
        },
        "/api/v1/admin/rules/validate": {
            "post": _admin_op(
                "api_rule_validate",
                "Load every pack with this draft in place (the service's loader): its file:line "
                "problems, its rules, its examples' results and the diff",
                {
                    "type": "object",
                    "properties": {
                        "ok": {"type": "boolean"},
                        "problems": {"type": "array", "items": PROBLEM},
                    },
                },
                parameters=[CSRF],
                requestBody=_body(RULE_DRAFT, ["pack", "file", "text"]),
            )
        },
        "/api/v1/admin/rules/backtest": {
            "post": _admin_op(
                "api_rule_backtest",
                "Backtest a draft over the stored history",
                BACKTEST,
                parameters=[CSRF],
                requestBody=_body(
                    {**RULE_DRAFT, "rule": {"type": "string"}}, ["pack", "file", "text"]
                ),
            )
        },
        "/api/v1/admin/rules/publish": {
            "post": _admin_op(
                "api_rule_publish",
                "Write a draft that loads cleanly to its file, reload the service's rules and "
                "audit the reason; 409 when the file changed since `base`",
                OBJECT,
                parameters=[CSRF],
                requestBody=_body(
                    {
                        **RULE_DRAFT,
                        "reason": {"type": "string", "minLength": 10},
                        "base": {"type": "string", "description": "the sha the draft started from"},
                    },
                    ["pack", "file", "text", "reason"],
                ),
            )
        },
        "/api/v1/admin/sources": {
            "get": _admin_op(
                "api_sources_config",
                "The [[sources]] tables of the settings file, as the collectors read them",
                {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string"},
                        "sources": {"type": "array", "items": SOURCE},
                    },
                },
            ),
            "post": _admin_op(
                "api_source_save",
                "Add a source, or replace the one named by `replace`; checked by the collectors' "
                "loader with every other source before the file is written",
                OBJECT,
                parameters=[CSRF],
                requestBody=_body(
                    {
                        "source": SOURCE,
                        "replace": {"type": "string"},
                        "reason": {"type": "string", "minLength": 5},
                    },
                    ["source", "reason"],
                ),
            ),
        },
        "/api/v1/admin/sources/{name}/pause": {
            "post": _admin_op(
                "api_source_pause",
                "Pause a source (enabled: false) or resume it (enabled: true)",
                OBJECT,
                parameters=[SOURCE_NAME, CSRF],
                requestBody=_body(
                    {"enabled": {"type": "boolean"}, "reason": {"type": "string"}}, []
                ),
            )
        },
        "/api/v1/admin/sources/{name}/test": {
            "post": _admin_op(
                "api_source_test",
                "Fetch from the source once, now, and say what came back (nothing is stored)",
                CHECK,
                parameters=[SOURCE_NAME, CSRF],
            )
        },
        "/api/v1/silences": {
            "get": _admin_op(
                "api_silences",
                "Silences in force (all=1: ended and expired ones too)",
                {"type": "object", "properties": {"silences": {"type": "array", "items": SILENCE}}},
                parameters=[_query("all", "1 to include ended and expired silences")],
            ),
            "post": _admin_op(
                "api_silence_add",
                "Add a silence: matchers (or an alert or incident to take them from), a reason, "
                "and a duration or an end",
                SILENCE,
                parameters=[CSRF],
                requestBody=_body(
                    {
                        "matchers": {"type": "array", "items": {"type": "string"}},
                        "alert": {"type": "integer"},
                        "incident": {"type": "integer"},
                        "reason": {"type": "string", "minLength": 10},
                        "duration": {"type": "string", "examples": ["4h", "1d"]},
                        "until": {"type": "string", "format": "date-time"},
                    },
                    ["reason"],
                ),
            ),
        },
        "/api/v1/silences/{silence_id}/expire": {
            "post": _admin_op(
                "api_silence_expire",
                "End a silence now",
                OBJECT,
                parameters=[SID, CSRF],
                requestBody=_body({"reason": {"type": "string"}}, []),
            )
        },
        "/api/v1/routing": {
            "get": _admin_op(
                "api_routing",
                "Which receivers an alert with these labels reaches (as `monitor alerts route`), "
                "and the silences that mute it now",
                OBJECT,
                parameters=[_query("label", "NAME=VALUE; repeat for each label")],
            )
        },
    }
