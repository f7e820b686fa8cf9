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
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from monitor.config import ConfigError, Settings
from monitor.documents.schema import Document, DocumentError, Schema, validate

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


def _organisation(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(
            f"kind {kind!r} is not one of {', '.join(KINDS)} "
            "(only organisations may be named, never a person)"
        )
    return kind


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _AccountEntry(Schema):
    platform: Text
    id: Text
    name: Annotated[Text, StringConstraints(max_length=MAX_NAME_CHARS)]
    kind: Annotated[str, AfterValidator(_organisation)]
    handles: list[str] = []


class _AccountsFile(Schema):
    accounts: list[_AccountEntry] = Field(default_factory=list)


def load(path: Path) -> PublicAccounts:
    """Read and check the allowlist. A mistake is refused with the file, line and entry."""
    try:
        return _accounts(Document.read(path, what="public accounts file"))
    except DocumentError as exc:
        raise ConfigError(str(exc)) from None


def parse(data: Any, where: str) -> PublicAccounts:
    try:
        return _accounts(Document(where, data))
    except DocumentError as exc:
        raise ConfigError(str(exc)) from None


def _accounts(doc: Document) -> PublicAccounts:
    if isinstance(doc.data, dict) and doc.data.get("accounts") is None:
        doc = Document(doc.source, {k: v for k, v in doc.data.items() if k != "accounts"})
    listed = validate(_AccountsFile, doc).accounts
    seen: set[tuple[str, str]] = set()
    problems = []
    for n, item in enumerate(listed):
        if (item.platform, item.id) in seen:
            problems.append(
                doc.problem(("accounts", n), f"{item.platform} account {item.id} listed twice")
            )
        seen.add((item.platform, item.id))
    if problems:
        raise DocumentError(problems)
    return PublicAccounts(
        tuple(
            PublicAccount(
                platform=item.platform,
                author_id=item.id,
                name=item.name,
                kind=item.kind,
                handles=tuple(h.lower().lstrip("@") for h in item.handles),
            )
            for item in listed
        )
    )
