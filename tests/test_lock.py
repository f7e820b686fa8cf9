"""The lock files agree with pyproject.toml: every dependency is pinned there at a version its
specifier allows, the dev lock tests exactly what the runtime lock ships, and torch is the
2.13.0 CPU build. A dependency added to pyproject.toml without running scripts/lock fails here
(and `pip check` in scripts/setup)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins(name: str) -> dict[str, Version]:
    out: dict[str, Version] = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        found = PIN.match(line)
        if found:
            out[canonicalize_name(found.group(1))] = Version(found.group(2))
        else:
            assert not line.strip() or line.lstrip().startswith("#"), (
                f"{name}: unexpected line {line!r} (only name==version pins)"
            )
    return out


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    run = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return run, dev


def unmet(requirements: list[Requirement], locked: dict[str, Version]) -> list[str]:
    problems = []
    for req in requirements:
        version = locked.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req} is not in the lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req} but the lock has {version}")
    return problems


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_dependency_is_pinned_within_its_specifier(lock: str) -> None:
    run, dev = declared()
    wanted = run + (dev if lock == "requirements-dev.lock" else [])
    assert unmet(wanted, pins(lock)) == [], f"{lock} is stale: run scripts/lock"


def test_the_dev_lock_tests_what_the_runtime_lock_ships() -> None:
    run, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    differ = {n: (v, dev.get(n)) for n, v in run.items() if dev.get(n) != v}
    assert differ == {}, "the locks disagree on runtime packages: run scripts/lock"


def test_torch_is_the_cpu_build_of_2_13_0_without_cuda_packages() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        locked = pins(lock)
        assert locked["torch"] == Version("2.13.0+cpu"), lock
        cuda = sorted(n for n in locked if n.startswith(("nvidia-", "triton")))
        assert cuda == [], f"{lock} pulls in CUDA packages: {cuda}"


def test_the_unmet_check_can_fail() -> None:
    """The check itself: a floor above the pin and a missing package are both reported."""
    locked = {"numpy": Version("1.26.0")}
    problems = unmet([Requirement("numpy>=2"), Requirement("redis>=5")], locked)
    assert problems == ["numpy>=2 but the lock has 1.26.0", "redis>=5 is not in the lock"]
