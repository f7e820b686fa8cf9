"""CPU of the test suite by test file (issue 14: the whole suite must run in under 6 minutes on
2 cores). Wall times taken on a shared, loaded machine say little; CPU seconds do not depend on
the load, so files can be compared and a change measured on its own file.

As a pytest plugin it appends one JSON line a test to a file: the CPU of the pytest process
(every thread) and of the child processes it reaped (`monitor run`, `monitor import`, ...),
over the test's setup, call and teardown, and its wall time; collecting each module is a line
of its own. Module-scoped fixtures count towards the test that first asked for them.

    .venv/bin/python -m pytest -p benchmarks.suite_cpu --cpu-out=/tmp/cpu.jsonl tests/signals
    .venv/bin/python benchmarks/suite_cpu.py /tmp/cpu.jsonl [--top 40]

The second command prints the files by CPU (seconds, wall seconds, tests). CPU the PostgreSQL
and Redis servers spend on a test's behalf is not counted (those are not pytest's children).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from collections.abc import Generator
from pathlib import Path

import pytest

COLLECT = "<collect>"


def _now() -> tuple[float, float]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() + children.ru_utime + children.ru_stime
    return cpu, time.perf_counter()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-out", default="", help="append each test's CPU and wall seconds (JSON lines)"
    )


def _emit(config: pytest.Config, file: str, test: str, cpu: float, wall: float) -> None:
    out = str(config.getoption("cpu_out"))
    if out:
        record = {"file": file, "id": test, "cpu": round(cpu, 3), "wall": round(wall, 3)}
        with open(out, "a", encoding="utf-8") as fh:  # small appends: workers may share it
            fh.write(json.dumps(record) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    cpu, wall = _now()
    yield
    cpu_end, wall_end = _now()
    file = item.path.relative_to(item.config.rootpath).as_posix()
    _emit(item.config, file, item.nodeid, cpu_end - cpu, wall_end - wall)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, None, None]:
    cpu, wall = _now()
    yield
    cpu_end, wall_end = _now()
    if isinstance(collector, pytest.Module):
        file = collector.path.relative_to(collector.config.rootpath).as_posix()
        _emit(collector.config, file, COLLECT, cpu_end - cpu, wall_end - wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CPU of the test suite by file")
    parser.add_argument("records", type=Path, help="the --cpu-out file of a pytest run")
    parser.add_argument("--top", type=int, default=40, help="how many files to list")
    args = parser.parse_args(argv)
    cpu: Counter[str] = Counter()
    wall: Counter[str] = Counter()
    tests: Counter[str] = Counter()
    for line in args.records.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        cpu[record["file"]] += record["cpu"]
        wall[record["file"]] += record["wall"]
        tests[record["file"]] += record["id"] != COLLECT
    print(
        f"all: {sum(cpu.values()):.1f} s CPU, {sum(wall.values()):.1f} s wall, "
        f"{sum(tests.values())} tests, {len(cpu)} files"
    )
    print(f"{'CPU s':>8} {'wall s':>8} {'tests':>6}  file")
    for file, seconds in cpu.most_common(args.top):
        print(f"{seconds:8.1f} {wall[file]:8.1f} {tests[file]:6d}  {file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
