"""One table of settings (name, default, help) read from a TOML file and MONITOR_* variables.

The `Settings` dataclass *is* the table: each field carries its help text, and the CLI's
`config show`, the README's settings section (checked by a test) and validation all read it.
Secrets are never values here: a setting ending in `_env` names the environment variable that
holds the secret, and `Settings.secret()` resolves it.
"""

from __future__ import annotations

import base64
import difflib
import logging
import math
import os
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from monitor.types import is_utf8

ENV_PREFIX = "MONITOR_"
CONFIG_ENV = "MONITOR_CONFIG"
DEFAULT_CONFIG_FILE = "monitor.toml"

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A settings file or variable that cannot be used; the message says which and why."""


def _setting(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    """A row of the table. `low`/`high` bound a number (inclusive); `choices` lists the only
    values a text setting may take (compared without regard to case)."""
    return field(
        default=default, metadata={"help": help, "low": low, "high": high, "choices": choices}
    )


def _fraction(default: float, help: str) -> Any:
    """A share, probability or similarity: a number from 0 to 1."""
    return _setting(default, help, low=0, high=1)


def _count(default: int, help: str, *, zero_turns_off: bool = False) -> Any:
    """How many posts, authors or places a condition needs: a whole number from 1 (from 0
    where, as its help says, 0 turns the condition off). No ceiling: any count is meaningful,
    and the ceilings these rows used to carry (1,000,000 for the rumour board, 10,000 for the
    incidents gate) differed for the same kind of number without a reason."""
    return _setting(default, help, low=0 if zero_turns_off else 1)


@dataclass(frozen=True)
class Settings:
    """Every setting the service reads. Add a field here and a row in the README's table."""

    home: str = _setting(
        "",
        "Folder holding the data folders models/, rules/ and alerts/. Empty: the checkout this "
        "package runs from, else the copies packaged with it.",
    )
    database_url: str = _setting(
        "sqlite+aiosqlite:///monitor.db",
        "SQLAlchemy URL of the store: SQLite by default, "
        "postgresql+asyncpg://user@host/db in production (the drivers: sqlite+aiosqlite, "
        "postgresql+asyncpg).",
    )
    web_host: str = _setting("127.0.0.1", "Address the web UI and API listen on.")
    web_port: int = _setting(8080, "Port the web UI and API listen on.", low=1, high=65535)
    health_host: str = _setting(
        "127.0.0.1",
        "Address the collector, worker and scheduler roles serve /healthz, /readyz and /metrics "
        "on, each on its own port (collector_port, worker_port, scheduler_port); roles all and "
        "web serve them on web_port. 0.0.0.0 lets a Prometheus or load balancer elsewhere reach "
        "them.",
    )
    collector_port: int = _setting(
        9101,
        "Port `monitor run --role collector` serves /healthz, /readyz and /metrics on. Give "
        "each process on one host its own (MONITOR_COLLECTOR_PORT). 0: not served.",
        low=0,
        high=65535,
    )
    worker_port: int = _setting(
        9102,
        "Port `monitor run --role worker` serves /healthz, /readyz and /metrics on. Give each "
        "worker on one host its own (MONITOR_WORKER_PORT). 0: not served.",
        low=0,
        high=65535,
    )
    scheduler_port: int = _setting(
        9103,
        "Port `monitor run --role scheduler` serves /healthz, /readyz and /metrics on (a "
        "standby answers too: monitor_scheduler_leader is 0). 0: not served.",
        low=0,
        high=65535,
    )
    author_key_env: str = _setting(
        "",
        "Name of an environment variable holding extra secret material mixed into every "
        "author pseudonym key. Empty: keys are random per period and kept only in the store.",
    )
    author_key_rotation_days: int = _setting(
        30,
        "Days each author pseudonym key is used; afterwards a new key is made and the old one "
        "destroyed, so pseudonyms cannot be linked across periods.",
        low=1,
        high=3650,
    )
    post_key_env: str = _setting(
        "",
        "Name of an environment variable holding secret material mixed into the key that "
        "stores post ids and links as keyed HMACs and seals the platform id (used only to "
        "re-check posts). Set it before the first start and keep it: the store refuses "
        "another. Empty: the key is random and kept only in the store, so a copy of the "
        "database can still open the sealed ids.",
    )
    push_secret_env: str = _setting(
        "",
        "Name of an environment variable holding the Standard Webhooks secret (whsec_...) that "
        "signs pushes to POST /api/v1/ingest. Empty: the push endpoint is off.",
    )
    max_text_chars: int = _setting(
        5000,
        "Longest post text kept, in characters; longer text is cut and marked truncated.",
        low=1,
        high=100_000,
    )
    places: str = _setting(
        "bradford,kirklees",
        "Comma-separated gazetteers in <home>/rules/places/ to match place names against.",
    )
    classifier: str = _setting(
        "auto",
        "Which classifier scores posts: 'transformer' (the encoder and trained heads in "
        "models/), 'keyword' (a small lexicon, for tests and machines without torch), or "
        "'auto' (transformer when its heads are present, else keyword).",
        choices=("auto", "transformer", "keyword"),
    )
    classifier_batch_size: int = _setting(
        64, "Most posts scored in one forward pass of the classifier.", low=1, high=4096
    )
    classifier_max_wait_ms: int = _setting(
        50,
        "Longest a post waits for its micro-batch to fill before it is scored anyway.",
        low=0,
        high=60_000,
    )
    classifier_threads: int = _setting(
        0, "CPU threads the classifier uses; 0 means one per core.", low=0, high=1024
    )
    classifier_model: str = _setting(
        "minilm-heads-v1",
        "Folder under <home>/models/ holding the trained heads, manifest and model card.",
    )
    classifier_device: str = _setting(
        "auto",
        "Where the encoder runs: 'auto' (a CUDA GPU when present, else CPU), 'cpu', 'cuda'.",
        choices=("auto", "cpu", "cuda"),
    )
    classifier_quantize: bool = _setting(
        False,
        "Run the PyTorch encoder's linear layers in int8 (dynamic quantisation) on CPU. Off "
        "by default: a post's scores then depend on the other posts in its batch, so they "
        "cannot be reproduced. With classifier_runtime auto it selects PyTorch int8; "
        "ignored when classifier_runtime is onnx, and on a GPU (fp16 there).",
    )
    classifier_runtime: str = _setting(
        "auto",
        "What runs the encoder: 'onnx' (ONNX Runtime fp32 on CPU: the fastest measured, "
        "scores independent of the batch), 'torch' (PyTorch; fp16 on a GPU), or 'auto' "
        "(torch on a GPU, else onnx, falling back to torch with a warning saying why).",
        choices=("auto", "onnx", "torch"),
    )
    classifier_cache_size: int = _setting(
        4096,
        "Distinct normalised post texts whose encoder output is kept (least recently used "
        "dropped first), so reposts and copy-paste campaigns are encoded once. 0: no cache.",
        low=0,
        high=10_000_000,
    )
    classifier_cache_dir: str = _setting(
        "",
        "Folder for the encoder exported to ONNX (about 90 MB, 133 MB for the shipped "
        "fine-tuned model, built once at first start or "
        "by `monitor train`). Empty: $XDG_CACHE_HOME/community-tension-monitor "
        "(~/.cache/community-tension-monitor).",
    )
    classifier_encoding_cache: int = _setting(
        0,
        "Distinct normalised post texts whose encoder output is kept on disk, in "
        "<classifier_cache_dir>/encodings-v1.sqlite3, shared by processes and kept between "
        "runs (restarts, re-imports, replays; least recently used dropped first). Stores "
        "vectors under a hash of text and encoder, never the text; a post's rows are deleted "
        "when its text is (platform deletions, monitor erase, retention purges), and rows "
        "unused for retention_days are purged. ONNX Runtime on CPU only. 0: off (the default; "
        "derived data from post text kept in one more place, for little gain on a live "
        "stream).",
        low=0,
        high=10_000_000,
    )
    classifier_sentences: bool = _setting(
        False,
        "Also read each sentence of a post of two or more alone, for hostile, where the "
        "model has a sentence rule (its manifest's hostile_sentences): a post is then flagged "
        "when the whole post or one sentence clears its bar. It catches more hatred beside "
        "ordinary text, but as much more counter-speech that restates the hatred as a "
        "sentence of its own and then rejects it (model card), and costs a second encoder "
        "pass over those sentences (0.57-0.63x the posts per second on 2 CPU cores). Off "
        "(the default): every post is scored whole.",
    )
    queue_size: int = _setting(
        1000,
        "Posts the in-process queue holds before collectors and importers are made to wait "
        "(backpressure).",
        low=1,
        high=10_000_000,
    )
    queue_url: str = _setting(
        "",
        "Work queue between collectors and workers. Empty: in-process (one process does "
        "everything). redis://host:6379/0: a Redis stream with a consumer group, for running "
        "collector, worker, web and scheduler roles apart (needs PostgreSQL).",
    )
    queue_stream: str = _setting("monitor:posts", "Redis stream key used when queue_url is set.")
    queue_max_length: int = _setting(
        100000,
        "Posts waiting in the Redis stream above which collectors are made to wait "
        "(backpressure; shown as monitor_queue_depth in /metrics).",
        low=1,
        high=100_000_000,
    )
    queue_visibility_timeout_s: float = _setting(
        60.0,
        "Seconds a worker may hold a stream entry unacknowledged before another worker claims "
        "it (a worker that died mid-batch).",
        low=1,
        high=86_400,
    )
    ingest_batch_size: int = _setting(
        500,
        "Posts written to the store in one transaction by the pipeline and importer.",
        low=1,
        high=100_000,
    )
    shutdown_drain_s: float = _setting(
        20.0,
        "Seconds one SIGTERM waits for queued posts to be processed before stopping anyway; "
        "the stop message says what was left (keep it under the unit's TimeoutStopSec).",
        low=0,
        high=3600,
    )
    pipeline_max_restarts: int = _setting(
        5,
        "Times in a row the pipeline worker is restarted (with backoff) after an unexpected "
        "failure before the process gives up and exits non-zero for systemd to restart it.",
        low=0,
        high=1000,
    )
    store_retry_max_s: float = _setting(
        30.0,
        "Longest wait between retries while the store is unavailable; accepted posts are "
        "kept and retried until it is back, never dropped.",
        low=0.1,
        high=3600,
    )
    ready_max_batch_age_s: float = _setting(
        300.0,
        "/readyz answers 503 when posts are waiting and no batch has been processed for this "
        "many seconds (a stuck worker).",
        low=1,
        high=86400,
    )
    retention_days: int = _setting(
        30,
        "Days post text is kept; afterwards it is purged and only aggregates remain.",
        low=1,
        high=3650,
    )
    alert_excerpt_retention_days: int = _setting(
        365,
        "Days the excerpts kept as alert evidence (and their copies in the mailbox and "
        "digests) are kept; afterwards they are purged and the alert keeps its labels and counts.",
        low=1,
        high=3650,
    )
    retention_purge_minutes: int = _setting(
        60,
        "How often `monitor run` purges expired text, destroys retired pseudonym keys and "
        "writes a receipt to the audit log. 0: never (run `monitor purge` from cron instead; "
        "the service then warns at start, and `/metrics` gives the newest purge's time, "
        "`monitor_retention_last_purge_timestamp_seconds`).",
        low=0,
        high=10_080,
    )
    privacy_min_count: int = _setting(
        10,
        "Smallest distinct-author count shown in aggregates, exports and digests; smaller "
        "counts are shown as 'fewer than N' so that a few people cannot be singled out.",
        low=1,
        high=1000,
    )
    privacy_public_accounts: str = _setting(
        "",
        "YAML file naming public organisational accounts (council, police, news outlets) "
        "whose posts may show the account's public name. Empty: "
        "<home>/rules/public-accounts.yaml when present; every other author is pseudonymous.",
    )
    privacy_view_guard_contexts: int = _setting(
        3,
        "Repeated-viewing guard: when one user opens evidence from this many different stories "
        "(incidents; an alert or rumour outside any incident counts on its own) containing "
        "posts by the same pseudonymous author within privacy_view_guard_days, a recorded "
        "justification is required and the senior responsible officer is told.",
        low=2,
        high=1000,
    )
    privacy_view_guard_days: int = _setting(
        7,
        "The window over which the repeated-viewing guard counts a user's evidence views.",
        low=1,
        high=365,
    )
    recheck_after_hours: float = _setting(
        24.0,
        "Posts older than this are looked up on their platform (Bluesky getPosts, Mastodon "
        "status) before their excerpts are shown or sent in a digest, and purged if deleted or "
        "hidden there; each post at most once per this period. 0 turns re-checking off.",
        low=0,
        high=8760,
    )
    recheck_timeout_seconds: float = _setting(
        3.0,
        "The longest a page or digest waits for re-checks; posts not answered in time stay "
        "shown and are counted as failures.",
        low=0.1,
        high=60,
    )
    recheck_bluesky_url: str = _setting(
        "https://public.api.bsky.app",
        "Bluesky AppView used for re-checks (app.bsky.feed.getPosts, no sign-in needed).",
    )
    privacy_sro_mailbox: str = _setting(
        "sro",
        "Local mailbox (shown in the web UI) of the senior responsible officer, who is told "
        "of every justification given to the repeated-viewing guard. Only admins can read it.",
    )
    governance_review_days: int = _setting(
        90,
        "Days an approval of a monitored topic (rule pack) or place gazetteer lasts; after its "
        "review date it stops running until someone re-approves it (`monitor governance`).",
        low=1,
        high=3650,
    )
    rules_packs: str = _setting(
        "",
        "Comma-separated rule packs in <home>/rules/ to run (e.g. 'tension,rumour'). "
        "Empty: every pack folder except places/.",
    )
    rules_reload_seconds: float = _setting(
        5.0,
        "How often the running service checks the rule packs for edits; an edit that loads "
        "cleanly takes effect without a restart, a broken one is refused and logged. 0: never.",
        low=0,
        high=86_400,
    )
    demo_scenario: str = _setting(
        "",
        "JSONL file replayed by `monitor demo`. Empty: the bundled fictional Bradford scenario.",
    )
    demo_speed: float = _setting(
        0.0,
        "Replay speed-up for `monitor demo` and `monitor import --speed`: 0 replays as fast as "
        "possible, 60 plays an hour of posts in a minute.",
        low=0,
        high=1_000_000,
    )
    signals_window_minutes: int = _setting(
        180,
        "Tension window: flagged posts about an area in this many minutes set its level.",
        low=1,
        high=10_080,
    )
    signals_baseline_weeks: int = _setting(
        4,
        "Weeks of each area's own hourly history (by hour of the week) its tension baseline "
        "is estimated from.",
        low=1,
        high=52,
    )
    signals_levels: str = _setting(
        "normal,elevated,high,critical",
        "Tension scale, lowest first, comma-separated. Each level above the first needs a "
        "value in signals_level_rise, signals_level_weighted and signals_level_authors.",
    )
    signals_level_rise: str = _setting(
        "2,4,8",
        "Rise over the area's own baseline (observed / expected weighted volume) needed to "
        "enter each level above the first.",
    )
    signals_level_weighted: str = _setting(
        "4,10,25",
        "Weighted flagged volume in the window needed to enter each level above the first.",
    )
    signals_level_authors: str = _setting(
        "3,6,12",
        "Distinct authors of flagged posts in the window needed to enter each level above "
        "the first.",
    )
    signals_prior_rate: float = _setting(
        0.1,
        "Weighted flagged volume per hour assumed for an area with no history yet; quiet "
        "places are shrunk towards it, so a handful of posts is not a huge rise.",
        low=0,
        high=1_000_000,
    )
    signals_prior_hours: float = _setting(
        48.0,
        "How many hours of observed history signals_prior_rate counts as.",
        low=0.01,
        high=100_000,
    )
    signals_rise_pseudocount: float = _setting(
        2.0,
        "Added to observed and expected volume before dividing, so that rises over a near-zero "
        "baseline stay finite and small counts stay small.",
        low=0.01,
        high=1_000_000,
    )
    signals_down_factor: float = _setting(
        0.5,
        "Hysteresis: a level is lowered only when the measures fall below its thresholds "
        "times this factor ...",
        low=0.01,
        high=1,
    )
    signals_cool_down_minutes: int = _setting(
        60,
        "... and stay below them for this many minutes, so that levels do not flap.",
        low=0,
        high=10_080,
    )
    signals_alert_level: str = _setting(
        "high", "Tension level (a name on signals_levels) from which a rising_tension alert opens."
    )
    signals_kind_weights: str = _setting(
        "threat=3,call_to_gather=3,tension=1.5,hostility=1,hostile=1",
        "Weight of a flagged post by its rule label kind= or classifier flag (a post counts "
        "once, at its heaviest); kinds not listed weigh nothing: rumours have their own signal, "
        "and swearing alone is not tension.",
    )
    signals_author_cap: float = _setting(
        3.0,
        "Most weight one author's posts add to an area's window, however many they post: one "
        "loud account is not community tension.",
        low=0,
        high=1_000_000,
    )
    signals_severity_weights: str = _setting(
        "low=0.5,medium=1,high=1.5,critical=2",
        "Multiplier of a rule hit's weight by its severity= label.",
    )
    signals_cluster_similarity: float = _fraction(
        0.6,
        "Cosine similarity of a post's sentence embedding to a rumour cluster's centroid for "
        "it to join the cluster (encoder embeddings).",
    )
    signals_keyword_cluster_similarity: float = _fraction(
        0.45,
        "The same for the keyword classifier's hashed bag-of-words embeddings, whose "
        "similarities run lower.",
    )
    signals_claim_match: float = _fraction(
        0.6,
        "Similarity to a registered rumour's claim text at which a new post joins it "
        "(encoder embeddings).",
    )
    signals_claim_confirm: float = _fraction(
        0.45,
        "From this similarity up to signals_claim_match a post is held for a person to "
        "confirm before it joins a registered rumour (encoder embeddings).",
    )
    signals_keyword_claim_match: float = _fraction(
        0.5,
        "signals_claim_match for the keyword classifier's hashed embeddings.",
    )
    signals_keyword_claim_confirm: float = _fraction(
        0.35,
        "signals_claim_confirm for the keyword classifier's hashed embeddings.",
    )
    signals_simhash_distance: int = _setting(
        3,
        "Posts whose 64-bit SimHash of normalised text differs in at most this many bits "
        "are near-duplicates and join the same rumour (0-7).",
        low=0,
        high=7,
    )
    signals_claim_min_score: float = _fraction(
        0.5,
        "Classifier rumour score from which a post may start a new rumour cluster (others "
        "can only join one).",
    )
    signals_rumour_window_minutes: int = _setting(
        60, "Window for a rumour's velocity (posts per hour) and acceleration.", low=1, high=10_080
    )
    signals_spread_posts: int = _count(
        8, "Posts in one velocity window for a rumour to count as spreading ..."
    )
    signals_spread_authors: int = _count(5, "... from at least this many distinct authors.")
    signals_spread_places: int = _count(
        1,
        "... naming at least this many distinct places (wards, else localities) between them. "
        "0 turns the place condition off (a stream with no gazetteer).",
        zero_turns_off=True,
    )
    signals_spread_early_posts: int = _count(
        5,
        "An earlier way for a rumour to count as spreading: this many posts telling the claim "
        "(denials and questions of it not counted) in one velocity window (0 turns it off) ...",
        zero_turns_off=True,
    )
    signals_spread_early_authors: int = _count(
        3, "... from at least this many distinct authors ..."
    )
    signals_spread_early_places: int = _count(
        2,
        "... when the window's own posts already name at least this many distinct places "
        "(wards, else localities): a story passed on across places, not one place's talk.",
    )
    signals_spread_early_rule_authors: int = _count(
        1,
        "... or when posts from at least this many of the window's distinct authors matched a "
        "rumour rule (not the classifier's score alone): a claim people pass on in the words "
        "rules know, which talk the rumour head half-believes is not. With 1, two readings "
        "agree on one telling (a rule's words and the classifier's or hearsay cues' claim) "
        "and the rest are claims too (the claim share), from 3 authors within the window. 0 "
        "turns this off: on the generated weeks (benchmarks/events.py --encoder) a story's "
        "median minutes from its first post to its item were 23.1 with 0, 17.4 with 2 and "
        "15.8 with 1 (14.7 with incidents_corroborated_episode_posts too), with the same "
        "items and false items, and the demo week and PHEME the same (the generated weeks' "
        "everyday talk carries no rumour-rule hits, so only the demo week's real rules can "
        "show a misfire here).",
        zero_turns_off=True,
    )
    signals_spread_early_rule_posts: int = _count(
        3,
        "... in which case this many telling posts are enough (0: signals_spread_early_posts): "
        "rules, not the window's places, are what tell a claim passed on from everyday talk "
        "told in several wards at once.",
        zero_turns_off=True,
    )
    signals_claim_share: float = _fraction(
        0.5,
        "Share of claims (rumour score, a rumour rule, or hearsay cues such as 'apparently', "
        "'I've been told', 'is it true') among the posts about a rumour cluster's subject, "
        "replies aside, judged by the lower bound of its 90 % Wilson interval, for it to "
        "spread and reach the rumour board: a burst of everyday talk the rumour head "
        "half-believes is chatter, not a rumour. A news report naming its official source "
        "('police say', 'according to prosecutors', a wire service's credit) counts neither "
        "way, nor towards the posts that make a rumour spread; boilerplate (a platform's "
        "'account withheld' notice, 'more to follow' alone) is never a claim.",
    )
    signals_cluster_cohesion: float = _fraction(
        0.7,
        "Ceiling on a rumour cluster's spread: mean similarity of its claim posts to their "
        "centroid (encoder embeddings) below which a post does not join it and two clusters "
        "do not merge, so a breaking event yields several claims, not one catch-all.",
    )
    signals_keyword_cluster_cohesion: float = _fraction(
        0.55,
        "signals_cluster_cohesion for the keyword classifier's hashed embeddings.",
    )
    signals_claim_term_overlap: float = _fraction(
        0.3,
        "A claim joins a rumour cluster (and two clusters merge) only if this IDF-weighted share "
        "of its claim terms (content words, without stop words or its places' names) is typical "
        "of the cluster: the day's topic and place words weigh little, the claim's own much.",
    )
    signals_alert_rule_authors: int = _count(
        3,
        "Distinct authors of rule-flagged posts (threat, call to gather, tension, hostility "
        "rules) an area needs in the window to reach signals_alert_level: classifier flags "
        "alone never open a rising_tension item.",
        zero_turns_off=True,
    )
    signals_rumour_idle_hours: int = _setting(
        72,
        "An unregistered rumour cluster with no new post for this many hours is closed and "
        "leaves the live index.",
        low=1,
        high=8760,
    )
    signals_counter_window_hours: int = _setting(
        6,
        "Hours before and after a counter message over which the rumour's velocity is compared.",
        low=1,
        high=720,
    )
    signals_follow_settle_seconds: float = _setting(
        10.0,
        "Scaled out, signals run in the scheduler leader, which takes up posts once they were "
        "processed this many seconds ago, so that a batch another worker commits late is not "
        "passed over: more than the longest processing transaction plus the hosts' clock "
        "differences.",
        low=0,
        high=3600,
    )
    signals_follow_poll_seconds: float = _setting(
        2.0,
        "Scaled out: how often the scheduler leader looks for newly processed posts for the "
        "signals once it has caught up.",
        low=0.1,
        high=3600,
    )
    demo_accounts: bool = _setting(
        False,
        "Create one web account per role at start-up with fresh random passwords printed to "
        "the console. For demonstrations only: `monitor demo` turns it on; never in production.",
    )
    web_session_idle_minutes: int = _setting(
        60,
        "A web session unused for this many minutes ends; its user signs in again.",
        low=1,
        high=10_080,
    )
    web_session_hours: int = _setting(
        12, "Longest a web session lasts, however busy.", low=1, high=720
    )
    web_purpose_minutes: int = _setting(
        30,
        "How long a purpose stated for viewing evidence stays valid in the session before "
        "the next evidence view asks for one again.",
        low=1,
        high=1440,
    )
    web_login_max_failures: int = _setting(
        5,
        "Failed sign-ins for one user name from one address before each further try must wait "
        "(1 s, doubling, up to 15 min); an address gets four times as many, a name from any "
        "address twice as many with waits of at most 30 s, so nobody can lock a colleague out.",
        low=1,
        high=1000,
    )
    web_login_window_seconds: int = _setting(
        900, "How long failed sign-ins are remembered after the latest one.", low=1, high=86_400
    )
    web_secure_cookies: bool = _setting(
        False,
        "Mark cookies Secure and send Strict-Transport-Security. Turn on whenever the UI is "
        "served over HTTPS (it should be, anywhere but 127.0.0.1).",
    )
    web_boundaries: str = _setting(
        "",
        "GeoJSON file of ward boundaries for the areas map (ward name in a WD..NM or 'name' "
        "property). Empty: ../shared/data/geo/bradford-wards-2013.geojson beside the checkout "
        "when present; otherwise the areas page shows its table without a map.",
    )
    web_events_poll_seconds: float = _setting(
        3.0,
        "How often the live review-queue stream checks the store for new or changed alerts and "
        "incidents.",
        low=0.2,
        high=3600,
    )
    alerts_routing: str = _setting(
        "",
        "Routing file for alerts (receivers, routes, windows, digests). Empty: "
        "<home>/alerts/routing.yaml. Checked at start-up and by `monitor alerts check`.",
    )
    alerts_deliver: bool = _setting(
        True,
        "Deliver alert notifications and run digest schedules in this process. Turn off in "
        "processes that only collect or serve the web UI; outbox rows still get written.",
    )
    alerts_public_url: str = _setting(
        "",
        "Address people open the web UI at (e.g. https://monitor.council.example), used for "
        "links in notifications and digests. Empty: messages carry no links.",
    )
    alerts_boundaries: str = _setting(
        "",
        "Comma-separated GeoJSON files of ward boundaries; when set, digests include a ward "
        "map of levels. Empty: the levels table only.",
    )
    alerts_poll_seconds: float = _setting(
        2.0,
        "How often the alert dispatcher looks for due notifications when not woken.",
        low=0.05,
        high=3600,
    )
    incidents_gap_hours: float = _setting(
        6.0,
        "Incidents: alerts in the same place (a ward, or a ward and its locality) whose "
        "event-time spans come within this many hours of each other are one episode; an "
        "episode passes the precision gate on the posts and authors within one span of this "
        "many hours, so scattered rule hits over days never add up to one.",
        low=0.25,
        high=168,
    )
    incidents_min_posts: int = _count(
        5,
        "Precision gate: an incident reaches people only with at least this many posts telling "
        "it (responses not counted); one from the classifier alone needs twice as many.",
    )
    incidents_min_authors: int = _count(
        3, "Precision gate: ... and posts from at least this many distinct authors ..."
    )
    incidents_min_places: int = _count(
        1,
        "Precision gate: ... naming at least this many places (wards or localities).",
        zero_turns_off=True,
    )
    incidents_immediate_min_posts: int = _count(
        2,
        "Precision gate: a threat or call to gather matched by a rule (not the classifier "
        "alone) reaches people at once, for the police liaison, when corroborated: the "
        "classifier also flags one of its posts hostile, or this many posts such rules "
        "matched came within incidents_immediate_minutes (1: any one post, which a keyword "
        "rule misfiring on ordinary words also makes). Otherwise it waits for the usual "
        "posts and authors.",
    )
    incidents_immediate_minutes: float = _setting(
        60.0,
        "Precision gate: ... the event-time span within which incidents_immediate_min_posts "
        "threat or call-to-gather posts corroborate each other (two misfires on ordinary "
        "posts in one place rarely come this close).",
        low=1,
        high=10080,
    )
    incidents_corroborated_min_posts: int = _count(
        3,
        "Precision gate: a rumour whose own posts are corroborated beyond the classifier "
        "(told in incidents_corroborated_places places, or matched by a rumour rule for "
        "incidents_corroborated_rule_authors authors) passes with this many posts, still from "
        "incidents_min_authors authors. At or above incidents_min_posts it changes nothing.",
    )
    incidents_corroborated_places: int = _count(
        0,
        "Precision gate: ... distinct places (wards, else localities) a rumour's own posts "
        "name for it to count as corroborated (0, the default: places never do; on the demo "
        "week, 2 with signals_spread_early_posts = 3 put everyday talk the rumour head "
        "half-believes, told in several wards at once, before people).",
        zero_turns_off=True,
    )
    incidents_corroborated_rule_authors: int = _count(
        1,
        "Precision gate: ... or distinct authors of its posts that a rumour rule matched "
        "(0: rules never do; 1: one telling in a rule's words, the others claims the "
        "classifier or hearsay cues read, as signals_spread_early_rule_authors).",
        zero_turns_off=True,
    )
    incidents_corroborated_episode_posts: int = _count(
        3,
        "Precision gate: an episode (tension, threats, calls to gather in one place) passes "
        "sooner when this many of its posts from as many distinct authors (and at least "
        "incidents_min_authors), each matched by a rule of at least medium severity (not the "
        "classifier alone, not a low-severity cue), came within "
        "incidents_corroborated_episode_minutes: people reacting to something that happened "
        "there, which a rule misfiring on ordinary words rarely imitates for several people "
        "at once. 0, or at least incidents_min_posts, turns it off. On the generated weeks "
        "(benchmarks/events.py --encoder) the tension episodes' minutes from first post to "
        "item went 14.1 -> 12.6 and 14.9 -> 9.3 with no false item added.",
        zero_turns_off=True,
    )
    incidents_corroborated_episode_minutes: float = _setting(
        30.0,
        "Precision gate: ... the event-time span within which those posts corroborate each other.",
        low=1,
        high=10080,
    )
    incidents_cool_hours: float = _setting(
        12.0,
        "An open incident with no new posts for this many hours (event time) is cooling.",
        low=0.25,
        high=8760,
    )
    incidents_close_hours: float = _setting(
        168.0,
        "An incident with no new posts for this many hours (event time) is closed; one whose "
        "alerts were all reviewed and closed closes at once.",
        low=0.25,
        high=8760,
    )
    audit_key_env: str = _setting(
        "",
        "Name of an environment variable holding the audit log's key (32 bytes or more): each "
        "event's hash becomes an HMAC under it, so someone who can write to the store cannot "
        "edit an event and recompute the chain. Empty: plain SHA-256 (verify says unkeyed).",
    )
    audit_head_file: str = _setting(
        "",
        "File outside the store (another disk, a mounted share) to which the audit log's head "
        "(count and newest hash) is appended every audit_head_minutes; `monitor audit verify` "
        "checks it, so deleting the newest events shows. Empty: not exported.",
    )
    audit_head_minutes: int = _setting(
        15,
        "How often `monitor run` appends the audit head to audit_head_file.",
        low=1,
        high=1440,
    )
    log_level: str = _setting(
        "INFO",
        "Logging level: DEBUG, INFO, WARNING or ERROR.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )

    def secret(self, name: str) -> str | None:
        """The secret that setting `<name>_env` points at, or None when unset."""
        env_name = getattr(self, f"{name}_env")
        if not env_name:
            return None
        value = os.environ.get(env_name)
        if value is None:
            raise ConfigError(f"setting {name}_env names ${env_name}, which is not set")
        return value

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some settings changed (values are coerced like file values)."""
        return replace(self, **{k: _coerce(_field(k), v, "override") for k, v in overrides.items()})

    def items(self) -> Iterator[tuple[str, Any]]:
        for f in fields(self):
            yield f.name, getattr(self, f.name)

    def masked(self) -> dict[str, Any]:
        """The effective settings for display: secret references show whether they resolve."""
        out: dict[str, Any] = {}
        for name, value in self.items():
            if name.endswith("_env") and value:
                state = "set" if value in os.environ else "NOT SET"
                out[name] = f"{value} (****, {state})"
            elif name == "database_url":
                out[name] = mask_url_password(str(value))
            else:
                out[name] = value
        return out


def setting_fields() -> tuple[Field[Any], ...]:
    """The settings table: name, type, default and help of every setting."""
    return fields(Settings)


def setting_help(f: Field[Any]) -> str:
    return str(f.metadata["help"])


def setting_default(f: Field[Any]) -> Any:
    return f.default if f.default is not MISSING else None


def setting_allowed(f: Field[Any]) -> str:
    """The values a setting may take, as people read it ("1 to 65535", "auto, cpu or cuda");
    empty when any value of its type will do."""
    choices: tuple[str, ...] = f.metadata.get("choices", ())
    if choices:
        return ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
    low, high = f.metadata.get("low"), f.metadata.get("high")
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)}"
    if low is not None:
        return f"{_number(low)} or more"
    if high is not None:
        return f"at most {_number(high)}"
    return ""


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else f"{int(value)}"


def _field(name: str) -> Field[Any]:
    for f in fields(Settings):
        if f.name == name:
            return f
    raise ConfigError(f"unknown setting {name!r}")


def _field_type(f: Field[Any]) -> type:
    hints = typing.get_type_hints(Settings)
    t = hints[f.name]
    if isinstance(t, types.UnionType):
        t = next(a for a in typing.get_args(t) if a is not type(None))
    return t  # type: ignore[no-any-return]


def _coerce(f: Field[Any], value: Any, origin: str) -> Any:
    t = _field_type(f)
    try:
        if t is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if t in (int, float) and isinstance(value, bool):  # TOML true is not port 1
            raise ValueError(value)
        if t is int and isinstance(value, float):
            raise ValueError(value)
        coerced = t(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(
            f"{origin}: setting {f.name} must be {t.__name__}, got {value!r}"
        ) from None
    _check(f, coerced, value, origin)
    return coerced


def _check(f: Field[Any], value: Any, given: Any, origin: str) -> None:
    """Refuse a value outside the setting's range or choices, in one line that says which
    setting, the value given and what is allowed (a bad value must not surface later as a
    traceback deep in some stage)."""
    allowed = setting_allowed(f)
    if isinstance(value, float) and not math.isfinite(value):  # "nan", "inf", 1e400
        raise ConfigError(
            f"{origin}: setting {f.name} must be {allowed or 'a finite number'}, got {given!r}"
        )
    if not allowed or isinstance(value, bool):
        return
    if isinstance(value, str):
        ok = value.strip().lower() in {c.lower() for c in f.metadata["choices"]}
    else:
        low, high = f.metadata["low"], f.metadata["high"]
        ok = math.isfinite(value) and (low is None or value >= low)
        ok = ok and (high is None or value <= high)
    if not ok:
        raise ConfigError(f"{origin}: setting {f.name} must be {allowed}, got {given!r}")


def mask_url_password(url: str) -> str:
    """`url` with any password replaced by ****, for messages and `config show`."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            user = creds.split(":", 1)[0]
            return f"{scheme}://{user}:****@{host}"
    return url


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults, then the TOML file, then MONITOR_* variables (later wins).

    The file is `path`, else $MONITOR_CONFIG, else ./monitor.toml when it exists.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    data: dict[str, Any] = {}
    file_path = Path(path) if path else (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if file_path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        file_path = Path(DEFAULT_CONFIG_FILE)
    if file_path is not None:
        try:
            data = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{file_path}: settings file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file_path}: not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{file_path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
        except OSError as exc:  # a directory, a symlink loop, no permission
            raise ConfigError(f"{file_path}: cannot read: {exc.strerror or exc}") from None
        section = _settings_section(data, file_path)
        for key, value in section.items():
            if _is_table(value):
                if key not in FILE_TABLES:  # "[[sourcs]]" was read as nothing, without a word
                    raise ConfigError(
                        f"{file_path}: unknown table [{key}]: a settings file holds settings "
                        f"and {', '.join(f'[[{t}]]' for t in FILE_TABLES)} tables"
                    )
                continue  # [[sources]] has its own reader (monitor.collectors.config)
            try:
                f = _field(key)
            except ConfigError:
                raise ConfigError(f"{file_path}: unknown setting {key!r}") from None
            values[key] = _coerce(f, value, str(file_path))
    for f in fields(Settings):
        env_name = ENV_PREFIX + f.name.upper()
        if env_name in env:
            if not is_utf8(env[env_name]):  # bytes that were not UTF-8, kept as surrogates
                raise ConfigError(f"${env_name}: not UTF-8 text")
            values[f.name] = _coerce(f, env[env_name], f"${env_name}")
    settings = Settings(**values)
    for message in unknown_variables(env, settings, data):
        log.warning("%s", message)
    _check_together(settings)
    return settings


# MONITOR_* variables the project reads itself, outside the settings table: never reported as
# unknown. Where each is read is beside it (tests/hardening/test_unknown_variables.py checks
# that every such read in monitor/, tests/ and scripts/ is a setting or listed here).
OTHER_VARIABLES = frozenset(
    {
        CONFIG_ENV,  # the settings file (load_settings)
        "MONITOR_DATA_DIR",  # labelled data for training and evaluation (monitor.classify.data)
        # The test suite's servers, worker count and folder (tests/conftest.py, scripts/test).
        "MONITOR_TEST_PG_URL",
        "MONITOR_TEST_REDIS_URL",
        "MONITOR_TEST_WORKERS",
        "MONITOR_TEST_TMPDIR",
        "MONITOR_CHAOS_SEED",  # the chaos tests' seed (tests/chaos_harness.py)
        "MONITOR_LOCK_FIND_LINKS",  # where scripts/lock finds torch wheels
    }
)


def unknown_variables(
    environ: Mapping[str, str], settings: Settings, file_data: Mapping[str, Any]
) -> list[str]:
    """A message for each MONITOR_* variable that is not a setting, naming the closest setting
    when there is one. A misspelt key in the settings file is refused (`load_settings`), but a
    misspelt variable (MONITOR_RETENTION_DAY=30) was ignored without a word and the default
    used: the prefix is this service's, so such a variable is a mistake unless the project
    reads it itself (OTHER_VARIABLES) or it holds a secret that a `*_env` setting, a key of
    the settings file ([[sources]] token_env) or of the alert routing file names
    (`password_env: MONITOR_SMTP_PASSWORD`). A warning, not an error: an environment is shared
    with other programs and outlives the settings of older versions, and a stray variable must
    not stop the service. Only names are given, never values (they may be secrets)."""
    names = {ENV_PREFIX + f.name.upper(): f.name for f in fields(Settings)}
    unknown = sorted(
        v
        for v in environ
        if v.startswith(ENV_PREFIX) and v not in names and v not in OTHER_VARIABLES
    )
    if not unknown:
        return []
    named = _secret_variables(settings, file_data)
    messages = []
    for variable in unknown:
        if variable in named:
            continue
        message = f"${variable} is not a setting and is ignored"
        # Compared without the prefix: all the names share it, and it made any variable look
        # close to a short setting (MONITOR_FROBNICATE to MONITOR_HOME).
        close = difflib.get_close_matches(
            variable.removeprefix(ENV_PREFIX).lower(), names.values(), n=1
        )
        if close:
            message += f"; did you mean ${ENV_PREFIX}{close[0].upper()} (setting {close[0]})?"
        else:
            message += " (`monitor config help` lists the settings)"
        messages.append(message)
    return messages


def _secret_variables(settings: Settings, file_data: Mapping[str, Any]) -> set[str]:
    """The variables named as holding secrets: by `*_env` settings, and by `*_env` keys of the
    settings file and of the alert routing file (read here only for those names; a routing file
    that cannot be read is reported by the alerts' own check, not here)."""
    named = {str(v) for name, v in settings.items() if name.endswith("_env") and v}
    named |= _env_values(file_data)
    try:
        routing = alerts_routing_file(settings, resolve_home(settings))
        named |= _env_values(yaml.safe_load(routing.read_text(encoding="utf-8")))
    except Exception:  # whatever is wrong with the file, the alerts' own check reports it
        pass
    return named


def _env_values(data: Any) -> set[str]:
    """Every text value of a key ending in `_env`, at any depth of a file's tables and lists."""
    if isinstance(data, Mapping):
        found = {v for k, v in data.items() if str(k).endswith("_env") and isinstance(v, str)}
        for value in data.values():
            found |= _env_values(value)
        return found
    if isinstance(data, list):
        return set().union(*(_env_values(v) for v in data))
    return set()


# Tables a settings file may hold besides its settings, each read by its own reader.
FILE_TABLES = ("sources",)


def _settings_section(data: dict[str, Any], file_path: Path) -> dict[str, Any]:
    """The settings of a file: its top level, or its [monitor] table; never both (a file
    with both had every top-level setting ignored, its database_url among them)."""
    if "monitor" not in data:
        return data
    section = data["monitor"]
    if not isinstance(section, dict):
        raise ConfigError(f"{file_path}: 'monitor' must be a table ([monitor]) of settings")
    top = [k for k, v in data.items() if k != "monitor" and not _is_table(v)]
    if top:
        raise ConfigError(
            f"{file_path}: settings both at the top level ({', '.join(sorted(top)[:5])}) and "
            "under [monitor]: put them in one place"
        )
    return section


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )


STORE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


def _check_together(settings: Settings) -> None:
    """Checks of settings that are read together (the tension scale, its thresholds and the
    alert level), at load rather than when the signals stage first starts; and the store's
    driver (another one failed deep in SQLAlchemy, as a traceback, at the first command)."""
    from monitor.signals.config import SignalsConfig  # late: it imports this module

    scheme = settings.database_url.split("://", 1)[0] if "://" in settings.database_url else ""
    if scheme not in STORE_DRIVERS:
        raise ConfigError(
            f"setting database_url: {mask_url_password(settings.database_url)[:80]!r} must "
            f"start with {' or '.join(d + '://' for d in STORE_DRIVERS)}"
        )

    SignalsConfig.from_settings(settings)


# Standard Webhooks secrets are 24 to 64 random bytes; under 24 a key can be guessed offline
# from one signed request faster than anyone should be comfortable with.
MIN_PUSH_SECRET_BYTES = 24


def push_secret(settings: Settings) -> str | None:
    """The push endpoint's secret (whsec_ and base64 key bytes), checked; None when the endpoint
    is off. ConfigError when the variable is missing, not base64, or the key is too short: a
    weak key would let anyone sign pushes, so the service refuses to start with one."""
    value = settings.secret("push_secret")
    if value is None:
        return None
    where = f"${settings.push_secret_env} (push_secret_env)"
    if not value.startswith("whsec_"):
        raise ConfigError(f"{where} must be whsec_ followed by base64 key bytes")
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise ConfigError(f"{where} must be whsec_ followed by base64 key bytes") from None
    if len(key) < MIN_PUSH_SECRET_BYTES:
        raise ConfigError(
            f"{where} holds a {len(key)}-byte key; use at least {MIN_PUSH_SECRET_BYTES} random "
            "bytes, e.g. whsec_$(openssl rand -base64 32)"
        )
    return value


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/community-tension-monitor, else ~/.cache/community-tension-monitor: the
    exported encoder (the `classifier_cache_dir` setting overrides it) and the unpacked
    language-id model (monitor.ingest.language_model) are kept there."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "community-tension-monitor"


def alerts_routing_file(settings: Settings, home: Path) -> Path:
    """The alert routing file: the `alerts_routing` setting, else <home>/alerts/routing.yaml."""
    if settings.alerts_routing:
        return Path(settings.alerts_routing).expanduser()
    return home / "alerts" / "routing.yaml"


def resolve_home(settings: Settings) -> Path:
    """The folder with models/, rules/ and alerts/: the setting, the checkout, or the package."""
    if settings.home:
        home = Path(settings.home).expanduser()
        if not (home / "rules").is_dir():
            raise ConfigError(f"home {home} has no rules/ folder")
        return home
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "rules").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    packaged = Path(__file__).resolve().parent / "data" / "home"
    return packaged
