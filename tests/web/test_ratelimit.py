"""The sign-in limiter: per name and per address, forgetting after its window."""

from __future__ import annotations

from monitor.web.ratelimit import LoginLimiter


def test_a_name_is_held_after_its_failures_and_released_after_the_window() -> None:
    limiter = LoginLimiter(max_failures=3, window_seconds=60)
    keys = ("user:sam", "addr:10.0.0.1")
    for t in range(3):
        assert limiter.retry_after(keys, t) == 0
        limiter.failed(keys, t)
    assert limiter.retry_after(keys, 3) == 57
    assert limiter.retry_after(("user:kim", "addr:10.0.0.1"), 3) == 0  # others in the office
    assert limiter.retry_after(keys, 60.5) == 0


def test_a_shared_address_gets_more_tries_than_one_name() -> None:
    limiter = LoginLimiter(max_failures=2, window_seconds=60, address_factor=4)
    for i in range(7):
        limiter.failed((f"user:n{i}", "addr:proxy"), i)
    assert limiter.retry_after(("user:new", "addr:proxy"), 8) == 0
    limiter.failed(("user:n8", "addr:proxy"), 8)
    assert limiter.retry_after(("user:new", "addr:proxy"), 9) > 0


def test_a_right_password_clears_the_names_count_only() -> None:
    limiter = LoginLimiter(max_failures=2, window_seconds=60, address_factor=1)
    keys = ("user:sam", "addr:a")
    limiter.failed(keys, 0)
    limiter.succeeded(keys)
    limiter.failed(("user:sam", "addr:b"), 1)
    assert limiter.retry_after(("user:sam", "addr:c"), 2) == 0
    assert limiter.retry_after(("user:x", "addr:a"), 2) == 0
    limiter.failed(("user:y", "addr:a"), 2)
    assert limiter.retry_after(("user:z", "addr:a"), 3) > 0


def test_memory_stays_bounded_under_a_spray_of_names() -> None:
    limiter = LoginLimiter(max_keys=100)
    for i in range(1000):
        limiter.failed((f"user:{i}",), i)
    assert len(limiter._failures) <= 100
