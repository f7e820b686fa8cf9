"""One table of settings (name, default, help) read from a TOML file and MONITOR_* variables.

The `Settings` dataclass *is* the table: each field carries its help text, and the CLI's
`config show`, the README's settings section (checked by a test) and validation all read it.
Secrets are never values here: a setting ending in `_env` names the environment variable that
holds the secret, and `Settings.secret()` resolves it.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "MONITOR_"
CONFIG_ENV = "MONITOR_CONFIG"
DEFAULT_CONFIG_FILE = "monitor.toml"


class ConfigError(ValueError):
    """A settings file or variable that cannot be used; the message says which and why."""


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


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
        "postgresql+asyncpg://user@host/db in production.",
    )
    web_host: str = _setting("127.0.0.1", "Address the web UI and API listen on.")
    web_port: int = _setting(8080, "Port the web UI and API listen on.")
    author_key_env: str = _setting(
        "",
        "Name of an environment variable holding extra secret material mixed into every "
        "author pseudonym key. Empty: keys are random per period and kept only in the store.",
    )
    author_key_rotation_days: int = _setting(
        30,
        "Days each author pseudonym key is used; afterwards a new key is made and the old one "
        "destroyed, so pseudonyms cannot be linked across periods.",
    )
    push_secret_env: str = _setting(
        "",
        "Name of an environment variable holding the Standard Webhooks secret (whsec_...) that "
        "signs pushes to POST /api/v1/ingest. Empty: the push endpoint is off.",
    )
    max_text_chars: int = _setting(
        5000, "Longest post text kept, in characters; longer text is cut and marked truncated."
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
    )
    classifier_batch_size: int = _setting(
        64, "Most posts scored in one forward pass of the classifier."
    )
    classifier_max_wait_ms: int = _setting(
        50, "Longest a post waits for its micro-batch to fill before it is scored anyway."
    )
    classifier_threads: int = _setting(0, "CPU threads the classifier uses; 0 means one per core.")
    classifier_model: str = _setting(
        "minilm-heads-v1",
        "Folder under <home>/models/ holding the trained heads, manifest and model card.",
    )
    classifier_device: str = _setting(
        "auto", "Where the encoder runs: 'auto' (a CUDA GPU when present, else CPU), 'cpu', 'cuda'."
    )
    classifier_quantize: bool = _setting(
        True,
        "Run the encoder's linear layers in int8 (dynamic quantisation) on CPU: faster, with "
        "scores within the tolerance stated in the model card. Ignored on a GPU (fp16 there).",
    )
    queue_size: int = _setting(
        1000,
        "Posts the in-process queue holds before collectors and importers are made to wait "
        "(backpressure).",
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
    )
    queue_visibility_timeout_s: float = _setting(
        60.0,
        "Seconds a worker may hold a stream entry unacknowledged before another worker claims "
        "it (a worker that died mid-batch).",
    )
    ingest_batch_size: int = _setting(
        500, "Posts written to the store in one transaction by the pipeline and importer."
    )
    retention_days: int = _setting(
        30, "Days post text is kept; afterwards it is purged and only aggregates remain."
    )
    alert_excerpt_retention_days: int = _setting(
        365,
        "Days the excerpts kept as alert evidence (and their copies in the mailbox and "
        "digests) are kept; afterwards they are purged and the alert keeps its labels and counts.",
    )
    retention_purge_minutes: int = _setting(
        60,
        "How often `monitor run` purges expired text, destroys retired pseudonym keys and "
        "writes a receipt to the audit log. 0: never (run `monitor purge` from cron instead).",
    )
    privacy_min_count: int = _setting(
        10,
        "Smallest distinct-author count shown in aggregates, exports and digests; smaller "
        "counts are shown as 'fewer than N' so that a few people cannot be singled out.",
    )
    privacy_public_accounts: str = _setting(
        "",
        "YAML file naming public organisational accounts (council, police, news outlets) "
        "whose posts may show the account's public name. Empty: "
        "<home>/rules/public-accounts.yaml when present; every other author is pseudonymous.",
    )
    privacy_view_guard_contexts: int = _setting(
        3,
        "Repeated-viewing guard: when one user opens evidence from this many different alerts "
        "or rumours containing posts by the same pseudonymous author within "
        "privacy_view_guard_days, a recorded justification is required and the senior "
        "responsible officer is told.",
    )
    privacy_view_guard_days: int = _setting(
        7, "The window over which the repeated-viewing guard counts a user's evidence views."
    )
    privacy_sro_mailbox: str = _setting(
        "sro",
        "Local mailbox (shown in the web UI) of the senior responsible officer, who is told "
        "of every justification given to the repeated-viewing guard.",
    )
    governance_review_days: int = _setting(
        90,
        "Days an approval of a monitored topic (rule pack) or place gazetteer lasts; after its "
        "review date it stops running until someone re-approves it (`monitor governance`).",
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
    )
    demo_scenario: str = _setting(
        "",
        "JSONL file replayed by `monitor demo`. Empty: the bundled fictional Bradford scenario.",
    )
    demo_speed: float = _setting(
        0.0,
        "Replay speed-up for `monitor demo` and `monitor import --speed`: 0 replays as fast as "
        "possible, 60 plays an hour of posts in a minute.",
    )
    signals_window_minutes: int = _setting(
        180, "Tension window: flagged posts about an area in this many minutes set its level."
    )
    signals_baseline_weeks: int = _setting(
        4,
        "Weeks of each area's own hourly history (by hour of the week) its tension baseline "
        "is estimated from.",
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
    )
    signals_prior_hours: float = _setting(
        48.0, "How many hours of observed history signals_prior_rate counts as."
    )
    signals_rise_pseudocount: float = _setting(
        2.0,
        "Added to observed and expected volume before dividing, so that rises over a near-zero "
        "baseline stay finite and small counts stay small.",
    )
    signals_down_factor: float = _setting(
        0.5,
        "Hysteresis: a level is lowered only when the measures fall below its thresholds "
        "times this factor ...",
    )
    signals_cool_down_minutes: int = _setting(
        60, "... and stay below them for this many minutes, so that levels do not flap."
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
    )
    signals_severity_weights: str = _setting(
        "low=0.5,medium=1,high=1.5,critical=2",
        "Multiplier of a rule hit's weight by its severity= label.",
    )
    signals_cluster_similarity: float = _setting(
        0.6,
        "Cosine similarity of a post's sentence embedding to a rumour cluster's centroid for "
        "it to join the cluster (encoder embeddings).",
    )
    signals_keyword_cluster_similarity: float = _setting(
        0.45,
        "The same for the keyword classifier's hashed bag-of-words embeddings, whose "
        "similarities run lower.",
    )
    signals_claim_match: float = _setting(
        0.6,
        "Similarity to a registered rumour's claim text at which a new post joins it "
        "(encoder embeddings).",
    )
    signals_claim_confirm: float = _setting(
        0.45,
        "From this similarity up to signals_claim_match a post is held for a person to "
        "confirm before it joins a registered rumour (encoder embeddings).",
    )
    signals_keyword_claim_match: float = _setting(
        0.5, "signals_claim_match for the keyword classifier's hashed embeddings."
    )
    signals_keyword_claim_confirm: float = _setting(
        0.35, "signals_claim_confirm for the keyword classifier's hashed embeddings."
    )
    signals_simhash_distance: int = _setting(
        3,
        "Posts whose 64-bit SimHash of normalised text differs in at most this many bits "
        "are near-duplicates and join the same rumour (0-7).",
    )
    signals_claim_min_score: float = _setting(
        0.5,
        "Classifier rumour score from which a post may start a new rumour cluster (others "
        "can only join one).",
    )
    signals_rumour_window_minutes: int = _setting(
        60, "Window for a rumour's velocity (posts per hour) and acceleration."
    )
    signals_spread_posts: int = _setting(
        8, "Posts in one velocity window for a rumour to count as spreading ..."
    )
    signals_spread_authors: int = _setting(5, "... from at least this many distinct authors.")
    signals_rumour_idle_hours: int = _setting(
        72,
        "An unregistered rumour cluster with no new post for this many hours is closed and "
        "leaves the live index.",
    )
    signals_counter_window_hours: int = _setting(
        6,
        "Hours before and after a counter message over which the rumour's velocity is compared.",
    )
    signals_follow_settle_seconds: float = _setting(
        10.0,
        "Scaled out, signals run in the scheduler leader, which takes up posts once they were "
        "processed this many seconds ago, so that a batch another worker commits late is not "
        "passed over: more than the longest processing transaction plus the hosts' clock "
        "differences.",
    )
    signals_follow_poll_seconds: float = _setting(
        2.0,
        "Scaled out: how often the scheduler leader looks for newly processed posts for the "
        "signals once it has caught up.",
    )
    demo_accounts: bool = _setting(
        False,
        "Create one web account per role at start-up with fresh random passwords printed to "
        "the console. For demonstrations only: `monitor demo` turns it on; never in production.",
    )
    web_session_idle_minutes: int = _setting(
        60, "A web session unused for this many minutes ends; its user signs in again."
    )
    web_session_hours: int = _setting(12, "Longest a web session lasts, however busy.")
    web_purpose_minutes: int = _setting(
        30,
        "How long a purpose stated for viewing evidence stays valid in the session before "
        "the next evidence view asks for one again.",
    )
    web_login_max_failures: int = _setting(
        5,
        "Failed sign-ins allowed per user name and per client address within "
        "web_login_window_seconds before further attempts are refused for a while.",
    )
    web_login_window_seconds: int = _setting(
        900, "The window over which failed sign-ins are counted."
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
        3.0, "How often the live review-queue stream checks the store for new or changed alerts."
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
        2.0, "How often the alert dispatcher looks for due notifications when not woken."
    )
    log_level: str = _setting("INFO", "Logging level: DEBUG, INFO, WARNING or ERROR.")

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
                out[name] = _mask_url_password(str(value))
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
        if t is int and isinstance(value, float):
            raise ValueError(value)
        return t(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{origin}: setting {f.name} must be {t.__name__}, got {value!r}"
        ) from None


def _mask_url_password(url: str) -> str:
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
        section = data.get("monitor", data)
        for key, value in section.items():
            if isinstance(value, dict) or (
                isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
            ):
                continue  # sub-tables and [[arrays]] (sources, receivers) have their own readers
            try:
                f = _field(key)
            except ConfigError:
                raise ConfigError(f"{file_path}: unknown setting {key!r}") from None
            values[key] = _coerce(f, value, str(file_path))
    for f in fields(Settings):
        env_name = ENV_PREFIX + f.name.upper()
        if env_name in env:
            values[f.name] = _coerce(f, env[env_name], f"${env_name}")
    return Settings(**values)


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
