"""Table definitions (SQLAlchemy Core). Alembic migrations in store/migrations mirror these.

No table holds a raw author id or handle: authors exist only as `author_ref`, a keyed HMAC
whose key is destroyed when its period ends, and post ids and links (which name their author on
most platforms) only as keyed HMACs, with the platform id sealed in `posts.origin`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    literal_column,
    text,
)
from sqlalchemy.sql.elements import ColumnElement


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A collector's or importer's resume point. `cursor` is opaque to the store (Jetstream time_us,
# Mastodon min_id, an import file's committed line count) and is written in the same
# transaction as the posts before it, so a crash resumes without loss or duplicates.
sources = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("cursor", Text, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("last_success_at", UtcDateTime(), nullable=True),
    Column("error_count", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("health", JSON, nullable=True),  # the collector's latest health snapshot
)

# Random per-period keys for author pseudonyms. A row is deleted when its period has passed:
# once gone, references made with it cannot be linked to any later ones.
author_keys = Table(
    "author_keys",
    metadata,
    Column("period", String(20), primary_key=True),  # e.g. "2026-11-01" (period start)
    Column("key", LargeBinary(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Keys that never rotate, one row each: "post-ids" keys post ids and links and seals platform
# ids (monitor/privacy/postids.py). `check` is a digest of the effective key (after mixing in
# `post_key_env`'s secret), so a start with a different secret is refused instead of keying
# new posts differently from the stored ones.
deployment_keys = Table(
    "deployment_keys",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("key", LargeBinary(64), nullable=False),
    Column("check", String(64), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

posts = Table(
    "posts",
    metadata,
    # Platform + ":" + keyed HMAC of the platform id, never the platform id itself (it names
    # the author); reply_to/quote_of/repost_of are keyed the same way, `url` is the keyed HMAC
    # of the public link, and `origin` the platform id sealed for re-checks only
    # (monitor/privacy/postids.py).
    Column("id", String(512), primary_key=True),
    Column("platform", String(40), nullable=False),
    Column("source", String(200), nullable=False),
    Column("text", Text, nullable=True),  # NULL once purged (retention or platform deletion)
    Column("text_purged_at", UtcDateTime(), nullable=True),
    Column("language", String(8), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("collected_at", UtcDateTime(), nullable=False),
    Column("author_ref", String(64), nullable=False),
    # The public name of an allowlisted organisational account (monitor/privacy/allowlist.py);
    # NULL for everyone else, who is only ever a pseudonym.
    Column("author_name", String(200), nullable=True),
    Column("url", Text, nullable=True),
    Column("origin", Text, nullable=True),
    Column("reply_to", String(512), nullable=True),
    Column("quote_of", String(512), nullable=True),
    Column("repost_of", String(512), nullable=True),
    Column("like_count", Integer, nullable=False, default=0),
    Column("repost_count", Integer, nullable=False, default=0),
    Column("reply_count", Integer, nullable=False, default=0),
    Column("truncated", Boolean, nullable=False, default=False),
    Column("scores", JSON, nullable=True),  # classifier head -> probability
    Column("flags", JSON, nullable=True),  # classifier labels over their thresholds
    Column("embedding", LargeBinary, nullable=True),  # float16 sentence embedding
    Column("processed_at", UtcDateTime(), nullable=True),
    Index("ix_posts_created_at", "created_at"),
    Index("ix_posts_processed_at", "processed_at"),
)

# Records that failed a stage on their own (the rest of their batch went on): kept for an
# admin to see and retry after a fix, purged with the post text's retention. `record` holds
# the post as ingest made it (pseudonymised author), or for an ingest failure the raw fields
# without the platform's author id; `post_id` is set when the post itself is stored.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False, unique=True),  # the post's id
    Column("post_id", String(512), nullable=True),
    Column("source", String(200), nullable=False),
    Column("stage", String(60), nullable=False),
    Column("error", Text, nullable=False),
    Column("record", JSON, nullable=True),
    Column("attempts", Integer, nullable=False, default=1),
    Column("first_at", UtcDateTime(), nullable=False),
    Column("last_at", UtcDateTime(), nullable=False),
    Index("ix_quarantine_post_id", "post_id"),
)

# The readiness probe's write: one row per process, so "the store is writable" is tested by
# writing, not by a read that a read-only file still answers.
health_probes = Table(
    "health_probes",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("written_at", UtcDateTime(), nullable=False),
)

# Windowed rules' counts (monitor/rules/window_store.py): one row per post that met a windowed
# rule's per-post conditions, per window key, kept for the window plus its baseline period, so
# that a restart or another worker counts the same. `author_ref` is the pseudonym, only counted.
window_events = Table(
    "window_events",
    metadata,
    Column("rule_id", String(200), primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("post_id", String(512), primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("author_ref", String(64), nullable=False),
    Index("ix_window_events_rule_key_at", "rule_id", "key", "at"),
)

# Per windowed rule, the signature of its conditions (counts restart when a rule is edited);
# the row for rule "*" holds when windows started counting (the baseline's warm-up).
window_rules = Table(
    "window_rules",
    metadata,
    Column("rule_id", String(200), primary_key=True),
    Column("signature", String(64), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
)

# Deletions reported by a platform, kept for the text retention period (monitor/store/
# tombstones.py): a post whose create arrives after its delete (or is still queued when the delete
# runs) is never stored, and an account deleted stays deleted for posts still in flight.
post_tombstones = Table(
    "post_tombstones",
    metadata,
    Column("post_id", String(512), primary_key=True),
    Column("deleted_at", UtcDateTime(), nullable=False),
    Index("ix_post_tombstones_deleted_at", "deleted_at"),
)

author_tombstones = Table(
    "author_tombstones",
    metadata,
    Column("platform", String(40), primary_key=True),
    Column("author_ref", String(64), primary_key=True),  # the pseudonym, never the account id
    Column("deleted_at", UtcDateTime(), nullable=False),
    Index("ix_author_tombstones_deleted_at", "deleted_at"),
)

place_matches = Table(
    "place_matches",
    metadata,
    Column("post_id", String(512), ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("place_id", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("ward", String(200), nullable=True),
    Column("locality", String(200), nullable=True),
    Column("district", String(200), nullable=False),
    Column("matched", String(200), nullable=False),
    Index("ix_place_matches_ward", "ward"),
)

# Labels attached to a post by a classifier threshold or a rule: the only contract with alerts.
post_labels = Table(
    "post_labels",
    metadata,
    Column("post_id", String(512), ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("origin", String(200), primary_key=True),  # "classifier" or the rule id
    Column("name", String(60), primary_key=True),
    Column("value", String(200), primary_key=True),
    # Whether the rule's words matched the post (RuleHit.words): False for a rule of scores
    # alone, so that a restart rebuilds the hit as the live pipeline had it.
    Column("words", Boolean, nullable=False, server_default=text("true")),
)

# Written out, not bound: PostgreSQL matches ON CONFLICT ... WHERE to a partial index only when
# the predicate is the same literal text.
ALERT_IS_OPEN = text("status IN ('new', 'acknowledged')")
# Every UPDATE of an alert, whichever module writes it, counts as a change to route.
ALERT_CHANGED: ColumnElement[int] = literal_column("revision", Integer) + 1

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),  # stable dedup key from the labels
    Column("labels", JSON, nullable=False),
    Column("summary", Text, nullable=False),
    Column("status", String(20), nullable=False, default="new"),
    Column("owner", String(200), nullable=True),
    Column("dismiss_reason", Text, nullable=True),
    Column("post_count", Integer, nullable=False, default=0),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Goes up by one with every UPDATE of the row (see ALERT_CHANGED): what routing compares
    # to tell a change it has not routed yet. Wall-clock times cannot: two changes can carry
    # the same `now` (a signals follower catching up under one clock reading), and workers
    # and the scheduler leader write them from different hosts' clocks.
    # Filled by the database, not the INSERT: rows written as an older revision's tables
    # held them (the migrations' own tests) name only the columns those tables had.
    Column("revision", Integer, nullable=False, server_default=text("0"), onupdate=ALERT_CHANGED),
    Index("ix_alerts_key_status", "key", "status"),
    # At most one open alert per key, even with several workers opening alerts at once.
    Index(
        "uq_alerts_open_key",
        "key",
        unique=True,
        sqlite_where=ALERT_IS_OPEN,
        postgresql_where=ALERT_IS_OPEN,
    ),
)

# The evidence: which posts an alert stands on, with only the excerpt it needs.
alert_posts = Table(
    "alert_posts",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("post_id", String(512), primary_key=True),
    Column("excerpt", Text, nullable=True),
    Column("rules", JSON, nullable=True),
    Column("added_at", UtcDateTime(), nullable=False),
)

# Append-only; each row's hash covers the previous row's hash (see monitor/safeguards/audit.py).
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("purpose", Text, nullable=True),
    Column("detail", JSON, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The repeated-viewing guard reads one user's views in its window before every evidence
    # view; without this it scanned the whole log (27 ms a view at 200,000 events, growing).
    Index("ix_audit_events_actor_at", "actor", "at"),
    # The newest retention purge's receipt, read at every /metrics scrape.
    Index("ix_audit_events_action_at", "action", "at"),
)

# Kept for tension baselines after post text is purged (aggregates stay).
area_counts = Table(
    "area_counts",
    metadata,
    Column("area", String(200), primary_key=True),
    Column("hour", UtcDateTime(), primary_key=True),
    Column("posts", Integer, nullable=False, default=0),
    Column("flagged", Integer, nullable=False, default=0),
    Column("weighted", Float, nullable=False, default=0.0),
)

# --- alerts: routing state, outbox, silences, digests, local mailbox (monitor/alerts) ---------

# What each open alert was last routed as: a new notification sequence starts only when its
# labels change (opened, level raised), not for every post added as evidence.
alert_routing = Table(
    "alert_routing",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("routed_at", UtcDateTime(), nullable=False),
    Column("revision", Integer, nullable=False, default=0),  # the alert's, as last routed
)

# The transactional outbox: one row per (alert or digest, receiver, recipient, sequence), written
# in the transaction that opens or changes the alert. Rows are never deleted by delivery: their
# status says what happened (pending, queued, sent, silenced, inhibited, cancelled, failed).
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # alert | reminder | escalation | digest
    Column("alert_id", Integer, nullable=True),
    Column("alert_key", String(300), nullable=True),
    Column("digest_run_id", Integer, nullable=True),
    Column("seq", Integer, nullable=False, default=0),
    Column("step", String(40), nullable=False, default=""),
    Column("route", String(200), nullable=False, default=""),
    Column("receiver", String(100), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("integration", String(40), nullable=False),  # which of the receiver's, e.g. email#0
    Column("recipient", String(320), nullable=False),
    Column("group_key", String(400), nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("not_before", UtcDateTime(), nullable=False),
    Column("held_until", UtcDateTime(), nullable=True),  # set when a time window holds it
    Column("delivery_id", Integer, nullable=True),
    Column("reason", Text, nullable=True),  # silence id, inhibiting alert, cancel reason
    Column("labels", JSON, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Index("ix_notifications_idempotency_key", "idempotency_key", unique=True),
    Index("ix_notifications_status_not_before", "status", "not_before"),
    Index("ix_notifications_receiver_group", "receiver", "group_key"),
    Index("ix_notifications_alert_id", "alert_id"),
    Index("ix_notifications_alert_key", "alert_key"),
)

# One message to one recipient, carrying one or more outbox rows (a group). Its idempotency key
# is fixed when it is formed, so a retry after a crash sends the very same key again.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("receiver", String(100), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("integration", String(40), nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    Column("status", String(20), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    # 1 for a delivery carrying a threat or a call to gather: claimed before everything else.
    Column("priority", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_deliveries_idempotency_key", "idempotency_key", unique=True),
    Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)

# Silences must say why and must end; creating and expiring one is also in the audit log.
silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("matchers", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("expired_at", UtcDateTime(), nullable=True),
    Column("expired_by", String(200), nullable=True),
)

# One row per (digest, period), claimed by INSERT … ON CONFLICT DO NOTHING: whichever instance
# inserts it sends that digest; the others see the row and do nothing.
digest_runs = Table(
    "digest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(100), nullable=False),
    Column("period", String(40), nullable=False),  # local wall-clock fire time, 2026-03-29T07:00
    Column("period_start", UtcDateTime(), nullable=False),
    Column("period_end", UtcDateTime(), nullable=False),
    Column("late", Boolean, nullable=False, default=False),
    Column("claimed_by", String(200), nullable=False),
    Column("claimed_at", UtcDateTime(), nullable=False),
    Column("subject", Text, nullable=True),
    Column("text", Text, nullable=True),
    Column("html", Text, nullable=True),
    Column("data", JSON, nullable=True),
    Index("ix_digest_runs_digest_period", "digest", "period", unique=True),
)

# The `local` receiver: messages kept in the store and shown in the web UI (no mail server).
# `html` was rendered with autoescaping; post text inside it is inert.
mailbox = Table(
    "mailbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(64), nullable=False),
    Column("mailbox", String(100), nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=False),
    # Roles that may read it, as ",admin,analyst," (monitor/privacy/mailbox_access.py); a row
    # without them is for admins only.
    Column("readers", String(100), nullable=True),
    Index("ix_mailbox_idempotency_key", "idempotency_key", unique=True),
    Index("ix_mailbox_mailbox_sent_at", "mailbox", "sent_at"),
)

# --- governance (monitor/safeguards/governance.py) ------------------------------------------------

# Approval of each monitored subject: a rule pack (a topic) or a place gazetteer. A subject whose
# review date has passed stops running until someone approves it again; every approval is also
# written to the audit log. `purpose` is one of monitor.safeguards.governance.PURPOSES (a closed
# list).
governance_register = Table(
    "governance_register",
    metadata,
    Column("subject", String(200), primary_key=True),  # "pack:tension", "places:bradford"
    Column("owner", String(200), nullable=False),
    Column("purpose", String(60), nullable=False),
    Column("review_by", UtcDateTime(), nullable=False),
    Column("approved_by", String(200), nullable=False),
    Column("approved_at", UtcDateTime(), nullable=False),
    Column("note", Text, nullable=True),
)


# --- signals (monitor/signals) ------------------------------------------------------------

# Rumour clusters, live and closed. Ids are given by the signals stage (the only writer of new
# clusters); people add claims through `rumour_claims`, which the stage takes up. `revision` is
# bumped by every change a person makes, so the running stage knows to reload the cluster.
rumours = Table(
    "rumours",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("status", String(20), nullable=False),  # new | watching | countering | closed
    Column("registered", Boolean, nullable=False, default=False),
    Column("claim_text", Text, nullable=True),  # the claim as comms staff registered it
    Column("representative", Text, nullable=False, default=""),  # excerpt of the claim
    Column("representative_post_id", String(512), nullable=True),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("post_count", Integer, nullable=False, default=0),
    Column("author_count", Integer, nullable=False, default=0),  # distinct; never who
    Column("places", JSON, nullable=False),  # place name -> posts
    Column("stance", JSON, nullable=False),  # support | deny | query | comment -> posts
    Column("velocity", Float, nullable=False, default=0.0),  # posts per hour, last window
    Column("acceleration", Float, nullable=False, default=0.0),  # change of velocity per hour
    Column("spreading", Boolean, nullable=False, default=False),
    Column("spreading_since", UtcDateTime(), nullable=True),
    Column("merged_into", Integer, nullable=True),
    # Split off another rumour when its claims diverged into two stories (and when, event time).
    Column("split_from", Integer, nullable=True),
    Column("split_at", UtcDateTime(), nullable=True),
    Column("embedder", String(100), nullable=True),  # classifier whose embeddings built it
    Column("centroid", LargeBinary, nullable=True),  # float32 sum of claim-like members
    Column("centroid_count", Integer, nullable=False, default=0),
    Column("anchor", LargeBinary, nullable=True),  # float32 embedding of the registered claim
    Column("simhashes", JSON, nullable=True),  # hex SimHashes of claim-like members
    Column("revision", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    # Comms staff's triage (monitor/signals/triage.py): who is on it, and their own finding on
    # the claim (the classifier never says whether a claim is false). The stage never writes these.
    Column("assignee", String(100), nullable=True),
    Column("verdict", String(20), nullable=True),  # unverified | false | misleading | true
    Column("verdict_note", Text, nullable=True),
    Index("ix_rumours_status", "status"),
)

# A post's place in a rumour. state: member, pending (its similarity to a registered claim is
# in the confirmation band: a person decides) or rejected. No author column: distinct author
# counts come from posts.author_ref when needed, and no query here lists authors.
rumour_posts = Table(
    "rumour_posts",
    metadata,
    Column("rumour_id", Integer, ForeignKey("rumours.id", ondelete="CASCADE"), primary_key=True),
    Column("post_id", String(512), ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),  # the post's own time
    Column("how", String(20), nullable=False),  # link | duplicate | claim | similar | new
    Column("similarity", Float, nullable=False, default=0.0),
    Column("stance", String(20), nullable=False, default=""),
    Column("place", String(200), nullable=True),
    Column("state", String(20), nullable=False, default="member"),
    Column("added_at", UtcDateTime(), nullable=False),
    Column("decided_by", String(200), nullable=True),
    Index("ix_rumour_posts_post_id", "post_id"),
    Index("ix_rumour_posts_rumour_id_created_at", "rumour_id", "created_at"),
)

# Claims comms staff registered, waiting for (or taken up by) the signals stage.
rumour_claims = Table(
    "rumour_claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("claim_text", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("rumour_id", Integer, ForeignKey("rumours.id"), nullable=True),
    Column("taken_at", UtcDateTime(), nullable=True),
)

counter_messages = Table(
    "counter_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rumour_id", Integer, ForeignKey("rumours.id", ondelete="CASCADE"), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False),
    Column("channel", String(100), nullable=True),
    Column("url", Text, nullable=True),
    Column("text", Text, nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_counter_messages_rumour_id", "rumour_id"),
)

# The current tension level of each area ("ward:Little Horton", "locality:...", "district:...").
area_levels = Table(
    "area_levels",
    metadata,
    Column("area", String(200), primary_key=True),
    Column("area_kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("level", Integer, nullable=False),
    Column("level_name", String(40), nullable=False),
    Column("since", UtcDateTime(), nullable=True),
    Column("below_since", UtcDateTime(), nullable=True),
    Column("measures", JSON, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Every change of an area's level, with why: the counts, the baseline and the top labels.
level_changes = Table(
    "level_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("area", String(200), nullable=False),
    Column("area_kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("at", UtcDateTime(), nullable=False),  # event time the change was decided at
    Column("from_level", String(40), nullable=False),
    Column("to_level", String(40), nullable=False),
    Column("measures", JSON, nullable=False),
    Column("top_labels", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("alert_id", Integer, nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_level_changes_area_at", "area", "at"),
)

# --- web: accounts, sessions and the review trail (monitor/web) ------------------------------

# Local accounts. `password_hash` is an argon2id hash (argon2-cffi); a disabled account cannot
# sign in and its sessions stop working at once.
users = Table(
    "users",
    metadata,
    Column("username", String(100), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # admin | analyst | comms | liaison
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

# Signed-in sessions. `id` is the SHA-256 of the cookie's token, so a copy of the store does not
# hold live sessions. `purpose` is the reason given for viewing evidence, valid until
# `purpose_until` (every evidence view is audited with it).
# Failed sign-ins, shared by every web process: one row per throttled key (a user name, a client
# address, or the pair), stored as a SHA-256 so the table holds no addresses. Rows older than
# the sign-in window are deleted as new failures come in.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UtcDateTime(), nullable=False),
    Index("ix_login_throttle_last_failure_at", "last_failure_at"),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "username",
        String(100),
        ForeignKey("users.username", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("purpose", Text, nullable=True),
    Column("purpose_until", UtcDateTime(), nullable=True),
    Index("ix_web_sessions_username", "username"),
)

# What people did to an alert (take, release, action, dismiss, reopen), newest last. The latest
# take says who holds the lock and since when; dismiss reasons are kept as review labels.
alert_actions = Table(
    "alert_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(20), nullable=False),
    Column("reason", String(40), nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_alert_actions_alert_id", "alert_id"),
)

# --- web: counter-message planner (monitor/web) -------------------------------------------------

# A counter message being planned for a rumour: the facts and their sources, trusted messengers,
# channels, the draft, who approved it (not the person who last edited it), and when it was
# published. Publishing adds the `counter_messages` row the before/after comparison reads; the
# system itself never posts anything.
counter_plans = Table(
    "counter_plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rumour_id", Integer, ForeignKey("rumours.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(20), nullable=False),  # draft | approved | published | withdrawn
    Column("claim", Text, nullable=False, default=""),  # the claim answered, in staff's words
    Column("facts", JSON, nullable=False),  # [{"fact": ..., "source": ...}]
    Column("messengers", Text, nullable=False, default=""),
    Column("channels", JSON, nullable=False),  # ["council website", ...]
    Column("template", String(100), nullable=True),
    Column("draft", Text, nullable=False, default=""),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("approved_by", String(100), nullable=True),
    Column("approved_at", UtcDateTime(), nullable=True),
    Column("published_at", UtcDateTime(), nullable=True),
    Column("published_channel", String(100), nullable=True),
    Column("published_url", Text, nullable=True),
    Column("counter_message_id", Integer, nullable=True),
    Index("ix_counter_plans_rumour_id", "rumour_id"),
)

# A counter message's text in another language (one row per plan and language), so that the
# communities it is for can read it in their own; the plan's draft is the English original.
counter_versions = Table(
    "counter_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", Integer, ForeignKey("counter_plans.id", ondelete="CASCADE"), nullable=False),
    Column("language", String(20), nullable=False),  # BCP 47 tag, e.g. pl, ur, pa
    Column("text", Text, nullable=False),
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("uq_counter_versions_plan_language", "plan_id", "language", unique=True),
)

# --- incidents: the unit a person reviews (monitor/incidents) -----------------------------------

# One story: a rumour (its claim cluster, wherever it spreads) or an episode (tension, threats,
# calls to gather and level changes connected in place and time). Everything shown is derived
# from its alerts' evidence; times are event times (the posts' own), never when processed.
# `status`: held (below the precision gate, shown to nobody) | open | cooling | closed | merged.
incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("family", String(20), nullable=False),  # rumour | episode
    Column("status", String(20), nullable=False),
    Column("headline", Text, nullable=False),
    Column("kinds", JSON, nullable=False),  # alert kinds inside it
    Column("wards", JSON, nullable=False),  # most evidence first; "unplaced" is never one
    Column("localities", JSON, nullable=False),
    Column("level", String(20), nullable=False),  # highest severity of its alerts
    Column("trend", String(20), nullable=False, default="steady"),  # rising | steady | falling
    Column("post_count", Integer, nullable=False, default=0),  # posts telling it (no responses)
    Column("author_count", Integer, nullable=False, default=0),  # distinct; never who
    Column("response_count", Integer, nullable=False, default=0),
    Column("official_count", Integer, nullable=False, default=0),  # counter messages
    Column("alert_count", Integer, nullable=False, default=0),
    Column("gathering", JSON, nullable=True),  # {"where", "when", "posts"} of calls to gather
    Column("cluster", Integer, nullable=True),  # the rumour cluster it follows
    Column("gate", Text, nullable=True),  # why it is held below the precision gate
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("merged_into", Integer, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    Index("ix_incidents_status_last_seen", "status", "last_seen"),
)

# Which incident each alert belongs to. `pinned`: an analyst put it there (merge or split), so
# the engine keeps it there.
incident_alerts = Table(
    "incident_alerts",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("added_at", UtcDateTime(), nullable=False),
    Index("ix_incident_alerts_incident_id", "incident_id"),
)

# Every change of an incident with its reason: opened, held, grew, merged, split, level,
# cooling, warmed, closed, reopened; `actor` is "engine" or the analyst who did it.
incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),  # event time of the change
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("detail", JSON, nullable=True),
    Index("ix_incident_events_incident_id", "incident_id"),
)
