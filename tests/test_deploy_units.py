"""The shipped systemd units restart a failed process and give one SIGTERM time to drain
(issue 13, finding 3: a failed pipeline now exits non-zero, which only helps if the unit
restarts on it)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from monitor.config import Settings

UNITS = sorted((Path(__file__).resolve().parent.parent / "deploy" / "systemd").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_each_unit_restarts_on_failure_and_outlasts_the_drain(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(unit)
    service = parser["Service"]
    assert service.get("Restart") in {"on-failure", "always"}
    assert float(service.get("RestartSec", "0")) > 0  # backoff, not a tight loop
    assert float(service.get("TimeoutStopSec", "90")) > Settings().shutdown_drain_s + 10
    assert service.get("KillSignal", "SIGTERM") == "SIGTERM"
    assert int(parser["Unit"].get("StartLimitBurst", "5")) >= 5


def test_there_is_a_unit_per_role() -> None:
    assert {u.stem.removeprefix("monitor-") for u in UNITS} == {
        "collector",
        "worker",
        "web",
        "scheduler",
    }


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_each_unit_caches_the_encoder_where_it_may_write(unit: Path) -> None:
    """ProtectHome hides ~/.cache and ProtectSystem=strict makes the rest read-only: without a
    writable XDG_CACHE_HOME the encoder could not be exported (the worker fell back to PyTorch)
    and every process unpacked the language-id model again."""
    lines = [line.strip() for line in unit.read_text(encoding="utf-8").splitlines()]
    env = dict(
        line.removeprefix("Environment=").split("=", 1)
        for line in lines
        if line.startswith("Environment=")
    )
    state = [line.removeprefix("StateDirectory=") for line in lines if "StateDirectory=" in line]
    assert state, "StateDirectory= creates the writable folder for User="
    cache = env.get("XDG_CACHE_HOME", "")
    assert any(cache.startswith(f"/var/lib/{name}/") for name in state), cache
