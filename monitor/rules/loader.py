"""I/O: read rule packs from `<home>/rules/<pack>/`, and reload them when they change.

A load is all or nothing: if any file has an error the whole new set is refused, every
problem is logged as `file:line: reason`, and the holder keeps serving its last good set.
`rules/places/` holds gazetteers, not rules, and is skipped.

Each file's parse is kept for the process (`monitor.documents.cache`), keyed by its name, the
SHA-256 of its bytes and what else the parse reads: a reload, a second runtime or the rule
editor's preview compiles again only the files whose bytes changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from monitor.documents.cache import ParsedFiles, digest
from monitor.rules.engine import RuleSet
from monitor.rules.query import DEFAULT_LIMITS, Limits
from monitor.rules.schema import (
    PackError,
    PackSpec,
    Problem,
    RuleSpec,
    parse_pack_file,
    parse_rules_file,
)

log = logging.getLogger(__name__)

NOT_PACKS = frozenset({"places"})
PACK_FILE = "pack.yaml"
MAX_RULES = 5000
# Rules with no word they require run on every post; a few are fine, many would slow all posts.
MAX_UNANCHORED = 25


def _display(path: Path, rules_dir: Path) -> str:
    try:
        return str(path.relative_to(rules_dir.parent))
    except ValueError:
        return str(path)


def pack_dirs(rules_dir: Path, only: Sequence[str] = ()) -> list[Path]:
    """The pack folders under `rules_dir`, in name order (all, or those named in `only`)."""
    if not rules_dir.is_dir():
        raise PackError([Problem(str(rules_dir), 0, "no rules folder here")])
    dirs = [
        d
        for d in sorted(rules_dir.iterdir())
        if d.is_dir() and d.name not in NOT_PACKS and not d.name.startswith((".", "_"))
    ]
    if only:
        names = {d.name for d in dirs}
        missing = [n for n in only if n not in names]
        if missing:
            raise PackError(
                [Problem(str(rules_dir), 0, f"no pack folder named {', '.join(missing)}")]
            )
        dirs = [d for d in dirs if d.name in only]
    return dirs


def rule_files(pack_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in pack_dir.iterdir()
        if p.suffix in (".yaml", ".yml") and p.name != PACK_FILE and not p.name.startswith(".")
    )


def fingerprint(rules_dir: Path, only: Sequence[str] = ()) -> str:
    """Changes whenever a pack file is added, removed or modified (cheap: stats only)."""
    h = hashlib.sha256()
    try:
        for d in pack_dirs(rules_dir, only):
            for p in [d / PACK_FILE, *rule_files(d)]:
                try:
                    st = p.stat()
                except FileNotFoundError:
                    h.update(f"{p}:missing".encode())
                    continue
                h.update(f"{p}:{st.st_mtime_ns}:{st.st_size}".encode())
    except (PackError, OSError) as exc:
        h.update(f"error:{exc}".encode())
    return h.hexdigest()


# Parsed pack.yaml files and rule files: (PackSpec, warnings) and (rules, problems).
_PACKS: ParsedFiles[tuple[PackSpec, tuple[Problem, ...]]] = ParsedFiles()
_RULES: ParsedFiles[tuple[tuple[RuleSpec, ...], tuple[Problem, ...]]] = ParsedFiles()


def _read(path: Path, file: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PackError([Problem(file, 0, f"cannot be read: {exc.strerror}")]) from None


def _text(raw: bytes, file: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PackError([Problem(file, 0, "not UTF-8 text")]) from None
    # As Path.read_text reads (universal newlines), so lines and block texts are unchanged.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _pack_file(
    raw: bytes, file: str, today: dt.date, limits: Limits
) -> tuple[PackSpec, tuple[Problem, ...]]:
    def parse() -> tuple[PackSpec, tuple[Problem, ...]]:
        pack, warnings = parse_pack_file(_text(raw, file), file, today, limits)
        return pack, tuple(warnings)

    # `today` is in the key: a review date passing turns into a warning on the next load.
    return _PACKS.get(("pack", file, digest(raw), today, limits), parse)


def _rules_file(
    raw: bytes, file: str, pack_id: str, limits: Limits
) -> tuple[tuple[RuleSpec, ...], tuple[Problem, ...]]:
    def parse() -> tuple[tuple[RuleSpec, ...], tuple[Problem, ...]]:
        rules, problems = parse_rules_file(_text(raw, file), file, pack_id, limits)
        return tuple(rules), tuple(problems)

    return _RULES.get(("rules", file, digest(raw), pack_id, limits), parse)


def load_pack(
    pack_dir: Path, rules_dir: Path, today: dt.date, limits: Limits
) -> tuple[PackSpec, list[Problem]]:
    """One pack with its rules, and its warnings. Raises PackError listing every error."""
    problems: list[Problem] = []
    pack_path = pack_dir / PACK_FILE
    pack_file = _display(pack_path, rules_dir)
    if not pack_path.is_file():
        raise PackError(
            [
                Problem(
                    pack_file,
                    0,
                    "every pack folder needs a pack.yaml (id, version, owner, purpose, review_by)",
                )
            ]  # fmt: skip
        )
    pack: PackSpec | None = None
    try:
        pack, warnings = _pack_file(_read(pack_path, pack_file), pack_file, today, limits)
        problems += warnings
        if pack.id != pack_dir.name:
            problems.append(
                Problem(
                    pack_file, 1, f"pack id {pack.id!r} must match its folder {pack_dir.name!r}"
                )
            )
    except PackError as exc:
        problems += exc.problems
    rules = []
    seen: dict[str, str] = {}
    for path in rule_files(pack_dir):
        file = _display(path, rules_dir)
        try:
            found, file_problems = _rules_file(_read(path, file), file, pack_dir.name, limits)
        except PackError as exc:
            problems += exc.problems
            continue
        problems += file_problems
        for rule in found:
            if rule.id in seen:
                problems.append(
                    Problem(
                        file, rule.line, f"rule id {rule.id!r} is already used at {seen[rule.id]}"
                    )
                )
                continue
            seen[rule.id] = f"{file}:{rule.line}"
            rules.append(rule)
    if pack is None or any(p.level == "error" for p in problems):
        raise PackError(problems)
    return PackSpec(
        id=pack.id,
        version=pack.version,
        owner=pack.owner,
        purpose=pack.purpose,
        review_by=pack.review_by,
        file=pack.file,
        counter_speech=pack.counter_speech,
        rules=tuple(rules),
    ), problems


def known_scores() -> frozenset[str] | None:
    """The score names the classifiers produce, when the classifier package says."""
    try:
        from monitor.classify.labels import LABELS
    except ImportError:
        return None
    return frozenset(LABELS)


def _score_problems(packs: Sequence[PackSpec], known: frozenset[str]) -> list[Problem]:
    return [
        Problem(
            rule.file,
            rule.line,
            f"rule {rule.id}: no classifier score is called {cond.head!r} "
            f"(known: {', '.join(sorted(known))})",
        )
        for pack in packs
        for rule in pack.rules
        for cond in rule.scores
        if cond.head not in known
    ]


def load_ruleset(
    rules_dir: Path,
    *,
    only: Sequence[str] = (),
    today: dt.date | None = None,
    limits: Limits = DEFAULT_LIMITS,
    max_unanchored: int = MAX_UNANCHORED,
    scores: frozenset[str] | None = None,
) -> RuleSet:
    """Every pack under `rules_dir` (or those in `only`), compiled. Raises PackError.

    `scores` are the classifier score names rules may use (default: the classifier's labels);
    a misspelt one would silently never fire, so it is an error.
    """
    today = today or dt.date.today()
    scores = scores if scores is not None else known_scores()
    fp = fingerprint(rules_dir, only)
    packs: list[PackSpec] = []
    problems: list[Problem] = []
    for d in pack_dirs(rules_dir, only):
        try:
            pack, warnings = load_pack(d, rules_dir, today, limits)
        except PackError as exc:
            problems += exc.problems
            continue
        packs.append(pack)
        problems += warnings
    if scores is not None:
        problems += _score_problems(packs, scores)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise PackError(problems)
    ruleset = RuleSet(tuple(packs), fingerprint=fp, warnings=tuple(problems))
    if len(ruleset.rules) > MAX_RULES:
        raise PackError([Problem(str(rules_dir), 0, f"more than {MAX_RULES} rules")])
    unanchored = ruleset.unanchored
    if len(unanchored) > max_unanchored:
        raise PackError(
            [
                Problem(r.file, r.line, f"rule {r.id} has no word it requires, and at most "
                        f"{max_unanchored} such rules (run on every post) are allowed")
                for r in unanchored[max_unanchored:]
            ]
        )  # fmt: skip
    return ruleset


class RuleSetHolder:
    """The rule set in force. `reload_if_changed()` swaps in an edited set only when it loads
    cleanly; otherwise it logs why and keeps the last good one."""

    def __init__(
        self,
        rules_dir: Path,
        *,
        only: Sequence[str] = (),
        today: Callable[[], dt.date] = dt.date.today,
        limits: Limits = DEFAULT_LIMITS,
        on_reload: Callable[[RuleSet], None] | None = None,
    ) -> None:
        self.rules_dir = rules_dir
        self.only = tuple(only)
        self.today = today
        self.limits = limits
        self.on_reload = on_reload
        self.problems: list[Problem] = []  # of the last attempt that failed, else warnings
        self._seen = ""
        self._current: RuleSet | None = None

    @property
    def current(self) -> RuleSet:
        if self._current is None:
            self.load()
        assert self._current is not None
        return self._current

    def load(self) -> RuleSet:
        """Load now; raises PackError when there is no good set to fall back on."""
        self._seen = fingerprint(self.rules_dir, self.only)
        ruleset = load_ruleset(
            self.rules_dir, only=self.only, today=self.today(), limits=self.limits
        )
        self._install(ruleset)
        return ruleset

    def reload_if_changed(self) -> bool:
        """Reload when a pack file changed. True when a new set is now in force."""
        fp = fingerprint(self.rules_dir, self.only)
        if fp == self._seen:
            return False
        self._seen = fp  # a broken edit is reported once, not on every poll
        try:
            ruleset = load_ruleset(
                self.rules_dir, only=self.only, today=self.today(), limits=self.limits
            )
        except PackError as exc:
            self.problems = exc.problems
            errors = [p for p in exc.problems if p.level == "error"]
            log.error(
                "rule packs changed but were refused (%d problems); keeping the last good set "
                "(%d rules)",
                len(errors),
                len(self._current.rules) if self._current else 0,
            )
            for p in errors:
                log.error("%s", p)
            return False
        self._install(ruleset)
        log.info("rule packs reloaded: %d rules", len(ruleset.rules))
        return True

    def _install(self, ruleset: RuleSet) -> None:
        self._current = ruleset
        self.problems = list(ruleset.warnings)
        for p in ruleset.warnings:
            log.warning("%s", p)
        if self.on_reload is not None:
            self.on_reload(ruleset)
