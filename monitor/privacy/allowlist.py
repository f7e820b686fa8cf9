"""The public-account allowlist: organisational accounts that may be named in the clear.

Every author is pseudonymous by default. A council, a police force, a news outlet or a
community organisation speaking publicly in its official capacity is not a private person, and
comms staff need to see "the council's correction was shared 40 times", so the accounts listed
in this file keep their public name on their posts (`author_name`). Only organisations belong
here — never a person, however public (a councillor, a journalist): the kinds are a closed list.

File format (YAML):

    accounts:
      - platform: bluesky
        id: did:plc:fictional-bradford-council   # the platform's author id, as collected
        name: Bradford Council (fictional account)
        kind: council        # council | police | news | public_service | community
        handles: [bradfordcouncil.example]       # optional: @mentions of it stay unmasked
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.config import ConfigError, Settings

KINDS = ("council", "police", "news", "public_service", "community")
DEFAULT_FILE = Path("rules") / "public-accounts.yaml"
MAX_NAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class PublicAccount:
    platform: str
    author_id: str
    name: str
    kind: str
    handles: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublicAccounts:
    accounts: tuple[PublicAccount, ...] = ()
    _by_id: dict[tuple[str, str], PublicAccount] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {(a.platform, a.author_id): a for a in self.accounts})

    def name_of(self, platform: str, author_id: str | None) -> str | None:
        """The public name of an allowlisted account; None for everyone else."""
        if not author_id:
            return None
        account = self._by_id.get((platform, author_id))
        return account.name if account else None

    @property
    def handles(self) -> frozenset[str]:
        """Handles (lower case, no @) whose mentions need not be masked."""
        return frozenset(h for a in self.accounts for h in a.handles)

    @classmethod
    def from_settings(cls, settings: Settings, home: Path) -> PublicAccounts:
        if settings.privacy_public_accounts:
            return load(Path(settings.privacy_public_accounts).expanduser())
        default = home / DEFAULT_FILE
        return load(default) if default.is_file() else cls()


def load(path: Path) -> PublicAccounts:
    """Read and check the allowlist. A mistake is refused with the file and the entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: public accounts file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse(data, str(path))


def parse(data: Any, where: str) -> PublicAccounts:
    if data is None:
        return PublicAccounts()
    if not isinstance(data, dict) or set(data) - {"accounts"}:
        raise ConfigError(f"{where}: expected a mapping with one key, `accounts:`")
    items = data.get("accounts") or []
    if not isinstance(items, list):
        raise ConfigError(f"{where}: `accounts:` must be a list")
    seen: set[tuple[str, str]] = set()
    accounts = []
    for n, item in enumerate(items, 1):
        at = f"{where}: account {n}"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: expected platform, id, name and kind")
        unknown = set(item) - {"platform", "id", "name", "kind", "handles"}
        if unknown:
            raise ConfigError(f"{at}: unknown keys {sorted(unknown)}")
        values: dict[str, str] = {}
        for key in ("platform", "id", "name", "kind"):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{at}: `{key}` is required (text)")
            values[key] = value.strip()
        if values["kind"] not in KINDS:
            raise ConfigError(
                f"{at}: kind {values['kind']!r} is not one of {', '.join(KINDS)} "
                "(only organisations may be named, never a person)"
            )
        if len(values["name"]) > MAX_NAME_CHARS:
            raise ConfigError(f"{at}: name longer than {MAX_NAME_CHARS} characters")
        handles = item.get("handles") or []
        if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
            raise ConfigError(f"{at}: `handles` must be a list of handles")
        ident = (values["platform"], values["id"])
        if ident in seen:
            raise ConfigError(f"{at}: {values['platform']} account {values['id']} listed twice")
        seen.add(ident)
        accounts.append(
            PublicAccount(
                platform=values["platform"],
                author_id=values["id"],
                name=values["name"],
                kind=values["kind"],
                handles=tuple(h.lower().lstrip("@") for h in handles),
            )
        )
    return PublicAccounts(tuple(accounts))
