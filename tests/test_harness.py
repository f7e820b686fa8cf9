"""The test harness itself: what the suite's subprocesses run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_processes_the_suite_starts_run_this_checkouts_code(tmp_path: Path) -> None:
    # From a folder outside the checkout, as the service tests start `python -m monitor`.
    out = subprocess.run(
        [sys.executable, "-c", "import monitor; print(monitor.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()).resolve() == (ROOT / "monitor" / "__init__.py").resolve()
