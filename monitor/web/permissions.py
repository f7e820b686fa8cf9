"""Who may open what: the one table every request is checked against (by `middleware.guard`).

Every named route must have a row here, or it answers 403 to everyone: a new page is closed
until someone decides who may see it. Routes that show post text or excerpts are marked
`evidence`: they need a stated purpose, every view is audited, and the liaison role is never
among their roles (a test checks this and the whole role × route matrix).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "analyst", "comms", "liaison")


@dataclass(frozen=True, slots=True)
class Access:
    roles: frozenset[str]
    public: bool = False  # no sign-in needed (health, metrics, sign-in page, static files)
    evidence: bool = False  # shows post text or excerpts: purpose + audit, never liaison
    export: bool = False  # a download: purpose + audit
    signed: bool = False  # no session: the handler checks a request signature instead

    @property
    def audited(self) -> bool:
        return self.evidence or self.export

    def allows(self, role: str | None) -> bool:
        return self.public or self.signed or (role is not None and role in self.roles)


def _roles(*names: str) -> frozenset[str]:
    unknown = set(names) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return frozenset(names)


PUBLIC = Access(frozenset(), public=True)
EVERYONE = Access(_roles(*ROLES))
STAFF = Access(_roles("admin", "analyst"))  # the review queue and its tools
COMMS = Access(_roles("admin", "comms"))
ADMIN = Access(_roles("admin"))
ALERT_EVIDENCE = Access(_roles("admin", "analyst"), evidence=True)
RUMOUR_EVIDENCE = Access(_roles("admin", "analyst", "comms"), evidence=True)
AGGREGATE_EXPORT = Access(_roles(*ROLES), export=True)

ROUTES: dict[str, Access] = {
    # open
    "static": PUBLIC,
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    "metrics": PUBLIC,
    "login": PUBLIC,
    "login_submit": PUBLIC,
    "api_openapi": PUBLIC,
    # partners' push endpoint: signed requests (Standard Webhooks), no session, no CSRF
    "api_ingest": Access(frozenset(), signed=True),
    # every signed-in role: aggregates only
    "overview": EVERYONE,
    "logout": EVERYONE,
    "purpose": EVERYONE,
    "purpose_submit": EVERYONE,
    "areas": EVERYONE,
    "areas_csv": AGGREGATE_EXPORT,
    "digests": EVERYONE,
    "digest": EVERYONE,
    "digest_preview": EVERYONE,
    "digest_docx": AGGREGATE_EXPORT,
    "api_me": EVERYONE,
    "api_purpose": EVERYONE,
    "api_overview": EVERYONE,
    "api_areas": EVERYONE,
    "api_digests": EVERYONE,
    # trends: counts over time for everyone; the posts behind a bar are evidence
    "trends": EVERYONE,
    "api_trends": EVERYONE,
    "trends_posts": RUMOUR_EVIDENCE,
    # review queue (analysts)
    "queue": STAFF,
    "events": STAFF,
    "alert": ALERT_EVIDENCE,
    "alert_csv": Access(_roles("admin", "analyst"), evidence=True, export=True),
    "alert_take": STAFF,
    "alert_release": STAFF,
    "alert_action": STAFF,
    "alert_dismiss": STAFF,
    "alert_escalate": STAFF,
    "queue_dismiss": STAFF,
    "sources": STAFF,
    "rules": STAFF,
    "rules_try": Access(_roles("admin", "analyst"), evidence=True),
    "api_alerts": STAFF,
    "api_alert": ALERT_EVIDENCE,
    "api_alert_take": STAFF,
    "api_alert_release": STAFF,
    "api_alert_dismiss": STAFF,
    "api_alert_action": STAFF,
    "api_alert_escalate": STAFF,
    "api_alerts_dismiss": STAFF,
    "api_sources": STAFF,
    "api_rules": STAFF,
    # incidents: the review queue of stories (a rumour's headline is its claim as posted, so
    # evidence); merging and splitting them is the analysts' call
    "incidents": RUMOUR_EVIDENCE,
    "incident": RUMOUR_EVIDENCE,
    "incident_merge": STAFF,
    "incident_split": STAFF,
    "api_incidents": RUMOUR_EVIDENCE,
    "api_incident": RUMOUR_EVIDENCE,
    "api_incident_merge": STAFF,
    "api_incident_split": STAFF,
    # rumour board and counter messages (comms): claims are excerpts of posts, so evidence
    "rumours": RUMOUR_EVIDENCE,
    "rumour": RUMOUR_EVIDENCE,
    "counter": RUMOUR_EVIDENCE,
    "counter_save": COMMS,
    "counter_approve": COMMS,
    "counter_publish": COMMS,
    "counter_version": COMMS,
    "api_rumours": RUMOUR_EVIDENCE,
    "api_rumour": RUMOUR_EVIDENCE,
    # rumour triage (status, verdict, assignee, merge, registering a claim): comms's call
    "rumour_register": COMMS,
    "rumour_status": COMMS,
    "rumour_triage": COMMS,
    "rumour_merge": COMMS,
    "api_rumour_register": COMMS,
    "api_rumour_status": COMMS,
    "api_rumour_triage": COMMS,
    "api_rumour_merge": COMMS,
    # the repeated-viewing guard's justification form (monitor/web/views/justify.py)
    "justify": Access(_roles("admin", "analyst", "comms")),
    "justify_submit": Access(_roles("admin", "analyst", "comms")),
    "mailbox": RUMOUR_EVIDENCE,  # alert messages may quote posts
    # administration
    "audit": ADMIN,
    "api_audit": ADMIN,
    # records that failed a stage: they may hold post text, so viewing them is evidence
    "quarantine": Access(_roles("admin"), evidence=True),
    "api_quarantine": Access(_roles("admin"), evidence=True),
    "quarantine_retry": ADMIN,
    "api_quarantine_retry": ADMIN,
    # admin pages: the index, silences and routing (monitor/web/views/silences.py; labels
    # only, no post text)
    "admin": ADMIN,
    "silences": ADMIN,
    "silence_add": ADMIN,
    "silence_expire": ADMIN,
    "routing": ADMIN,
    "api_silences": ADMIN,
    "api_silence_add": ADMIN,
    "api_silence_expire": ADMIN,
    "api_routing": ADMIN,
    # sources: the [[sources]] tables of the settings file (monitor/web/views/sources_admin.py)
    "source_new": ADMIN,
    "source_edit": ADMIN,
    "source_save": ADMIN,
    "source_pause": ADMIN,
    "source_test": ADMIN,
    "api_sources_config": ADMIN,
    "api_source_save": ADMIN,
    "api_source_pause": ADMIN,
    "api_source_test": ADMIN,
    # rule packs: edit a pack's YAML, check it with the loader, backtest, publish
    # (monitor/web/views/rule_editor.py); a backtest shows matching posts, so it is evidence
    "rule_edit": ADMIN,
    "rule_check": ADMIN,
    "rule_backtest": Access(_roles("admin"), evidence=True),
    "rule_publish": ADMIN,
    "api_rule_file": ADMIN,
    "api_rule_validate": ADMIN,
    "api_rule_backtest": Access(_roles("admin"), evidence=True),
    "api_rule_publish": ADMIN,
    # governance approvals and staff accounts (monitor/web/views/people.py)
    "governance": ADMIN,
    "governance_approve": ADMIN,
    "users": ADMIN,
    "user_change": ADMIN,
    "api_governance": ADMIN,
    "api_governance_approve": ADMIN,
    "api_users": ADMIN,
    "api_user_change": ADMIN,
}

DENY = Access(frozenset())


def access_for(route_name: str | None) -> Access:
    """The row for a route; a route missing from the table is closed to everyone."""
    if route_name is None:
        return DENY
    return ROUTES.get(route_name, DENY)
