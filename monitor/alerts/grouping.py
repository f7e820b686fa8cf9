"""Pure: grouping — alerts with the same values of a route's `group_by` labels, going to the
same receiver, travel in one message (Alertmanager's aggregation groups).

The first notification of a new group waits `group_wait` so that alerts arriving together go
together; while a group has a message waiting, new alerts join it; once a group has been sent,
its next message goes no sooner than `group_interval` after the last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from monitor.alerts.routing import RouteOptions


def group_key(route_path: str, options: RouteOptions, labels: Mapping[str, str]) -> str:
    """Stable text naming the group: the route, then each group_by label's value."""
    if options.group_all:
        names = sorted(labels)
    else:
        names = list(options.group_by)
    values = ",".join(f"{n}={labels.get(n, '')}" for n in names)
    text = f"{route_path}:{{{values}}}"
    if len(text) > 380:  # keep within the column; the hash keeps it unique
        text = text[:300] + "#" + hashlib.sha256(text.encode()).hexdigest()[:32]
    return text


def flush_time(
    now: datetime,
    options: RouteOptions,
    last_sent: datetime | None,
    waiting_at: datetime | None,
) -> datetime:
    """When a new notification for a group should go.

    `waiting_at`: when the group's already-waiting message goes (join it); `last_sent`: when the
    group last went out.
    """
    if waiting_at is not None:
        return waiting_at
    first = now + options.group_wait
    if last_sent is None:
        return first
    return max(first, last_sent + options.group_interval)
