"""Retry timing and the circuit breaker, with time injected."""

from __future__ import annotations

import random
from datetime import timedelta

from monitor.alerts.breaker import CircuitBreaker, backoff

from .conftest import NOW


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap() -> None:
    rng = random.Random(1)
    base, cap = timedelta(seconds=10), timedelta(hours=1)
    for attempt in range(1, 15):
        full = min(cap, base * 2 ** (attempt - 1))
        delays = {backoff(attempt, rng, base, cap) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1  # jittered, so retries of a burst spread out
    assert backoff(40, rng, base, cap) <= cap


def test_the_breaker_opens_after_failures_in_a_row_then_probes_one_message() -> None:
    b = CircuitBreaker(threshold=3, first_open=timedelta(seconds=30), max_open=timedelta(minutes=2))
    key = "liaison/teams#0"
    for _ in range(2):
        b.failure(key, NOW)
    assert b.allows(key, NOW)
    b.failure(key, NOW)
    assert b.state(key, NOW) == "open"
    assert not b.allows(key, NOW + timedelta(seconds=29))
    later = NOW + timedelta(seconds=30)
    assert b.allows(key, later)  # half-open: one probe
    assert not b.allows(key, later)  # and only one
    b.failure(key, later)  # the probe failed: open for twice as long
    assert not b.allows(key, later + timedelta(seconds=59))
    assert b.allows(key, later + timedelta(seconds=60))
    b.success(key)
    assert b.state(key, later) == "closed"


def test_failures_already_in_flight_do_not_keep_it_open_longer() -> None:
    b = CircuitBreaker(threshold=3, first_open=timedelta(seconds=20))
    for _ in range(12):
        b.failure("hooks/webhook#0", NOW)
    assert b.allows("hooks/webhook#0", NOW + timedelta(seconds=20))


def test_retry_after_pauses_the_receiver_without_counting_a_failure() -> None:
    b = CircuitBreaker(threshold=1)
    b.pause("comms/slack#0", NOW + timedelta(seconds=7))
    assert "comms/slack#0" in b.blocked(NOW + timedelta(seconds=6))
    assert b.allows("comms/slack#0", NOW + timedelta(seconds=7))
    b.success("comms/slack#0")
    assert b.blocked(NOW) == set()
