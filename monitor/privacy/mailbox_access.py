"""Pure: who may read a message in the local mailbox.

A mailbox message carries what its alerts carry (excerpts of posts, for receivers with
`excerpts: true`), so it may be read only by the roles that may open those alerts: an alert's
evidence is for admins and analysts (`alert` route), a rumour's also for comms (`rumour`
route). A message about any non-rumour alert (a threat, a call to gather, rising tension) is
therefore closed to comms even when it sits in a mailbox comms could name. The senior
responsible officer's mailbox holds colleagues' justifications to the repeated-viewing guard:
it is for admins only (the project has no SRO role).

The readers are decided when the message is stored (from the message's own data) and kept
with it as ",admin,analyst," so that the store can filter by role; a row without them (stored
before they existed) is for admins only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ALERT_READERS = ("admin", "analyst")
RUMOUR_READERS = ("admin", "analyst", "comms")
ADMIN_ONLY = ("admin",)
RUMOUR_KIND_PREFIX = "rumour"


def alert_kinds(data: Mapping[str, Any]) -> list[str]:
    """The `kind` label of every alert a rendered message (alert or digest) carries."""
    kinds: list[str] = []
    for alert in data.get("alerts") or ():
        labels = alert.get("labels") if isinstance(alert, Mapping) else None
        kinds.append(str((labels or {}).get("kind", "")))
    return kinds


def readers_for(kind: str, kinds: Iterable[str], mailbox: str, sro_mailbox: str) -> tuple[str, ...]:
    """The roles that may read a message of `kind` carrying alerts of `kinds` in `mailbox`."""
    if kind == "privacy" or mailbox == sro_mailbox:
        return ADMIN_ONLY
    listed = list(kinds)
    if listed and all(k.startswith(RUMOUR_KIND_PREFIX) for k in listed):
        return RUMOUR_READERS
    return ALERT_READERS


def encode(roles: Iterable[str]) -> str:
    """As stored: ",admin,analyst," (delimited at both ends so `,role,` matches exactly)."""
    return "," + ",".join(roles) + ","


def may_read(stored: str | None, role: str | None) -> bool:
    if role is None:
        return False
    return f",{role}," in (stored or encode(ADMIN_ONLY))
