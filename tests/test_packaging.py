"""A pip-installed copy carries its data folders, so `monitor demo` runs without a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_carries_rules_models_alerts_and_the_demo(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("community_tension_monitor-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "monitor/data/home/rules/places/bradford.yaml" in names
    assert any(n.startswith("monitor/data/home/rules/tension/") for n in names)
    assert "monitor/data/demo/bradford-scenario.jsonl" in names
    assert "monitor/store/migrations/env.py" in names
    assert any(n.startswith("monitor/store/migrations/versions/0001") for n in names)
    assert "monitor/web/templates/base.html" in names
    # Read by the classifier at deobfuscation level 2 (monitor.classify.respell).
    assert "monitor/classify/disguise_lexicon.txt" in names
    for folder in ("models", "alerts"):
        if (ROOT / folder).is_dir():
            assert any(n.startswith(f"monitor/data/home/{folder}/") for n in names), folder
